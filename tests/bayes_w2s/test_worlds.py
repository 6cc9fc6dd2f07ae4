"""The classification world (bayes_w2s.toys.worlds) and the weak-to-strong pipeline (bayes_w2s.toys.w2s)."""

import numpy as np
import pytest
from scipy.special import logsumexp

from bayes_w2s.core.metrics import influence_distance
from bayes_w2s.core.trajectory import Rule
from bayes_w2s.core.updates import condition
from bayes_w2s.toys.w2s import (
    Fit,
    Stream,
    WeakModel,
    decide,
    fit,
    label_mass,
    posterior_on_labels,
    predictive,
    sample_stream,
    score_fit,
    selected_concept,
    train_weak,
    weak_to_strong,
)
from bayes_w2s.toys.worlds import (
    LabelerClass,
    disagreement,
    grid_labelers,
    halfspace_labels,
    halfspaces,
    likelihood_values,
    make_pool,
    make_world,
    noisy_space,
    pretrained_log_prior,
    typo_labeler,
)


@pytest.fixture(scope="module")
def world():
    return make_world(np.random.default_rng(0), n_gt=40, n_train=60, n_test=80, n_distractors=3)


def test_pool_splits_are_disjoint_and_cover():
    pool = make_pool(np.random.default_rng(1), n_gt=3, n_train=4, n_test=5, d=3)
    assert pool.points.shape == (12, 3)
    allidx = np.concatenate([pool["gt"], pool["train"], pool["test"]])
    assert np.array_equal(np.sort(allidx), np.arange(12))
    with pytest.raises(ValueError, match="d must be an integer >= 2"):
        make_pool(np.random.default_rng(1), n_gt=1, n_train=1, n_test=1, d=1)
    with pytest.raises(KeyError, match="no split 'val'"):
        pool["val"]


def test_halfspace_labels_asymmetric_points():
    pts = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.6], [0.4, 0.4]])
    # angle 0: threshold on feature 0 at 0.5 (offset 0); angle 90 deg: feature 1
    lab = halfspace_labels(pts, [0.0, np.pi / 2], [0.0])
    assert lab.tolist() == [[1, 0, 1, 0], [0, 1, 1, 0]]
    # offset t shifts the cut to 0.5 + t/2 for axis angles
    assert halfspace_labels(pts, [0.0], [0.5])[0].tolist() == [1, 0, 0, 0]
    # opposite orientation flips labels (away from the boundary)
    assert halfspace_labels(pts, [np.pi], [0.0])[0].tolist() == [0, 1, 0, 1]


def test_halfspaces_class_and_thresholds():
    pts = np.random.default_rng(2).random((50, 2))
    cls = halfspaces(pts, 4, 3)
    assert len(cls) == 12 and cls.names[0] == "hs(0.0deg,-0.80)"
    two = halfspaces(pts, 2, 3)  # thresholds on feature 0 only
    assert np.array_equal(two.labels[:3], cls.labels[:3])
    with pytest.raises(ValueError, match="offset spread must lie in"):
        halfspaces(pts, 2, 3, spread=1.0)


def test_grid_labelers_enumerate_every_cell_labeling():
    pts = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]])
    cls = grid_labelers(pts, 2)
    assert len(cls) == 16
    assert len({row.tobytes() for row in cls.labels}) == 16  # one point per cell
    assert cls.labels[0b0010].tolist() == [0, 1, 0, 0]  # bit c is cell c = row * cells + col
    with pytest.raises(ValueError, match="at most 12 cells allowed"):
        grid_labelers(pts, 4)


def test_labeler_class_validation_and_union():
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        LabelerClass([[0, 2]])
    with pytest.raises(ValueError, match="got 1 names for 2 labelers"):
        LabelerClass([[0, 1], [1, 1]], ("a",))
    a = LabelerClass([[0, 1], [1, 1]], ("a", "b"))
    b = LabelerClass([[1, 1], [0, 0]], ("c", "d"))
    u = a.union(b)
    assert u.names == ("a", "b", "d")
    with pytest.raises(ValueError, match="share contexts"):
        a.union(LabelerClass([[0, 1, 1]]))


def test_noisy_space_and_likelihood_values():
    cls = LabelerClass([[0, 2, 1]], n_labels=3)
    probs = noisy_space(cls, 0.2).probs
    assert np.allclose(probs[0, 1], [0.1, 0.1, 0.8])
    assert likelihood_values(0.3, 2) == (0.7, 0.3)
    with pytest.raises(ValueError, match=r"label noise eps must lie in \(0, 0.5\)"):
        likelihood_values(0.5)
    with pytest.raises(ValueError, match="label noise eps"):
        noisy_space(cls, 0.0)


def test_disagreement_matches_direct_count():
    rng = np.random.default_rng(3)
    a, b = rng.integers(0, 2, (5, 30)), rng.integers(0, 2, (4, 30))
    direct = (a[:, None, :] != b[None, :, :]).mean(axis=2)
    assert np.allclose(disagreement(a, b), direct)
    assert np.allclose(disagreement(a, b, np.arange(10)), (a[:, None, :10] != b[None, :, :10]).mean(axis=2))


def test_pretrained_prior_concentrates_on_concepts():
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 2, (20, 40))
    concepts = labels[[3, 7]]
    flat = pretrained_log_prior(labels, concepts, 0.0)
    assert np.allclose(flat, -np.log(20))
    lp = pretrained_log_prior(labels, concepts, 50.0)
    assert np.isclose(logsumexp(lp), 0.0)
    assert set(np.argsort(lp)[-2:]) == {3, 7}
    # relative: a concept off the class still gets its best approximant on top
    off = labels[[5]].copy()
    off[0, :4] ^= 1
    rel = pretrained_log_prior(labels, off, 50.0)
    assert np.argmax(rel) == 5 and np.isclose(rel[5], rel.max())
    raw = pretrained_log_prior(labels, off, 50.0, relative=False)
    assert np.allclose(rel, raw)  # one concept: the shift cancels in the normalization
    with pytest.raises(ValueError, match="kappa must be finite and >= 0"):
        pretrained_log_prior(labels, concepts, -1.0)


def test_typo_labeler_rates_and_placement(world):
    pts, truth = world.pool.points, world.truth
    rng = np.random.default_rng(5)
    typos = typo_labeler(pts, truth, 0.2, rng, cells=5)
    cell = np.clip((pts[:, :2] * 5).astype(int), 0, 4)
    flipped_cells = {tuple(c) for c in cell[typos != truth]}
    assert len(flipped_cells) <= 5  # round(0.2 * 25) cells
    score = world.signed_distance(57.0, 0.0)
    band = typo_labeler(pts, truth, 0.2, rng, cells=5, placement="band", score=score)
    assert truth[band != truth].mean() > 0.5  # cells whose mean signed distance is positive
    with pytest.raises(ValueError, match=r"typo rate must lie in \[0, 0.5\)"):
        typo_labeler(pts, truth, 0.5, rng)
    with pytest.raises(ValueError, match="band typos need score"):
        typo_labeler(pts, truth, 0.1, rng, placement="band")
    with pytest.raises(ValueError, match="unknown typo placement 'edge'"):
        typo_labeler(pts, truth, 0.1, rng, placement="edge")


def test_make_world(world):
    assert np.array_equal(world.concepts[0], world.truth)
    assert world.concepts.shape == (4, world.pool.n_contexts)
    assert np.array_equal(world.truth, (world.signed_distance(57.0, 0.0) > 0).astype(np.int8))
    with pytest.raises(ValueError, match="truth_offset must lie in"):
        make_world(np.random.default_rng(0), n_gt=1, n_train=1, n_test=1, truth_offset=1.5)


def test_make_world_prior_conditions_share_pool_truth_and_distractors():
    kw = dict(n_gt=20, n_train=30, n_test=200, truth_angle=123.0, n_distractors=3)
    base = make_world(np.random.default_rng(5), **kw)
    rotated = make_world(np.random.default_rng(5), prior_misspec_deg=25.0, **kw)
    absent = make_world(np.random.default_rng(5), truth_in_prior=False, **kw)
    assert np.array_equal(base.pool.points, absent.pool.points) and np.array_equal(base.truth, rotated.truth)
    assert base.truth_angle == 123.0
    assert np.array_equal(base.concepts[1:], rotated.concepts[1:]) and np.array_equal(base.concepts[1:], absent.concepts)
    # the rotated concept disagrees with the truth on about the wedge between the two boundaries
    rho = disagreement(rotated.concepts[:1], rotated.truth[None])[0, 0]
    expected = (rotated.signed_distance(123.0, 0.0) > 0) != (rotated.signed_distance(148.0, 0.0) > 0)
    assert rho == pytest.approx(expected.mean()) and 0.05 < rho < 0.3
    with pytest.raises(ValueError, match="truth_in_prior=False needs n_distractors >= 1"):
        make_world(np.random.default_rng(0), n_gt=1, n_train=1, n_test=1, truth_in_prior=False, n_distractors=0)


def test_selected_concept_is_where_a_small_budget_lands():
    """Top-prior hypotheses, the one the teacher's predictive agrees with most; checked
    against the VE posterior of a small budget (Gibbs form) on a long stream."""
    rng = np.random.default_rng(3)
    w = make_world(rng, n_gt=40, n_train=300, n_test=50, truth_angle=30.0, n_distractors=4)
    strong = halfspaces(w.pool.points, 36, 7).union(grid_labelers(w.pool.points, 2))
    weak = train_weak(w, grid_labelers(w.pool.points, 2), 0.1)
    lp = w.strong_prior(strong, 300.0)
    h = selected_concept(strong, lp, weak, w.pool["train"])
    assert lp[h] == pytest.approx(lp.max())
    ctx = w.pool["train"]
    top = np.flatnonzero(lp >= lp.max() - 1e-9)
    agree = [np.mean(weak.predictive[ctx, strong.labels[t, ctx]]) for t in top]
    assert h == top[int(np.argmax(agree))]
    _, f = weak_to_strong(w, weak, strong, lp, 0.1, [Rule("ve", "budget:budget=60")], [20000], rng)
    assert int(np.argmax(f.log_posterior[0, -1])) == h
    with pytest.raises(ValueError, match="log_prior must have shape"):
        selected_concept(strong, lp[:-1], weak, ctx)


def test_weak_model_matches_brute_force(world):
    cls = grid_labelers(world.pool.points, 2)
    weak = train_weak(world, cls, 0.1)
    ctx = world.pool["gt"]
    hit, miss = likelihood_values(0.1)
    ll = np.where(cls.labels[:, ctx] == world.truth[ctx], np.log(hit), np.log(miss)).sum(axis=1)
    assert np.allclose(weak.log_posterior, ll - logsumexp(ll))
    pred = predictive(cls.labels, weak.log_posterior, 0.1)
    assert np.allclose(pred.sum(axis=-1), 1.0)
    assert np.array_equal(weak.decision, decide(label_mass(cls.labels, weak.log_posterior)))


def test_sample_stream_modes():
    rng = np.random.default_rng(6)
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    s = sample_stream(rng, np.array([10, 20]), probs, 4000)
    assert set(np.unique(s.contexts)) == {10, 20}
    frac = s.labels[s.contexts == 20].mean()
    assert 0.75 < frac < 0.85
    hard = sample_stream(rng, np.array([10, 20]), probs, 100, mode="argmax")
    assert np.array_equal(hard.labels, (hard.contexts == 20).astype(int))
    with pytest.raises(ValueError, match="unknown weak-label mode 'soft'"):
        sample_stream(rng, np.array([10, 20]), probs, 5, mode="soft")


RULES = [
    Rule("bayes", label="bayes"),
    Rule("tempered", "constant:value=0.3", label="tempered"),
    Rule("ve", "constant:value=0.7", label="ve const"),
    Rule("ve", "pseries:c=3,p=2", label="ve pseries"),
    Rule("ve", "budget:budget=5", label="ve budget"),
]


@pytest.mark.parametrize("n_labels", [2, 3])
def test_fit_equals_condition_for_every_rule(n_labels):
    """The affine match-count shortcut is exact: compare with the core's condition()."""
    rng = np.random.default_rng(7 + n_labels)
    cls = LabelerClass(rng.integers(0, n_labels, (9, 12)), n_labels=n_labels)
    eps = 0.2
    lp = rng.normal(size=9)
    lp -= logsumexp(lp)
    stream = Stream(rng.integers(0, 12, 40), rng.integers(0, n_labels, 40))
    cps = [3, 17, 40]
    out = fit(lp, cls, eps, stream, RULES, cps)
    log_probs = noisy_space(cls, eps).log_probs
    for k, rule in enumerate(RULES):
        for t, n in enumerate(cps):
            z, y = stream.contexts[:n], stream.labels[:n]
            if rule.kind == "bayes":
                ref = condition(lp, log_probs, z, y, rule="bayes")
            else:
                s = rule.schedule.strengths(n) if rule.schedule.needs_n_total else rule.schedule.strengths(40)[:n]
                ref = condition(lp, log_probs, z, y, rule=rule.kind, strengths=s)
            assert np.allclose(out.log_posterior[k, t], ref.log_posterior, atol=1e-9), (rule.label, n)
    assert np.allclose(out.spent[4], 5.0)  # the budget is spent exactly at every N
    assert np.all(np.isinf(out.spent[0]))


def test_virtual_evidence_certificate_holds(world):
    cls = halfspaces(world.pool.points, 12, 5)
    lp = world.strong_prior(cls, 50.0)
    rng = np.random.default_rng(8)
    stream = sample_stream(rng, world.pool["train"], np.full((60, 2), 0.5), 500)
    out = fit(lp, cls, 0.1, stream, RULES[2:], [10, 100, 500])
    dist = influence_distance(out.log_prior, out.log_posterior)
    assert np.all(dist <= out.spent + 1e-9)


def test_fit_validates_inputs(world):
    cls = halfspaces(world.pool.points, 4, 3)
    stream = Stream(np.zeros(5, dtype=np.int64), np.zeros(5, dtype=np.int64))
    lp = np.full(len(cls), -np.log(len(cls)))
    with pytest.raises(ValueError, match=r"checkpoints must lie in \[1, 5\]"):
        fit(lp, cls, 0.1, stream, RULES[:1], [6])
    with pytest.raises(ValueError, match="log_prior must have shape"):
        fit(lp[:-1], cls, 0.1, stream, RULES[:1], [5])
    with pytest.raises(ValueError, match="rules must be a non-empty sequence"):
        fit(lp, cls, 0.1, stream, ["bayes"], [5])


def test_score_fit_pgr_nan_when_ceiling_does_not_beat_weak(world):
    """A weak model equal to the truth leaves no gap: PGR is NaN, not a number."""
    cls = halfspaces(world.pool.points, 12, 5).union(LabelerClass(world.truth[None], ("truth",)))
    perfect = WeakModel.from_posterior(LabelerClass(world.truth[None], ("truth",)), 0.1, [0.0])
    df, _ = weak_to_strong(world, perfect, cls, world.strong_prior(cls, 10.0), 0.1, RULES[:2], [50, 200],
                           np.random.default_rng(9))
    pgr = df[df.metric == "pgr"].value
    assert pgr.isna().all()
    assert (df[df.metric == "agree_weak_err"].value.isna()).all()  # the weak model makes no errors
    assert (df[df.metric == "acc_weak"].value == 1.0).all()


def test_score_fit_agreement_on_errors_counts_only_weak_errors(world):
    cls = LabelerClass(np.stack([world.truth, 1 - world.truth]), ("truth", "anti"))
    cps = np.array([1])
    post_truth = np.log(np.array([[[1 - 1e-12, 1e-12]]]))
    f = Fit(cps, ("r",), post_truth, np.array([[np.inf]]), np.log([0.5, 0.5]))
    weak_dec = world.truth.copy()
    test = world.pool["test"]
    weak_dec[test[:10]] ^= 1  # ten weak errors
    df = score_fit(f, f, cls, world.truth, weak_dec, test)
    val = df.set_index("metric").value
    assert val["agree_weak_err"] == 0.0 and val["acc_w2s"] == 1.0
    assert np.isclose(val["acc_weak"], 1 - 10 / test.size)
    assert np.isclose(val["pgr"], 1.0)


def test_posterior_on_labels_uses_only_seen_contexts():
    cls = LabelerClass([[0, 1, 1, 0], [1, 1, 0, 0]])
    lp = np.log([0.5, 0.5])
    post = posterior_on_labels(cls, 0.25, lp, [1, 3, 3], [1, 0, 0])
    assert np.allclose(post, np.log([0.5, 0.5]))  # both labelers agree at contexts 1 and 3
    post = posterior_on_labels(cls, 0.25, lp, [0], [0])
    assert np.allclose(np.exp(post), [0.75, 0.25])

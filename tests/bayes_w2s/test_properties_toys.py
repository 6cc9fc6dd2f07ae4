"""Property tests of the toy worlds against brute-force references (issue 18: mutation testing).

The mimicry measure ``agree_weak_err`` is checked on a case where the weak model's errors and
the truth lead to different answers (a mutant that measured agreement with the truth instead
of the weak model survived every world and simulation test); the fit is checked against
:func:`~bayes_w2s.core.updates.condition` with three labels and every rule.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from bayes_w2s.core.trajectory import Rule
from bayes_w2s.core.updates import condition
from bayes_w2s.toys.w2s import (
    Fit,
    Stream,
    WeakModel,
    fit,
    label_mass,
    predictive,
    sample_stream,
    score_fit,
    selected_concept,
)
from bayes_w2s.toys.worlds import LabelerClass, disagreement, likelihood_values, noisy_space, pretrained_log_prior

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def _cls(rng, h, z, k):
    return LabelerClass(rng.integers(0, k, size=(h, z)), n_labels=k)


# --- scores: the mimicry measure is agreement with the weak model on its errors ------------

def _score_reference(post_w2s, post_ceil, cls, truth, weak, ctx):
    """Every metric of score_fit for one rule and one checkpoint, by loops over test inputs."""
    k = cls.n_labels

    def decisions(post):
        out = []
        for z in ctx:
            mass = [sum(post[h] for h in range(len(cls)) if cls.labels[h, z] == y) for y in range(k)]
            out.append(int(np.argmax(mass)))
        return np.array(out)

    pred, ceil = decisions(post_w2s), decisions(post_ceil)
    y, w = truth[ctx], weak[ctx]
    wrong = [i for i in range(len(ctx)) if w[i] != y[i]]
    acc_weak = np.mean(w == y)
    acc, acc_c = np.mean(pred == y), np.mean(ceil == y)
    return {
        "acc_weak": acc_weak,
        "acc_ceiling": acc_c,
        "acc_w2s": acc,
        "pgr": (acc - acc_weak) / (acc_c - acc_weak) if acc_c > acc_weak else math.nan,
        "agree_weak_err": np.mean([pred[i] == w[i] for i in wrong]) if wrong else math.nan,
        "agree_weak": np.mean(pred == w),
    }


def _fit(log_post, spent=1.0):
    lp = np.asarray(log_post, float)
    lp = lp - logsumexp(lp)
    prior = np.full(lp.shape[-1], -np.log(lp.shape[-1]))
    return Fit(np.array([5]), ("r",), lp[None, None, :], np.array([[spent]]), prior)


def test_agree_weak_err_measures_mimicry_of_the_weak_model_not_of_the_truth():
    # three labels; the strong model copies the weak model exactly, and the weak model is
    # wrong on contexts 1 and 3 with a label that is neither the truth nor the same error
    cls = LabelerClass(np.array([[0, 2, 1, 1], [0, 1, 1, 2], [2, 0, 0, 0]]), n_labels=3)
    truth = np.array([0, 1, 1, 2])
    weak = np.array([0, 2, 1, 1])  # = labeler 0: wrong on contexts 1 and 3
    ctx = np.arange(4)
    copy_weak, ceiling = _fit([10.0, 0.0, 0.0]), _fit([0.0, 10.0, 0.0])
    table = score_fit(copy_weak, ceiling, cls, truth, weak, ctx).set_index("metric")["value"]
    assert table["agree_weak_err"] == 1.0  # every weak error is copied: full mimicry
    assert table["agree_weak"] == 1.0 and table["acc_w2s"] == 0.5 and table["acc_weak"] == 0.5
    assert table["acc_ceiling"] == 1.0 and table["pgr"] == 0.0
    truthful = score_fit(ceiling, ceiling, cls, truth, weak, ctx).set_index("metric")["value"]
    assert truthful["agree_weak_err"] == 0.0 and truthful["pgr"] == 1.0
    third = score_fit(_fit([0.0, 0.0, 10.0]), ceiling, cls, truth, weak, ctx).set_index("metric")["value"]
    assert third["agree_weak_err"] == 0.0 and third["acc_w2s"] == 0.0  # wrong, but not like the weak model


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4))
def test_score_fit_matches_loops_over_the_test_inputs(seed, k):
    rng = np.random.default_rng(seed)
    h, z = 5, 9
    cls = _cls(rng, h, z, k)
    truth = rng.integers(0, k, z)
    weak = np.where(rng.random(z) < 0.4, rng.integers(0, k, z), truth)
    ctx = np.sort(rng.choice(z, size=6, replace=False))
    lw, lc = rng.normal(0, 3, h), rng.normal(0, 3, h)
    table = score_fit(_fit(lw, 2.5), _fit(lc), cls, truth, weak, ctx).set_index("metric")["value"]
    ref = _score_reference(np.exp(lw - logsumexp(lw)), np.exp(lc - logsumexp(lc)), cls, truth, weak, ctx)
    for name, value in ref.items():
        if math.isnan(value):
            assert math.isnan(table[name]), name
        else:
            assert table[name] == pytest.approx(value), name
    assert table["spent"] == 2.5
    lp = lw - logsumexp(lw)
    prior = np.full(h, -np.log(h))
    assert table["influence"] == pytest.approx(np.ptp(lp - prior))


# --- the fit: exact against condition(), three labels, every rule ---------------------------

RULES = [
    Rule("bayes"),
    Rule("ve", {"name": "constant", "value": 0.7}),
    Rule("tempered", {"name": "geometric", "first": 0.9, "ratio": 0.8}),
    Rule("ve", {"name": "budget", "budget": 3.0}),
    Rule("tempered", {"name": "budget", "budget": 2.0}),
]


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 3))
def test_fit_equals_condition_for_every_rule_and_checkpoint(seed, k):
    rng = np.random.default_rng(seed)
    cls, eps = _cls(rng, 6, 5, k), 0.15
    n = 12
    stream = Stream(rng.integers(0, 5, n), rng.integers(0, k, n))
    lp = rng.normal(0, 1, 6)
    lp -= logsumexp(lp)
    cps = np.array([3, 7, 12])
    out = fit(lp, cls, eps, stream, RULES, cps)
    space = noisy_space(cls, eps)
    for r, rule in enumerate(RULES):
        for t, m in enumerate(cps):
            zs, ys = stream.contexts[:m], stream.labels[:m]
            if rule.kind == "bayes":
                want = condition(lp, space.log_probs, zs, ys).log_posterior
                assert out.spent[r, t] == np.inf
            else:
                s = rule.schedule.strengths(int(m)) if rule.schedule.needs_n_total else rule.schedule.strengths(12)[:m]
                want = condition(lp, space.log_probs, zs, ys, rule=rule.kind, strengths=s).log_posterior
                assert out.spent[r, t] == pytest.approx(s.sum())
            np.testing.assert_allclose(out.log_posterior[r, t], want, atol=1e-9)


def test_label_mass_and_predictive_with_three_labels():
    labels = np.array([[0, 1, 2], [2, 2, 0], [1, 0, 0]])
    post = np.array([0.5, 0.3, 0.2])
    mass = label_mass(labels, np.log(post), 3)
    for z in range(3):
        for y in range(3):
            assert mass[z, y] == pytest.approx(post[labels[:, z] == y].sum())
    hit, miss = likelihood_values(0.3, 3)
    assert (hit, miss) == pytest.approx((0.7, 0.15))
    np.testing.assert_allclose(predictive(labels, np.log(post), 0.3, 3), miss + (hit - miss) * mass)
    np.testing.assert_allclose(predictive(labels, np.log(post), 0.3, 3).sum(-1), 1.0)
    np.testing.assert_allclose(label_mass(labels[:, :1] % 2, np.log(post))[0], [0.8, 0.2])  # binary path


def test_sample_stream_modes_with_three_labels():
    probs = np.array([[0.2, 0.5, 0.3], [0.6, 0.1, 0.3]])
    ctx = np.array([7, 9])
    s = sample_stream(np.random.default_rng(0), ctx, probs, 60_000)
    for i, c in enumerate(ctx):
        at = s.labels[s.contexts == c]
        np.testing.assert_allclose(np.bincount(at, minlength=3) / at.size, probs[i], atol=0.01)
    assert abs(np.mean(s.contexts == 9) - 0.5) < 0.01
    hard = sample_stream(np.random.default_rng(1), ctx, probs, 200, mode="argmax")
    np.testing.assert_array_equal(hard.labels, np.where(hard.contexts == 7, 1, 0))
    one = sample_stream(np.random.default_rng(2), ctx, probs, 1)
    assert one.contexts.shape == (1,)


# --- the world: disagreement, the pretrained prior, the selected concept --------------------

@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4))
def test_disagreement_is_the_mismatch_rate(seed, k):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, k, (3, 8)), rng.integers(0, k, (4, 8))
    ctx = np.array([0, 2, 3, 7])
    want = np.array([[np.mean(a[i, ctx] != b[j, ctx]) for j in range(4)] for i in range(3)])
    np.testing.assert_allclose(disagreement(a, b, ctx), want, atol=1e-7)
    full = np.array([[np.mean(a[i] != b[j]) for j in range(4)] for i in range(3)])
    np.testing.assert_allclose(disagreement(a, b), full, atol=1e-7)


@pytest.mark.parametrize("relative", [True, False])
def test_pretrained_log_prior_matches_its_formula(relative):
    rng = np.random.default_rng(4)
    labels, concepts = rng.integers(0, 2, (7, 10)), rng.integers(0, 2, (3, 10))
    rho = np.array([[np.mean(labels[h] != concepts[j]) for j in range(3)] for h in range(7)])
    if relative:
        rho = rho - rho.min(axis=0)
    want = -2.5 * rho.min(axis=1)
    want -= logsumexp(want)
    np.testing.assert_allclose(pretrained_log_prior(labels, concepts, 2.5, relative=relative), want)
    ctx = np.arange(5)
    sub = pretrained_log_prior(labels, concepts, 2.5, contexts=ctx, relative=relative)
    rho_c = np.array([[np.mean(labels[h, ctx] != concepts[j, ctx]) for j in range(3)] for h in range(7)])
    if relative:
        rho_c = rho_c - rho_c.min(axis=0)
    np.testing.assert_allclose(sub, -2.5 * rho_c.min(axis=1) - logsumexp(-2.5 * rho_c.min(axis=1)))


def test_selected_concept_is_the_best_agreeing_top_prior_hypothesis():
    cls = LabelerClass(np.array([[0, 0, 1, 1], [0, 1, 1, 1], [1, 1, 0, 0], [0, 0, 0, 1]]))
    lp = np.log(np.array([0.3, 0.3, 0.3, 0.1]))
    teacher_probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.1, 0.9]])
    teacher = WeakModel(cls, 0.1, np.zeros(4), teacher_probs, teacher_probs.argmax(1))
    ctx = np.arange(4)
    agree = [np.mean([teacher_probs[z, cls.labels[h, z]] for z in ctx]) for h in range(4)]
    assert selected_concept(cls, lp, teacher, ctx) == int(np.argmax(agree[:3])) == 1
    # hypothesis 3 agrees as well as 1 on contexts {0, 3} but has lower prior weight
    assert selected_concept(cls, lp, teacher, np.array([0, 3])) == 0
    assert selected_concept(cls, np.log([0.1, 0.1, 0.1, 0.7]), teacher, ctx) == 3


# --- the pipeline's stages at their boundaries ---------------------------------------------

def test_posterior_on_labels_uses_only_the_seen_contexts():
    cls = LabelerClass(np.array([[0, 1, 2, 0], [0, 2, 2, 1], [1, 1, 0, 0]]), n_labels=3)
    lp = np.log([0.5, 0.3, 0.2])
    ctx, lab = np.array([3, 1, 3]), np.array([0, 1, 1])
    from bayes_w2s.toys.w2s import posterior_on_labels, train_weak

    got = posterior_on_labels(cls, 0.2, lp, ctx, lab)
    want = condition(lp, noisy_space(cls, 0.2).log_probs, ctx, lab).log_posterior
    np.testing.assert_allclose(got, want, atol=1e-12)
    world = type("W", (), {})()
    world.pool = {"gt": np.array([0, 2])}
    world.truth = np.array([1, 0, 2, 0])
    weak = train_weak(world, cls, 0.2)
    np.testing.assert_allclose(weak.log_posterior, condition(np.log(np.full(3, 1 / 3)), noisy_space(cls, 0.2).log_probs,
                                                             [0, 2], [1, 2]).log_posterior, atol=1e-12)
    np.testing.assert_allclose(weak.predictive, predictive(cls.labels, weak.log_posterior, 0.2, 3))
    np.testing.assert_array_equal(weak.decision, weak.predictive.argmax(-1))
    assert weak.eps == 0.2 and type(weak.eps) is float
    tilted = train_weak(world, cls, 0.2, log_prior=np.log([0.1, 0.1, 0.8]))
    assert not np.allclose(tilted.log_posterior, weak.log_posterior)


def test_stream_and_fit_validation():
    probs = np.array([[0.5, 0.5], [0.9, 0.1]])
    rng = np.random.default_rng(0)
    for kwargs, match in [(dict(n=0), "positive integer"), (dict(n=1.5), "positive integer"),
                          (dict(mode="soft"), "unknown weak-label mode"),
                          (dict(label_probs=probs[:1]), "matching contexts"),
                          (dict(label_probs=probs[0]), "matching contexts")]:
        args = dict(contexts=np.array([0, 1]), label_probs=probs, n=3)
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            sample_stream(rng, **args)
    cls = LabelerClass(np.array([[0, 1], [1, 0]]))
    stream = Stream(np.array([0, 1, 1]), np.array([0, 1, 0]))
    lp = np.log([0.5, 0.5])
    for kwargs, match in [(dict(log_prior=np.log([1.0])), r"shape \(2,\)"), (dict(checkpoints=[0]), r"\[1, 3\]"),
                          (dict(checkpoints=[4]), r"\[1, 3\]"), (dict(checkpoints=[]), r"\[1, 3\]"),
                          (dict(rules=[]), "non-empty"), (dict(rules=["bayes"]), "non-empty")]:
        args = dict(log_prior=lp, cls=cls, eps=0.1, stream=stream, rules=[Rule("bayes")], checkpoints=[3])
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            fit(**args)
    out = fit(lp, cls, 0.1, stream, [Rule("bayes")], [3, 1, 3])
    assert out.checkpoints.tolist() == [1, 3] and out.rules == ("bayes",)
    np.testing.assert_allclose(out.log_prior, lp)
    with pytest.raises(ValueError, match="share checkpoints"):
        score_fit(out, fit(lp, cls, 0.1, stream, [Rule("bayes")], [3]), cls, np.array([0, 1]), np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        selected_concept(cls, np.log([1.0]), None, np.array([0]))


def test_weak_to_strong_composes_its_stages():
    from bayes_w2s.toys.w2s import train_weak, weak_to_strong
    from bayes_w2s.toys.worlds import halfspaces, make_world

    world = make_world(np.random.default_rng(0), n_gt=20, n_train=40, n_test=30, n_distractors=2)
    weak_cls = halfspaces(world.pool.points, 4, 2)
    strong = halfspaces(world.pool.points, 8, 3)
    teacher = train_weak(world, weak_cls, 0.2)
    other = WeakModel.from_posterior(weak_cls, 0.2, np.log(np.full(len(weak_cls), 1 / len(weak_cls))))
    lp = world.strong_prior(strong, 5.0)
    rules = [Rule("bayes"), Rule("ve", "budget:budget=2")]
    table, w2s = weak_to_strong(world, teacher, strong, lp, 0.1, rules, [5, 25], np.random.default_rng(7),
                                mode="argmax", reference=other)
    stream = sample_stream(np.random.default_rng(7), world.pool["train"], teacher.predictive[world.pool["train"]], 25,
                           mode="argmax")
    want_fit = fit(lp, strong, 0.1, stream, rules, [5, 25])
    np.testing.assert_allclose(w2s.log_posterior, want_fit.log_posterior)
    truth_stream = Stream(stream.contexts, world.truth[stream.contexts].astype(np.int64))
    ceiling = fit(lp, strong, 0.1, truth_stream, [Rule("bayes")], [5, 25])
    want = score_fit(want_fit, ceiling, strong, world.truth, other.decision, world.pool["test"])
    np.testing.assert_allclose(table["value"].to_numpy(), want["value"].to_numpy(), equal_nan=True)
    ctx = world.pool["gt"]
    _, on_gt = weak_to_strong(world, teacher, strong, lp, 0.1, rules[:1], [3], np.random.default_rng(1), contexts=ctx)
    s2 = sample_stream(np.random.default_rng(1), ctx, teacher.predictive[ctx], 3)
    np.testing.assert_allclose(on_gt.log_posterior, fit(lp, strong, 0.1, s2, rules[:1], [3]).log_posterior)

"""How a world is built, replayed from its public building blocks (issue 18: mutation testing).

``make_world`` draws a pool, then the distractor concepts, from one generator; replaying the
same draws with :func:`make_pool`, :func:`random_concepts` and :func:`halfspace_labels` must
give the same truth and concepts, for the defaults and for every option. Boundaries of the
arguments are checked on both sides.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from bayes_w2s.toys.labelers import LabelerClass, halfspace_labels, halfspaces, likelihood_values
from bayes_w2s.core.trajectory import Rule
from bayes_w2s.toys.w2s import WeakModel, label_mass, predictive, selected_concept, weak_to_strong
from bayes_w2s.toys.worlds import disagreement, make_pool, make_world, pretrained_log_prior, random_concepts


def _replay(seed, *, n_gt, n_train, n_test, truth_angle=57.0, truth_offset=0.0, n_distractors=7,
            truth_in_prior=True, prior_misspec_deg=0.0, d=2):
    rng = np.random.default_rng(seed)
    pool = make_pool(rng, n_gt=n_gt, n_train=n_train, n_test=n_test, d=d)
    truth = halfspace_labels(pool.points, [np.radians(truth_angle)], [truth_offset])[0]
    angles, offsets = random_concepts(rng, n_distractors)
    rows = [halfspace_labels(pool.points, [a], [o])[0] for a, o in zip(angles, offsets)]
    if truth_in_prior:
        rows.insert(0, halfspace_labels(pool.points, [np.radians(truth_angle + prior_misspec_deg)], [truth_offset])[0])
    return pool, truth, np.stack(rows)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # the defaults: truth at 57 degrees through the centre, 7 distractors, d = 2
        dict(truth_angle=-20.0, truth_offset=0.3, n_distractors=2),
        dict(truth_in_prior=False, n_distractors=1),
        dict(prior_misspec_deg=15.0, n_distractors=3, d=3),
    ],
)
def test_make_world_replays_from_its_building_blocks(kwargs):
    sizes = dict(n_gt=5, n_train=30, n_test=25)
    world = make_world(np.random.default_rng(11), **sizes, **kwargs)
    pool, truth, concepts = _replay(11, **sizes, **kwargs)
    np.testing.assert_array_equal(world.pool.points, pool.points)
    assert world.pool.points.shape == (60, kwargs.get("d", 2))
    np.testing.assert_array_equal(world.truth, truth)
    np.testing.assert_array_equal(world.concepts, concepts)
    assert world.concepts.dtype == np.int8 and world.truth.dtype == np.int8
    assert world.concepts.shape[0] == kwargs.get("n_distractors", 7) + kwargs.get("truth_in_prior", True)
    assert world.truth_angle == kwargs.get("truth_angle", 57.0)
    if kwargs.get("truth_in_prior", True) and not kwargs.get("prior_misspec_deg"):
        np.testing.assert_array_equal(world.concepts[0], world.truth)  # the favourable default
    assert len({row.tobytes() for row in world.concepts}) > 1 or world.concepts.shape[0] == 1


def test_the_default_world_puts_the_truth_itself_among_the_concepts():
    # a large pool: a concept rotated by even 1 degree would relabel some points near the boundary
    world = make_world(np.random.default_rng(4), n_gt=10, n_train=10, n_test=5000)
    np.testing.assert_array_equal(world.concepts[0], world.truth)
    tilted = make_world(np.random.default_rng(4), n_gt=10, n_train=10, n_test=5000, prior_misspec_deg=1.0)
    assert np.any(tilted.concepts[0] != tilted.truth)


@pytest.mark.parametrize("offset", [-1.0, -1.5, 1.0, 2.0])
def test_make_world_refuses_a_truth_offset_outside_the_open_interval(offset):
    with pytest.raises(ValueError, match="truth_offset must lie in"):
        make_world(np.random.default_rng(0), n_gt=2, n_train=2, n_test=2, truth_offset=offset)


def test_make_world_with_one_distractor_and_no_truth_in_the_prior_is_allowed():
    world = make_world(np.random.default_rng(0), n_gt=2, n_train=2, n_test=2, truth_in_prior=False, n_distractors=1)
    assert world.concepts.shape == (1, 6)
    with pytest.raises(ValueError, match="n_distractors >= 1"):
        make_world(np.random.default_rng(0), n_gt=2, n_train=2, n_test=2, truth_in_prior=False, n_distractors=0)


def test_random_concepts_cover_the_circle_and_both_sides_of_the_centre():
    angles, offsets = random_concepts(np.random.default_rng(5), 400)
    assert angles.min() < 0.2 and angles.max() > 2 * np.pi - 0.2 and np.all((angles >= 0) & (angles < 2 * np.pi))
    assert offsets.min() < -0.55 and offsets.max() > 0.55 and np.all(np.abs(offsets) <= 0.6)  # default max_offset 0.6
    _, wide = random_concepts(np.random.default_rng(5), 400, max_offset=0.9)
    assert np.abs(wide).max() > 0.85
    assert random_concepts(np.random.default_rng(5), 0)[0].shape == (0,)
    with pytest.raises(ValueError, match="^n_distractors must be an integer >= 0"):
        random_concepts(np.random.default_rng(5), -1)


def test_selected_concept_only_considers_hypotheses_at_the_top_prior_weight():
    cls = LabelerClass(np.array([[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 0, 1]]))
    # the teacher is sure of h1's labels everywhere
    teacher = WeakModel.from_posterior(cls, 0.1, np.log([1e-6, 1 - 2e-6, 1e-6]))
    lp = np.log([0.5, 0.3, 0.2])  # h1 is 0.5 nats below the top: not a top-prior hypothesis
    assert selected_concept(cls, lp, teacher, np.arange(4)) == 0
    lp = np.log([0.4, 0.4, 0.2])  # a tie at the top: the teacher's favourite of the two
    assert selected_concept(cls, lp, teacher, np.arange(4)) == 1
    assert selected_concept(cls, np.log([0.35, 0.3, 0.35]), teacher, [1, 3]) == 2  # agrees with h1 on 1 and 3


def test_make_pool_defaults_and_smallest_splits():
    pool = make_pool(np.random.default_rng(0), n_gt=1, n_train=1, n_test=1)  # one input per split is enough
    assert pool.points.shape == (3, 2)  # d = 2 by default
    for name, bad in (("n_gt", dict(n_gt=0)), ("n_train", dict(n_train=0)), ("n_test", dict(n_test=0))):
        sizes = dict(n_gt=1, n_train=1, n_test=1) | bad
        with pytest.raises(ValueError, match=f"^{name} must be an integer >= 1"):
            make_pool(np.random.default_rng(0), **sizes)


def test_halfspace_class_names_and_count_errors():
    x = np.random.default_rng(0).random((5, 2))
    cls = halfspaces(x, 2, 1, phase=-np.pi / 6)  # angles -30 and 150 degrees
    assert cls.names == ("hs(330.0deg,+0.00)", "hs(150.0deg,+0.00)")
    with pytest.raises(ValueError, match="^n_angles must be an integer >= 1"):
        halfspaces(x, 0, 1)
    with pytest.raises(ValueError, match="^n_offsets must be an integer >= 1"):
        halfspaces(x, 1, 0)


def test_pretrained_prior_is_relative_to_each_concepts_best_approximant_by_default():
    labels = np.array([[0, 0, 0, 0], [1, 1, 1, 1], [1, 1, 1, 0]])
    concepts = np.array([[0, 0, 0, 0], [1, 1, 0, 0]])  # concept 1 is not in the class: best rho 1/4
    default = pretrained_log_prior(labels, concepts, 8.0)
    np.testing.assert_allclose(default, pretrained_log_prior(labels, concepts, 8.0, relative=True))
    rho = disagreement(labels, concepts)
    rel = -8.0 * (rho - rho.min(axis=0)).min(axis=1)
    np.testing.assert_allclose(default, rel - np.log(np.exp(rel).sum()))
    assert not np.allclose(default, pretrained_log_prior(labels, concepts, 8.0, relative=False))


def test_predictive_defaults_to_two_labels_and_the_weak_model_keeps_its_class():
    cls = LabelerClass(np.array([[0, 1, 1], [1, 1, 0]]))
    lp = np.log([0.3, 0.7])
    pred = predictive(cls.labels, lp, 0.1)
    hit, miss = likelihood_values(0.1)
    np.testing.assert_allclose(pred, miss + (hit - miss) * label_mass(cls.labels, lp, 2))
    assert pred.shape == (3, 2)
    weak = WeakModel.from_posterior(cls, 0.1, lp)
    assert weak.cls is cls
    np.testing.assert_array_equal(weak.decision, [1, 1, 0])  # context 0: 0.7 on label 1; context 2: 0.7 on label 0


def test_a_point_on_a_halfspace_boundary_gets_label_zero():
    # angle 0, offset 0: the boundary is z_0 = 1/2, and the rule is a strict z_0 > 1/2
    x = np.array([[0.5, 0.3], [0.5 + 1e-12, 0.3], [0.5 - 1e-12, 0.9]])
    np.testing.assert_array_equal(halfspace_labels(x, [0.0], [0.0]), [[0, 1, 0]])


@pytest.mark.parametrize("flip", [False, True])
def test_disagreement_with_three_labels_on_one_side_only(flip):
    a = np.array([[0, 1, 1, 0], [1, 1, 1, 1]])  # binary
    b = np.array([[0, 2, 1, 2], [2, 2, 2, 2]])  # three labels
    want = np.array([[(r != c).mean() for c in b] for r in a])
    got = disagreement(b, a).T if flip else disagreement(a, b)
    np.testing.assert_allclose(got, want)
    np.testing.assert_allclose(got[1, 1], 1.0)


def test_disagreement_edge_shapes():
    np.testing.assert_allclose(disagreement([[1], [0]], [[1]]), [[0.0], [1.0]])  # one context
    assert disagreement(np.zeros((0, 3), dtype=int), [[0, 1, 1]]).shape == (0, 1)  # an empty class
    assert disagreement([[0, 1, 1]], np.zeros((0, 3), dtype=int)).shape == (1, 0)  # no concepts
    with pytest.raises(ValueError, match="must share a non-empty context axis"):
        disagreement([[0, 1, 1]], [[0, 1]])
    with pytest.raises(ValueError, match="must share a non-empty context axis"):
        disagreement(np.zeros((2, 0)), np.zeros((1, 0)))


def test_a_perfect_weak_model_scores_nan_mimicry_without_a_warning():
    world = make_world(np.random.default_rng(2), n_gt=5, n_train=20, n_test=15, n_distractors=2)
    truth_cls = LabelerClass(world.truth[None], ("truth",))
    perfect = WeakModel.from_posterior(truth_cls, 0.1, [0.0])
    cls = halfspaces(world.pool.points, 4, 3).union(truth_cls)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "mean of empty slice"
        df, _ = weak_to_strong(world, perfect, cls, world.strong_prior(cls, 5.0), 0.1, [Rule("bayes")], [5, 10],
                               np.random.default_rng(0))
    assert df[df.metric == "agree_weak_err"].value.isna().all()

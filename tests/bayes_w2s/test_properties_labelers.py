"""Labeler classes, typos, worlds and the misfit projections against brute force (issue 18).

Halfspace labels are checked point by point from their formula, grid labelers by enumerating
cells, typo placement by counting flipped cells, and projections onto a ball of linear heads
against scipy's constrained least squares.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from bayes_w2s.toys.labelers import (
    LabelerClass,
    grid_labelers,
    halfspace_labels,
    halfspaces,
    likelihood_values,
    noisy_space,
    typo_labeler,
)
from bayes_w2s.toys.misfit import LinearHeads, misfit_decomposition, project_ball, project_subspace
from bayes_w2s.toys.worlds import make_pool, make_world, random_concepts

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


@SETTINGS
@given(seed=st.integers(0, 10_000), n_a=st.integers(1, 3), n_o=st.integers(1, 3))
def test_halfspace_labels_follow_the_formula_angle_major(seed, n_a, n_o):
    rng = np.random.default_rng(seed)
    x = rng.random((12, 2))
    angles, offsets = rng.uniform(0, 2 * np.pi, n_a), rng.uniform(-0.9, 0.9, n_o)
    out = halfspace_labels(x, angles, offsets)
    assert out.shape == (n_a * n_o, 12) and out.dtype == np.int8
    for a, th in enumerate(angles):
        for o, t in enumerate(offsets):
            c, s = math.cos(th), math.sin(th)
            b = (c + s) / 2 + t * (abs(c) + abs(s)) / 2
            want = [int(p[0] * c + p[1] * s > b) for p in x]
            assert out[a * n_o + o].tolist() == want


def test_halfspace_offset_zero_passes_through_the_centre_and_offsets_shift_it():
    x = np.array([[0.49, 0.2], [0.51, 0.9], [0.9, 0.5], [0.05, 0.5]])
    assert halfspace_labels(x, [0.0], [0.0])[0].tolist() == [0, 1, 1, 0]  # z0 > 1/2
    assert halfspace_labels(x, [np.pi], [0.0])[0].tolist() == [1, 0, 0, 1]  # z0 < 1/2
    assert halfspace_labels(x, [0.0], [0.6])[0].tolist() == [0, 0, 1, 0]  # z0 > 0.5 + 0.6 / 2
    cls = halfspaces(x, 4, 3, spread=0.5)
    assert len(cls) == 12 and cls.names[0] == "hs(0.0deg,-0.50)" and cls.names[4] == "hs(90.0deg,+0.00)"
    np.testing.assert_array_equal(cls.labels[1], halfspace_labels(x, [0.0], [0.0])[0])
    one = halfspaces(x, 2, 1, phase=np.pi / 2)
    assert one.names == ("hs(90.0deg,+0.00)", "hs(270.0deg,+0.00)")
    for bad in (dict(spread=1.0), dict(spread=-0.1)):
        with pytest.raises(ValueError, match="spread"):
            halfspaces(x, 2, 2, **bad)
    assert halfspaces(x, 2, 2, spread=0.0).labels.shape == (4, 4)


def test_grid_labelers_enumerate_every_labeling_of_the_cells():
    x = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9], [0.6, 0.4], [1.0, 1.0]])
    cls = grid_labelers(x, 2)
    assert len(cls) == 16 and cls.names[5] == "grid2:0101"
    cell = [0, 1, 2, 3, 1, 3]  # row * 2 + col, the edge point 1.0 clipped into the last cell
    for code in range(16):
        assert cls.labels[code].tolist() == [(code >> c) & 1 for c in cell]
    with pytest.raises(ValueError, match="at most 12 cells"):
        grid_labelers(x, 4)
    assert len(grid_labelers(x, 1)) == 2


def test_typo_labeler_flips_whole_cells():
    rng = np.random.default_rng(0)
    x = rng.random((4000, 2))
    truth = (x[:, 0] > 0.5).astype(np.int8)
    out = typo_labeler(x, truth, 0.1, np.random.default_rng(1), cells=10)
    cell = np.clip((x * 10).astype(int), 0, 9)
    flipped = out != truth
    cells_flipped = {(i, j) for (j, i), f in zip(cell, flipped) if f}
    assert len(cells_flipped) == 10
    for (i, j) in cells_flipped:  # every point of a flipped cell is flipped
        in_cell = (cell[:, 1] == i) & (cell[:, 0] == j)
        assert flipped[in_cell].all()
    assert np.array_equal(typo_labeler(x, truth, 0.0, np.random.default_rng(1)), truth)
    score = x[:, 0] - 0.5
    band = typo_labeler(x, truth, 0.1, np.random.default_rng(1), placement="band", score=score)
    moved = band != truth
    assert moved.any() and np.all(truth[moved] == 1) and x[moved, 0].max() < 0.6 + 1e-9  # the first column right of the boundary
    for kwargs, match in [(dict(rate=0.5), "rate"), (dict(rate=-0.1), "rate"), (dict(placement="edge"), "placement"),
                          (dict(placement="band"), "score")]:
        args = dict(rate=0.1, rng=np.random.default_rng(0))
        args.update(kwargs)
        with pytest.raises(ValueError, match=match):
            typo_labeler(x, truth, **args)
    with pytest.raises(ValueError, match="binary"):
        typo_labeler(x, truth + 1, 0.1, np.random.default_rng(0))


def test_labeler_class_validation_union_and_noisy_space():
    cls = LabelerClass(np.array([[0, 1, 2], [2, 2, 0]]), n_labels=3)
    assert cls.names == ("h0", "h1") and len(cls) == 2 and not cls.labels.flags.writeable
    more = cls.union(LabelerClass(np.array([[2, 2, 0], [1, 1, 1]]), ("a", "b"), n_labels=3))
    assert more.names == ("h0", "h1", "b") and more.labels[2].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="share contexts"):
        cls.union(LabelerClass(np.array([[0, 1]]), n_labels=3))
    with pytest.raises(ValueError, match="share contexts"):
        cls.union(LabelerClass(np.array([[0, 1, 1]]), n_labels=2))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        LabelerClass(np.array([[0, 3]]), n_labels=3)
    with pytest.raises(ValueError, match="n_labels"):
        LabelerClass(np.array([[0, 1]]), n_labels=1)
    with pytest.raises(ValueError, match="2 names for 1"):
        LabelerClass(np.array([[0, 1]]), ("a", "b"))
    assert LabelerClass(np.array([1, 0])).labels.shape == (1, 2)
    space = noisy_space(cls, 0.3)
    np.testing.assert_allclose(space.probs[1, 0], [0.15, 0.15, 0.7])
    assert space.hypothesis_names == ("h0", "h1")
    for eps, k in ((0.0, 2), (0.5, 2), (2 / 3, 3)):
        with pytest.raises(ValueError, match="eps"):
            likelihood_values(eps, k)
    assert likelihood_values(0.6, 3) == pytest.approx((0.4, 0.3))


def test_pools_and_worlds():
    rng = np.random.default_rng(3)
    pool = make_pool(rng, n_gt=3, n_train=4, n_test=5, d=3)
    assert pool.points.shape == (12, 3) and pool.n_contexts == 12
    assert pool["gt"].tolist() == [0, 1, 2] and pool["train"].tolist() == [3, 4, 5, 6] and pool["test"].tolist() == list(range(7, 12))
    with pytest.raises(KeyError, match="no split 'val'"):
        pool["val"]
    angles, offsets = random_concepts(np.random.default_rng(0), 500, max_offset=0.3)
    assert angles.min() >= 0 and angles.max() < 2 * np.pi and np.abs(offsets).max() <= 0.3
    assert random_concepts(np.random.default_rng(0), 0)[0].shape == (0,)
    world = make_world(np.random.default_rng(5), n_gt=10, n_train=20, n_test=30, truth_angle=30.0,
                       truth_offset=0.2, n_distractors=3, prior_misspec_deg=10.0)
    x = world.pool.points
    np.testing.assert_array_equal(world.truth, halfspace_labels(x, [np.radians(30.0)], [0.2])[0])
    np.testing.assert_array_equal(world.concepts[0], halfspace_labels(x, [np.radians(40.0)], [0.2])[0])
    assert world.concepts.shape == (4, 60) and world.truth_angle == 30.0
    sd = world.signed_distance(30.0, 0.2)
    np.testing.assert_array_equal(sd > 0, world.truth.astype(bool))
    no_truth = make_world(np.random.default_rng(5), n_gt=10, n_train=20, n_test=30, n_distractors=3, truth_in_prior=False)
    assert no_truth.concepts.shape == (3, 60)
    for kwargs, match in [(dict(truth_offset=1.0), "truth_offset"), (dict(truth_angle=math.nan), "truth_angle"),
                          (dict(prior_misspec_deg=math.inf), "prior_misspec_deg"),
                          (dict(truth_in_prior=False, n_distractors=0), "n_distractors")]:
        with pytest.raises(ValueError, match=match):
            make_world(np.random.default_rng(0), n_gt=2, n_train=2, n_test=2, **kwargs)


# --- misfit ----------------------------------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 10_000), radius=st.floats(0.05, 3.0))
def test_ball_projection_matches_constrained_least_squares(seed, radius):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(15, 3))
    y = rng.normal(size=15)
    proj = project_ball(phi, y, radius)
    res = minimize(lambda w: np.mean((phi @ w - y) ** 2), np.zeros(3), method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: radius**2 - w @ w}], options={"ftol": 1e-14, "maxiter": 500})
    assert np.linalg.norm(proj.head) <= radius * (1 + 1e-9)
    assert np.mean((proj.fitted - y) ** 2) <= res.fun + 1e-7
    np.testing.assert_allclose(proj.fitted, phi @ proj.head, atol=1e-9)
    free = project_subspace(phi, y)
    if np.linalg.norm(free.head) <= radius:
        assert proj.multiplier == 0.0
        np.testing.assert_allclose(proj.head, free.head)
    else:
        assert proj.multiplier > 0 and np.linalg.norm(proj.head) == pytest.approx(radius)
        mu = proj.multiplier  # KKT: (Phi^T Phi + mu I) w = Phi^T y
        np.testing.assert_allclose((phi.T @ phi + mu * np.eye(3)) @ proj.head, phi.T @ y, atol=1e-6)


def test_subspace_projection_is_minimum_norm_and_rank_deficient_features():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(10, 2))
    phi = np.column_stack([base, base[:, 0] + base[:, 1]])  # rank 2
    y = rng.normal(size=10)
    proj = project_subspace(phi, y)
    np.testing.assert_allclose(proj.head, np.linalg.pinv(phi) @ y, atol=1e-10)
    assert LinearHeads.from_features(phi).s.shape == (2,)
    assert proj.multiplier == 0.0
    for bad in (np.zeros((0, 2)), np.array([1.0, 2.0]), np.array([[np.nan, 1.0]])):
        with pytest.raises(ValueError, match="features"):
            LinearHeads.from_features(bad)
    heads = LinearHeads.from_features(phi)
    with pytest.raises(ValueError, match="targets"):
        heads.project(np.ones(9))
    for r in (0.0, -1.0, math.inf):
        with pytest.raises(ValueError, match="radius"):
            heads.project(y, r)


def test_misfit_decomposition_arithmetic():
    d = misfit_decomposition([0.0, 1.0, 2.0], [1.0, 1.0, 0.0], [0.5, 1.0, 1.0])
    assert d.err_weak == pytest.approx(5 / 3) and d.err_strong_on_weak == pytest.approx(1.25 / 3)
    assert d.misfit == pytest.approx(1.25 / 3) and d.gain == pytest.approx(3.75 / 3)
    assert d.residual == pytest.approx(2.5 / 3)
    for bad in (([], [], []), ([1.0], [1.0, 2.0], [1.0]), ([[1.0]], [[1.0]], [[1.0]])):
        with pytest.raises(ValueError, match="non-empty"):
            misfit_decomposition(*bad)

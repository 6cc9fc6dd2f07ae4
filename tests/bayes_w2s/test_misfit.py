"""Projections onto linear heads and the misfit decomposition (Charikar et al. 2024, Thm. 1)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize

from bayes_w2s.toys.misfit import LinearHeads, misfit_decomposition, project_ball, project_subspace


def _problem(seed: int, n: int = 60, d: int = 5):
    rng = np.random.default_rng(seed)
    phi = rng.normal(size=(n, d)) @ np.diag([3.0, 1.0, 0.5, 0.2, 0.05])  # ill-conditioned
    w_star = rng.normal(size=d)
    f_w = phi @ w_star + rng.normal(scale=2.0, size=n) + 0.3 * rng.normal(size=n) ** 2
    return phi, w_star, f_w


@pytest.mark.parametrize("seed", range(5))
def test_subspace_projection_is_pythagorean(seed):
    phi, w_star, f_w = _problem(seed)
    proj = project_subspace(phi, f_w)
    np.testing.assert_allclose(phi.T @ (f_w - proj.fitted), 0.0, atol=1e-10)  # normal equations
    dec = misfit_decomposition(phi @ w_star, f_w, proj.fitted)
    assert abs(dec.residual) <= 1e-8 * dec.err_weak
    assert dec.gain == pytest.approx(dec.misfit, rel=1e-10) and dec.misfit > 0.1


@pytest.mark.parametrize("seed", range(5))
def test_ball_projection_matches_a_generic_solver(seed):
    phi, _w_star, f_w = _problem(seed)
    radius = 0.7 * np.linalg.norm(np.linalg.lstsq(phi, f_w, rcond=None)[0])  # constraint active
    proj = project_ball(phi, f_w, radius)
    assert np.linalg.norm(proj.head) == pytest.approx(radius, rel=1e-12) and proj.multiplier > 0
    # KKT: (Phi^T Phi + mu I) w = Phi^T y
    np.testing.assert_allclose(
        phi.T @ phi @ proj.head + proj.multiplier * proj.head, phi.T @ f_w, rtol=1e-8, atol=1e-8
    )
    res = minimize(
        lambda w: np.mean((phi @ w - f_w) ** 2),
        np.zeros(phi.shape[1]),
        jac=lambda w: 2 * phi.T @ (phi @ w - f_w) / len(f_w),
        constraints=[{"type": "ineq", "fun": lambda w: radius**2 - w @ w, "jac": lambda w: -2 * w}],
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 500},
    )
    assert res.success
    ours = np.mean((proj.fitted - f_w) ** 2)
    assert ours <= res.fun + 1e-10
    np.testing.assert_allclose(proj.head, res.x, atol=1e-5)


@pytest.mark.parametrize("seed", range(8))
def test_convex_class_gain_is_at_least_the_misfit(seed):
    phi, w_star, f_w = _problem(seed)
    for factor in (1.0, 1.2, 3.0):
        proj = project_ball(phi, f_w, factor * np.linalg.norm(w_star))  # f* in the ball
        dec = misfit_decomposition(phi @ w_star, f_w, proj.fitted)
        assert dec.residual >= -1e-12 * dec.err_weak
        assert dec.err_strong_on_weak <= dec.err_weak - dec.misfit + 1e-12 * dec.err_weak
        if proj.multiplier > 0:
            assert dec.residual > 1e-6  # strictly: the ball is not a subspace


def test_inactive_ball_equals_the_subspace_projection():
    phi, _, f_w = _problem(0)
    free = project_subspace(phi, f_w)
    proj = project_ball(phi, f_w, 10 * np.linalg.norm(free.head))
    assert proj.multiplier == 0.0
    np.testing.assert_array_equal(proj.head, free.head)


def test_rank_deficient_features_give_the_minimum_norm_head():
    rng = np.random.default_rng(1)
    base = rng.normal(size=(40, 3))
    phi = np.hstack([base, base[:, :1]])  # duplicated column
    y = rng.normal(size=40)
    heads = LinearHeads.from_features(phi)
    assert heads.s.shape == (3,)
    np.testing.assert_allclose(heads.project(y).head, np.linalg.pinv(phi) @ y, atol=1e-12)


def test_asymmetric_decomposition_signs():
    truth, weak, student = np.zeros(4), np.full(4, 2.0), np.full(4, 0.5)
    dec = misfit_decomposition(truth, weak, student)
    assert (dec.err_weak, dec.err_strong_on_weak, dec.misfit) == (4.0, 0.25, 2.25)
    assert dec.gain == 3.75 and dec.residual == 1.5


def test_errors():
    phi, _, f_w = _problem(0)
    with pytest.raises(ValueError, match="radius must be a positive finite number, got 0.0"):
        project_ball(phi, f_w, 0.0)
    with pytest.raises(
        ValueError, match=r"targets must be a finite \(60,\) array, got shape \(59,\)"
    ):
        project_subspace(phi, f_w[:-1])
    with pytest.raises(
        ValueError, match=r"features must be a finite \(n, d\) array with n > 0, got shape \(60,\)"
    ):
        LinearHeads.from_features(f_w)
    with pytest.raises(ValueError, match=r"need three non-empty \(n,\) arrays"):
        misfit_decomposition(f_w, f_w[:3], f_w)


def test_ball_projection_honours_a_loose_root_tolerance():
    phi, _w_star, f_w = _problem(3)
    heads = LinearHeads.from_features(phi)
    full = np.linalg.norm(np.linalg.lstsq(phi, f_w, rcond=None)[0])
    outside = inside = 0
    for factor in (0.2, 0.35, 0.5, 0.65, 0.8, 0.9):
        radius = factor * full
        tight = project_ball(phi, f_w, radius)
        loose = project_ball(phi, f_w, radius, rtol=0.2)
        assert loose.multiplier == heads.project(f_w, radius, rtol=0.2).multiplier  # the same Brent run
        assert loose.multiplier == pytest.approx(tight.multiplier, rel=0.5)
        # the head is the ridge head at the returned multiplier, shrunk into the ball if the
        # loose root left it outside (never pushed outward)
        ridge = np.linalg.solve(phi.T @ phi + loose.multiplier * np.eye(phi.shape[1]), phi.T @ f_w)
        norm = np.linalg.norm(ridge)
        outside, inside = outside + (norm > radius * (1 + 1e-9)), inside + (norm < radius * (1 - 1e-9))
        np.testing.assert_allclose(loose.head, ridge * min(1.0, radius / norm), rtol=1e-9, atol=1e-12)
        assert np.linalg.norm(loose.head) <= radius * (1 + 1e-12)
    assert outside and inside  # both cases occurred: the check above is not vacuous


@pytest.mark.parametrize("shrink", [1e-7, 1e-5, 1e-2])
def test_ball_projection_finds_tiny_multipliers_to_full_precision(shrink):
    """A radius just inside the unconstrained head: the multiplier is ~1e-8, where an
    absolute root tolerance would cost relative precision; the secular equation
    ``||w(mu)|| = R`` must hold to rounding with ``w(mu)`` solved independently."""
    phi, _w_star, f_w = _problem(3)
    heads = LinearHeads.from_features(phi)
    radius = np.linalg.norm(heads.project(f_w).head) * (1 - shrink)
    for proj in (heads.project(f_w, radius), project_ball(phi, f_w, radius)):  # default rtol too
        assert 0 < proj.multiplier
        ridge = np.linalg.solve(phi.T @ phi + proj.multiplier * np.eye(phi.shape[1]), phi.T @ f_w)
        assert abs(np.linalg.norm(ridge) / radius - 1) < 2e-14


def test_degenerate_feature_classes_project_to_zero():
    y = np.array([1.0, -2.0, 0.5, 3.0])
    for phi in (np.zeros((4, 3)), np.zeros((4, 0))):  # the class {0}
        proj = LinearHeads.from_features(phi).project(y)
        np.testing.assert_array_equal(proj.fitted, np.zeros(4))
        np.testing.assert_array_equal(proj.head, np.zeros(phi.shape[1]))


def test_projection_does_not_depend_on_the_scale_of_the_features():
    phi, _w_star, f_w = _problem(4)
    base = project_subspace(phi, f_w)
    for scale in (1e-15, 1e-6, 1e8):
        np.testing.assert_allclose(project_subspace(scale * phi, f_w).fitted, base.fitted, rtol=1e-8, atol=1e-10)

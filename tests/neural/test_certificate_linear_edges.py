"""Edge cases of the linear certificate: float32 inputs certify like float64, the SGD
coefficients over two steps and their checks, malformed inputs refused, the weight-decay drift
of a non-zero init binds, the cap is checked at every step of the reference path (and switches
off the linearized bound exactly when the path could reach it), held-out bounds per row across
1,024-row chunks and with drift and a cap, the held-out KL bound through the reference of a
non-zero init, and the float tolerance of ``may_flip``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from bayes_w2s.neural import certificate as C
from bayes_w2s.neural.certificate_linear import certify_linear_head, sgd_coefficients

from ._certificate_world import small_world as _world


def test_float32_inputs_give_the_float64_certificate():
    # float32 features, targets, step sizes, strengths and init (as torch hands them over)
    # certify exactly like their float64 values
    x, q, order, lrs, s, held, init = _world(5, c=2, loss="ve")
    f32 = [a.astype(np.float32) for a in (x, q, lrs, s, init, held)]
    f64 = [a.astype(float) for a in f32]
    a = certify_linear_head(f32[0], f32[1], order, f32[2], "ve", strengths=f32[3], init=f32[4],
                            heldout=f32[5], weight_decay=0.1)
    b = certify_linear_head(f64[0], f64[1], order, f64[2], "ve", strengths=f64[3], init=f64[4],
                            heldout=f64[5], weight_decay=0.1)
    for field in ("distance_bound_max", "distance_bound_norms", "distance_bound_gram",
                  "distance_bound_linear", "distance_bound", "reference_distance", "flip_bound",
                  "kl_bound"):
        assert getattr(a, field) == getattr(b, field), field
    for field in ("reference", "logit_bound", "remainder_bound", "reference_logits"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    rho32, c32 = sgd_coefficients(f32[2], 0.1, 0.2)
    assert rho32.dtype == np.float64 and c32.dtype == np.float64


def test_sgd_coefficients_two_steps_and_the_step_size_checks():
    rho, c = sgd_coefficients(np.array([0.1, 0.2]), 1.0, 0.5)
    np.testing.assert_allclose(rho, [0.85, 0.7])
    np.testing.assert_allclose(c, [0.1 * 0.7, 0.2])  # c_0 carries the later contraction
    rho, c = sgd_coefficients(np.array([0.3]), 1.0)
    np.testing.assert_allclose((rho, c), ([0.7], [0.3]))
    rho, c = sgd_coefficients(np.array([0.0, 0.2]), 1.0)  # a zero step is allowed
    np.testing.assert_allclose(c, [0.0, 0.2])
    for bad in (np.array([[0.1, 0.2]]), np.array([0.1, -0.2]), np.array([0.1, np.inf]),
                np.array([np.nan])):
        with pytest.raises(ValueError, match="lrs must be"):
            sgd_coefficients(bad)


def test_certify_linear_head_refuses_malformed_inputs():
    x, q, order, lrs, s, held, _ = _world(2)
    n = len(x)
    with pytest.raises(ValueError, match="targets must be"):
        certify_linear_head(x, np.vstack([q, q[:1]]), order, lrs, "ve", strengths=s)
    with pytest.raises(ValueError, match="targets must be"):
        certify_linear_head(x, q[:, 0], order, lrs, "ve", strengths=s)
    with pytest.raises(ValueError, match="order must be"):
        certify_linear_head(x, q, order.astype(float), lrs, "ve", strengths=s)
    with pytest.raises(ValueError, match="order must be"):
        certify_linear_head(x, q, order.ravel(), lrs, "ve", strengths=s)
    with pytest.raises(ValueError, match="order must be"):
        certify_linear_head(x, q, order[:0], lrs[:0], "ve", strengths=s[:0])
    with pytest.raises(ValueError, match="outside"):
        certify_linear_head(x, q, np.where(order == 0, n, order), lrs, "ve", strengths=s)
    with pytest.raises(ValueError, match="outside"):
        certify_linear_head(x, q, order - 1, lrs, "ve", strengths=s)
    # one step of one example is a run
    one = certify_linear_head(x, q, order[:1, :1], lrs[:1], "ve", strengths=s[:1, :1])
    assert 0 < one.distance_bound < math.inf


def test_weight_decay_drift_of_a_non_zero_init_binds():
    # inputs at the origin (u = bias unit): the gradient (p - q) u^T and the decay lambda Theta_0
    # both point along (-1, 1) in the bias column, so the path adds them: the old and per-example
    # bounds, drift lambda ||Theta_0|| sum |c_t| included, are reached
    n, steps, b = 12, 20, 4
    x = np.zeros((n, 2))
    q = np.tile([1.0, 0.0], (n, 1))
    order = np.arange(steps * b).reshape(steps, b) % n
    lrs = np.full(steps, 1e-4)
    init = np.zeros((2, 3))
    init[:, 2] = [-20.0, 20.0]
    wd = 0.05
    th = init.copy()
    for t, idx in enumerate(order):
        e = C.logit_grad("xent", np.hstack([x[idx], np.ones((b, 1))]) @ th.T, q[idx])
        th = th - lrs[t] * (e.T @ np.hstack([x[idx], np.ones((b, 1))]) / b + wd * th)
    dist = np.linalg.norm(th - init)
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init, weight_decay=wd)
    for bound in (cert.distance_bound_max, cert.distance_bound_norms):
        assert dist <= bound * (1 + 1e-12)
        assert dist >= 0.999 * bound
    _, c = sgd_coefficients(lrs, wd)
    drift = wd * np.linalg.norm(init) * c.sum()
    assert drift > 0.4 * cert.distance_bound_max  # the drift is a large part of what binds


def _aligned_ve(init=None, steps=30, b=6, n=24):
    x = np.tile(2.0 * np.array([0.6, -0.8, 0.0]), (n, 1))
    q = np.tile([1.0, 0.0], (n, 1))
    order = np.arange(steps * b).reshape(steps, b) % n
    s = np.full(order.shape, 1e-3)
    lrs = np.full(steps, 0.1)
    return x, q, order, lrs, s


def test_a_cap_switches_off_the_linearized_bound_exactly_when_the_path_could_reach_it():
    x, q, order, lrs, s = _aligned_ve()
    free = certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=x[:2])
    assert free.distance_bound_linear < 1e-2  # a tiny movement
    # a cap far above what the reference path and its remainder can reach changes nothing
    loose = certify_linear_head(x, q, order, lrs, "ve", strengths=s, cap=0.5, heldout=x[:2])
    assert loose.distance_bound_linear == free.distance_bound_linear
    assert loose.remainder_bound is not None and loose.remainder_bound.dtype == np.float64
    # a cap at ||R_T|| itself: the remainder could push the path past it, so no linearization
    at = certify_linear_head(x, q, order, lrs, "ve", strengths=s, cap=free.reference_distance,
                             heldout=x[:2])
    assert math.isnan(at.distance_bound_linear) and at.remainder_bound is None
    assert at.reference_logits is None and math.isnan(at.flip_bound)


def test_heldout_bounds_are_per_row_across_chunks_of_1024():
    x, q, order, lrs, s, _, init = _world(4, n=30, d=3, c=2)
    held = np.random.default_rng(0).normal(size=(2100, 3))
    whole = certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=held, init=init)
    parts = [certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=held[a:b], init=init)
             for a, b in ((0, 700), (700, 1500), (1500, 2100))]
    for field in ("logit_bound", "remainder_bound", "may_flip"):
        np.testing.assert_allclose(getattr(whole, field),
                                   np.concatenate([getattr(p, field) for p in parts]), rtol=1e-12)
    # logconf has no linearized bound: held-out inputs still get their logit bound
    lc = certify_linear_head(x, q, order, lrs, "logconf", heldout=held[:5])
    assert lc.remainder_bound is None and np.all(np.isfinite(lc.logit_bound))


def test_heldout_logit_bound_with_decay_drift_and_a_cap_binds_per_row():
    # inputs at the origin, a non-zero bias init, weight decay: the held-out logit bound
    # sum_j alpha_j |<u~, u_j>| + lambda sum |c_t| ||Theta_0 u~|| is reached on each of two rows
    n, steps, b = 12, 20, 4
    x = np.zeros((n, 2))
    q = np.tile([1.0, 0.0], (n, 1))
    order = np.arange(steps * b).reshape(steps, b) % n
    lrs = np.full(steps, 1e-4)
    init = np.zeros((2, 3))
    init[:, 2] = [-20.0, 20.0]
    wd = 0.05
    th = init.copy()
    u = np.hstack([x, np.ones((n, 1))])
    for t, idx in enumerate(order):
        e = C.logit_grad("xent", u[idx] @ th.T, q[idx])
        th = th - lrs[t] * (e.T @ u[idx] / b + wd * th)
    held = np.zeros((2, 2))
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init, weight_decay=wd, heldout=held)
    moved = np.linalg.norm(np.hstack([held, np.ones((2, 1))]) @ (th - init).T, axis=1)
    assert np.all(moved <= cert.logit_bound * (1 + 1e-12))
    assert np.all(moved >= 0.999 * cert.logit_bound)
    # a cap below that: each row's bound is cap * ||u~_i|| (rows of different norms)
    held2 = np.array([[0.0, 0.0], [3.0, 4.0]])
    capped = certify_linear_head(x, q, order, lrs, "xent", init=init, weight_decay=wd,
                                 heldout=held2, cap=1e-6)
    np.testing.assert_allclose(capped.logit_bound, 1e-6 * np.array([1.0, math.sqrt(26.0)]))


def test_heldout_kl_bound_uses_the_reference_path_of_a_non_zero_init():
    # random inputs: the triangle-inequality logit bound is loose there, the reference path plus
    # remainder is tight. Equal init rows keep every prediction uniform (KL ~ ||delta||^2 / 4)
    # while Theta_0 != 0 (so R_T = Theta_ref - Theta_0 must subtract it)
    rng = np.random.default_rng(1)
    n, steps, b = 40, 30, 8
    x = rng.normal(size=(n, 4))
    q = np.eye(2)[rng.integers(0, 2, n)]
    order = np.arange(steps * b).reshape(steps, b) % n
    s = np.full(order.shape, 1e-3)
    lrs = np.full(steps, 0.1)
    init = np.tile(rng.normal(0, 1, 5), (2, 1))
    held = rng.normal(size=(20, 4))
    th, th0 = init.copy(), init.copy()
    u = np.hstack([x, np.ones((n, 1))])
    for t, idx in enumerate(order):
        e = C.logit_grad("ve", u[idx] @ th.T, q[idx], s[t])
        th = th - lrs[t] * e.T @ u[idx] / b
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s, init=init, heldout=held)
    uh = np.hstack([held, np.ones((20, 1))])
    kl = C.prediction_kl(uh @ th.T, uh @ th0.T)
    assert kl <= cert.kl_bound
    assert kl >= 0.99 * cert.kl_bound  # 0.99999 here; the |K| logit bound alone gives 0.075


def test_may_flip_allows_the_float32_tolerance_per_row():
    # no training (zero step sizes): the reference is the init, r(x) = 0, and an input may flip
    # exactly when its margin is within 1e-5 (1 + ||z_ref(x)||) of 0. Logits (x_1 + 10, 10):
    # margin |x_1|, ||z_ref|| ~ 14.14, tolerance ~ 1.514e-4
    x, q, order, _, s = _aligned_ve()
    lrs = np.zeros(len(order))
    init = np.zeros((2, 4))
    init[0, 0] = 1.0
    init[:, 3] = 10.0
    held = np.array([[0.0, 0, 0], [1e-4, 0, 0], [1.6e-4, 0, 0], [100.0, 0, 0]])
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s, init=init, heldout=held)
    np.testing.assert_array_equal(cert.remainder_bound, np.zeros(4))
    np.testing.assert_array_equal(cert.may_flip, [True, True, False, False])
    assert cert.flip_bound == 2.0


def test_a_cap_is_checked_at_every_step_of_the_reference_path():
    # VE with small strengths for 10 steps, then 30 steps of weight decay alone: the reference
    # path R_t peaks at step 10 and contracts. A cap at that peak: the path plus its remainder
    # could exceed it mid-run, so no linearized bound, although ||R_T|| + rem_T is far below
    n, b = 24, 6
    x = np.tile(2.0 * np.array([0.6, -0.8, 0.0]), (n, 1))
    q = np.tile([1.0, 0.0], (n, 1))
    order = np.arange(40 * b).reshape(40, b) % n
    s = np.zeros(order.shape)
    s[:10] = 0.5
    lrs = np.full(40, 0.1)
    wd = 1.0
    u = np.hstack([x, np.ones((n, 1))])
    r = np.zeros((2, 4))
    peak = 0.0
    for t, idx in enumerate(order):  # the reference path: gradients at the (zero) initial logits
        e0 = C.logit_grad("ve", np.zeros((b, 2)), q[idx], s[t])
        r = (1 - lrs[t] * wd) * r - lrs[t] * e0.T @ u[idx] / b
        peak = max(peak, np.linalg.norm(r))
    free = certify_linear_head(x, q, order, lrs, "ve", strengths=s, weight_decay=wd)
    assert free.reference_distance == pytest.approx(np.linalg.norm(r), rel=1e-12)
    assert free.reference_distance < 0.1 * peak
    capped = certify_linear_head(x, q, order, lrs, "ve", strengths=s, weight_decay=wd, cap=peak)
    assert math.isnan(capped.distance_bound_linear)

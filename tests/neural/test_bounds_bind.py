"""Bounds that were only checked for validity, now also checked to *bind*: for each, a
constructed case where the measured quantity reaches a stated fraction of the bound, so a
bound with a wrong constant (too large by 10% or more) fails, and the case stays valid so a
bound that is too small fails too.

Covered here: the old per-example gradient constant ``logit_grad_bound`` (xent, tempered, VE at
large strength), the two-class local Hessian bound for CE-type losses, the prediction-KL bound
(2) in both of its branches, and the held-out logit and KL bounds of the linear certificate.
"""

import math

import numpy as np
import pytest
import torch
from bayes_w2s.neural import certificate as C
from bayes_w2s.neural import losses as L
from bayes_w2s.neural.certificate_linear import certify_linear_head

SQ2 = math.sqrt(2.0)


def _grad_norms(loss, z, q, s):
    """Per-example logit-gradient norms by autograd (float64 in, the losses compute in float32)."""
    zt = torch.tensor(z, dtype=torch.float32, requires_grad=True)
    out = loss(zt, torch.tensor(q, dtype=torch.float32), strengths=torch.tensor(s, dtype=torch.float32))
    (out * len(z)).backward()
    return zt.grad.norm(dim=1).double().numpy()


@pytest.mark.parametrize("c", [2, 3, 5])
def test_old_gradient_constant_binds_for_every_loss(c):
    # a hard label on class 0, the prediction at another vertex: ||p - e_0|| -> sqrt 2
    z = np.zeros((3, c))
    z[:, -1] = 40.0
    q = np.zeros((3, c))
    q[:, 0] = 1.0
    s = np.array([0.25, 1.0, 3.0])
    for loss in (L.xent_loss, L.tempered_loss):
        norms = _grad_norms(loss, z, q, s)
        bound = np.array([C.logit_grad_bound(loss, s[i : i + 1], 1) for i in range(3)])
        assert np.all(norms <= bound * (1 + 1e-5))
        np.testing.assert_allclose(norms / bound, 1.0, rtol=1e-5)
    # VE at a large strength: A m >> 1 for m = p(y_w) ~ e^-10, and the gradient is ~ p - e_0
    z = np.zeros((2, c))
    z[:, -1] = 10.0
    q2 = np.zeros((2, c))
    q2[:, 0] = 1.0
    s = np.array([25.0, 30.0])
    norms = _grad_norms(L.ve_loss, z, q2, s)
    bound = np.array([C.logit_grad_bound(L.ve_loss, s[i : i + 1], 1) for i in range(2)])
    assert np.all(norms <= bound * (1 + 1e-5))
    assert np.all(norms / bound > 0.999)
    # the batch constant is the batch *mean* of the per-example ones
    s = np.array([0.1, 0.5, 4.0])
    assert C.logit_grad_bound(L.ve_loss, s, 3) == pytest.approx(SQ2 * (0.1 + 0.5 + 1.0) / 3)
    assert C.logit_grad_bound(L.tempered_loss, s, 3) == pytest.approx(SQ2 * 4.6 / 3)
    assert C.logit_grad_bound("xent", s, 3) == pytest.approx(SQ2)
    assert C.logit_grad_bound("xent", None, 3) == pytest.approx(SQ2)
    assert math.isnan(C.logit_grad_bound("ve", None, 3))
    assert math.isnan(C.logit_grad_bound("hinge", s, 3))


def _ce_hessian_norm(z, scale):
    """Two classes: the CE Hessian in the logits is scale * (diag p - p p^T), norm 2 scale p1 p2."""
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    h = scale * (np.diag(p) - np.outer(p, p))
    return float(np.abs(np.linalg.eigvalsh(h)).max())


@pytest.mark.parametrize("loss", ["xent", "tempered"])
def test_local_hessian_bound_for_ce_is_the_largest_curvature_on_the_segment(loss):
    rng = np.random.default_rng(11)
    for _ in range(40):
        q = rng.dirichlet(np.ones(2))[None]
        s = np.array([float(np.exp(rng.uniform(-3, 2)))])
        d0, w = float(rng.normal(0, 3)), float(rng.uniform(0, 4))
        bound = C.logit_hessian_bound_binary(loss, q, s, np.array([d0]), np.array([w]))[0]
        scale = 1.0 if loss == "xent" else s[0]
        ds = np.linspace(d0 - w, d0 + w, 401)
        ds = np.append(ds, np.clip(0.0, d0 - w, d0 + w))  # the point nearest 0 is the worst
        worst = max(_ce_hessian_norm(np.array([d / 2, -d / 2]), scale) for d in ds)
        assert worst <= bound * (1 + 1e-9)
        assert worst >= bound * (1 - 1e-9)  # attained exactly (at the point nearest d = 0)
    # a negative starting margin is measured by its size
    q, s = np.array([[0.8, 0.2]]), np.array([1.0])
    a = C.logit_hessian_bound_binary(loss, q, s, np.array([-3.0]), np.array([1.0]))
    b = C.logit_hessian_bound_binary(loss, q, s, np.array([3.0]), np.array([1.0]))
    np.testing.assert_allclose(a, b)
    with pytest.raises(ValueError, match="two classes"):
        C.logit_hessian_bound_binary(loss, np.full((1, 3), 1 / 3), s, np.zeros(1), np.ones(1))


def test_kl_bound_binds_in_both_branches():
    # small shifts at a uniform two-class prediction: KL ~ ||delta||^2 / 4 (the Hessian 1/2)
    z = np.zeros((1, 2))
    for eps in (1e-3, 1e-2):
        delta = np.array([[eps, -eps]])
        d = np.linalg.norm(delta)
        kl = C.prediction_kl(z + delta, z)
        bound = C.kl_bound_per_input(np.array([d]))[0]
        assert bound == pytest.approx(d * d / 4)
        assert 0.99 * bound <= kl <= bound
    # large shifts: the prediction moves all its mass onto a class the start gave e^-50;
    # KL ~ 50, the bound sqrt 2 ||delta|| = range(delta) = 55
    z = np.array([[50.0, 0.0]])
    delta = np.array([[-27.5, 27.5]])
    d = np.linalg.norm(delta)
    kl = C.prediction_kl(z + delta, z)
    bound = C.kl_bound_per_input(np.array([d]))[0]
    assert bound == pytest.approx(SQ2 * d) and bound < d * d / 4
    assert 0.85 * bound <= kl <= bound
    # three classes, the same construction
    z3 = np.array([[50.0, 0.0, 0.0]])
    delta3 = np.array([[-27.5, 27.5, 0.0]])
    kl3 = C.prediction_kl(z3 + delta3, z3)
    assert 0.85 * C.kl_bound_per_input(np.array([np.linalg.norm(delta3)]))[0] <= kl3
    # kl_bound is the mean of the per-input bound at distance_bound * scale_i
    scales = np.array([1.0, 2.0, 40.0])
    expected = np.mean([min((0.1 * v) ** 2 / 4, SQ2 * 0.1 * v) for v in scales])
    assert C.kl_bound(0.1, scales) == pytest.approx(expected)
    assert math.isnan(C.kl_bound(math.inf, scales)) and math.isnan(C.kl_bound(0.1, None))
    # float32 scales (as a float32 head's norms) are resolved in float64
    s32 = np.array([1.1, 2.7, 3.3, 0.7], np.float32)
    want = np.mean([min((0.37 * v) ** 2 / 4, SQ2 * 0.37 * v) for v in s32.astype(float)])
    assert C.kl_bound(0.37, s32) == want


def test_prediction_kl_is_the_mean_forward_kl():
    rng = np.random.default_rng(3)
    z, z0 = rng.normal(0, 2, (7, 3)), rng.normal(0, 2, (7, 3))
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p0 = np.exp(z0) / np.exp(z0).sum(1, keepdims=True)
    expected = np.mean((p * np.log(p / p0)).sum(1))  # KL(p || p0), not KL(p0 || p)
    assert C.prediction_kl(z, z0) == pytest.approx(expected, rel=1e-12)
    assert C.prediction_kl(z0, z) != pytest.approx(expected, rel=1e-3)
    # shift-invariant in each row, as a softmax
    assert C.prediction_kl(z + 1000.0, z0 - 1000.0) == pytest.approx(expected, rel=1e-9)


def _aligned(n=24, steps=30, b=6):
    rng = np.random.default_rng(0)
    x = np.tile(2.0 * np.array([0.6, -0.8, 0.0]), (n, 1))
    q = np.tile([1.0, 0.0], (n, 1))
    perms = np.concatenate([rng.permutation(n) for _ in range(steps * b // n + 1)])
    return x, q, perms[: steps * b].reshape(steps, b)


def _sgd(x, q, order, lrs, loss, s=None, init=None):
    u = np.hstack([x, np.ones((len(x), 1))])
    th = np.zeros((q.shape[1], u.shape[1])) if init is None else init.copy()
    th0 = th.copy()
    for t, idx in enumerate(order):
        e = C.logit_grad(loss, u[idx] @ th.T, q[idx], None if s is None else s[t])
        th = th - lrs[t] * e.T @ u[idx] / len(idx)
    return th, th0


def test_heldout_logit_and_kl_bounds_bind():
    # xent from the opposite vertex with a small lr: every step moves the held-out logits by
    # the full sum_j alpha_j |<u~, u_j>|, so the held-out logit bound is reached
    x, q, order = _aligned()
    lrs = np.full(len(order), 1e-4)
    init = np.zeros((2, 4))
    init[:, 3] = [-20.0, 20.0]
    held = np.vstack([x[:1], 0.5 * x[:1]])
    th, th0 = _sgd(x, q, order, lrs, "xent", init=init)
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init, heldout=held)
    uh = np.hstack([held, np.ones((2, 1))])
    moved = np.linalg.norm(uh @ (th - th0).T, axis=1)
    assert np.all(moved <= cert.logit_bound * (1 + 1e-9))
    assert np.all(moved >= 0.999 * cert.logit_bound)
    # VE with tiny strengths from a uniform start: the logits move along (1, -1) and KL reaches
    # the quadratic branch ||delta||^2 / 4 of its bound
    s = np.full(order.shape, 1e-2)
    lrs = np.full(len(order), 0.1)
    th, th0 = _sgd(x, q, order, lrs, "ve", s)
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=held)
    z_t, z_0 = uh @ th.T, uh @ th0.T
    kl = C.prediction_kl(z_t, z_0)
    assert kl <= cert.kl_bound * (1 + 1e-9)
    assert kl >= 0.95 * cert.kl_bound


def _signed_case(x, q, steps=30, b=6, zero_step=None):
    n = len(x)
    order = np.arange(steps * b).reshape(steps, b) % n  # every example visited equally often
    s = np.full(order.shape, 1e-3)
    lrs = np.full(steps, 0.1)
    if zero_step is not None:
        lrs[zero_step] = 0.0  # c_t = 0 for that step: the signs are still known
    th, th0 = _sgd(x, q, order, lrs, "ve", s)
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s)
    return np.linalg.norm(th - th0), cert


def test_signed_gram_bound_binds_where_the_absolute_gram_bound_is_loose():
    # (B2+) knows the two-class VE gradient signs and drops the negative entries of S K S.
    # Case 1: one hard label, inputs +v and -v with |v|^2 = 1.2: their Gram entry is 1 - 1.2 < 0,
    # the pushes on the weights cancel and only the bias moves: (B2+) is sqrt(4.4)/2 = 1.049x the
    # movement, |K| would give sqrt(4.8)/2 = 1.095x (ratios 0.953 and 0.913).
    v = math.sqrt(1.2) * np.array([0.6, -0.8, 0.0])
    x = np.vstack([np.tile(v, (12, 1)), np.tile(-v, (12, 1))])
    q = np.tile([1.0, 0.0], (24, 1))
    for zero_step in (None, 5):
        dist, cert = _signed_case(x, q, zero_step=zero_step)
        assert dist <= cert.distance_bound_gram
        assert dist >= 0.95 * cert.distance_bound_gram
        assert cert.distance_bound_gram < 0.97 * cert.distance_bound_norms
    # Case 2: opposite labels on two inputs with a small positive Gram entry K_AB = 1 (u_A =
    # (3, 0, 1), u_B = (0, 3, 1), K_AA = 10): the signs are opposite, so the movement is
    # sqrt(10 + 10 - 2)/sqrt(20) = 0.949 of (B2+), and sqrt(18/22) = 0.905 of the |K| bound
    x = np.vstack([np.tile([3.0, 0.0], (12, 1)), np.tile([0.0, 3.0], (12, 1))])
    q = np.vstack([np.tile([1.0, 0.0], (12, 1)), np.tile([0.0, 1.0], (12, 1))])
    dist, cert = _signed_case(x, q)
    assert dist <= cert.distance_bound_gram
    assert dist >= 0.93 * cert.distance_bound_gram


def test_ve_local_hessian_bound_binds_for_a_soft_label_and_is_computed_per_row():
    # a 0.8/0.2 label: the bound carries rho = 0.6 (not q_1 + q_2 = 1) and binds at a
    # uniform start for a small strength and a small window
    q, s, w = np.array([[0.8, 0.2]]), np.array([1e-3]), 0.2
    bound = C.logit_hessian_bound_binary("ve", q, s, np.zeros(1), np.array([w]))[0]
    worst = 0.0
    for d in np.linspace(-w, w, 41):
        z = torch.tensor([d / 2, -d / 2], dtype=torch.float64)
        h = torch.autograd.functional.hessian(
            lambda zz: -torch.log1p(math.expm1(s[0]) * (torch.softmax(zz, -1) @ torch.tensor(q[0]))), z)
        worst = max(worst, float(np.abs(np.linalg.eigvalsh(h.numpy())).max()))
    assert worst <= bound and worst >= 0.9 * bound
    # rows are independent: a batch gives each row's own bound
    rng = np.random.default_rng(2)
    qs = np.array([[0.9, 0.1], [0.5, 0.5], [0.0, 1.0], [0.3, 0.7]])
    ss, d0s, ws = rng.uniform(0.1, 3, 4), rng.normal(0, 2, 4), rng.uniform(0, 2, 4)
    for loss in ("ve", "xent", "tempered"):
        batch = C.logit_hessian_bound_binary(loss, qs, ss, d0s, ws)
        rows = [C.logit_hessian_bound_binary(loss, qs[i : i + 1], ss[i : i + 1], d0s[i : i + 1],
                                             ws[i : i + 1])[0] for i in range(4)]
        np.testing.assert_allclose(batch, rows, rtol=1e-12)
    # logconf and product: not derived, NaN per row
    for loss in ("logconf", "product"):
        out = C.logit_hessian_bound_binary(loss, qs, None, d0s, ws)
        assert out.shape == (4,) and np.all(np.isnan(out))


def test_kl_pieces_resolve_float32_inputs_in_float64():
    rng = np.random.default_rng(5)
    z32 = rng.normal(0, 3, (6, 3)).astype(np.float32)
    z0_32 = rng.normal(0, 3, (6, 3)).astype(np.float32)
    assert C.prediction_kl(z32, z0_32) == C.prediction_kl(z32.astype(float), z0_32.astype(float))
    d32 = np.array([0.013, 0.7, 3.1, 40.2], np.float32)
    got = C.kl_bound_per_input(d32)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, C.kl_bound_per_input(d32.astype(float)))

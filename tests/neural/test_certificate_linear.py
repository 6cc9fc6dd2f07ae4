"""The data-dependent certificate: every bound is valid (measured <= bound over seeds, losses,
2, 3 and 5 classes, asymmetric data, weight decay, an L2 anchor, a cap) AND binds somewhere (a
constructed case where the measurement reaches a stated fraction of the bound), so a wrong
constant fails a test."""

import math

import numpy as np
import pytest
import torch
from bayes_w2s.neural import certificate as C
from bayes_w2s.neural import losses as L
from bayes_w2s.neural.certificate_linear import certify_linear_head, linear_grams, sgd_coefficients

SQ2 = math.sqrt(2.0)


def _sgd(x, q, order, lrs, loss, s=None, wd=0.0, a=0.0, cap=None, init=None):
    """Reference momentum-free SGD on a linear head, float64, exact per-example gradients."""
    u = np.hstack([x, np.ones((len(x), 1))])
    theta0 = np.zeros((q.shape[1], u.shape[1])) if init is None else init.copy()
    th = theta0.copy()
    for t, idx in enumerate(order):
        e = C.logit_grad(loss, u[idx] @ th.T, q[idx], None if s is None else s[t])  # (B, C)
        th = th - lrs[t] * (e.T @ u[idx] / len(idx) + wd * th + a * (th - theta0))
        if cap is not None:
            dist = np.linalg.norm(th - theta0)
            if dist > cap:
                th = theta0 + (th - theta0) * (cap / dist)
    return th, theta0


def _order(rng, n, steps, b):
    perms = np.concatenate([rng.permutation(n) for _ in range(steps * b // n + 1)])
    return perms[: steps * b].reshape(steps, b)


def _world(seed, n=60, d=5, c=3, steps=40, b=8, loss="ve", s_scale=1.0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.3, 3.0, d) + rng.normal(0, 0.5, d)
    q = rng.dirichlet(np.full(c, 0.7), size=n)
    q[: n // 3] = np.eye(c)[rng.integers(0, c, n // 3)]  # some hard labels
    order = _order(rng, n, steps, b)
    lrs = 0.3 * (0.5 + 0.5 * np.cos(np.pi * np.arange(steps) / steps))  # cosine
    s = s_scale * rng.exponential(0.5, size=(steps, b)) if loss in ("ve", "tempered") else None
    held = rng.normal(size=(80, d)) * rng.uniform(0.3, 3.0, d)
    return x, q, order, lrs, s, held


# ---------------------------------------------------------------- per-example constants
@pytest.mark.parametrize("loss", ["ve", "xent", "tempered"])
def test_exact_logit_gradient_matches_autograd(loss):
    rng = np.random.default_rng(1)
    for c in (2, 3, 5):
        z = rng.normal(0, 3, size=(40, c))
        q = rng.dirichlet(np.ones(c), 40)
        s = rng.exponential(1.0, 40)
        zt = torch.tensor(z, requires_grad=True)
        (L.get_loss(loss)(zt, torch.tensor(q), strengths=torch.tensor(s)) * 40).backward()
        np.testing.assert_allclose(C.logit_grad(loss, z, q, s), zt.grad.numpy(), atol=2e-5)


@pytest.mark.parametrize("loss", ["ve", "xent", "tempered"])
def test_data_gradient_bound_is_valid(loss):
    rng = np.random.default_rng(2)
    for c in (2, 3, 5):
        z = rng.normal(0, 5, size=(3000, c))
        q = rng.dirichlet(np.full(c, rng.choice([0.2, 1.0, 5.0])), 3000)
        q[:500] = np.eye(c)[rng.integers(0, c, 500)]
        s = np.exp(rng.uniform(-7, 4, 3000))
        norms = np.linalg.norm(C.logit_grad(loss, z, q, s), axis=1)
        assert np.all(norms <= C.logit_grad_bound_data(loss, q, s) * (1 + 1e-9))


def test_data_gradient_bound_is_attained():
    # xent: sup over p of ||p - q|| is at the vertex of the least likely class
    q = np.array([[0.7, 0.2, 0.1], [0.9, 0.1, 0.0], [0.5, 0.5, 0.0]])
    z = np.array([[-30.0, -30, 30], [-30, -30, 30], [-30, -30, 30]])
    ratio = np.linalg.norm(C.logit_grad("xent", z, q), axis=1) / C.logit_grad_bound_data("xent", q)
    np.testing.assert_allclose(ratio, 1.0, rtol=1e-9)
    s = np.array([0.3, 2.0, 1.0])
    t = np.linalg.norm(C.logit_grad("tempered", z, q, s), axis=1)
    np.testing.assert_allclose(t / C.logit_grad_bound_data("tempered", q, s), 1.0, rtol=1e-9)
    # VE: two classes, p uniform, a hard label, s -> 0: ||e|| / g -> 1 (g = A rho / (2 sqrt 2))
    s = np.array([1e-4, 1e-3, 1e-2])
    qh = np.array([[1.0, 0.0]] * 3)
    ve = np.linalg.norm(C.logit_grad("ve", np.zeros((3, 2)), qh, s), axis=1)
    assert np.all(ve / C.logit_grad_bound_data("ve", qh, s) > 0.99)
    # three classes: rho / (2 sqrt 2) is reached with p split over the two extreme classes
    q3 = np.array([[1.0, 0.0, 0.0], [0.6, 0.1, 0.3]])
    z3 = np.array([[0.0, 0.0, -60.0], [0.0, 0.0, -60.0]])
    s3 = np.array([1e-4, 1e-4])
    ve3 = np.linalg.norm(C.logit_grad("ve", z3, q3, s3), axis=1)
    assert np.all(ve3 / C.logit_grad_bound_data("ve", q3, s3) > 0.99)
    # two classes: the bound is the exact sup over predictions for any label and strength
    rng = np.random.default_rng(7)
    d = np.linspace(-40, 40, 40001)
    z = np.stack([d / 2, -d / 2], 1)
    for _ in range(30):
        q1 = rng.dirichlet([1.0, 1.0])[None]
        s1 = np.array([np.exp(rng.uniform(-6, 4))])
        e = C.logit_grad("ve", z, np.repeat(q1, len(d), 0), np.repeat(s1, len(d)))
        assert np.linalg.norm(e, axis=1).max() / C.logit_grad_bound_data("ve", q1, s1)[0] > 0.9999
    # and it scales with the weak label's range: a 60/40 label gets a fifth of a hard label's g
    g = C.logit_grad_bound_data("ve", np.array([[0.6, 0.4], [1.0, 0.0]]), np.array([1e-3, 1e-3]))
    assert g[0] / g[1] == pytest.approx(0.2, rel=1e-3)


def _hessian_norm(loss, z, q, s):
    """Largest |eigenvalue| of the per-example loss's Hessian in the logits (autograd)."""
    qt = torch.tensor(q)

    def fn(zz):
        if loss == "ve":
            return -torch.log1p(math.expm1(s) * (torch.softmax(zz, -1) @ qt))
        return -(s if loss == "tempered" else 1.0) * (qt * torch.log_softmax(zz, -1)).sum()

    h = torch.autograd.functional.hessian(fn, torch.tensor(z, dtype=torch.float64))
    return float(np.abs(np.linalg.eigvalsh(h.numpy())).max())


@pytest.mark.parametrize("loss", ["ve", "xent", "tempered"])
def test_hessian_bound_is_valid(loss):
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(300):
        c = int(rng.integers(2, 6))
        z = rng.normal(0, 3, c)
        q = rng.dirichlet(np.full(c, rng.choice([0.2, 1.0])))
        s = float(np.exp(rng.uniform(-5, 3)))
        bound = C.logit_hessian_bound(loss, q[None], np.array([s]))[0]
        worst = max(worst, _hessian_norm(loss, z, q, s) / bound)
    assert worst <= 1 + 1e-9
    # it binds: CE at p uniform over two classes has Hessian norm exactly 1/2 (= L); the VE
    # bound's step |E[(q - m)(u - u_bar)^2]| <= rho Var(u) is loose by at most 3 sqrt(3) / 2
    assert worst >= {"xent": 0.99, "tempered": 0.99, "ve": 0.3}[loss]


def test_binary_local_hessian_bound_is_valid_and_binds():
    rng = np.random.default_rng(5)
    for loss in ("ve", "xent", "tempered"):
        for _ in range(60):
            q = rng.dirichlet(np.ones(2))[None]
            s = np.array([float(np.exp(rng.uniform(-6, 2)))])
            d0, w = rng.normal(0, 2), rng.uniform(0, 3)
            bound = C.logit_hessian_bound_binary(loss, q, s, np.array([d0]), np.array([w]))[0]
            for d in np.linspace(d0 - w, d0 + w, 9):
                z = np.array([d / 2, -d / 2])
                assert _hessian_norm(loss, z, q[0], s[0]) <= bound * (1 + 1e-9) + 1e-15
    # VE at a uniform start: the Hessian vanishes with the movement; tight for small A and w
    q, s = np.array([[1.0, 0.0]]), np.array([1e-3])
    w = 0.2
    bound = C.logit_hessian_bound_binary("ve", q, s, np.zeros(1), np.array([w]))[0]
    best = max(_hessian_norm("ve", np.array([d / 2, -d / 2]), q[0], s[0])
               for d in np.linspace(-w, w, 41))
    assert 0.9 * bound <= best <= bound
    assert bound < 0.1 * C.logit_hessian_bound("ve", q, s)[0]


# ---------------------------------------------------------------- path bounds: valid
@pytest.mark.parametrize("loss", ["ve", "xent", "tempered"])
@pytest.mark.parametrize("seed,c,wd,a,cap,s_scale", [
    (0, 2, 0.0, 0.0, None, 0.01), (1, 3, 0.0, 0.0, None, 1.0), (2, 5, 0.0, 0.0, None, 0.1),
    (3, 2, 1.0, 0.0, None, 1.0), (4, 3, 0.5, 0.7, None, 0.3), (5, 2, 0.0, 0.0, 0.05, 1.0),
    (6, 3, 0.0, 0.0, 0.2, 0.05), (7, 2, 0.0, 0.0, None, 3.0), (8, 2, 5.0, 0.0, None, 0.01),
])
def test_path_bounds_are_valid(loss, seed, c, wd, a, cap, s_scale):
    x, q, order, lrs, s, held = _world(seed, c=c, loss=loss, s_scale=s_scale)
    rng = np.random.default_rng(100 + seed)
    init = rng.normal(0, 0.3, size=(c, x.shape[1] + 1)) if seed % 2 else None
    th, th0 = _sgd(x, q, order, lrs, loss, s, wd, a, cap, init)
    cert = certify_linear_head(x, q, order, lrs, loss, strengths=s, weight_decay=wd,
                               anchor_weight=a, cap=cap, init=init, heldout=held)
    dist = np.linalg.norm(th - th0)
    tol = 1 + 1e-9
    for b in (cert.distance_bound_max, cert.distance_bound_norms, cert.distance_bound_gram):
        assert dist <= b * tol
    assert cert.distance_bound <= cert.distance_bound_norms
    if cap is not None:
        assert cert.distance_bound <= cap
    if not np.isnan(cert.distance_bound_linear):
        assert dist <= cert.distance_bound_linear * tol
    uh = np.hstack([held, np.ones((len(held), 1))])
    z_t, z_0 = uh @ th.T, uh @ th0.T
    assert np.all(np.linalg.norm(z_t - z_0, axis=1) <= cert.logit_bound * tol + 1e-12)
    assert C.prediction_kl(z_t, z_0) <= cert.kl_bound * tol + 1e-12
    if cert.reference_logits is not None:
        gap = np.linalg.norm(z_t - cert.reference_logits, axis=1)
        assert np.all(gap <= cert.remainder_bound * tol + 1e-12)
        flipped = z_t.argmax(1) != cert.reference_logits.argmax(1)
        assert np.all(cert.may_flip[flipped])  # every flip is one the bound allowed
        assert C.count_flips(z_t, cert.reference_logits) <= cert.flip_bound
    elif cap is None:
        pytest.fail("the linearized bound applies to ve, xent and tempered without a cap")


def test_a_wrong_sign_assumption_would_be_caught():
    # (B2+) uses VE's known gradient signs; the same shortcut for xent (whose gradient
    # overshoots soft targets and changes sign) is not a bound: check it is not applied
    x, q, order, lrs, s, held = _world(0, c=2, loss="xent")
    cert_x = certify_linear_head(x, q, order, lrs, "xent")
    u = np.hstack([x, np.ones((len(x), 1))])
    _, c = sgd_coefficients(lrs)
    g = C.logit_grad_bound_data("xent", q[order].reshape(-1, 2)).reshape(order.shape)
    alpha = np.bincount(order.ravel(), (c[:, None] * g / order.shape[1]).ravel(), minlength=len(x))
    exact = math.sqrt(alpha @ np.abs(u @ u.T) @ alpha)
    # |K| enters as its float32 upper bound (certificate_grams): never below, ~1e-6 above here
    assert exact <= cert_x.distance_bound_gram <= exact * (1 + 1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_signed_gram_bound_is_its_definition(seed):
    # (B2+) for two-class VE: sqrt(sum_jl (s_j a_j K_jl s_l a_l)_+), s_j = sign(q_j1 - q_j0),
    # brute force over the N x N terms; ties (q_j1 = q_j0, s_j = 0) contribute nothing
    x, q, order, lrs, s, _ = _world(seed, c=2, loss="ve", s_scale=0.05)
    q[:5] = 0.5  # zero signs
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s)
    u = np.hstack([x, np.ones((len(x), 1))])
    _, c = sgd_coefficients(lrs)
    g = C.logit_grad_bound_data("ve", q[order].reshape(-1, 2), s.ravel()).reshape(order.shape)
    alpha = np.bincount(order.ravel(), (c[:, None] * g / order.shape[1]).ravel(), minlength=len(x))
    sa = np.sign(q[:, 1] - q[:, 0]) * alpha
    signed = math.sqrt(np.maximum(sa[:, None] * (u @ u.T) * sa[None, :], 0).sum())
    plain = math.sqrt(alpha @ np.abs(u @ u.T) @ alpha)
    assert signed < plain  # the case exercises the signed form
    assert signed <= cert.distance_bound_gram <= signed * (1 + 1e-5)  # |K| as its f32 bound


def test_shared_grams_give_the_same_certificate_and_are_checked():
    x, q, order, lrs, s, held = _world(3, c=2, loss="ve")
    grams = linear_grams(x, held)
    for loss, kw in (("ve", dict(strengths=s)), ("xent", dict(weight_decay=0.3)), ("xent", dict(cap=0.5))):
        fresh = certify_linear_head(x, q, order, lrs, loss, heldout=held, **kw)
        shared = certify_linear_head(x, q, order, lrs, loss, heldout=held, grams=grams, **kw)
        for f in ("distance_bound", "distance_bound_gram", "distance_bound_linear", "kl_bound", "flip_bound"):
            assert getattr(shared, f) == pytest.approx(getattr(fresh, f), rel=1e-12, nan_ok=True)
        np.testing.assert_allclose(shared.logit_bound, fresh.logit_bound, rtol=1e-12)
    with pytest.raises(ValueError, match="other features"):
        certify_linear_head(x * 1.01, q, order, lrs, "xent", heldout=held, grams=grams)
    with pytest.raises(ValueError, match="other features"):
        certify_linear_head(x, q, order, lrs, "xent", heldout=held[:-1], grams=grams)


# ---------------------------------------------------------------- path bounds: they bind
def _aligned(n=24, steps=30, b=6, norms=None, label=(1.0, 0.0)):
    """All inputs along one direction, one hard label: the triangle inequality is an equality."""
    direction = np.array([0.6, -0.8, 0.0])
    scale = np.ones(n) * 2.0 if norms is None else np.asarray(norms, float)
    x = scale[:, None] * direction  # (n, 3); u = (x, 1) are not all parallel unless scale fixed
    q = np.tile(np.asarray(label), (n, 1))
    order = _order(np.random.default_rng(0), n, steps, b)
    return x, q, order


def test_movement_bounds_bind_on_aligned_inputs():
    # xent from the opposite vertex with a small lr: ||e|| stays ~ g = sqrt 2 and every term of
    # the sum points the same way, so old, per-example and Gram bounds are all reached
    x, q, order = _aligned()
    lrs = np.full(len(order), 1e-4)
    init = np.zeros((2, 4))
    init[:, 3] = [-20.0, 20.0]  # bias: p = (e^-40, 1) against the label
    th, th0 = _sgd(x, q, order, lrs, "xent", init=init)
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init)
    dist = np.linalg.norm(th - th0)
    for b in (cert.distance_bound_max, cert.distance_bound_norms, cert.distance_bound_gram):
        assert 0.999 * b <= dist <= b
    # VE with tiny strengths from a zero init: the data constant rho / (2 sqrt 2) is reached
    s = np.full(order.shape, 1e-3)
    th, th0 = _sgd(x, q, order, np.full(len(order), 0.1), "ve", s)
    cert = certify_linear_head(x, q, order, np.full(len(order), 0.1), "ve", strengths=s)
    dist = np.linalg.norm(th - th0)
    for b in (cert.distance_bound_norms, cert.distance_bound_gram, cert.distance_bound_linear):
        assert 0.99 * b <= dist <= b
    # the old constant sqrt 2 min(1, s) is 4 s / (e^s - 1) times the data constant here
    assert cert.distance_bound_max == pytest.approx(4 * cert.distance_bound_norms, rel=1e-3)


def test_old_bound_needs_the_largest_input_norm():
    # half the inputs ~10x longer than the rest (and long enough that the bias coordinate
    # barely tilts them): a bound with the smallest norm (or the mean) is below the movement
    x, q, order = _aligned(norms=[3.0] * 12 + [30.0] * 12)
    lrs = np.full(len(order), 1e-4)
    init = np.zeros((2, 4))
    init[:, 3] = [-20.0, 20.0]
    th, th0 = _sgd(x, q, order, lrs, "xent", init=init)
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init)
    dist = np.linalg.norm(th - th0)
    u_norms = np.sqrt((x**2).sum(1) + 1)
    assert dist <= cert.distance_bound_max
    assert dist > cert.distance_bound_max * u_norms.mean() / u_norms.max() * 0.99
    assert dist > cert.distance_bound_max * u_norms.min() / u_norms.max() * 4
    assert 0.99 * cert.distance_bound_norms <= dist


def test_weight_decay_is_a_contraction_the_certificate_uses():
    # the reference path follows the decayed steps exactly: the linearized bound binds
    x, q, order = _aligned()
    lrs = np.full(len(order), 0.2)
    s = np.full(order.shape, 1e-3)
    for wd in (0.5, 3.0):
        th, th0 = _sgd(x, q, order, lrs, "ve", s, wd=wd)
        cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s, weight_decay=wd)
        dist = np.linalg.norm(th - th0)
        assert 0.99 * cert.distance_bound_linear <= dist <= cert.distance_bound_linear
        assert 0.99 * cert.distance_bound_norms <= dist <= cert.distance_bound_norms
        # without the contraction the bound would be loose by the decay's factor
        plain = certify_linear_head(x, q, order, lrs, "ve", strengths=s)
        assert plain.distance_bound_norms > 1.5 * cert.distance_bound_norms
    # xent with weight decay: finite, and shrinking with the decay
    xent = [certify_linear_head(x, q, order, np.full(len(order), 0.1), "xent", weight_decay=wd)
            .distance_bound for wd in (0.0, 1.0, 10.0)]
    assert xent[0] > xent[1] > xent[2] and all(map(math.isfinite, xent))
    rho, c = sgd_coefficients(np.array([0.1, 0.2, 0.3]), 1.0, 0.5)
    np.testing.assert_allclose(rho, [0.85, 0.7, 0.55])
    np.testing.assert_allclose(c, [0.1 * 0.7 * 0.55, 0.2 * 0.55, 0.3])


def test_remainder_bound_binds_for_xent_at_a_uniform_start():
    # e - e0 = (sigma(d) - 1/2)(1, -1): first order in the movement with the constant L = 1/2,
    # so the held-out remainder bound r(x) is reached to first order
    x, q, order = _aligned()
    lrs = np.full(len(order), 2e-4)
    th, th0 = _sgd(x, q, order, lrs, "xent")
    held = x[:1]
    cert = certify_linear_head(x, q, order, lrs, "xent", heldout=held)
    z_t = np.hstack([held, [[1.0]]]) @ th.T
    gap = np.linalg.norm(z_t - cert.reference_logits, axis=1)[0]
    assert 0.9 * cert.remainder_bound[0] <= gap <= cert.remainder_bound[0]


def test_cap_bounds_the_movement_and_switches_off_linearization():
    x, q, order, lrs, s, held = _world(3, c=2, loss="ve", s_scale=1.0)
    free = certify_linear_head(x, q, order, lrs, "ve", strengths=s)
    th, th0 = _sgd(x, q, order, lrs, "ve", s)
    cap = 0.5 * np.linalg.norm(th - th0)  # binding: the projection acts
    capped = certify_linear_head(x, q, order, lrs, "ve", strengths=s, cap=cap, heldout=held)
    thc, _ = _sgd(x, q, order, lrs, "ve", s, cap=cap)
    assert 0.9 * cap <= np.linalg.norm(thc - th0) <= cap * (1 + 1e-12)  # the cap binds
    assert capped.distance_bound == cap and math.isnan(capped.distance_bound_linear)
    assert math.isnan(capped.flip_bound)
    # a cap the path provably never reaches changes nothing
    loose = certify_linear_head(x, q, order, lrs, "ve", strengths=s, cap=10 * free.distance_bound)
    assert loose.distance_bound_linear == pytest.approx(free.distance_bound_linear)


def test_small_budget_reference_is_the_weak_label_centroid_direction():
    # zero init, tiny strengths: Theta_T ~ R_T, whose weight row is a visit-weighted
    # difference of weak-label centroids; the trained head agrees with it almost everywhere
    x, q, order, lrs, s, held = _world(4, n=120, c=2, loss="ve", s_scale=0.001, steps=60)
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=held)
    th, _ = _sgd(x, q, order, lrs, "ve", s)
    assert np.linalg.norm(th - cert.reference) <= 1e-3 * np.linalg.norm(th)
    assert cert.flip_bound <= 0.1 * len(held)
    w = cert.reference[0, :-1] - cert.reference[1, :-1]
    weights = np.bincount(order.ravel(), (s * lrs[:, None]).ravel(), minlength=len(x))
    centroid = ((q[:, 0] - q[:, 1]) * weights) @ x
    cos = w @ centroid / np.linalg.norm(w) / np.linalg.norm(centroid)
    assert cos > 0.999


def test_certificate_validates_its_inputs():
    x, q, order, lrs, s, held = _world(0, c=2, loss="ve")
    with pytest.raises(ValueError, match="strengths"):
        certify_linear_head(x, q, order, lrs, "ve")
    with pytest.raises(ValueError, match="lrs"):
        certify_linear_head(x, q, order, lrs[:-1], "ve", strengths=s)
    with pytest.raises(ValueError, match="order"):
        certify_linear_head(x, q, order + len(x), lrs, "ve", strengths=s)
    with pytest.raises(ValueError, match="cap"):
        certify_linear_head(x, q, order, lrs, "ve", strengths=s, cap=0.0)
    with pytest.raises(ValueError, match="heldout"):
        certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=held[:, :2])
    with pytest.raises(ValueError, match="no certificate constants"):
        C.logit_grad_bound_data("hinge", q)
    with pytest.raises(ValueError, match="non-negative"):
        sgd_coefficients(lrs, weight_decay=-1.0)


def test_flip_bound_needs_its_sqrt2_and_binds():
    # two classes, inputs along one direction, an initial bias against the (hard) label: the
    # reference and the trained head differ by a remainder along (1, -1), so the margin moves
    # by exactly sqrt 2 ||delta||; held-out points whose reference margin sits inside that
    # window flip, and some sit beyond ||delta|| (a criterion without sqrt 2 misses them)
    x, q, order = _aligned()
    lrs = np.full(len(order), 1e-3)
    init = np.zeros((2, 4))
    init[:, 3] = [-0.5, 0.5]
    direction = np.array([0.6, -0.8, 0.0])
    w = np.diff(certify_linear_head(x, q, order, lrs, "xent", init=init).reference, axis=0)[0]
    t_cross = -w[3] / (w[:3] @ direction)  # where the reference margin crosses 0
    held = np.linspace(0.9, 1.2, 3001)[:, None] * t_cross * direction
    th, _ = _sgd(x, q, order, lrs, "xent", init=init)
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init, heldout=held)
    z_t = np.hstack([held, np.ones((len(held), 1))]) @ th.T
    flipped = z_t.argmax(1) != cert.reference_logits.argmax(1)
    assert flipped.sum() >= 5 and np.all(cert.may_flip[flipped])
    margin = np.abs(cert.reference_logits[:, 0] - cert.reference_logits[:, 1])
    assert np.any(margin[flipped] > cert.remainder_bound[flipped])
    # the count binds within the factor 2 of not knowing the remainder's sign: inputs whose
    # reference margin lies on the other side of 0 are counted but cannot flip here
    assert cert.flip_bound <= 2.2 * flipped.sum()


def test_remainder_cap_covers_an_overshooting_gradient():
    # xent to a soft label from the opposite vertex with a large step: the gradient turns
    # around, ||e - e0|| ~ ||e|| + ||e0|| exceeds g, and the cap g + ||e0|| must allow for it
    x, q, order = _aligned(label=(0.7, 0.3))
    lrs = np.full(len(order), 1e-3)
    lrs[0] = 20.0  # one long step to the other vertex, then small ones that stay there
    init = np.zeros((2, 4))
    init[:, 3] = [-20.0, 20.0]
    held = x[:1]
    th, _ = _sgd(x, q, order, lrs, "xent", init=init)
    cert = certify_linear_head(x, q, order, lrs, "xent", init=init, heldout=held)
    z_t = np.hstack([held, [[1.0]]]) @ th.T
    gap = np.linalg.norm(z_t - cert.reference_logits, axis=1)[0]
    g = C.logit_grad_bound_data("xent", q[:1])[0]
    assert gap <= cert.remainder_bound[0]
    # what a cap of g alone would allow for the same path (step 0 has e = e0)
    _, c = sgd_coefficients(lrs)
    k = 1 + (x[0] ** 2).sum()
    assert gap > g * c[1:].sum() * k * 1.2


def test_certificate_columns_for_a_row():
    from bayes_w2s.neural.certificate_columns import certificate_columns

    x, q, order, lrs, s, held = _world(2, c=2, loss="ve", s_scale=0.01)
    th, th0 = _sgd(x, q, order, lrs, "ve", s)
    final = np.hstack([held, np.ones((len(held), 1))]) @ th.T
    row = certificate_columns(x, q, order, lrs, "ve", strengths=s, heldout=held,
                              final_logits=final)
    cert = certify_linear_head(x, q, order, lrs, "ve", strengths=s, heldout=held)
    from bayes_w2s.neural.certificate_columns import FLOAT32_ALLOWANCE as A

    # the recorded movement bounds carry the stated float32 allowance, the parts do not
    assert row["distance_bound_data"] == cert.distance_bound * (1 + A)
    assert row["distance_bound"] == cert.distance_bound_max * (1 + A) >= row["distance_bound_data"]
    assert row["distance_bound_gram"] == cert.distance_bound_gram
    assert row["flips_measured"] == C.count_flips(final, cert.reference_logits)
    assert row["flips_measured"] <= row["flip_bound"] == cert.flip_bound
    assert row["kl_bound_data"] <= row["kl_bound"]
    empty = certificate_columns(x, q, order[:0], lrs[:0], "ve", strengths=s[:0], heldout=held)
    assert empty["distance_bound_data"] == 0.0 and empty["flip_bound"] == 0.0


def _augmented(x):
    return np.hstack([x, np.ones((len(x), 1))])  # rows of norm >= 1, as the certificate's u


@pytest.mark.parametrize("case", ["float32 rows", "float64 rows", "wide range", "cancelling"])
def test_float32_abs_products_bound_is_an_upper_bound_and_tight(case):
    # certificate_grams stores |a b^T| as a float32 upper bound: (1+2^-20)(|fl32(ab^T)| + g|a||b|)
    from bayes_w2s.neural.certificate_grams import abs_products_bound

    rng = np.random.default_rng(["float32 rows", "float64 rows", "wide range", "cancelling"].index(case))
    a, b = rng.standard_normal((300, 384)), rng.standard_normal((200, 384))
    if case == "float32 rows":  # as a head's forward sees them: exact in float32
        a, b = a.astype(np.float32).astype(float), b.astype(np.float32).astype(float)
    elif case == "wide range":
        a *= np.exp(rng.uniform(-3, 30, (300, 1))) * np.exp(rng.uniform(-3, 3, 384))
        b *= np.exp(rng.uniform(-20, 20, (200, 1)))
    elif case == "cancelling":  # b_i nearly orthogonal to a_i: |K_ii| ~ 1e-6 |a_i||b_i|
        proj = (a[:100] * b[:100]).sum(1, keepdims=True) / (a[:100] ** 2).sum(1, keepdims=True)
        b[:100] -= (proj - 1e-6 * rng.standard_normal((100, 1))) * a[:100]
    a, b = _augmented(a), _augmented(b)
    exact = np.abs(np.array([[math.fsum(x * y) for y in b] for x in a[:60]]))
    bound = abs_products_bound(a, b)
    assert bound.dtype == np.float32 and bound.shape == (300, 200)  # the float32 path
    assert np.all(bound[:60] >= exact)
    scale = np.outer(np.linalg.norm(a[:60], axis=1), np.linalg.norm(b, axis=1))
    assert np.all(bound[:60] - exact <= 1e-4 * scale + 4e-7 * exact)  # tight: g = 2.3e-5 at D=385


def test_abs_products_bound_outside_the_float32_model_falls_back_to_float64():
    # the referee's counterexamples to a float32 bound: a subnormal entry against a large one
    # (its float32 rounding loses 2^-150 x 1e30), and entries whose float32 products overflow
    from fractions import Fraction

    from bayes_w2s.neural.certificate_grams import abs_products_bound

    a, b = np.array([[1.4999 * 2.0 ** -149]]), np.array([[1e30]])
    bound = abs_products_bound(a, b)  # float64: its value to float64 rounding (was 0.667x)
    exact = abs(Fraction(a[0, 0]) * Fraction(b[0, 0]))
    assert bound.dtype == np.float64 and abs(Fraction(float(bound[0, 0])) - exact) <= exact * 2.0 ** -53
    rng = np.random.default_rng(7)
    big = _augmented(rng.standard_normal((30, 20)) * 1e20)
    bound = abs_products_bound(big, big)
    assert bound.dtype == np.float64 and np.all(np.isfinite(bound))
    np.testing.assert_array_equal(bound, np.abs(big @ big.T))
    small = rng.standard_normal((20, 50)) * 1e-30  # rows of norm < 1: products underflow
    assert np.all(abs_products_bound(small, small) >= np.abs(small @ small.T))
    assert np.isnan(abs_products_bound(np.array([[np.nan, 1.0]]), np.ones((2, 2)))).all()



def test_float32_bound_domain_edges():
    # rows of norm exactly 1 (an augmented zero row) and entries of exactly 2^50 are inside
    # the float32 model; just beyond, float64
    from bayes_w2s.neural.certificate_grams import abs_products_bound

    a = _augmented(np.vstack([np.zeros(4), np.ones(4)]))
    assert abs_products_bound(a, a).dtype == np.float32
    b = np.array([[0.0, 1.0], [1.0, 1.0]])
    top = np.array([[2.0 ** 50, 1.0]])
    assert abs_products_bound(top, b).dtype == np.float32
    assert abs_products_bound(b, top).dtype == np.float32
    over = np.array([[np.nextafter(2.0 ** 50, np.inf), 1.0]])
    assert abs_products_bound(over, b).dtype == np.float64
    assert abs_products_bound(b, over).dtype == np.float64
    assert abs_products_bound(a * 0.999, a).dtype == np.float64  # a row of norm < 1

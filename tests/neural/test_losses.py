"""Each loss's value and gradient against a hand computation (asymmetric cases, float64 math)."""

import math

import numpy as np
import pytest
import torch
from bayes_w2s.neural import losses as L

LOGITS = np.array([[2.0, -1.0], [0.3, 0.9], [-1.5, 0.5], [0.0, 0.2]])
TARGETS = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.4, 0.6]])


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def value_and_grad(fn, logits=LOGITS, targets=TARGETS, **kw):
    z = torch.tensor(logits, dtype=torch.float32, requires_grad=True)
    loss = fn(z, torch.tensor(targets, dtype=torch.float32), **kw)
    loss.backward()
    return float(loss.detach()), z.grad.numpy().astype(float)


def test_xent_value_and_gradient():
    p = softmax(LOGITS)
    value, grad = value_and_grad(L.xent_loss, step_frac=0.3)
    assert value == pytest.approx(-(TARGETS * np.log(p)).sum(1).mean(), rel=1e-6)
    np.testing.assert_allclose(grad, (p - TARGETS) / len(p), atol=1e-6)


@pytest.mark.parametrize(
    "frac, weight", [(0.0, 0.0), (0.05, 0.25), (0.1, 0.5), (0.5, 0.5), (1.0, 0.5)]
)
def test_logconf_weight_is_a_linear_ramp_not_the_openai_bug(frac, weight):
    assert L.logconf_weight(frac) == pytest.approx(weight)
    # the openai code would give 0.025 at 0.05 (step_frac * aux_coef): must not
    if frac == 0.05:
        assert L.logconf_weight(frac) != pytest.approx(0.025)


@pytest.mark.parametrize("frac", [0.0, 0.05, 0.1, 0.5])
def test_logconf_value_and_gradient(frac):
    p = softmax(LOGITS)
    c = 0.5 * min(1.0, frac / 0.1)
    # weak class balance: mean q(1) = 0.45 -> threshold p(0) at its 0.45 quantile
    thr = np.quantile(p[:, 0], TARGETS[:, 1].mean())
    is_zero = (p[:, 0] >= thr).astype(float)
    hard = np.stack([is_zero, 1 - is_zero], 1)
    target = (1 - c) * TARGETS + c * hard
    value, grad = value_and_grad(L.logconf_loss, step_frac=frac)
    assert value == pytest.approx(-(target * np.log(p)).sum(1).mean(), rel=1e-5)
    np.testing.assert_allclose(
        grad, (p - target) / len(p), atol=1e-6
    )  # hardened target is detached


def test_logconf_hardening_matches_weak_balance():
    probs = torch.tensor(softmax(np.random.default_rng(0).normal(size=(100, 2))))
    targets = torch.zeros(100, 2)
    targets[:30, 1] = 1
    targets[30:, 0] = 1
    hard = L.harden_by_quantile(probs, targets)
    assert hard.sum(0)[1].item() == pytest.approx(30, abs=1)
    assert torch.all(hard.sum(1) == 1)


def test_product_value_and_gradient():
    p = softmax(LOGITS)
    t = p * TARGETS
    t /= t.sum(1, keepdims=True)
    value, grad = value_and_grad(L.product_loss, step_frac=0.0)
    assert value == pytest.approx(-(t * np.log(p)).sum(1).mean(), rel=1e-5)
    np.testing.assert_allclose(grad, (p - t) / len(p), atol=1e-6)


def ve_hand(logits, targets, s):
    p = softmax(logits)
    m = (p * targets).sum(1)
    r = np.exp(s)
    loss = -np.log1p((r - 1) * m)
    # d/dz_k: -(r-1)/(1+(r-1)m) * p_k (q_k - m)
    grad = -((r - 1) / (1 + (r - 1) * m))[:, None] * p * (targets - m[:, None])
    return loss.mean(), grad / len(p)


@pytest.mark.parametrize("s", [0.3, 1.0, 4.0])
def test_ve_value_and_gradient(s):
    strengths = torch.full((4,), s)
    value, grad = value_and_grad(L.ve_loss, step_frac=0.0, strengths=strengths)
    hv, hg = ve_hand(LOGITS, TARGETS, s)
    assert value == pytest.approx(hv, rel=1e-5)
    np.testing.assert_allclose(grad, hg, atol=1e-6)


def test_ve_per_example_strengths_are_per_example():
    s = np.array([0.1, 2.0, 0.0, 5.0])
    value, grad = value_and_grad(L.ve_loss, step_frac=0.0, strengths=torch.tensor(s))
    p = softmax(LOGITS)
    m = (p * TARGETS).sum(1)
    assert value == pytest.approx(np.mean(-np.log1p(np.expm1(s) * m)), rel=1e-5)
    np.testing.assert_allclose(grad[2], 0.0, atol=1e-12)  # s = 0: no evidence, no gradient


def test_ve_r_to_one_vanishes_linearly():
    eps = 1e-4
    value, grad = value_and_grad(L.ve_loss, step_frac=0.0, strengths=torch.full((4,), eps))
    p = softmax(LOGITS)
    m = (p * TARGETS).sum(1)
    # loss ~ -(r-1) m and grad / (r-1) -> gradient of -m
    assert value == pytest.approx(-(math.expm1(eps) * m).mean(), rel=1e-3)
    np.testing.assert_allclose(grad / math.expm1(eps), -(p * (TARGETS - m[:, None])) / 4, atol=1e-3)
    value0, grad0 = value_and_grad(L.ve_loss, step_frac=0.0, strengths=torch.zeros(4))
    assert value0 == 0.0 and np.all(grad0 == 0.0)


@pytest.mark.parametrize("s", [30.0, 50.0, 200.0])
def test_ve_r_to_infinity_is_hard_cross_entropy(s):
    hard = np.eye(2)[[0, 1, 1, 0]]
    value, grad = value_and_grad(
        L.ve_loss, targets=hard, step_frac=0.0, strengths=torch.full((4,), s)
    )
    assert np.isfinite(value) and np.all(np.isfinite(grad))
    p = softmax(LOGITS)
    ce = -(hard * np.log(p)).sum(1).mean()
    log_rm1 = s + math.log(-math.expm1(-s))
    assert value + log_rm1 == pytest.approx(ce, rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(grad, (p - hard) / 4, atol=1e-5)


def test_ve_gradient_is_bounded_whatever_r():
    # a confidently wrong student: CE's gradient grows with r in tempering, VE's stays <= 1
    logits = np.array([[12.0, -12.0]])
    hard = np.array([[0.0, 1.0]])
    for s in (1.0, 10.0, 50.0):
        _, g = value_and_grad(
            L.ve_loss, logits=logits, targets=hard, step_frac=0.0, strengths=torch.tensor([s])
        )
        assert np.abs(g).max() <= 1.0 + 1e-6
    _, g_t = value_and_grad(
        L.tempered_loss, logits=logits, targets=hard, step_frac=0.0, strengths=torch.tensor([50.0])
    )
    assert np.abs(g_t).max() > 40


def test_tempered_value_and_gradient():
    w = np.array([0.5, 2.0, 0.0, 1.0])
    p = softmax(LOGITS)
    value, grad = value_and_grad(L.tempered_loss, step_frac=0.0, strengths=torch.tensor(w))
    assert value == pytest.approx((w * -(TARGETS * np.log(p)).sum(1)).mean(), rel=1e-5)
    np.testing.assert_allclose(grad, w[:, None] * (p - TARGETS) / 4, atol=1e-6)


def test_strength_validation():
    z, q = torch.zeros(4, 2), torch.full((4, 2), 0.5)
    with pytest.raises(ValueError, match="non-negative"):
        L.ve_loss(z, q, step_frac=0, strengths=torch.tensor([1.0, -1.0, 0.0, 0.0]))
    with pytest.raises(ValueError, match="strengths"):
        L.tempered_loss(z, q, step_frac=0)
    with pytest.raises(ValueError, match="unknown method"):
        L.get_loss("xentropy")
    with pytest.raises(ValueError, match=r"\(B, C\)"):
        L.xent_loss(torch.zeros(4, 2), torch.zeros(4, 3), step_frac=0)


def test_anchors():
    z = torch.tensor(LOGITS, dtype=torch.float32)
    assert float(L.kl_anchor(z, z)) == pytest.approx(0.0, abs=1e-7)
    p, p0 = softmax(LOGITS), softmax(LOGITS[::-1].copy())
    kl = (p * (np.log(p) - np.log(p0))).sum(1).mean()
    assert float(L.kl_anchor(z, torch.tensor(LOGITS[::-1].copy()))) == pytest.approx(kl, rel=1e-5)
    a, a0 = (
        [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])],
        [torch.tensor([0.0, 0.0]), torch.tensor([[1.0]])],
    )
    assert float(L.l2_anchor(a, a0)) == pytest.approx(0.5 * (1 + 4 + 4))


@pytest.mark.parametrize("nats", [5.0, 28.0, 40.0, 80.0])
def test_product_loss_keeps_a_hard_label_hard_at_large_contradiction(nats):
    # student says class 1 by `nats` of log-odds; the weak label is hard class 0:
    # target t ∝ p * q = e_0 exactly, so dL/dz = p - e_0 = (-(1 - p0), 1 - p0) ~ (-1, 1)
    logits = np.array([[0.0, nats]])
    targets = np.array([[1.0, 0.0]])
    p0 = 1 / (1 + math.exp(nats))
    value, grad = value_and_grad(L.product_loss, logits=logits, targets=targets)
    np.testing.assert_allclose(grad, [[-(1 - p0), 1 - p0]], atol=1e-6)
    assert value == pytest.approx(nats + math.log1p(math.exp(-nats)), rel=1e-5)


def test_product_loss_alpha_zero_ignores_weak_zeros():
    logits = np.array([[1.0, -2.0]])
    q = np.array([[0.0, 1.0]])
    _, grad = value_and_grad(L.product_loss, logits=logits, targets=q, alpha=0.0)
    np.testing.assert_allclose(grad, 0.0, atol=1e-7)  # target = p itself (detached): CE grad p - p

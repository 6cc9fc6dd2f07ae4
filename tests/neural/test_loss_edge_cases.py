"""Edge cases of the losses, one head and batched: the KL anchor against numpy on a non-square
batch (B != C) with no deprecation warning, gradients of the losses that take no strengths called
without strengths, and a class the student rules out entirely (a ``-inf`` logit) in the product
loss, whose zero target must contribute nothing (not ``0 * -inf``)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

from bayes_w2s.neural import losses as L
from bayes_w2s.neural.head_losses import LOSS_VALUES, logconf_c, loss_grad


def _log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


@pytest.mark.parametrize("b,c", [(5, 3), (2, 4), (7, 2)])
def test_kl_anchor_is_the_mean_forward_kl_to_the_initial_predictions(b, c):
    rng = np.random.default_rng(b * 10 + c)
    z, z0 = rng.normal(0, 2, (b, c)), rng.normal(0, 2, (b, c))
    lp, lp0 = _log_softmax(z), _log_softmax(z0)
    want = np.mean((np.exp(lp) * (lp - lp0)).sum(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no implicit-dimension deprecation
        got = L.kl_anchor(torch.tensor(z, dtype=torch.float32), torch.tensor(z0, dtype=torch.float32))
    assert float(got) == pytest.approx(want, rel=1e-5, abs=1e-7)
    # KL(p || p0), not KL(p0 || p)
    assert float(got) != pytest.approx(np.mean((np.exp(lp0) * (lp0 - lp)).sum(1)), rel=1e-3)


@pytest.mark.parametrize("name", ["xent", "product", "logconf"])
def test_closed_form_gradients_need_no_strengths_for_ce_type_losses(name):
    rng = np.random.default_rng(4)
    b, h, c = 10, 3, 3
    z = torch.tensor(rng.normal(0, 2, (b, h, c)), dtype=torch.float32)
    q = torch.softmax(torch.tensor(rng.normal(0, 2, (b, h, c))), -1).float()
    cw = logconf_c(np.full(h, 0.05))
    conf = (torch.tensor(cw, dtype=torch.float32), torch.tensor(1 - cw, dtype=torch.float32))
    grad = loss_grad(name, z, q, conf)  # s omitted
    for j in range(h):
        zz = z[:, j].clone().requires_grad_(True)
        (g,) = torch.autograd.grad(L.get_loss(name)(zz, q[:, j], step_frac=0.05), zz)
        torch.testing.assert_close(grad[:, j], g, rtol=1e-5, atol=1e-7)


def test_product_loss_ignores_a_class_the_student_rules_out():
    # class 2 has logit -inf (probability exactly 0) and weak probability 0.2: the product
    # target puts 0 on it, and its 0 * log 0 term is dropped, one head and batched alike
    z = torch.tensor([[1.0, -0.5, -math.inf], [0.3, 0.2, -math.inf]])
    q = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.7, 0.2]])
    one = L.product_loss(z, q)
    p = torch.softmax(z, -1)
    t = p * q / (p * q).sum(-1, keepdim=True)
    want = -(t[:, :2] * torch.log_softmax(z, -1)[:, :2]).sum(-1).mean()
    assert torch.isfinite(one) and float(one) == pytest.approx(float(want), rel=1e-6)
    batched = LOSS_VALUES["product"](z[:, None, :], q[:, None, :], None, None)  # (B, H=1, C)
    assert torch.isfinite(batched).all() and float(batched[0]) == pytest.approx(float(one), rel=1e-6)


def test_losses_raise_no_warning_and_honour_aux_coef():
    rng = np.random.default_rng(6)
    z = torch.tensor(rng.normal(0, 2, (6, 3)), dtype=torch.float32)
    q = torch.softmax(torch.tensor(rng.normal(0, 2, (6, 3))), -1).float()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no implicit-dimension deprecation anywhere
        for name in L.LOSSES:
            L.get_loss(name)(z, q, step_frac=0.5, strengths=torch.ones(6))
    # logconf with a non-default aux_coef: CE to (1 - c) q + c onehot(argmax p), c = 0.2
    got = L.logconf_loss(z, q, step_frac=1.0, aux_coef=0.2)
    hard = torch.nn.functional.one_hot(z.argmax(-1), 3).float()
    target = 0.8 * q + 0.2 * hard
    want = -(target * torch.log_softmax(z, -1)).sum(-1).mean()
    assert float(got) == pytest.approx(float(want), rel=1e-6)


def _openai_harden(p0, frac_pos):
    """openai's logconf hardening (weak_to_strong/loss.py): class 0 where p0 >= the quantile."""
    thresh = np.quantile(p0, frac_pos)
    is_zero = (p0 >= thresh).astype(float)
    return np.stack([is_zero, 1 - is_zero], 1)


def test_binary_hardening_puts_a_tie_at_the_threshold_in_class_0():
    # five predictions, weak class balance 0.4 (rank 0.4 * 4 = 1.6: interpolated) and 0.5 (rank 2:
    # the threshold IS the median prediction, a tie the >= rule puts in class 0)
    p0 = np.array([0.9, 0.2, 0.6, 0.4, 0.75], np.float32)
    probs = torch.tensor(np.stack([p0, 1 - p0], 1))
    for frac_pos in (0.4, 0.5, 0.75):
        n1 = int(round(frac_pos * 4))
        q = torch.tensor(np.eye(2, dtype=np.float32)[[1] * n1 + [0] * (4 - n1) + [frac_pos > 0.6]])
        q[-1] = torch.tensor([1 - (5 * frac_pos - n1), 5 * frac_pos - n1])  # exact class balance
        fp = float(q[:, 1].float().mean())
        want = _openai_harden(p0.astype(np.float32), np.float32(fp))
        got = L.harden_by_quantile(probs, q)
        np.testing.assert_array_equal(got.numpy(), want)
        # the batched hardening, heads side by side: the same per head
        from bayes_w2s.neural.head_losses import harden

        both = harden(torch.stack([probs, probs.flip(0)], 1), torch.stack([q, q], 1))  # (B, H=2, C)
        np.testing.assert_array_equal(both[:, 0].numpy(), want)
        np.testing.assert_array_equal(both[:, 1].numpy(), _openai_harden(p0[::-1].copy(), np.float32(fp)))


def test_multi_class_hardening_keeps_every_class_column():
    # three classes, and no prediction favours class 2: the one-hot still has three columns
    from bayes_w2s.neural.head_losses import harden

    p = torch.tensor([[0.7, 0.2, 0.1], [0.3, 0.6, 0.1], [0.5, 0.1, 0.4]])
    q = torch.full((3, 3), 1 / 3)
    want = torch.tensor([[1.0, 0, 0], [0, 1, 0], [1, 0, 0]])
    assert torch.equal(L.harden_by_quantile(p, q), want)
    assert torch.equal(harden(p[:, None, :], q[:, None, :])[:, 0], want)
    # the one-hot has the predictions' dtype
    assert L.harden_by_quantile(p.double(), q).dtype == torch.float64
    assert harden(p.double()[:, None, :], q[:, None, :]).dtype == torch.float64


def test_batched_logconf_weight_uses_float64_operations():
    frac = np.array([0.03, 0.07, 0.099, 0.0123, 0.5, -0.1], np.float32)
    got = logconf_c(frac)
    want = np.array([L.logconf_weight(float(f)) for f in frac])
    np.testing.assert_array_equal(got, want)
    assert got.dtype == np.float64


def test_logconf_ramp_honours_warmup_frac_and_bounds_need_strengths():
    from bayes_w2s.neural.head_losses import logit_grad_bound_per_example

    rng = np.random.default_rng(8)
    z = torch.tensor(rng.normal(0, 2, (5, 3)), dtype=torch.float32)
    q = torch.softmax(torch.tensor(rng.normal(0, 2, (5, 3))), -1).float()
    # warmup over half the run: at a quarter, c = 0.3 * 0.5
    got = L.logconf_loss(z, q, step_frac=0.25, aux_coef=0.3, warmup_frac=0.5)
    c = 0.15
    target = (1 - c) * q + c * torch.nn.functional.one_hot(z.argmax(-1), 3).float()
    assert float(got) == pytest.approx(float(-(target * torch.log_softmax(z, -1)).sum(-1).mean()), rel=1e-6)
    # the strength losses have no per-example bound without strengths
    assert math.isnan(logit_grad_bound_per_example("ve", None))
    assert math.isnan(logit_grad_bound_per_example("tempered", None))
    for name in ("xent", "logconf", "product"):
        assert logit_grad_bound_per_example(name, None) == pytest.approx(math.sqrt(2))
    np.testing.assert_allclose(logit_grad_bound_per_example("ve", np.array([0.5, 3.0])),
                               math.sqrt(2) * np.array([0.5, 1.0]))
    for name in ("xent", "logconf", "product"):  # with strengths: sqrt 2 per example, same shape
        got = logit_grad_bound_per_example(name, np.array([[0.1, 5.0, 0.0], [1.0, 2.0, 3.0]]))
        np.testing.assert_array_equal(got, np.full((2, 3), math.sqrt(2)))
    s32 = np.array([0.3, 0.7, 2.0], np.float32)  # float32 strengths give float64 bounds
    for name, want in (("ve", np.minimum(1.0, s32.astype(float))), ("tempered", s32.astype(float))):
        got = logit_grad_bound_per_example(name, s32)
        assert got.dtype == np.float64
        np.testing.assert_array_equal(got, math.sqrt(2) * want)


@pytest.mark.parametrize("loss", [L.ve_loss, L.tempered_loss])
def test_float64_strengths_give_the_float32_loss(loss):
    rng = np.random.default_rng(9)
    z = torch.tensor(rng.normal(0, 2, (5, 3)), dtype=torch.float32)
    q = torch.softmax(torch.tensor(rng.normal(0, 2, (5, 3))), -1).float()
    s64 = rng.uniform(0.1, 3, 5)
    got = loss(z, q, strengths=torch.tensor(s64))  # a float64 tensor, as numpy schedules give
    want = loss(z, q, strengths=torch.tensor(s64, dtype=torch.float32))
    assert got.dtype == torch.float32 and torch.equal(got, want)

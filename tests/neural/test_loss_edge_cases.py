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

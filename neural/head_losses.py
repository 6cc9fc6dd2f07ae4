"""The W2S losses of :mod:`.losses` for many heads at once, and their logit gradients.

Layout: logits and targets ``(..., B, H, C)`` (the batch axis third from the end, one column
per head, as the batched loop produces them), strengths ``(..., B, H)``, and per-head
``c = (c, 1 - c)``, two ``(..., H)`` float32 tensors of logconf's confidence weight. ``LOSS_VALUES[name]`` gives the per-head batch
mean ``(..., H)``, op for op the one-head loss of :mod:`.losses`; :func:`loss_grad` gives
its gradient in the logits ``(..., B, H, C)`` in closed form (no autograd), as autograd
computes it: with ``lp = log_softmax(z)``, ``p = exp(lp)`` and ``go = dL/d lp``, the
log-softmax backward is ``dL/dz = go - p * sum_c go``, and

* xent: ``go = -q / B``; logconf: ``go = -((1 - c) q + c harden(p)) / B``;
* product: ``go = -t / B`` with ``t = softmax(lp + log q)`` (detached; ``alpha = beta = 1``);
* ve: ``go = -sigmoid(a) softmax(lp + log q) / B`` with ``a = log(r - 1) + log <p, q>``;
* tempered: ``go = -w q / B``.

``logconf`` hardens each head's predictions by its own quantile
(:func:`~.losses.harden_by_quantile`: ``torch.quantile``'s linear interpolation written out so
every head gets its own ``q``).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .losses import LOSSES

__all__ = ["LOSS_GO", "LOSS_VALUES", "log_rm1", "logconf_c", "logit_grad_bound_per_example",
           "loss_grad"]


def logconf_c(frac: np.ndarray) -> np.ndarray:
    """:func:`~.losses.logconf_weight` with its defaults, elementwise, with the same float64
    operations: ``0.5 * min(1, max(0, frac) / 0.1)``."""
    return 0.5 * np.minimum(1.0, np.maximum(0.0, np.asarray(frac, float)) / 0.1)


def harden(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-head :func:`~.losses.harden_by_quantile` on ``(..., B, H, C)``: one-hot, same shape."""
    if probs.shape[-1] != 2:
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
    frac_pos = targets[..., 1].float().mean(-2, keepdim=True)  # (..., 1, H) class balance
    p0 = probs[..., 0].float()  # (..., B, H)
    srt = torch.sort(p0, dim=-2).values
    ranks = frac_pos * (p0.shape[-2] - 1)  # as torch.quantile (linear)
    below, above = ranks.to(torch.long), torch.ceil(ranks).to(torch.long)
    threshold = srt.gather(-2, below).lerp(srt.gather(-2, above), ranks - below)  # (..., 1, H)
    is_zero = (probs[..., 0] >= threshold).to(probs.dtype)  # (..., B, H)
    return torch.stack([is_zero, 1 - is_zero], dim=-1)


def _log_q(q):
    return torch.where(q > 0, torch.log(q), torch.full_like(q, -math.inf))


# --- values: the batch mean per head, (..., H) --------------------------------------------

def _ce(z, target):
    return -(target * F.log_softmax(z.float(), dim=-1)).sum(-1)  # (..., B, H)


def _xent(z, q, c, s):
    return _ce(z, q.float()).mean(-2)


def _logconf_target(z, q, c):
    c, one_minus_c = c  # (..., H) each: float32 of the float64 c and 1 - c
    hard = harden(torch.softmax(z.detach().float(), -1), q)
    return one_minus_c[..., None, :, None] * q.float() + c[..., None, :, None] * hard


def _logconf(z, q, c, s):
    return _ce(z, _logconf_target(z, q, c)).mean(-2)


def _product_target(z, q):
    return torch.softmax(1.0 * F.log_softmax(z.detach().float(), -1) + 1.0 * _log_q(q.float()), -1)


def _product(z, q, c, s):
    t = _product_target(z, q)
    lp = F.log_softmax(z.float(), dim=-1)
    return -torch.where(t > 0, t * lp, torch.zeros_like(lp)).sum(-1).mean(-2)


def _ve_parts(z, q, s):
    lp = F.log_softmax(z.float(), -1)
    u = lp + torch.log(q.float().clamp_min(0))  # log(p q)
    log_m = torch.logsumexp(u, dim=-1)  # (..., B, H) log <p, q>
    a = s + torch.log(-torch.expm1(-s)) + log_m  # log((r - 1) m)
    return lp, u, log_m, a


def _ve(z, q, c, s):
    _, _, log_m, a = _ve_parts(z, q, s)
    return -torch.logaddexp(torch.zeros_like(log_m), a).mean(-2)


def _tempered(z, q, c, s):
    return (s * _ce(z, q.float())).mean(-2)


LOSS_VALUES = {"xent": _xent, "logconf": _logconf, "product": _product, "ve": _ve,
               "tempered": _tempered}


# --- gradients in the logits, (..., B, H, C) ----------------------------------------------
# The loop computes lp = log_softmax(z) and p = exp(lp) once for all heads, asks each loss
# block for go = dL/d lp, and applies the log-softmax backward once: dL/dz = go - p sum_c go.
# Shared inputs: lq = log(max(q, 0)) (-inf where q = 0; gathered from a table made once) and,
# for ve, lrm1 = log(r - 1) = s + log(-expm1(-s)).


def _go_xent(lp, p, q, lq, c, s, lrm1, inv_b):
    return q * -inv_b


def _go_logconf(lp, p, q, lq, c, s, lrm1, inv_b):
    c, one_minus_c = c
    hard = harden(p, q)  # p = exp(lp): the detached student prediction
    return (one_minus_c[..., None, :, None] * q + c[..., None, :, None] * hard) * -inv_b


def _go_product(lp, p, q, lq, c, s, lrm1, inv_b):
    return torch.softmax(lp + lq, -1) * -inv_b  # t ∝ p q, detached


def _go_ve(lp, p, q, lq, c, s, lrm1, inv_b):
    u = lp + lq  # log(p q)
    log_m = torch.logsumexp(u, dim=-1)  # (..., B, H)
    d_log_m = -inv_b / (1 + torch.exp(-(lrm1 + log_m)))  # d/da logaddexp(0, a) = sigmoid(a)
    return torch.exp(u - log_m[..., None]) * d_log_m[..., None]


def _go_tempered(lp, p, q, lq, c, s, lrm1, inv_b):
    return q * -(s * inv_b)[..., None]


LOSS_GO = {"xent": _go_xent, "logconf": _go_logconf, "product": _go_product, "ve": _go_ve,
           "tempered": _go_tempered}
assert set(LOSS_GO) == set(LOSS_VALUES) == set(LOSSES)


def log_rm1(s: torch.Tensor) -> torch.Tensor:
    """``log(r - 1) = s + log(-expm1(-s))`` for ``r = e^s`` (-inf at s = 0), as ve_loss."""
    return s + torch.log(-torch.expm1(-s))


def loss_grad(name: str, z, q, c=None, s=None) -> torch.Tensor:
    """``dL/dz (..., B, H, C)`` of loss ``name`` (per-head batch mean) in closed form."""
    lp = F.log_softmax(z, -1)
    p = torch.exp(lp)
    go = LOSS_GO[name](lp, p, q, torch.log(q.clamp_min(0)), c, s,
                       log_rm1(s) if s is not None else None, 1.0 / z.shape[-3])
    return go - p * go.sum(-1, keepdim=True)


_SQRT2 = math.sqrt(2.0)


def logit_grad_bound_per_example(loss: str, s: np.ndarray | None) -> np.ndarray | float:
    """``g(s)``, the per-example logit-gradient bound of :mod:`.certificate` (1), elementwise:
    ``sqrt 2`` (xent, logconf, product), ``sqrt 2 min(1, s)`` (ve), ``sqrt 2 s`` (tempered).

    ``s=None`` (no strengths): ``sqrt 2`` for the CE-type losses, NaN for the others.
    """
    if s is None:
        return _SQRT2 if loss in ("xent", "logconf", "product") else math.nan
    s = np.asarray(s, float)
    if loss == "ve":
        return _SQRT2 * np.minimum(1.0, s)
    if loss == "tempered":
        return _SQRT2 * s
    return np.full(s.shape, _SQRT2)

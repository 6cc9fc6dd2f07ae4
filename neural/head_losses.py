"""The W2S losses of :mod:`.losses`, batched over heads: ``(H, B, C)`` logits -> ``(H,)`` losses.

Each function repeats, op for op, the one-head loss of :mod:`.losses` with a leading head axis,
so that the logit gradient of head h (``autograd.grad(losses.sum(), logits)[h]``) is the one
the one-head loss gives on ``logits[h]``. Per-head arguments: ``frac (H,)`` float64 (the
fraction of training done, for logconf's ramp) and ``strengths (H, B)`` float32.

``logconf`` hardens each head's predictions by its own quantile (``harden_by_quantile``):
``torch.quantile``'s linear interpolation, written out so that every head gets its own ``q``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from .losses import LOSSES

__all__ = ["BATCHED_LOSSES", "logit_grad_bound_per_example"]


def _soft_ce(logits, targets):
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(-1)  # (H, B)


def xent(logits, targets, frac, strengths):
    """``mean_i -sum_y q_i(y) log p(y|x_i)`` per head: ``(H,)``."""
    return _soft_ce(logits, targets.float()).mean(-1)


def _harden(probs, targets):
    """Per-head :func:`~.losses.harden_by_quantile`: ``(H, B, C)`` one-hot."""
    if probs.shape[-1] != 2:
        return F.one_hot(probs.argmax(-1), probs.shape[-1]).to(probs.dtype)
    frac_pos = targets[..., 1].float().mean(-1)  # (H,) weak class balance per batch
    p0 = probs[..., 0].float()  # (H, B)
    srt = torch.sort(p0, dim=-1).values  # (H, B)
    ranks = frac_pos * (p0.shape[-1] - 1)  # (H,) as torch.quantile (linear)
    below = ranks.to(torch.long)
    above = torch.ceil(ranks).to(torch.long)
    weights = ranks - below  # (H,)
    lo = srt.gather(-1, below[:, None])  # (H, 1)
    hi = srt.gather(-1, above[:, None])
    threshold = lo.lerp(hi, weights[:, None])  # (H, 1)
    is_zero = (probs[..., 0] >= threshold).to(probs.dtype)  # (H, B)
    return torch.stack([is_zero, 1 - is_zero], dim=-1)  # (H, B, 2)


def logconf(logits, targets, frac, strengths):
    """CE to ``(1 - c_h) q + c_h stopgrad(harden(p))``, ``c_h = logconf_weight(frac_h)``."""
    # logconf_weight(f) = 0.5 * min(1, max(0, f) / 0.1), vectorized with the same float64 ops
    c = 0.5 * np.minimum(1.0, np.maximum(0.0, np.asarray(frac, float)) / 0.1)  # (H,)
    c_t = torch.as_tensor(c, dtype=torch.float32, device=logits.device)[:, None, None]
    one_minus = torch.as_tensor(1 - c, dtype=torch.float32, device=logits.device)[:, None, None]
    hard = _harden(torch.softmax(logits.detach().float(), -1), targets)  # (H, B, C)
    target = one_minus * targets.float() + c_t * hard  # (H, B, C)
    return _soft_ce(logits, target).mean(-1)


def product(logits, targets, frac, strengths):
    """CE to ``t ∝ p q`` (detached; ``alpha = beta = 1``), zeros of t dropped, per head."""
    q = targets.float()
    log_q = torch.where(q > 0, torch.log(q), torch.full_like(q, -math.inf))
    log_q = 1.0 * log_q
    log_t = 1.0 * F.log_softmax(logits.detach().float(), -1) + log_q
    target = torch.softmax(log_t, dim=-1)  # (H, B, C)
    log_p = F.log_softmax(logits.float(), dim=-1)
    return -torch.where(target > 0, target * log_p, torch.zeros_like(log_p)).sum(-1).mean(-1)


def ve(logits, targets, frac, strengths):
    """``-mean_i log(1 + (r_i - 1) <p_i, q_i>)``, ``r = e^s`` (see :func:`~.losses.ve_loss`)."""
    s = strengths  # (H, B)
    log_p = F.log_softmax(logits.float(), -1)
    log_m = torch.logsumexp(log_p + torch.log(targets.float().clamp_min(0)), dim=-1)  # (H, B)
    log_rm1 = s + torch.log(-torch.expm1(-s))
    loglik = torch.logaddexp(torch.zeros_like(log_m), log_rm1 + log_m)
    return -loglik.mean(-1)


def tempered(logits, targets, frac, strengths):
    """``mean_i w_i CE(p_i, q_i)`` per head."""
    return (strengths * _soft_ce(logits, targets.float())).mean(-1)


BATCHED_LOSSES = {
    "xent": xent,
    "logconf": logconf,
    "product": product,
    "ve": ve,
    "tempered": tempered,
}
assert set(BATCHED_LOSSES) == set(LOSSES)

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

"""W2S training losses: peer baselines and the Bayesian ones (virtual evidence, tempering).

Every loss has the signature ``loss(logits, targets, *, step_frac, strengths=None) -> scalar``
with ``logits (B, C)``, ``targets (B, C)`` weak soft labels (rows sum to 1), ``step_frac`` the
fraction of training done in [0, 1] and ``strengths (B,)`` per-example strengths from a
:class:`bayes_w2s.core.schedules.Schedule` (``log r`` for VE, the weight ``w`` for tempering).
Losses are batch means of per-example terms.

References
----------
Burns et al. (2023), Weak-to-strong generalization, arXiv 2312.09390 (xent, logconf, product;
code: github.com/openai/weak-to-strong ``weak_to_strong/loss.py``).
Pearl (1988) §2.2.2; Chan & Darwiche (2005) — virtual evidence.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "LOSSES",
    "get_loss",
    "kl_anchor",
    "l2_anchor",
    "logconf_loss",
    "logconf_weight",
    "product_loss",
    "tempered_loss",
    "ve_loss",
    "xent_loss",
]


def _check(logits: torch.Tensor, targets: torch.Tensor) -> None:
    if logits.ndim != 2 or logits.shape != targets.shape:
        raise ValueError(
            f"logits and targets must both be (B, C), got {tuple(logits.shape)}, {tuple(targets.shape)}"
        )


def _soft_ce(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-example ``-sum_y q(y) log p(y)``: ``(B,)``."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(-1)  # (B,)


def _soft_ce_target(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-example CE to a target with exact zeros: ``0 * log p`` terms are dropped (B,)."""
    log_p = F.log_softmax(logits.float(), dim=-1)  # (B, C)
    return -torch.where(target > 0, target * log_p, torch.zeros_like(log_p)).sum(-1)


def xent_loss(logits, targets, *, step_frac: float = 0.0, strengths=None) -> torch.Tensor:
    """Cross-entropy to the weak soft labels: ``mean_i -sum_y q_i(y) log p_theta(y|x_i)``."""
    _check(logits, targets)
    return _soft_ce(logits, targets.float()).mean()


def logconf_weight(step_frac: float, *, aux_coef: float = 0.5, warmup_frac: float = 0.1) -> float:
    """Confidence weight ``c = aux_coef * min(1, step_frac / warmup_frac)``.

    A linear ramp from 0 to ``aux_coef`` over the first ``warmup_frac`` of training (Burns et
    al. 2023, App. A). The openai code instead uses ``step_frac * aux_coef`` during warmup
    (reaching 0.05, then jumping to 0.5); that bug is not reproduced here.
    """
    if warmup_frac <= 0:
        return float(aux_coef)
    return float(aux_coef) * min(1.0, max(0.0, float(step_frac)) / warmup_frac)


def harden_by_quantile(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Harden student predictions ``probs (B, C)`` into one-hot ``(B, C)``.

    Binary: threshold ``p(0)`` at the quantile matching the weak labels' class balance in the
    batch, so the hardened predictions have (about) the weak labels' fraction of class 1
    (openai's ``logconf_loss_fn``). More than two classes: argmax.
    """
    if probs.shape[1] != 2:
        return F.one_hot(probs.argmax(-1), probs.shape[1]).to(probs.dtype)  # (B, C)
    frac_pos = targets[:, 1].float().mean()  # scalar: weak class balance in the batch
    threshold = torch.quantile(probs[:, 0].float(), frac_pos)
    is_zero = (probs[:, 0] >= threshold).to(probs.dtype)  # (B,)
    return torch.stack([is_zero, 1 - is_zero], dim=1)  # (B, 2)


def logconf_loss(
    logits,
    targets,
    *,
    step_frac: float,
    strengths=None,
    aux_coef: float = 0.5,
    warmup_frac: float = 0.1,
) -> torch.Tensor:
    """Auxiliary confidence loss: CE to ``(1 - c) q_w + c * stopgrad(harden(p_theta))``.

    ``c = logconf_weight(step_frac)``; see :func:`harden_by_quantile` for the hardening.
    """
    _check(logits, targets)
    c = logconf_weight(step_frac, aux_coef=aux_coef, warmup_frac=warmup_frac)
    hard = harden_by_quantile(torch.softmax(logits.detach().float(), -1), targets)  # (B, C)
    target = (1 - c) * targets.float() + c * hard  # (B, C)
    return _soft_ce(logits, target).mean()


def product_loss(
    logits,
    targets,
    *,
    step_frac: float = 0.0,
    strengths=None,
    alpha: float = 1.0,
    beta: float = 1.0,
) -> torch.Tensor:
    """CE to ``t ∝ p_theta^beta * q_w^alpha`` (detached), computed fully in log space.

    ``log t = beta log p + alpha log q - logsumexp(...)`` with ``log 0 = -inf`` (no clamp), so
    a hard weak label stays hard however strongly the student contradicts it: for
    ``q = e_w`` the target is ``e_w`` and the logit gradient ``p - e_w`` has norm near
    ``sqrt 2`` (``|d/dz_w| -> 1``) at 28 or 40 nats of contradiction. (A ``clamp_min(1e-12)``
    floor, ``log 1e-12 = -27.6``, flips the target once the student's log-odds against the
    weak label exceed 27.6 nats.) ``alpha = 0`` ignores q (``0 * log 0 := 0``).
    """
    _check(logits, targets)
    q = targets.float()
    log_q = torch.where(q > 0, torch.log(q), torch.full_like(q, -math.inf))  # (B, C)
    log_q = alpha * log_q if alpha > 0 else torch.zeros_like(q)
    log_t = beta * F.log_softmax(logits.detach().float(), -1) + log_q  # (B, C)
    target = torch.softmax(log_t, dim=-1)  # (B, C)
    return _soft_ce_target(logits, target).mean()


def _strengths(strengths, logits: torch.Tensor) -> torch.Tensor:
    if strengths is None:
        raise ValueError("this loss needs per-example strengths (B,) from a schedule")
    s = torch.as_tensor(strengths, dtype=torch.float32, device=logits.device)
    if s.ndim == 0:
        s = s.expand(logits.shape[0])
    if s.shape != (logits.shape[0],):
        raise ValueError(f"strengths must be (B,)={logits.shape[0]}, got {tuple(s.shape)}")
    if torch.any(s < 0) or not torch.all(torch.isfinite(s)):
        raise ValueError("strengths must be finite and non-negative")
    return s


def ve_loss(logits, targets, *, step_frac: float = 0.0, strengths=None) -> torch.Tensor:
    """Virtual-evidence loss ``-log(1 + (r_i - 1) <p_theta(.|x_i), q_i>)``, ``r_i = exp(s_i)``.

    The weak label is evidence with likelihood vector ``lambda_i(y) = 1 + (r_i - 1) q_i(y)``
    (Pearl 1988): for a hard label ``q_i = e_{y_w}`` this is ``lambda(y_w) = r``,
    ``lambda(other) = 1``; a soft label mixes "the weak label is right" (ratio r) with "no
    information" (ratio 1) in proportion ``q_i``. The marginal likelihood of the evidence is
    ``sum_y p(y) lambda(y) = 1 + (r - 1) m`` with ``m = <p, q>``, so the loss is its negative log.

    * ``r -> 1``: loss ``~ (r - 1)(-m) -> 0`` and its gradient vanishes linearly in ``r - 1``;
    * ``r -> inf``: loss ``= log(r - 1) - log(m + 1/(r-1))``, i.e. ``-log m`` plus a constant;
      for a hard label that is the hard-label cross-entropy.

    The gradient in the logits is ``-(r-1) m / (1 + (r-1) m) * (p ∘ q / m - p)``: bounded by 1
    in every coordinate whatever r, so one weak label moves the model only so far. Computed as
    ``logaddexp(0, log(r - 1) + log m)`` with ``log(r-1) = s + log(-expm1(-s))`` and
    ``log m = logsumexp(log p + log q)``: no overflow for ``s`` up to 50 and beyond.
    """
    _check(logits, targets)
    s = _strengths(strengths, logits)  # (B,)
    log_p = F.log_softmax(logits.float(), -1)  # (B, C)
    log_m = torch.logsumexp(log_p + torch.log(targets.float().clamp_min(0)), dim=-1)  # (B,)
    log_rm1 = s + torch.log(-torch.expm1(-s))  # (B,) log(r - 1); -inf at s = 0
    loglik = torch.logaddexp(torch.zeros_like(log_m), log_rm1 + log_m)  # (B,) log(1 + (r-1) m)
    return -loglik.mean()


def tempered_loss(logits, targets, *, step_frac: float = 0.0, strengths=None) -> torch.Tensor:
    """Tempered (power) likelihood: ``mean_i w_i * CE(p_theta(.|x_i), q_i)``.

    ``P(y|x,theta)^w``: unlike virtual evidence the per-example gradient scales with w but is
    not bounded when ``p_theta(y_w|x)`` is tiny.
    """
    _check(logits, targets)
    w = _strengths(strengths, logits)  # (B,)
    return (w * _soft_ce(logits, targets.float())).mean()


def kl_anchor(logits: torch.Tensor, init_logits: torch.Tensor) -> torch.Tensor:
    """``mean_i KL(p_theta(.|x_i) || p_0(.|x_i))``: the initial model's predictions as a prior."""
    log_p = F.log_softmax(logits.float(), -1)  # (B, C)
    log_p0 = F.log_softmax(init_logits.float(), -1)  # (B, C)
    return (log_p.exp() * (log_p - log_p0)).sum(-1).mean()


def l2_anchor(params, init_params) -> torch.Tensor:
    """``1/2 sum_k ||theta_k - theta0_k||^2``: a Gaussian prior centred on the initialization."""
    total = None
    for p, p0 in zip(params, init_params):
        term = 0.5 * (p.float() - p0.float()).pow(2).sum()
        total = term if total is None else total + term
    return total if total is not None else torch.tensor(0.0)


LOSSES = {
    "xent": xent_loss,
    "logconf": logconf_loss,
    "product": product_loss,
    "ve": ve_loss,
    "tempered": tempered_loss,
}
NEEDS_STRENGTHS = {"ve", "tempered"}


def get_loss(name: str):
    """The loss function registered under ``name``; clear error for unknown names."""
    if name not in LOSSES:
        raise ValueError(f"unknown method {name!r}; known: {', '.join(LOSSES)}")
    return LOSSES[name]

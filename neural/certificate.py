"""A certificate on how far a student can move, valid under a gradient-proportional optimizer.

A sum of loss weights bounds nothing under Adam (Adam divides the gradient by its own running
scale, so a uniformly small strength is undone). Under plain SGD without momentum the step is
``theta_{t+1} = theta_t - eta_t * grad L_t`` with ``L_t = mean_{i in b_t} l_i``, so by the
triangle inequality

    ||theta_T - theta_0|| <= sum_t eta_t * mean_{i in b_t} ||grad_theta l_i||
                          <= sum_t eta_t * mean_{i in b_t} g(s_i) * X  =: D        (1)

where ``g(s)`` bounds the per-example gradient in the *logits* and ``X`` the map from logits to
parameters:

* logits: every loss here has logit gradient ``c * (p - t)`` with ``t`` a distribution (the
  target) and ``||p - t||_2 <= sqrt 2``. Cross-entropy-type losses (xent, logconf, product):
  ``c = 1``. Tempered: ``c = w = s``. Virtual evidence ``-log(1 + (r-1) m)``, ``r = e^s``:
  ``c = a / (1 + a)`` with ``a = (r-1) m <= r - 1``, and ``a/(1+a) <= min(1, log(1+a)) <=
  min(1, s)``. So ``g(s) = sqrt 2 * min(1, s)`` (VE), ``sqrt 2 * s`` (tempered), ``sqrt 2``
  (CE-type).
* parameters, for a linear head ``z = W x~ + b`` on frozen standardized features ``x~``:
  ``dl/d(W, b) = (dl/dz) (x~, 1)^T``, Frobenius norm ``||dl/dz|| * sqrt(||x~||^2 + 1)``; so
  ``X = max_i sqrt(||x~_i||^2 + 1)`` over the training inputs. No clipping is needed: the bound
  is analytic. For any other model (an MLP head, a finetuned transformer) no ``X`` is derived
  and the certificate is reported as NaN (the measured movement is still recorded).

An L2 anchor ``a/2 ||theta - theta_0||^2`` keeps (1) valid when ``eta_t * a <= 2`` (the anchor
multiplies ``theta - theta_0`` by ``1 - eta_t a``, of modulus <= 1); weight decay or a KL anchor
void it (reported as NaN).

Predictions. For a held-out input ``x`` the logits move by ``delta = dW x~ + db`` with
``||delta|| <= D * sqrt(||x~||^2 + 1)``; and ``KL(softmax(z + delta) || softmax(z))`` is the
Bregman divergence of the log-partition function, whose Hessian (a covariance of a variable with
range <= sqrt 2 ||u|| along a unit direction u) is at most 1/2, while also
``KL <= range(delta) <= sqrt 2 ||delta||``. So, per example,

    KL(p_T(x) || p_0(x)) <= min(||delta||^2 / 4, sqrt 2 ||delta||)                  (2)

and the recorded ``kl_bound`` is the mean of (2) over the held-out inputs with ``D`` from (1).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .losses import logconf_loss, product_loss, tempered_loss, ve_loss, xent_loss

__all__ = [
    "SQRT2",
    "certificate_valid",
    "input_scales",
    "kl_bound",
    "logit_grad_bound",
    "param_distance",
    "prediction_kl",
]

SQRT2 = math.sqrt(2.0)


def _ce_bound(s: np.ndarray) -> np.ndarray:
    return np.full(np.shape(s), SQRT2)


def _ve_bound(s: np.ndarray) -> np.ndarray:
    return SQRT2 * np.minimum(1.0, s)


def _tempered_bound(s: np.ndarray) -> np.ndarray:
    return SQRT2 * np.asarray(s, float)


_BOUNDS = {
    xent_loss: _ce_bound,
    logconf_loss: _ce_bound,
    product_loss: _ce_bound,
    ve_loss: _ve_bound,
    tempered_loss: _tempered_bound,
}


def logit_grad_bound(loss_fn, strengths: np.ndarray | None, batch_size: int) -> float:
    """``mean_{i in batch} g(s_i)``: the bound on a batch-mean logit gradient's per-example norm.

    ``strengths`` is ``(B,)`` or None (CE-type losses, ``g = sqrt 2``). NaN for a loss whose
    gradient bound is not derived here.
    """
    fn = _BOUNDS.get(loss_fn)
    if fn is None:
        return math.nan
    if strengths is None:
        if fn is not _ce_bound:
            return math.nan
        return SQRT2
    return float(np.mean(fn(np.asarray(strengths, float))))


def input_scales(model: torch.nn.Module, inputs: dict) -> np.ndarray | None:
    """``sqrt(||x~_i||^2 + 1)`` per input ``(n,)`` for a linear feature head, else None."""
    from .features import FeatureHead

    if not isinstance(model, FeatureHead) or not isinstance(model.net, torch.nn.Linear):
        return None
    x = inputs["features"].float()
    z = (x - model.mean.cpu()) / model.std.cpu()  # (n, H) standardized as in forward
    return torch.sqrt(z.pow(2).sum(1) + 1.0).double().numpy()


def certificate_valid(cfg) -> str:
    """``""`` if bound (1) holds for TrainConfig ``cfg``, else the reason it does not."""
    if cfg.optimizer != "sgd":
        return f"optimizer {cfg.optimizer!r} is not gradient-proportional"
    if cfg.weight_decay > 0:
        return "weight decay pulls toward 0, not theta_0"
    if cfg.anchor == "kl" and cfg.anchor_weight > 0:
        return "a KL anchor's gradient is not bounded by the schedule"
    if cfg.anchor == "l2" and cfg.lr * cfg.anchor_weight > 2:
        return "lr * anchor_weight > 2: the L2 anchor overshoots"
    return ""


def param_distance(params, init_params) -> float:
    """``||theta - theta_0||_2`` over all trainable tensors."""
    total = 0.0
    for p, p0 in zip(params, init_params):
        total += float((p.detach().double().cpu() - p0.double().cpu()).pow(2).sum())
    return math.sqrt(total)


def prediction_kl(logits: np.ndarray, init_logits: np.ndarray) -> float:
    """``mean_i KL(softmax(z_i) || softmax(z0_i))`` in float64."""
    z = np.asarray(logits, float)
    z0 = np.asarray(init_logits, float)
    log_p = z - z.max(1, keepdims=True)
    log_p -= np.log(np.exp(log_p).sum(1, keepdims=True))
    log_p0 = z0 - z0.max(1, keepdims=True)
    log_p0 -= np.log(np.exp(log_p0).sum(1, keepdims=True))
    return float(np.mean((np.exp(log_p) * (log_p - log_p0)).sum(1)))


def kl_bound(distance_bound: float, scales: np.ndarray | None) -> float:
    """Mean over held-out inputs of (2) with ``||delta_i|| <= distance_bound * scales_i``."""
    if scales is None or not math.isfinite(distance_bound):
        return math.nan
    delta = distance_bound * np.asarray(scales, float)
    return float(np.mean(np.minimum(delta**2 / 4.0, SQRT2 * delta)))

"""Per-example constants of the movement certificate, its validity, and measurements.

A sum of loss weights bounds nothing under Adam (Adam divides the gradient by its own running
scale, so a uniformly small strength is undone). Under momentum-free SGD on a *linear head*
``z = W x~ + b`` over frozen standardized features the update is linear in the per-example
logit gradients ``e_i = dl_i/dz``, and everything a certificate needs reduces to two per-example
constants of the loss, computed here, and the geometry of the inputs (:mod:`.certificate_linear`,
which derives the path bounds: old, per-example, Gram and linearized, and the prediction-flip
bound).

Gradient bound ``g``: ``||e_i|| <= g`` whatever the current prediction ``p``
---------------------------------------------------------------------------------
Every loss here has ``e = c (p - t)`` with ``t`` a distribution.

* Cross-entropy to ``q``: ``e = p - q``; ``||p - q||^2`` is convex in ``p``, so its sup over the
  simplex is at a vertex: ``g_CE(q) = sqrt(1 + ||q||^2 - 2 min_k q_k)`` (exact; ``sqrt 2`` for a
  hard label). Tempered: ``s * g_CE(q)``. logconf and product (targets that move with ``p``):
  ``sqrt 2``.
* Virtual evidence ``l = -log(1 + A m)``, ``A = e^s - 1``, ``m = <p, q>``:
  ``e = -A v / (1 + A m)`` with ``v = grad_z m = p o (q - m 1)``. Three bounds, take the least:

  - ``||v|| <= rho / (2 sqrt 2)`` with ``rho = max q - min q``: the entries ``p_k (q_k - m)`` sum
    to 0; with ``S`` the sum of the positive ones, ``||v||^2 <= 2 S^2`` and
    ``S <= min(pi a, (1 - pi) b) <= sqrt(pi (1-pi) a b) <= rho / 4`` (``pi`` the mass of
    classes above ``m``, ``a = max q - m``, ``b = m - min q``, ``a + b = rho``); with
    ``m >= min q``: ``||e|| <= A rho / (2 sqrt 2 (1 + A min q))``. Attained for two classes at
    ``p`` uniform, a hard label and ``A -> 0``.
  - ``||v||^2 <= Var_p(q) <= m (1 - m)``, and ``A sqrt(m(1-m)) / (1 + A m) <= sinh(s/2)``
    (maximised at ``m = 1/(A + 2)``).
  - ``e = (A m / (1 + A m)) (p o q / m - p)``, a difference of distributions times a factor
    ``<= A max q / (1 + A max q)``: ``||e|| <= sqrt 2 A max q / (1 + A max q) <= sqrt 2``.

  - two classes, exactly: the loss depends on the margin only, ``||e|| = sqrt 2 A rho x (1 - x)
    / (c + A rho x)`` with ``x`` the predicted probability of the class the weak label
    disfavours and ``c = 1 + A min q``; its maximum over ``x`` is at the root
    ``x* = c / (c + sqrt(c^2 + A rho c))`` of ``A rho x^2 + 2 c x - c`` (``x* -> 1/2``, the
    first bound with ``1 + A/2`` for ``1 + A min q``, as ``A -> 0``).

  The old constant ``sqrt 2 min(1, s)`` (kept as :func:`logit_grad_bound`) ignores ``q`` and
  is ``2 sqrt 2 / rho`` times larger at small ``s``.

Hessian bound ``L``: ``||d e / d z|| <= L``, so ``||e(z) - e(z')|| <= L ||z - z'||``
----------------------------------------------------------------------------------------
* CE: ``de/dz = diag(p) - p p^T``, the covariance of the one-hot ``Y ~ p``:
  ``u^T (.) u = Var(u_Y) <= range(u)^2 / 4 <= ||u||^2 / 2``, so ``L = 1/2`` (attained at ``p``
  uniform over two classes). Tempered: ``s / 2``.
* VE: ``d^2 l = -A d^2 m / (1 + A m) + A^2 v v^T / (1 + A m)^2``; along a unit ``u``,
  ``u^T d^2 m u = E_p[(q_Y - m)(u_Y - u_bar)^2]`` (the third mixed central moment of the
  exponential family), ``|.| <= rho Var(u_Y) <= rho / 2``. So
  ``L = A rho / (2 (1 + A min q)) + g_VE^2``.
* logconf, product: not derived (NaN); only bounds that need ``g`` alone apply to them.

An L2 anchor, weight decay or a movement cap enter the path, not these constants (see
:mod:`.certificate_linear`). A KL anchor's gradient is not bounded by the schedule: not
certified. Adam: not certified.

Predictions. For a held-out input the logits move by ``delta``; ``KL(softmax(z + delta) ||
softmax(z))`` is a Bregman divergence of the log-partition, whose Hessian is at most 1/2, and
also at most ``range(delta) <= sqrt 2 ||delta||``:

    KL(p_T(x) || p_0(x)) <= min(||delta||^2 / 4, sqrt 2 ||delta||)                  (2)
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .losses import logconf_loss, product_loss, tempered_loss, ve_loss, xent_loss

__all__ = [
    "CERTIFIED_LOSSES",
    "SQRT2",
    "binary_local_apply",
    "binary_local_coeffs",
    "certificate_valid",
    "count_flips",
    "input_scales",
    "kl_bound",
    "kl_bound_per_input",
    "logit_grad",
    "logit_grad_bound",
    "logit_grad_bound_data",
    "logit_hessian_bound",
    "logit_hessian_bound_binary",
    "loss_name",
    "param_distance",
    "prediction_kl",
    "standardized_features",
]

SQRT2 = math.sqrt(2.0)
_NAMES = {
    xent_loss: "xent",
    logconf_loss: "logconf",
    product_loss: "product",
    ve_loss: "ve",
    tempered_loss: "tempered",
}
CERTIFIED_LOSSES = tuple(_NAMES.values())
_WITH_STRENGTHS = ("ve", "tempered")


def loss_name(loss_fn) -> str | None:
    """The registered name of a loss function (``"xent"``, ``"ve"``, ...), else None."""
    return _NAMES.get(loss_fn)


# ---------------------------------------------------------------- old constants (kept)
def _old_g(name: str, s: np.ndarray | None) -> np.ndarray | float:
    if name in ("xent", "logconf", "product"):
        return SQRT2 if s is None else np.full(np.shape(s), SQRT2)
    if s is None:
        return math.nan
    s = np.asarray(s, float)
    return SQRT2 * (np.minimum(1.0, s) if name == "ve" else s)


def logit_grad_bound(loss_fn, strengths: np.ndarray | None, batch_size: int) -> float:
    """Old constant ``mean_{i in batch} g(s_i)`` without the targets: ``sqrt 2 min(1, s)`` (VE),
    ``sqrt 2 s`` (tempered), ``sqrt 2`` (CE-type). ``strengths (B,)`` or None; NaN for an
    unknown loss (or a strength loss without strengths)."""
    name = loss_name(loss_fn) if callable(loss_fn) else loss_fn
    if name not in CERTIFIED_LOSSES:
        return math.nan
    g = _old_g(name, strengths)
    return float(np.mean(g)) if np.ndim(g) else float(g)


# ---------------------------------------------------------------- data-dependent constants
def _check_qs(name: str, q, s):
    if name not in CERTIFIED_LOSSES:
        raise ValueError(f"no certificate constants for loss {name!r}; known: {CERTIFIED_LOSSES}")
    q = np.asarray(q, float)
    if q.ndim != 2 or q.shape[1] < 2:
        raise ValueError(f"targets must be (n, C) with C >= 2, got {q.shape}")
    if np.any(q < -1e-9) or not np.allclose(q.sum(1), 1.0, atol=1e-5):
        raise ValueError("targets must be rows of probabilities summing to 1")
    if name in _WITH_STRENGTHS:
        if s is None:
            raise ValueError(f"loss {name!r} needs strengths")
        s = np.broadcast_to(np.asarray(s, float), (len(q),))
        if np.any(s < 0) or not np.all(np.isfinite(s)):
            raise ValueError("strengths must be finite and non-negative")
    return q, s


def _ce_sup(q: np.ndarray) -> np.ndarray:
    return np.sqrt(np.maximum(1.0 + (q * q).sum(1) - 2.0 * q.min(1), 0.0))


def logit_grad_bound_data(name: str, q: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
    """Per-example ``g_i >= sup_p ||dl_i/dz||`` from the target ``q_i`` and strength ``s_i``.

    ``q (n, C)``, ``s (n,)`` (VE, tempered) -> ``(n,)``; formulas in the module docstring.
    """
    q, s = _check_qs(name, q, s)
    if name == "xent":
        return _ce_sup(q)
    if name == "tempered":
        return s * _ce_sup(q)
    if name in ("logconf", "product"):
        return np.full(len(q), SQRT2)
    g = _ve_g(np.expm1(s), q)
    return np.minimum(g, _ve_g_binary(np.expm1(s), q)) if q.shape[1] == 2 else g


def _ve_g_binary(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Two classes: the exact ``sup_p ||e||`` (module docstring), ``(n,)``."""
    rho = np.abs(q[:, 0] - q[:, 1])
    c = 1.0 + a * q.min(1)
    with np.errstate(over="ignore", invalid="ignore"):
        ar = a * rho
        x = c / (c + np.sqrt(c * c + ar * c))  # argmax of x(1-x) / (c + A rho x)
        g = SQRT2 * ar * x * (1.0 - x) / (c + ar * x)
    return np.where(np.isfinite(g), g, np.inf)


def _ve_g(a: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The VE gradient bound from ``A = e^s - 1`` ``(n,)`` and ``q`` ``(n, C)``."""
    rho, qmin, qmax = q.max(1) - q.min(1), q.min(1), q.max(1)
    with np.errstate(over="ignore", invalid="ignore"):
        b1 = a * rho / (2 * SQRT2 * (1 + a * qmin))
        b3 = np.where(np.isinf(a), SQRT2, SQRT2 * a * qmax / (1 + a * qmax))
    b1 = np.where(np.isinf(a), np.inf, b1)
    sinh = np.where(np.isinf(a), np.inf, np.sqrt(a * a / (4.0 * (a + 1.0))))  # sinh(s/2)
    return np.minimum(np.minimum(b1, sinh), b3)


def logit_hessian_bound(name: str, q: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
    """Per-example ``L_i >= sup_z ||d^2 l_i / dz^2||`` (the logit gradient's Lipschitz constant).

    ``1/2`` (xent), ``s/2`` (tempered), ``A rho / (2 (1 + A min q)) + g^2`` (VE); NaN for
    logconf and product (their targets move with the prediction). ``(n,)``.
    """
    q, s = _check_qs(name, q, s)
    if name == "xent":
        return np.full(len(q), 0.5)
    if name == "tempered":
        return s / 2.0
    if name in ("logconf", "product"):
        return np.full(len(q), math.nan)
    a = np.expm1(s)
    rho, qmin = q.max(1) - q.min(1), q.min(1)
    with np.errstate(over="ignore", invalid="ignore"):
        first = np.where(np.isinf(a), np.inf, a * rho / (2 * (1 + a * qmin)))
    return first + logit_grad_bound_data(name, q, s) ** 2


def logit_hessian_bound_binary(
    name: str, q: np.ndarray, s: np.ndarray | None, d0: np.ndarray, w: np.ndarray
) -> np.ndarray:
    """Two classes: ``L_i`` valid on the logit segment where the margin ``d = z_1 - z_2`` stays
    within ``|d - d0_i| <= w_i`` (``(n,)`` each).

    With two classes the loss depends on ``d`` only and ``||d^2 l / dz^2|| = 2 |l''(d)|``.
    CE: ``l'' = s sigma'(d)``, ``sigma' <= sigma'(max(0, |d0| - w))``. VE: ``l = -log(1 + A m)``,
    ``m = q_2 + delta sigma(d)``, ``delta = q_1 - q_2``:
    ``l'' = -A delta sigma'' / (1 + A m) + (A delta sigma')^2 / (1 + A m)^2`` with
    ``|sigma''| = sigma' |tanh(d/2)| <= tanh((|d0| + w) / 2) / 4`` and ``sigma' <= 1/4``:

        L = 2 [A rho tanh((|d0| + w)/2) / (4 (1 + A min q)) + (A rho / (4 (1 + A min q)))^2].

    At a uniform start (``d0 = 0``) the VE gradient is stationary in ``d`` to first order, so
    ``L`` shrinks with the movement ``w``: the remainder of the linearized path is second
    order. Logconf and product: NaN.
    """
    q, s = _check_qs(name, q, s)
    if q.shape[1] != 2:
        raise ValueError("the local bound is derived for two classes only")
    return _binary_local(name, q, s, np.abs(np.asarray(d0, float)), np.asarray(w, float))


def _binary_local(name, q, s, d0, w):
    """:func:`logit_hessian_bound_binary` without the input checks."""
    if name in ("logconf", "product"):
        return np.full(len(q), math.nan)
    return binary_local_apply(*binary_local_coeffs(name, q, s), d0, w)


def binary_local_coeffs(name: str, q: np.ndarray, s: np.ndarray | None):
    """The parts of the two-class local ``L`` that do not depend on the margins, per example:
    ``("sigmoid", scale, None)`` for CE (``scale`` 1, tempered ``s``) and ``("ve", k, cap)``
    with ``k = A rho / (4 (1 + A min q))`` and ``cap = 2 k + g_VE^2`` (the global ``L``).
    Computed once per visit; :func:`binary_local_apply` finishes ``L`` at given margins (the
    certificate's loop calls it at every step). xent, tempered or VE only."""
    if name in ("xent", "tempered"):
        return "sigmoid", (1.0 if name == "xent" else s), None
    a = np.expm1(s)
    rho, qmin = q.max(1) - q.min(1), q.min(1)
    with np.errstate(over="ignore", invalid="ignore"):
        k = np.where(np.isinf(a), np.inf, a * rho / (4.0 * (1.0 + a * qmin)))
    return "ve", k, 2.0 * k + _ve_g(a, q) ** 2


def binary_local_apply(kind: str, a, b, d0: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Two-class ``L`` (:func:`logit_hessian_bound_binary`) from :func:`binary_local_coeffs`
    ``(kind, a, b)``, ``|d0|`` and ``w`` (broadcasting): ``2 a sigma'(max(0, |d0| - w))``
    (CE) or ``min(2 (k tanh((|d0| + w) / 2) + k^2), cap)`` (VE)."""
    if kind == "sigmoid":
        x = np.maximum(0.0, d0 - w)
        sig = 1.0 / (1.0 + np.exp(-x))
        return 2.0 * a * sig * (1.0 - sig)
    return np.minimum(2.0 * (a * np.tanh((d0 + w) / 2.0) + a * a), b)


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def logit_grad(name: str, z: np.ndarray, q: np.ndarray, s: np.ndarray | None = None) -> np.ndarray:
    """Exact per-example logit gradient ``dl_i/dz_i`` in float64: ``(n, C)``.

    xent ``p - q``; tempered ``s (p - q)``; VE ``-A p o (q - m) / (1 + A m)``. Raises for
    logconf and product (their targets depend on the batch).
    """
    if name in ("logconf", "product"):
        raise ValueError(f"no closed-form per-example gradient for {name!r}")
    q, s = _check_qs(name, q, s)
    z = np.asarray(z, float)
    if z.shape != q.shape:
        raise ValueError(f"logits {z.shape} and targets {q.shape} differ")
    p = np.exp(_log_softmax(z))  # (n, C)
    if name == "xent":
        return p - q
    if name == "tempered":
        return s[:, None] * (p - q)
    a = np.expm1(s)[:, None]  # (n, 1)
    m = (p * q).sum(1, keepdims=True)  # (n, 1)
    return -a * p * (q - m) / (1 + a * m)


# ---------------------------------------------------------------- validity
def certificate_valid(cfg) -> str:
    """``""`` if the SGD path bounds hold for TrainConfig ``cfg``, else the reason they do not.

    Weight decay (toward 0) and an L2 anchor (toward ``theta_0``) are accepted: they enter the
    path as the contraction ``1 - eta_t (lambda + a)`` (and a drift ``eta_t lambda theta_0``).
    """
    if cfg.optimizer != "sgd":
        return f"optimizer {cfg.optimizer!r} is not gradient-proportional"
    if cfg.anchor == "kl" and cfg.anchor_weight > 0:
        return "a KL anchor's gradient is not bounded by the schedule"
    return ""


def standardized_features(model: torch.nn.Module, inputs: dict) -> np.ndarray | None:
    """``x~ = (x - mean) / std`` ``(n, H)`` float64 as the head's forward sees them, if ``model``
    is a linear head on features (a ``net`` that is one ``nn.Linear`` and ``mean``/``std``
    buffers, as :class:`~.features.FeatureHead`); else None."""
    net = getattr(model, "net", None)
    if (
        not isinstance(net, torch.nn.Linear)
        or net.bias is None
        or not hasattr(model, "mean")
        or "features" not in inputs
    ):
        return None
    x = inputs["features"].float()
    z = (x - model.mean.detach().cpu()) / model.std.detach().cpu()  # (n, H) float32 as forward
    return z.double().numpy()


def input_scales(model: torch.nn.Module, inputs: dict) -> np.ndarray | None:
    """``sqrt(||x~_i||^2 + 1)`` per input ``(n,)`` for a linear feature head, else None."""
    z = standardized_features(model, inputs)
    return None if z is None else np.sqrt((z * z).sum(1) + 1.0)


# ---------------------------------------------------------------- measurements
def param_distance(params, init_params) -> float:
    """``||theta - theta_0||_2`` over all trainable tensors."""
    total = 0.0
    for p, p0 in zip(params, init_params):
        total += float((p.detach().double().cpu() - p0.double().cpu()).pow(2).sum())
    return math.sqrt(total)


def prediction_kl(logits: np.ndarray, init_logits: np.ndarray) -> float:
    """``mean_i KL(softmax(z_i) || softmax(z0_i))`` in float64."""
    log_p = _log_softmax(np.asarray(logits, float))
    log_p0 = _log_softmax(np.asarray(init_logits, float))
    return float(np.mean((np.exp(log_p) * (log_p - log_p0)).sum(1)))


def count_flips(logits: np.ndarray, reference_logits: np.ndarray) -> int:
    """Number of inputs whose argmax differs between two ``(n, C)`` logit arrays."""
    a, b = np.asarray(logits), np.asarray(reference_logits)
    if a.shape != b.shape:
        raise ValueError(f"logit shapes differ: {a.shape} vs {b.shape}")
    return int((a.argmax(1) != b.argmax(1)).sum())


def kl_bound_per_input(delta_norm: np.ndarray) -> np.ndarray:
    """(2) per input from a bound on ``||delta||``: ``min(d^2 / 4, sqrt 2 d)``."""
    d = np.asarray(delta_norm, float)
    return np.minimum(d**2 / 4.0, SQRT2 * d)


def kl_bound(distance_bound: float, scales: np.ndarray | None) -> float:
    """Mean over held-out inputs of (2) with ``||delta_i|| <= distance_bound * scales_i``."""
    if scales is None or not math.isfinite(distance_bound):
        return math.nan
    return float(np.mean(kl_bound_per_input(distance_bound * np.asarray(scales, float))))

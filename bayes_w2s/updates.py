"""Update rules in log space: hard Bayes, virtual evidence, Jeffrey, tempered.

All functions are pure: they take a log prior ``(..., H)`` and return an
:class:`UpdateResult` with the normalized log posterior and the log normalizer.

* Hard Bayes on label y at context z:
  ``log post(h) = log prior(h) + log P(y|z,h) - log Z``.
* Virtual evidence with likelihood vector ``lambda`` over labels (Pearl 1988 §2.2.2):
  ``post(h) ∝ prior(h) sum_y P(y|z,h) lambda(y)``. A weak label ``y_w`` with strength
  ``s = log r`` uses ``lambda(y_w) = r``, ``lambda(other) = 1``, so its log-likelihood is
  ``log(1 + (r - 1) P(y_w|z,h))``; ``r = 1`` is no update, ``r -> inf`` the hard update.
  The Chan–Darwiche distance of such an update is at most ``log r = s``.
* Jeffrey update to a target label marginal q: ``post(h) = sum_y q(y) P(h | y)``; it equals
  virtual evidence with ``lambda(y) ∝ q(y) / P(y)`` (Chan & Darwiche 2005).
* Tempered update with weight w: ``post(h) ∝ prior(h) P(y|z,h)^w`` (``0^0 = 1``). It does
  not bound influence: one label with ``P(y|z,h) = 0`` removes ``h`` for every ``w > 0``.

Evidence that every hypothesis gives probability 0 raises :class:`ImpossibleEvidenceError`
naming the observation, never a NaN.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from bayes_w2s.schedules import Schedule

__all__ = [
    "RULES",
    "UpdateResult",
    "ImpossibleEvidenceError",
    "normalize",
    "hard_update",
    "virtual_evidence_update",
    "weak_label_loglik",
    "weak_label_update",
    "jeffrey_likelihood",
    "jeffrey_update",
    "tempered_update",
    "observation_logliks",
    "condition",
]

RULES = ("bayes", "ve", "tempered")
_DIRECT_MAX_STRENGTH = 30.0  # below this, r - 1 = expm1(s) cannot overflow


class UpdateResult(NamedTuple):
    """``log_posterior (..., H)``, normalized; ``log_normalizer (...)``: ``log Z`` of the update."""

    log_posterior: NDArray[np.float64]
    log_normalizer: NDArray[np.float64]


class ImpossibleEvidenceError(ValueError):
    """Every hypothesis assigns probability 0 to the evidence."""

    def __init__(self, message: str, index: int | None = None):
        super().__init__(message)
        self.index = index


def normalize(log_weights: ArrayLike, *, what: str = "the evidence") -> UpdateResult:
    """Normalize unnormalized log weights ``(..., H)`` with logsumexp."""
    lw = np.asarray(log_weights, dtype=float)
    if np.any(np.isnan(lw)):
        raise ValueError(f"NaN log weight in {what}")
    log_z = logsumexp(lw, axis=-1)
    if np.any(np.isneginf(log_z)):
        raise ImpossibleEvidenceError(f"impossible evidence: every hypothesis gives {what} probability 0")
    return UpdateResult(lw - log_z[..., None], log_z)


def _check_log_prior(log_prior: ArrayLike) -> NDArray[np.float64]:
    lp = np.asarray(log_prior, dtype=float)
    if lp.ndim == 0 or np.any(np.isnan(lp)) or np.any(lp == np.inf):
        raise ValueError("log_prior must be an array (..., H) of finite values or -inf")
    return lp


def _check_strength(s: ArrayLike, what: str) -> NDArray[np.float64]:
    s = np.asarray(s, dtype=float)
    if np.any(np.isnan(s)) or np.any(s < 0):
        raise ValueError(f"{what} must be non-negative (got min {np.nanmin(s) if s.size else s!r})")
    return s


def hard_update(log_prior: ArrayLike, loglik: ArrayLike) -> UpdateResult:
    """Bayes: ``log post = log prior + log P(y|z,h) - log Z``; ``loglik (..., H)``."""
    return normalize(_check_log_prior(log_prior) + np.asarray(loglik, dtype=float))


def virtual_evidence_update(
    log_prior: ArrayLike, log_probs: ArrayLike, log_lambda: ArrayLike
) -> UpdateResult:
    """Virtual evidence: ``post(h) ∝ prior(h) sum_y P(y|z,h) lambda(y)``.

    Parameters
    ----------
    log_prior : (..., H)
    log_probs : (H, K)
        ``log P(y | z, h)`` at the observed context.
    log_lambda : (K,)
        Log likelihood vector; only ratios matter. ``-inf`` entries allowed, not all.
    """
    log_lambda = np.asarray(log_lambda, dtype=float)
    if log_lambda.ndim != 1 or np.any(np.isnan(log_lambda)) or np.any(log_lambda == np.inf):
        raise ValueError("log_lambda must be a 1-D vector of finite values or -inf")
    if np.all(np.isneginf(log_lambda)):
        raise ValueError("a likelihood vector of all zeros carries no evidence")
    loglik = logsumexp(np.asarray(log_probs, dtype=float) + log_lambda, axis=-1)  # (H,)
    return normalize(_check_log_prior(log_prior) + loglik, what="the virtual evidence")


def weak_label_loglik(log_p_label: ArrayLike, strength: ArrayLike) -> NDArray[np.float64]:
    """``log(1 + (r - 1) P(y_w|z,h))`` with ``r = exp(strength)``, stable for large ``r``.

    Uses ``log(r - 1) = s + log(-expm1(-s))`` and ``logaddexp``; ``s = 0`` gives 0.
    """
    s = _check_strength(strength, "strength (log r)")
    log_p = np.asarray(log_p_label, dtype=float)
    if s.size and s.max() <= _DIRECT_MAX_STRENGTH:  # log1p((r - 1) P): one transcendental
        return np.log1p(np.expm1(s) * np.exp(log_p))
    with np.errstate(divide="ignore"):
        log_r_minus_1 = s + np.log(-np.expm1(-s))
    return np.logaddexp(0.0, log_r_minus_1 + log_p)


def weak_label_update(log_prior: ArrayLike, log_p_label: ArrayLike, strength: float) -> UpdateResult:
    """Virtual evidence for weak label ``y_w`` with strength ``s = log r``.

    ``log_p_label (H,)`` is ``log P(y_w | z, h)``.
    """
    return normalize(_check_log_prior(log_prior) + weak_label_loglik(log_p_label, strength))


def jeffrey_likelihood(log_prior: ArrayLike, log_probs: ArrayLike, target: ArrayLike) -> NDArray[np.float64]:
    """The virtual-evidence vector equivalent to a Jeffrey update: ``log q(y) - log P(y)``.

    ``P(y) = sum_h prior(h) P(y|z,h)``; raises if ``q(y) > 0`` where ``P(y) = 0``.
    """
    q = np.asarray(target, dtype=float)
    if q.ndim != 1 or np.any(q < 0) or np.any(q > 1) or abs(q.sum() - 1) > 1e-9:
        raise ValueError("target must be a probability vector over labels")
    log_marg = logsumexp(_check_log_prior(log_prior)[:, None] + np.asarray(log_probs, float), axis=0)  # (K,)
    if np.any((q > 0) & np.isneginf(log_marg)):
        raise ImpossibleEvidenceError("Jeffrey target puts mass on a label the prior deems impossible")
    with np.errstate(divide="ignore"):
        log_q = np.log(q)
    return np.where(q > 0, log_q - np.where(np.isneginf(log_marg), 0.0, log_marg), -np.inf)


def jeffrey_update(log_prior: ArrayLike, log_probs: ArrayLike, target: ArrayLike) -> UpdateResult:
    """Jeffrey's rule ``post(h) = sum_y q(y) P(h | y)`` for ``log_probs (H, K)``, ``target (K,)``.

    Computed directly from the per-label Bayes posteriors (not via virtual evidence, so
    the identity with :func:`virtual_evidence_update` is a real check).
    """
    lp = _check_log_prior(log_prior)
    log_lambda = jeffrey_likelihood(lp, log_probs, target)  # validates target
    log_probs = np.asarray(log_probs, dtype=float)
    joint = lp[:, None] + log_probs  # (H, K)
    log_marg = logsumexp(joint, axis=0)  # (K,)
    keep = np.isfinite(log_lambda)
    with np.errstate(divide="ignore"):
        log_q = np.log(np.asarray(target, float)[keep])
    post = logsumexp(joint[:, keep] - log_marg[keep] + log_q, axis=1)  # (H,)
    return UpdateResult(post - logsumexp(post), logsumexp(lp[:, None] + log_probs + log_lambda, axis=(0, 1)))


def _tempered_loglik(loglik: NDArray[np.float64], w: NDArray[np.float64]) -> NDArray[np.float64]:
    """``w log P`` with ``0 log 0 = 0`` (``P^0 = 1``), without a ``0 * -inf`` NaN."""
    return np.where(w == 0, 0.0, w * np.where(np.isneginf(loglik) & (w == 0), 0.0, loglik))


def tempered_update(log_prior: ArrayLike, loglik: ArrayLike, weight: float) -> UpdateResult:
    """Power update ``post(h) ∝ prior(h) P(y|z,h)^w``, with ``0^0 = 1``."""
    w = _check_strength(weight, "tempering weight w")
    loglik = np.asarray(loglik, dtype=float)
    return normalize(_check_log_prior(log_prior) + _tempered_loglik(loglik, w))


def observation_logliks(
    log_probs: ArrayLike,
    contexts: ArrayLike,
    labels: ArrayLike,
    *,
    rule: str = "bayes",
    strengths: ArrayLike | float | None = None,
) -> NDArray[np.float64]:
    """Per-observation log-likelihood terms ``(N, H)`` under a rule.

    ``bayes``: ``log P(y_i|z_i,h)``; ``ve``: ``log(1 + (r_i - 1) P(y_i|z_i,h))`` with
    ``r_i = exp(s_i)``; ``tempered``: ``w_i log P(y_i|z_i,h)`` (``0 log 0 = 0``).
    """
    log_probs = np.asarray(log_probs, dtype=float)
    if log_probs.ndim == 2:
        log_probs = log_probs[:, None, :]
    if log_probs.ndim != 3:
        raise ValueError(f"log_probs must be (H, Z, K) or (H, K), got shape {log_probs.shape}")
    _, n_ctx, n_lab = log_probs.shape
    z = np.asarray(contexts)
    y = np.asarray(labels)
    if z.shape != y.shape or z.ndim != 1:
        raise ValueError(f"contexts and labels must be 1-D of one length, got {z.shape} and {y.shape}")
    for arr, size, what in ((z, n_ctx, "context"), (y, n_lab, "label")):
        if arr.size and (not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= size):
            raise ValueError(f"{what} indices must be integers in [0, {size}); got values outside")
    ll = log_probs[:, z, y].T  # (N, H)
    if rule == "bayes":
        if strengths is not None:
            raise ValueError("hard Bayes takes no strengths (use rule='tempered' or 've')")
        return ll
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; known: {', '.join(RULES)}")
    if strengths is None:
        raise ValueError(f"rule {rule!r} needs strengths (log r for 've', w for 'tempered')")
    s = np.broadcast_to(_check_strength(strengths, "strengths"), z.shape)[:, None]  # (N, 1)
    if rule == "ve":
        return weak_label_loglik(ll, s)
    return _tempered_loglik(ll, s)


def condition(
    log_prior: ArrayLike,
    log_probs: ArrayLike,
    contexts: ArrayLike,
    labels: ArrayLike,
    *,
    rule: str = "bayes",
    strengths: ArrayLike | float | Schedule | None = None,
) -> UpdateResult:
    """Condition on a sequence of (context, label) observations under one rule.

    ``strengths`` is an array ``(N,)``, a scalar, or a :class:`~bayes_w2s.schedules.Schedule`
    (then ``schedule.strengths(N)``; give confidence-weighted schedules as arrays).

    All three rules multiply per-observation factors, so the order does not matter and
    ``log post = log prior + sum_i term_i - log Z``. Raises
    :class:`ImpossibleEvidenceError` with the index of the first observation after which
    no hypothesis remains possible.
    """
    lp = _check_log_prior(log_prior)
    if isinstance(strengths, Schedule):
        strengths = strengths.strengths(np.asarray(labels).shape[0])
    terms = observation_logliks(log_probs, contexts, labels, rule=rule, strengths=strengths)
    if terms.shape[1] != lp.shape[-1]:
        raise ValueError(f"log_prior has {lp.shape[-1]} hypotheses, log_probs {terms.shape[1]}")
    alive = np.isfinite(lp) & np.cumprod(np.isfinite(terms), axis=0).astype(bool)  # (N, H)
    dead = ~alive.any(axis=1)
    if dead.any():
        first = int(np.argmax(dead))
        raise ImpossibleEvidenceError(
            f"impossible evidence at observation {first} (context {int(np.asarray(contexts)[first])}, "
            f"label {int(np.asarray(labels)[first])}): every remaining hypothesis gives it probability 0",
            index=first,
        )
    return normalize(lp + terms.sum(axis=0))

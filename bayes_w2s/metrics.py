"""Mimicry and generalization measures.

* Chan–Darwiche distance between two distributions on the same hypotheses
  ``D(P, Q) = ln max_h Q(h)/P(h) - ln min_h Q(h)/P(h)``; it bounds every odds change,
  ``exp(-D) <= O_Q(a:b) / O_P(a:b) <= exp(D)`` (Chan & Darwiche 2005, Thm. 1).
* ``KL(p || q) = sum_y p(y) ln(p(y)/q(y))`` between predictives, averaged over contexts.
* Agreement / accuracy of argmax predictions against labels; posterior mass on hypotheses.
* Performance Gap Recovered (Burns et al. 2023)
  ``PGR = (acc_w2s - acc_weak) / (acc_ceiling - acc_weak)``; NaN with a warning when the
  ceiling does not beat the weak model.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import rel_entr

__all__ = [
    "PGRUndefinedWarning",
    "influence_distance",
    "kl_divergence",
    "agreement",
    "accuracy",
    "posterior_mass",
    "pgr",
]


class PGRUndefinedWarning(RuntimeWarning):
    """PGR was requested where the ceiling does not beat the weak model."""


def influence_distance(log_p: ArrayLike, log_q: ArrayLike) -> NDArray[np.float64]:
    """Chan–Darwiche distance between distributions given as log-probabilities.

    Parameters
    ----------
    log_p, log_q : (..., n_hypotheses)
        Log-probabilities over the same hypotheses (normalized or not: ratios only).
        Hypotheses with ``-inf`` in both are ignored; ``-inf`` in exactly one gives ``inf``.

    Returns
    -------
    (...,) array
        ``ln max_h q/p - ln min_h q/p``.
    """
    log_p, log_q = np.broadcast_arrays(np.asarray(log_p, float), np.asarray(log_q, float))
    both_zero = np.isneginf(log_p) & np.isneginf(log_q)
    one_zero = np.isneginf(log_p) ^ np.isneginf(log_q)
    with np.errstate(invalid="ignore"):
        ratio = np.where(both_zero, np.nan, log_q - log_p)
    dist = np.nanmax(ratio, axis=-1) - np.nanmin(ratio, axis=-1)
    return np.where(np.any(one_zero, axis=-1), np.inf, dist)


def kl_divergence(p: ArrayLike, q: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    """``KL(p || q) = sum p ln(p/q)`` along ``axis`` (nats); ``inf`` where q=0 < p."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    return np.sum(rel_entr(p, q), axis=axis)


def _labels(labels: ArrayLike) -> NDArray[np.int64]:
    lab = np.asarray(labels)
    if lab.size and (not np.issubdtype(lab.dtype, np.integer) or lab.min() < 0):
        raise ValueError("labels must be non-negative integer class indices")
    return lab.astype(np.int64)


def agreement(pred_a: ArrayLike, pred_b: ArrayLike) -> float:
    """Fraction of positions where two label arrays agree."""
    a, b = _labels(pred_a), _labels(pred_b)
    if a.shape != b.shape or a.size == 0:
        raise ValueError(f"need two non-empty label arrays of one shape, got {a.shape} and {b.shape}")
    return float(np.mean(a == b))


def accuracy(probs: ArrayLike, labels: ArrayLike) -> float:
    """Accuracy of argmax predictions ``probs (n, n_labels)`` against ``labels (n,)``."""
    probs = np.asarray(probs, float)
    lab = _labels(labels)
    if probs.ndim != 2 or probs.shape[0] != lab.shape[0]:
        raise ValueError(f"probs must be (n, n_labels) matching labels (n,), got {probs.shape}, {lab.shape}")
    return agreement(np.argmax(probs, axis=1), lab)


def posterior_mass(log_posterior: ArrayLike, hypotheses: ArrayLike) -> NDArray[np.float64]:
    """Posterior probability of a set of hypotheses; ``log_posterior (..., H)`` normalized."""
    lp = np.asarray(log_posterior, float)
    idx = np.atleast_1d(np.asarray(hypotheses))
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    return np.exp(lp[..., idx]).sum(axis=-1)


def pgr(acc_weak: ArrayLike, acc_w2s: ArrayLike, acc_ceiling: ArrayLike) -> NDArray[np.float64] | float:
    """Performance Gap Recovered ``(acc_w2s - acc_weak) / (acc_ceiling - acc_weak)``.

    Where ``acc_ceiling <= acc_weak`` the gap is undefined: the result is NaN and a
    :class:`PGRUndefinedWarning` is emitted (never a silent number).
    """
    weak, w2s, ceil = np.broadcast_arrays(*(np.asarray(a, float) for a in (acc_weak, acc_w2s, acc_ceiling)))
    gap = ceil - weak
    undefined = ~(gap > 0)
    if np.any(undefined):
        warnings.warn(
            f"PGR undefined where ceiling <= weak ({int(undefined.sum())} case(s)); returning NaN",
            PGRUndefinedWarning,
            stacklevel=2,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(undefined, np.nan, (w2s - weak) / np.where(undefined, 1.0, gap))
    return float(out) if out.ndim == 0 else out

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

from bayes_w2s.core.validation import (
    ValidationError,
    as_float_array,
    as_index_array,
    as_labels,
    as_log_distribution,
    as_probs,
    check_log_weights,
)

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
    """Warning: PGR was requested where the ceiling does not beat the weak model.

    ``PGR = (acc_w2s - acc_weak) / (acc_ceiling - acc_weak)`` has no meaning when
    ``acc_ceiling <= acc_weak``; :func:`pgr` then returns NaN and emits this warning, so an
    undefined value is counted, never averaged silently.

    Examples
    --------
    >>> import warnings
    >>> import bayes_w2s as bw
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = bw.pgr(0.8, 0.9, 0.8)
    >>> value, caught[0].category.__name__
    (nan, 'PGRUndefinedWarning')
    """


def influence_distance(log_p: ArrayLike, log_q: ArrayLike) -> NDArray[np.float64]:
    r"""Chan–Darwiche distance between distributions given as log-probabilities.

    .. math:: D(P, Q) = \ln \max_h \frac{Q(h)}{P(h)} - \ln \min_h \frac{Q(h)}{P(h)}

    It bounds every odds change: ``exp(-D) <= O_Q(a:b) / O_P(a:b) <= exp(D)`` for any two
    sets of hypotheses ``a, b`` (Chan & Darwiche 2005, Thm. 1). A virtual-evidence update of
    strength ``log r`` has ``D <= log r``; a schedule's total bounds the distance of the whole
    sequence: the *influence certificate*.

    Parameters
    ----------
    log_p, log_q : (..., n_hypotheses)
        Log-probabilities over the same hypotheses (normalized or not: ratios only).
        Hypotheses with ``-inf`` in both are ignored; ``-inf`` in exactly one gives ``inf``.

    Returns
    -------
    (...,) array
        ``ln max_h q/p - ln min_h q/p``.

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> prior, post = np.log([0.5, 0.25, 0.25]), np.log([0.25, 0.25, 0.5])
    >>> float(bw.influence_distance(prior, post))    # ln 2 - ln 1/2: odds moved by at most 4x
    1.3862943611198906
    """
    log_p, log_q = (_log_weights(v, n) for v, n in ((log_p, "log_p"), (log_q, "log_q")))
    try:
        log_p, log_q = np.broadcast_arrays(log_p, log_q)
    except ValueError:
        raise ValidationError(f"log_p and log_q shapes {log_p.shape} and {log_q.shape} do not broadcast", "log_q") from None
    if log_p.ndim == 0:
        raise ValidationError("log_p and log_q must be arrays (..., n_hypotheses), got scalars", "log_p")
    if np.any(np.all(np.isneginf(log_p), axis=-1)) or np.any(np.all(np.isneginf(log_q), axis=-1)):
        raise ValidationError("log_p or log_q is -inf for every hypothesis: not a distribution", "log_p")
    both_zero = np.isneginf(log_p) & np.isneginf(log_q)
    one_zero = np.isneginf(log_p) ^ np.isneginf(log_q)
    with np.errstate(invalid="ignore"):
        ratio = np.where(both_zero, np.nan, log_q - log_p)
    dist = np.nanmax(ratio, axis=-1) - np.nanmin(ratio, axis=-1)
    return np.where(np.any(one_zero, axis=-1), np.inf, dist)


def kl_divergence(p: ArrayLike, q: ArrayLike, axis: int = -1) -> NDArray[np.float64]:
    r"""Kullback–Leibler divergence in nats along ``axis``.

    .. math:: \mathrm{KL}(p \,\|\, q) = \sum_y p(y) \ln \frac{p(y)}{q(y)}

    ``0 ln 0 = 0``; ``inf`` where ``q(y) = 0 < p(y)``. Used for mimicry: the KL of the
    strong predictive from the weak one.

    Parameters
    ----------
    p, q : array_like
        Probabilities of the same shape (or broadcastable).
    axis : int, optional
        The label axis (default: the last).

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> round(float(bw.kl_divergence([0.5, 0.5], [0.9, 0.1])), 4)
    0.5108
    >>> float(bw.kl_divergence([0.5, 0.5], [1.0, 0.0]))
    inf
    """
    p, q = as_probs(p, "p"), as_probs(q, "q")
    try:
        return np.sum(rel_entr(p, q), axis=axis)
    except ValueError as err:
        raise ValidationError(f"p {p.shape} and q {q.shape} do not match along axis {axis}: {err}", "q") from None


def _log_weights(value: ArrayLike, name: str) -> NDArray[np.float64]:
    return check_log_weights(as_float_array(value, name), name)


def agreement(pred_a: ArrayLike, pred_b: ArrayLike) -> float:
    """Agreement of two label arrays: ``mean_i [a_i = b_i]``.

    Measures mimicry when one array is the weak model's labels (or its errors).

    Parameters
    ----------
    pred_a, pred_b : (n,) int arrays
        Non-empty, of one shape.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.agreement([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    a, b = as_labels(pred_a, "pred_a"), as_labels(pred_b, "pred_b")
    if a.shape != b.shape:
        raise ValidationError(f"need two label arrays of one shape, got {a.shape} and {b.shape}", "pred_b")
    return float(np.mean(a == b))


def accuracy(probs: ArrayLike, labels: ArrayLike) -> float:
    """Accuracy of the argmax prediction: ``mean_i [argmax_y probs[i, y] = labels[i]]``.

    Parameters
    ----------
    probs : (n, n_labels)
        Finite scores or probabilities per example.
    labels : (n,) int

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.accuracy([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], [0, 1, 1])
    0.6666666666666666
    """
    probs = as_float_array(probs, "probs", ndim=2)
    if not np.all(np.isfinite(probs)):
        raise ValidationError("probs must be finite (NaN or inf scores give no argmax)", "probs")
    lab = as_labels(labels, "labels", n_classes=probs.shape[1])
    if probs.shape[0] != lab.shape[0]:
        raise ValidationError(f"probs must be (n, n_labels) matching labels (n,), got {probs.shape}, {lab.shape}", "probs")
    return agreement(np.argmax(probs, axis=1), lab)


def posterior_mass(log_posterior: ArrayLike, hypotheses: ArrayLike) -> NDArray[np.float64]:
    """Posterior probability of a set ``A`` of hypotheses: ``sum_{h in A} exp(log_posterior[h])``.

    Parameters
    ----------
    log_posterior : (..., H)
        Normalized log posterior(s).
    hypotheses : index array or boolean mask (H,)
        The set ``A``.

    Returns
    -------
    ndarray, (...,)

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> log_post = np.log([0.1, 0.2, 0.7])
    >>> round(float(bw.posterior_mass(log_post, [1, 2])), 6)
    0.9
    >>> round(float(bw.posterior_mass(log_post, np.array([True, False, False]))), 6)
    0.1
    """
    lp = as_log_distribution(log_posterior, "log_posterior")
    idx = np.atleast_1d(np.asarray(hypotheses))
    if idx.dtype == bool:
        if idx.shape != (lp.shape[-1],):
            raise ValidationError(f"boolean hypotheses mask has shape {idx.shape}, need ({lp.shape[-1]},)", "hypotheses")
        idx = np.flatnonzero(idx)
    else:
        idx = as_index_array(idx, "hypotheses", lp.shape[-1], what="hypothesis")
    return np.exp(lp[..., idx]).sum(axis=-1)


def pgr(acc_weak: ArrayLike, acc_w2s: ArrayLike, acc_ceiling: ArrayLike) -> NDArray[np.float64] | float:
    r"""Performance Gap Recovered (Burns et al. 2023).

    .. math:: \mathrm{PGR} = \frac{\mathrm{acc}_{w2s} - \mathrm{acc}_{weak}}{\mathrm{acc}_{ceiling} - \mathrm{acc}_{weak}}

    1: the student recovers the whole gap between the weak model and the strong ceiling
    (the strong model trained on ground truth); 0: it only matches the weak model (pure
    mimicry); below 0: it is worse than its teacher. Where ``acc_ceiling <= acc_weak`` the
    gap is undefined: the result is NaN and a :class:`PGRUndefinedWarning` is emitted
    (never a silent number).

    Parameters
    ----------
    acc_weak, acc_w2s, acc_ceiling : float or array_like
        Accuracies in [0, 1], broadcast together.

    Returns
    -------
    float or ndarray

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> round(bw.pgr(acc_weak=0.70, acc_w2s=0.76, acc_ceiling=0.80), 6)
    0.6
    >>> bw.pgr([0.7, 0.7], [0.7, 0.8], 0.8)
    array([0., 1.])
    """
    arrays = [as_probs(a, n) for a, n in ((acc_weak, "acc_weak"), (acc_w2s, "acc_w2s"), (acc_ceiling, "acc_ceiling"))]
    try:
        weak, w2s, ceil = np.broadcast_arrays(*arrays)
    except ValueError:
        raise ValidationError(f"accuracy shapes {[a.shape for a in arrays]} do not broadcast", "acc_w2s") from None
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

"""Pairwise preferences (Bradley–Terry) as contexts of the ordinary label machinery.

A preference hypothesis is a utility over items, ``u_h (n_items,)`` (or a linear utility
over item features, ``u_h(x) = w_h . x``). For a pair ``(a, b)`` the Bradley–Terry model
(Bradley & Terry 1952) gives

    P(a > b | h) = sigmoid(u_h(a) - u_h(b)).

A *pair is a context* whose binary label is ``1 = "a preferred"`` and ``0 = "b
preferred"``, so a preference space is a :class:`~bayes_w2s.core.hypotheses.HypothesisSpace`
``probs[h, p, y]`` of shape ``(H, n_pairs, 2)``: every update rule (hard Bayes, virtual
evidence with strength ``log r`` on "a > b", tempered, Jeffrey), every schedule, the label
samplers (a weak supervisor labels pairs from its predictive per pair, or from one
hypothesis per sequence) and the trajectory engine apply unchanged.

Reading classification as preference: comparing every item with one fixed *reference*
item ``c`` gives ``P(y = 1 | x, h) = sigmoid(u_h(x) - u_h(c))``, a noisy halfspace when
``u_h`` is linear — the same hypotheses, asked a different question
(:func:`reference_pairs`).

Metrics: pairwise accuracy of the Bayes decision against the true order (ties in the
decision score 1/2), Kendall's tau between a score and the true utility, PGR on pairwise
accuracy (:func:`bayes_w2s.core.metrics.pgr`).

References
----------
Bradley, R. A. & Terry, M. E. (1952). Rank analysis of incomplete block designs. Biometrika 39.
Kendall, M. G. (1938). A new measure of rank correlation. Biometrika 30.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import log_expit

from bayes_w2s.core.hypotheses import HypothesisSpace

__all__ = [
    "LABEL_NAMES",
    "all_pairs",
    "bt_log_probs",
    "centered_utilities",
    "check_pairs",
    "expected_utility",
    "kendall_tau",
    "linear_utilities",
    "order_table",
    "pairwise_accuracy",
    "predictive_accuracy",
    "preference_space",
    "random_pairs",
    "reference_pairs",
    "true_order",
]

LABEL_NAMES = ("b preferred", "a preferred")


def check_pairs(pairs: ArrayLike, n_items: int) -> NDArray[np.int64]:
    """Validate ``pairs (P, 2)`` of item indices in ``[0, n_items)`` with ``a != b``."""
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] == 0:
        raise ValueError(f"pairs must be a non-empty (n_pairs, 2) array, got shape {p.shape}")
    if not np.issubdtype(p.dtype, np.integer) or p.min() < 0 or p.max() >= n_items:
        raise ValueError(f"pairs must hold integer item indices in [0, {n_items}); got range [{p.min()}, {p.max()}]")
    if np.any(p[:, 0] == p[:, 1]):
        i = int(np.argmax(p[:, 0] == p[:, 1]))
        raise ValueError(f"pair {i} compares item {int(p[i, 0])} with itself")
    return p.astype(np.int64)


def all_pairs(n_items: int) -> NDArray[np.int64]:
    """Every unordered pair ``(a, b)``, ``a < b``: shape ``(n_items (n_items - 1) / 2, 2)``."""
    if int(n_items) != n_items or n_items < 2:
        raise ValueError(f"n_items must be an integer >= 2, got {n_items!r}")
    a, b = np.triu_indices(int(n_items), k=1)
    return np.stack([a, b], axis=1).astype(np.int64)


def random_pairs(rng: np.random.Generator, items: ArrayLike, n_pairs: int) -> NDArray[np.int64]:
    """``n_pairs`` pairs of distinct items drawn uniformly (with replacement) from ``items``."""
    items = np.asarray(items)
    if items.ndim != 1 or items.size < 2:
        raise ValueError(f"items must be a 1-D array of at least 2 item indices, got shape {items.shape}")
    if int(n_pairs) != n_pairs or n_pairs < 1:
        raise ValueError(f"n_pairs must be a positive integer, got {n_pairs!r}")
    a = rng.integers(0, items.size, n_pairs)
    b = (a + rng.integers(1, items.size, n_pairs)) % items.size  # uniform over b != a
    return np.stack([items[a], items[b]], axis=1).astype(np.int64)


def reference_pairs(items: ArrayLike, reference: int) -> NDArray[np.int64]:
    """``(x, reference)`` for every item x: classification "is x above the reference?"."""
    items = np.asarray(items, dtype=np.int64)
    if np.any(items == reference):
        raise ValueError(f"the reference item {reference} cannot be compared with itself")
    return np.stack([items, np.full_like(items, reference)], axis=1)


def linear_utilities(features: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """``u[h, i] = w_h . x_i`` for ``features (n_items, d)``, ``weights (H, d)`` -> ``(H, n_items)``."""
    x = np.asarray(features, dtype=float)
    w = np.atleast_2d(np.asarray(weights, dtype=float))
    if x.ndim != 2 or w.shape[1] != x.shape[1]:
        raise ValueError(f"features (n_items, d) and weights (H, d) disagree: {x.shape}, {w.shape}")
    return w @ x.T


def _check_utilities(utilities: ArrayLike) -> NDArray[np.float64]:
    u = np.atleast_2d(np.asarray(utilities, dtype=float))
    if u.ndim != 2 or not np.all(np.isfinite(u)):
        raise ValueError(f"utilities must be a finite (H, n_items) array, got shape {u.shape}")
    return u


def bt_log_probs(utilities: ArrayLike, pairs: ArrayLike) -> NDArray[np.float64]:
    """``log P(y | pair, h)`` of shape ``(H, P, 2)``: ``y = 1`` is ``log sigmoid(u(a) - u(b))``."""
    u = _check_utilities(utilities)
    p = check_pairs(pairs, u.shape[1])
    diff = u[:, p[:, 0]] - u[:, p[:, 1]]  # (H, P)
    return np.stack([log_expit(-diff), log_expit(diff)], axis=-1)


def preference_space(utilities: ArrayLike, pairs: ArrayLike, names=None) -> HypothesisSpace:
    r"""The :class:`HypothesisSpace` of Bradley–Terry hypotheses on the given pair contexts.

    A hypothesis is a utility ``u_h`` over items; a pair ``(a, b)`` is a context whose label 1
    means "a preferred" (0: "b preferred"):

    .. math:: P(a \succ b \mid h) = \sigma(u_h(a) - u_h(b))

    so every update rule, schedule and the trajectory engine apply to preferences unchanged.

    Parameters
    ----------
    utilities : (H, n_items)
        One utility vector per hypothesis.
    pairs : (P, 2) int
        Item pairs ``(a, b)``, the contexts.
    names : sequence of str, optional
        Hypothesis names.

    Returns
    -------
    HypothesisSpace
        ``probs (H, P, 2)``: ``[P(b > a), P(a > b)]`` per pair.

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> space = bw.preference_space([[0.0, 1.0, 2.0], [2.0, 1.0, 0.0]], [[0, 1], [0, 2]])
    >>> space.probs[0, :, 1].round(3)     # P(0 > 1), P(0 > 2) under hypothesis 0
    array([0.269, 0.119])
    """
    return HypothesisSpace(np.exp(bt_log_probs(utilities, pairs)), hypothesis_names=names, label_names=LABEL_NAMES)


def true_order(utility: ArrayLike, pairs: ArrayLike) -> NDArray[np.float64]:
    """``1`` where ``u(a) > u(b)``, ``0`` where ``u(a) < u(b)``, ``0.5`` on ties; shape ``(P,)``."""
    u = np.asarray(utility, dtype=float)
    if u.ndim != 1:
        raise ValueError(f"utility must be 1-D (n_items,), got shape {u.shape}")
    p = check_pairs(pairs, u.size)
    return 0.5 + 0.5 * np.sign(u[p[:, 0]] - u[p[:, 1]])


def order_table(utilities: ArrayLike, pairs: ArrayLike) -> NDArray[np.int8]:
    """``[u_h(a) > u_h(b)]`` as a 0/1 table ``(H, P)`` (ties read as 0), for disagreement rates."""
    u = _check_utilities(utilities)
    p = check_pairs(pairs, u.shape[1])
    return (u[:, p[:, 0]] > u[:, p[:, 1]]).astype(np.int8)


def pairwise_accuracy(p_a: ArrayLike, truth: ArrayLike, *, tol: float = 1e-12) -> NDArray[np.float64]:
    """Accuracy of the Bayes decision "a if ``P(a > b) > 1/2``" against the true order.

    Parameters
    ----------
    p_a : (..., P)
        Predicted ``P(a > b)``; a decision within ``tol`` of 1/2 is a coin flip and scores 1/2.
    truth : (P,)
        True order from :func:`true_order` (1, 0, or 0.5 on true ties, which every decision
        half-matches).

    Returns
    -------
    (...,) mean over pairs of ``1 - |decision - truth|``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> float(bw.pairwise_accuracy([0.9, 0.2, 0.5], [1.0, 1.0, 1.0]))   # right, wrong, coin flip
    0.5
    """
    p = np.asarray(p_a, dtype=float)
    t = np.asarray(truth, dtype=float)
    if p.shape[-1:] != t.shape or t.ndim != 1:
        raise ValueError(f"p_a (..., P) and truth (P,) disagree: {p.shape}, {t.shape}")
    decision = np.where(np.abs(p - 0.5) <= tol, 0.5, (p > 0.5).astype(float))
    return 1.0 - np.abs(decision - t).mean(axis=-1)


def predictive_accuracy(log_posterior: ArrayLike, log_probs: ArrayLike, truth: ArrayLike) -> NDArray[np.float64]:
    """Pairwise accuracy of the posterior predictive ``P(a > b) = sum_h post(h) P(a > b | h)``.

    ``log_posterior (..., H)``, ``log_probs (H, P, 2)`` -> ``(...,)``.
    """
    lp = np.asarray(log_posterior, dtype=float)
    p1 = np.exp(np.asarray(log_probs, dtype=float)[..., 1])  # (H, P)
    if lp.shape[-1] != p1.shape[0]:
        raise ValueError(f"log_posterior has {lp.shape[-1]} hypotheses, log_probs {p1.shape[0]}")
    return pairwise_accuracy(np.exp(lp) @ p1, truth)


def centered_utilities(utilities: ArrayLike) -> NDArray[np.float64]:
    """``u_h - mean_i u_h(i)``: Bradley–Terry utilities are defined up to a shift per hypothesis."""
    u = _check_utilities(utilities)
    return u - u.mean(axis=1, keepdims=True)


def expected_utility(log_posterior: ArrayLike, utilities: ArrayLike) -> NDArray[np.float64]:
    """Posterior mean of the centred utility, ``sum_h post(h) (u_h - mean u_h)``: ``(..., n_items)``."""
    return np.exp(np.asarray(log_posterior, dtype=float)) @ centered_utilities(utilities)


def kendall_tau(scores: ArrayLike, true_utility: ArrayLike) -> NDArray[np.float64] | float:
    """Kendall's tau-b between ``scores (..., n_items)`` and ``true_utility (n_items,)``.

    ``tau = (concordant - discordant) / sqrt((n0 - t_score)(n0 - t_true))`` over item pairs
    (tie-corrected); NaN where a score vector is constant.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> float(bw.kendall_tau([0.1, 0.5, 0.9], [1.0, 2.0, 3.0])), float(bw.kendall_tau([3, 2, 1], [1, 2, 3]))
    (1.0, -1.0)
    """
    s = np.asarray(scores, dtype=float)
    t = np.asarray(true_utility, dtype=float)
    if t.ndim != 1 or s.shape[-1] != t.size or t.size < 2:
        raise ValueError(f"scores (..., n) and true_utility (n,) disagree: {s.shape}, {t.shape}")
    from scipy.stats import kendalltau  # lazy: scipy.stats costs ~0.5 s at import

    flat = s.reshape(-1, t.size)
    out = np.array([kendalltau(row, t).statistic if np.ptp(row) > 0 else np.nan for row in flat])
    return float(out[0]) if s.ndim == 1 else out.reshape(s.shape[:-1])


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

Every public function validates its input (:mod:`bayes_w2s.core.validation`) and raises
:class:`~bayes_w2s.core.validation.ValidationError` (a ``ValueError``) naming the argument:
item indices must be integers (a float index is refused, never truncated); probabilities
finite and in ``[0, 1]``; a true order in ``{0, 1/2, 1}``; log posteriors normalized (an
unnormalized one would scale every expectation); utilities and scores finite (NaN would
make Kendall's tau NaN).

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
from bayes_w2s.core.validation import (
    ValidationError,
    as_count,
    as_float_array,
    as_index_array,
    as_log_distribution,
    as_log_probs,
    as_probs,
    describe,
)

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
    if isinstance(pairs, (str, bytes)) or pairs is None:
        raise ValidationError(f"pairs must be a (n_pairs, 2) array of item indices, got {describe(pairs)}", "pairs")
    p = np.asarray(pairs)
    if p.ndim != 2 or p.shape[1] != 2 or p.shape[0] == 0:
        raise ValidationError(f"pairs must be a non-empty (n_pairs, 2) array, got shape {p.shape}", "pairs")
    if not np.issubdtype(p.dtype, np.integer) or p.dtype == bool:
        raise ValidationError(f"pairs must hold integer item indices, got dtype {p.dtype}", "pairs")
    if p.min() < 0 or p.max() >= n_items:
        raise ValidationError(
            f"pairs must hold integer item indices in [0, {n_items}); got range [{p.min()}, {p.max()}]", "pairs"
        )
    if np.any(p[:, 0] == p[:, 1]):
        i = int(np.argmax(p[:, 0] == p[:, 1]))
        raise ValidationError(f"pair {i} compares item {int(p[i, 0])} with itself", "pairs")
    return p.astype(np.int64)


def _items(items: ArrayLike, name: str = "items", *, minimum: int = 1) -> NDArray[np.int64]:
    """Distinct non-negative integer item indices, 1-D, at least ``minimum`` of them."""
    if isinstance(items, (str, bytes)) or items is None:
        raise ValidationError(f"{name} must be a 1-D array of item indices, got {describe(items)}", name)
    arr = np.asarray(items)
    if arr.ndim != 1 or arr.size < minimum:
        raise ValidationError(f"{name} must be a 1-D array of at least {minimum} item indices, got shape {arr.shape}", name)
    if not np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool:
        raise ValidationError(f"{name} must hold integer item indices (not truncated floats), got dtype {arr.dtype}", name)
    out = as_index_array(arr, name, np.iinfo(np.int64).max, what="item")
    ordered = np.sort(out)
    repeats = np.flatnonzero(np.diff(ordered) == 0)
    if repeats.size:
        raise ValidationError(f"{name} repeats item {int(ordered[repeats[0]])}: items must be distinct", name)
    return out


def all_pairs(n_items: int) -> NDArray[np.int64]:
    """Every unordered pair ``(a, b)``, ``a < b``: shape ``(n_items (n_items - 1) / 2, 2)``."""
    n_items = as_count(n_items, "n_items", minimum=2)
    a, b = np.triu_indices(n_items, k=1)
    return np.stack([a, b], axis=1).astype(np.int64)


def random_pairs(rng: np.random.Generator, items: ArrayLike, n_pairs: int) -> NDArray[np.int64]:
    """``n_pairs`` pairs of distinct items drawn uniformly (with replacement) from ``items``.

    ``items`` must be distinct integer indices (a repeated item could be paired with itself);
    the second item of a pair is uniform over the other positions, so ``a != b`` always.
    """
    if not isinstance(rng, np.random.Generator):
        raise ValidationError(f"rng must be a numpy Generator (np.random.default_rng), got {describe(rng)}", "rng")
    items = _items(items, minimum=2)
    n_pairs = as_count(n_pairs, "n_pairs")
    a = rng.integers(0, items.size, n_pairs)
    b = (a + rng.integers(1, items.size, n_pairs)) % items.size  # uniform over b != a
    return np.stack([items[a], items[b]], axis=1).astype(np.int64)


def reference_pairs(items: ArrayLike, reference: int) -> NDArray[np.int64]:
    """``(x, reference)`` for every item x: classification "is x above the reference?"."""
    items = _items(items)
    if isinstance(reference, bool) or not isinstance(reference, (int, np.integer)) or reference < 0:
        raise ValidationError(f"reference must be a non-negative integer item index, got {describe(reference)}",
                              "reference")
    if np.any(items == reference):
        raise ValidationError(f"the reference item {reference} cannot be compared with itself", "reference")
    return np.stack([items, np.full_like(items, int(reference))], axis=1)


def linear_utilities(features: ArrayLike, weights: ArrayLike) -> NDArray[np.float64]:
    """``u[h, i] = w_h . x_i`` for ``features (n_items, d)``, ``weights (H, d)`` -> ``(H, n_items)``."""
    x = as_float_array(features, "features", ndim=2)
    w = np.atleast_2d(as_float_array(weights, "weights", ndim=(1, 2)))
    if w.shape[1] != x.shape[1]:
        raise ValidationError(f"features (n_items, d) and weights (H, d) disagree: {x.shape}, {w.shape}", "weights")
    for arr, name in ((x, "features"), (w, "weights")):
        if not np.all(np.isfinite(arr)):
            raise ValidationError(f"{name} must be finite (no NaN or inf)", name)
    return w @ x.T


def _finite(value: ArrayLike, name: str, *, ndim=None) -> NDArray[np.float64]:
    arr = as_float_array(value, name, ndim=ndim)
    bad = ~np.isfinite(arr)
    if np.any(bad):
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValidationError(f"{name}[{', '.join(map(str, idx))}] = {describe(arr[idx])}: must be finite", name)
    return arr


def _check_utilities(utilities: ArrayLike) -> NDArray[np.float64]:
    return np.atleast_2d(_finite(utilities, "utilities", ndim=(1, 2)))


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
    u = _finite(utility, "utility", ndim=1)
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
    p = as_probs(p_a, "p_a")
    t = as_float_array(truth, "truth", ndim=1)
    bad = ~np.isin(t, (0.0, 0.5, 1.0))
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"truth[{i}] = {describe(t[i])}: a true order is 0, 1/2 or 1 (see true_order)", "truth")
    if p.ndim == 0 or p.shape[-1:] != t.shape:
        raise ValidationError(f"p_a (..., P) and truth (P,) disagree: {p.shape}, {t.shape}", "p_a")
    if not (isinstance(tol, (int, float)) and 0 <= tol < 0.5):
        raise ValidationError(f"tol must be a number in [0, 0.5), got {describe(tol)}", "tol")
    decision = np.where(np.abs(p - 0.5) <= tol, 0.5, (p > 0.5).astype(float))
    return 1.0 - np.abs(decision - t).mean(axis=-1)


def predictive_accuracy(log_posterior: ArrayLike, log_probs: ArrayLike, truth: ArrayLike) -> NDArray[np.float64]:
    """Pairwise accuracy of the posterior predictive ``P(a > b) = sum_h post(h) P(a > b | h)``.

    ``log_posterior (..., H)`` normalized, ``log_probs (H, P, 2)`` -> ``(...,)``.
    """
    lp = as_log_distribution(log_posterior, "log_posterior")
    table = as_log_probs(log_probs, "log_probs", ndim=3)
    if table.shape[-1] != 2:
        raise ValidationError(f"log_probs must be (H, P, 2), got shape {table.shape}", "log_probs")
    if lp.shape[-1] != table.shape[0]:
        raise ValidationError(f"log_posterior has {lp.shape[-1]} hypotheses, log_probs {table.shape[0]}", "log_probs")
    p1 = np.exp(np.minimum(table[..., 1], 0.0))  # (H, P)
    return pairwise_accuracy(np.clip(np.exp(lp) @ p1, 0.0, 1.0), truth)


def centered_utilities(utilities: ArrayLike) -> NDArray[np.float64]:
    """``u_h - mean_i u_h(i)``: Bradley–Terry utilities are defined up to a shift per hypothesis."""
    u = _check_utilities(utilities)
    return u - u.mean(axis=1, keepdims=True)


def expected_utility(log_posterior: ArrayLike, utilities: ArrayLike) -> NDArray[np.float64]:
    """Posterior mean of the centred utility, ``sum_h post(h) (u_h - mean u_h)``: ``(..., n_items)``.

    ``log_posterior (..., H)`` must be normalized (an unnormalized one scales the result)."""
    lp = as_log_distribution(log_posterior, "log_posterior")
    u = centered_utilities(utilities)
    if lp.shape[-1] != u.shape[0]:
        raise ValidationError(f"log_posterior has {lp.shape[-1]} hypotheses, utilities {u.shape[0]}", "utilities")
    return np.exp(lp) @ u


def kendall_tau(scores: ArrayLike, true_utility: ArrayLike) -> NDArray[np.float64] | float:
    """Kendall's tau-b between ``scores (..., n_items)`` and ``true_utility (n_items,)``.

    ``tau = (concordant - discordant) / sqrt((n0 - t_score)(n0 - t_true))`` over item pairs
    (tie-corrected); NaN where a score vector (or the true utility) is constant, the one case
    where tau is undefined. NaN or infinite inputs are refused.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> float(bw.kendall_tau([0.1, 0.5, 0.9], [1.0, 2.0, 3.0])), float(bw.kendall_tau([3, 2, 1], [1, 2, 3]))
    (1.0, -1.0)
    """
    s = _finite(scores, "scores")
    t = _finite(true_utility, "true_utility", ndim=1)
    if s.ndim == 0 or s.shape[-1] != t.size or t.size < 2:
        raise ValidationError(f"scores (..., n) and true_utility (n,) with n >= 2 disagree: {s.shape}, {t.shape}",
                              "scores")
    from scipy.stats import kendalltau  # lazy: scipy.stats costs ~0.5 s at import

    flat = s.reshape(-1, t.size)
    out = np.array([kendalltau(row, t).statistic if np.ptp(row) > 0 else np.nan for row in flat])
    return float(out[0]) if s.ndim == 1 else out.reshape(s.shape[:-1])


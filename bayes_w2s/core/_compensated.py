"""Error-free transformations for double-double (``hi + lo``) sums in numpy.

A value is carried as an unevaluated pair ``hi + lo`` with ``|lo| <= ulp(hi) / 2``, so long
sums keep about 106 bits (Dekker 1971; Ogita, Rump & Oishi 2005, "Accurate sum and dot
product", SIAM J. Sci. Comput. 26(6)):

* :func:`two_sum` (Knuth): ``a + b = s + e`` exactly, ``s = fl(a + b)``;
* :func:`two_prod` (Dekker, with Veltkamp's split into 26-bit halves):
  ``a * b = p + e`` exactly, ``p = fl(a * b)``, for ``|a|, |b| < 2^996``;
* :func:`dd_matmul`: ``sum_c w_c L_c`` with exact products and a pairwise tree of
  :func:`two_sum` over ``c`` (the "Dot2" algorithm of Ogita et al. in pairwise order): the
  error is ``eps |x| + O(C eps^2) sum_c |w_c L_c|`` instead of ``O(C eps) sum_c |w_c L_c|``.

Non-finite intermediates (an overflowing product, a split of a number above ``2^996``) leave
``hi`` as the plain float result and ``lo = 0``; callers judge overflow from ``hi``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

_SPLITTER = 134217729.0  # 2^27 + 1
_BLOCK_ELEMENTS = 1 << 20  # products held at once by dd_matmul (8 MiB)


def two_sum(a, b) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(s, e)`` with ``s = fl(a + b)`` and ``a + b = s + e`` exactly (finite inputs)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def split(a) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Veltkamp split ``a = hi + lo`` into halves of at most 26 significant bits each."""
    with np.errstate(over="ignore", invalid="ignore"):
        t = _SPLITTER * a
        hi = t - (t - a)
    return hi, a - hi


def two_prod(a, b, a_split=None, b_split=None) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(p, e)`` with ``p = fl(a b)`` and ``a b = p + e`` exactly (Dekker); ``e = 0`` where
    the split is not representable (``|a|`` or ``|b|`` above ``2^996``, or ``p`` not finite)."""
    a1, a2 = split(a) if a_split is None else a_split
    b1, b2 = split(b) if b_split is None else b_split
    with np.errstate(over="ignore", invalid="ignore"):
        p = a * b
        e = ((a1 * b1 - p) + a1 * b2 + a2 * b1) + a2 * b2
    return p, np.where(np.isfinite(e), e, 0.0)


def dd_sum(terms: NDArray[np.float64], axis: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(hi, lo)``: ``terms`` summed along ``axis`` by a pairwise tree of :func:`two_sum`,
    the rounding errors collected in ``lo`` (Ogita et al.'s Sum2 in pairwise order)."""
    t = np.moveaxis(np.asarray(terms, dtype=float), axis, 0)
    err = np.zeros(t.shape[1:])
    with np.errstate(invalid="ignore", over="ignore"):
        while t.shape[0] > 1:
            half = t.shape[0] // 2
            s, e = two_sum(t[:half], t[half : 2 * half])
            err += e.sum(axis=0)
            t = np.concatenate([s, t[2 * half :]]) if t.shape[0] % 2 else s
        hi, lo = two_sum(t[0], err)
    good = np.isfinite(hi) & np.isfinite(lo)
    return np.where(good, hi, t[0] + err), np.where(good, lo, 0.0)


def dd_add(a_hi, a_lo, b_hi, b_lo=0.0) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(a_hi + a_lo) + (b_hi + b_lo)`` as a renormalized pair; ``lo = 0`` where ``hi`` is not finite."""
    with np.errstate(invalid="ignore", over="ignore"):
        s, e = two_sum(a_hi, b_hi)
        e = e + (a_lo + b_lo)
        hi, lo = two_sum(s, e)
    good = np.isfinite(hi) & np.isfinite(lo)
    return np.where(good, hi, s), np.where(good, lo, 0.0)


def dd_matmul(weights: NDArray[np.float64], table: NDArray[np.float64], table_split=None):
    """``sum_c weights[..., c] table[c, :]`` as ``(hi, lo)`` of shape ``(..., H)``.

    ``weights (..., C)``, ``table (C, H)``, both finite; ``table_split`` is
    ``split(table)`` when the caller reuses it. Products are exact (:func:`two_prod`) and
    summed with :func:`dd_sum`, in blocks of rows so at most ``2^20`` products are held.
    """
    lead = weights.shape[:-1]
    w = weights.reshape(-1, weights.shape[-1])  # (M, C)
    n_cat, n_hyp = table.shape
    tsplit = split(table) if table_split is None else table_split
    hi, lo = np.empty((w.shape[0], n_hyp)), np.empty((w.shape[0], n_hyp))
    step = max(1, _BLOCK_ELEMENTS // max(1, n_cat * n_hyp))
    for start in range(0, w.shape[0], step):
        wb = w[start : start + step, :, None]  # (b, C, 1)
        wsplit = split(wb)
        p, e = two_prod(wb, table, wsplit, tsplit)  # (b, C, H)
        h, l_ = dd_sum(p, axis=1)
        with np.errstate(invalid="ignore"):
            l_ = l_ + e.sum(axis=1)
        hi[start : start + step], lo[start : start + step] = h, np.where(np.isfinite(l_), l_, 0.0)
    return hi.reshape(*lead, n_hyp), lo.reshape(*lead, n_hyp)

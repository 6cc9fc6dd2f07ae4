"""The trajectory engine's per-chunk arithmetic: category counts, term tables, exact products.

Helpers of :func:`bayes_w2s.core.trajectory.run_trajectories` (see its module docstring):

* :func:`_segment_counts` -- cumulative weighted category counts at each checkpoint of a chunk;
* :func:`_exact_split` / :func:`_linear_value` -- ``W @ T`` for integer counts, exact;
* :func:`_ve_segments` -- summed varying-strength virtual-evidence terms per segment.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from bayes_w2s.core._compensated import dd_matmul
from bayes_w2s.core.updates import _DIRECT_MAX_STRENGTH, _overflow, _ve_term

_FEW_CATEGORIES = 16
_BLOCK_ELEMENTS = 1 << 21  # VE terms held at once (16 MiB)


def _finite_split(log_p: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``log_p`` with -inf set to 0, and the 0/1 mask of where it was -inf."""
    impossible = np.isneginf(log_p)
    return np.where(impossible, 0.0, log_p), impossible.astype(float)


def _lse(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """``log sum exp`` over the last axis, keepdims; rows must hold a finite maximum."""
    top = np.max(x, axis=-1, keepdims=True)
    return top + np.log(np.sum(np.exp(x - top), axis=-1, keepdims=True))


def _ve_terms(p, log_p, s):
    """VE terms up to a per-observation constant (as :func:`bayes_w2s.core.updates._ve_term`),
    from precomputed ``p = exp(log_p)``: ``log1p(expm1(s) p)`` for ``s <= 30`` (one
    transcendental per term), else the shifted terms in ``[-s, 0]``."""
    if np.max(s) <= _DIRECT_MAX_STRENGTH:
        return np.log1p(np.expm1(s) * p)
    return _ve_term(log_p, s)[0]


def _ve_outer_terms(r_minus_1, p, out):
    """``log1p(outer(r - 1, p))`` computed in ``out (b, H)``: the direct VE terms (``s <= 30``)
    of one category at b positions, from ``r - 1 = expm1(s) (b,)`` and ``p = P_c(h) (H,)``.

    (The outer product by ``einsum``: numpy's broadcast multiply is 2x slower here.)
    """
    np.einsum("i,j->ij", r_minus_1, p, out=out)
    return np.log1p(out, out=out)


def _segment_counts(cat, bounds, seg_of, n_cat: int, weights=None):
    """Cumulative weighted category counts at the end of each segment: ``(R, n_seg, C)``.

    ``cat (R, m)``; segment j is ``[bounds[j], bounds[j+1])``, ``seg_of (m,)`` its index per
    position (or 0 for one segment); integer counts (exact) when ``weights`` is None, else
    sums of ``weights (m,)``.
    """
    n_seg = bounds.size - 1
    n_rep = cat.shape[0]
    if weights is None and n_cat == 2:  # binary: the count of category 1 is a plain (fast) sum
        ones = np.add.reduceat(cat, bounds[:-1], axis=1) if n_seg > 1 else cat.sum(axis=1, keepdims=True)  # (R, n_seg)
        ones = np.cumsum(ones, axis=1) if n_seg > 1 else ones
        out = np.empty((n_rep, n_seg, 2), dtype=ones.dtype)
        out[..., 1] = ones
        np.subtract(bounds[1:], ones, out=out[..., 0])
        return out  # (R, n_seg, 2)
    flat = ((np.arange(n_rep)[:, None] * n_seg + seg_of) * n_cat + cat).ravel()
    w = None if weights is None else np.broadcast_to(weights, cat.shape).ravel()
    counts = np.bincount(flat, weights=w, minlength=n_rep * n_seg * n_cat).reshape(n_rep, n_seg, n_cat)
    return np.cumsum(counts, axis=1) if n_seg > 1 else counts


def _ve_segments(s, cat, bounds, p_c, log_pc):
    """Summed varying-strength VE terms of each segment ``[bounds[j], bounds[j+1])``: ``(R, n_seg, H)``.

    In blocks of positions (at most ``_BLOCK_ELEMENTS`` terms at once). Few categories: per
    category c present in the block, the indicator product ``[c_{r,i} = c] (R, b) @ T_c (b, H)``
    with the terms ``T_c`` computed in one reused buffer (``_ve_outer_terms``: no allocation
    per block and category); many: a gather ``(R, b, H)`` summed over b.
    """
    n_rep, n_seg, (n_cat, n_hyp) = cat.shape[0], len(bounds) - 1, p_c.shape
    out = np.zeros((n_rep, n_seg, n_hyp))
    few = n_cat <= _FEW_CATEGORIES
    step = max(1, _BLOCK_ELEMENTS // (n_hyp if few else n_rep * n_hyp))
    if few:
        buf = np.empty((min(step, int(np.max(np.diff(bounds)))), n_hyp))
        direct = np.max(s) <= _DIRECT_MAX_STRENGTH  # else _ve_terms decides per block, as before
    for j in range(n_seg):
        for lo in range(bounds[j], bounds[j + 1], step):
            hi = min(bounds[j + 1], lo + step)
            block, sb = cat[:, lo:hi], s[lo:hi, None]  # (R, b), (b, 1)
            if not few:
                out[:, j] += _ve_terms(p_c[block], log_pc[block], sb).sum(axis=1)  # (R, b, H) -> (R, H)
                continue
            r1 = np.expm1(s[lo:hi]) if direct else None
            for c in np.flatnonzero(np.bincount(block.ravel(), minlength=n_cat)):
                terms = _ve_outer_terms(r1, p_c[c], buf[: hi - lo]) if direct else _ve_terms(p_c[c], log_pc[c], sb)
                out[:, j] += (block == c).astype(float) @ terms  # (R, b) @ (b, H)
    return out


def _exact_split(table: NDArray[np.float64], n_max: int, top: float | None = None):
    """``table = hi + lo`` with ``hi`` on a grid of ``2^(53 - k)`` steps, ``2^k > n_max``.

    For integer weights with ``sum_c W_c <= n_max``, every partial sum of ``W_c hi_c`` is an
    integer multiple of the grid step below ``2^53`` of it, so ``W @ hi`` is *exact* in any
    order (BLAS included); ``W @ lo`` is tiny (``|lo| <= step / 2``) and its rounding error is
    about ``eps |W @ table| n_max / 2^53``. ``top``: ``max |table|``, when the caller knows it.
    """
    if top is None:
        top = max(-float(table.min()), float(table.max())) if table.size else 0.0
    bits = 53 - int(n_max).bit_length()
    if top == 0.0 or bits < 1 or not math.isfinite(top):
        return np.zeros_like(table), table
    step = math.ldexp(1.0, math.frexp(top)[1] - bits)  # |table| / step < 2^bits
    hi = np.rint(table * (1.0 / step)) * step  # scaling by a power of 2 is exact
    return hi, table - hi


def _linear_value(kind, label, weights, table, parts, impossible_c, at):
    """``(hi, lo, overflowed)`` of ``sum_c W_c table_c`` for weights ``(R, T, C)``
    (``overflowed`` None when every entry is finite and no category is impossible).

    Integer counts (hard Bayes, constant-strength VE) use the exact split ``parts`` of
    :func:`_exact_split`: ``hi = W @ parts[0]`` is exact and ``lo = W @ parts[1]`` small;
    tempering weights the double-double :func:`~bayes_w2s.core._compensated.dd_matmul`.
    Hard Bayes and tempering: ``W > 0`` on an impossible category (``impossible_c``, None
    if there is none) gives ``-inf``; a finite sum that leaves float64 is ``-inf`` and
    flagged (tempering raises at once, naming the first checkpoint ``at[t]`` where it happened).
    """
    if kind == "tempered":
        if not np.all(np.isfinite(weights)):
            raise _overflow("the summed tempering weight of one (context, label)", f"max {np.max(weights):.6g}")
        hi, lo = dd_matmul(weights, table)  # (R, T, H)
    else:
        hi, lo = weights @ parts[0], weights @ parts[1]  # (R, T, H)
    finite = np.isfinite(hi)
    if impossible_c is None and finite.all():
        return hi, lo, None
    overflowed = ~finite
    dead = None
    if impossible_c is not None and kind != "ve":
        dead = (weights > 0).astype(float) @ impossible_c > 0
        overflowed &= ~dead
    if kind == "tempered" and overflowed.any():
        t = int(np.argmax(overflowed.any(axis=(0, 2))))
        raise _overflow(f"rule {label!r}: the tempered sum", f"by observation {at[t]}")
    gone = overflowed if dead is None else overflowed | dead
    if gone.any():
        return np.where(gone, -np.inf, hi), np.where(gone, 0.0, lo), overflowed
    return hi, lo, overflowed

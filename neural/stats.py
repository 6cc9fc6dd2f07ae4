"""Paired bootstrap over seeds: is a method's PGR different from a reference method's?

Every method of a compare run sees the same seeds, and a seed fixes the splits, the weak model
and the ceiling; so seed-to-seed variation common to all methods (a lucky split, a strong
ceiling) cancels in a *paired* difference. For methods m and ref with per-seed accuracies
``w_k`` (weak), ``c_k`` (ceiling), ``a_k`` (m) and ``b_k`` (ref), ``k = 1..K``,

    d = PGR(mean w, mean a, mean c) - PGR(mean w, mean b, mean c),
    PGR(w, s, c) = (s - w) / (c - w),

and the percentile bootstrap (Efron & Tibshirani 1993, ch. 13) resamples the K seeds with
replacement *jointly* for both methods, recomputes d on each resample, and reports the
``(1 - level)/2`` and ``(1 + level)/2`` quantiles. The difference "excludes 0" when the
interval lies strictly on one side of 0.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["bootstrap_ci", "paired_pgr_diff"]


def bootstrap_ci(
    data: np.ndarray,
    statistic,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(statistic(data), lo, hi)``: percentile bootstrap resampling the rows of ``data``.

    ``data`` is ``(K, m)`` (one row per seed, all columns resampled together: paired);
    ``statistic`` maps a ``(n_boot, K, m)`` stack of resamples to ``(n_boot,)`` values (and a
    ``(1, K, m)`` stack to one value). Non-finite replicates are dropped; NaN bounds with
    fewer than 2 rows.
    """
    data = np.asarray(data, float)
    if data.ndim != 2 or data.shape[0] < 1:
        raise ValueError(f"data must be (K, m) with K >= 1, got shape {data.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level!r}")
    if n_boot < 1:
        raise ValueError(f"n_boot must be >= 1, got {n_boot!r}")
    point = float(np.asarray(statistic(data[None]))[0])
    k = data.shape[0]
    if k < 2:
        return point, math.nan, math.nan
    idx = np.random.default_rng(seed).integers(0, k, size=(n_boot, k))  # (n_boot, K)
    reps = np.asarray(statistic(data[idx]), float)  # (n_boot,)
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return point, math.nan, math.nan
    alpha = (1 - level) / 2
    return point, float(np.quantile(reps, alpha)), float(np.quantile(reps, 1 - alpha))


def _pgr_diff_stat(stack: np.ndarray) -> np.ndarray:
    """``(n, K, 4)`` columns (w, c, a, b) -> ``(n,)`` PGR(a) - PGR(b) of the seed means."""
    w, c, a, b = (stack[..., j].mean(-1) for j in range(4))
    gap = c - w
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(gap > 0, (a - b) / np.where(gap > 0, gap, 1.0), np.nan)


def paired_pgr_diff(
    acc_weak,
    acc_ceiling,
    acc_method,
    acc_ref,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """``(d, lo, hi)``: the PGR difference of ``acc_method`` from ``acc_ref`` (same seeds).

    All four arguments are ``(K,)`` per-seed accuracies aligned by seed. ``d`` is NaN when the
    mean ceiling does not exceed the mean weak accuracy (PGR undefined).
    """
    cols = [np.asarray(v, float) for v in (acc_weak, acc_ceiling, acc_method, acc_ref)]
    k = cols[0].shape
    for name, v in zip(("acc_weak", "acc_ceiling", "acc_method", "acc_ref"), cols):
        if v.ndim != 1 or v.shape != k:
            raise ValueError(f"{name} must be (K,) aligned with acc_weak {k}, got {v.shape}")
    return bootstrap_ci(
        np.stack(cols, axis=1), _pgr_diff_stat, n_boot=n_boot, seed=seed, level=level
    )

"""Evaluation: AUROC, mimicry measures on test predictions, PGR with bootstrap CIs across seeds.

* ``auroc``: Mann–Whitney form ``P(score_pos > score_neg) + 1/2 P(tie)``; macro one-vs-rest
  for more than two classes.
* ``agreement_on_weak_errors``: among test examples the weak model gets wrong, the fraction
  on which the student predicts the weak model's (wrong) label — the direct mimicry measure.
* ``pgr_summary``: per method, ``PGR = (mean acc_w2s - mean acc_weak) / (mean acc_ceiling -
  mean acc_weak)`` over seeds, with a percentile bootstrap CI that resamples seeds with
  replacement (Efron & Tibshirani 1993). With few seeds the CI is coarse; it says so by
  being wide. Next to it, the *paired* bootstrap CI of the method's PGR difference from a
  reference method (``xent``) over the same seeds (:func:`~.stats.paired_pgr_diff`), and
  whether that CI excludes 0; and the seed means of the movement certificate columns.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr

from .stats import bootstrap_ci, paired_pgr_diff

__all__ = ["agreement_on_weak_errors", "auroc", "bootstrap_pgr", "pgr_summary"]


def auroc(probs: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``probs (n, C)`` for ``labels (n,)``; NaN if one class only."""
    probs, labels = np.asarray(probs, float), np.asarray(labels)
    if probs.ndim != 2 or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"probs (n, C) and labels (n,) needed, got {probs.shape}, {labels.shape}")
    classes = range(probs.shape[1]) if probs.shape[1] > 2 else [1]
    scores = []
    for c in classes:
        pos = labels == c
        n_pos, n_neg = int(pos.sum()), int((~pos).sum())
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = rankdata(probs[:, c])  # average ranks handle ties as 1/2
        scores.append((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
    return float(np.mean(scores)) if scores else float("nan")


def agreement_on_weak_errors(
    student_pred: np.ndarray, weak_pred: np.ndarray, labels: np.ndarray
) -> float:
    """Fraction of the weak model's test errors on which the student repeats the weak label."""
    wrong = np.asarray(weak_pred) != np.asarray(labels)
    if not wrong.any():
        return float("nan")
    return float(np.mean(np.asarray(student_pred)[wrong] == np.asarray(weak_pred)[wrong]))


def _pgr_stat(stack: np.ndarray) -> np.ndarray:
    """``(n, K, 3)`` columns (weak, w2s, ceiling) -> ``(n,)`` PGR of the seed means."""
    return np.atleast_1d(pgr(*(stack[..., j].mean(-1) for j in range(3))))


def bootstrap_pgr(
    acc_weak, acc_w2s, acc_ceiling, *, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float, float]:
    """``(pgr_of_means, lo, hi)``: a percentile bootstrap over seeds (rows resampled jointly,
    :func:`~.stats.bootstrap_ci`)."""
    data = np.stack([np.asarray(a, float) for a in (acc_weak, acc_w2s, acc_ceiling)], axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PGRUndefinedWarning)
        return bootstrap_ci(data, _pgr_stat, n_boot=n_boot, seed=seed, level=level)


def pgr_summary(
    df: pd.DataFrame,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    level: float = 0.95,
    reference: str = "xent",
) -> pd.DataFrame:
    """One row per method: mean accuracies, PGR (of means) with its bootstrap CI, mimicry.

    ``df`` has one row per (method, seed) with ``acc_weak, acc_w2s, acc_ceiling`` and the
    other columns written by :func:`bayes_w2s.neural.pipeline.run`. With a ``seed`` column
    and the ``reference`` method present: ``pgr_diff, diff_lo, diff_hi`` (paired bootstrap
    over the seeds both share) and ``diff_excludes_0``.
    """
    ref = df[df["method"] == reference] if "seed" in df else df.iloc[:0]
    ref = ref.drop_duplicates("seed").set_index("seed") if len(ref) else None
    rows = []
    for method, g in df.groupby("method", sort=False):
        point, lo, hi = bootstrap_pgr(
            g.acc_weak, g.acc_w2s, g.acc_ceiling, n_boot=n_boot, seed=seed, level=level
        )
        if not (g.acc_ceiling.mean() > g.acc_weak.mean()):
            warnings.warn(
                f"PGR undefined for {method}: ceiling <= weak", PGRUndefinedWarning, stacklevel=2
            )
        row = {
            "method": method,
            "n_seeds": len(g),
            "acc_weak": g.acc_weak.mean(),
            "acc_ceiling": g.acc_ceiling.mean(),
            "acc_w2s": g.acc_w2s.mean(),
            "acc_w2s_sd": g.acc_w2s.std(ddof=1) if len(g) > 1 else float("nan"),
            "pgr": point,
            "pgr_lo": lo,
            "pgr_hi": hi,
            "level": level,
        }
        row.update(_paired(g, ref, n_boot=n_boot, seed=seed, level=level))
        for col in (
            "auroc_w2s",
            "agree_weak",
            "agree_on_weak_errors",
            "influence",
            "influence_limit",
            "param_distance",
            "distance_bound",
            "kl_from_init",
            "kl_bound",
        ):
            if col in g:
                row[col] = g[col].mean()
        if "influence" in g and "influence_limit" in g:
            row["influence_max"] = g["influence"].max()
        rows.append(row)
    return pd.DataFrame(rows)


def _paired(g: pd.DataFrame, ref, *, n_boot: int, seed: int, level: float) -> dict:
    nan = float("nan")
    out = {"pgr_diff": nan, "diff_lo": nan, "diff_hi": nan, "diff_excludes_0": False}
    if ref is None:
        return out
    g = g.drop_duplicates("seed").set_index("seed")
    common = g.index.intersection(ref.index)
    if len(common) == 0:
        return out
    g, r = g.loc[common], ref.loc[common]
    d, lo, hi = paired_pgr_diff(
        g.acc_weak, g.acc_ceiling, g.acc_w2s, r.acc_w2s, n_boot=n_boot, seed=seed, level=level
    )
    out.update(pgr_diff=d, diff_lo=lo, diff_hi=hi, diff_excludes_0=bool(lo > 0 or hi < 0))
    return out

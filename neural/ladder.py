"""``neural ladder``: every weak < strong pair of a capability ladder at equal ground truth.

Burns et al. (2023) protocol: for models ``m_1 < m_2 < ... < m_K`` (ordered by capability) and
every pair ``i < j``, the weak model ``m_i`` and the strong ceiling ``m_j`` train on the *same*
ground-truth split ``weak_train``; the student ``m_j`` trains on ``m_i``'s soft labels of
``weak_label``; all are scored on ``test``. Per pair and method,

    PGR = (acc_w2s - acc_weak) / (acc_ceiling - acc_weak)

of the seed-mean accuracies, with a percentile bootstrap CI over seeds. Every model's frozen
features are computed once per dataset and cached, so a ladder of K models costs K
embeddings plus ``K (K - 1) / 2 * methods * seeds`` head trainings (seconds each).

``features_s`` records each model's embedding (or cache-load) time, ``wall_s`` each row's.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from bayes_w2s.harness.runs import save_figure, write_run

from .cache import ArrayCache
from .folders import folder_name
from .evaluate import bootstrap_pgr
from .models import ModelSpec
from .pipeline import W2SConfig, _dataset, run

__all__ = [
    "DEFAULT_LADDER",
    "LadderConfig",
    "ladder_pairs",
    "ladder_summary",
    "plot_ladder",
    "run_ladder",
    "write_ladder",
]

DEFAULT_LADDER = ("minilm-l1", "minilm", "mpnet")


def ladder_pairs(models) -> list[tuple[str, str]]:
    """Every ``(weak, strong)`` with weak before strong in ``models`` (capability order)."""
    models = tuple(models)
    if len(models) < 2:
        raise ValueError(f"a ladder needs at least 2 models, got {list(models)}")
    if len(set(models)) != len(models):
        raise ValueError(f"ladder models must be distinct, got {list(models)}")
    for m in models:
        ModelSpec.parse(m)
    return [(models[i], models[j]) for i in range(len(models)) for j in range(i + 1, len(models))]


@dataclass(frozen=True)
class LadderConfig:
    """Models in capability order, the base pipeline config (equal ground truth), methods, seeds."""

    models: tuple[str, ...] = DEFAULT_LADDER
    base: W2SConfig = field(default_factory=lambda: W2SConfig(n_weak_gt=None))
    methods: tuple[str, ...] = ("xent",)
    seeds: tuple[int, ...] = tuple(range(10))
    n_boot: int = 2000

    def __post_init__(self) -> None:
        ladder_pairs(self.models)
        if not self.seeds:
            raise ValueError("seeds must not be empty")
        if not self.methods:
            raise ValueError("methods must not be empty")


def _feature_seconds(cfg: LadderConfig, cache: ArrayCache, progress: bool) -> dict[str, float]:
    """Embed (or load) every model's features once, timing each; features mode only."""
    if cfg.base.mode != "features":
        return {}
    from .features import cached_features

    data = _dataset(cfg.base.dataset)
    out = {}
    for m in cfg.models:
        t0 = time.perf_counter()
        cached_features(
            m,
            data,
            cache,
            max_length=cfg.base.max_length,
            device=cfg.base.device,
            progress=progress,
        )
        out[m] = time.perf_counter() - t0
    return out


def run_ladder(
    cfg: LadderConfig, *, cache: ArrayCache | None = None, progress: bool = False
) -> pd.DataFrame:
    """Rows for every (pair, method, seed), tagged ``pair`` and the weak/strong ladder ranks."""
    cache = cache if cache is not None else ArrayCache()
    feat_s = _feature_seconds(cfg, cache, progress)
    rank = {m: i for i, m in enumerate(cfg.models)}
    frames = []
    for weak, strong in ladder_pairs(cfg.models):
        pair_cfg = replace(cfg.base, weak=weak, strong=strong)
        rows = run(pair_cfg, cfg.seeds, cache=cache, progress=progress, methods=cfg.methods)
        rows.insert(0, "pair", f"{weak}->{strong}")
        rows["weak_rank"], rows["strong_rank"] = rank[weak], rank[strong]
        rows["features_s_weak"] = feat_s.get(weak, np.nan)
        rows["features_s_strong"] = feat_s.get(strong, np.nan)
        frames.append(rows)
    return pd.concat(frames, ignore_index=True)


def ladder_summary(rows: pd.DataFrame, *, n_boot: int = 2000, level: float = 0.95) -> pd.DataFrame:
    """Per (pair, method): seed-mean accuracies (and their seed sd), PGR of the means with a
    bootstrap CI over seeds, and the mean seconds per row."""
    out = []
    for (pair, method), g in rows.groupby(["pair", "method"], sort=False):
        point, lo, hi = bootstrap_pgr(
            g["acc_weak"].to_numpy(),
            g["acc_w2s"].to_numpy(),
            g["acc_ceiling"].to_numpy(),
            n_boot=n_boot,
            level=level,
            seed=0,
        )
        out.append(
            {
                "pair": pair,
                "weak": g["weak"].iloc[0],
                "strong": g["strong"].iloc[0],
                "method": method,
                "n_seeds": len(g),
                "acc_weak": g["acc_weak"].mean(),
                "acc_weak_sd": g["acc_weak"].std(ddof=1) if len(g) > 1 else np.nan,
                "acc_ceiling": g["acc_ceiling"].mean(),
                "acc_ceiling_sd": g["acc_ceiling"].std(ddof=1) if len(g) > 1 else np.nan,
                "acc_w2s": g["acc_w2s"].mean(),
                "acc_w2s_sd": g["acc_w2s"].std(ddof=1) if len(g) > 1 else np.nan,
                "pgr": point,
                "pgr_lo": lo,
                "pgr_hi": hi,
                "level": level,
                "seconds_per_row": g["wall_s"].mean() if "wall_s" in g else np.nan,
            }
        )
    return pd.DataFrame(out)


def plot_ladder(summary: pd.DataFrame, ax=None):
    """Burns-style: test accuracy against the strong model (ladder order), one line per weak
    model (student on its labels, solid) with the weak accuracy (dotted) and the ceiling (dashed)."""
    from bayes_w2s.harness import style

    fig, ax = style.new_axes(ax, figsize=(6.4, 4.0))
    s = summary[summary["method"] == summary["method"].iloc[0]] if len(summary) else summary
    strongs = list(dict.fromkeys(s["strong"]))
    weaks = list(dict.fromkeys(s["weak"]))
    order = {m: i for i, m in enumerate(list(dict.fromkeys(weaks + strongs)))}
    ceil = s.groupby("strong", sort=False)["acc_ceiling"].mean()
    xs = [order[m] for m in ceil.index]
    ax.plot(xs, ceil.to_numpy(), "k--", marker="s", label="ceiling (ground truth)")
    for k, weak in enumerate(weaks):
        g = s[s["weak"] == weak]
        color = f"C{k}"
        x = [order[m] for m in g["strong"]]
        ax.plot(x, g["acc_w2s"], color=color, marker="o", label=f"student on {weak} labels")
        ax.axhline(g["acc_weak"].mean(), color=color, ls=":", lw=1)
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels(list(order), fontsize=8)
    ax.set_xlabel("strong model (capability order)")
    n = int(s["n_seeds"].max()) if len(s) else 0
    ax.set_ylabel(f"test accuracy (mean of {n} seeds)")
    ax.set_title(f"weak-to-strong ladder ({s['method'].iloc[0] if len(s) else ''})", fontsize=10)
    ax.legend(fontsize=7)
    return fig


def write_ladder(
    root: str | os.PathLike,
    cfg: LadderConfig,
    rows: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    extra: dict | None = None,
    figure: bool = True,
) -> Path:
    """``root/neural_ladder__<dataset>__<mode>__<hash>``: config, results.csv, ladder.csv, figure."""
    import matplotlib

    matplotlib.use("Agg")
    folder = Path(root) / folder_name("neural_ladder", cfg, tag=cfg.base.dataset)
    write_run(folder, "neural_ladder", cfg, rows, extra=extra, tables={"ladder.csv": summary})
    if figure and len(summary):
        save_figure(plot_ladder(summary), folder / "ladder")
    return folder

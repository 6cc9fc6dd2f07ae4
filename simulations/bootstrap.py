"""Bootstrapping: weak -> intermediate -> strong, against the single jump weak -> strong.

World as in :mod:`~bayes_w2s.simulations.mimicry_limit`; the ``train`` inputs are split in
two halves A and B. Models:

* weak: pixelated labelers (``grid_cells x grid_cells`` grid) after hard Bayes on ``n_gt``
  ground-truth labels;
* intermediate: halfspaces on ``mid_angles`` angles with the pretrained prior of
  concentration ``mid_kappa``; a grammatical class, it cannot represent the weak staircase;
* strong: halfspaces on ``strong_angles`` angles with concentration ``strong_kappa``, in
  two spaces: ``contains weak`` (plus every grid labeler: the weak errors are
  representable) and ``grammatical`` (halfspaces only).

Single jump: N weak labels at inputs B train the strong model. Chain: ``n_mid`` weak labels
at inputs A train the intermediate model (same rule), whose predictive then labels N
inputs of B for the strong model (same rule). PGR, agreement with the *weak* model on its
errors and the ceiling (hard Bayes on the truth at the strong model's inputs) are
measured on the test inputs in both paths; the intermediate model's own accuracy is
recorded as ``acc_mid``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import RulesConfig, median_band, selected_rules
from bayes_w2s.simulations.mimicry_limit import STRONG_VARIANTS

from bayes_w2s.trajectory import log_checkpoints
from bayes_w2s.w2s import WeakModel, train_weak, weak_to_strong
from bayes_w2s.worlds import grid_labelers, halfspaces

__all__ = ["Config", "run", "summarize", "FIGURES", "PATHS"]

PATHS = ("single jump", "chain")


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run bootstrap --field value``."""

    n: int = 10_000
    n_mid: int = 10_000
    per_decade: int = 4
    n_train: int = 800
    grid_cells: int = 3
    mid_angles: int = 12
    mid_offsets: int = 11
    mid_kappa: float = 400.0
    strong_angles: int = 72
    strong_kappa: float = 400.0
    rules: str = "hard Bayes;VE const log r=0.1;VE budget(budget=100)"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_train < 2:
            raise ValueError("n_train must be >= 2 (it is split in two halves)")
        if self.n < 1 or self.n_mid < 1 or self.per_decade < 1:
            raise ValueError("n, n_mid and per_decade must be >= 1")
        if not 1 <= self.grid_cells <= 3:
            raise ValueError(f"grid_cells must be 1, 2 or 3, got {self.grid_cells}")
        if min(self.mid_angles, self.mid_offsets, self.strong_angles, self.strong_offsets) < 1:
            raise ValueError("angle and offset counts must be >= 1")
        if self.mid_kappa < 0 or self.strong_kappa < 0:
            raise ValueError("mid_kappa and strong_kappa must be >= 0")
        selected_rules(self, self.rules)


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(strong, path, rule, replicate, n, metric, value)``."""
    rules = selected_rules(cfg, cfg.rules)
    cps = log_checkpoints(cfg.n, cfg.per_decade)
    frames = []
    for rep in range(cfg.replicates):
        world = cfg.world(rep)
        train = world.pool["train"]
        half_a, half_b = train[: train.size // 2], train[train.size // 2:]
        grid = grid_labelers(world.pool.points, cfg.grid_cells)
        weak = train_weak(world, grid, cfg.eps_weak)
        mid_cls = halfspaces(world.pool.points, cfg.mid_angles, cfg.mid_offsets)
        _, mid_fit = weak_to_strong(world, weak, mid_cls, world.strong_prior(mid_cls, cfg.mid_kappa), cfg.eps_strong,
                                    rules, [cfg.n_mid], np.random.default_rng([cfg.seed, rep, 1]),
                                    contexts=half_a, mode=cfg.weak_labels)
        test = world.pool["test"]
        base = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets)
        for variant in STRONG_VARIANTS:
            strong = base.union(grid) if variant == "contains weak" else base
            prior = world.strong_prior(strong, cfg.strong_kappa)
            jump, _ = weak_to_strong(world, weak, strong, prior, cfg.eps_strong, rules, cps,
                                     np.random.default_rng([cfg.seed, rep, 2]), contexts=half_b, mode=cfg.weak_labels)
            frames.append(jump.assign(strong=variant, path="single jump", replicate=rep))
            for k, rule in enumerate(rules):
                mid = WeakModel.from_posterior(mid_cls, cfg.eps_strong, mid_fit.log_posterior[k, 0])
                chain, _ = weak_to_strong(world, mid, strong, prior, cfg.eps_strong, [rule], cps,
                                          np.random.default_rng([cfg.seed, rep, 3, k]), contexts=half_b,
                                          mode=cfg.weak_labels, reference=weak)
                acc_mid = float(np.mean(mid.decision[test] == world.truth[test]))
                extra = pd.DataFrame({"rule": rule.label, "n": cps, "metric": "acc_mid", "value": acc_mid})
                frames.append(pd.concat([chain, extra], ignore_index=True).assign(
                    strong=variant, path="chain", replicate=rep))
    return pd.concat(frames, ignore_index=True)[["strong", "path", "rule", "replicate", "n", "metric", "value"]]


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Median PGR, accuracy and agreement on weak errors at the largest N, chain vs single jump."""
    last = df[df.n == df.n.max()]
    wide = last.pivot_table(index=["strong", "rule", "path"], columns="metric", values="value",
                            aggfunc="median", sort=False)
    cols = [c for c in ("acc_weak", "acc_mid", "acc_ceiling", "acc_w2s", "pgr", "agree_weak_err") if c in wide]
    return "\n".join([
        f"bootstrap: {cfg.replicates} worlds, N={cfg.n} labels for the strong model, n_mid={cfg.n_mid}; medians",
        wide[cols].to_string(float_format=lambda v: f"{v:.3f}"),
    ])


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs N: chain (solid) vs single jump (dashed), per rule; one panel per strong space."""
    from bayes_w2s.style import new_axes

    if ax is None:
        fig, axes = new_axes(None, ncols=2, figsize=(11, 4), sharey=True)
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    rules = list(dict.fromkeys(df.rule))
    colors = {r: f"C{i}" for i, r in enumerate(rules)}
    for a, variant in zip(axes, STRONG_VARIANTS):
        sub = df[(df.strong == variant) & (df.metric == "pgr")].dropna(subset=["value"])
        sub = sub.assign(line=sub.rule + ", " + sub.path)
        styles = {f"{r}, {p}": {"color": colors[r], "ls": "-" if p == "chain" else "--"} for r in rules for p in PATHS}
        median_band(a, sub, "n", "value", "line", styles=styles)
        a.set(xscale="log", xlabel="labels for the strong model N", title=f"strong space: {variant}", ylim=(-1.2, 1.2))
        a.axhline(0, color="grey", lw=0.8, ls=":")
    axes[0].set_ylabel("PGR (median over worlds)")
    axes[1].legend(loc="lower left", fontsize=7)
    return fig


def plot_mimicry(df: pd.DataFrame, ax=None):
    """Agreement with the weak model on its errors at the largest N: bars per rule and path."""
    from bayes_w2s.style import new_axes

    fig, axes = new_axes(ax, ncols=2, figsize=(11, 4), sharey=True) if ax is None else (np.atleast_1d(ax)[0].figure, np.atleast_1d(ax))
    last = df[(df.n == df.n.max()) & (df.metric == "agree_weak_err")]
    rules = list(dict.fromkeys(df.rule))
    for a, variant in zip(np.atleast_1d(axes), STRONG_VARIANTS):
        med = last[last.strong == variant].groupby(["rule", "path"]).value.median()
        x = np.arange(len(rules))
        for j, path in enumerate(PATHS):
            vals = [med.get((r, path), np.nan) for r in rules]
            a.bar(x + (j - 0.5) * 0.38, vals, width=0.38, label=path)
        a.set_xticks(x, rules, rotation=15, fontsize=7)
        a.set(title=f"strong space: {variant}", ylim=(0, 1))
    np.atleast_1d(axes)[0].set_ylabel(f"agreement with weak on its errors, N={int(df.n.max())}")
    np.atleast_1d(axes)[0].legend(loc="upper right")
    return fig


FIGURES = {"pgr": plot_pgr, "mimicry": plot_mimicry}

"""Capability gap: PGR against weak performance, one line per strong size (cf. Burns et al. 2023).

World as in :mod:`~bayes_w2s.simulations.mimicry_limit` (truth: a halfspace at
``truth_angle`` degrees). Model sizes are class richness:

* weak model of size m: halfspaces on ``m`` evenly spaced angles (``m = 2`` is a threshold on
  one feature, ``m = 4`` axis-aligned thresholds) and ``weak_offsets`` offsets, after hard
  Bayes on ``n_gt`` ground-truth labels; more angles, better weak accuracy;
* strong model of size k: halfspaces on ``strong_angles[k]`` angles and ``strong_offsets``
  offsets with the pretrained prior of concentration ``strong_kappas[k]`` — a bigger strong
  model is a finer class *and* more latent knowledge.

Angle grids start at 0, so a weak class is contained in a strong class whenever its angle
count divides the strong one (the ``contained`` column): then the weak errors are
representable. At a fixed number N of weak labels each strong model is trained with every
rule at each N in ``ns``; the ceiling is hard Bayes on the truth at the same inputs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import RulesConfig, median_band, selected_rules

from bayes_w2s.w2s import train_weak, weak_to_strong
from bayes_w2s.worlds import halfspaces

__all__ = ["Config", "run", "summarize", "FIGURES", "strong_label"]


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run gap_sweep --field value``."""

    ns: tuple[int, ...] = (300, 3000)
    weak_angles: tuple[int, ...] = (2, 3, 4, 5, 6, 8, 12)
    weak_offsets: int = 5
    strong_angles: tuple[int, ...] = (12, 24, 72)
    strong_kappas: tuple[float, ...] = (100.0, 300.0, 1000.0)
    bounded_schedules: str = "budget:budget=50"
    rules: str = "hard Bayes;VE budget(budget=50)"

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.ns or min(self.ns) < 1:
            raise ValueError(f"ns must be a non-empty tuple of positive integers, got {self.ns!r}")
        if not self.weak_angles or min(self.weak_angles) < 1:
            raise ValueError("weak_angles must be a non-empty tuple of integers >= 1")
        if not self.strong_angles or min(self.strong_angles) < 1:
            raise ValueError("strong_angles must be a non-empty tuple of integers >= 1")
        if len(self.strong_kappas) != len(self.strong_angles):
            raise ValueError(
                f"strong_kappas ({len(self.strong_kappas)}) must pair with strong_angles ({len(self.strong_angles)})"
            )
        if min(self.strong_kappas) < 0:
            raise ValueError("strong_kappas must be >= 0")
        if self.weak_offsets < 1 or self.strong_offsets < 1:
            raise ValueError("weak_offsets and strong_offsets must be >= 1")
        selected_rules(self, self.rules)


def strong_label(angles: int, kappa: float) -> str:
    return f"{angles} angles, kappa={kappa:g}"


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(weak_angles, strong, strong_angles, kappa, contained, rule, replicate, metric, value)``."""
    rules = selected_rules(cfg, cfg.rules)
    frames = []
    for rep in range(cfg.replicates):
        world = cfg.world(rep)
        strongs = []
        for angles, kappa in zip(cfg.strong_angles, cfg.strong_kappas):
            cls = halfspaces(world.pool.points, angles, cfg.strong_offsets)
            strongs.append((angles, kappa, cls, world.strong_prior(cls, kappa)))
        for m in cfg.weak_angles:
            weak = train_weak(world, halfspaces(world.pool.points, m, cfg.weak_offsets), cfg.eps_weak)
            for angles, kappa, cls, log_prior in strongs:
                stream_rng = np.random.default_rng([cfg.seed, rep, m])  # same weak labels for every strong size
                df, _ = weak_to_strong(world, weak, cls, log_prior, cfg.eps_strong, rules, list(cfg.ns),
                                       stream_rng, mode=cfg.weak_labels)
                contained = angles % m == 0 and (cfg.strong_offsets - 1) % max(cfg.weak_offsets - 1, 1) == 0
                frames.append(df.assign(
                    weak_angles=m, strong=strong_label(angles, kappa), strong_angles=angles, kappa=kappa,
                    contained=bool(contained), replicate=rep))
    cols = ["weak_angles", "strong", "strong_angles", "kappa", "contained", "rule", "replicate", "n", "metric", "value"]
    return pd.concat(frames, ignore_index=True)[cols]


def _wide(df):
    return df.pivot_table(index=["n", "weak_angles", "strong", "rule", "replicate"], columns="metric",
                          values="value", sort=False).reset_index()


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Median weak accuracy, ceiling, W2S accuracy, PGR, agreement on weak errors per cell."""
    wide = _wide(df)
    tab = wide.groupby(["n", "rule", "strong", "weak_angles"], sort=False)[
        ["acc_weak", "acc_ceiling", "acc_w2s", "pgr", "agree_weak_err"]].median()
    lines = [f"gap_sweep: {cfg.replicates} worlds, N in {cfg.ns}; medians over worlds",
             tab.to_string(float_format=lambda v: f"{v:.3f}")]
    for (n, rule), sub in wide.groupby(["n", "rule"], sort=False):
        pg = sub.groupby("strong", sort=False).pgr.median()
        lines.append(f"N={n}, {rule}: median PGR over all weak sizes per strong size: "
                     + ", ".join(f"{k}: {v:+.2f}" for k, v in pg.items()))
    return "\n".join(lines)


def _by_rule(df, y, ax, ylabel):
    from bayes_w2s.style import new_axes

    rules = list(dict.fromkeys(df.rule))
    ns = sorted(df.n.unique())
    cells = [(n, r) for n in ns for r in rules]
    if ax is None:
        fig, axes = new_axes(None, nrows=len(ns), ncols=len(rules), figsize=(5.5 * len(rules), 3.8 * len(ns)),
                             sharey=True, squeeze=False)
    else:
        fig = np.atleast_1d(ax).ravel()[0].figure
        axes = np.atleast_1d(ax)
    axes = np.asarray(axes).ravel()
    if axes.size != len(cells):
        raise ValueError(f"pass {len(cells)} axes (one per N and rule)")
    wide = _wide(df)
    for a, (n, rule) in zip(axes, cells):
        sub = wide[(wide.rule == rule) & (wide.n == n)]
        # x: each weak size at its median weak accuracy
        xpos = sub.groupby("weak_angles").acc_weak.median()
        sub = sub.assign(x=sub.weak_angles.map(xpos))
        median_band(a, sub.dropna(subset=[y]), "x", y, "strong")
        a.set(xlabel="weak model test accuracy (median per weak size)", title=f"{rule}, N={n}")
        a.set_ylabel(ylabel)
    axes[-1].legend(title="strong size", loc="best")
    fig.tight_layout()
    return fig, axes


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs weak accuracy, one line per strong size (median, quartile band over worlds)."""
    fig, axes = _by_rule(df, "pgr", ax, "PGR")
    for a in axes:
        a.axhline(0, color="grey", lw=0.8, ls=":")
        a.axhline(1, color="grey", lw=0.8, ls=":")
        a.set_ylim(-1.0, 1.3)
    return fig


def plot_accuracy(df: pd.DataFrame, ax=None):
    """Strong-student test accuracy vs weak accuracy per strong size; dotted: y = x (the weak model)."""
    fig, axes = _by_rule(df, "acc_w2s", ax, "strong student test accuracy")
    for a in axes:
        lo, hi = a.get_xlim()
        a.plot([lo, hi], [lo, hi], color="grey", ls=":", lw=1)
    return fig


FIGURES = {"pgr": plot_pgr, "accuracy": plot_accuracy}

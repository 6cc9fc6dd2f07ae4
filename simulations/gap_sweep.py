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

Capability is class size; weak *accuracy* is measured per world. With a random truth angle
per world (the default) a weak grid can line up with the truth in one world and miss it in
the next, so the x axis of the figures is each world's measured weak accuracy (binned), and
the summary reports mean, median and 10-90% of PGR over worlds per cell. Where the weak
model is as good as the ceiling (its grid happens to hold the truth's best approximant) PGR
is undefined: those cells are counted and left out, never read as 0 or 1. Under hard Bayes
the strong model passes ``N* = kappa / ((1 - 2 eps_w) log((1 - eps)/eps))`` and lands on
the weak model when that model is representable (``contained``).
"""

from __future__ import annotations

from dataclasses import dataclass


import numpy as np
import pandas as pd
from bayes_w2s.simulations._spread import fmt_spread, line_fit, spread, spread_table
from bayes_w2s.simulations._world import RulesConfig, selected_rules
from bayes_w2s.simulations.mimicry_limit import crossing_n  # re-exported: N* for a strong model of concentration kappa

from bayes_w2s.toys.w2s import train_weak, weak_to_strong
from bayes_w2s.toys.worlds import halfspaces
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "summarize", "FIGURES", "strong_label", "crossing_n", "ACC_BINS"]

ACC_BINS = (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0)


@dataclass(frozen=True)
class Config(RulesConfig):
    """Fields that determine the result; ``bayes-w2s run gap_sweep --field value``."""

    replicates: int = 30
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
    for rep in progress(range(cfg.replicates), desc="gap_sweep", unit="world"):
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
    wide = df.pivot_table(index=["n", "weak_angles", "strong", "contained", "rule", "replicate"], columns="metric",
                          values="value", sort=False, dropna=False).reset_index()
    return wide.dropna(subset=["acc_weak"])


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Per cell (N, rule, strong size, weak size): weak accuracy and PGR over worlds (mean, median,
    10-90%), how often PGR is undefined (weak >= ceiling) or negative; per strong size the
    correlation of PGR with the world's weak accuracy."""
    wide = _wide(df)
    acc = spread_table(wide.drop_duplicates(["weak_angles", "replicate"]), "weak_angles", "acc_weak")
    lines = [
        f"gap_sweep: {wide.replicate.nunique()} worlds (truth angle {cfg.truth_angle}), N in {cfg.ns}; "
        "over worlds: mean, median, 10-90%",
        "weak accuracy per weak size (capability = angles of the weak grid), measured per world:",
        "\n".join(f"  {m} angles: {fmt_spread(row, 3)}" for m, row in acc.iterrows()),
    ]
    tab = spread_table(wide, ["n", "rule", "strong", "weak_angles"], "pgr")
    neg = wide.groupby(["n", "rule", "strong", "weak_angles"], sort=False).pgr.apply(lambda v: int((v < 0).sum()))
    contained = wide.groupby(["n", "rule", "strong", "weak_angles"], sort=False).contained.first()
    tab = tab.assign(undefined=tab.n - tab.n_defined, negative=neg, contained=contained).rename(columns={"n": "worlds"})
    lines += ["PGR per cell (undefined = weak >= ceiling in that many worlds, left out; negative = PGR < 0):",
              tab.drop(columns=["n_defined"]).to_string(float_format=lambda v: f"{v:+.2f}")]
    n_undef, n_all = int(wide.pgr.isna().sum()), len(wide)
    lines.append(f"PGR undefined (weak model as accurate as the ceiling) in {n_undef} of {n_all} (world, cell) pairs")
    for (n, rule, strong), sub in wide.groupby(["n", "rule", "strong"], sort=False):
        fit = line_fit(sub.acc_weak, sub.pgr)
        kappa = float(sub.strong.iloc[0].split("kappa=")[1])
        parts = []
        for flag, name in ((True, "contained"), (False, "not contained")):
            cell = sub[sub.contained == flag]
            if len(cell):
                parts.append(f"{name}: {fmt_spread(spread(cell.pgr))}, PGR < 0 in {int((cell.pgr < 0).sum())}")
        lines.append(f"N={n} ({'past' if n > crossing_n(cfg, kappa) else 'before'} N*={crossing_n(cfg, kappa):.0f}), "
                     f"{rule}, {strong}: r(PGR, weak accuracy) = {fit['r']:+.2f}; " + "; ".join(parts))
    return "\n".join(lines)


def _by_rule(df, y, ax, ylabel, clip=None, refs=()):
    """One panel per (N, rule): the median of ``y`` per strong size against the binned weak
    accuracy, with 10-90% whiskers over the worlds in each bin; undefined PGRs counted per panel."""
    from bayes_w2s.harness.style import (clip_note, config_of, legend_outside, lines_with_whiskers, new_grid,
                                         ordinal_styles, reference_lines, setting_title)

    rules = list(dict.fromkeys(df.rule))
    ns = sorted(df.n.unique())
    fig, axes = new_grid(ax, len(ns), len(rules), height=2.0, sharex=True, sharey=True)
    wide = _wide(df)
    # x: each (world, weak size) at its measured weak accuracy, binned; the bin's median accuracy
    bins = pd.cut(wide.acc_weak, ACC_BINS, include_lowest=True)
    wide = wide.assign(x=wide.groupby(bins, observed=True).acc_weak.transform("median"))
    styles = ordinal_styles(dict.fromkeys(wide.strong))
    clipped = 0
    for i, n in enumerate(ns):
        for j, rule in enumerate(rules):
            a = axes[i, j]
            sub = wide[(wide.rule == rule) & (wide.n == n)]
            undefined = sub.groupby("strong", sort=False)[y].agg(lambda v: (int(v.isna().sum()), len(v)))
            reference_lines(a, refs)
            clipped += lines_with_whiskers(a, sub.dropna(subset=[y]), "x", y, "strong", center="median", at="all",
                                           clip=clip, styles=styles, note=False, dodge=0.012)
            if any(u for u, _ in undefined):
                text = "undefined PGR: " + ", ".join(f"{u}" for u, _ in undefined) + f" of {undefined.iloc[0][1]}"
                a.text(0.02, 0.98, text, transform=a.transAxes, ha="left", va="top", fontsize=5.5, color="#444444")
            a.set_title(f"{rule}, N = {n}")
            if i == len(ns) - 1:
                a.set_xlabel("weak model test accuracy, per world (binned)")
        axes[i, 0].set_ylabel(ylabel)
    note = clip_note(clipped, f"{clip[0]:g} to {clip[1]:g}") if clip else ""
    legend_outside(fig, loc="outside lower center", ncols=3,
                   title="strong size; median over worlds (line), 10–90% (whiskers); undefined counts in this order"
                   + (f"\n{note}" if note else ""))
    sizes = len(config_of(df).get("weak_angles", []))
    fig.suptitle(setting_title("gap sweep", worlds=int(df.replicate.nunique()))
                 + (f", {sizes} weak model sizes per world" if sizes else ""))
    return fig, axes


def plot_pgr(df: pd.DataFrame, ax=None):
    """PGR vs weak accuracy, one line per strong size (median, 10-90% whiskers over worlds)."""
    fig, _ = _by_rule(df, "pgr", ax, "PGR", clip=(-1.0, 1.15), refs=(0.0, 1.0))
    return fig


def plot_accuracy(df: pd.DataFrame, ax=None):
    """Strong-student test accuracy vs weak accuracy per strong size; dotted: y = x (the weak model)."""
    fig, axes = _by_rule(df, "acc_w2s", ax, "strong student\ntest accuracy")
    for a in axes.flat:
        lo, hi = a.get_xlim()
        a.plot([lo, hi], [lo, hi], color="grey", ls=":", lw=1)
    return fig


FIGURES = {"pgr": plot_pgr, "accuracy": plot_accuracy}

"""Budget trade-off: PGR over the total influence budget B and the prior's concentration kappa.

Same world as :mod:`~bayes_w2s.simulations.mimicry_limit`, strong space *containing* the
weak model's hypotheses (mimicry possible). At a fixed number of weak labels N the strong
prior (concentration ``kappa`` around the salient concepts) is updated with the budget
schedule ``s_i = B / N``, read two ways:

* virtual evidence (VE) with ``log r_i = B / N``: total Chan–Darwiche influence at most B;
* tempering with ``w_i = B / N``: a power posterior with total weight B (not a bound).

Both are Gibbs posteriors ``prior(h) exp(B c agree(h))`` to first order in ``B / N``, with
``c = 1 - 2 eps`` (VE) or ``c = log((1 - eps)/eps)`` (tempering). Two boundaries are
predicted: too small a B cannot *select* the truth among the concepts (PGR below 0, the
zero-shot mixture); once ``B c contrast > kappa`` the mimic of the weak model beats the
truth (PGR 0). The phase diagram measures where PGR is high; the table stores the
predicted mimicry boundary ``b_mimic = kappa / (c contrast)`` for the plot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import WorldConfig, label_contrast, median_band

from bayes_w2s.trajectory import Rule
from bayes_w2s.w2s import train_weak, weak_to_strong
from bayes_w2s.worlds import grid_labelers, halfspaces, likelihood_values

__all__ = ["Config", "run", "summarize", "FIGURES", "KINDS"]

KINDS = ("ve", "tempered")


@dataclass(frozen=True)
class Config(WorldConfig):
    """Fields that determine the result; ``bayes-w2s run budget_tradeoff --field value``."""

    replicates: int = 8
    n: int = 10_000
    budgets: tuple[float, ...] = tuple(float(b) for b in np.round(np.logspace(0, 4, 17), 3))
    kappas: tuple[float, ...] = tuple(float(k) for k in np.round(np.logspace(1, 3.5, 11), 2))
    grid_cells: int = 3
    strong_angles: int = 72

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if not self.budgets or min(self.budgets) <= 0:
            raise ValueError("budgets must be a non-empty tuple of positive numbers")
        if not self.kappas or min(self.kappas) < 0:
            raise ValueError("kappas must be a non-empty tuple of numbers >= 0")
        if len(set(self.budgets)) != len(self.budgets) or len(set(self.kappas)) != len(self.kappas):
            raise ValueError("budgets and kappas must not repeat")
        if not 1 <= self.grid_cells <= 3:
            raise ValueError(f"grid_cells must be 1, 2 or 3, got {self.grid_cells}")


def rate(cfg, kind: str) -> float:
    """``c``: match weight per unit budget for small strengths (VE: 1 - 2 eps; tempered: log odds)."""
    hit, miss = likelihood_values(cfg.eps_strong)
    return hit - miss if kind == "ve" else float(np.log(hit / miss))


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(kind, budget, kappa, replicate, metric, value, b_mimic)`` at N = ``cfg.n``."""
    rules, keys = [], {}
    for kind in KINDS:
        for b in cfg.budgets:
            label = f"{kind} B={b:g}"
            rules.append(Rule(kind, f"budget:budget={b}", label=label))
            keys[label] = (kind, b)
    frames = []
    for rep in range(cfg.replicates):
        world = cfg.world(rep)
        grid = grid_labelers(world.pool.points, cfg.grid_cells)
        weak = train_weak(world, grid, cfg.eps_weak)
        strong = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets).union(grid)
        for kappa in cfg.kappas:
            stream_rng = np.random.default_rng([cfg.seed, rep, 1])  # same labels for every kappa
            df, _ = weak_to_strong(world, weak, strong, world.strong_prior(strong, kappa), cfg.eps_strong,
                                   rules, [cfg.n], stream_rng, mode=cfg.weak_labels)
            kind_b = df.rule.map(keys)
            frames.append(df.assign(kind=[k for k, _ in kind_b], budget=[b for _, b in kind_b],
                                    kappa=kappa, replicate=rep).drop(columns=["rule", "n"]))
    out = pd.concat(frames, ignore_index=True)
    contrast = label_contrast(cfg)
    out["b_mimic"] = out.kappa / (out.kind.map({k: rate(cfg, k) for k in KINDS}) * contrast)
    return out[["kind", "budget", "kappa", "replicate", "metric", "value", "b_mimic"]]


def _median_grid(df, kind, metric):
    sub = df[(df.kind == kind) & (df.metric == metric)]
    return sub.groupby(["kappa", "budget"]).value.median().unstack("budget")


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Median PGR over (kappa, B) for VE, and where PGR >= 0.8 per kappa."""
    lines = [f"budget_tradeoff: {cfg.replicates} worlds, N={cfg.n}, PGR median over worlds"]
    for kind in KINDS:
        grid = _median_grid(df, kind, "pgr")
        lines.append(f"{kind}: rows kappa, columns B")
        lines.append(grid.to_string(float_format=lambda v: f"{v:.2f}"))
        bounds = df[df.kind == kind].groupby("kappa").b_mimic.first()
        for kappa, row in grid.iterrows():
            good = row.index[row.values >= 0.8]
            span = f"B in [{good.min():g}, {good.max():g}]" if len(good) else "nowhere"
            lines.append(f"  kappa={kappa:g}: PGR>=0.8 for {span}; predicted mimicry above B={bounds[kappa]:.3g}")
    return "\n".join(lines)


def _edges(values):
    v = np.log10(np.asarray(values, float))
    mid = (v[1:] + v[:-1]) / 2
    return 10 ** np.concatenate([[v[0] - (mid[0] - v[0]) if v.size > 1 else v[0] - 0.5], mid,
                                 [v[-1] + (v[-1] - mid[-1]) if v.size > 1 else v[-1] + 0.5]])


def _phase(df, metric, ax, label, vmin, vmax, cmap):
    from bayes_w2s.style import new_axes

    if ax is None:
        fig, axes = new_axes(None, ncols=len(KINDS), figsize=(5.5 * len(KINDS), 4.2), sharey=True)
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    for a, kind in zip(axes, KINDS):
        grid = _median_grid(df, kind, metric)
        if (grid.index > 0).all():
            mesh = a.pcolormesh(_edges(grid.columns), _edges(grid.index), grid.values,
                                vmin=vmin, vmax=vmax, cmap=cmap, shading="flat")
            a.set_yscale("log")
        else:
            mesh = a.pcolormesh(_edges(grid.columns), np.arange(len(grid.index) + 1), grid.values,
                                vmin=vmin, vmax=vmax, cmap=cmap, shading="flat")
        bound = df[df.kind == kind].groupby("kappa").b_mimic.first()
        a.plot(bound.values, bound.index, color="black", ls="--", lw=1.2, label="predicted mimicry boundary")
        a.set(xscale="log", xlim=(_edges(grid.columns)[0], _edges(grid.columns)[-1]),
              ylim=(_edges(grid.index)[0], _edges(grid.index)[-1]),
              xlabel="total influence budget B", title=f"{'virtual evidence' if kind == 've' else 'tempered'} B/N")
        a.grid(False)
    axes[0].set_ylabel("prior concentration kappa")
    axes[0].legend(loc="lower right")
    fig.colorbar(mesh, ax=list(axes), label=label)
    return fig


def plot_phase(df: pd.DataFrame, ax=None):
    """Median PGR over (B, kappa); dashed: predicted boundary above which the weak mimic wins."""
    return _phase(df, "pgr", ax, "PGR (median over worlds)", -1.0, 1.0, "RdBu")


def plot_mimicry_phase(df: pd.DataFrame, ax=None):
    """Median agreement with the weak model on its errors over (B, kappa)."""
    return _phase(df, "agree_weak_err", ax, "agreement on weak errors", 0.0, 1.0, "magma")


def plot_slices(df: pd.DataFrame, ax=None):
    """VE: PGR against B, one line per kappa (median and quartile band over worlds)."""
    from bayes_w2s.style import new_axes

    fig, ax = new_axes(ax)
    sub = df[(df.kind == "ve") & (df.metric == "pgr")].dropna(subset=["value"])
    kappas = sorted(sub.kappa.unique())
    keep = kappas[:: max(1, len(kappas) // 5)]
    median_band(ax, sub[sub.kappa.isin(keep)].assign(kappa=lambda d: d.kappa.map(lambda k: f"kappa={k:g}")),
                "budget", "value", "kappa")
    ax.set(xscale="log", ylim=(-1.5, 1.2), xlabel="total influence budget B (VE, B/N)", ylabel="PGR")
    ax.axhline(0, color="grey", lw=0.8, ls=":")
    ax.legend(loc="lower left")
    return fig


FIGURES = {"phase": plot_phase, "mimicry_phase": plot_mimicry_phase, "slices": plot_slices}

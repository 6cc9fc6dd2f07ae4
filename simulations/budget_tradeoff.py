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

The mimicry edge is a *check derived from the model*, not a discovery: in the Gibbs form
the log-odds of the mimic against the truth is ``-kappa rho + B c contrast rho`` (both
differ from the truth on the weak errors, rate ``rho``), so the edge is linear in kappa by
algebra. What could fail is the other edge and the region between them: both rest on the
prior holding the truth among its concepts. ``priors`` sweeps that condition on paired
worlds: ``truth`` (the truth is a concept), a rotation in degrees (the prior's truth-like
concept is the truth rotated), ``absent`` (no truth-like concept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from bayes_w2s.simulations._world import (WorldConfig, label_contrast, parse_prior,
                                          spread_stats, with_prior)

from bayes_w2s.core.trajectory import Rule
from bayes_w2s.toys.w2s import train_weak, weak_to_strong
from bayes_w2s.toys.worlds import grid_labelers, halfspaces, likelihood_values
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "summarize", "FIGURES", "KINDS"]

KINDS = ("ve", "tempered")


@dataclass(frozen=True)
class Config(WorldConfig):
    """Fields that determine the result; ``bayes-w2s run budget_tradeoff --field value``."""

    replicates: int = 10
    n: int = 10_000
    budgets: tuple[float, ...] = tuple(float(b) for b in np.round(np.logspace(0, 4, 17), 3))
    kappas: tuple[float, ...] = tuple(float(k) for k in np.round(np.logspace(1, 3.5, 11), 2))
    grid_cells: int = 3
    strong_angles: int = 72
    priors: tuple[str, ...] = ("truth", "absent")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.prior_misspec_deg != 0.0 or not self.truth_in_prior:
            raise ValueError("budget_tradeoff sweeps the prior itself: set priors (e.g. ('truth', '25', 'absent')), "
                             f"not prior_misspec_deg={self.prior_misspec_deg!r} / truth_in_prior={self.truth_in_prior!r}")
        if not self.priors or len(set(self.priors)) != len(self.priors):
            raise ValueError(f"priors must be a non-empty tuple without repeats, got {self.priors!r}")
        for name in self.priors:
            parse_prior(name)  # raises naming the bad entry
        if "absent" in self.priors and self.n_distractors < 1:
            raise ValueError("priors with 'absent' need n_distractors >= 1")
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
    """Tidy table ``(prior, kind, budget, kappa, replicate, metric, value, b_mimic)`` at N = ``cfg.n``.

    Within a replicate every prior condition shares the pool, truth, distractors, weak model
    and weak labels (paired worlds)."""
    rules, keys = [], {}
    for kind in KINDS:
        for b in cfg.budgets:
            label = f"{kind} B={b:g}"
            rules.append(Rule(kind, f"budget:budget={b}", label=label))
            keys[label] = (kind, b)
    frames = []
    for rep in progress(range(cfg.replicates), desc="budget_tradeoff", unit="world"):
        grid = weak = strong = None
        for prior in cfg.priors:
            world = with_prior(cfg, *parse_prior(prior)).world(rep)
            if weak is None:  # the pool and truth, hence these, are the same for every prior: build them once
                grid = grid_labelers(world.pool.points, cfg.grid_cells)
                weak = train_weak(world, grid, cfg.eps_weak)
                strong = halfspaces(world.pool.points, cfg.strong_angles, cfg.strong_offsets).union(grid)
            for kappa in cfg.kappas:
                stream_rng = np.random.default_rng([cfg.seed, rep, 1])  # same labels for every kappa and prior
                df, _ = weak_to_strong(world, weak, strong, world.strong_prior(strong, kappa), cfg.eps_strong,
                                       rules, [cfg.n], stream_rng, mode=cfg.weak_labels)
                kind_b = df.rule.map(keys)
                frames.append(df.assign(prior=prior, kind=[k for k, _ in kind_b], budget=[b for _, b in kind_b],
                                        kappa=kappa, replicate=rep).drop(columns=["rule", "n"]))
    out = pd.concat(frames, ignore_index=True)
    contrast = label_contrast(cfg)
    out["b_mimic"] = out.kappa / (out.kind.map({k: rate(cfg, k) for k in KINDS}) * contrast)
    return out[["prior", "kind", "budget", "kappa", "replicate", "metric", "value", "b_mimic"]]


def _mean_grid(df, prior, kind, metric):
    sub = df[(df.prior.astype(str) == str(prior)) & (df.kind == kind) & (df.metric == metric)]
    return sub.groupby(["kappa", "budget"]).value.mean().unstack("budget")


def _priors(df) -> list[str]:
    return [str(p) for p in dict.fromkeys(df.prior.astype(str))]


def good_region(df: pd.DataFrame, prior: str, kind: str = "ve", level: float = 0.8) -> pd.DataFrame:
    """Per kappa: the budgets whose mean PGR over worlds is at least ``level``, and the
    spread (mean, median, 10%, 90%) of PGR at the best budget."""
    rows = []
    sub = df[(df.prior.astype(str) == str(prior)) & (df.kind == kind) & (df.metric == "pgr")]
    for kappa, g in sub.groupby("kappa"):
        means = g.groupby("budget").value.mean()
        good = means.index[means.to_numpy() >= level]
        best = means.idxmax() if means.notna().any() else np.nan
        st = spread_stats(g[g.budget == best].value) if np.isfinite(best) else spread_stats([])
        rows.append({"kappa": kappa, "b_lo": good.min() if len(good) else np.nan,
                     "b_hi": good.max() if len(good) else np.nan, "best_b": best,
                     **{f"best_{k}": v for k, v in st.items()}, "b_mimic": g.b_mimic.iloc[0]})
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Mean PGR over (kappa, B) per prior and kind; where mean PGR >= 0.8 per kappa, with the
    spread over worlds at the best budget; the derived mimicry edge."""
    lines = [f"budget_tradeoff: {cfg.replicates} worlds (random truth angle), N={cfg.n}, strong space contains "
             "the weak model; mean PGR over worlds",
             "mimicry edge B* = kappa / (c contrast) is derived from the log-odds -kappa rho + B c contrast rho "
             "(a check of the model, linear in kappa by algebra)"]
    for prior in _priors(df):
        deg, inside = parse_prior(prior)
        cond = ("truth among the prior's concepts" if inside and deg == 0 else
                f"truth-like concept rotated {deg:g} deg" if inside else "truth absent from the prior's concepts")
        for kind in KINDS:
            grid = _mean_grid(df, prior, kind, "pgr")
            lines.append(f"[prior: {cond}] {kind}: rows kappa, columns B")
            lines.append(grid.to_string(float_format=lambda v: f"{v:.2f}"))
            for _, r in good_region(df, prior, kind).iterrows():
                span = f"B in [{r.b_lo:g}, {r.b_hi:g}]" if np.isfinite(r.b_lo) else "nowhere"
                lines.append(f"  kappa={r.kappa:g}: mean PGR>=0.8 for {span}; best B={r.best_b:g}: mean "
                             f"{r.best_mean:+.2f}, median {r.best_median:+.2f}, 10-90% [{r.best_q10:+.2f}, "
                             f"{r.best_q90:+.2f}]; derived mimicry edge B*={r.b_mimic:.3g}")
    return "\n".join(lines)


def _edges(values):
    v = np.log10(np.asarray(values, float))
    mid = (v[1:] + v[:-1]) / 2
    return 10 ** np.concatenate([[v[0] - (mid[0] - v[0]) if v.size > 1 else v[0] - 0.5], mid,
                                 [v[-1] + (v[-1] - mid[-1]) if v.size > 1 else v[-1] + 0.5]])


def _grid_axes(df, ax, ncols_per_prior=None):
    from bayes_w2s.harness.style import new_grid

    ncols_per_prior = len(KINDS) if ncols_per_prior is None else ncols_per_prior
    priors = _priors(df)
    fig, axes = new_grid(ax, len(priors), ncols_per_prior, height=2.3, sharey=True)
    return fig, axes, priors


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    return setting_title(f"budget trade-off, {what}", N=config_of(df).get("n"), worlds=int(df.replicate.nunique()))


def _phase(df, metric, ax, label, limits, cmap):
    """Heatmaps of the mean of ``metric`` on (B, kappa). ``limits=None``: a diverging map
    centred at 0 whose limits cover every cell of every panel (:func:`~bayes_w2s.harness.style.diverging_norm`)."""
    from matplotlib import colors as mpl_colors

    from bayes_w2s.harness.style import diverging_colorbar, diverging_norm, legend_outside

    fig, axes, priors = _grid_axes(df, ax)
    grids = {(p, k): _mean_grid(df, p, k, metric) for p in priors for k in KINDS}
    if limits is None:
        norm = diverging_norm(np.concatenate([g.to_numpy(float).ravel() for g in grids.values()]))
    else:
        norm = mpl_colors.Normalize(*limits)
    for i, (row, prior) in enumerate(zip(axes, priors)):
        for a, kind in zip(row, KINDS):
            grid = grids[(prior, kind)]
            if (grid.index > 0).all():
                mesh = a.pcolormesh(_edges(grid.columns), _edges(grid.index), grid.values,
                                    norm=norm, cmap=cmap, shading="flat")
                a.set_yscale("log")
                ylim = (_edges(grid.index)[0], _edges(grid.index)[-1])
            else:
                mesh = a.pcolormesh(_edges(grid.columns), np.arange(len(grid.index) + 1), grid.values,
                                    norm=norm, cmap=cmap, shading="flat")
                ylim = (0, len(grid.index))
            bound = df[df.kind == kind].groupby("kappa").b_mimic.first()
            a.plot(bound.values, bound.index, color="black", ls="--", lw=1.0, label="derived mimicry edge $B^*$")
            a.set(xscale="log", xlim=(_edges(grid.columns)[0], _edges(grid.columns)[-1]), ylim=ylim,
                  xlabel="total influence budget B" if i == len(priors) - 1 else "",
                  title=f"{'virtual evidence' if kind == 've' else 'tempered'} B/N; prior: {prior}")
            a.grid(False)
        row[0].set_ylabel("prior concentration $\\kappa$")
    diverging_colorbar(fig, mesh, list(axes.flat), label, shrink=0.8)
    legend_outside(fig, axes=[axes.flat[0]], loc="outside lower center")
    return fig


def plot_phase(df: pd.DataFrame, ax=None):
    """Mean PGR over worlds on (B, kappa), one row per prior condition; dashed: the derived
    edge above which the weak mimic wins. Diverging colours centred at 0, covering the data
    (mean PGR reaches about -5 at tiny budgets; each side of 0 gets its own extent)."""
    fig = _phase(df, "pgr", ax, "PGR (mean over worlds)", None, "RdBu")
    fig.suptitle(_title(df, "mean PGR"))
    return fig


def plot_mimicry_phase(df: pd.DataFrame, ax=None):
    """Mean agreement with the weak model on its errors over (B, kappa), per prior condition."""
    fig = _phase(df, "agree_weak_err", ax, "agreement on weak errors (mean)", (0.0, 1.0), "viridis")
    fig.suptitle(_title(df, "mimicry of weak errors"))
    return fig


def plot_slices(df: pd.DataFrame, ax=None):
    """VE: PGR against B, one line per kappa (mean over worlds, 10-90% whiskers at five B),
    one panel per prior; the y axis is cut at -2 and the cut points marked."""
    from bayes_w2s.harness.style import (clip_note, legend_outside, lines_with_whiskers, ordinal_styles,
                                         reference_lines)

    from bayes_w2s.harness.style import new_grid

    priors = _priors(df)
    fig, axes = new_grid(ax, 1, len(priors), height=2.4, sharey=True)
    clipped = 0
    styles = None
    for i, (a, prior) in enumerate(zip(axes[0], priors)):
        sub = df[(df.prior.astype(str) == prior) & (df.kind == "ve") & (df.metric == "pgr")].dropna(subset=["value"])
        kappas = sorted(sub.kappa.unique())
        keep = kappas[:: max(1, len(kappas) // 4)]
        sub = sub[sub.kappa.isin(keep)].assign(kappa=lambda d: d.kappa.map(lambda k: f"$\\kappa$ = {k:g}"))
        styles = styles or ordinal_styles(sub.kappa)
        reference_lines(a)
        clipped += lines_with_whiskers(a, sub, "budget", "value", "kappa", logx=True, clip=(-2.0, 1.15),
                                       styles=styles, note=False, dodge=0.04)
        a.set(xscale="log", xlabel="total influence budget B (VE, B/N)", title=f"prior: {prior}")
    axes[0, 0].set_ylabel("PGR")
    note = clip_note(clipped, "-2 to 1.15")
    legend_outside(fig, axes=[axes[0, 0]], loc="outside lower center", ncols=6,
                   title="mean over worlds (line), 10–90% of worlds (whiskers)" + (f"; {note}" if note else ""))
    fig.suptitle(_title(df, "VE slices"))
    return fig


FIGURES = {"phase": plot_phase, "mimicry_phase": plot_mimicry_phase, "slices": plot_slices}

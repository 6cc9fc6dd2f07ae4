"""Coin flips: when does a strong learner mimic a weak 50/50 mixture of all-heads / all-tails?

The weak model is 50/50 over two epsilon-noisy coins, ``P(heads) = 1 - eps`` ("heads") and
``P(heads) = eps`` ("tails"); its labels are sampled per token from its predictive, which
is a fair coin. Two strong learners update on those labels:

* strong A holds the same two coins: it contains every weak hypothesis but not the weak
  mixture. Under hard Bayes its log-odds are ``(#H - #T) log((1 - eps)/eps)``, a random
  walk: the posterior never settles, it swings between the coins.
* strong B is a fine grid of biases including 0.5: it can represent the mixture, so hard
  Bayes concentrates on 0.5 (mimicry, the Berk limit), with posterior sd ~ 1/(2 sqrt n).

Rules: hard Bayes, tempered with constant w, virtual evidence with constant strength and
virtual evidence with a bounded schedule (p-series by default), whose certificate keeps
every posterior odds within ``exp(±T(n))`` of the prior odds.

Checks vs findings. That bounded VE "stays certified" (Chan-Darwiche distance ``D <= T(n)``)
holds for *any* labels by construction, and that its mass near the fair coin "stays at the
prior" follows from it: with ``T = sum 1/n^2 = pi^2/6 = 1.64`` the odds of any set move by at
most ``e^1.64 = 5.2`` — by the same token the rule cannot learn anything the prior does not
already hold. The summary prints both as checks, with the odds bound computed from the
prior. The findings are the behaviours of the unbounded rules (A swings, B mimics at the
``1/(2 sqrt n)`` rate), reported as mean, median and 10-90% over replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_w2s import (
    HypothesisSpace,
    Model,
    Rule,
    influence_distance,
    label_sampler,
    run_trajectories,
)
from bayes_w2s.core.metrics import kl_divergence
from bayes_w2s.core.schedules import make_schedule
from bayes_w2s.core.trajectory import log_checkpoints
from bayes_w2s.harness.progress import progress

__all__ = ["Config", "run", "FIGURES", "summarize", "build_models", "lead_changes", "odds_bound"]


@dataclass(frozen=True)
class Config:
    """Fields that determine the result; ``bayes-w2s run coinflip --field value``."""

    seed: int = 0
    n: int = 100_000
    replicates: int = 20
    epsilon: float = 0.05
    grid_size: int = 2001
    tempered_weight: float = 0.1
    ve_strength: float = 0.5
    bounded_schedule: str = "pseries:c=1,p=2"
    fair_band: float = 0.02
    per_decade: int = 10

    def __post_init__(self) -> None:
        if not 0 < self.epsilon < 0.5:
            raise ValueError(f"epsilon must lie in (0, 0.5), got {self.epsilon}")
        if self.n < 10 or self.replicates < 1 or self.grid_size < 3:
            raise ValueError("need n >= 10, replicates >= 1, grid_size >= 3")
        if self.tempered_weight < 0 or self.ve_strength < 0:
            raise ValueError("tempered_weight and ve_strength must be non-negative")
        if not make_schedule(self.bounded_schedule).bounded:
            raise ValueError(f"bounded_schedule {self.bounded_schedule!r} is not bounded")
        if not 0 < self.fair_band < 0.5:
            raise ValueError("fair_band must lie in (0, 0.5)")


def _coins(biases) -> HypothesisSpace:
    biases = np.asarray(biases, dtype=float)
    return HypothesisSpace(np.stack([biases, 1 - biases], axis=1), [f"{b:.6g}" for b in biases], ["heads", "tails"])


def build_models(cfg: Config) -> dict[str, Model]:
    """The weak model and strong learners A (two coins) and B (grid with 0.5 and the coins)."""
    eps = cfg.epsilon
    grid = np.unique(np.round(np.concatenate([np.linspace(0, 1, cfg.grid_size), [eps, 0.5, 1 - eps]]), 12))
    return {
        "weak": Model(_coins([1 - eps, eps])),
        "A": Model(_coins([1 - eps, eps])),
        "B": Model(_coins(grid)),
    }


def _rules(cfg: Config) -> list[Rule]:
    return [
        Rule("bayes", label="hard Bayes"),
        Rule("tempered", f"constant:value={cfg.tempered_weight}", label=f"tempered w={cfg.tempered_weight:g}"),
        Rule("ve", f"constant:value={cfg.ve_strength}", label=f"VE const log r={cfg.ve_strength:g}"),
        Rule("ve", cfg.bounded_schedule, label=f"VE {make_schedule(cfg.bounded_schedule).describe()}"),
    ]


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table ``(strong, rule, replicate, n, metric, value)``.

    Metrics: ``mass_heads`` (A: posterior of the heads coin), ``mass_fair`` (B: posterior
    mass within ``fair_band`` of 0.5), ``post_mean``/``post_sd`` of the bias, ``kl_to_weak``
    = KL(strong predictive || weak predictive), ``influence`` = Chan–Darwiche distance from
    the prior, ``bound`` = total strength spent (the certificate; inf for hard Bayes).
    """
    models = build_models(cfg)
    weak_pred = models["weak"].predictive()[0]  # (2,)
    rules = _rules(cfg)
    checkpoints = log_checkpoints(cfg.n, cfg.per_decade)
    frames = []
    for offset, name in progress(enumerate(("A", "B")), total=2, desc="coinflip", unit="strong learner"):
        strong = models[name]
        bias = strong.space.probs[:, 0, 0]  # (H,)
        rng = np.random.default_rng([cfg.seed, offset])
        draw = label_sampler(models["weak"], rng, cfg.replicates, mode="per-token")
        traj = run_trajectories(strong.log_prior, strong.space.log_probs, draw, cfg.n, rules, checkpoints=checkpoints)
        prior = traj.log_prior

        def mean(lp):
            return np.exp(lp) @ bias

        def pred(lp):
            p = mean(lp)
            return np.stack([p, 1 - p], axis=-1)

        metrics = {
            "post_mean": mean,
            "post_sd": lambda lp: np.sqrt(np.maximum(np.exp(lp) @ bias**2 - mean(lp) ** 2, 0)),
            "kl_to_weak": lambda lp: kl_divergence(pred(lp), weak_pred),
            "influence": lambda lp: influence_distance(prior, lp),
        }
        if name == "A":
            metrics["mass_heads"] = lambda lp: np.exp(lp[..., 0])
        else:
            near = np.abs(bias - 0.5) <= cfg.fair_band + 1e-12
            metrics["mass_fair"] = lambda lp: np.exp(lp[..., near]).sum(axis=-1)
        df = traj.to_frame(metrics)
        bound = pd.DataFrame(
            [
                {"replicate": r, "n": n, "rule": rule, "metric": "bound", "value": traj.influence[k, t]}
                for k, rule in enumerate(traj.rules)
                for t, n in enumerate(traj.checkpoints)
                for r in range(cfg.replicates)
            ]
        )
        frames.append(pd.concat([df, bound], ignore_index=True).assign(strong=name))
    cols = ["strong", "rule", "replicate", "n", "metric", "value"]
    return pd.concat(frames, ignore_index=True)[cols]


def lead_changes(df: pd.DataFrame, *, n_min: int = 100) -> pd.Series:
    """Per (rule, replicate) of strong A: times the favoured coin flips between checkpoints >= n_min."""
    sub = df[(df.strong == "A") & (df.metric == "mass_heads") & (df.n >= n_min)].sort_values("n")
    side = sub.assign(heads=sub.value > 0.5).groupby(["rule", "replicate"])["heads"]
    return side.apply(lambda s: int(np.count_nonzero(np.diff(s.to_numpy().astype(int)))))


def odds_bound(p_prior: float, d: float) -> tuple[float, float]:
    """Range of a set's posterior probability when its odds move by at most ``e^(±d)``:
    ``p e^(∓d) / (1 - p + p e^(∓d))``."""
    lo, hi = (p_prior * np.exp(s) / (1 - p_prior + p_prior * np.exp(s)) for s in (-d, d))
    return float(lo), float(hi)


def _spread(v) -> str:
    q10, med, q90 = np.quantile(np.asarray(v, float), [0.1, 0.5, 0.9])
    return f"mean {np.mean(v):.3g}, median {med:.3g}, 10-90% [{q10:.3g}, {q90:.3g}]"


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Final-n posterior summaries per strong learner and rule (spread over replicates), the
    certificate check and its consequence for the bounded rule's mass near the fair coin."""
    last = df[df.n == df.n.max()]
    table = last.groupby(["strong", "rule", "metric"])["value"].median().unstack("metric")
    ok = df[df.metric.isin(["influence", "bound"])].pivot_table(
        index=["strong", "rule", "replicate", "n"], columns="metric", values="value"
    )
    ve = ok[ok.index.get_level_values("rule").str.startswith("VE")]
    violated = ve[ve["influence"] > ve["bound"] + 1e-9]
    tempered = ok[ok.index.get_level_values("rule").str.startswith("tempered")]
    tempered_over = tempered[tempered["influence"] > tempered["bound"]]
    sd_b = last[(last.strong == "B") & (last.rule == "hard Bayes") & (last.metric == "post_sd")].value
    swings = lead_changes(df)
    bounded = _rules(cfg)[-1].label
    models = build_models(cfg)
    bias = models["B"].space.probs[:, 0, 0]
    p_fair = float(np.exp(models["B"].log_prior)[np.abs(bias - 0.5) <= cfg.fair_band + 1e-12].sum())
    t_total = float(last[(last.strong == "B") & (last.rule == bounded) & (last.metric == "bound")].value.max())
    lo, hi = odds_bound(p_fair, t_total)
    fair = last[(last.strong == "B") & (last.rule == bounded) & (last.metric == "mass_fair")].value
    inside = bool(((fair >= lo - 1e-12) & (fair <= hi + 1e-12)).all())
    lines = [
        f"coinflip: n={cfg.n}, replicates={cfg.replicates}, epsilon={cfg.epsilon}; medians over replicates",
        table.to_string(float_format=lambda v: f"{v:.4g}"),
        f"strong B, hard Bayes: posterior sd * 2 sqrt(n) = {_spread(sd_b * 2 * np.sqrt(cfg.n))}"
        " (1 = the 1/(2 sqrt n) law)",
        "strong B, mass within the fair band at the last n: "
        + "; ".join(f"{r}: {_spread(v.value)}" for r, v in
                    last[(last.strong == "B") & (last.metric == "mass_fair")].groupby("rule", sort=False)),
        "strong A, lead changes per replicate (n >= 100): "
        + "; ".join(f"{k}: {_spread(v)}" for k, v in swings.groupby(level="rule")),
        "CHECK (by construction of virtual evidence) certificate D <= total strength at every checkpoint: "
        + ("PASS" if violated.empty else f"FAIL in {len(violated)} rows"),
        f"CHECK (consequence of the bound, not a finding) {bounded}: total strength T = {t_total:.3f}, so the "
        f"fair-band mass (prior {p_fair:.3f}) must stay in [{lo:.3f}, {hi:.3f}]; measured {_spread(fair)}: "
        + ("PASS" if inside else "FAIL")
        + " — by the same bound this rule cannot move any set's odds by more than "
        f"e^{t_total:.2f} = {np.exp(t_total):.1f}x: it cannot learn either",
        f"tempering, D > sum of weights in {len(tempered_over)} of {len(tempered)} rows "
        "(tempering bounds nothing where a likelihood is 0)",
    ]
    return "\n".join(lines)


STRONG_TITLES = {"A": "strong A: {heads, tails} coins, no fair coin", "B": "strong B: grid of biases incl. 0.5"}


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    return setting_title(f"coin flips, {what}", n=int(df.n.max()), replicates=int(df.replicate.nunique()),
                         eps=cfg.get("epsilon"))


def plot_posterior_mass(df: pd.DataFrame, ax=None):
    """Posterior mass on the heads coin (strong A, top row) and near the fair coin (strong B,
    bottom row) vs n: one panel per rule with its mean (solid), median (dashed) and 10-90%
    band over replicates; in the strong-A panels one replicate is drawn (dotted) to show the
    swings that the mean over replicates averages away."""
    from bayes_w2s.harness.style import config_of, legend_outside, new_grid, small_multiples
    from matplotlib.lines import Line2D

    rules = list(dict.fromkeys(df.rule))
    fig, axes = new_grid(ax, 2, len(rules), height=1.55, sharex=True, sharey=True)
    band = config_of(df).get("fair_band")
    ylabels = {"A": "strong A:\nP(heads coin)",
               "B": "strong B:\n" + (f"P(|bias$-$0.5| $\\leq$ {band:g})" if band else "P(bias near 0.5)")}
    handles = []
    for row, (strong, metric) in enumerate((("A", "mass_heads"), ("B", "mass_fair"))):
        sub = df[(df.strong == strong) & (df.metric == metric)]
        handles = small_multiples(axes[row], sub, "n", "value", "rule", order=rules, median=strong == "B",
                                  title_fmt="{}" if row == 0 else "")
        axes[row, 0].set_ylabel(ylabels[strong])
        if strong == "A":
            first = sorted(sub.replicate.unique())[0]
            for a, rule in zip(axes[row], rules):
                one = sub[(sub.rule == rule) & (sub.replicate == first)].sort_values("n")
                a.plot(one.n, one.value, lw=0.6, ls=":", color="black", zorder=4)
    for a in axes.flat:
        a.set_xscale("log")
        a.set_ylim(-0.03, 1.03)
    for a in axes[1]:
        a.set_xlabel("weak labels n")
    handles.insert(2, Line2D([], [], lw=0.6, ls=":", color="black", label="one replicate (strong A)"))
    handles[1].set_label("median (strong B)")
    legend_outside(fig, handles, loc="outside lower center", ncols=len(handles))
    fig.suptitle(_title(df, "posterior mass"))
    return fig


def plot_kl_to_weak(df: pd.DataFrame, ax=None):
    """KL(strong predictive || weak predictive) vs n (log-log): mean per rule with 10-90%
    whiskers over replicates at one n per decade; 0 means the student predicts the weak coin.
    KL is often exactly 0 in single replicates (a posterior symmetric about 0.5), so the lower
    whisker can leave a log axis: it then stops at the axis floor and ends in a triangle."""
    from bayes_w2s.harness.style import legend_outside, lines_with_whiskers, new_grid

    fig, axes = new_grid(ax, 1, 2, height=2.2, sharey=True)
    sub = df[df.metric == "kl_to_weak"]
    means = sub.groupby(["strong", "rule", "n"]).value.mean()
    positive = means[means > 0]
    floor = 10 ** (np.floor(np.log10(positive.min())) - 1) if len(positive) else 1e-12
    for a, strong in zip(axes[0], ("A", "B")):
        lines_with_whiskers(a, sub[sub.strong == strong], "n", "value", "rule", at="decades", logx=True,
                            floor=floor)
        a.set(xscale="log", yscale="log", title=STRONG_TITLES[strong], xlabel="weak labels n")
        a.set_ylim(bottom=floor)
    axes[0, 0].set_ylabel("KL(strong $\\|$ weak predictive)")
    legend_outside(fig, loc="outside lower center", ncols=4, title="mean, 10–90% whiskers over replicates")
    fig.suptitle(_title(df, "KL to the weak predictive"))
    return fig


def plot_certificate(df: pd.DataFrame, ax=None):
    """Chan–Darwiche distance D from the prior (mean, 10-90% whiskers over replicates) against
    the certified bound (dashed, same colour), strong B; rules with D = inf are named."""
    from bayes_w2s.harness.style import legend_outside, lines_with_whiskers, new_axes, rule_style
    from matplotlib.lines import Line2D

    fig, ax = new_axes(ax, figsize=(3.5, 2.9))
    sub = df[(df.strong == "B") & (df.metric == "influence") & np.isfinite(df.value)]
    lines_with_whiskers(ax, sub, "n", "value", "rule", at="decades", logx=True)
    bound = df[(df.strong == "B") & (df.metric == "bound") & (df.replicate == 0) & np.isfinite(df.value)
               & df.rule.isin(sub.rule.unique())]  # a rule with D = inf has nothing to certify
    for rule, b in bound.groupby("rule", sort=False):
        ax.plot(b.n, b.value, ls="--", lw=0.9, color=rule_style(rule)["color"])
    infinite = df[(df.strong == "B") & (df.metric == "influence") & ~np.isfinite(df.value)].rule.unique()
    if len(infinite):
        ax.text(0.98, 0.02, "D = $\\infty$ (off the axis):\n" + ", ".join(infinite), transform=ax.transAxes,
                ha="right", va="bottom", fontsize=6)
    ax.set(xscale="log", yscale="log", xlabel="weak labels n", ylabel="D = ln max odds change")
    handles = [h for h in ax.get_legend_handles_labels()[0]]
    handles.append(Line2D([], [], color="black", ls="--", lw=0.9, label="certified bound (total strength)"))
    legend_outside(fig, handles, loc="outside lower center", ncols=2)
    fig.suptitle(_title(df, "certificate, strong B"))
    return fig


FIGURES = {
    "posterior_mass": plot_posterior_mass,
    "kl_to_weak": plot_kl_to_weak,
    "certificate": plot_certificate,
}

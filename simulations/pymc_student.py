"""A continuous strong student in PyMC: Bayesian logistic regression on weak labels.

World (all drawn from ``seed``):

* inputs ``x ~ Normal(0, I_D)``; ground truth ``y ~ Bernoulli(sigmoid(x . beta*))`` with
  ``||beta*|| = signal``;
* the weak model is a logistic regression on the first ``n_weak_features`` coordinates,
  fit by MAP (Normal(0, 1) prior) to ``n_weak_train`` ground-truth labels; it labels a
  disjoint pool of ``n_w2s`` inputs with its argmax ``y_w`` and confidence ``|2 p_w - 1|``;
* the strong student is a Bayesian logistic regression on all ``D`` features whose prior
  ``w ~ Normal(mu_0, prior_sd^2)`` plays the pretrained model: ``mu_0`` has length
  ``prior_scale`` and cosine ``prior_alignment`` with ``beta*`` (latent knowledge that
  the weak labels may help elicit, or may overwrite).

The student is sampled with NUTS under hard Bayes on the weak labels and under bounded
schedules (total strength ``B`` per budget) entering as virtual evidence
``log((r_i - 1) P(y_w|x_i, w) + 1)`` or tempering ``w_i log P(y_w|x_i, w)``. References:
the prior (zero-shot), the weak model, and the ceiling (hard Bayes on the true labels of
the same pool). Measured on ``n_test`` fresh inputs: accuracy of the posterior predictive
against true labels, PGR (Burns et al. 2023), agreement with the weak model, and
agreement with it where it is wrong (mimicry). Per weight: posterior mean, sd, HDI at
``prob`` and quantiles, from which the forest and weight figures are drawn.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from bayes_w2s.core.metrics import PGRUndefinedWarning, pgr
from bayes_w2s.harness.progress import progress

from ._pymc_world import World, _prediction_metrics, make_world

__all__ = ["Config", "World", "make_world", "run", "summarize", "FIGURES", "BOUNDED_SCHEDULES"]

BOUNDED_SCHEDULES = ("budget", "confidence", "pseries")
REFERENCES = ("prior", "weak", "ceiling")


@dataclass(frozen=True)
class Config:
    """Fields that determine the result; ``bayes-w2s run pymc_student --field value``."""

    seed: int = 0
    n_features: int = 8
    n_weak_features: int = 2
    signal: float = 4.0
    weak_share: float = 0.5
    n_weak_train: int = 200
    n_w2s: int = 400
    n_test: int = 4000
    prior_alignment: float = 0.5
    prior_scale: float = 1.5
    prior_sd: float = 1.0
    intercept_sd: float = 1.0
    budgets: tuple[float, ...] = (4.0, 32.0)
    rules: tuple[str, ...] = ("ve", "tempered")
    bounded_schedule: str = "budget"
    prob: float = 0.9
    draws: int = 1000
    tune: int = 500
    chains: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.n_weak_features < self.n_features:
            raise ValueError(
                "need 1 <= n_weak_features < n_features (the strong student sees more)"
            )
        if min(self.n_weak_train, self.n_w2s, self.n_test) < 2:
            raise ValueError("n_weak_train, n_w2s and n_test must be at least 2")
        if not (
            self.signal > 0
            and self.prior_scale >= 0
            and self.prior_sd > 0
            and self.intercept_sd > 0
        ):
            raise ValueError(
                "signal, prior_sd, intercept_sd must be positive and prior_scale non-negative"
            )
        if not 0 < self.weak_share < 1:
            raise ValueError(
                "weak_share (of the signal the weak features carry) must lie in (0, 1)"
            )
        if not -1 <= self.prior_alignment <= 1:
            raise ValueError(f"prior_alignment is a cosine in [-1, 1], got {self.prior_alignment}")
        if any(not (math.isfinite(b) and b > 0) for b in self.budgets):
            raise ValueError(f"budgets must be positive, got {self.budgets}")
        if any(r not in ("ve", "tempered") for r in self.rules):
            raise ValueError(f"rules must be 've' or 'tempered', got {self.rules}")
        if self.bounded_schedule not in BOUNDED_SCHEDULES:
            raise ValueError(
                f"bounded_schedule must be one of {BOUNDED_SCHEDULES}, "
                f"got {self.bounded_schedule!r}"
            )
        if not 0 < self.prob < 1:
            raise ValueError(f"prob must lie in (0, 1), got {self.prob}")
        if self.draws < 1 or self.tune < 0 or self.chains < 1:
            raise ValueError("need draws >= 1, tune >= 0, chains >= 1")


def _schedule_spec(name: str, budget: float) -> str:
    """A schedule whose total influence is ``budget`` (its limit, for the p-series)."""
    if name == "pseries":
        return f"pseries:c={budget / (math.pi**2 / 6)!r},p=2"
    return f"{name}:budget={budget!r}"


def _fit_seed(cfg: Config, index: int) -> int:
    return int(np.random.SeedSequence([cfg.seed, 1, index]).generate_state(1)[0])


def _base(schedule: str, rule: str, spec: str, budget: float, influence: float) -> dict:
    keys = ("schedule", "rule", "schedule_spec", "budget", "total_influence")
    return dict(zip(keys, (schedule, rule, spec, budget, influence), strict=True))


def _param_rows(
    base: dict, names, mean, sd, lo, hi, quant: dict, extra: dict | None = None
) -> list[dict]:
    rows = []
    for j, name in enumerate(names):
        row = {
            **base,
            "row_type": "param",
            "param": name,
            "mean": mean[j],
            "sd": sd[j],
            "hdi_lo": lo[j],
            "hdi_hi": hi[j],
        }
        row.update({key: vals[j] for key, vals in quant.items()})
        row.update({key: vals[j] for key, vals in (extra or {}).items()})
        rows.append(row)
    return rows


def run(cfg: Config) -> pd.DataFrame:
    """Tidy table: ``row_type`` 'metric' (one metric per row) or 'param' (one weight per row).

    Columns shared by both: ``schedule`` (label), ``rule``, ``schedule_spec``, ``budget``,
    ``total_influence``, ``seed``. Metric rows: ``metric``, ``value``. Param rows:
    ``param`` (``w[x0]`` ... ``intercept``), ``true_value``, ``prior_mean``, ``weak_value``,
    ``mean``, ``sd``, ``hdi_lo``, ``hdi_hi``, ``hdi_prob``, ``q5`` .. ``q95``, ``mcse_mean``,
    ``ess_bulk``, ``r_hat``.
    """
    from bayes_w2s.ppl import diagnostics as dg
    from bayes_w2s.ppl import pymc_models as pmm

    world = make_world(cfg)
    d, k = cfg.n_features, cfg.n_weak_features
    names = [f"w[{n}]" for n in world.feature_names] + ["intercept"]
    truth = np.append(world.beta, 0.0)
    weak_vals = np.concatenate([world.weak_coef[:k], np.full(d - k, np.nan), world.weak_coef[k:]])
    prior_means = np.append(world.prior_mean, 0.0)
    common = {"true_value": truth, "prior_mean": prior_means, "weak_value": weak_vals}
    student = pmm.StudentConfig(
        "logistic",
        prior_mean=world.prior_mean,
        prior_sd=cfg.prior_sd,
        intercept=True,
        intercept_sd=cfg.intercept_sd,
    )
    qs = (0.05, 0.25, 0.5, 0.75, 0.95)
    rows: list[dict] = []

    def add_metrics(base: dict, metrics: dict) -> None:
        rows.extend(
            {**base, "row_type": "metric", "metric": m, "value": v} for m, v in metrics.items()
        )

    # references: prior (zero-shot), weak, and later the ceiling
    sds = np.append(np.full(d, cfg.prior_sd), cfg.intercept_sd)
    z = stats.norm.ppf(0.5 + cfg.prob / 2)
    base = _base("prior", "none", "", 0.0, 0.0)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 2]))
    w_prior = prior_means + sds * rng.normal(size=(4000, d + 1))  # prior draws (S, D + 1)
    p_prior = expit(world.x_test @ w_prior[:, :d].T + w_prior[:, d]).mean(axis=1)
    add_metrics(base, _prediction_metrics(p_prior, world))
    quant = {f"q{100 * q:g}": prior_means + sds * stats.norm.ppf(q) for q in qs}
    rows += _param_rows(
        base, names, prior_means, sds, prior_means - z * sds, prior_means + z * sds, quant, common
    )

    base = _base("weak", "map", "", math.nan, math.nan)
    p_weak = expit(world.x_test[:, :k] @ world.weak_coef[:k] + world.weak_coef[k])
    add_metrics(base, _prediction_metrics(p_weak, world))
    nan = np.full(d + 1, np.nan)
    rows += _param_rows(base, names, weak_vals, nan, nan, nan, {}, common)

    runs = [
        ("ceiling", "bayes", None, math.nan, world.y_w2s),
        ("hard", "bayes", None, math.nan, world.weak_w2s),
    ]
    for rule in cfg.rules:
        for budget in cfg.budgets:
            spec = _schedule_spec(cfg.bounded_schedule, budget)
            runs.append(
                (f"{rule} {cfg.bounded_schedule} B={budget:g}", rule, spec, budget, world.weak_w2s)
            )

    for index, (label, rule, spec, budget, labels) in progress(enumerate(runs), total=len(runs), desc="pymc_student", unit="fit"):
        data = pmm.weak_data(
            labels,
            spec,
            rule=rule,
            features=world.x_w2s,
            feature_names=world.feature_names,
            confidence=world.conf_w2s if cfg.bounded_schedule == "confidence" else None,
        )
        sampler = {"draws": cfg.draws, "tune": cfg.tune, "chains": cfg.chains, "cores": 1}
        fit = pmm.fit(data, student, seed=_fit_seed(cfg, index), **sampler)
        base = _base(label, rule, spec or "hard", budget, data.total_influence)
        pred = pmm.posterior_predictive(fit.idata, world.x_test, seed=_fit_seed(cfg, 100 + index))
        p_test = pred["p_label"].values.mean(axis=(0, 1))  # (n_test,) untempered predictive
        metrics = _prediction_metrics(p_test, world)
        metrics.update(
            {f"chain_{key}": float(val) for key, val in fit.diagnostics.to_dict().items()}
        )
        add_metrics(base, metrics)
        table = dg.posterior_table(
            fit.idata, prob=cfg.prob, var_names=["w", "intercept"], quantiles=qs
        )
        table = table.set_index("param").loc[names]
        cols = ["mcse_mean", "ess_bulk", "r_hat"]
        quant = {f"q{100 * q:g}": table[f"q{100 * q:g}"].to_numpy() for q in qs}
        extra = {**common, **{c: table[c].to_numpy() for c in cols}}
        rows += _param_rows(
            base,
            names,
            *(table[c].to_numpy() for c in ("mean", "sd", "hdi_lo", "hdi_hi")),
            quant,
            extra,
        )

    df = pd.DataFrame(rows)
    df["hdi_prob"] = np.where(df["row_type"] == "param", cfg.prob, np.nan)
    df["seed"] = cfg.seed
    return pd.concat([df, _pgr_rows(df)], ignore_index=True)


def _pgr_rows(df: pd.DataFrame) -> pd.DataFrame:
    """PGR of every fit (and of the zero-shot prior) against the weak model and the ceiling."""
    keys = ["schedule", "rule", "schedule_spec", "budget", "total_influence", "seed"]
    met = df[df["row_type"] == "metric"]
    acc = met[met["metric"] == "accuracy"].set_index("schedule")["value"]
    rows = []
    for label in [s for s in acc.index if s not in ("weak", "ceiling")]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", PGRUndefinedWarning)
            value = pgr(acc["weak"], acc[label], acc["ceiling"])
        ref = met[met["schedule"] == label].iloc[0]
        rows.append(
            {
                **ref[keys].to_dict(),
                "row_type": "metric",
                "metric": "pgr",
                "value": value,
                "pgr_undefined": bool(caught),
            }
        )
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- reading the table


def _metric_table(df: pd.DataFrame) -> pd.DataFrame:
    """``schedule x metric`` values, schedules in run order."""
    met = df[df["row_type"] == "metric"]
    order = list(dict.fromkeys(met["schedule"]))
    return met.pivot_table(index="schedule", columns="metric", values="value", aggfunc="first").loc[
        order
    ]


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    """Accuracy, PGR and mimicry per schedule, and any untrustworthy chains."""
    tab = _metric_table(df)
    lines = [
        f"pymc_student: ONE world (seed={cfg.seed}), prior alignment {cfg.prior_alignment:g} with the truth, "
        f"prior scale {cfg.prior_scale:g}, weak model on {cfg.n_weak_features} of {cfg.n_features} features, "
        f"{cfg.n_w2s} weak labels; no spread over worlds here: PGR below holds for this world only "
        "(spread: bayes-w2s sweep pymc_student --seeds 0-9); PGR nan = undefined (weak >= ceiling)",
        f"{'schedule':<26}{'accuracy':>9}{'PGR':>8}{'agree weak':>12}{'agree|weak wrong':>18}",
    ]
    for label, row in tab.iterrows():
        lines.append(
            f"{label:<26}{row['accuracy']:>9.3f}{row.get('pgr', math.nan):>8.2f}"
            f"{row['agree_weak']:>12.3f}{row['agree_weak_when_wrong']:>18.3f}"
        )
    if "chain_trustworthy" in tab:
        bad = tab.index[(tab["chain_trustworthy"] == 0)]
        if len(bad):
            lines.append(
                "WARNING: untrustworthy chains (R-hat/ESS/divergences) for: " + ", ".join(bad)
            )
    return "\n".join(lines)


def _fit_order(df: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(df.loc[df["row_type"] == "param", "schedule"]))


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    seed = int(df["seed"].iloc[0]) if "seed" in df and len(df) else None
    return setting_title(f"PyMC student, {what}", wrap=True, world=f"one (seed {seed})" if seed is not None else None,
                         N=cfg.get("n_w2s"), chains=cfg.get("chains"), draws=cfg.get("draws"))


def plot_forest(df: pd.DataFrame, ax=None):
    """Forest plot across schedules: per weight, HDI (thin), IQR (thick), median (dot).

    Crosses mark the true weights, triangles the weak model's MAP weights.
    """
    from bayes_w2s.harness import style

    par = df[df["row_type"] == "param"]
    params = list(dict.fromkeys(par["param"]))
    schedules = [s for s in _fit_order(df) if s != "weak"]
    fig, ax = style.new_axes(ax, figsize=(style.PAGE_WIDTH * 0.75, 1.6 + 0.075 * len(params) * len(schedules)))
    colors = list(style.category_colors(schedules).values())
    height = 0.8 / len(schedules)
    prob = par["hdi_prob"].dropna().iloc[0] if par["hdi_prob"].notna().any() else math.nan
    for i, sched in enumerate(schedules):
        sub = par[par["schedule"] == sched].set_index("param").loc[params]
        ypos = np.arange(len(params))[::-1] + 0.4 - (i + 0.5) * height
        color = colors[i % len(colors)]
        ax.hlines(ypos, sub["hdi_lo"], sub["hdi_hi"], color=color, lw=1.0)
        ax.hlines(ypos, sub["q25"], sub["q75"], color=color, lw=3.0, label=sched)
        ax.plot(sub["q50"], ypos, "o", color=color, ms=3, mfc="white")
    truth = par.drop_duplicates("param").set_index("param").loc[params, "true_value"]
    ax.plot(truth, np.arange(len(params))[::-1], "kx", ms=7, label="truth")
    weak = par[par["schedule"] == "weak"].set_index("param")
    if len(weak):
        wv = weak.loc[params, "mean"]
        ax.plot(wv, np.arange(len(params))[::-1], "k^", ms=5, mfc="none", label="weak model")
    ax.set_yticks(np.arange(len(params))[::-1], params)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.set_xlabel(f"weight (median, IQR, {prob:.0%} HDI)")
    ax.grid(axis="y", visible=False)
    style.legend_outside(fig, loc="outside lower center", ncols=5)
    fig.suptitle(_title(df, "posterior of the weights across schedules"))
    return fig


def plot_weights(df: pd.DataFrame, ax=None):
    """Posterior mean (with HDI) of every weight against its true value, per schedule.

    Points of one true weight are spread horizontally (by schedule) so intervals stay legible.
    """
    from bayes_w2s.harness import style

    par = df[(df["row_type"] == "param") & (df["param"] != "intercept")]
    fig, ax = style.new_axes(ax, figsize=(style.COLUMN_WIDTH, 3.6))
    schedules = [s for s in _fit_order(df) if s != "prior"]
    prob = par["hdi_prob"].dropna().iloc[0] if par["hdi_prob"].notna().any() else math.nan
    truth = np.sort(par["true_value"].unique())
    spread = 0.5 * (np.ptp(truth) / (truth.size - 1) if truth.size > 1 else 1.0)  # mean gap
    colors = style.category_colors(schedules)
    for i, sched in enumerate(schedules):
        sub = par[(par["schedule"] == sched) & par["mean"].notna()]
        shift = spread * ((i + 0.5) / len(schedules) - 0.5)
        yerr = np.vstack([sub["mean"] - sub["hdi_lo"], sub["hdi_hi"] - sub["mean"]])
        ax.errorbar(
            sub["true_value"] + shift,
            sub["mean"],
            yerr=None if np.all(np.isnan(yerr)) else yerr,
            fmt="^" if sched == "weak" else "o",
            ms=4,
            capsize=0,
            lw=0.9,
            color=colors[sched],
            label=sched,
        )
    lim = np.nanmax(np.abs(par[["true_value", "mean"]].to_numpy())) * 1.1
    ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8, ls="--", label="y = x")
    ax.set_xlabel("true weight (points spread by schedule)")
    ax.set_ylabel(f"posterior mean, {prob:.0%} HDI")
    style.legend_outside(fig, loc="outside lower center", ncols=2)
    fig.suptitle(_title(df, "weights learned from weak labels"))
    return fig


def plot_accuracy(df: pd.DataFrame, ax=None):
    """Test accuracy and mimicry per schedule; weak, prior and ceiling as reference lines."""
    from bayes_w2s.harness import style

    tab = _metric_table(df)
    fits = [s for s in tab.index if s not in REFERENCES]
    fig, ax = style.new_axes(ax, figsize=(style.COLUMN_WIDTH, 3.6))
    xpos = np.arange(len(fits))
    ax.plot(xpos, tab.loc[fits, "accuracy"], "o", label="accuracy (truth)")
    ax.plot(
        xpos,
        tab.loc[fits, "agree_weak_when_wrong"],
        "s",
        mfc="none",
        label="agreement with weak where weak is wrong",
    )
    for ref, ls in zip(REFERENCES, (":", "--", "-."), strict=True):
        if ref in tab.index:
            ax.axhline(tab.loc[ref, "accuracy"], color="0.4", ls=ls, lw=1, label=f"{ref} accuracy")
    if "pgr" in tab:
        for x, s in zip(xpos, fits, strict=True):
            ax.annotate(
                f"PGR {tab.loc[s, 'pgr']:.2f}",
                (x, tab.loc[s, "accuracy"]),
                textcoords="offset points",
                xytext=(0, 6),
                ha="center",
                fontsize=7,
            )
    ax.set_xticks(xpos, fits, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("fraction of test inputs")
    style.legend_outside(fig, loc="outside lower center", ncols=1)
    fig.suptitle(_title(df, "hard vs bounded weak supervision"))
    return fig


FIGURES = {"forest": plot_forest, "weights": plot_weights, "accuracy": plot_accuracy}

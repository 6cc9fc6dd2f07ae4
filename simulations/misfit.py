"""Misfit: the student's gain over its teacher equals (subspace) or exceeds (convex) their misfit.

Charikar, Pabbaraju & Shiragur (2024) setting, squared loss. Per replicate:

* inputs ``x ~ N(0, I_p)``; a pool of ``n_pool`` points is the empirical distribution on
  which every projection and every error is computed, ``||f||^2 = mean_i f(x_i)^2``;
* strong features ``phi_s(x) = tanh(A x)`` with ``A (d_s, p)``, ``A_jk ~ N(0, 1/p)``;
  target ``f* = phi_s . w*`` with ``w* ~ N(0, I / d_s)`` — representable by the strong class;
* weak features ``phi_w(x) = tanh(B x)`` with an independent ``B (d_w, p)``: a weaker
  representation that cannot express ``f*``; the weak head is least squares on
  ``n_weak_train`` fresh ground-truth samples ``y = f*(x) + noise``;
* strong-on-weak ``f_sw`` = least-squares fit of the strong heads to ``f_w`` on the pool,
  i.e. the ``L2`` projection onto the class, for
  ``subspace``: all heads, and ``ball``: heads with ``||w|| <= radius_factor * ||w*||``
  (``radius_factor >= 1`` keeps ``f*`` in the class).

Theorem 1 of the paper: ``err(f_sw) = err(f_w) - misfit`` for the subspace and ``<=`` for
the ball. The table reports ``residual = gain - misfit`` (0 / ``>= 0``) and, for contrast,
errors on ``n_test`` fresh points, where the identity only holds approximately.

Both are *checks*, not findings: with ``f*`` inside the subspace, ``f_sw`` is the orthogonal
projection of ``f_w`` and ``||f_w - f*||^2 = ||f_w - f_sw||^2 + ||f_sw - f*||^2`` is
Pythagoras; for a convex set containing ``f*`` the projection's obtuse-angle property gives
``>=``. The summary prints them with their tolerance (``CHECK_RTOL`` of the largest weak
error, float64 round-off) and PASS/FAIL; what varies between worlds (the gain itself, and
how far the held-out gain departs from the misfit) is reported as mean, median and 10-90%.

References
----------
M. Charikar, C. Pabbaraju, K. Shiragur. "Quantifying the Gain in Weak-to-Strong
Generalization." NeurIPS 2024, arXiv:2405.15116.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bayes_w2s.toys.misfit import LinearHeads, misfit_decomposition, project_subspace
from bayes_w2s.harness.progress import progress

__all__ = ["CHECK_RTOL", "FIGURES", "Config", "plot_errors", "plot_gain_vs_misfit", "run", "summarize"]

CHECK_RTOL = 1e-10  # tolerance of the identity checks, relative to the largest weak error


@dataclass
class Config:
    """Everything that determines the table (same config, same seed -> same rows)."""

    n_replicates: int = 16
    n_pool: int = 2000
    n_weak_train: int = 32
    n_test: int = 2000
    input_dim: int = 16
    strong_dim: int = 32
    weak_dims: tuple[int, ...] = (1, 2, 4, 8, 16)
    radius_factors: tuple[float, ...] = (1.0, 1.5)
    label_noise: float = 1.0
    seed: int = 0

    def __post_init__(self):
        self.weak_dims = tuple(int(d) for d in self.weak_dims)
        self.radius_factors = tuple(float(r) for r in self.radius_factors)
        for name in ("n_replicates", "n_pool", "n_weak_train", "n_test", "input_dim", "strong_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.weak_dims or min(self.weak_dims) < 1:
            raise ValueError(f"weak_dims must be non-empty positive integers, got {self.weak_dims}")
        if any(not r >= 1.0 for r in self.radius_factors):
            raise ValueError(
                "radius_factors must be >= 1 so that the target lies in the ball, "
                f"got {self.radius_factors}"
            )
        if not self.label_noise >= 0:
            raise ValueError(f"label_noise must be >= 0, got {self.label_noise}")


COLUMNS = [
    "replicate", "weak_dim", "strong_dim", "class_kind", "radius_factor", "multiplier",
    "err_w", "err_sw", "misfit", "gain", "residual", "err_w_test", "err_sw_test", "gain_test",
]  # fmt: skip


def _replicate(cfg: Config, rep: int, rng: np.random.Generator) -> list[dict]:
    """Rows of one replicate: new representations, target, weak heads and projections."""
    p, d_s = cfg.input_dim, cfg.strong_dim
    a = rng.normal(scale=p**-0.5, size=(d_s, p))  # strong representation
    w_star = rng.normal(scale=d_s**-0.5, size=d_s)
    x_pool = rng.normal(size=(cfg.n_pool, p))
    x_test = rng.normal(size=(cfg.n_test, p))
    x_train = rng.normal(size=(cfg.n_weak_train, p))
    phi_pool, phi_test = np.tanh(x_pool @ a.T), np.tanh(x_test @ a.T)  # (n, d_s)
    f_star, f_star_test = phi_pool @ w_star, phi_test @ w_star
    y_train = np.tanh(x_train @ a.T) @ w_star + cfg.label_noise * rng.normal(size=cfg.n_weak_train)
    strong = LinearHeads.from_features(phi_pool)  # the strong class on the pool
    classes = [("subspace", np.nan)] + [("ball", r) for r in cfg.radius_factors]
    rows = []
    for d_w in cfg.weak_dims:
        b = rng.normal(scale=p**-0.5, size=(d_w, p))  # weak representation
        v = project_subspace(np.tanh(x_train @ b.T), y_train).head  # weak head on ground truth
        f_w, f_w_test = np.tanh(x_pool @ b.T) @ v, np.tanh(x_test @ b.T) @ v
        for kind, factor in classes:
            radius = None if kind == "subspace" else factor * np.linalg.norm(w_star)
            proj = strong.project(f_w, radius)
            dec = misfit_decomposition(f_star, f_w, proj.fitted)
            f_sw_test = phi_test @ proj.head
            err_w_test = float(np.mean((f_w_test - f_star_test) ** 2))
            err_sw_test = float(np.mean((f_sw_test - f_star_test) ** 2))
            values = (
                rep, d_w, d_s, kind, factor, proj.multiplier, dec.err_weak, dec.err_strong_on_weak,
                dec.misfit, dec.gain, dec.residual, err_w_test, err_sw_test, err_w_test - err_sw_test,
            )  # fmt: skip
            rows.append(dict(zip(COLUMNS, values, strict=True)))
    return rows


def run(cfg: Config) -> pd.DataFrame:
    """The misfit table: one row per (replicate, weak_dim, class_kind, radius_factor).

    Replicate ``r`` draws from ``SeedSequence(cfg.seed).spawn(n_replicates)[r]``, so its rows
    do not depend on how many replicates are run.

    Returns
    -------
    DataFrame
        Columns ``COLUMNS``; ``radius_factor`` is NaN for the subspace; ``multiplier`` is the
        Lagrange multiplier of the ball constraint (0 when inactive).
    """
    seqs = np.random.SeedSequence(cfg.seed).spawn(cfg.n_replicates)
    rows = [
        row
        for rep, ss in progress(enumerate(seqs), total=len(seqs), desc="misfit", unit="replicate")
        for row in _replicate(cfg, rep, np.random.default_rng(ss))
    ]
    return pd.DataFrame(rows, columns=COLUMNS)


def _spread(v) -> str:
    q10, med, q90 = np.quantile(np.asarray(v, float), [0.1, 0.5, 0.9])
    return f"mean {np.mean(v):.4f}, median {med:.4f}, 10-90% [{q10:.4f}, {q90:.4f}]"


def summarize(df: pd.DataFrame, cfg: Config | None = None) -> str:
    """The two identity checks with their tolerance and PASS/FAIL; gains over replicates."""
    sub, ball = df[df["class_kind"] == "subspace"], df[df["class_kind"] == "ball"]
    lines = [f"misfit: {df['replicate'].nunique()} replicates, {len(df)} rows"]
    scale = max(float(df["err_w"].abs().max()), 1e-300) if len(df) else 1.0
    tol = CHECK_RTOL * scale
    if len(sub):
        worst = float(sub["residual"].abs().max())
        lines.append(
            f"CHECK subspace identity (Pythagoras: f* in the subspace): max |gain - misfit| = {worst:.2e}"
            f" <= tol {tol:.1e} ({CHECK_RTOL:g} x max err_w): {'PASS' if worst <= tol else 'FAIL'}"
        )
        lines.append(f"  subspace gain over rows: {_spread(sub['gain'])}")
    if len(ball):
        low = float(ball["residual"].min())
        active = ball[ball["multiplier"] > 0]
        lines.append(
            f"CHECK ball inequality (convex projection, f* in the ball): min (gain - misfit) = {low:.2e}"
            f" >= -tol {-tol:.1e}: {'PASS' if low >= -tol else 'FAIL'}; constraint active in"
            f" {len(active) / len(ball):.0%} of rows"
        )
        if len(active):
            lines.append(f"  gain - misfit where the constraint binds: {_spread(active['residual'])}")
    if len(df):
        lines.append(
            f"held-out (not an identity): gain - misfit over rows: {_spread(df['gain_test'] - df['misfit'])}"
        )
    return "\n".join(lines)


def _title(df: pd.DataFrame, what: str) -> str:
    from bayes_w2s.harness.style import config_of, setting_title

    cfg = config_of(df)
    return setting_title(f"misfit, {what}", wrap=True, replicates=int(df.replicate.nunique()) if "replicate" in df else None,
                         d=cfg.get("input_dim"), noise=cfg.get("label_noise"))


def _class_label(kind: str, factor: float) -> str:
    return "subspace (gain = misfit)" if kind == "subspace" else f"ball R = {factor:g}$\\|w^*\\|$ (gain $\\geq$ misfit)"


def plot_gain_vs_misfit(df: pd.DataFrame, ax=None):
    """Scatter of ``gain = err_w - err_sw`` against ``misfit`` per class, with ``y = x``."""
    from bayes_w2s.harness import style

    fig, ax = style.new_axes(ax, figsize=(3.5, 3.2))
    groups = list(df.groupby(["class_kind", df["radius_factor"].fillna(-1.0)], sort=True))
    colors = style.category_colors(range(len(groups)))
    markers = ("o", "s", "^", "D", "v", "P")
    for i, ((kind, factor), sub) in enumerate(groups):
        ax.scatter(sub["misfit"], sub["gain"], s=8, alpha=0.6, color=colors[i], marker=markers[i % 6], linewidths=0,
                   label=_class_label(kind, factor))
    if len(df):
        hi = float(np.nanmax(df[["misfit", "gain"]].to_numpy()))
        ax.plot([0, hi], [0, hi], color="black", lw=0.8, ls="--", label="gain = misfit")
    ax.set_xlabel("misfit  $\\|f_{sw} - f_w\\|^2$")
    ax.set_ylabel("gain  err$(f_w)$ $-$ err$(f_{sw})$")
    style.legend_outside(fig, loc="outside lower center", ncols=2, title="one point per replicate and $d_w$ (pool)")
    fig.suptitle(_title(df, "strong-on-weak gain vs misfit"))
    return fig


def plot_errors(df: pd.DataFrame, ax=None):
    """Mean weak and strong-on-weak error (pool) against d_w, with 10-90% whiskers over replicates."""
    from bayes_w2s.harness import style

    fig, ax = style.new_axes(ax, figsize=(3.5, 3.2))
    weak = df[df["class_kind"] == "subspace"].assign(model="weak $f_w$")
    weak = weak.assign(err=weak["err_w"])
    students = df.assign(
        err=df["err_sw"],
        model=np.where(
            df["class_kind"] == "subspace",
            "$f_{sw}$ subspace",
            "$f_{sw}$ ball R = " + df["radius_factor"].map("{:g}".format) + "$\\|w^*\\|$",
        ),
    )
    both = pd.concat([weak, students], ignore_index=True)
    models = list(dict.fromkeys(both.model))
    markers = ("o", "s", "^", "D", "v", "P")
    styles = {m: {"color": c, "marker": markers[i % 6], "ls": "-" if i else "--"}
              for i, (m, c) in enumerate(style.category_colors(models).items())}
    style.lines_with_whiskers(ax, both, "weak_dim", "err", "model", at="all", logx=True, styles=styles, dodge=0.03)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("weak representation dimension $d_w$")
    ax.set_ylabel("error  $\\|f - f^*\\|^2$ (pool)")
    style.legend_outside(fig, loc="outside lower center", ncols=2, title="mean over replicates, 10–90% whiskers")
    fig.suptitle(_title(df, "errors"))
    return fig


FIGURES = {"gain_vs_misfit": plot_gain_vs_misfit, "errors": plot_errors}

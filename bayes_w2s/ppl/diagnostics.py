"""MCMC diagnostics and summaries: the only module that calls ArviZ.

Every interval-producing ArviZ call here passes its probability explicitly
(``hdi_prob=prob``), and every public function that reports an interval takes ``prob`` as
a required keyword: no figure or table silently inherits ArviZ's 0.94 default.

Chains are trusted when (Vehtari et al. 2021)

* rank-normalized split ``R-hat <= 1.01`` for every scalar parameter;
* bulk and tail ESS ``>= 100`` per chain;
* there are no divergent transitions (Betancourt 2017).

:func:`check_chains` reports each failure in words and warns with
:class:`SamplingWarning`. Monte Carlo standard errors (``mcse_mean``, ``mcse_sd``) are
ESS-based and are what tests use as tolerances.

References
----------
Vehtari, A., Gelman, A., Simpson, D., Carpenter, B. & Bürkner, P.-C. (2021).
Rank-normalization, folding, and localization: an improved R-hat. Bayesian Analysis 16.
Betancourt, M. (2017). A conceptual introduction to Hamiltonian Monte Carlo. arXiv:1701.02434.
Kumar, R., Carroll, C., Hartikainen, A. & Martin, O. (2019). ArviZ. JOSS 4(33).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

try:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ArviZ is undergoing a major refactor.*")
        import arviz as az
except ImportError as _err:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "bayes_w2s.ppl.diagnostics needs ArviZ, part of the optional pymc extra: "
        "pip install 'bayes-w2s[pymc]'"
    ) from _err

__all__ = [
    "RHAT_MAX",
    "ESS_PER_CHAIN_MIN",
    "SamplingWarning",
    "ChainDiagnostics",
    "check_chains",
    "posterior_table",
    "hdi",
    "from_draws",
    "plot_forest",
]

RHAT_MAX = 1.01
ESS_PER_CHAIN_MIN = 100


class SamplingWarning(RuntimeWarning):
    """The chains cannot be trusted (R-hat, ESS or divergences)."""


def _check_prob(prob: float) -> float:
    prob = float(prob)
    if not 0 < prob < 1:
        raise ValueError(f"interval probability prob must lie in (0, 1), got {prob!r}")
    return prob


@dataclass(frozen=True)
class ChainDiagnostics:
    """Convergence summary of one posterior.

    Attributes
    ----------
    n_chains, n_draws : int
        Chains and draws per chain.
    max_rhat : float
        Largest rank-normalized split R-hat over scalar parameters (NaN if undefined).
    min_ess_bulk, min_ess_tail : float
        Smallest bulk / tail effective sample size.
    n_divergent : int
        Divergent transitions after tuning (0 if the sampler does not report them).
    problems : tuple of str
        One sentence per failed check; empty when the chains can be trusted.
    """

    n_chains: int
    n_draws: int
    max_rhat: float
    min_ess_bulk: float
    min_ess_tail: float
    n_divergent: int
    problems: tuple[str, ...]

    @property
    def trustworthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {
            "n_chains": self.n_chains,
            "n_draws": self.n_draws,
            "max_rhat": self.max_rhat,
            "min_ess_bulk": self.min_ess_bulk,
            "min_ess_tail": self.min_ess_tail,
            "n_divergent": self.n_divergent,
            "trustworthy": self.trustworthy,
        }


def _dataset_extreme(ds, fn) -> float:
    values = [np.asarray(ds[v].values, dtype=float).ravel() for v in ds.data_vars]
    flat = np.concatenate(values) if values else np.array([np.nan])
    if np.all(np.isnan(flat)):
        return math.nan
    return float(fn(flat)) if not np.any(np.isnan(flat)) else math.nan


def check_chains(
    idata,
    *,
    var_names: Sequence[str] | None = None,
    rhat_max: float = RHAT_MAX,
    ess_per_chain_min: float = ESS_PER_CHAIN_MIN,
    warn: bool = True,
) -> ChainDiagnostics:
    """R-hat, bulk/tail ESS and divergences; warns when the chains cannot be trusted.

    Parameters
    ----------
    idata : arviz.InferenceData
        With a ``posterior`` group and, optionally, ``sample_stats.diverging``.
    var_names : sequence of str, optional
        Parameters to check (all posterior variables by default).
    rhat_max : float
        Largest acceptable R-hat (1.01, Vehtari et al. 2021).
    ess_per_chain_min : float
        Smallest acceptable bulk and tail ESS per chain (100).
    warn : bool
        Emit a :class:`SamplingWarning` listing the problems.
    """
    post = idata.posterior
    n_chains, n_draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    names = list(var_names) if var_names is not None else list(post.data_vars)
    with np.errstate(divide="ignore", invalid="ignore"):  # constant chains: NaN, reported below
        rhat = az.rhat(idata, var_names=names, method="rank")
        ess_bulk = az.ess(idata, var_names=names, method="bulk")
        ess_tail = az.ess(idata, var_names=names, method="tail")
    max_rhat = _dataset_extreme(rhat, np.max)
    min_bulk = _dataset_extreme(ess_bulk, np.min)
    min_tail = _dataset_extreme(ess_tail, np.min)
    n_div = 0
    stats = getattr(idata, "sample_stats", None)
    if stats is not None and "diverging" in stats:
        n_div = int(np.asarray(stats["diverging"].values).sum())

    problems = []
    ess_min = ess_per_chain_min * n_chains
    if n_chains < 2:
        problems.append("only one chain: R-hat cannot detect chains stuck in different modes")
    if math.isnan(max_rhat):
        problems.append("R-hat is undefined (constant or non-finite draws)")
    elif max_rhat > rhat_max:
        problems.append(f"R-hat {max_rhat:.3f} > {rhat_max}: chains disagree")
    if math.isnan(min_bulk) or min_bulk < ess_min:
        problems.append(
            f"bulk ESS {min_bulk:.0f} < {ess_min:.0f} ({ess_per_chain_min:g} per chain)"
        )
    if math.isnan(min_tail) or min_tail < ess_min:
        problems.append(
            f"tail ESS {min_tail:.0f} < {ess_min:.0f} ({ess_per_chain_min:g} per chain)"
        )
    if n_div > 0:
        problems.append(f"{n_div} divergent transition(s): the posterior geometry was not explored")
    diag = ChainDiagnostics(n_chains, n_draws, max_rhat, min_bulk, min_tail, n_div, tuple(problems))
    if warn and problems:
        warnings.warn(
            "chains cannot be trusted: " + "; ".join(problems), SamplingWarning, stacklevel=2
        )
    return diag


def posterior_table(
    idata,
    *,
    prob: float,
    var_names: Sequence[str] | None = None,
    quantiles: Sequence[float] = (0.05, 0.25, 0.5, 0.75, 0.95),
) -> pd.DataFrame:
    """One row per scalar parameter: mean, sd, HDI at ``prob``, quantiles, MCSE, ESS, R-hat.

    Columns: ``param`` (e.g. ``w[x0]``), ``var``, ``coord``, ``mean``, ``sd``, ``hdi_lo``,
    ``hdi_hi``, ``hdi_prob``, ``q<100 p>`` for each quantile, ``mcse_mean``, ``mcse_sd``,
    ``ess_bulk``, ``ess_tail``, ``r_hat``. Calls ``arviz.summary(hdi_prob=prob)``.
    """
    prob = _check_prob(prob)
    qs = np.asarray(quantiles, dtype=float)
    if np.any((qs <= 0) | (qs >= 1)):
        raise ValueError("quantiles must lie in (0, 1)")
    names = list(var_names) if var_names is not None else list(idata.posterior.data_vars)
    summ = az.summary(idata, var_names=names, kind="all", hdi_prob=prob, round_to="none")
    hdi_cols = [c for c in summ.columns if c.startswith("hdi_")]
    rows = []
    for var in names:
        da = idata.posterior[var]
        extra_dims = [d for d in da.dims if d not in ("chain", "draw")]
        if len(extra_dims) > 1:
            raise ValueError(f"{var} has more than one non-sample dim: {extra_dims}")
        coords = [None] if not extra_dims else [str(c) for c in da[extra_dims[0]].values]
        flat = da.values.reshape(da.shape[0] * da.shape[1], -1)  # (chain*draw, n_coords)
        for j, coord in enumerate(coords):
            param = var if coord is None else f"{var}[{coord}]"
            rec = summ.loc[param]
            row = {
                "param": param,
                "var": var,
                "coord": coord,
                "mean": float(rec["mean"]),
                "sd": float(rec["sd"]),
                "hdi_lo": float(rec[hdi_cols[0]]),
                "hdi_hi": float(rec[hdi_cols[1]]),
                "hdi_prob": prob,
            }
            for q, value in zip(qs, np.quantile(flat[:, j], qs), strict=True):
                row[f"q{100 * q:g}"] = float(value)
            for col in ("mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "r_hat"):
                row[col] = float(rec[col])
            rows.append(row)
    return pd.DataFrame(rows)


def hdi(idata, *, prob: float, var_names: Sequence[str] | None = None):
    """Highest-density intervals at ``prob`` (``arviz.hdi(hdi_prob=prob)``); an xarray Dataset."""
    return az.hdi(
        idata, var_names=None if var_names is None else list(var_names), hdi_prob=_check_prob(prob)
    )


def from_draws(
    posterior: Mapping[str, np.ndarray],
    *,
    sample_stats: Mapping[str, np.ndarray] | None = None,
    dims: Mapping[str, list[str]] | None = None,
    coords: Mapping[str, Sequence] | None = None,
):
    """An ``arviz.InferenceData`` from arrays shaped ``(chain, draw, ...)``."""
    return az.from_dict(
        posterior=dict(posterior),
        sample_stats=None if sample_stats is None else dict(sample_stats),
        dims=None if dims is None else dict(dims),
        coords=None if coords is None else dict(coords),
    )


def plot_forest(
    idatas: Mapping[str, object],
    *,
    prob: float,
    var_names: Sequence[str] | None = None,
    ax=None,
):
    """ArviZ forest plot of several posteriors (one per schedule) with HDI at ``prob``.

    For interactive use on live ``InferenceData``; experiment figures are drawn from
    stored tables instead (see ``bayes_w2s.simulations.pymc_student``). Returns the axes.
    """
    prob = _check_prob(prob)
    axes = az.plot_forest(
        list(idatas.values()),
        model_names=list(idatas.keys()),
        var_names=None if var_names is None else list(var_names),
        combined=True,
        hdi_prob=prob,
        ax=ax,
    )
    return np.atleast_1d(axes)[0]

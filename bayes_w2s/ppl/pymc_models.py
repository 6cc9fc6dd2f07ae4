"""PyMC students on continuous hypothesis spaces, updated by soft weak labels.

Two students, each a ``pm.Model`` with coords and dims:

* ``"beta_bernoulli"`` — the coin-flip student: ``theta ~ Beta(a, b)``,
  ``P(y = 1 | theta) = theta`` (one context);
* ``"logistic"`` — a Bayesian logistic regression on features ``x (D,)``:
  ``w ~ Normal(mu_0, sigma_0)`` (dims ``feature``), ``b ~ Normal(0, sigma_b)``,
  ``P(y = 1 | x, w, b) = sigmoid(x . w + b)``.

Weak labels ``y_i`` with strengths ``s_i`` (from a :class:`~bayes_w2s.core.schedules.Schedule`)
enter the joint log density under one of three rules (DESIGN.md §2):

* ``"bayes"`` (hard): ``sum_i log P(y_i | x_i, theta)``, registered as observed data;
* ``"tempered"``: ``sum_i w_i log P(y_i | x_i, theta)`` with ``w_i = s_i``, a
  ``pm.Potential`` named ``weak_loglik`` (Bissiri, Holmes & Walker 2016);
* ``"ve"`` (virtual evidence): ``sum_i log((r_i - 1) P(y_i | x_i, theta) + 1)`` with
  ``r_i = exp(s_i)``, also a ``pm.Potential`` (Pearl 1988 §2.2.2). Each term lies in
  ``[0, s_i]``, so the whole update moves any posterior odds by at most ``exp(sum_i s_i)``
  (Chan & Darwiche 2005).

Soft labels are never *also* registered as observed data, so forward sampling
(``pm.sample_posterior_predictive``) knows nothing about them. Posterior predictive draws
are therefore made explicitly by :func:`posterior_predictive`: parameters from the
(tempered / virtual-evidence) posterior, labels from the *untempered* Bernoulli
``P(y | x, theta)``.

This module needs the ``pymc`` extra (``pip install 'bayes-w2s[pymc]'``); ``import
bayes_w2s`` never imports it. Every ArviZ call lives in :mod:`bayes_w2s.ppl.diagnostics`.

References
----------
Pearl, J. (1988). Probabilistic Reasoning in Intelligent Systems, §2.2.2.
Chan, H. & Darwiche, A. (2005). On the revision of probabilistic beliefs using uncertain
evidence. Artificial Intelligence 163.
Bissiri, P. G., Holmes, C. C. & Walker, S. G. (2016). A general framework for updating
belief distributions. JRSS B 78.
Hoffman, M. D. & Gelman, A. (2014). The No-U-Turn Sampler. JMLR 15.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:
    import pymc as pm
    import pytensor.tensor as pt

    from bayes_w2s.ppl import diagnostics  # first: it silences ArviZ's import-time notice
except ImportError as _err:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "bayes_w2s.ppl.pymc_models needs PyMC and ArviZ, which are an optional extra: "
        "pip install 'bayes-w2s[pymc]'"
    ) from _err

from bayes_w2s.ppl.weak_data import MAX_VE_STRENGTH, RULES, WeakData, weak_data

__all__ = [
    "RULES",
    "STUDENTS",
    "MAX_VE_STRENGTH",
    "WeakData",
    "StudentConfig",
    "Fit",
    "weak_data",
    "build_model",
    "sample",
    "fit",
    "posterior_predictive",
]

STUDENTS = ("beta_bernoulli", "logistic")


@dataclass(frozen=True, eq=False)
class StudentConfig:
    """Which student and its prior.

    Parameters
    ----------
    student : {"beta_bernoulli", "logistic"}
    a, b : float
        ``theta ~ Beta(a, b)`` (coin-flip student).
    prior_mean, prior_sd : float or (D,) array
        ``w ~ Normal(prior_mean, prior_sd)`` elementwise (logistic student). A non-zero
        mean encodes what a pretrained strong model already knows.
    intercept : bool
        Include ``b ~ Normal(0, intercept_sd)``.
    """

    student: str = "beta_bernoulli"
    a: float = 1.0
    b: float = 1.0
    prior_mean: Any = 0.0
    prior_sd: Any = 1.0
    intercept: bool = True
    intercept_sd: float = 2.5

    def __post_init__(self) -> None:
        if self.student not in STUDENTS:
            raise ValueError(f"unknown student {self.student!r}; known: {', '.join(STUDENTS)}")
        for name in ("a", "b", "intercept_sd"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        sd = np.asarray(self.prior_sd, dtype=float)
        if not np.all(np.isfinite(sd)) or np.any(sd <= 0):
            raise ValueError("prior_sd must be positive")
        if not np.all(np.isfinite(np.asarray(self.prior_mean, dtype=float))):
            raise ValueError("prior_mean must be finite")


def _prior_vector(value: Any, n_features: int, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return np.full(n_features, float(arr))
    if arr.shape != (n_features,):
        raise ValueError(f"{name} must be a scalar or have shape ({n_features},), got {arr.shape}")
    return arr


def build_model(data: WeakData, cfg: StudentConfig) -> pm.Model:
    """The student's ``pm.Model``: prior plus the weak labels under ``data.rule``.

    Dims: ``obs`` (weak labels) and, for the logistic student, ``feature``. Variables:
    ``theta`` or ``w`` / ``intercept``; ``weak_label`` (observed for ``"bayes"``, else
    ``pm.Data``); ``strength`` (``pm.Data``, soft rules only); ``weak_loglik``
    (``pm.Potential``, soft rules only) holding, per label,

    * tempered: ``w_i log P(y_i | x_i, theta)``;
    * ve: ``log1p(expm1(s_i) P(y_i | x_i, theta)) = log((r_i - 1) P + 1)``.

    Returns
    -------
    pm.Model
    """
    if not isinstance(data, WeakData) or not isinstance(cfg, StudentConfig):
        raise TypeError("build_model(data: WeakData, cfg: StudentConfig)")
    coords: dict[str, Any] = {"obs": np.arange(data.n_obs)}
    if cfg.student == "logistic":
        if data.features is None:
            raise ValueError("the logistic student needs features (N, D) in WeakData")
        coords["feature"] = list(data.feature_names)
    elif data.features is not None:
        raise ValueError("the beta_bernoulli student has one context: pass no features")

    with pm.Model(coords=coords) as model:
        if cfg.student == "beta_bernoulli":
            theta = pm.Beta("theta", alpha=cfg.a, beta=cfg.b)
            label_dist = {"p": theta}
        else:
            n_feat = data.features.shape[1]
            x = pm.Data("X", data.features, dims=("obs", "feature"))
            w = pm.Normal(
                "w",
                mu=_prior_vector(cfg.prior_mean, n_feat, "prior_mean"),
                sigma=_prior_vector(cfg.prior_sd, n_feat, "prior_sd"),
                dims="feature",
            )
            eta = pt.dot(x, w)  # (N,)
            if cfg.intercept:
                eta = eta + pm.Normal("intercept", mu=0.0, sigma=cfg.intercept_sd)
            label_dist = {"logit_p": eta}

        if data.rule == "bayes":
            pm.Bernoulli("weak_label", **label_dist, observed=data.labels, dims="obs")
        else:
            y = pm.Data("weak_label", data.labels, dims="obs")
            s = pm.Data("strength", data.strengths, dims="obs")
            loglik = pm.logp(pm.Bernoulli.dist(**label_dist, shape=data.n_obs), y)  # (N,)
            if data.rule == "tempered":
                term = s * loglik
            else:  # virtual evidence, log((r - 1) p + 1)
                term = pt.log1p(pt.expm1(s) * pt.exp(loglik))
            pm.Potential("weak_loglik", term, dims="obs")
    return model


class Fit(NamedTuple):
    """A sampled student: ``idata`` (ArviZ InferenceData) and its chain ``diagnostics``.

    ``idata.posterior.attrs`` records student, rule, schedule, total influence, seed;
    ``idata.constant_data`` holds ``weak_label`` and ``strength`` per label (soft rules).
    """

    idata: Any
    diagnostics: diagnostics.ChainDiagnostics


@contextlib.contextmanager
def _quiet_pymc():
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


def sample(
    model: pm.Model,
    *,
    seed: int,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int = 1,
    target_accept: float = 0.9,
):
    """NUTS (Hoffman & Gelman 2014) with a fixed seed; returns ``arviz.InferenceData``.

    The same ``seed`` gives the same draws. PyMC's own convergence checks are switched off;
    use :func:`bayes_w2s.ppl.diagnostics.check_chains` (as :func:`fit` does).
    """
    for name, value in (("draws", draws), ("chains", chains), ("cores", cores)):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if int(tune) != tune or tune < 0:
        raise ValueError(f"tune must be a non-negative integer, got {tune!r}")
    if not 0 < target_accept < 1:
        raise ValueError(f"target_accept must lie in (0, 1), got {target_accept!r}")
    with model, _quiet_pymc():
        return pm.sample(
            draws=int(draws),
            tune=int(tune),
            chains=int(chains),
            cores=int(cores),
            random_seed=int(seed),
            target_accept=target_accept,
            progressbar=False,
            compute_convergence_checks=False,
        )


def fit(
    data: WeakData,
    cfg: StudentConfig,
    *,
    seed: int,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 2,
    cores: int = 1,
    target_accept: float = 0.9,
    warn: bool = True,
) -> Fit:
    """Build, sample and check a student; records schedule and strengths in the result.

    Emits :class:`bayes_w2s.ppl.diagnostics.SamplingWarning` when the chains cannot be trusted
    (R-hat, ESS or divergences; see :func:`bayes_w2s.ppl.diagnostics.check_chains`).
    """
    idata = sample(
        build_model(data, cfg),
        seed=seed,
        draws=draws,
        tune=tune,
        chains=chains,
        cores=cores,
        target_accept=target_accept,
    )
    idata.posterior.attrs.update(
        {
            "bayes_w2s_student": cfg.student,
            "bayes_w2s_rule": data.rule,
            "bayes_w2s_schedule": data.schedule,
            "bayes_w2s_total_influence": data.total_influence,
            "bayes_w2s_seed": int(seed),
        }
    )
    var_names = (
        ["theta"]
        if cfg.student == "beta_bernoulli"
        else ["w"] + (["intercept"] if cfg.intercept else [])
    )
    diag = diagnostics.check_chains(idata, var_names=var_names, warn=warn)
    return Fit(idata, diag)


def posterior_predictive(
    idata,
    features: ArrayLike | None = None,
    *,
    seed: int,
    n_new: int | None = None,
):
    """Untempered posterior predictive draws, made explicitly.

    For each posterior draw ``theta^(s)``, ``p^(s)_j = P(y = 1 | x_j, theta^(s))`` and
    ``y^(s)_j ~ Bernoulli(p^(s)_j)``: the parameters come from the (possibly tempered or
    virtual-evidence) posterior, the labels from the plain likelihood. This is needed
    because forward sampling skips ``pm.Potential``: ``pm.sample_posterior_predictive`` has
    no observed variable to draw for the soft rules. The predictive probability of a label
    is the mean of ``p`` over draws, ``P(y=1|x, data) = E[p(x, theta) | data]``.

    Parameters
    ----------
    idata : arviz.InferenceData
        From :func:`fit` / :func:`sample` on a model of :func:`build_model`.
    features : (M, D), optional
        New inputs (logistic student); defaults to the training inputs ``X``.
    seed : int
    n_new : int, optional
        Number of new labels for the coin-flip student (default 1).

    Returns
    -------
    xarray.Dataset
        ``p_label`` and ``label``, both ``(chain, draw, new_obs)``, with attrs saying they
        are untempered.
    """
    import xarray as xr

    post = idata.posterior
    if "theta" in post:
        m = 1 if n_new is None else int(n_new)
        if features is not None or m < 1:
            raise ValueError("the coin-flip student takes n_new >= 1 and no features")
        p = np.repeat(post["theta"].values[..., None], m, axis=-1)  # (C, S, M)
    elif "w" in post:
        if n_new is not None:
            raise ValueError("the logistic student takes features, not n_new")
        if features is None:
            features = idata.constant_data["X"].values
        x = np.asarray(features, dtype=float)
        n_feat = post["w"].shape[-1]
        if x.ndim != 2 or x.shape[1] != n_feat or not np.all(np.isfinite(x)):
            raise ValueError(f"features must be a finite (M, {n_feat}) array, got shape {x.shape}")
        eta = np.einsum("csd,md->csm", post["w"].values, x)  # (C, S, M)
        if "intercept" in post:
            eta = eta + post["intercept"].values[..., None]
        p = 1.0 / (1.0 + np.exp(-eta))
    else:
        raise ValueError("idata has neither 'theta' nor 'w': not a bayes_w2s student")
    rng = np.random.default_rng(seed)
    y = (rng.random(p.shape) < p).astype(np.int64)
    dims = ("chain", "draw", "new_obs")
    coords = {
        "chain": post["chain"].values,
        "draw": post["draw"].values,
        "new_obs": np.arange(p.shape[-1]),
    }
    return xr.Dataset(
        {"p_label": (dims, p), "label": (dims, y)},
        coords=coords,
        attrs={
            "bayes_w2s_predictive": (
                "untempered: theta from the posterior, y ~ Bernoulli(P(y=1|x,theta))"
            ),
            "bayes_w2s_seed": int(seed),
        },
    )

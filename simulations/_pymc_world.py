"""The world of the PyMC student experiment: a logistic truth on D Gaussian features, a
pretrained prior mean at a set cosine to it, and a weak model fitted (MAP) on the first k
features only; see :mod:`bayes_w2s.simulations.pymc_student`.

``P(y = 1 | x) = sigmoid(x . beta)`` with ``||beta[:k]||^2 = weak_share * signal^2``; the weak
model is ``argmax`` of the MAP logistic fit on ``x[:, :k]`` (Gaussian prior, sd 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import optimize
from scipy.special import expit

if TYPE_CHECKING:
    from .pymc_student import Config

__all__ = ["World", "make_world", "_fit_map_logistic", "_prediction_metrics"]


@dataclass(frozen=True, eq=False)
class World:
    """One draw of the classification world (shapes in brackets).

    ``beta (D,)`` truth; ``prior_mean (D,)`` the pretrained prior mean; ``x_w2s (n_w2s, D)``
    with true labels ``y_w2s`` and weak labels ``weak_w2s``, weak confidence ``conf_w2s``;
    ``x_test (n_test, D)``, ``y_test``, ``weak_test``; ``weak_coef (k + 1,)`` = weak
    weights then intercept.
    """

    beta: np.ndarray
    prior_mean: np.ndarray
    weak_coef: np.ndarray
    x_w2s: np.ndarray
    y_w2s: np.ndarray
    weak_w2s: np.ndarray
    conf_w2s: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    weak_test: np.ndarray

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"x{j}" for j in range(self.beta.shape[0]))


def _fit_map_logistic(x: np.ndarray, y: np.ndarray, prior_sd: float = 1.0) -> np.ndarray:
    """MAP of ``sum_i log P(y_i|x_i,w,b) - ||(w, b)||^2 / (2 prior_sd^2)``; ``(w..., b)``."""
    xb = np.column_stack([x, np.ones(len(x))])  # (n, k + 1)
    sign = 2.0 * y - 1.0

    def neg_log_post(theta):
        eta = xb @ theta
        nll = np.logaddexp(0.0, -sign * eta).sum()
        grad = -xb.T @ (sign * expit(-sign * eta))
        return nll + theta @ theta / (2 * prior_sd**2), grad + theta / prior_sd**2

    res = optimize.minimize(neg_log_post, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B")
    if not res.success:  # pragma: no cover - a strictly convex smooth objective
        raise RuntimeError(f"weak-model MAP fit failed: {res.message}")
    return res.x


def make_world(cfg: Config) -> World:
    """Draw inputs, truth, the pretrained prior mean and the MAP weak model from ``cfg.seed``."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 0]))
    d, k = cfg.n_features, cfg.n_weak_features
    g = rng.normal(size=d)
    g[:k] *= math.sqrt(cfg.weak_share) / np.linalg.norm(g[:k])
    g[k:] *= math.sqrt(1 - cfg.weak_share) / np.linalg.norm(g[k:])
    beta = cfg.signal * g  # ||beta[:k]||^2 = weak_share * signal^2
    unit = beta / np.linalg.norm(beta)
    v = rng.normal(size=d)
    v -= (v @ unit) * unit
    v /= np.linalg.norm(v)
    a = cfg.prior_alignment
    prior_mean = cfg.prior_scale * (
        a * unit + math.sqrt(1 - a * a) * v
    )  # cos(prior_mean, beta) = a

    n_total = cfg.n_weak_train + cfg.n_w2s + cfg.n_test
    x = rng.normal(size=(n_total, d))
    y = (rng.random(n_total) < expit(x @ beta)).astype(np.int64)
    train = slice(0, cfg.n_weak_train)
    w2s = slice(cfg.n_weak_train, cfg.n_weak_train + cfg.n_w2s)
    test = slice(cfg.n_weak_train + cfg.n_w2s, n_total)
    coef = _fit_map_logistic(x[train, :k], y[train])
    p_weak = expit(x[:, :k] @ coef[:k] + coef[k])
    weak = (p_weak > 0.5).astype(np.int64)
    return World(
        beta=beta,
        prior_mean=prior_mean,
        weak_coef=coef,
        x_w2s=x[w2s],
        y_w2s=y[w2s],
        weak_w2s=weak[w2s],
        conf_w2s=np.abs(2 * p_weak[w2s] - 1),
        x_test=x[test],
        y_test=y[test],
        weak_test=weak[test],
    )


def _prediction_metrics(p_test: np.ndarray, world: World) -> dict[str, float]:
    pred = (p_test > 0.5).astype(np.int64)
    wrong = world.weak_test != world.y_test
    return {
        "accuracy": float(np.mean(pred == world.y_test)),
        "agree_weak": float(np.mean(pred == world.weak_test)),
        "agree_weak_when_wrong": float(np.mean(pred[wrong] == world.weak_test[wrong]))
        if wrong.any()
        else math.nan,
    }

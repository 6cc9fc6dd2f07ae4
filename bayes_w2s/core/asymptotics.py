"""Where updating ends up: the KL projection (Berk's limit) and Beta–Bernoulli closed forms.

* Under misspecification, hard Bayes on i.i.d. labels ``y ~ q(. | z)``, ``z ~ mu``
  concentrates on the KL projection of the label distribution onto the space
  (Berk 1966; Kleijn & van der Vaart 2012)::

      h* = argmin_h sum_z mu(z) KL(q(. | z) || P(. | z, h))
         = argmax_h sum_z mu(z) sum_y q(y | z) log P(y | z, h).

* Beta–Bernoulli with weighted counts (tempering, or a power prior; Ibrahim & Chen 2000):
  ``Beta(a + sum_i w_i y_i, b + sum_i w_i (1 - y_i))``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from bayes_w2s.core.hypotheses import HypothesisSpace

__all__ = ["KLProjection", "kl_projection", "BetaPosterior", "beta_bernoulli_posterior"]


class KLProjection(NamedTuple):
    """Where hard Bayes on i.i.d. labels ends up: the KL projection (Berk 1966).

    ``kl[h] = sum_z mu(z) KL(q(. | z) || P(. | z, h))`` for every hypothesis and ``index``,
    the minimizers ``argmin_h kl[h]`` (ties within 1e-12 all listed): the hypotheses on
    which the posterior concentrates when labels ``y ~ q(. | z)`` keep arriving.

    Attributes
    ----------
    index : tuple of int
        The minimizing hypotheses.
    kl : ndarray, (H,)
        The expected KL divergence of each hypothesis from the label distribution.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> coins = bw.HypothesisSpace([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]], ["heads", "fair", "tails"])
    >>> proj = bw.kl_projection(coins, [0.5, 0.5])   # a 50/50 mixture's labels
    >>> proj.index, coins.hypothesis_names[proj.index[0]]
    ((1,), 'fair')
    """

    index: tuple[int, ...]
    kl: NDArray[np.float64]


def kl_projection(
    space: HypothesisSpace, label_probs: ArrayLike, context_probs: ArrayLike | None = None
) -> KLProjection:
    """The KL projection of a label distribution onto a hypothesis space (Berk's limit).

    .. math:: h^* = \\arg\\min_h \\sum_z \\mu(z)\\,\\mathrm{KL}\\big(q(\\cdot \\mid z) \\,\\|\\, P(\\cdot \\mid z, h)\\big)

    Under misspecification, hard Bayes on i.i.d. labels ``y ~ q(. | z)``, ``z ~ mu``
    concentrates on ``h*`` (Berk 1966; Kleijn & van der Vaart 2012). When ``q`` is a weak
    model's predictive and the strong space can represent it, ``h*`` is the mimic.

    Parameters
    ----------
    space : HypothesisSpace
    label_probs : (Z, K) or (K,)
        The data-generating label distribution ``q(y | z)`` (e.g. a weak predictive).
    context_probs : (Z,), optional
        ``mu(z)``; uniform by default.

    Returns
    -------
    KLProjection
        ``index`` (the minimizers) and ``kl`` ``(H,)``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> space = bw.HypothesisSpace([[0.95, 0.05], [0.6, 0.4], [0.05, 0.95]])
    >>> proj = bw.kl_projection(space, [0.5, 0.5])
    >>> proj.index, proj.kl.round(3)
    ((1,), array([0.83, 0.02, 0.83]))
    """
    q = np.asarray(label_probs, dtype=float)
    if q.ndim == 1:
        q = q[None, :]
    if q.shape != space.probs.shape[1:]:
        raise ValueError(f"label_probs must have shape {space.probs.shape[1:]}, got {q.shape}")
    if np.any(q < 0) or np.any(q > 1) or np.any(np.abs(q.sum(axis=1) - 1) > 1e-9):
        raise ValueError("label_probs rows must be probability vectors")
    mu = np.full(q.shape[0], 1 / q.shape[0]) if context_probs is None else np.asarray(context_probs, float)
    if mu.shape != (q.shape[0],) or np.any(mu < 0) or abs(mu.sum() - 1) > 1e-9:
        raise ValueError("context_probs must be a probability vector over contexts")
    from scipy.special import rel_entr

    kl = np.einsum("z,hz->h", mu, rel_entr(q[None], space.probs).sum(axis=2))  # (H,)
    best = np.flatnonzero(kl <= kl.min() + 1e-12)
    return KLProjection(tuple(int(i) for i in best), kl)


class BetaPosterior(NamedTuple):
    """A Beta posterior ``Beta(a, b)``: mean ``a / (a + b)``, sd ``sqrt(a b / ((a + b)^2 (a + b + 1)))``.

    Returned by :func:`beta_bernoulli_posterior`; ``interval(prob)`` is the central
    interval holding probability ``prob``.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> post = bw.BetaPosterior(3.0, 1.0)
    >>> post.mean, round(post.sd, 4)
    (0.75, 0.1936)
    """

    a: float
    b: float

    @property
    def mean(self) -> float:
        return self.a / (self.a + self.b)

    @property
    def sd(self) -> float:
        n = self.a + self.b
        return float(np.sqrt(self.a * self.b / (n * n * (n + 1))))

    def interval(self, prob: float) -> tuple[float, float]:
        """Central interval holding probability ``prob``."""
        from scipy import stats  # lazy: scipy.stats costs seconds at import

        lo, hi = stats.beta.interval(prob, self.a, self.b)
        return float(lo), float(hi)


def beta_bernoulli_posterior(
    a: float, b: float, labels: ArrayLike, weights: ArrayLike | float = 1.0
) -> BetaPosterior:
    """The conjugate posterior of a coin's bias with weighted 0/1 labels.

    .. math:: \\mathrm{Beta}\\Big(a + \\sum_i w_i y_i,\\; b + \\sum_i w_i (1 - y_i)\\Big)

    Weights ``w_i = 1`` give plain Bayes; ``w_i = w`` tempering (a power likelihood); a
    power prior in the sense of Ibrahim & Chen (2000). A closed form to check grid and
    MCMC posteriors against.

    Parameters
    ----------
    a, b : float
        The Beta prior, both positive.
    labels : (N,) array of 0/1
    weights : float or (N,) array, optional
        Finite, non-negative; default 1.

    Returns
    -------
    BetaPosterior

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> bw.beta_bernoulli_posterior(1, 1, [1, 1, 0, 1])
    BetaPosterior(a=4.0, b=2.0)
    >>> bw.beta_bernoulli_posterior(1, 1, [1, 1, 0, 1], weights=0.5)   # tempered, w = 0.5
    BetaPosterior(a=2.5, b=1.5)
    """
    if not (np.isfinite(a) and np.isfinite(b) and a > 0 and b > 0):
        raise ValueError(f"Beta prior parameters must be positive, got a={a!r}, b={b!r}")
    y = np.asarray(labels)
    if y.ndim != 1 or (y.size and not np.all((y == 0) | (y == 1))):
        raise ValueError("labels must be a 1-D array of 0/1")
    w = np.broadcast_to(np.asarray(weights, dtype=float), y.shape)
    if np.any(~np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    return BetaPosterior(float(a + np.sum(w * y)), float(b + np.sum(w * (1 - y))))

"""Hypothesis spaces, models (a prior over a space) and the containment check.

A hypothesis ``h`` is a table of label probabilities ``P(y | z, h)`` for every context
``z``; a space stacks them as ``probs[h, z, y]`` of shape
``(n_hypotheses, n_contexts, n_labels)`` (a 2-D ``(n_hypotheses, n_labels)`` table is a
single context, as for coin flips). A :class:`Model` adds a prior, and its *predictive* is
the mixture ``P(y | z) = sum_h P(h) P(y | z, h)``.

"S contains W" (DESIGN.md §1) means every weak hypothesis has a strong hypothesis with the
same token conditionals; that does **not** make the weak predictive (a mixture)
representable by any single strong hypothesis. :func:`containment` reports both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from bayes_w2s.core.validation import ValidationError, as_float_array, as_index_array, check_log_weights

__all__ = ["HypothesisSpace", "Model", "ContainmentReport", "containment"]

_NORM_TOL = 1e-6


def _names(names, count: int, what: str) -> tuple[str, ...]:
    if names is None:
        return tuple(f"{what}{i}" for i in range(count))
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ValidationError(f"{what} names: got {len(names)}, need {count}")
    if len(set(names)) != count:
        raise ValidationError(f"{what} names must be unique")
    return names


@dataclass(frozen=True, eq=False)
class HypothesisSpace:
    """Label probabilities ``P(y | z, h)`` as an array ``(n_hypotheses, n_contexts, n_labels)``.

    A hypothesis is a table of label probabilities, one row per context ``z``; the space
    stacks them. Rows must sum to 1 (within 1e-6; they are renormalized).

    Parameters
    ----------
    probs : array_like, (H, Z, K) or (H, K)
        Each ``probs[h, z]`` must be a probability vector over the K labels.
    hypothesis_names, label_names : sequence of str, optional

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> coins = bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]], ["heads", "tails"], ["H", "T"])
    >>> coins.probs.shape, coins.n_contexts              # a (H, K) table is one context
    ((2, 1, 2), 1)
    >>> coins.index("tails")
    1
    """

    probs: NDArray[np.float64]
    hypothesis_names: tuple[str, ...] = field(default=None)  # type: ignore[assignment]
    label_names: tuple[str, ...] = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        probs = np.array(as_float_array(self.probs, "probs", allow_empty=True), dtype=float)
        if probs.ndim == 2:
            probs = probs[:, None, :]
        if probs.ndim != 3:
            raise ValidationError(f"probs must be (H, Z, K) or (H, K), got shape {probs.shape}")
        if min(probs.shape) == 0:
            raise ValidationError(f"probs has an empty axis: shape {probs.shape}")
        if probs.shape[2] < 2:
            raise ValidationError("a label space needs at least 2 labels")
        if not np.all(np.isfinite(probs)) or np.any(probs < 0) or np.any(probs > 1):
            bad = tuple(int(i) for i in np.argwhere(~np.isfinite(probs) | (probs < 0) | (probs > 1))[0])
            raise ValidationError(f"probabilities must lie in [0, 1]; probs{bad} = {float(probs[bad])!r}")
        sums = probs.sum(axis=2)
        if np.any(np.abs(sums - 1) > _NORM_TOL):
            h, z = np.argwhere(np.abs(sums - 1) > _NORM_TOL)[0]
            raise ValidationError(f"P(. | z={z}, h={h}) sums to {sums[h, z]:.6g}, not 1")
        probs = probs / sums[..., None]
        probs.setflags(write=False)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "hypothesis_names", _names(self.hypothesis_names, probs.shape[0], "hypothesis"))
        object.__setattr__(self, "label_names", _names(self.label_names, probs.shape[2], "label"))

    @property
    def n_hypotheses(self) -> int:
        return self.probs.shape[0]

    @property
    def n_contexts(self) -> int:
        return self.probs.shape[1]

    @property
    def n_labels(self) -> int:
        return self.probs.shape[2]

    @property
    def log_probs(self) -> NDArray[np.float64]:
        """``log P(y | z, h)``, shape ``(H, Z, K)`` (``-inf`` where the probability is 0)."""
        with np.errstate(divide="ignore"):
            return np.log(self.probs)

    def index(self, name: str) -> int:
        """Position of the hypothesis called ``name``."""
        try:
            return self.hypothesis_names.index(name)
        except ValueError:
            raise KeyError(f"no hypothesis named {name!r}") from None

    def subset(self, hypotheses: ArrayLike) -> HypothesisSpace:
        """The space restricted to some hypotheses (indices or a boolean mask)."""
        idx = np.atleast_1d(np.asarray(hypotheses))
        if idx.dtype == bool:
            if idx.shape != (self.n_hypotheses,):
                raise ValidationError(f"hypotheses mask has shape {idx.shape}, need ({self.n_hypotheses},)", "hypotheses")
            idx = np.flatnonzero(idx)
        idx = as_index_array(idx, "hypotheses", self.n_hypotheses, what="hypothesis", allow_empty=False)
        return HypothesisSpace(
            self.probs[idx], tuple(self.hypothesis_names[i] for i in idx), self.label_names
        )


def _as_log_prior(n: int, prior, log_prior) -> NDArray[np.float64]:
    if prior is not None and log_prior is not None:
        raise ValidationError("give prior or log_prior, not both")
    if prior is None and log_prior is None:
        return np.full(n, -np.log(n))
    if prior is not None:
        p = as_float_array(prior, "prior", allow_empty=True)
        if p.shape != (n,):
            raise ValidationError(f"prior must have shape ({n},), got {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0) or np.any(p > 1):
            raise ValidationError("prior probabilities must lie in [0, 1]")
        if abs(p.sum() - 1) > _NORM_TOL:
            raise ValidationError(f"prior sums to {p.sum():.6g}, not 1")
        with np.errstate(divide="ignore"):
            lp = np.log(p)
    else:
        lp = as_float_array(log_prior, "log_prior", allow_empty=True)
        if lp.shape != (n,):
            raise ValidationError(f"log_prior must have shape ({n},), got {lp.shape}")
        check_log_weights(lp, "log_prior")
        total = logsumexp(lp)
        if abs(total) > _NORM_TOL:
            raise ValidationError(f"log_prior does not normalize: logsumexp = {total:.6g}, not 0")
    return lp - logsumexp(lp)


@dataclass(frozen=True, eq=False)
class Model:
    """A prior over a :class:`HypothesisSpace`; its predictive is ``P(y | z) = sum_h P(h) P(y | z, h)``.

    Parameters
    ----------
    space : HypothesisSpace
    prior : array_like (H,), optional
        Probabilities; must sum to 1.
    log_prior : array_like (H,), optional
        Log-probabilities; must logsumexp to 0. Uniform when neither is given.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]), prior=[0.5, 0.5])
    >>> weak.predictive()                # the mixture: a fair coin
    array([[0.5, 0.5]])
    """

    space: HypothesisSpace
    prior: NDArray[np.float64] | None = None
    log_prior: NDArray[np.float64] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.space, HypothesisSpace):
            raise TypeError("space must be a HypothesisSpace")
        lp = _as_log_prior(self.space.n_hypotheses, self.prior, self.log_prior)
        lp.setflags(write=False)
        object.__setattr__(self, "log_prior", lp)
        object.__setattr__(self, "prior", np.exp(lp))

    def with_log_prior(self, log_prior: ArrayLike) -> Model:
        """The same space with another (normalized) log prior, e.g. a posterior."""
        return Model(self.space, log_prior=log_prior)

    def predictive(self) -> NDArray[np.float64]:
        """``P(y | z) = sum_h P(h) P(y | z, h)``, shape ``(n_contexts, n_labels)``."""
        return np.einsum("h,hzk->zk", self.prior, self.space.probs)


@dataclass(frozen=True)
class ContainmentReport:
    """Does a strong model contain a weak one — its hypotheses, and its mixture?

    "S contains W" (every weak hypothesis has a strong one with the same conditionals
    ``P(y | z, h_s) = P(y | z, h_w)``) does not make the weak *predictive* (a mixture)
    representable: ``contains_all`` and ``represents_mixture`` answer the two questions.

    Attributes
    ----------
    matches : tuple[int | None, ...]
        For each weak hypothesis, a strong hypothesis with the same conditionals
        ``P(y|z,h_s) = P(y|z,h_w)`` for all z, y (within ``atol``), or None.
    unmatched : tuple[str, ...]
        Names of weak hypotheses without such a match.
    mixture_match : int | None
        A strong hypothesis reproducing the weak *predictive* ``P_W(y|z)``, or None.

    Examples
    --------
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))
    >>> strong_a = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95], [0.7, 0.3]]))
    >>> report = bw.containment(strong_a, weak)
    >>> report.contains_all, report.represents_mixture
    (True, False)
    """

    matches: tuple[int | None, ...]
    unmatched: tuple[str, ...]
    mixture_match: int | None

    @property
    def contains_all(self) -> bool:
        return not self.unmatched

    @property
    def represents_mixture(self) -> bool:
        return self.mixture_match is not None

    def __str__(self) -> str:
        yes = {True: "yes", False: "no"}
        text = (
            f"contains every weak hypothesis: {yes[self.contains_all]}; "
            f"represents the weak mixture: {yes[self.represents_mixture]}"
        )
        if self.unmatched:
            text += f" (unmatched: {', '.join(self.unmatched)})"
        return text


def containment(strong: Model, weak: Model, *, atol: float = 1e-9) -> ContainmentReport:
    """Match weak hypotheses, and the weak predictive, against strong hypotheses.

    Both models must share contexts and labels. A weak hypothesis ``w`` is matched by
    ``s = argmin_s max_{z,y} |P(y|z,s) - P(y|z,w)|`` when that distance is ``<= atol``.

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))
    >>> bias = np.linspace(0.05, 0.95, 19)               # a grid of coins, 0.5 included
    >>> print(bw.containment(bw.Model(bw.HypothesisSpace(np.stack([bias, 1 - bias], 1))), weak))
    contains every weak hypothesis: yes; represents the weak mixture: yes
    """
    if not isinstance(strong, Model) or not isinstance(weak, Model):
        raise TypeError(f"strong and weak must be Models, got {type(strong).__name__}, {type(weak).__name__}")
    if not (np.isfinite(atol) and atol >= 0):
        raise ValidationError(f"atol must be a finite number >= 0, got {atol!r}", "atol")
    if strong.space.probs.shape[1:] != weak.space.probs.shape[1:]:
        raise ValidationError(
            "strong and weak spaces must share contexts and labels: "
            f"{strong.space.probs.shape[1:]} vs {weak.space.probs.shape[1:]}"
        )
    s = strong.space.probs
    dist = np.abs(s[None] - weak.space.probs[:, None]).max(axis=(2, 3))  # (W, S)
    best = dist.argmin(axis=1)
    matches = tuple(int(b) if dist[i, b] <= atol else None for i, b in enumerate(best))
    unmatched = tuple(n for n, m in zip(weak.space.hypothesis_names, matches) if m is None)
    mix_dist = np.abs(s - weak.predictive()[None]).max(axis=(1, 2))  # (S,)
    j = int(mix_dist.argmin())
    return ContainmentReport(matches, unmatched, j if mix_dist[j] <= atol else None)

"""Weak labels sampled from a model.

* ``per-token``: every label independently from the predictive ``P(y | z)`` — the essay's
  case: a 50/50 mixture of all-heads and all-tails emits a fair-looking coin.
* ``per-sequence``: one hypothesis ``h ~ prior`` per sequence, then every label from
  ``P(y | z, h)``.

Both are seeded through a :class:`numpy.random.Generator`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bayes_w2s.core.hypotheses import Model
from bayes_w2s.core.validation import ValidationError, as_count, as_index_array, as_prob_vector

__all__ = ["MODES", "sample_labels", "label_sampler"]

MODES = ("per-token", "per-sequence")


def _inverse_cdf(cdf: NDArray[np.float64], u: NDArray[np.float64]) -> NDArray[np.int64]:
    """Label index with ``cdf[..., k-1] <= u < cdf[..., k]``; ``cdf (..., K)``, ``u (...)``."""
    return np.minimum((u[..., None] >= cdf[..., :-1]).sum(axis=-1), cdf.shape[-1] - 1)


def _check(model: Model, mode: str, rng) -> None:
    if not isinstance(model, Model):
        raise TypeError(f"model must be a bayes_w2s.Model, got {type(model).__name__}")
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (np.random.default_rng(seed)), got {type(rng).__name__}")
    if mode not in MODES:
        raise ValidationError(f"unknown sampling mode {mode!r}; known: {', '.join(MODES)}", "mode")


def label_sampler(
    model: Model,
    rng: np.random.Generator,
    n_replicates: int,
    *,
    mode: str = "per-token",
    context_probs: ArrayLike | None = None,
) -> Callable[[int], tuple[NDArray[np.int64], NDArray[np.int64]]]:
    """A function ``draw(n) -> (contexts, labels)``, each ``(n_replicates, n)``.

    Successive calls continue the same streams (one per replicate). Contexts are drawn
    from ``context_probs`` (uniform by default; a single context needs no draw).

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))
    >>> draw = bw.label_sampler(weak, np.random.default_rng(0), n_replicates=3)
    >>> contexts, labels = draw(100)          # the next 100 labels of each of 3 streams
    >>> contexts.shape, labels.shape
    ((3, 100), (3, 100))
    """
    _check(model, mode, rng)
    n_replicates = as_count(n_replicates, "n_replicates")
    space = model.space
    mu = None
    if context_probs is not None:
        mu = as_prob_vector(context_probs, "context_probs", size=space.n_contexts)
    if space.n_contexts > 1 and mu is None:
        mu = np.full(space.n_contexts, 1 / space.n_contexts)
    if space.n_contexts == 1:
        mu = None
    if mode == "per-token":
        cdf = np.cumsum(model.predictive(), axis=-1)[None]  # (1, Z, K)
    else:
        picks = rng.choice(space.n_hypotheses, size=n_replicates, p=model.prior)  # (R,)
        cdf = np.cumsum(space.probs[picks], axis=-1)  # (R, Z, K)

    def draw(n: int):
        n = as_count(n, "n", minimum=0)
        if mu is None:
            z = np.zeros((n_replicates, n), dtype=np.int64)
        else:
            z = rng.choice(space.n_contexts, size=(n_replicates, n), p=mu)
        rows = np.arange(cdf.shape[0])[:, None] if cdf.shape[0] > 1 else 0
        y = _inverse_cdf(cdf[rows, z], rng.random((n_replicates, n)))
        return z, y

    return draw


def sample_labels(
    model: Model, contexts: ArrayLike, rng: np.random.Generator, *, mode: str = "per-token"
) -> NDArray[np.int64]:
    """Weak labels for the given contexts, drawn from a model.

    ``mode="per-token"``: every label independently from the predictive
    ``P(y | z) = sum_h P(h) P(y | z, h)`` (a 50/50 mixture of all-heads and all-tails emits a
    fair-looking coin); ``mode="per-sequence"``: one ``h ~ prior`` for the sequence, then
    ``y_i ~ P(y | z_i, h)``.

    Parameters
    ----------
    model : Model
    contexts : (n,) int array, or int
        Context indices; for a one-context space an int ``n`` draws ``n`` labels.
    rng : numpy.random.Generator
    mode : {"per-token", "per-sequence"}

    Returns
    -------
    (n,) int64 array of label indices.

    Examples
    --------
    >>> import numpy as np
    >>> import bayes_w2s as bw
    >>> weak = bw.Model(bw.HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))   # 50/50 over two coins
    >>> labels = bw.sample_labels(weak, 10_000, np.random.default_rng(0))
    >>> round(float(labels.mean()), 2)                                     # looks like a fair coin
    0.5
    """
    _check(model, mode, rng)
    if isinstance(contexts, (int, np.integer)) and not isinstance(contexts, bool):  # n draws, one context
        if model.space.n_contexts != 1:
            raise ValidationError(f"an int n of draws needs a one-context space, this one has "
                                  f"{model.space.n_contexts} contexts: pass context indices", "contexts")
        contexts = np.zeros(as_count(contexts, "contexts", minimum=0), dtype=np.int64)
    z = as_index_array(contexts, "contexts", model.space.n_contexts, what="context")
    if mode == "per-token":
        cdf = np.cumsum(model.predictive(), axis=-1)[z]  # (n, K)
    else:
        h = rng.choice(model.space.n_hypotheses, p=model.prior)
        cdf = np.cumsum(model.space.probs[h], axis=-1)[z]
    return _inverse_cdf(cdf, rng.random(z.shape))

"""The products of the data alone that a linear head's certificate needs (:mod:`.certificate_linear`).

For standardized training rows ``x~ (N, D)`` and held-out rows ``x~' (m, D)``, with
``u = (x~, 1)`` and ``u~ = (x~', 1)``: the Gram matrix ``K = u u^T`` enters the bounds only
through ``|K|`` (and forms ``a^T K b = (u^T a) . (u^T b)``, which need no ``N x N`` matrix),
the held-out products through ``|u~ u^T|``. Every head trained on the same rows shares them;
computing them (two float64 products of ``N x N x D`` and ``m x N x D``) is most of a
certificate's fixed cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["LinearGrams", "augment", "grams_for", "linear_grams"]


@dataclass(frozen=True, eq=False)
class LinearGrams:
    """The products of the data alone that a certificate needs, shared by every head trained
    on the same standardized rows: ``u = (x~, 1) (N, D+1)``, ``K = u u^T`` and ``|K|``
    ``(N, N)``, and for held-out inputs ``u~ (m, D+1)`` and ``|u~ u^T| (m, N)``. Computing them
    is most of a certificate's cost (two ``N x N x D`` products); :func:`linear_grams`.
    (``K`` itself is never stored: a form ``a^T K b`` is ``(u^T a) . (u^T b)``.)"""

    u: np.ndarray
    gram_abs: np.ndarray
    heldout_u: np.ndarray | None = None
    heldout_abs: np.ndarray | None = None

    @cached_property
    def norms(self) -> np.ndarray:
        """``||u_i||`` ``(N,)``."""
        return np.sqrt((self.u * self.u).sum(1))


def linear_grams(features: np.ndarray, heldout: np.ndarray | None = None) -> LinearGrams:
    """:class:`LinearGrams` of standardized training ``features (N, D)`` and ``heldout (m, D)``."""
    import torch  # float64 products through torch's BLAS: ~2x numpy's here, same precision

    u = augment(features)
    tu = torch.from_numpy(u)
    gram = (tu @ tu.T).abs_().numpy()
    uh = kh = None
    if heldout is not None:
        uh = augment(heldout)
        if uh.shape[1] != u.shape[1]:
            raise ValueError(f"heldout has {uh.shape[1] - 1} features, training {u.shape[1] - 1}")
        kh = (torch.from_numpy(uh) @ tu.T).abs_().numpy()
    return LinearGrams(u, gram, uh, kh)


def grams_for(features, heldout, grams: LinearGrams | None) -> LinearGrams:
    """``grams`` if it was computed from these very inputs (checked, O(N D)), else fresh."""
    if grams is None:
        return linear_grams(features, heldout)
    x = np.asarray(features, float)
    same = grams.u.shape == (*x.shape[:1], x.shape[1] + 1) and np.array_equal(grams.u[:, :-1], x)
    if heldout is not None:
        h = np.asarray(heldout, float)
        same = same and grams.heldout_u is not None and grams.heldout_u.shape[0] == len(h)
        same = same and np.array_equal(grams.heldout_u[:, :-1], h)
    if not same:
        raise ValueError("grams were computed from other features or held-out inputs")
    return grams


def augment(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, float)
    if x.ndim != 2:
        raise ValueError(f"features must be (n, D), got shape {x.shape}")
    return np.hstack([x, np.ones((len(x), 1))])  # (n, D+1)

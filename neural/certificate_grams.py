"""The products of the data alone that a linear head's certificate needs (:mod:`.certificate_linear`).

For standardized training rows ``x~ (N, D)`` and held-out rows ``x~' (m, D)``, with
``u = (x~, 1)`` and ``u~ = (x~', 1)``: the Gram matrix ``K = u u^T`` enters the bounds only
through ``|K|`` (and forms ``a^T K b = (u^T a) . (u^T b)``, which need no ``N x N`` matrix),
the held-out products through ``|u~ u^T|``, always multiplied by non-negative vectors. So an
entrywise *upper bound* of ``|K|`` serves as well as ``|K|`` itself, and it is stored in
float32: computing it (two ``N x N x D`` and ``m x N x D`` products, most of a certificate's
fixed cost) takes half the time and memory of float64.

The float32 bound. With ``n = D + 1`` terms per product, unit roundoff ``e = 2^-24`` and
``g = (n + 3) e / (1 - (n + 3) e)``: rounding the inputs to float32 (exact for the float32
features a head's forward sees) and summing in float32 in any order (with or without FMA)
leave ``|fl(K_ij) - K_ij| <= g sum_k |u_ik| |u_jk| <= g ||u_i|| ||u_j||`` (Higham, *Accuracy
and Stability of Numerical Algorithms*, 2nd ed., eq. 3.5, with the input rounding folded
in; Cauchy-Schwarz), as long as nothing overflows and subnormal inputs and underflowing
products (errors of at most ``2^-150`` each, absolute) stay below the spare ``e ||u_i||
||u_j||`` in ``g``: rows of norm >= 1 and entries up to ``2^50`` (:func:`abs_products_bound`
checks; elsewhere it falls back to float64). The stored entry is ``fl((1 + 2^-20) (|fl(K_ij)|
+ g ||u_i|| ||u_j||))``, one pass: the factor covers the float32 roundings of the norms, ``g``
and that sum (about 8 of relative ``e``), so the stored value is ``>= |K_ij|``. The
certificate is looser by about ``g ||u_i|| ||u_j|| / |K_ij|`` (``g`` = 2.3e-5 at D = 384:
1.3-1.6e-4 relative in the default compare's distance bounds, 3.2e-4 in its KL bounds; at
D = 768, 2.8e-4 and 7.2e-4), never smaller.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

__all__ = ["LinearGrams", "abs_products_bound", "augment", "bound_times", "grams_for", "linear_grams"]


@dataclass(frozen=True, eq=False)
class LinearGrams:
    """The products of the data alone that a certificate needs, shared by every head trained
    on the same standardized rows: ``u = (x~, 1) (N, D+1)`` (float64), an entrywise upper
    bound of ``|K|`` ``(N, N)`` (``K = u u^T``; float32, module docstring), and for held-out
    inputs ``u~ (m, D+1)`` and an upper bound of ``|u~ u^T| (m, N)`` (float32). Computing them
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
    u = augment(features)
    uh = None
    if heldout is not None:
        uh = augment(heldout)
        if uh.shape[1] != u.shape[1]:
            raise ValueError(f"heldout has {uh.shape[1] - 1} features, training {u.shape[1] - 1}")
    kh = abs_products_bound(uh, u) if uh is not None else None
    return LinearGrams(u, abs_products_bound(u, u), uh, kh)


def abs_products_bound(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """An entrywise upper bound of ``|a b^T|`` ``(len(a), len(b))``: in float32, from one
    float32 product, ``fl((1 + 2^-20) (|fl(a b^T)| + g ||a_i|| ||b_j||))`` (module docstring),
    where that error model holds: every row of norm >= 1 (augmented rows ``(x~, 1)`` are), every
    entry finite and at most ``2^50`` in size (no float32 overflow), ``n <= 2^20``. The norms
    >= 1 make the input rounding of subnormal entries and products that underflow (at most
    ``2^-150`` each) negligible next to the spare ``2^-24 ||a_i|| ||b_j||`` in ``g``. Outside
    that domain: ``|a b^T|`` in float64, as it was before the float32 bound."""
    import torch  # float32 products through torch's BLAS (2 threads here)

    n = a.shape[1]
    na, nb = np.sqrt((a * a).sum(1)), np.sqrt((b * b).sum(1))
    top = 2.0 ** 50
    if not (n <= 2 ** 20 and a.size and b.size and na.min() >= 1 and nb.min() >= 1
            and np.abs(a).max() <= top and np.abs(b).max() <= top):  # NaN fails these too
        return np.abs(a @ b.T)
    e = 2.0 ** -24
    g = (n + 3) * e / (1 - (n + 3) * e)
    c = 1.0 + 2.0 ** -20  # covers the float32 roundings below (norms, g, products, sums: ~8 e)
    ta, tb = torch.from_numpy(a).float(), torch.from_numpy(b).float()
    out = (ta @ tb.T).abs_()
    out.addr_(torch.from_numpy(na).float(), torch.from_numpy(nb).float(),
              beta=c, alpha=g * c)  # c (|fl(a b^T)| + g ||a_i|| ||b_j||)
    return out.numpy()


def bound_times(bound: np.ndarray, v: np.ndarray, block: int = 32) -> np.ndarray:
    """``bound @ v.T`` ``(R, H)`` in float64 for a float32 ``bound (R, N)`` and ``v (H, N)``,
    ``bound`` read in row blocks of ``block`` converted to float64 in cache (no float64 copy
    of the whole matrix). Small blocks: the product is memory-bound for small ``H``, and a
    block this size stays under OpenBLAS's threading threshold (measured on 2 cores under
    load: 8 ms at 32 rows, 30-400 ms at 64-512, 10-70 ms for ``v @ bound`` in float64)."""
    v = np.asarray(v, np.float64)
    out = np.empty((bound.shape[0], v.shape[0]))
    for i in range(0, bound.shape[0], block):
        out[i : i + block] = bound[i : i + block].astype(np.float64) @ v.T
    return out


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

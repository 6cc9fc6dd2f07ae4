"""Strong-on-weak projection and the misfit decomposition (squared loss).

Setting of Charikar, Pabbaraju & Shiragur (2024). Functions are compared in the empirical
``L2`` norm of a pool ``x_1..x_n``: ``||f||^2 = (1/n) sum_i f(x_i)^2``. The strong class is
a set of linear heads on fixed features ``Phi (n, d)``,

* a **subspace**: ``S = {Phi w : w in R^d}``;
* a **convex set**: the ball ``B_R = {Phi w : ||w||_2 <= R}``.

Training the strong model on the weak model's predictions ``f_w`` by least squares on the
pool is the ``L2`` projection ``f_sw = argmin_{f in C} ||f - f_w||^2``. If the target ``f*``
lies in ``C``, the projection theorem gives ``<f* - f_sw, f_w - f_sw> <= 0`` (equality when
``C`` is a subspace), hence

    err(f_sw) <= err(f_w) - misfit,      err(f) = ||f - f*||^2,  misfit = ||f_sw - f_w||^2,

with equality (Pythagoras) for a subspace: the student's gain over its teacher is at least
(exactly, for a subspace) how much it disagrees with the teacher.

References
----------
M. Charikar, C. Pabbaraju, K. Shiragur. "Quantifying the Gain in Weak-to-Strong
Generalization." NeurIPS 2024, arXiv:2405.15116, Theorem 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

__all__ = [
    "LinearHeads",
    "MisfitDecomposition",
    "Projection",
    "misfit_decomposition",
    "project_ball",
    "project_subspace",
]


class Projection(NamedTuple):
    """Least-squares fit of targets by a linear head, i.e. an ``L2`` projection.

    Attributes
    ----------
    head : (d,)
        Head ``w``; for a rank-deficient ``Phi`` the minimum-norm one.
    fitted : (n,)
        ``Phi w``, the projection of the targets onto the class.
    multiplier : float
        Lagrange multiplier ``mu >= 0`` of the norm constraint in
        ``(Phi^T Phi + mu I) w = Phi^T y``; 0 for a subspace or an inactive constraint.
    """

    head: NDArray[np.float64]
    fitted: NDArray[np.float64]
    multiplier: float


class MisfitDecomposition(NamedTuple):
    """Errors of a weak predictor and of its strong-on-weak projection, in ``||.||^2``.

    Attributes
    ----------
    err_weak : float
        ``||f_w - f*||^2``.
    err_strong_on_weak : float
        ``||f_sw - f*||^2``.
    misfit : float
        ``||f_sw - f_w||^2``.
    gain : float
        ``err_weak - err_strong_on_weak``.
    residual : float
        ``gain - misfit = -2 <f* - f_sw, f_w - f_sw>``: 0 for a subspace, ``>= 0`` for a
        convex class containing ``f*`` (Charikar et al. 2024, Thm. 1).
    """

    err_weak: float
    err_strong_on_weak: float
    misfit: float
    gain: float
    residual: float


@dataclass(frozen=True)
class LinearHeads:
    """The class ``{Phi w}`` of linear heads on fixed features, with the thin SVD of ``Phi``.

    Factorizing once (``Phi = U diag(s) V^T``, singular values below
    ``max(n, d) * eps * s_max`` dropped) makes every further projection onto the subspace or a
    ball of heads cost ``O(n r)``.

    Attributes
    ----------
    u : (n, r)
    s : (r,)
    vt : (r, d)
    """

    u: NDArray[np.float64]
    s: NDArray[np.float64]
    vt: NDArray[np.float64]

    @classmethod
    def from_features(cls, features: ArrayLike) -> LinearHeads:
        """Factorize features ``Phi (n, d)`` on the pool."""
        phi = np.asarray(features, dtype=float)
        if phi.ndim != 2 or phi.shape[0] == 0 or not np.all(np.isfinite(phi)):
            raise ValueError(
                f"features must be a finite (n, d) array with n > 0, got shape {phi.shape}"
            )
        u, s, vt = np.linalg.svd(phi, full_matrices=False)
        keep = s > s.max(initial=0.0) * max(phi.shape) * np.finfo(float).eps
        return cls(u[:, keep], s[keep], vt[keep])

    def project(
        self, targets: ArrayLike, radius: float | None = None, *, rtol: float = 1e-13
    ) -> Projection:
        """``L2`` projection of ``targets (n,)`` onto the subspace (``radius=None``) or the ball.

        Subspace: ``w = V diag(1/s) U^T y`` (minimum-norm least squares), ``Phi w = U U^T y``.

        Ball ``||w|| <= R``: with ``c = U^T y`` the KKT conditions give the ridge head
        ``w(mu) = V diag(s / (s^2 + mu)) c``. If ``||w(0)|| <= R`` the constraint is inactive
        (``mu = 0``); otherwise ``mu > 0`` is the root of the secular equation
        ``||w(mu)|| = R``, decreasing in ``mu`` and bracketed by ``(0, ||Phi^T y|| / R]``,
        found with Brent's method to relative tolerance ``rtol`` (Golub & von Matt 1991).

        References
        ----------
        G. H. Golub, U. von Matt. "Quadratically constrained least squares and quadratic
        problems." Numerische Mathematik 59 (1991), 561-580.
        """
        y = np.asarray(targets, dtype=float)
        if y.shape != (self.u.shape[0],) or not np.all(np.isfinite(y)):
            raise ValueError(
                f"targets must be a finite ({self.u.shape[0]},) array, got shape {y.shape}"
            )
        c = self.u.T @ y  # (r,)

        def head(mu: float) -> NDArray[np.float64]:
            return self.vt.T @ (self.s * c / (self.s**2 + mu))

        w = head(0.0)
        if radius is None:
            return Projection(w, self.u @ c, 0.0)
        if not (np.isfinite(radius) and radius > 0):
            raise ValueError(f"radius must be a positive finite number, got {radius!r}")
        if np.linalg.norm(w) <= radius:
            return Projection(w, self.u @ c, 0.0)
        hi = np.linalg.norm(self.s * c) / radius  # ||w(mu)|| <= ||Phi^T y|| / mu
        mu = brentq(
            lambda m: np.linalg.norm(head(m)) - radius, 0.0, hi, xtol=1e-300, rtol=max(rtol, 4e-16)
        )
        w = head(mu)
        w *= min(1.0, radius / np.linalg.norm(w))  # land exactly in the ball
        return Projection(w, self.u @ (self.s * (self.vt @ w)), float(mu))


def project_subspace(features: ArrayLike, targets: ArrayLike) -> Projection:
    """Project ``targets (n,)`` onto the column span of ``features (n, d)`` (least squares).

    ``w = argmin_w ||Phi w - y||^2`` (minimum-norm solution); see :class:`LinearHeads`.
    """
    return LinearHeads.from_features(features).project(targets)


def project_ball(
    features: ArrayLike, targets: ArrayLike, radius: float, *, rtol: float = 1e-13
) -> Projection:
    """Project ``targets (n,)`` onto ``{Phi w : ||w||_2 <= radius}``; see :meth:`LinearHeads.project`."""
    return LinearHeads.from_features(features).project(targets, radius, rtol=rtol)


def misfit_decomposition(
    truth: ArrayLike, weak: ArrayLike, strong_on_weak: ArrayLike
) -> MisfitDecomposition:
    """Errors, misfit and gain of ``f_w`` and ``f_sw`` against ``f*`` on one pool.

    Parameters
    ----------
    truth, weak, strong_on_weak : (n,)
        ``f*(x_i)``, ``f_w(x_i)``, ``f_sw(x_i)``.

    Returns
    -------
    MisfitDecomposition
        With ``residual = err_w - err_sw - misfit`` computed from the three squared norms
        as stated (not from the inner product it equals), so it tests the identity itself.
    """
    f_star, f_w, f_sw = (np.asarray(a, dtype=float) for a in (truth, weak, strong_on_weak))
    if not (f_star.ndim == 1 and f_star.shape == f_w.shape == f_sw.shape and f_star.size):
        raise ValueError(
            f"need three non-empty (n,) arrays, got {f_star.shape}, {f_w.shape}, {f_sw.shape}"
        )
    err_w = float(np.mean((f_w - f_star) ** 2))
    err_sw = float(np.mean((f_sw - f_star) ** 2))
    misfit = float(np.mean((f_sw - f_w) ** 2))
    gain = err_w - err_sw
    return MisfitDecomposition(err_w, err_sw, misfit, gain, gain - misfit)

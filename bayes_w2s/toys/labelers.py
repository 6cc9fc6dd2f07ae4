"""Labelers of the classification world: deterministic maps ``h: z -> {0..K-1}`` stored as
label tables, their noisy hypotheses, and the classes used by the experiments.

A labeler with label noise ``eps`` is the hypothesis

    P(y | z, h) = 1 - eps          if h(z) = y
                = eps / (K - 1)    otherwise

(:func:`noisy_space`). Classes: :func:`halfspaces` (``[cos(theta) z_0 + sin(theta) z_1 > b]``,
the "grammatical" hypotheses), :func:`grid_labelers` (every labeling of a ``g x g`` grid of
cells: staircases), :func:`typo_labeler` (the truth with some cells flipped). The pool and the
pretrained prior around salient concepts live in :mod:`bayes_w2s.toys.worlds`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bayes_w2s.core.hypotheses import HypothesisSpace

__all__ = ["LabelerClass", "likelihood_values", "noisy_space", "halfspace_labels", "halfspaces",
           "grid_labelers", "typo_labeler"]

_MAX_GRID_BITS = 12


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True, eq=False)
class LabelerClass:
    """A finite class of deterministic labelers: ``labels[h, z]`` in ``{0, ..., K-1}``.

    Attributes
    ----------
    labels : (H, Z) int8
    names : tuple[str, ...]
    n_labels : int
        K.
    """

    labels: NDArray[np.int8]
    names: tuple[str, ...] = None  # type: ignore[assignment]
    n_labels: int = 2

    def __post_init__(self) -> None:
        labels = np.array(self.labels, dtype=np.int8, copy=True)
        if labels.ndim == 1:
            labels = labels[None, :]
        if labels.ndim != 2 or labels.size == 0:
            raise ValueError(f"labels must be a non-empty (n_labelers, n_contexts) table, got shape {labels.shape}")
        k = _check_count("n_labels", self.n_labels, 2)
        if labels.min() < 0 or labels.max() >= k:
            raise ValueError(f"labels must lie in [0, {k}), got values in [{labels.min()}, {labels.max()}]")
        names = tuple(f"h{i}" for i in range(labels.shape[0])) if self.names is None else tuple(map(str, self.names))
        if len(names) != labels.shape[0]:
            raise ValueError(f"got {len(names)} names for {labels.shape[0]} labelers")
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "n_labels", k)

    def __len__(self) -> int:
        return self.labels.shape[0]

    def union(self, other: LabelerClass) -> LabelerClass:
        """This class plus the labelers of ``other`` whose label tables are new."""
        if other.labels.shape[1] != self.labels.shape[1] or other.n_labels != self.n_labels:
            raise ValueError("classes to unite must share contexts and labels")
        known = {row.tobytes() for row in self.labels}
        keep = [i for i, row in enumerate(other.labels) if row.tobytes() not in known]
        return LabelerClass(
            np.concatenate([self.labels, other.labels[keep]]),
            self.names + tuple(other.names[i] for i in keep),
            self.n_labels,
        )

    def space(self, eps: float) -> HypothesisSpace:
        """The noisy hypotheses of this class; see :func:`noisy_space`."""
        return noisy_space(self, eps)


def likelihood_values(eps: float, n_labels: int = 2) -> tuple[float, float]:
    """``(P(y|z,h) if h(z) = y, P(y|z,h) otherwise) = (1 - eps, eps / (K - 1))``.

    ``eps`` must lie in ``(0, (K - 1) / K)``: the labeler's own label must stay the most
    likely, and ``eps > 0`` keeps every likelihood positive (no hypothesis is ever ruled
    out by a single label, so hard Bayes can move all the way to mimicry).
    """
    k = _check_count("n_labels", n_labels, 2)
    eps = float(eps)
    if not (0 < eps < (k - 1) / k):
        raise ValueError(f"label noise eps must lie in (0, {(k - 1) / k:g}) for K={k} labels, got {eps!r}")
    return 1.0 - eps, eps / (k - 1)


def noisy_space(cls: LabelerClass, eps: float) -> HypothesisSpace:
    """``P(y | z, h) = 1 - eps`` if ``h(z) = y`` else ``eps / (K - 1)``, shape ``(H, Z, K)``."""
    hit, miss = likelihood_values(eps, cls.n_labels)
    onehot = cls.labels[..., None] == np.arange(cls.n_labels)  # (H, Z, K)
    return HypothesisSpace(np.where(onehot, hit, miss), cls.names)


def halfspace_labels(points: ArrayLike, angles: ArrayLike, offsets: ArrayLike) -> NDArray[np.int8]:
    """Labels ``[cos(theta) z_0 + sin(theta) z_1 > b(theta, t)]`` of every (angle, offset) pair.

    The offset ``t`` in ``(-1, 1)`` places the boundary relative to the square's centre:
    ``b = c(theta) + t r(theta)`` with ``c = (cos + sin) / 2`` the projection of the centre and
    ``r = (|cos| + |sin|) / 2`` the half-range of projections of ``[0, 1]^2``, so ``t = 0``
    passes through ``(1/2, 1/2)`` and ``|t| < 1`` crosses the square.

    Returns
    -------
    (len(angles) * len(offsets), Z) int8, angle-major.
    """
    x = np.asarray(points, dtype=float)
    theta = np.atleast_1d(np.asarray(angles, dtype=float))
    t = np.atleast_1d(np.asarray(offsets, dtype=float))
    cos, sin = np.cos(theta), np.sin(theta)
    proj = x[:, 0, None] * cos + x[:, 1, None] * sin  # (Z, A)
    bias = (cos + sin)[:, None] / 2 + t[None, :] * (np.abs(cos) + np.abs(sin))[:, None] / 2  # (A, O)
    return (proj.T[:, None, :] > bias[..., None]).reshape(-1, x.shape[0]).astype(np.int8)


def halfspaces(points: ArrayLike, n_angles: int, n_offsets: int, *, phase: float = 0.0, spread: float = 0.8) -> LabelerClass:
    """Halfspaces on ``n_angles`` angles ``phase + 2 pi a / n_angles`` (radians) and offsets.

    Offsets are ``n_offsets`` points evenly spaced in ``[-spread, spread]`` (see
    :func:`halfspace_labels`). ``n_angles = 2`` gives thresholds on feature 0 (both
    orientations); ``n_angles = 4`` axis-aligned thresholds on either feature.
    """
    n_angles = _check_count("n_angles", n_angles)
    n_offsets = _check_count("n_offsets", n_offsets)
    if not 0 <= spread < 1:
        raise ValueError(f"offset spread must lie in [0, 1), got {spread!r}")
    angles = phase + 2 * np.pi * np.arange(n_angles) / n_angles
    offsets = np.linspace(-spread, spread, n_offsets) if n_offsets > 1 else np.zeros(1)
    names = [f"hs({np.degrees(a) % 360:.1f}deg,{t:+.2f})" for a in angles for t in offsets]
    return LabelerClass(halfspace_labels(points, angles, offsets), tuple(names))


def _cells(points: NDArray[np.float64], cells: int) -> NDArray[np.int64]:
    """Cell index ``row * cells + col`` of each point on a ``cells x cells`` grid of features 0, 1."""
    ij = np.clip(np.floor(points[:, :2] * cells).astype(np.int64), 0, cells - 1)
    return ij[:, 1] * cells + ij[:, 0]


def grid_labelers(points: ArrayLike, cells: int) -> LabelerClass:
    """Every labeling of a ``cells x cells`` grid over features 0 and 1 (``2^(cells^2)`` labelers).

    Limited to ``cells^2 <= 12`` so the class can be enumerated.
    """
    cells = _check_count("cells", cells)
    if cells * cells > _MAX_GRID_BITS:
        raise ValueError(f"a {cells}x{cells} grid has 2^{cells * cells} labelings; at most {_MAX_GRID_BITS} cells allowed")
    n_cells = cells * cells
    codes = np.arange(2**n_cells)
    cell_bits = (codes[:, None] >> np.arange(n_cells)) & 1  # (2^C, C)
    cell_of = _cells(np.asarray(points, float), cells)
    names = [f"grid{cells}:{c:0{n_cells}b}" for c in codes]
    return LabelerClass(cell_bits[:, cell_of].astype(np.int8), tuple(names))


def typo_labeler(
    points: ArrayLike,
    truth: ArrayLike,
    rate: float,
    rng: np.random.Generator,
    *,
    cells: int = 10,
    placement: str = "random",
    score: ArrayLike | None = None,
) -> NDArray[np.int8]:
    """The truth with systematic typos: labels flipped on ``round(rate * cells^2)`` grid cells.

    Parameters
    ----------
    points : (Z, d)
    truth : (Z,) binary labels
    rate : float in [0, 0.5)
        Fraction of the ``cells x cells`` cells whose labels are flipped.
    placement : {"random", "band"}
        ``random``: cells chosen uniformly (typos no halfspace produces); ``band``: the
        cells with the smallest positive ``score`` (e.g. the signed distance to the true
        boundary), i.e. a band along one side of the boundary — a shifted boundary,
        which a halfspace *can* produce.
    score : (Z,), required for ``band``
    """
    x = np.asarray(points, float)
    y = np.asarray(truth).astype(np.int8)
    if not 0 <= rate < 0.5:
        raise ValueError(f"typo rate must lie in [0, 0.5), got {rate!r}")
    if placement not in ("random", "band"):
        raise ValueError(f"unknown typo placement {placement!r}; known: random, band")
    if y.shape != (x.shape[0],) or (y.size and (y.min() < 0 or y.max() > 1)):
        raise ValueError("truth must be binary labels, one per point")
    cells = _check_count("cells", cells)
    n_flip = int(round(rate * cells * cells))
    cell_of = _cells(x, cells)
    if placement == "random":
        flipped = rng.choice(cells * cells, size=n_flip, replace=False)
    else:
        if score is None:
            raise ValueError("band typos need score=(Z,) (signed distance to the boundary)")
        centres = (np.stack(np.meshgrid(np.arange(cells), np.arange(cells)), -1).reshape(-1, 2) + 0.5) / cells
        s = np.asarray(score, float)
        # score of a cell: mean score of its pool points (cells without points never flip)
        sums = np.bincount(cell_of, weights=s, minlength=cells * cells)
        counts = np.bincount(cell_of, minlength=cells * cells)
        cell_score = np.where(counts > 0, sums / np.maximum(counts, 1), np.inf)
        cell_score = np.where(cell_score > 0, cell_score, np.inf)
        flipped = np.argsort(cell_score + 1e-12 * centres[:, 0])[:n_flip]
    flip = np.isin(cell_of, flipped)
    return np.where(flip, 1 - y, y).astype(np.int8)

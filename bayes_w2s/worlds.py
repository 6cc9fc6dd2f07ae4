"""The classification world: a finite pool of inputs, labelers as label tables, noisy hypotheses.

Inputs ``z`` are points of a finite pool in ``[0, 1]^d`` (``d >= 2``), split into disjoint
roles: ``gt`` (the weak model's ground-truth training inputs), ``train`` (where weak labels
are drawn and the strong model is trained) and ``test`` (evaluation). A *labeler* is a
deterministic map ``h: z -> {0, ..., K-1}``, stored as its labels on every pool point; a
*class* stacks labelers as ``labels[h, z]``. A labeler with label noise ``eps`` is the
hypothesis

    P(y | z, h) = 1 - eps          if h(z) = y
                = eps / (K - 1)    otherwise,

so every likelihood takes one of two values; :func:`noisy_space` builds the
:class:`~bayes_w2s.hypotheses.HypothesisSpace`. Classes provided:

* :func:`halfspaces` — ``h(z) = [cos(theta) z_0 + sin(theta) z_1 > b]`` on a grid of angles
  and offsets; ``n_angles = 2`` gives thresholds on one feature, ``4`` axis-aligned
  thresholds on either feature. These are the "grammatical" (smooth) hypotheses.
* :func:`grid_labelers` — every labeling of a coarse ``g x g`` grid of cells: pixelated
  labelers, whose errors on an oblique boundary are staircases no halfspace produces.
* :func:`typo_labeler` — the truth with systematic "typos": the labels of some cells of a
  fine grid flipped (at random cells, or in a band along the boundary).

The strong model's "pretrained" prior (:func:`pretrained_log_prior`) puts mass near a few
*salient concepts* (the truth and distractors, :func:`random_concepts`):

    log pi(h) = -kappa * min_j rho(h, c_j) + const,    rho(a, b) = mean_z [a(z) != b(z)],

with concentration ``kappa`` (nats per unit disagreement rate): ``kappa = 0`` is uniform
over the class; large ``kappa`` makes the prior a mixture over the concepts. Weak labels
then have to *select* the truth among the concepts (elicitation) without dragging the
posterior to the weak model's errors (mimicry).

References
----------
Burns, C. et al. (2023). Weak-to-strong generalization. arXiv:2312.09390.
Lang, H., Sontag, D. & Vijayaraghavan, A. (2024). Theoretical analysis of weak-to-strong
generalization. arXiv:2405.16043 (errors the strong class cannot fit are corrected).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import logsumexp

from bayes_w2s.hypotheses import HypothesisSpace

__all__ = [
    "SPLITS",
    "Pool",
    "make_pool",
    "LabelerClass",
    "halfspace_labels",
    "halfspaces",
    "grid_labelers",
    "typo_labeler",
    "random_concepts",
    "noisy_space",
    "likelihood_values",
    "disagreement",
    "pretrained_log_prior",
    "World",
    "make_world",
]

SPLITS = ("gt", "train", "test")
_MAX_GRID_BITS = 12


@dataclass(frozen=True, eq=False)
class Pool:
    """A finite pool of inputs and its disjoint splits.

    Attributes
    ----------
    points : (Z, d) float
        Inputs in ``[0, 1]^d``; context ``z`` of every hypothesis space is row ``z``.
    splits : dict[str, (n_split,) int]
        Context indices of the ``gt``, ``train`` and ``test`` inputs (disjoint, in order).
    """

    points: NDArray[np.float64]
    splits: dict = field(default_factory=dict)

    @property
    def n_contexts(self) -> int:
        return self.points.shape[0]

    def __getitem__(self, split: str) -> NDArray[np.int64]:
        if split not in self.splits:
            raise KeyError(f"no split {split!r}; splits: {', '.join(self.splits)}")
        return self.splits[split]


def _check_count(name: str, value, minimum: int = 1) -> int:
    if isinstance(value, bool) or int(value) != value or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def make_pool(rng: np.random.Generator, *, n_gt: int, n_train: int, n_test: int, d: int = 2) -> Pool:
    """Uniform points in ``[0, 1]^d`` split into ``gt``, ``train`` and ``test`` (in that order)."""
    d = _check_count("d", d, 2)
    sizes = [_check_count(f"n_{s}", n, 1) for s, n in zip(SPLITS, (n_gt, n_train, n_test))]
    points = rng.random((sum(sizes), d))
    bounds = np.cumsum([0, *sizes])
    splits = {s: np.arange(bounds[i], bounds[i + 1]) for i, s in enumerate(SPLITS)}
    return Pool(points, splits)


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


def random_concepts(
    rng: np.random.Generator, n_distractors: int, *, max_offset: float = 0.6
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Angles (radians, uniform on the circle) and offsets (uniform in ±max_offset) of distractor halfspaces."""
    n = _check_count("n_distractors", n_distractors, 0)
    return rng.uniform(0, 2 * np.pi, n), rng.uniform(-max_offset, max_offset, n)


def disagreement(a: ArrayLike, b: ArrayLike, contexts: ArrayLike | None = None) -> NDArray[np.float64]:
    """``rho(a_i, b_j) = mean_z [a_i(z) != b_j(z)]`` over ``contexts`` (all by default); ``(A, B)``."""
    a = np.atleast_2d(np.asarray(a))
    b = np.atleast_2d(np.asarray(b))
    if contexts is not None:
        a, b = a[:, contexts], b[:, contexts]
    if a.shape[1] != b.shape[1] or a.shape[1] == 0:
        raise ValueError(f"label tables must share a non-empty context axis, got {a.shape} and {b.shape}")
    if a.max(initial=0) <= 1 and b.max(initial=0) <= 1:  # binary: one matrix product
        a, b = a.astype(np.float32), b.astype(np.float32)
        agree = a @ b.T + (1 - a) @ (1 - b).T
        return 1.0 - agree.astype(np.float64) / a.shape[1]
    return np.stack([(a != row).mean(axis=1) for row in b], axis=1)


def pretrained_log_prior(
    labels: ArrayLike, concepts: ArrayLike, kappa: float, *, contexts: ArrayLike | None = None,
    relative: bool = True,
) -> NDArray[np.float64]:
    """``log pi(h) = -kappa * min_j (rho(h, c_j) - rho_j) - log Z``: mass near the salient concepts.

    ``rho_j = min_h rho(h, c_j)`` (``relative=True``, the default) is how well the class can
    express concept j, so each concept's best approximant in the class gets the same top
    prior weight whether or not the concept lies exactly on the class's grid (otherwise a
    concept that happens to be on the grid would be favoured by ``kappa`` times the
    discretization error). ``relative=False`` uses ``rho(h, c_j)`` as is.

    Parameters
    ----------
    labels : (H, Z)
        The class (a :class:`LabelerClass`'s ``labels``).
    concepts : (J, Z)
        Labels of the salient concepts (need not belong to the class).
    kappa : float >= 0
        Concentration, in nats per unit of disagreement rate. A hypothesis that differs
        from its nearest concept on a fraction rho of the inputs has prior odds
        ``exp(-kappa rho)`` against an exact concept.
    contexts : optional indices where rho is measured (default: every context).
    """
    kappa = float(kappa)
    if not np.isfinite(kappa) or kappa < 0:
        raise ValueError(f"prior concentration kappa must be finite and >= 0, got {kappa!r}")
    rho = disagreement(labels, concepts, contexts)  # (H, J)
    if relative:
        rho = rho - rho.min(axis=0, keepdims=True)
    lp = -kappa * rho.min(axis=1)
    return lp - logsumexp(lp)


@dataclass(frozen=True, eq=False)
class World:
    """A pool, the true labeler and the salient concepts of the pretrained prior.

    Attributes
    ----------
    pool : Pool
    truth : (Z,) int8
        The ground-truth labels ``h*(z)``, a halfspace.
    concepts : (J, Z) int8
        Salient concepts: the distractor halfspaces and, unless the world was made with
        ``truth_in_prior=False``, the truth (row 0), or the truth rotated by
        ``prior_misspec_deg`` degrees (a prior that favours a concept *near* the truth).
    truth_angle : float
        The truth's angle in degrees.
    """

    pool: Pool
    truth: NDArray[np.int8]
    concepts: NDArray[np.int8]
    truth_angle: float = float("nan")

    def strong_prior(self, cls: LabelerClass, kappa: float) -> NDArray[np.float64]:
        """:func:`pretrained_log_prior` of a class around this world's concepts."""
        return pretrained_log_prior(cls.labels, self.concepts, kappa)

    def signed_distance(self, angle_deg: float, offset: float) -> NDArray[np.float64]:
        """Signed distance of every point to the halfspace boundary (positive: label 1)."""
        th = np.radians(angle_deg)
        c, s = np.cos(th), np.sin(th)
        x = self.pool.points
        return x[:, 0] * c + x[:, 1] * s - ((c + s) / 2 + offset * (abs(c) + abs(s)) / 2)


def make_world(
    rng: np.random.Generator,
    *,
    n_gt: int,
    n_train: int,
    n_test: int,
    truth_angle: float = 57.0,
    truth_offset: float = 0.0,
    n_distractors: int = 7,
    truth_in_prior: bool = True,
    prior_misspec_deg: float = 0.0,
    d: int = 2,
) -> World:
    """A pool (:func:`make_pool`), the truth halfspace at ``truth_angle`` degrees and concepts.

    The truth is ``[cos(a) z_0 + sin(a) z_1 > b]`` (see :func:`halfspace_labels`); the
    ``n_distractors`` distractor concepts are random halfspaces (:func:`random_concepts`).
    The pretrained prior's salient concepts hold the truth itself (``truth_in_prior=True``,
    ``prior_misspec_deg=0``: the favourable case, where the prior already knows the answer),
    the truth rotated by ``prior_misspec_deg`` degrees (a prior that is near but not on the
    truth), or no truth-like concept at all (``truth_in_prior=False``).
    """
    if not -1 < truth_offset < 1:
        raise ValueError(f"truth_offset must lie in (-1, 1) so the boundary crosses the square, got {truth_offset!r}")
    truth_angle = float(truth_angle)
    prior_misspec_deg = float(prior_misspec_deg)
    if not np.isfinite(truth_angle):
        raise ValueError(f"truth_angle must be a finite number of degrees, got {truth_angle!r}")
    if not np.isfinite(prior_misspec_deg):
        raise ValueError(f"prior_misspec_deg must be a finite number of degrees, got {prior_misspec_deg!r}")
    if not truth_in_prior and n_distractors < 1:
        raise ValueError("truth_in_prior=False needs n_distractors >= 1: the prior needs some concept")
    pool = make_pool(rng, n_gt=n_gt, n_train=n_train, n_test=n_test, d=d)
    truth = halfspace_labels(pool.points, [np.radians(truth_angle)], [truth_offset])[0]
    angles, offsets = random_concepts(rng, n_distractors)
    distract = [halfspace_labels(pool.points, [a], [o])[0] for a, o in zip(angles, offsets)]
    rows = list(distract)
    if truth_in_prior:
        near = halfspace_labels(pool.points, [np.radians(truth_angle + prior_misspec_deg)], [truth_offset])[0]
        rows.insert(0, near)
    concepts = np.stack(rows).astype(np.int8)
    return World(pool, truth, concepts, truth_angle)

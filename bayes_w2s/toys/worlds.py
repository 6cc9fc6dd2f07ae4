"""The classification world: a finite pool of inputs, labelers as label tables, noisy hypotheses.

Inputs ``z`` are points of a finite pool in ``[0, 1]^d`` (``d >= 2``), split into disjoint
roles: ``gt`` (the weak model's ground-truth training inputs), ``train`` (where weak labels
are drawn and the strong model is trained) and ``test`` (evaluation). A *labeler* is a
deterministic map ``h: z -> {0, ..., K-1}``, stored as its labels on every pool point; a
*class* stacks labelers as ``labels[h, z]``. A labeler with label noise ``eps`` is the
hypothesis

    P(y | z, h) = 1 - eps          if h(z) = y
                = eps / (K - 1)    otherwise,

so every likelihood takes one of two values (the labelers live in :mod:`bayes_w2s.toys.labelers`,
re-exported here); :func:`noisy_space` builds the
:class:`~bayes_w2s.core.hypotheses.HypothesisSpace`. Classes provided:

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

from bayes_w2s.toys.labelers import (  # re-exported: the world is built from them
    LabelerClass,
    _check_count,
    grid_labelers,
    halfspace_labels,
    halfspaces,
    likelihood_values,
    noisy_space,
    typo_labeler,
)

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


def make_pool(rng: np.random.Generator, *, n_gt: int, n_train: int, n_test: int, d: int = 2) -> Pool:
    """Uniform points in ``[0, 1]^d`` split into ``gt``, ``train`` and ``test`` (in that order)."""
    d = _check_count("d", d, 2)
    sizes = [_check_count(f"n_{s}", n, 1) for s, n in zip(SPLITS, (n_gt, n_train, n_test))]
    points = rng.random((sum(sizes), d))
    bounds = np.cumsum([0, *sizes])
    splits = {s: np.arange(bounds[i], bounds[i + 1]) for i, s in enumerate(SPLITS)}
    return Pool(points, splits)


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

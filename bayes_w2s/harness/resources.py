"""Up-front estimates of a run's memory and time, so impossible sizes are refused before work.

:func:`estimate` gives an order-of-magnitude ``(bytes, seconds)`` for one run of an
experiment from the sizes that drive it, and names the option that dominates. The models
are deliberately simple (the largest array held at once; the work of the inner loops times a
per-operation cost ``SECONDS_PER_OP`` measured on a 2-core CPU), so an estimate can be off by
a factor of a few, never by the many orders of magnitude that separate a typo such as
``--strong-angles 1e9`` from a real run. :func:`check_budget` refuses a run whose estimated
memory exceeds the machine's physical memory or whose time exceeds :data:`TIME_CAP_S`
(``$BAYES_W2S_TIME_CAP_S``), unless ``--force``.

Models (``B`` bytes, ``T`` seconds; ``c = SECONDS_PER_OP``):

* halfspace worlds: hypotheses ``H = strong_angles * strong_offsets``, pool ``Z = n_gt + n_train
  + n_test``; ``B = 64 H Z`` (a few ``(H, Z, 2)`` float64 tables); ``T = c replicates (N + 40 H Z)``.
* preference worlds (reward_model, deception): ``H = strong_angles``, pairs ``P``;
  ``B = 64 H P``; ``T = c replicates (N + 40 H P)``.
* coinflip: ``B = 32 replicates N + 64 grid_size replicates``; ``T = c replicates (N + 40 grid_size)``.
* misfit: ``B = 32 (n_pool (input_dim + strong_dim) + input_dim strong_dim)``;
  ``T = c n_replicates n_pool strong_dim (input_dim + strong_dim)``.
* a sweep: the per-cell estimate times the cells (time), plus 2 KB per planned cell (memory).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from bayes_w2s.harness.options import UsageError, flag

__all__ = ["Estimate", "estimate", "check_budget", "physical_memory", "TIME_CAP_S", "SECONDS_PER_OP",
           "CELL_BYTES"]

SECONDS_PER_OP = 2e-8
TIME_CAP_S = 24 * 3600.0
CELL_BYTES = 2048


@dataclasses.dataclass(frozen=True)
class Estimate:
    """Order-of-magnitude memory (bytes) and time (seconds) of a run; ``driver`` is the option
    that contributes most to it (as typed, e.g. ``--strong-angles``)."""

    bytes: float
    seconds: float
    driver: str


def physical_memory() -> float:
    """Physical memory of this machine in bytes (inf where unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return math.inf


def time_cap() -> float:
    text = os.environ.get("BAYES_W2S_TIME_CAP_S", "").strip()
    try:
        value = float(text) if text else TIME_CAP_S
    except ValueError:
        raise UsageError(f"BAYES_W2S_TIME_CAP_S must be seconds, got {text!r}") from None
    return value if value > 0 else TIME_CAP_S


def _size(value: Any) -> float:
    if isinstance(value, (tuple, list)):
        return float(max((_size(v) for v in value), default=0.0))
    if isinstance(value, bool):
        return 1.0
    return float(value) if isinstance(value, (int, float)) else 1.0


def _get(cfg: Any, name: str, default: float = 1.0) -> float:
    return _size(getattr(cfg, name, default))


def _n(cfg: Any) -> float:
    for name in ("n", "ns", "n_mid"):
        if hasattr(cfg, name):
            return _get(cfg, name)
    return 1.0


def _driver(cfg: Any, names: tuple[str, ...]) -> str:
    """The present field among ``names`` that grew most relative to its default."""
    default = type(cfg)()
    best, ratio = names[0], -1.0
    for name in names:
        if not hasattr(cfg, name):
            continue
        r = _get(cfg, name) / max(_get(default, name), 1e-300)
        if r > ratio:
            best, ratio = name, r
    return flag(best)


def estimate(experiment: str, cfg: Any) -> Estimate | None:
    """The :class:`Estimate` of one run, or None for experiments without a model."""
    c = SECONDS_PER_OP
    reps = _get(cfg, "replicates", _get(cfg, "n_replicates"))
    if experiment == "coinflip":
        n, g = _get(cfg, "n"), _get(cfg, "grid_size")
        return Estimate(32 * reps * n + 64 * g * reps, c * reps * (n + 40 * g),
                        _driver(cfg, ("n", "grid_size", "replicates")))
    if experiment == "misfit":
        pool, d_in, d_s = _get(cfg, "n_pool"), _get(cfg, "input_dim"), _get(cfg, "strong_dim")
        return Estimate(32 * (pool * (d_in + d_s) + d_in * d_s), c * reps * pool * d_s * (d_in + d_s),
                        _driver(cfg, ("input_dim", "strong_dim", "n_pool", "n_replicates")))
    if experiment in ("reward_model", "deception"):
        h = _get(cfg, "strong_angles") + _get(cfg, "n_distractors", 0) + _get(cfg, "n_deceptive", 0)
        pairs = _get(cfg, "n_train_pairs") + _get(cfg, "n_test_pairs")
        return Estimate(64 * h * pairs, c * reps * (_n(cfg) + 40 * h * pairs),
                        _driver(cfg, ("n", "strong_angles", "n_train_pairs", "n_test_pairs", "replicates")))
    if hasattr(cfg, "strong_angles") and hasattr(cfg, "n_train"):
        h = _get(cfg, "strong_angles") * _get(cfg, "strong_offsets", 21)
        z = _get(cfg, "n_gt", 0) + _get(cfg, "n_train") + _get(cfg, "n_test")
        return Estimate(64 * h * z, c * reps * (_n(cfg) + 40 * h * z),
                        _driver(cfg, ("strong_angles", "strong_offsets", "n", "ns", "n_train", "n_test",
                                      "replicates")))
    return None


def _human_bytes(b: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if b < 1024 or unit == "PB":
            return f"{b:.3g} {unit}"
        b /= 1024
    return f"{b:.3g} PB"  # pragma: no cover


def _human_seconds(s: float) -> str:
    for unit, size in (("years", 365 * 86400), ("days", 86400), ("hours", 3600), ("minutes", 60)):
        if s >= size:
            return f"{s / size:.3g} {unit}"
    return f"{s:.3g} s"


def check_budget(est: Estimate | None, *, force: bool = False, cells: int = 1, what: str = "this run") -> None:
    """Refuse (:class:`UsageError`) an estimate beyond the machine's memory or the time cap,
    naming the estimate and the option to change; ``force`` skips the check."""
    if force or est is None:
        return
    mem = est.bytes + CELL_BYTES * (cells - 1 if cells > 1 else 0)
    seconds = est.seconds * cells
    have = physical_memory()
    if mem > have:
        raise UsageError(f"{what} would need about {_human_bytes(mem)} of memory, more than this machine's "
                         f"{_human_bytes(have)}: lower {est.driver} (or pass --force to try anyway)")
    cap = time_cap()
    if seconds > cap:
        raise UsageError(f"{what} would take about {_human_seconds(seconds)}, above the cap of "
                         f"{_human_seconds(cap)}: lower {est.driver} (or pass --force; cap: $BAYES_W2S_TIME_CAP_S)")

"""Pieces shared by the classification-world experiments (see :mod:`bayes_w2s.toys.worlds`).

* :class:`WorldConfig` — the world's fields (pool sizes, truth, distractors, noise, how
  weak labels are drawn) with their checks; each experiment's ``Config`` extends it.
* :class:`RulesConfig` — adds the update rules compared: hard Bayes, tempered with a
  constant weight, virtual evidence (VE) with a constant strength, and VE with each of the
  ``;``-separated bounded schedules (``,`` already separates a schedule's parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bayes_w2s.core.schedules import make_schedule
from bayes_w2s.core.trajectory import Rule
from bayes_w2s.toys.w2s import LABEL_MODES
from bayes_w2s.toys.worlds import World, likelihood_values, make_world

from ._spread import spread

__all__ = ["WorldConfig", "RulesConfig", "split_specs", "parse_prior", "with_prior", "rules_for", "selected_rules", "label_contrast", "spread_stats"]


ANGLE_STREAM = 9_000_360
"""Seed tag of the truth-angle stream; experiments' own streams use small tags (1, 2, m, ...)."""


def parse_prior(name: str) -> tuple[float, bool]:
    """``"truth"`` -> (0, True); ``"absent"`` -> (nan, False); ``"25"`` -> (25.0, True): the
    truth-like concept of the prior rotated by that many degrees (see :func:`with_prior`)."""
    text = str(name).strip().lower()
    if text == "truth":
        return 0.0, True
    if text == "absent":
        return float("nan"), False
    try:
        deg = float(text)
    except ValueError:
        raise ValueError(f"prior must be 'truth', 'absent' or a rotation in degrees, got {name!r}") from None
    if not np.isfinite(deg):
        raise ValueError(f"prior rotation must be finite, got {name!r}")
    return deg, True


def with_prior(cfg: "WorldConfig", misspec_deg: float, truth_in_prior: bool) -> "WorldConfig":
    """A plain :class:`WorldConfig` with ``cfg``'s world fields and the given prior condition
    (same pool, truth, distractors per replicate: only the prior's truth-like concept changes)."""
    import dataclasses

    base = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(WorldConfig)}
    return WorldConfig(**{**base, "prior_misspec_deg": misspec_deg if truth_in_prior else 0.0,
                          "truth_in_prior": bool(truth_in_prior)})


def split_specs(text: str) -> tuple[str, ...]:
    """``"budget:budget=100;pseries:c=1,p=2"`` -> the schedule specs (``;`` separates them)."""
    return tuple(s.strip() for s in text.split(";") if s.strip())


@dataclass(frozen=True)
class WorldConfig:
    """Fields of the classification world shared by every experiment on it."""

    seed: int = 0
    replicates: int = 10
    n_gt: int = 60
    n_train: int = 400
    n_test: int = 1000
    strong_offsets: int = 21
    truth_angle: str = "random"
    truth_in_prior: bool = True
    prior_misspec_deg: float = 0.0
    n_distractors: int = 7
    eps_weak: float = 0.1
    eps_strong: float = 0.1
    weak_labels: str = "sample"

    def __post_init__(self) -> None:
        for name in ("replicates", "n_gt", "n_train", "n_test"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("eps_weak", "eps_strong"):
            likelihood_values(getattr(self, name))  # raises with the allowed range
        if self.weak_labels not in LABEL_MODES:
            raise ValueError(f"weak_labels must be one of {', '.join(LABEL_MODES)}, got {self.weak_labels!r}")
        if self.n_distractors < 0:
            raise ValueError(f"n_distractors must be >= 0, got {self.n_distractors!r}")
        self.fixed_truth_angle()  # raises on text that is neither "random" nor a number
        if not np.isfinite(float(self.prior_misspec_deg)):
            raise ValueError(f"prior_misspec_deg must be finite, got {self.prior_misspec_deg!r}")
        if not self.truth_in_prior and self.n_distractors < 1:
            raise ValueError("truth_in_prior=False needs n_distractors >= 1")

    def fixed_truth_angle(self) -> float | None:
        """The truth's angle in degrees, or None when it is drawn per world (``"random"``)."""
        if isinstance(self.truth_angle, str) and self.truth_angle.strip().lower() == "random":
            return None
        try:
            angle = float(self.truth_angle)
        except (TypeError, ValueError):
            raise ValueError(f"truth_angle must be 'random' or a number of degrees, got {self.truth_angle!r}") from None
        if not np.isfinite(angle):
            raise ValueError(f"truth_angle must be finite, got {self.truth_angle!r}")
        return angle

    def truth_angle_of(self, replicate: int) -> float:
        """Degrees: the fixed angle, or uniform on [0, 360) from
        ``default_rng([seed, replicate, ANGLE_STREAM])``, a stream apart from the world's own (so
        a fixed angle leaves the pool unchanged) and from the label streams the experiments key
        by small integers (``[seed, replicate, 1]`` etc.), so the angle is independent of the labels."""
        fixed = self.fixed_truth_angle()
        if fixed is not None:
            return fixed
        return float(np.random.default_rng([self.seed, replicate, ANGLE_STREAM]).uniform(0.0, 360.0))

    def world(self, replicate: int) -> World:
        """The independent world of one replicate, drawn from ``default_rng([seed, replicate])``
        (its truth angle from :meth:`truth_angle_of`)."""
        return make_world(
            np.random.default_rng([self.seed, replicate]),
            n_gt=self.n_gt, n_train=self.n_train, n_test=self.n_test,
            truth_angle=self.truth_angle_of(replicate), n_distractors=self.n_distractors,
            truth_in_prior=self.truth_in_prior, prior_misspec_deg=self.prior_misspec_deg,
        )


@dataclass(frozen=True)
class RulesConfig(WorldConfig):
    """A world plus the rules compared (see :func:`rules_for`)."""

    tempered_weight: float = 0.1
    ve_strength: float = 0.1
    bounded_schedules: str = "budget:budget=100"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tempered_weight <= 0 or self.ve_strength <= 0:
            raise ValueError("tempered_weight and ve_strength must be positive")
        for spec in split_specs(self.bounded_schedules):
            if not make_schedule(spec).bounded:
                raise ValueError(f"bounded_schedules: {spec!r} is not bounded")


def rules_for(cfg: RulesConfig) -> list[Rule]:
    """Hard Bayes, tempered constant, VE constant, and VE with each bounded schedule."""
    rules = [
        Rule("bayes", label="hard Bayes"),
        Rule("tempered", f"constant:value={cfg.tempered_weight}", label=f"tempered w={cfg.tempered_weight:g}"),
        Rule("ve", f"constant:value={cfg.ve_strength}", label=f"VE const log r={cfg.ve_strength:g}"),
    ]
    for spec in split_specs(cfg.bounded_schedules):
        rules.append(Rule("ve", spec, label=f"VE {make_schedule(spec).describe()}"))
    return rules


def selected_rules(cfg: RulesConfig, wanted: str) -> list[Rule]:
    """The rules of :func:`rules_for` whose labels are listed in ``wanted`` (``;``-separated)."""
    names = split_specs(wanted)
    known = [r.label for r in rules_for(cfg)]
    missing = [r for r in names if r not in known]
    if missing or not names:
        raise ValueError(f"rules {missing or wanted!r} not among the rules built from the config: {known}")
    return [r for r in rules_for(cfg) if r.label in names]


def label_contrast(cfg: WorldConfig) -> float:
    """How much more often a mimic of the weak model matches a weak label than the truth does,
    per weak error: ``1 - 2 eps_weak`` for sampled labels, 1 for argmax labels."""
    return 1.0 if cfg.weak_labels == "argmax" else 1 - 2 * cfg.eps_weak


def spread_stats(values) -> dict:
    """``{"mean", "median", "q10", "q90", "count"}`` of the finite values: :func:`._spread.spread`
    with its defined count as ``count`` (the column name the world experiments' tables use)."""
    s = spread(values)
    return {"mean": s["mean"], "median": s["median"], "q10": s["q10"], "q90": s["q90"], "count": s["n_defined"]}

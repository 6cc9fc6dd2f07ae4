"""The :class:`~bayes_w2s.harness.options.Option` of every experiment Config field.

``bayes-w2s run NAME`` and ``sweep NAME`` build one ``--field-name`` option per field of
``NAME.Config``; its meaning, kind and range come from here (:func:`field_option`): first a
field's own ``metadata["option"]``, then an entry for ``(experiment, field)`` in
:data:`PER_EXPERIMENT`, then the shared entry in :data:`SHARED`. The range is the one the
Config itself enforces for that field alone; constraints *between* fields (``n_weak_features <
n_features``) stay in the Config and are named in the meaning.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from bayes_w2s.harness.options import Option

__all__ = ["SHARED", "PER_EXPERIMENT", "field_option", "declared"]


def _schedule_spec(spec: str, *, bounded: bool = True) -> None:
    from bayes_w2s.core.schedules import make_schedule

    schedule = make_schedule(spec)
    if bounded and not schedule.bounded:
        raise ValueError(f"schedule {spec!r} is not bounded (its total influence grows without limit)")


def _schedule_list(text: str) -> None:
    specs = [s.strip() for s in text.split(";") if s.strip()]
    if not specs:
        raise ValueError("give at least one schedule spec")
    seen = set()
    for spec in specs:
        if spec in seen:
            raise ValueError(f"schedule {spec!r} is listed twice; give each schedule once")
        seen.add(spec)
        _schedule_spec(spec)


def _truth_angle(text: str) -> None:
    if text.lower() == "random":
        return
    try:
        angle = float(text)
    except ValueError:
        raise ValueError(f"must be 'random' or a number of degrees, got {text!r}") from None
    if not math.isfinite(angle):
        raise ValueError(f"must be 'random' or a finite number of degrees, got {text!r}")


def _priors(values: tuple) -> None:
    for name in values:
        if name.lower() in ("truth", "absent"):
            continue
        _truth_angle(name)


def _rule_labels(text: str) -> None:
    labels = [s.strip() for s in text.split(";") if s.strip()]
    if len(set(labels)) != len(labels):
        raise ValueError("a rule label is listed twice; give each rule once")


def _must_be_true(value: bool) -> None:
    if value is not True:
        raise ValueError("must be true here: this experiment sweeps the prior itself (--priors / --include-absent)")


def _i(meaning, low=None, **kw) -> Option:
    return Option(meaning, "int", low=low, **kw)


def _f(meaning, low=None, high=None, **kw) -> Option:
    return Option(meaning, "float", low=low, high=high, **kw)


COUNT = dict(low=1)
SHARED: dict[str, Option] = {
    "seed": _i("random seed (same config and seed, same table)", 0),
    "replicates": _i("independent worlds (repetitions) the results average over", 1),
    "n_replicates": _i("independent repetitions the results average over", 1),
    "n": _i("number of weak labels the strong model conditions on (largest N)", 1),
    "n_gt": _i("ground-truth labels the weak model is trained on", 1),
    "n_train": _i("pool inputs at which weak labels are drawn", 1),
    "n_test": _i("held-out test inputs", 1),
    "strong_offsets": _i("offsets per angle of the strong model's halfspaces", 1),
    "truth_angle": Option("angle of the true halfspace in degrees, or 'random' (drawn per world)",
                          check=_truth_angle, check_text="'random' or degrees"),
    "truth_in_prior": Option("whether the truth is among the prior's salient concepts", "bool"),
    "prior_misspec_deg": _f("rotation in degrees of the prior's truth-like concept away from the truth"),
    "n_distractors": _i("salient wrong concepts in the strong prior (at least 1 when the prior may lack the truth)", 0),
    "eps_weak": _f("label noise of the weak model's labelers", 0, 0.5, low_open=True, high_open=True),
    "eps_strong": _f("label noise of the strong model's labelers", 0, 0.5, low_open=True, high_open=True),
    "weak_labels": Option("how weak labels are drawn from the weak model", choices=("sample", "argmax")),
    "tempered_weight": _f("weight w of the constant tempered rule", 0, low_open=True),
    "ve_strength": _f("log r of the constant virtual-evidence rule", 0, low_open=True),
    "bounded_schedules": Option("bounded strength schedules compared, e.g. budget:budget=100;pseries:c=1,p=2",
                                check=_schedule_list, check_text="';'-separated bounded schedule specs, no repeats"),
    "bounded_schedule": Option("bounded strength schedule, e.g. pseries:c=1,p=2 or budget:budget=100",
                               check=_schedule_spec, check_text="a bounded schedule spec"),
    "rules": Option("rule labels to compare, ';'-separated (see the experiment's description)",
                    check=_rule_labels, check_text="no repeats"),
    "n_mid": _i("weak labels the intermediate model conditions on", 1),
    "per_decade": _i("checkpoints per decade of N on the log grid", 1),
    "grid_cells": _i("cells per side of the weak model's grid labelers", 1, high=3),
    "mid_angles": _i("angles of the intermediate model's halfspaces", 1),
    "mid_offsets": _i("offsets per angle of the intermediate model's halfspaces", 1),
    "mid_kappa": _f("concentration of the intermediate model's prior around its concept", 0),
    "strong_angles": _i("angles of the strong model's halfspaces", 1),
    "strong_kappa": _f("concentration of the strong prior around its salient concepts", 0),
    "kappa": _f("concentration of the strong prior around its salient concepts", 0),
    "budgets": _f("total virtual-evidence / tempering budgets B compared", 0, low_open=True, sequence=True,
                  distinct=True),
    "kappas": _f("prior concentrations compared", 0, sequence=True, distinct=True),
    "priors": Option("strong priors compared: 'truth', 'absent' or a rotation in degrees", sequence=True,
                     distinct=True, check=_priors),
    "epsilon": _f("bias of the two coins away from fair: heads probability 1 - epsilon or epsilon", 0, 0.5,
                  low_open=True, high_open=True),
    "grid_size": _i("points of the strong learner B's grid of coin biases", 3),
    "fair_band": _f("half-width of the band around 0.5 counted as 'fair coin' posterior mass", 0, 0.5,
                    low_open=True, high_open=True),
    "n_train_items": _i("items the training pairs are drawn from", 2),
    "n_test_items": _i("items the test pairs are drawn from", 2),
    "n_train_pairs": _i("training pairs", 1),
    "n_test_pairs": _i("test pairs", 1),
    "beta": _f("Bradley-Terry scale of the true utility (higher: less noisy preferences)", 0, low_open=True),
    "weak_cells": _i("cells per side of the weak model's grid utilities", 1),
    "weak_angles": _i("angles of the weak model's utilities", 1),
    "audited_fractions": _f("fractions of contexts audited with ground truth", 0, 1, low_open=True, sequence=True),
    "prior_deceptive": _f("prior mass on deceptive hypotheses", 0, 1, high_open=True, sequence=True),
    "audit": Option("which contexts are audited", choices=("confident", "random")),
    "label_region": Option("where weak labels are drawn", choices=("audited", "all")),
    "n_deceptive": _i("deceptive hypotheses in the strong space", 1),
    "flip_fraction": _f("fraction of unaudited contexts a deceptive hypothesis flips", 0, 1, low_open=True),
    "truth_in_space": Option("whether the true utility is in the strong hypothesis space", "bool"),
    "ns": _i("numbers of weak labels N compared", 1, sequence=True, distinct=True),
    "weak_offsets": _i("offsets per angle of the weak model's halfspaces", 1),
    "strong_kappas": _f("strong prior concentration per --strong-angles entry (same length)", 0, sequence=True),
    "n_pool": _i("unlabelled pool inputs", 1),
    "n_weak_train": _i("ground-truth examples the weak model is trained on", 1),
    "input_dim": _i("input dimension", 1),
    "strong_dim": _i("dimension of the strong model's feature space", 1),
    "weak_dims": _i("weak feature dimensions compared", 1, sequence=True),
    "radius_factors": _f("radii of the strong class relative to the smallest that holds the truth", 1,
                         sequence=True),
    "label_noise": _f("standard deviation of the label noise", 0),
    "misspec_degs": _f("rotations in degrees of the prior's truth-like concept compared", 0, sequence=True,
                       distinct=True),
    "include_absent": Option("also run a prior without the truth-like concept", "bool"),
    "min_gap": _f("smallest ceiling-minus-weak accuracy gap for which PGR is reported (else NaN)", 0, 1,
                  high_open=True),
    "n_features": _i("input features (more than --n-weak-features)", 2),
    "n_weak_features": _i("features the weak model sees (fewer than --n-features)", 1),
    "signal": _f("norm of the true coefficient vector", 0, low_open=True),
    "weak_share": _f("share of the signal's squared norm on the weak features", 0, 1, low_open=True,
                     high_open=True),
    "n_w2s": _i("weakly labelled examples the student is fitted on", 2),
    "prior_alignment": _f("cosine between the prior mean and the truth", -1, 1),
    "prior_scale": _f("norm of the prior mean", 0),
    "prior_sd": _f("prior standard deviation of each weight", 0, low_open=True),
    "intercept_sd": _f("prior standard deviation of the intercept", 0, low_open=True),
    "prob": _f("probability mass of the reported highest-density intervals", 0, 1, low_open=True,
               high_open=True),
    "draws": _i("posterior draws per chain", 1),
    "tune": _i("tuning steps per chain", 0),
    "chains": _i("MCMC chains", 1),
    "rates": _f("typo rates compared (share of grid cells whose labels are flipped)", 0, 0.5, high_open=True,
                sequence=True),
    "typo_cells": _i("cells per side of the typo grid", 2),
}

_WORLD_ABSENT = "(fixed at 0 here: this experiment sweeps the prior itself, see --priors / --misspec-degs)"
PER_EXPERIMENT: dict[tuple[str, str], dict[str, Any]] = {
    ("coinflip", "n"): dict(low=10, meaning="number of weak labels (coin flips) the strong models see"),
    ("coinflip", "tempered_weight"): dict(low_open=False),
    ("coinflip", "ve_strength"): dict(low_open=False),
    ("mimicry_limit", "n"): dict(low=10),
    ("typos", "n"): dict(low=10),
    ("bootstrap", "n_train"): dict(low=2, meaning="pool inputs at which weak labels are drawn (split in two halves)"),
    ("reward_model", "n_gt"): dict(low=2, meaning="ground-truth pairs' items the weak model is trained on"),
    ("deception", "n_gt"): dict(low=2, meaning="ground-truth pairs' items the weak model is trained on"),
    ("pymc_student", "n_weak_train"): dict(low=2),
    ("pymc_student", "n_test"): dict(low=2),
    ("pymc_student", "budgets"): dict(distinct=False),
    ("pymc_student", "rules"): dict(sequence=True, choices=("ve", "tempered"), check=None, check_text="",
                                    meaning="soft-evidence rules compared"),
    ("pymc_student", "bounded_schedule"): dict(choices=("budget", "confidence", "pseries"), check=None,
                                               check_text="", meaning="how the budget is spread over examples"),
    ("budget_tradeoff", "prior_misspec_deg"): dict(low=0, high=0, meaning="prior rotation " + _WORLD_ABSENT),
    ("misspecification", "prior_misspec_deg"): dict(low=0, high=0, meaning="prior rotation " + _WORLD_ABSENT),
    ("bootstrap", "ve_strength"): dict(meaning="log r of the constant virtual-evidence rule (its label in --rules "
                                            "names the value: change both)"),
    ("budget_tradeoff", "n_distractors"): dict(meaning="salient wrong concepts in the strong prior (at least 1 when "
                                                "--priors holds 'absent')"),
    ("misspecification", "n_distractors"): dict(meaning="salient wrong concepts in the strong prior (at least 1 "
                                                 "with --include-absent true)"),
    ("gap_sweep", "strong_kappas"): dict(meaning="strong prior concentration per --strong-angles entry (same length)"),
    ("budget_tradeoff", "truth_in_prior"): dict(check=_must_be_true, check_text="true here (see --priors)"),
    ("misspecification", "truth_in_prior"): dict(check=_must_be_true,
                                                 check_text="true here (see --include-absent)"),
    ("gap_sweep", "strong_angles"): dict(sequence=True, meaning="strong model sizes compared (angles of its "
                                         "halfspaces), one per --strong-kappas entry"),
    ("gap_sweep", "weak_angles"): dict(sequence=True, meaning="weak model sizes compared (angles of its halfspaces)"),
    ("neural_ladder", "n_weak_gt"): dict(low=0, meaning="ground-truth labels the weak model sees (0: all of its split)"),
    ("neural_ladder", "n_test"): dict(low=0, meaning="test examples (0: all that remain)"),
    ("neural_ladder", "lr"): dict(low=0, meaning="learning rate (0: the mode's default)"),
    ("neural_ladder", "epochs"): dict(low=0, meaning="training epochs (0: the mode's default)"),
    ("neural_ladder", "eval_every"): dict(kind="int", low=0,
                                          meaning="score a validation split every N steps and keep the best (0: never)"),
    ("neural_ladder", "max_length"): dict(kind="int", low=1, meaning="tokens per input"),
    ("neural_ladder", "n_weak_label"): dict(kind="int", low=1, meaning="examples the weak model labels"),
    ("neural_ladder", "models"): dict(kind="text", sequence=True, meaning="models in capability order",
                                      check=lambda models: [_neural_check("_check_model", m) for m in models]),
    ("neural_ladder", "dataset"): dict(kind="text", meaning="dataset spec, e.g. rotten_tomatoes:n=4500",
                                       check=lambda spec: _neural_check("_check_dataset", spec)),
    ("neural_ladder", "method"): dict(kind="text", meaning="student method, e.g. xent or ve+budget:budget=40",
                                      check=lambda spec: _neural_check("_check_methods", spec)),
    ("neural_ladder", "mode"): dict(kind="text", choices=("features", "probe", "finetune", "lora"),
                                    meaning="how the strong model is trained"),
}


def _neural_check(name: str, value) -> None:
    """The neural command line's check ``name`` (imports torch: only for neural fields)."""
    from bayes_w2s.neural import cli_options as neural_cli

    getattr(neural_cli, name)(value)


def _reward_modes() -> tuple[str, ...]:
    from bayes_w2s.core.labels import MODES

    return tuple(MODES)


def field_option(experiment: str, field: dataclasses.Field, default: Any) -> Option:
    """The Option of one Config field, with ``default`` filled in (see module docstring)."""
    own = field.metadata.get("option") if field.metadata else None
    if isinstance(own, Option):
        return dataclasses.replace(own, default=default)
    option = SHARED.get(field.name)
    override = dict(PER_EXPERIMENT.get((experiment, field.name), {}))
    if experiment == "reward_model" and field.name == "weak_labels":
        override = dict(choices=_reward_modes(), meaning="how the weak supervisor labels pairs")
    if option is None:
        option = _fallback(field, default)
    if override:
        option = dataclasses.replace(option, **override)
    return dataclasses.replace(option, default=default)


def declared(experiment: str, field_name: str) -> bool:
    """Whether a field has a declared Option (not the fallback)."""
    return field_name in SHARED or (experiment, field_name) in PER_EXPERIMENT


def _fallback(field: dataclasses.Field, default: Any) -> Option:
    """An Option from the default's type alone, for fields nobody declared yet."""
    sample = default[0] if isinstance(default, (tuple, list)) and default else default
    kind = {bool: "bool", int: "int", float: "float"}.get(type(sample), "text")
    meaning = (field.metadata or {}).get("help") or field.name.replace("_", " ")
    return Option(meaning, kind, sequence=isinstance(default, (tuple, list)))

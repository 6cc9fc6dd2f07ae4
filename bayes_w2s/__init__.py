"""bayes_w2s: weak-to-strong generalization seen through Bayes.

The core (this package) is numpy/scipy only. ``bayes_w2s.neural`` needs the ``neural``
extra (torch, transformers); ``bayes_w2s.ppl.pymc_models`` the ``pymc`` extra; plotting the
``plots`` extra.
"""

from bayes_w2s.core.asymptotics import BetaPosterior, KLProjection, beta_bernoulli_posterior, kl_projection
from bayes_w2s.core.hypotheses import ContainmentReport, HypothesisSpace, Model, containment
from bayes_w2s.core.labels import label_sampler, sample_labels
from bayes_w2s.core.metrics import (
    PGRUndefinedWarning,
    accuracy,
    agreement,
    influence_distance,
    kl_divergence,
    pgr,
    posterior_mass,
)
from bayes_w2s.core.schedules import (
    SCHEDULES,
    Budget,
    Coarsened,
    ConfidenceWeighted,
    Constant,
    Geometric,
    PSeries,
    Schedule,
    make_schedule,
)
from bayes_w2s.core.preferences import kendall_tau, pairwise_accuracy, preference_space
from bayes_w2s.core.trajectory import Rule, Trajectories, log_checkpoints, run_trajectories
from bayes_w2s.core.updates import (
    ImpossibleEvidenceError,
    UpdateResult,
    condition,
    hard_update,
    jeffrey_likelihood,
    jeffrey_update,
    normalize,
    observation_logliks,
    tempered_update,
    virtual_evidence_update,
    weak_label_loglik,
    weak_label_update,
)

from bayes_w2s.core.validation import ImpossiblePriorError, NumericalOverflowError, ValidationError

__version__ = "0.1.0"

__all__ = [
    "BetaPosterior", "KLProjection", "beta_bernoulli_posterior", "kl_projection",
    "ContainmentReport", "HypothesisSpace", "Model", "containment",
    "label_sampler", "sample_labels",
    "PGRUndefinedWarning", "accuracy", "agreement", "influence_distance", "kl_divergence",
    "pgr", "posterior_mass",
    "SCHEDULES", "Budget", "Coarsened", "ConfidenceWeighted", "Constant", "Geometric",
    "PSeries", "Schedule", "make_schedule",
    "Rule", "Trajectories", "log_checkpoints", "run_trajectories",
    "ImpossibleEvidenceError", "UpdateResult", "condition", "hard_update",
    "jeffrey_likelihood", "jeffrey_update", "normalize", "observation_logliks",
    "tempered_update", "virtual_evidence_update", "weak_label_loglik", "weak_label_update",
    "kendall_tau", "pairwise_accuracy", "preference_space",
    "ImpossiblePriorError", "NumericalOverflowError", "ValidationError",
]

"""The bad-input catalogue of the numerical core (issue 11).

Each case calls one public function with one bad argument and asserts the error class and
a fragment of the message (which must name the argument or the problem). No case may
return: in particular none may return NaN. The CLI cases live in the plumbing tests.
"""

import math

import numpy as np
import pytest

from bayes_w2s import (
    Budget,
    Coarsened,
    ConfidenceWeighted,
    Constant,
    Geometric,
    HypothesisSpace,
    Model,
    PSeries,
    Rule,
    accuracy,
    agreement,
    condition,
    containment,
    hard_update,
    influence_distance,
    jeffrey_likelihood,
    jeffrey_update,
    kl_divergence,
    label_sampler,
    log_checkpoints,
    make_schedule,
    normalize,
    observation_logliks,
    pgr,
    posterior_mass,
    run_trajectories,
    sample_labels,
    tempered_update,
    virtual_evidence_update,
    weak_label_loglik,
    weak_label_update,
)
from bayes_w2s.core.updates import ImpossibleEvidenceError, weak_label_shifted_loglik
from bayes_w2s.core.validation import ImpossiblePriorError, NumericalOverflowError, ValidationError

NAN, INF = math.nan, math.inf
PROBS = np.array([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]], [[0.05, 0.05, 0.9], [0.3, 0.4, 0.3]]])
LP = np.log(PROBS)  # (3, 2, 3)
PRIOR = np.log([0.5, 0.3, 0.2])
Z, Y = [0, 1, 1], [2, 0, 1]
SPACE = HypothesisSpace(PROBS)
MODEL = Model(SPACE)
COIN = HypothesisSpace(np.array([[0.5, 0.5], [0.9, 0.1]]))
RNG = np.random.default_rng(0)


def _with(arr, index, value):
    out = np.array(arr, dtype=float)
    out[index] = value
    return out


def _cond(**kw):
    args = dict(log_prior=PRIOR, log_probs=LP, contexts=Z, labels=Y)
    args.update(kw)
    positional = [args.pop(k) for k in ("log_prior", "log_probs", "contexts", "labels")]
    return lambda: condition(*positional, **args)  # callable more than once (mutation runs repeat tests)


def _traj(log_prior=PRIOR, log_probs=LP, draw=None, n_obs=10, rules=(Rule("bayes"),), **kw):
    if draw is None:
        draw = label_sampler(MODEL, np.random.default_rng(0), 1)
    return lambda: run_trajectories(log_prior, log_probs, draw, n_obs, list(rules) if isinstance(rules, tuple) else rules, **kw)


V, E, T, O = ValidationError, ImpossiblePriorError, TypeError, NumericalOverflowError
I = ImpossibleEvidenceError

CASES = [
    # --- condition: prior ---------------------------------------------------------------
    ("condition nan prior", _cond(log_prior=_with(PRIOR, 1, NAN)), V, "log_prior[1] = nan"),
    ("condition +inf prior", _cond(log_prior=_with(PRIOR, 0, INF)), V, "log_prior[0] = inf"),
    ("condition all -inf prior", _cond(log_prior=np.full(3, -INF)), E, "every hypothesis"),
    ("condition scalar prior", _cond(log_prior=0.0), V, "scalar"),
    ("condition empty prio", _cond(log_prior=[]), V, "log_prior is empty"),
    ("condition prior too short", _cond(log_prior=PRIOR[:2]), V, "2 hypotheses"),
    ("condition string prior", _cond(log_prior="abc"), V, "numeric array"),
    ("condition None prior", _cond(log_prior=None), V, "numeric array"),
    # --- condition: log_probs -----------------------------------------------------------
    ("condition nan log_probs", _cond(log_probs=_with(LP, (0, 0, 0), NAN)), V, "log_probs[0, 0, 0] = nan"),
    ("condition +inf log_probs", _cond(log_probs=_with(LP, (1, 1, 1), INF)), V, "probability <= 1"),
    ("condition prob > 1", _cond(log_probs=_with(LP, (2, 0, 2), np.log(1.5))), V, "probability <= 1"),
    ("condition 1-D log_probs", _cond(log_probs=np.log([0.5, 0.5])), V, "2-D or 3-D"),
    ("condition 4-D log_probs", _cond(log_probs=LP[None]), V, "2-D or 3-D"),
    ("condition empty log_probs", _cond(log_probs=np.zeros((3, 0, 3))), V, "empty"),
    ("condition string log_probs", _cond(log_probs="x"), V, "numeric array"),
    # --- condition: data ----------------------------------------------------------------
    ("condition length mismatch", _cond(contexts=[0, 1], labels=[0]), V, "one length"),
    ("condition 2-D contexts", _cond(contexts=[[0, 1]], labels=[[0, 1]]), V, "1-D"),
    ("condition context out of range", _cond(contexts=[0, 2, 0]), V, "context indices"),
    ("condition negative context", _cond(contexts=[0, -1, 0]), V, "non-negative"),
    ("condition label out of range", _cond(labels=[0, 3, 0]), V, "label indices"),
    ("condition negative label", _cond(labels=[-1, 0, 0]), V, "non-negative"),
    ("condition fractional label", _cond(labels=[0.5, 0, 0]), V, "integer label"),
    ("condition nan label", _cond(labels=[NAN, 0, 0]), V, "integer label"),
    ("condition bool labels", _cond(labels=[True, False, True]), V, "dtype bool"),
    ("condition string labels", _cond(labels="abc"), V, "not strings"),
    ("condition object labels", _cond(labels=np.array(["a", "b", "c"])), V, "integer label"),
    # --- condition: rule and strengths -------------------------------------------------
    ("condition unknown rule", _cond(rule="soft"), V, "unknown rule"),
    ("condition ve without strengths", _cond(rule="ve"), V, "needs strengths"),
    ("condition tempered without strengths", _cond(rule="tempered"), V, "needs strengths"),
    ("condition bayes with strengths", _cond(strengths=1.0), V, "takes no strengths"),
    ("condition nan strength", _cond(rule="ve", strengths=NAN), V, "not NaN"),
    ("condition nan in strengths", _cond(rule="ve", strengths=[1.0, NAN, 1.0]), V, "strengths[1] = nan"),
    ("condition negative strength", _cond(rule="ve", strengths=-1.0), V, "non-negative"),
    ("condition inf strength ve", _cond(rule="ve", strengths=INF), V, "finite"),
    ("condition inf weight tempered", _cond(rule="tempered", strengths=[1.0, INF, 1.0]), V, "finite"),
    ("condition strengths wrong length", _cond(rule="ve", strengths=[1.0, 2.0]), V, "scalar or"),
    ("condition strengths string", _cond(rule="ve", strengths="1"), V, "numeric array"),
    ("condition tempered overflow", _cond(rule="tempered", strengths=1e308, contexts=[0], labels=[1]), O, "overflowed"),
    ("condition tempered overflow sum", _cond(rule="tempered", strengths=1e306, contexts=[0] * 400, labels=[1] * 400), O, "overflowed"),
    ("condition impossible evidence", _cond(log_probs=np.log([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]), contexts=[0], labels=[1]), I, "observation 0"),
    # --- observation_logliks ------------------------------------------------------------
    ("obs_logliks nan log_probs", lambda: observation_logliks(_with(LP, (0, 0, 0), NAN), Z, Y), V, "nan"),
    ("obs_logliks unknown rule", lambda: observation_logliks(LP, Z, Y, rule="x"), V, "unknown rule"),
    ("obs_logliks label range", lambda: observation_logliks(LP, Z, [0, 0, 9]), V, "label indices"),
    ("obs_logliks nan strength", lambda: observation_logliks(LP, Z, Y, rule="tempered", strengths=NAN), V, "NaN"),
    # --- single updates ------------------------------------------------------------------
    ("hard nan prio", lambda: hard_update([NAN, 0.0, 0.0], [0.0, 0.0, 0.0]), V, "log_prior"),
    ("hard nan loglik", lambda: hard_update(PRIOR, [0.0, NAN, 0.0]), V, "loglik[1] = nan"),
    ("hard positive loglik", lambda: hard_update(PRIOR, [0.0, 2.0, 0.0]), V, "probability <= 1"),
    ("hard impossible", lambda: hard_update(PRIOR, [-INF] * 3), I, "impossible evidence"),
    ("hard all -inf prio", lambda: hard_update([-INF] * 3, [0.0] * 3), E, "every hypothesis"),
    ("hard shape mismatch", lambda: hard_update(PRIOR, [0.0, 0.0]), V, "disagree"),
    ("tempered shape mismatch", lambda: tempered_update(PRIOR, [0.0, 0.0], 1.0), V, "disagree"),
    ("tempered negative w", lambda: tempered_update(PRIOR, LP[:, 0, 0], -0.5), V, "non-negative"),
    ("tempered nan w", lambda: tempered_update(PRIOR, LP[:, 0, 0], NAN), V, "NaN"),
    ("tempered inf w", lambda: tempered_update(PRIOR, LP[:, 0, 0], INF), V, "finite"),
    ("tempered overflow", lambda: tempered_update(PRIOR, LP[:, 0, 1], 1e308), O, "overflowed"),
    ("tempered +inf loglik", lambda: tempered_update(PRIOR, [INF, 0.0, 0.0], 1.0), V, "probability <= 1"),
    ("tempered string w", lambda: tempered_update(PRIOR, LP[:, 0, 0], "big"), V, "numeric array"),
    ("weak update nan strength", lambda: weak_label_update(PRIOR, LP[:, 0, 0], NAN), V, "NaN"),
    ("weak update negative strength", lambda: weak_label_update(PRIOR, LP[:, 0, 0], -2.0), V, "non-negative"),
    ("weak update inf strength", lambda: weak_label_update(PRIOR, LP[:, 0, 0], INF), V, "finite"),
    ("weak update array strength", lambda: weak_label_update(PRIOR, LP[:, 0, 0], [1.0, 2.0]), V, "scalar"),
    ("weak update nan log_p", lambda: weak_label_update(PRIOR, [NAN, 0.0, 0.0], 1.0), V, "log_p_label"),
    ("weak update prob > 1", lambda: weak_label_update(PRIOR, [0.5, -1.0, -1.0], 1.0), V, "probability <= 1"),
    ("weak update size mismatch", lambda: weak_label_update(PRIOR, [-1.0, -1.0], 1.0), V, "disagree"),
    ("weak update dead prio", lambda: weak_label_update([-INF] * 3, LP[:, 0, 0], 1.0), E, "every hypothesis"),
    ("weak loglik nan strength", lambda: weak_label_loglik(LP[:, 0, 0], NAN), V, "NaN"),
    ("weak loglik nan log_p", lambda: weak_label_loglik([NAN], 1.0), V, "nan"),
    ("weak shifted negative", lambda: weak_label_shifted_loglik(LP[:, 0, 0], -1.0), V, "non-negative"),
    ("weak shifted positive log_p", lambda: weak_label_shifted_loglik([3.0], 1.0), V, "probability <= 1"),
    ("ve all-zero lambda", lambda: virtual_evidence_update(PRIOR, LP[:, 0], [-INF] * 3), V, "all zeros"),
    ("ve nan lambda", lambda: virtual_evidence_update(PRIOR, LP[:, 0], [0.0, NAN, 0.0]), V, "finite or -inf"),
    ("ve +inf lambda", lambda: virtual_evidence_update(PRIOR, LP[:, 0], [INF, 0.0, 0.0]), V, "finite or -inf"),
    ("ve lambda length", lambda: virtual_evidence_update(PRIOR, LP[:, 0], [0.0, 0.0]), V, "2 entries"),
    ("ve 2-D lambda", lambda: virtual_evidence_update(PRIOR, LP[:, 0], [[0.0, 0.0, 0.0]]), V, "1-D"),
    ("ve 3-D table", lambda: virtual_evidence_update(PRIOR, LP, [0.0, 0.0, 0.0]), V, "2-D"),
    ("ve nan table", lambda: virtual_evidence_update(PRIOR, _with(LP[:, 0], (1, 1), NAN), [0.0] * 3), V, "nan"),
    ("ve prior mismatch", lambda: virtual_evidence_update(PRIOR[:2], LP[:, 0], [0.0] * 3), V, "disagree"),
    ("jeffrey nan target", lambda: jeffrey_update(PRIOR, LP[:, 0], [NAN, 0.5, 0.5]), V, "target[0] = nan"),
    ("jeffrey target > 1", lambda: jeffrey_update(PRIOR, LP[:, 0], [1.5, -0.5, 0.0]), V, "[0, 1]"),
    ("jeffrey target sum", lambda: jeffrey_update(PRIOR, LP[:, 0], [0.5, 0.6, 0.1]), V, "not a probability vector"),
    ("jeffrey target length", lambda: jeffrey_update(PRIOR, LP[:, 0], [0.5, 0.5]), V, "3 entries"),
    ("jeffrey target 2-D", lambda: jeffrey_update(PRIOR, LP[:, 0], [[1.0, 0.0, 0.0]]), V, "1-D"),
    ("jeffrey inf target", lambda: jeffrey_update(PRIOR, LP[:, 0], [INF, 0.0, 0.0]), V, "[0, 1]"),
    ("jeffrey nan prio", lambda: jeffrey_update(_with(PRIOR, 2, NAN), LP[:, 0], [1.0, 0.0, 0.0]), V, "log_prior"),
    ("jeffrey batched prio", lambda: jeffrey_update(np.stack([PRIOR, PRIOR]), LP[:, 0], [1.0, 0.0, 0.0]), V, "1-D"),
    ("jeffrey impossible", lambda: jeffrey_update(np.log([0.5, 0.5]), np.log([[0.5, 0.5, 0.0], [0.3, 0.7, 0.0]]), [0.2, 0.2, 0.6]), I, "impossible"),
    ("jeffrey likelihood nan", lambda: jeffrey_likelihood(PRIOR, LP[:, 0], [0.2, NAN, 0.8]), V, "target"),
    ("normalize nan", lambda: normalize([0.0, NAN]), V, "NaN log weight"),
    ("normalize +inf", lambda: normalize([0.0, INF]), V, "+inf log weight"),
    ("normalize all -inf", lambda: normalize([-INF, -INF]), I, "impossible"),
    ("normalize empty", lambda: normalize([]), V, "empty"),
    # --- run_trajectories --------------------------------------------------------------
    ("traj nan prior", _traj(log_prior=_with(PRIOR, 0, NAN)), V, "log_prior[0] = nan"),
    ("traj +inf prior", _traj(log_prior=_with(PRIOR, 0, INF)), V, "finite or -inf"),
    ("traj all -inf prior", _traj(log_prior=np.full(3, -INF)), E, "every hypothesis"),
    ("traj 2-D prio", _traj(log_prior=np.stack([PRIOR, PRIOR])), V, "1-D"),
    ("traj prior mismatch", _traj(log_prior=PRIOR[:2]), V, "disagree"),
    ("traj nan log_probs", _traj(log_probs=_with(LP, (0, 1, 2), NAN)), V, "log_probs[0, 1, 2] = nan"),
    ("traj +inf log_probs", _traj(log_probs=_with(LP, (0, 1, 2), INF)), V, "probability <= 1"),
    ("traj prob > 1", _traj(log_probs=_with(LP, (2, 1, 0), 0.5)), V, "probability <= 1"),
    ("traj 1-D log_probs", _traj(log_probs=np.log([0.5, 0.5])), V, "2-D or 3-D"),
    ("traj n_obs 0", _traj(n_obs=0), V, "n_obs must be a positive integer"),
    ("traj n_obs float", _traj(n_obs=2.5), V, "n_obs"),
    ("traj n_obs nan", _traj(n_obs=NAN), V, "n_obs"),
    ("traj n_obs string", _traj(n_obs="10"), V, "n_obs"),
    ("traj chunk 0", _traj(chunk=0), V, "chunk"),
    ("traj no rules", _traj(rules=[]), V, "non-empty sequence of Rule"),
    ("traj rule as string", _traj(rules="bayes"), V, "sequence of Rule"),
    ("traj single Rule", _traj(rules=Rule("bayes")), V, "sequence of Rule"),
    ("traj duplicate rules", _traj(rules=(Rule("bayes"), Rule("bayes"))), V, "unique"),
    ("traj checkpoint too big", _traj(checkpoints=[11]), V, "checkpoints"),
    ("traj checkpoint zero", _traj(checkpoints=[0, 5]), V, "checkpoints"),
    ("traj checkpoint fractional", _traj(checkpoints=[2.5]), V, "integers"),
    ("traj checkpoint nan", _traj(checkpoints=[NAN]), V, "checkpoints"),
    ("traj checkpoints empty", _traj(checkpoints=[]), V, "non-empty"),
    ("traj draw not callable", _traj(draw=42), V, "draw must be callable"),
    ("traj draw bad shape", _traj(draw=lambda m: (np.zeros((1, m + 1), int), np.zeros((1, m + 1), int))), V, "draw"),
    ("traj draw label range", _traj(draw=lambda m: (np.zeros((1, m), int), np.full((1, m), 7))), V, "label indices"),
    ("traj draw float", _traj(draw=lambda m: (np.zeros((1, m)), np.zeros((1, m)))), V, "outside integers"),
    ("traj draw not tuple", _traj(draw=lambda m: np.zeros((1, m), int)), V, "(contexts, labels)"),
    ("traj tempered overflow", _traj(n_obs=4000, rules=(Rule("tempered", "constant:value=1e305"),)), O, "tempered"),
    ("traj impossible", lambda: run_trajectories(np.log([0.5, 0.5]), np.log([[1.0, 0.0], [1.0, 0.0]]),
                                                 lambda m: (np.zeros((1, m), int), np.ones((1, m), int)), 5, [Rule("bayes")]), I, "no possible hypothesis"),
    ("log_checkpoints 0", lambda: log_checkpoints(0), V, "n_max"),
    ("log_checkpoints per_decade 0", lambda: log_checkpoints(100, per_decade=0), V, "per_decade"),
    ("log_checkpoints nan", lambda: log_checkpoints(NAN), V, "n_max"),
    # --- Rule -----------------------------------------------------------------------------
    ("Rule unknown kind", lambda: Rule("soft"), V, "unknown rule kind"),
    ("Rule bayes schedule", lambda: Rule("bayes", "constant:value=1"), V, "no schedule"),
    ("Rule ve no schedule", lambda: Rule("ve"), V, "needs a schedule"),
    ("Rule confidence", lambda: Rule("ve", "confidence:budget=1"), V, "confidence"),
    ("Rule bad schedule", lambda: Rule("ve", "constant:value=-1"), V, "non-negative"),
    # --- schedules ------------------------------------------------------------------------
    ("make_schedule duplicate key", lambda: make_schedule("budget:budget=1,budget=2"), V, "given twice"),
    ("make_schedule unknown", lambda: make_schedule("nope:c=1"), V, "unknown schedule"),
    ("make_schedule not number", lambda: make_schedule("pseries:c=x"), V, "not a number"),
    ("make_schedule no equals", lambda: make_schedule("pseries:c"), V, "key=value"),
    ("make_schedule empty key", lambda: make_schedule("pseries:=1"), V, "key=value"),
    ("make_schedule unknown param", lambda: make_schedule("pseries:q=1"), V, "bad parameters"),
    ("make_schedule dict no name", lambda: make_schedule({"c": 1}), V, "unknown schedule"),
    ("make_schedule int", lambda: make_schedule(3), T, "cannot build a schedule"),
    ("make_schedule nan", lambda: make_schedule("constant:value=nan"), V, "finite"),
    ("make_schedule inf", lambda: make_schedule("constant:value=inf"), V, "finite"),
    ("Constant negative", lambda: Constant(-1.0), V, "non-negative"),
    ("Constant string", lambda: Constant("1"), V, "must be a number"),
    ("Constant bool", lambda: Constant(True), V, "must be a number"),
    ("Geometric ratio 1", lambda: Geometric(1.0, 1.0), V, "ratio"),
    ("Geometric ratio nan", lambda: Geometric(1.0, NAN), V, "ratio"),
    ("Geometric first inf", lambda: Geometric(INF, 0.5), V, "finite"),
    ("PSeries p 1", lambda: PSeries(1.0, 1.0), V, "p must be > 1"),
    ("PSeries p inf", lambda: PSeries(1.0, INF), V, "p must be > 1"),
    ("PSeries c nan", lambda: PSeries(NAN, 2.0), V, "finite"),
    ("Budget negative", lambda: Budget(-1.0), V, "non-negative"),
    ("Budget no n_total", lambda: Budget(1.0).strength([1]), V, "needs n_total"),
    ("Budget index > n_total", lambda: Budget(1.0).strength([5], n_total=3), V, "exceeds n_total"),
    ("Budget n_total negative", lambda: Budget(1.0).strengths(-1), V, "non-negative integer"),
    ("Budget n_total float", lambda: Budget(1.0).strengths(2.5), V, "n_total"),
    ("Budget n_total nan", lambda: Budget(1.0).strengths(NAN), V, "n_total"),
    ("Coarsened alpha 0", lambda: Coarsened(0.0), V, "positive"),
    ("Constant index 0", lambda: Constant(1.0).strength([0, 1]), V, "1-based"),
    ("Constant index inf", lambda: Constant(1.0).strength([INF]), V, "1-based"),
    ("Constant index nan", lambda: Constant(1.0).strength([NAN]), V, "1-based"),
    ("Constant index fractional", lambda: Constant(1.0).strength([1.5]), V, "1-based"),
    ("Geometric total negative", lambda: Geometric().total(-2), V, "n_total"),
    ("Confidence missing", lambda: ConfidenceWeighted().strengths(3), V, "needs confidence"),
    ("Confidence nan", lambda: ConfidenceWeighted().strengths(2, confidence=[0.5, NAN]), V, "confidence[1] = nan"),
    ("Confidence > 1", lambda: ConfidenceWeighted().strengths(2, confidence=[0.5, 2.0]), V, "[0, 1]"),
    ("Confidence all zero", lambda: ConfidenceWeighted().strengths(2, confidence=[0.0, 0.0]), V, "all confidences are zero"),
    ("Confidence length", lambda: ConfidenceWeighted().strengths(3, confidence=[0.5, 0.5]), V, "n_total=3"),
    ("Confidence empty", lambda: ConfidenceWeighted().strengths(0, confidence=[]), V, "empty"),
    # --- labels ----------------------------------------------------------------------------
    ("sampler not model", lambda: label_sampler(SPACE, RNG, 2), T, "Model"),
    ("sampler bad rng", lambda: label_sampler(MODEL, 0, 2), T, "Generator"),
    ("sampler bad mode", lambda: label_sampler(MODEL, RNG, 2, mode="per-batch"), V, "unknown sampling mode"),
    ("sampler zero replicates", lambda: label_sampler(MODEL, RNG, 0), V, "n_replicates"),
    ("sampler float replicates", lambda: label_sampler(MODEL, RNG, 1.5), V, "n_replicates"),
    ("sampler context probs sum", lambda: label_sampler(MODEL, RNG, 1, context_probs=[0.5, 0.6]), V, "not a probability vector"),
    ("sampler context probs nan", lambda: label_sampler(MODEL, RNG, 1, context_probs=[NAN, 1.0]), V, "context_probs"),
    ("sampler context probs length", lambda: label_sampler(MODEL, RNG, 1, context_probs=[1.0]), V, "2 entries"),
    ("draw negative", lambda: label_sampler(MODEL, RNG, 1)(-1), V, "non-negative integer"),
    ("draw float", lambda: label_sampler(MODEL, RNG, 1)(2.5), V, "integer"),
    ("sample_labels range", lambda: sample_labels(MODEL, [0, 5], RNG), V, "context indices"),
    ("sample_labels 2-D", lambda: sample_labels(MODEL, [[0, 1]], RNG), V, "1-D"),
    ("sample_labels fractional", lambda: sample_labels(MODEL, [0.5], RNG), V, "integer context"),
    ("sample_labels bad rng", lambda: sample_labels(MODEL, [0], "seed"), T, "Generator"),
    # --- metrics -----------------------------------------------------------------------------
    ("influence nan", lambda: influence_distance([0.0, NAN], [0.0, 0.0]), V, "log_p[1] = nan"),
    ("influence +inf", lambda: influence_distance([0.0, 0.0], [INF, 0.0]), V, "log_q"),
    ("influence shapes", lambda: influence_distance([0.0, 0.0], [0.0, 0.0, 0.0]), V, "broadcast"),
    ("influence all -inf", lambda: influence_distance([-INF, -INF], [0.0, 0.0]), V, "not a distribution"),
    ("influence scalar", lambda: influence_distance(0.0, 0.0), V, "scalars"),
    ("kl nan", lambda: kl_divergence([0.5, NAN], [0.5, 0.5]), V, "p[1] = nan"),
    ("kl negative", lambda: kl_divergence([0.5, 0.5], [1.5, -0.5]), V, "[0, 1]"),
    ("kl shapes", lambda: kl_divergence([0.5, 0.5], [0.2, 0.3, 0.5]), V, "do not match"),
    ("kl empty", lambda: kl_divergence([], []), V, "empty"),
    ("agreement empty float", lambda: agreement(np.array([]), np.array([])), V, "empty"),
    ("agreement empty list", lambda: agreement([], []), V, "empty"),
    ("agreement fractional", lambda: agreement([0.5], [1]), V, "integer class indices"),
    ("agreement negative", lambda: agreement([-1], [1]), V, "non-negative integer class"),
    ("agreement shape", lambda: agreement([0, 1], [0, 1, 1]), V, "one shape"),
    ("agreement nan", lambda: agreement([NAN], [1]), V, "integer class"),
    ("accuracy mismatch", lambda: accuracy([[0.5, 0.5]], [0, 1]), V, "matching labels"),
    ("accuracy nan probs", lambda: accuracy([[NAN, 0.5]], [0]), V, "finite"),
    ("accuracy 1-D probs", lambda: accuracy([0.5, 0.5], [0, 1]), V, "2-D"),
    ("accuracy label range", lambda: accuracy([[0.2, 0.8]], [7]), V, "class indices in [0, 2)"),
    ("accuracy empty labels", lambda: accuracy(np.zeros((0, 2)), np.array([])), V, "empty"),
    ("posterior_mass nan", lambda: posterior_mass([NAN, 0.0], [0]), V, "log_posterior"),
    ("posterior_mass index", lambda: posterior_mass(np.log([0.5, 0.5]), [2]), V, "hypothesis indices"),
    ("posterior_mass mask", lambda: posterior_mass(np.log([0.5, 0.5]), [True]), V, "mask"),
    ("pgr nan", lambda: pgr(NAN, 0.8, 0.9), V, "acc_weak"),
    ("pgr > 1", lambda: pgr(0.5, 1.5, 0.9), V, "acc_w2s"),
    ("pgr shapes", lambda: pgr([0.5, 0.6], [0.7, 0.7, 0.7], 0.9), V, "broadcast"),
    # --- hypotheses ---------------------------------------------------------------------------
    ("space nan", lambda: HypothesisSpace(_with(PROBS, (0, 0, 0), NAN)), V, "[0, 1]"),
    ("space > 1", lambda: HypothesisSpace([[1.5, -0.5]]), V, "[0, 1]"),
    ("space sums", lambda: HypothesisSpace([[0.5, 0.6]]), V, "sums to"),
    ("space one label", lambda: HypothesisSpace([[1.0]]), V, "at least 2 labels"),
    ("space empty", lambda: HypothesisSpace(np.zeros((0, 2))), V, "empty axis"),
    ("space 1-D", lambda: HypothesisSpace([0.5, 0.5]), V, "shape"),
    ("space strings", lambda: HypothesisSpace("abc"), V, "numeric array"),
    ("space names", lambda: HypothesisSpace([[0.5, 0.5]], hypothesis_names=["a", "b"]), V, "names"),
    ("space subset range", lambda: COIN.subset([5]), V, "hypothesis indices"),
    ("space subset empty", lambda: COIN.subset([]), V, "empty"),
    ("space index", lambda: COIN.index("zzz"), KeyError, "no hypothesis named"),
    ("model prior sum", lambda: Model(COIN, prior=[0.5, 0.6]), V, "sums to"),
    ("model prior nan", lambda: Model(COIN, prior=[NAN, 1.0]), V, "[0, 1]"),
    ("model prior shape", lambda: Model(COIN, prior=[1.0]), V, "shape"),
    ("model log_prior nan", lambda: Model(COIN, log_prior=[NAN, 0.0]), V, "finite or -inf"),
    ("model log_prior unnormalized", lambda: Model(COIN, log_prior=[0.0, 0.0]), V, "does not normalize"),
    ("model both priors", lambda: Model(COIN, prior=[0.5, 0.5], log_prior=np.log([0.5, 0.5])), V, "not both"),
    ("model not space", lambda: Model(PROBS), T, "HypothesisSpace"),
    ("containment shapes", lambda: containment(MODEL, Model(COIN)), V, "share contexts"),
    ("containment atol", lambda: containment(MODEL, MODEL, atol=NAN), V, "atol"),
    ("containment not model", lambda: containment(SPACE, MODEL), T, "Models"),
]


@pytest.mark.parametrize("name, call, error, fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(name, call, error, fragment):
    with pytest.raises(error) as info:
        result = call()
        pytest.fail(f"{name}: accepted and returned {result!r}")  # pragma: no cover
    assert fragment in str(info.value), f"{name}: message {str(info.value)!r} lacks {fragment!r}"
    assert "nan" not in type(info.value).__name__.lower()


def test_catalogue_size_and_distinct_names():
    assert len(CASES) >= 120
    assert len({c[0] for c in CASES}) == len(CASES)


def test_validation_errors_are_value_errors_and_name_the_argument():
    with pytest.raises(ValueError) as info:
        condition(_with(PRIOR, 1, NAN), LP, Z, Y)
    assert isinstance(info.value, ValidationError) and info.value.argument == "log_prior"
    assert issubclass(ImpossiblePriorError, ValidationError)
    assert issubclass(NumericalOverflowError, OverflowError) and issubclass(NumericalOverflowError, ValueError)


def test_budget_of_zero_datapoints_is_empty_not_zero_division():
    """Decision (issue 11): T(0) = 0 and strengths(0) is the empty array."""
    out = Budget(2.0).strengths(0)
    assert out.shape == (0,) and Budget(2.0).total(0) == 0.0
    np.testing.assert_allclose(Budget(2.0).strengths(4), [0.5] * 4)


def test_valid_edge_inputs_still_work():
    """The checks do not reject what is legal: -inf priors (not all), P = 0 and 1, s = 0."""
    prior = np.log([0.0, 0.5, 0.5])
    res = condition(prior, LP, Z, Y, rule="ve", strengths=0.0)
    np.testing.assert_allclose(res.log_posterior, prior - np.logaddexp.reduce(prior))
    table = np.log(np.array([[1.0, 0.0], [0.5, 0.5]]))
    assert np.isfinite(condition(np.log([0.5, 0.5]), table, [0.0, 0.0], [0.0, 0.0]).log_posterior).all()
    assert agreement(np.array([1.0, 0.0]), [1, 0]) == 1.0


def test_empty_float_data_is_handled_like_empty_int_data():
    """``np.asarray([])`` is float: where zero observations are meaningful (condition -> the
    prior, sample_labels -> no labels) it must behave like an empty int array, not raise
    IndexError; where they are not (agreement, accuracy) it is a clear error (catalogue)."""
    res = condition(PRIOR, LP, np.array([]), np.array([]))
    np.testing.assert_allclose(res.log_posterior, PRIOR - np.logaddexp.reduce(PRIOR), atol=1e-15)
    for rule, s in (("ve", np.array([])), ("tempered", 1.0)):
        np.testing.assert_allclose(condition(PRIOR, LP, [], [], rule=rule, strengths=s).log_posterior, res.log_posterior)
    out = sample_labels(MODEL, np.array([]), np.random.default_rng(0))
    assert out.shape == (0,) and out.dtype.kind == "i"

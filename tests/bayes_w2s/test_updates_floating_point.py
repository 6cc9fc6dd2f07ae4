"""Update rules at their floating-point edges: no stray warning, overflow judged, errors named
(issue 18: mutation testing).

The update rules promise "never a NaN" and a :class:`NumericalOverflowError` where a sum
leaves float64. Each case here runs with division by zero, overflow and invalid operations
turned into exceptions (``np.errstate(divide/over/invalid="raise")``; underflow to 0 is
benign and left alone), so a RuntimeWarning that escaped a rule's own ``errstate`` would fail
the test instead of scrolling by. Results are compared with brute-force references
(per-observation factors in plain numpy, or the exact limit where a weight overflowed).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from bayes_w2s.core.updates import (
    ImpossibleEvidenceError,
    condition,
    hard_update,
    jeffrey_likelihood,
    jeffrey_update,
    normalize,
    observation_logliks,
    tempered_update,
    virtual_evidence_update,
    weak_label_loglik,
    weak_label_shifted_loglik,
    weak_label_update,
)
from bayes_w2s.core.validation import NumericalOverflowError, ValidationError

RAISE = dict(divide="raise", over="raise", invalid="raise")
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def _log(p):
    with np.errstate(divide="ignore"):
        return np.log(np.asarray(p, dtype=float))


# --- no warning escapes: -inf, 0 * inf and s = 0 inside the rules --------------------------


def test_weak_label_terms_at_zero_strength_and_zero_probability_raise_no_warning():
    lp = _log([0.0, 1e-9, 0.3, 1.0])
    with np.errstate(**RAISE):
        shifted = weak_label_shifted_loglik(lp, 0.0)  # log(1 - e^0) = -inf inside
        mixed = weak_label_loglik(lp, np.array([0.0, 0.5, 40.0, 0.0]))  # s above 30 and s = 0 together
        res = weak_label_update(_log([0.2, 0.3, 0.1, 0.4]), lp, 0.0)
    np.testing.assert_array_equal(shifted, np.zeros(4))  # r = 1: no evidence
    s = np.array([0.0, 0.5, 40.0, 0.0])
    p = np.array([0.0, 1e-9, 0.3, 1.0])
    want = s + np.log(p + np.exp(-s) * (1 - p))  # log(1 + (e^s - 1) p), per element
    np.testing.assert_allclose(mixed, want, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(np.exp(res.log_posterior), [0.2, 0.3, 0.1, 0.4], rtol=1e-12)
    assert float(res.log_normalizer) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("s", [[0.5, 40.0], [2.0, 31.0, 0.01], [29.0, 1e3]])
def test_weak_label_loglik_with_per_element_strengths_on_both_sides_of_30(s):
    s = np.asarray(s)
    p = np.linspace(0.05, 0.95, s.size)
    want = s + np.log(p + np.exp(-s) * (1 - p))
    np.testing.assert_allclose(weak_label_loglik(np.log(p), s), want, rtol=1e-12)
    np.testing.assert_allclose(weak_label_shifted_loglik(np.log(p), s), want - s, rtol=1e-10, atol=1e-14)


def test_jeffrey_with_zero_target_mass_on_a_label_the_prior_rules_out_raises_no_warning():
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]])  # label 2 has marginal 0
    prior = _log([0.3, 0.7])
    with np.errstate(**RAISE):
        lam = jeffrey_likelihood(prior, _log(probs), [0.4, 0.6, 0.0])
        res = jeffrey_update(prior, _log(probs), [0.4, 0.6, 0.0])
    marg = np.array([0.3, 0.7]) @ probs
    np.testing.assert_allclose(lam[:2], np.log(np.array([0.4, 0.6]) / marg[:2]))
    assert lam[2] == -np.inf
    want = sum(q * np.array([0.3, 0.7]) * probs[:, y] / marg[y] for y, q in enumerate([0.4, 0.6]))
    np.testing.assert_allclose(np.exp(res.log_posterior), want, rtol=1e-12)


def test_tempering_with_weight_zero_is_no_update_even_on_impossible_labels():
    lp = _log([0.2, 0.5, 0.3])
    loglik = _log([0.9, 0.0, 0.4])
    with np.errstate(**RAISE):  # 0 * -inf must not be formed
        res = tempered_update(lp, loglik, 0.0)
        terms = observation_logliks(_log([[0.9, 0.1], [0.0, 1.0], [0.4, 0.6]]), None, [0, 0], rule="tempered",
                                    strengths=[0.0, 0.5])
    np.testing.assert_allclose(res.log_posterior, lp, atol=1e-15)
    assert float(res.log_normalizer) == pytest.approx(0.0, abs=1e-15)  # P(y)^0 = 1: log Z = 0
    np.testing.assert_array_equal(terms[0], np.zeros(3))
    np.testing.assert_allclose(terms[1], 0.5 * loglik)


def test_tempering_with_weight_one_is_hard_bayes_with_an_impossible_label():
    lp = _log([0.2, 0.5, 0.3])
    loglik = _log([0.9, 0.0, 0.4])
    with np.errstate(**RAISE):
        tempered = tempered_update(lp, loglik, 1.0)
        hard = hard_update(lp, loglik)
    np.testing.assert_array_equal(tempered.log_posterior, hard.log_posterior)
    assert tempered.log_posterior[1] == -np.inf
    assert float(tempered.log_normalizer) == pytest.approx(np.log(0.2 * 0.9 + 0.3 * 0.4))


def test_a_scalar_log_likelihood_is_common_to_every_hypothesis():
    lp = _log([0.2, 0.5, 0.3])
    for res, log_z in ((hard_update(lp, np.log(0.3)), np.log(0.3)), (tempered_update(lp, np.log(0.3), 2.0), 2 * np.log(0.3))):
        np.testing.assert_allclose(res.log_posterior, lp, atol=1e-15)
        assert float(res.log_normalizer) == pytest.approx(log_z)


# --- overflow: judged, never a warning or a NaN ------------------------------------------


def test_tempered_overflow_raises_the_documented_error_not_a_floating_point_one():
    lp = _log([0.5, 0.5])
    with np.errstate(**RAISE):
        with pytest.raises(NumericalOverflowError, match="too large to represent: lower the tempering weight / strength$"):
            tempered_update(lp, _log([0.5, 1e-5]), 1e308)
        terms = observation_logliks(_log([[0.5, 0.5], [1e-5, 1 - 1e-5]]), None, [0], rule="tempered", strengths=1e308)
        with pytest.raises(NumericalOverflowError, match="summed tempering weight"):  # the weights' sum overflows
            condition(lp, _log([[0.5, 0.5], [1e-5, 1 - 1e-5]]), None, [0, 0], rule="tempered", strengths=1e308)
        with pytest.raises(NumericalOverflowError, match=r"rule 'tempered', max strength 1e\+308"):  # w log P overflows
            condition(lp, _log([[0.5, 0.5], [1e-5, 1 - 1e-5]]), None, [0], rule="tempered", strengths=1e308)
    assert terms[0, 0] == pytest.approx(1e308 * np.log(0.5)) and terms[0, 1] == -np.inf


# (H=3, Z=2, K=3). Observation (z=0, y=0): h0 and h1 give it probability 0, h2 1/2;
# observation (z=1, y=0): h0 gives it 0, h1 and h2 1/2. Virtual evidence of strength s makes a
# probability-0 label a factor e^{-s} relative to the best hypothesis, so at s ~ 1e308 h0's
# summed log weight (-2s) leaves float64 while h1's (-s) does not.
_OVERFLOW_TABLE = _log([[[0.0, 0.0, 1.0], [0.0, 0.5, 0.5]],
                        [[0.0, 0.5, 0.5], [0.5, 0.5, 0.0]],
                        [[0.5, 0.5, 0.0], [0.5, 0.5, 0.0]]])


@pytest.mark.parametrize("strengths", [1e308, [1e308, 0.95e308]], ids=["equal", "varying"])
def test_ve_overflow_of_a_dominated_hypothesis_gives_it_probability_zero(strengths):
    lp = _log([0.5, 0.2, 0.3])
    with np.errstate(**RAISE):
        res = condition(lp, _OVERFLOW_TABLE, [0, 1], [0, 0], rule="ve", strengths=strengths)
        batch = condition(np.stack([lp, _log([0.1, 0.1, 0.8])]), _OVERFLOW_TABLE, [0, 1], [0, 0], rule="ve", strengths=strengths)
    s = np.broadcast_to(np.asarray(strengths, float), (2,))
    # exact: h2 carries the mode; h1 is e^{-s_0} below it; h0 is e^{-s_0 - s_1}, i.e. 0 in float64
    assert res.log_posterior[0] == -np.inf
    assert res.log_posterior[2] == 0.0
    assert res.log_posterior[1] == pytest.approx(-s[0] + np.log(0.2 / 0.3), rel=1e-12)
    assert np.all(np.isneginf(batch.log_posterior[:, 0])) and np.all(batch.log_posterior[:, 2] == 0.0)
    assert not np.isnan(res.log_normalizer)


@pytest.mark.parametrize("strengths", [1e308, [1e308, 0.95e308]], ids=["equal", "varying"])
def test_ve_overflow_when_the_best_finite_weight_is_itself_near_the_limit_raises(strengths):
    # h2 ruled out by the prior: the best remaining hypothesis (h1, at -s) is too close to the
    # float64 limit to tell whether h0's overflowed weight was really smaller
    lp = np.array([np.log(0.5), np.log(0.5), -np.inf])
    with np.errstate(**RAISE):
        with pytest.raises(NumericalOverflowError, match=r"rule 've', max strength 1e\+308, 1 hypothesis log weight\(s\)"):
            condition(lp, _OVERFLOW_TABLE, [0, 1], [0, 0], rule="ve", strengths=strengths)
        # in a batch, one row in that situation is enough, even if another row is fine
        with pytest.raises(NumericalOverflowError, match="overflowed float64"):
            condition(np.stack([_log([0.2, 0.3, 0.5]), lp]), _OVERFLOW_TABLE, [0, 1], [0, 0], rule="ve",
                      strengths=strengths)


def test_a_prior_far_below_the_evidence_overflows_into_probability_zero_without_warning():
    # log prior -1e308 on h1, plus the -1e308 its zero-probability label costs: -2e308 = -inf
    lp = np.array([0.0, -1e308])
    table = _log([[0.5, 0.5], [0.0, 1.0]])
    with np.errstate(**RAISE):
        res = condition(lp, table, None, [0], rule="ve", strengths=1e308)
    np.testing.assert_array_equal(res.log_posterior, [0.0, -np.inf])


def test_tempered_update_with_an_overflowing_sum_of_many_small_terms():
    # each w log P is finite, their sum over the observations is not
    table = _log([[0.5, 0.5], [1e-300, 1 - 1e-300]])
    lp = _log([0.5, 0.5])
    with np.errstate(**RAISE):
        with pytest.raises(NumericalOverflowError, match="overflowed"):
            condition(lp, table, None, [0, 0, 0], rule="tempered", strengths=[2e305, 2e305, 2e305])


def test_tempered_overflow_of_the_part_common_to_every_hypothesis_raises():
    # every hypothesis gives label 0 probability ~1e-300: the common log-likelihood leaves float64
    table = _log([[1e-300, 1 - 1e-300], [2e-300, 1 - 2e-300]])
    with np.errstate(**RAISE):
        with pytest.raises(NumericalOverflowError, match="the summed tempered log-likelihood overflowed"):
            condition(_log([0.5, 0.5]), table, None, [0, 0, 0], rule="tempered", strengths=[2e305, 2e305, 2e305])


def test_normalize_judges_each_row_of_a_batch_on_its_own():
    with pytest.raises(ImpossibleEvidenceError):
        normalize(np.array([[0.0, -1.0], [-np.inf, -np.inf]]))  # the second row is impossible
    res = normalize(np.array([[0.0, -1.0], [-800.0, -801.0]]))  # rows far apart: each keeps its own scale
    np.testing.assert_allclose(res.log_posterior[0], res.log_posterior[1], atol=1e-12)
    np.testing.assert_allclose(res.log_normalizer, [np.logaddexp(0.0, -1.0), -800 + np.logaddexp(0.0, -1.0)])


# --- a prior with a hypothesis ruled out, and a single observation ------------------------


@pytest.mark.parametrize("rule,strengths", [("bayes", None), ("ve", [0.7]), ("tempered", [0.7])])
def test_one_observation_with_a_prior_that_rules_a_hypothesis_out(rule, strengths):
    lp = np.array([np.log(0.4), -np.inf, np.log(0.6)])
    probs = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    res = condition(lp, np.log(probs), None, [1], rule=rule, strengths=strengths)
    w = np.array([0.4, 0.0, 0.6]) * {"bayes": probs[:, 1], "ve": 1 + np.expm1(0.7) * probs[:, 1],
                                     "tempered": probs[:, 1] ** 0.7}[rule]
    np.testing.assert_allclose(np.exp(res.log_posterior), w / w.sum(), rtol=1e-12)
    assert res.log_posterior[1] == -np.inf


def test_a_batch_of_priors_reports_the_row_whose_evidence_is_impossible():
    probs = np.array([[[1.0, 0.0]], [[0.0, 1.0]], [[0.5, 0.5]]])  # h0 always says 0, h1 always 1, h2 either
    lps = np.array([np.log([1 / 3, 1 / 3, 1 / 3]), [0.0, -np.inf, -np.inf]])  # row 1 believes only h0
    with pytest.raises(ImpossibleEvidenceError, match="observation 1") as err:
        condition(lps, _log(probs), [0, 0, 0], [0, 1, 0])  # row 0 survives on h2, row 1 dies at obs 1
    assert err.value.index == 1


def test_a_log_table_with_rounding_slack_above_zero_is_read_as_probability_one():
    slack = _log([[[1.0, 0.0]], [[0.25, 0.75]]])
    slack[0, 0, 0] = 5e-13  # log P = +5e-13 <= LOG_PROB_TOL: P = 1 up to rounding
    clean = np.minimum(slack, 0.0)
    lp = _log([0.4, 0.6])
    for rule, s in (("bayes", None), ("ve", 2.0), ("ve", 50.0), ("tempered", 0.5)):
        got = condition(lp, slack, [0, 0], [0, 0], rule=rule, strengths=s)
        want = condition(lp, clean, [0, 0], [0, 0], rule=rule, strengths=s)
        np.testing.assert_allclose(got.log_posterior, want.log_posterior, atol=1e-12)
        assert float(got.log_normalizer) == pytest.approx(float(want.log_normalizer), abs=1e-12)


def test_observation_logliks_default_rule_is_hard_bayes():
    table = np.log([[[0.7, 0.3], [0.4, 0.6]], [[0.1, 0.9], [0.5, 0.5]]])
    ll = observation_logliks(table, [1, 0, 1], [0, 1, 1])
    np.testing.assert_array_equal(ll, table[:, [1, 0, 1], [0, 1, 1]].T)


# --- many hypotheses: more than one block of varying virtual evidence ---------------------


def test_varying_strong_virtual_evidence_over_several_blocks_matches_the_factors():
    rng = np.random.default_rng(3)
    n_hyp, n = 1 << 14, 9  # a block holds 65536 / H = 4 (category, strength) pairs: 3 blocks
    probs = rng.dirichlet(np.ones(3), size=n_hyp)  # (H, K), one context
    lp = np.log(rng.dirichlet(np.ones(n_hyp)))
    ys = rng.integers(0, 3, n)
    s = 31.0 + np.arange(n)  # all distinct, all above the direct branch
    res = condition(lp, np.log(probs), None, ys, rule="ve", strengths=s)
    log_w = lp + sum(s[i] + np.log(probs[:, ys[i]] + np.exp(-s[i]) * (1 - probs[:, ys[i]])) for i in range(n))
    np.testing.assert_allclose(res.log_posterior, log_w - logsumexp(log_w), atol=1e-9)
    assert float(res.log_normalizer) == pytest.approx(logsumexp(log_w), rel=1e-12)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), big=st.booleans())
def test_condition_raises_no_floating_point_warning_on_zero_probabilities(seed, n, big):
    """Sparse tables (zeros), zero strengths and strengths on both sides of 30, every rule."""
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3), size=(4, 2))
    probs[rng.random(probs.shape) < 0.3] = 0.0
    probs[..., 0] += probs.sum(-1) == 0  # every row keeps some mass
    probs /= probs.sum(-1, keepdims=True)
    lp = np.log(rng.dirichlet(np.ones(4)))
    zs, ys = rng.integers(0, 2, n), rng.integers(0, 3, n)
    s = rng.uniform(0, 60.0 if big else 5.0, n) * (rng.random(n) < 0.8)
    table = _log(probs)
    for rule, strengths in (("bayes", None), ("ve", s), ("tempered", s)):
        with np.errstate(**RAISE):
            try:
                res = condition(lp, table, zs, ys, rule=rule, strengths=strengths)
            except ImpossibleEvidenceError:
                continue
            ll = observation_logliks(table, zs, ys, rule=rule, strengths=strengths)
        assert not np.any(np.isnan(res.log_posterior)) and np.isfinite(res.log_normalizer)
        with np.errstate(invalid="ignore"):
            ref = normalize(lp + ll.sum(0))
        np.testing.assert_allclose(res.log_posterior, ref.log_posterior, atol=1e-8)


# --- precision: hypothesis differences, not their common part ----------------------------


def test_a_category_some_hypothesis_rules_out_keeps_the_others_differences_exact():
    """Near-identical h0, h1 and an h2 that gives label 0 probability 0: h0's and h1's
    log-likelihoods of N labels differ by N (log p0 - log p1), which must come out to
    rounding, not to ulp(N |log p|) ~ 1e-10 (the common part must not enter the sum)."""
    lp0, lp1 = np.log(0.3), np.log(0.3 + 1e-7)
    table = np.array([[lp0, np.log(0.7)], [lp1, np.log(0.7 - 1e-7)], [-np.inf, 0.0]])
    n = 999_983
    res = condition(np.log([0.4, 0.4, 0.2]), table, None, np.zeros(n, dtype=int))
    exact = float(Fraction(n) * (Fraction(lp0) - Fraction(lp1)))  # from the same float64 inputs
    assert abs((res.log_posterior[0] - res.log_posterior[1]) - exact) < 1e-13
    assert res.log_posterior[2] == -np.inf


def test_varying_virtual_evidence_over_many_blocks_is_summed_with_compensation():
    """1000 blocks of (category, strength) pairs: the per-hypothesis sums must match an
    exact (fsum) reference of the same float64 terms to ~1e-14, where accumulation without
    (or with a sign-flipped) compensation across blocks drifts by ~5e-13."""
    rng = np.random.default_rng(0)
    n_hyp = 1 << 12  # 16 pairs per block
    p = 0.5 + 1e-2 * rng.uniform(-1, 1, n_hyp)
    table = np.log(np.stack([p, 1 - p], 1))
    ys = rng.integers(0, 2, 16 * 1000)
    s = rng.uniform(0.5, 1.0, ys.size)  # all distinct: one pair per observation
    res = condition(np.full(n_hyp, -np.log(n_hyp)), table, None, ys, rule="ve", strengths=s)
    sub = np.arange(8)
    terms = weak_label_loglik(table[sub][:, ys].T, s[:, None])  # (N, 8), the same float64 terms
    exact = np.array([math.fsum(terms[:, h] - terms[:, 0]) for h in sub])
    np.testing.assert_allclose(res.log_posterior[sub] - res.log_posterior[0], exact, rtol=0, atol=1e-13)


# --- every argument named in its error --------------------------------------------------

_LP = np.log([0.5, 0.5])
_T = np.log([[0.5, 0.5], [0.9, 0.1]])


@pytest.mark.parametrize(
    "call,argument,match",
    [
        (lambda: normalize(None), "log_weights", "log_weights must be a numeric array"),
        (lambda: hard_update(np.log([0.2, 0.3, 0.5]), _T[:, 0]), "log_prior", "log_prior and loglik disagree"),
        (lambda: virtual_evidence_update(_LP, [[0.5, 0.1], [0.0, 0.0]], [0.0, 0.0]), "log_probs", r"log_probs\[0, 0\]"),
        (lambda: virtual_evidence_update(_LP, _T, [[0.0, 0.0]]), "log_lambda", "log_lambda must be 1-D"),
        (lambda: virtual_evidence_update(_LP, _T, [0.0, np.nan]), "log_lambda", r"log_lambda\[1\]"),
        (lambda: virtual_evidence_update(_LP, _T, [np.inf, 0.0]), "log_lambda", r"log_lambda\[0\]"),
        (lambda: weak_label_loglik([0.0, 0.1], 1.0), "log_p_label", r"log_p_label\[1\]"),
        (lambda: weak_label_loglik([0.0], -1.0), "strength", "strength = -1"),
        (lambda: weak_label_shifted_loglik([0.0, 0.1], 1.0), "log_p_label", r"log_p_label\[1\]"),
        (lambda: weak_label_shifted_loglik([0.0], -1.0), "strength", "strength = -1"),
        (lambda: weak_label_update(_LP, [0.0, 0.1], 1.0), "log_p_label", r"log_p_label\[1\]"),
        (lambda: weak_label_update(_LP, [0.0, -1.0], -1.0), "strength", "strength = -1"),
        (lambda: weak_label_update(np.log([0.2, 0.3, 0.5]), [0.0, -1.0], 1.0), "log_prior", "log_prior and log_p_label disagree"),
        (lambda: jeffrey_likelihood(_LP, [-0.5, -0.5], [0.5, 0.5]), "log_probs", "log_probs must be 2-D"),
        (lambda: jeffrey_likelihood(_LP, [[0.5, 0.0], [0.0, 0.0]], [0.5, 0.5]), "log_probs", r"log_probs\[0, 0\]"),
        (lambda: jeffrey_likelihood(np.log([0.2, 0.3, 0.5]), _T, [0.5, 0.5]), "log_prior", "log_prior and log_probs disagree"),
        (lambda: tempered_update(_LP, _T[:, 0], -1.0), "weight", "weight = -1"),
        (lambda: tempered_update(_LP, [0.0, 0.1], 1.0), "loglik", r"loglik\[1\]"),
        (lambda: tempered_update(np.log([0.2, 0.3, 0.5]), _T[:, 0], 1.0), "log_prior", "log_prior and loglik disagree"),
        (lambda: condition(_LP, [[[0.1, 0.0]], [[0.0, 0.0]]], [0], [0]), "log_probs", r"log_probs\[0, 0, 0\]"),
    ],
)
def test_each_update_names_the_bad_argument(call, argument, match):
    with pytest.raises(ValidationError, match=match) as err:
        call()
    assert err.value.argument == argument


def test_empty_weak_label_inputs_give_empty_terms():
    assert weak_label_loglik([], 1.0).shape == (0,)
    assert weak_label_shifted_loglik([], 40.0).shape == (0,)


def test_virtual_evidence_that_every_hypothesis_rules_out_is_named_in_the_error():
    table = _log([[0.0, 1.0], [0.0, 1.0]])  # no hypothesis can emit label 0
    with pytest.raises(ImpossibleEvidenceError, match="every hypothesis gives the virtual evidence probability 0"):
        virtual_evidence_update(_LP, table, [0.0, -np.inf])  # lambda = (1, 0): "label 0 for sure"

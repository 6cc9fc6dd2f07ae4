"""Update rules against brute-force enumeration, identities and the influence bound."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import logsumexp

from bayes_w2s import (
    HypothesisSpace,
    ImpossibleEvidenceError,
    condition,
    hard_update,
    influence_distance,
    jeffrey_likelihood,
    jeffrey_update,
    tempered_update,
    virtual_evidence_update,
    weak_label_loglik,
    weak_label_update,
)

# An asymmetric space: 3 hypotheses, 2 contexts, 3 labels (a symmetric case hides sign bugs).
PROBS = np.array(
    [
        [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]],
        [[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]],
        [[0.05, 0.05, 0.9], [0.3, 0.4, 0.3]],
    ]
)
PRIOR = np.array([0.5, 0.3, 0.2])
LOG_PRIOR = np.log(PRIOR)
LOG_PROBS = np.log(PROBS)


def test_bayes_sequence_matches_brute_force_enumeration():
    contexts = np.array([0, 1, 1, 0, 1])
    labels = np.array([2, 0, 1, 0, 2])
    joint = PRIOR.copy()
    for z, y in zip(contexts, labels):
        joint = joint * PROBS[:, z, y]
    expected = joint / joint.sum()
    res = condition(LOG_PRIOR, LOG_PROBS, contexts, labels)
    np.testing.assert_allclose(np.exp(res.log_posterior), expected, rtol=1e-12)
    assert res.log_normalizer == pytest.approx(np.log(joint.sum()))


def test_virtual_evidence_matches_brute_force_over_unobserved_labels():
    """VE = summing over the unobserved true label y with weight lambda(y) (Pearl 1988)."""
    lam = [np.array([3.0, 1.0, 1.0]), np.array([1.0, 0.5, 2.0])]
    contexts = [0, 1]
    joint = np.zeros(3)
    for ys in itertools.product(range(3), repeat=2):
        w = PRIOR.copy()
        for z, y, l in zip(contexts, ys, lam):
            w = w * PROBS[:, z, y] * l[y]
        joint += w
    lp = LOG_PRIOR
    for z, l in zip(contexts, lam):
        lp = virtual_evidence_update(lp, LOG_PROBS[:, z], np.log(l)).log_posterior
    np.testing.assert_allclose(np.exp(lp), joint / joint.sum(), rtol=1e-12)


def test_weak_label_is_virtual_evidence_with_lambda_r_on_the_label():
    r = 4.0
    a = weak_label_update(LOG_PRIOR, LOG_PROBS[:, 1, 2], np.log(r)).log_posterior
    b = virtual_evidence_update(LOG_PRIOR, LOG_PROBS[:, 1], np.log([1, 1, r])).log_posterior
    np.testing.assert_allclose(a, b, rtol=1e-12)
    seq = condition(LOG_PRIOR, LOG_PROBS, [1], [2], rule="ve", strengths=np.log(r)).log_posterior
    np.testing.assert_allclose(seq, a, rtol=1e-12)


def test_ve_limits_r_to_one_and_infinity():
    lp = LOG_PROBS[:, 0, 1]
    np.testing.assert_allclose(weak_label_update(LOG_PRIOR, lp, 0.0).log_posterior, LOG_PRIOR, atol=1e-15)
    hard = hard_update(LOG_PRIOR, lp).log_posterior
    np.testing.assert_allclose(weak_label_update(LOG_PRIOR, lp, 60.0).log_posterior, hard, atol=1e-12)
    # huge strengths stay finite (no overflow of r = exp(s))
    assert np.all(np.isfinite(weak_label_loglik(lp, 800.0)))
    assert np.all(np.isfinite(weak_label_loglik(np.array([-np.inf, 0.0]), 5.0)))


def test_tempered_weight_one_is_bayes_and_zero_is_no_update():
    lp = LOG_PROBS[:, 1, 0]
    np.testing.assert_allclose(tempered_update(LOG_PRIOR, lp, 1.0).log_posterior, hard_update(LOG_PRIOR, lp).log_posterior)
    np.testing.assert_allclose(tempered_update(LOG_PRIOR, lp, 0.0).log_posterior, LOG_PRIOR, atol=1e-15)
    zero = np.array([np.log(0.5), -np.inf, np.log(0.2)])
    np.testing.assert_allclose(tempered_update(LOG_PRIOR, zero, 0.0).log_posterior, LOG_PRIOR, atol=1e-15)


def test_tempering_does_not_bound_influence_but_virtual_evidence_does():
    with_zero = np.log(np.array([0.5, 0.0, 0.5]))
    tempered = tempered_update(LOG_PRIOR, with_zero, 1e-3).log_posterior
    assert influence_distance(LOG_PRIOR, tempered) == np.inf  # any w > 0 removes the hypothesis
    ve = weak_label_update(LOG_PRIOR, with_zero, 1e-3).log_posterior
    assert influence_distance(LOG_PRIOR, ve) <= 1e-3 + 1e-15


def test_surviving_hypothesis_means_no_error():
    probs = np.log(np.array([[[1.0, 0.0]], [[0.5, 0.5]]]))
    res = condition(np.log([0.5, 0.5]), probs, [0, 0, 0, 0], [0, 0, 1, 0])
    np.testing.assert_allclose(np.exp(res.log_posterior), [0.0, 1.0])


def test_impossible_evidence_index_when_the_last_hypothesis_dies():
    probs = np.log(np.array([[[1.0, 0.0]], [[0.0, 1.0]]]))
    with pytest.raises(ImpossibleEvidenceError, match="observation 1") as err:
        condition(np.log([0.5, 0.5]), probs, [0, 0, 0], [0, 1, 0])
    assert err.value.index == 1
    with pytest.raises(ImpossibleEvidenceError):
        hard_update(np.log([0.5, 0.5]), [-np.inf, -np.inf])


def test_jeffrey_equals_virtual_evidence_on_a_fixed_case():
    target = np.array([0.2, 0.5, 0.3])
    a = jeffrey_update(LOG_PRIOR, LOG_PROBS[:, 0], target).log_posterior
    b = virtual_evidence_update(LOG_PRIOR, LOG_PROBS[:, 0], jeffrey_likelihood(LOG_PRIOR, LOG_PROBS[:, 0], target)).log_posterior
    np.testing.assert_allclose(a, b, rtol=1e-12)
    # the Jeffrey posterior has the target as its label marginal
    p_h_given_y = np.exp(LOG_PRIOR[:, None] + LOG_PROBS[:, 0] - logsumexp(LOG_PRIOR[:, None] + LOG_PROBS[:, 0], axis=0))
    np.testing.assert_allclose(np.exp(a), p_h_given_y @ target, rtol=1e-12)


prob_vectors = arrays(np.float64, 3, elements=st.floats(0.01, 1.0)).map(lambda v: v / v.sum())
tables = arrays(np.float64, (4, 3), elements=st.floats(0.0, 1.0)).filter(lambda t: np.all(t.sum(1) > 0.05)).map(
    lambda t: t / t.sum(axis=1, keepdims=True)
)
priors = arrays(np.float64, 4, elements=st.floats(0.01, 1.0)).map(lambda v: np.log(v / v.sum()))
strengths = st.floats(0.0, 30.0)


# Jeffrey's rule needs every targeted label possible under the prior (else it raises, tested
# above): draw tables whose every column has some mass (a column of zeros made this flaky)
tables_every_label_possible = tables.filter(lambda t: np.all(t.max(axis=0) > 1e-3))


@settings(max_examples=60, deadline=None)
@given(priors, tables_every_label_possible, prob_vectors)
def test_jeffrey_equals_virtual_evidence_property(log_prior, table, target):
    with np.errstate(divide="ignore"):
        log_table = np.log(table)
    a = jeffrey_update(log_prior, log_table, target).log_posterior
    b = virtual_evidence_update(log_prior, log_table, jeffrey_likelihood(log_prior, log_table, target)).log_posterior
    np.testing.assert_allclose(np.exp(a), np.exp(b), atol=1e-10)


@settings(max_examples=60, deadline=None)
@given(priors, tables, st.lists(st.tuples(st.integers(0, 2), strengths), min_size=2, max_size=6), st.randoms())
def test_virtual_evidence_updates_commute(log_prior, table, obs, rnd):
    with np.errstate(divide="ignore"):
        log_table = np.log(table)
    order = list(range(len(obs)))
    rnd.shuffle(order)

    def run(seq):
        lp = log_prior
        for i in seq:
            y, s = obs[i]
            lp = weak_label_update(lp, log_table[:, y], s).log_posterior
        return lp

    np.testing.assert_allclose(np.exp(run(range(len(obs)))), np.exp(run(order)), atol=1e-10)


@settings(max_examples=100, deadline=None)
@given(priors, tables, st.integers(0, 2), strengths, st.integers(0, 3), st.integers(0, 3))
def test_influence_bound_holds_for_every_update(log_prior, table, y, s, a, b):
    """D(prior, post) <= log r, hence every odds ratio moves by at most a factor r."""
    with np.errstate(divide="ignore"):
        log_table = np.log(table)
    post = weak_label_update(log_prior, log_table[:, y], s).log_posterior
    d = influence_distance(log_prior, post)
    assert d <= s + 1e-9
    log_odds_change = (post[a] - post[b]) - (log_prior[a] - log_prior[b])
    assert abs(log_odds_change) <= d + 1e-9


@settings(max_examples=40, deadline=None)
@given(priors, tables, arrays(np.float64, 3, elements=st.floats(0.01, 100.0)))
def test_general_ve_bound_is_log_lambda_ratio(log_prior, table, lam):
    with np.errstate(divide="ignore"):
        log_table = np.log(table)
    post = virtual_evidence_update(log_prior, log_table, np.log(lam)).log_posterior
    assert influence_distance(log_prior, post) <= np.log(lam.max() / lam.min()) + 1e-9


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0, 1], [0]), "one length"),
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0, 2], [0, 0]), "context indices"),
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0, 1], [0, 3]), "label indices"),
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0], [0], rule="soft"), "unknown rule"),
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0], [0], rule="ve"), "needs strengths"),
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0], [0], rule="ve", strengths=-1.0), "non-negative"),
        (lambda: condition(LOG_PRIOR, LOG_PROBS, [0], [0], rule="bayes", strengths=1.0), "takes no strengths"),
        (lambda: condition(LOG_PRIOR[:2], LOG_PROBS, [0], [0]), "hypotheses"),
        (lambda: tempered_update(LOG_PRIOR, LOG_PROBS[:, 0, 0], -0.5), "non-negative"),
        (lambda: virtual_evidence_update(LOG_PRIOR, LOG_PROBS[:, 0], [-np.inf] * 3), "all zeros"),
        (lambda: jeffrey_update(LOG_PRIOR, LOG_PROBS[:, 0], [0.5, 0.6, 0.1]), "probability vector"),
        (lambda: hard_update([np.nan, 0.0, 0.0], [0.0, 0.0, 0.0]), "log_prior"),
    ],
)
def test_bad_input_raises_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_jeffrey_target_on_an_impossible_label_is_rejected():
    table = np.log(np.array([[0.5, 0.5, 0.0], [0.3, 0.7, 0.0]]))
    with pytest.raises(ImpossibleEvidenceError, match="impossible"):
        jeffrey_update(np.log([0.5, 0.5]), table, [0.2, 0.2, 0.6])


def test_space_round_trip():
    space = HypothesisSpace(PROBS)
    np.testing.assert_allclose(space.log_probs, LOG_PROBS)


def test_condition_takes_a_schedule_for_per_observation_strengths():
    from bayes_w2s import PSeries

    contexts, labels = [0, 1, 1], [2, 0, 1]
    sched = PSeries(c=2, p=2)
    a = condition(LOG_PRIOR, LOG_PROBS, contexts, labels, rule="ve", strengths=sched)
    b = condition(LOG_PRIOR, LOG_PROBS, contexts, labels, rule="ve", strengths=sched.strengths(3))
    np.testing.assert_array_equal(a.log_posterior, b.log_posterior)
    assert influence_distance(LOG_PRIOR, a.log_posterior) <= sched.total(3) + 1e-12

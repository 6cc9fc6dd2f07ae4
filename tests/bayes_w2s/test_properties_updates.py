"""Update rules against a brute-force reference: one observation at a time, in plain numpy
(issue 18: mutation testing).

``condition`` sums terms per (context, label) category and per distinct strength, switches
to a shifted form above strength 30, and reports ``log Z``; each path is compared with the
product of per-observation factors ``prior(h) prod_i f_i(h)`` evaluated directly, with three
labels, asymmetric priors and strengths that vary across observations.
"""

from __future__ import annotations

import math

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
from bayes_w2s.core.validation import ValidationError

SETTINGS = settings(max_examples=30, deadline=None, derandomize=True, database=None)


def _world(seed, h=4, z=3, k=3):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=(h, z))
    lp = np.log(rng.dirichlet(np.ones(h)))
    return rng, probs, lp


def _reference(lp, probs, zs, ys, rule, s):
    """``(log posterior, log Z)`` from per-observation factors, in float64 loops."""
    log_w = lp.copy()
    for i, (z, y) in enumerate(zip(zs, ys)):
        p = probs[:, z, y]
        if rule == "bayes":
            log_w = log_w + np.log(p)
        elif rule == "tempered":
            log_w = log_w + s[i] * np.log(p)
        else:
            log_w = log_w + np.log1p(np.expm1(s[i]) * p) if s[i] <= 30 else log_w + s[i] + np.log(p + np.exp(-s[i]) * (1 - p))
    log_z = logsumexp(log_w)
    return log_w - log_z, log_z


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 15), rule=st.sampled_from(["bayes", "ve", "tempered"]),
       scale=st.sampled_from([0.3, 3.0, 45.0]), same=st.booleans())
def test_condition_equals_sequential_factors(seed, n, rule, scale, same):
    rng, probs, lp = _world(seed)
    zs, ys = rng.integers(0, 3, n), rng.integers(0, 3, n)
    s = np.full(n, scale) if same else rng.uniform(0, scale, n)
    strengths = None if rule == "bayes" else s
    if rule == "tempered" and scale > 10:
        s, strengths = s / 10, s / 10
    post, log_z = _reference(lp, probs, zs, ys, rule, s)
    res = condition(lp, np.log(probs), zs, ys, rule=rule, strengths=strengths)
    np.testing.assert_allclose(res.log_posterior, post, atol=1e-9)
    assert float(res.log_normalizer) == pytest.approx(log_z, rel=1e-9, abs=1e-9)
    ll = observation_logliks(np.log(probs), zs, ys, rule=rule, strengths=strengths)
    assert ll.shape == (n, 4)
    np.testing.assert_allclose(normalize(lp + ll.sum(0)).log_posterior, post, atol=1e-8)


def test_condition_with_a_batch_of_priors_and_a_two_dimensional_table():
    rng, probs, _ = _world(1, z=1)
    lps = np.log(rng.dirichlet(np.ones(4), size=3))  # (3, H)
    zs, ys = np.zeros(5, int), rng.integers(0, 3, 5)
    res = condition(lps, np.log(probs[:, 0]), zs, ys, rule="ve", strengths=1.5)
    for b in range(3):
        post, log_z = _reference(lps[b], probs, zs, ys, "ve", np.full(5, 1.5))
        np.testing.assert_allclose(res.log_posterior[b], post, atol=1e-10)
        assert res.log_normalizer[b] == pytest.approx(log_z)


def test_impossible_evidence_names_the_first_killing_observation():
    probs = np.array([[[1.0, 0.0, 0.0]], [[0.5, 0.0, 0.5]], [[0.0, 0.5, 0.5]]])
    lp = np.log([0.2, 0.3, 0.5])
    # obs 0 (label 0) kills h2, obs 1 (label 2) kills h0, obs 2 (label 1) kills h1: first dead end at 2
    with pytest.raises(ImpossibleEvidenceError, match=r"observation 2 \(context 0, label 1\)") as err:
        condition(lp, np.log(probs), [0, 0, 0, 0], [0, 2, 1, 0])
    assert err.value.index == 2
    # a zero prior hypothesis counts as dead from the start
    with pytest.raises(ImpossibleEvidenceError) as err:
        condition(np.log([0.0, 0.5, 0.5]), np.log(probs), [0, 0], [1, 0])
    assert err.value.index == 1
    # tempering with weight 0 on an impossible label is 0 log 0 = 0: no update at all
    res = condition(lp, np.log(probs), [0], [1], rule="tempered", strengths=[0.0])
    np.testing.assert_allclose(res.log_posterior, lp - logsumexp(lp), atol=1e-12)
    assert float(res.log_normalizer) == pytest.approx(0.0, abs=1e-12)
    # and a positive weight removes the hypotheses that give it probability 0
    res = condition(lp, np.log(probs), [0], [1], rule="tempered", strengths=[0.5])
    assert np.all(np.isneginf(res.log_posterior[:2])) and res.log_posterior[2] == 0.0
    # virtual evidence never rules a hypothesis out
    res = condition(lp, np.log(probs), [0, 0], [1, 2], rule="ve", strengths=[40.0, 2.0])
    assert np.all(np.isfinite(res.log_posterior))


def test_single_updates_match_their_formulas():
    rng, probs, lp = _world(7)
    table = np.log(probs[:, 1])  # (H, K) at one context
    lam = np.log([2.0, 0.5, 1.0])
    want = lp + np.log((probs[:, 1] * np.exp(lam)).sum(1))
    res = virtual_evidence_update(lp, table, lam)
    np.testing.assert_allclose(res.log_posterior, want - logsumexp(want))
    assert float(res.log_normalizer) == pytest.approx(logsumexp(want))
    res = virtual_evidence_update(lp, table, lam + 100.0)  # only ratios matter for the posterior
    np.testing.assert_allclose(res.log_posterior, want - logsumexp(want))
    assert float(res.log_normalizer) == pytest.approx(logsumexp(want) + 100.0)
    res = hard_update(lp, table[:, 2])
    np.testing.assert_allclose(res.log_posterior, lp + table[:, 2] - logsumexp(lp + table[:, 2]))
    res = tempered_update(lp, table[:, 2], 0.4)
    np.testing.assert_allclose(res.log_posterior, lp + 0.4 * table[:, 2] - logsumexp(lp + 0.4 * table[:, 2]))
    for s in (0.0, 0.7, 35.0):
        res = weak_label_update(lp, table[:, 0], s)
        want = lp + np.log(1 + np.expm1(s) * probs[:, 1, 0]) if s < 30 else lp + s + np.log(probs[:, 1, 0] + np.exp(-s) * (1 - probs[:, 1, 0]))
        np.testing.assert_allclose(res.log_posterior, want - logsumexp(want), atol=1e-12)
        assert float(res.log_normalizer) == pytest.approx(logsumexp(want), rel=1e-12)
    with pytest.raises(ValidationError, match="scalar"):
        weak_label_update(lp, table[:, 0], [1.0, 2.0])


@pytest.mark.parametrize("s", [0.0, 1e-3, 2.0, 29.0, 31.0, 200.0])
def test_weak_label_logliks_on_both_sides_of_the_direct_branch(s):
    p = np.array([0.0, 1e-9, 0.3, 1.0])
    with np.errstate(divide="ignore"):
        lp = np.log(p)
    plain = weak_label_loglik(lp, s)
    want = s + np.log(p + np.exp(-s) * (1 - p))  # log(1 + (e^s - 1) p), stably
    np.testing.assert_allclose(plain, want, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(weak_label_shifted_loglik(lp, s), want - s, rtol=1e-10, atol=1e-12)
    assert np.all(weak_label_shifted_loglik(lp, s) <= 0)


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 4))
def test_jeffrey_update_is_a_mixture_of_per_label_posteriors(seed, k):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(k), size=4)  # (H, K)
    prior = rng.dirichlet(np.ones(4))
    q = rng.dirichlet(np.ones(k))
    q[0] = 0.0
    q /= q.sum()
    marg = prior @ probs  # (K,)
    want = sum(q[y] * prior * probs[:, y] / marg[y] for y in range(k))
    res = jeffrey_update(np.log(prior), np.log(probs), q)
    np.testing.assert_allclose(np.exp(res.log_posterior), want, atol=1e-12)
    lam = jeffrey_likelihood(np.log(prior), np.log(probs), q)
    assert lam[0] == -np.inf
    np.testing.assert_allclose(lam[1:], np.log(q[1:] / marg[1:]))
    ve = virtual_evidence_update(np.log(prior), np.log(probs), lam)
    np.testing.assert_allclose(ve.log_posterior, res.log_posterior, atol=1e-10)
    assert float(res.log_normalizer) == pytest.approx(float(ve.log_normalizer), abs=1e-10)


def test_jeffrey_target_on_an_impossible_label_and_a_zero_marginal():
    probs = np.array([[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]])
    prior = np.log([0.5, 0.5])
    with pytest.raises(ImpossibleEvidenceError, match="impossible"):
        jeffrey_likelihood(prior, np.log(probs), [0.5, 0.0, 0.5])
    lam = jeffrey_likelihood(prior, np.log(probs), [0.3, 0.7, 0.0])
    assert lam[2] == -np.inf and np.isfinite(lam[:2]).all()
    with pytest.raises(ValidationError, match="1-D"):
        jeffrey_likelihood(np.log([[0.5, 0.5]]), np.log(probs), [0.3, 0.7, 0.0])


def test_update_input_errors_name_the_argument():
    lp = np.log([0.5, 0.5])
    table = np.log([[0.5, 0.5], [0.9, 0.1]])
    cases = [
        (lambda: condition(lp, table, [0], [0], rule="ve"), "strengths", "needs strengths"),
        (lambda: condition(lp, table, [0], [0], strengths=1.0), "strengths", "takes no strengths"),
        (lambda: condition(lp, table, [0], [0], rule="magic"), "rule", "unknown rule"),
        (lambda: condition(lp, table, [0, 0], [0, 1], rule="ve", strengths=[1.0, 2.0, 3.0]), "strengths", r"\(2,\)"),
        (lambda: condition(lp, table, [0, 0], [0], rule="bayes"), "contexts", "one length"),
        (lambda: condition(lp, table, "ab", [0], rule="bayes"), "contexts", "not strings"),
        (lambda: condition(lp, table, [0], [2]), "labels", "label indices"),
        (lambda: condition(lp, table, [1], [0]), "contexts", "context indices"),
        (lambda: virtual_evidence_update(lp, table, [0.0]), "log_lambda", "1 entries, log_probs 2 labels"),
        (lambda: virtual_evidence_update(lp, table, [-np.inf, -np.inf]), "log_lambda", "all -inf"),
        (lambda: normalize([0.0, np.nan]), "log_weights", "NaN"),
        (lambda: normalize([0.0, np.inf]), "log_weights", r"\+inf"),
    ]
    for call, argument, match in cases:
        with pytest.raises(ValidationError, match=match) as err:
            call()
        assert err.value.argument == argument, match
    with pytest.raises(ImpossibleEvidenceError, match="the evidence probability 0"):
        normalize([-np.inf, -np.inf])
    res = condition(lp, table, [0, 0], [1, 1], rule="ve", strengths=2.0)  # a scalar strength broadcasts
    np.testing.assert_allclose(res.log_posterior, condition(lp, table, [0, 0], [1, 1], rule="ve", strengths=[2.0, 2.0]).log_posterior)
    assert math.isfinite(float(res.log_normalizer))

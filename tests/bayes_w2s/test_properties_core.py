"""Property tests of the core against brute-force references (issue 18: mutation testing).

Each test pins a behaviour that a mutant of the core survived: multi-class metrics (not their
binary special case), Kendall's tau-b on ties, asymmetric priors and label tables, boundaries.
Hypothesis runs derandomized (fixed examples, same in every process).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.core.asymptotics import beta_bernoulli_posterior, kl_projection
from bayes_w2s.core.hypotheses import HypothesisSpace, Model, containment
from bayes_w2s.core.labels import label_sampler, sample_labels
from bayes_w2s.core.metrics import accuracy, agreement, influence_distance, kl_divergence, pgr, posterior_mass
from bayes_w2s.core.preferences import (
    all_pairs,
    bt_log_probs,
    kendall_tau,
    order_table,
    pairwise_accuracy,
    predictive_accuracy,
    true_order,
)

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def _probs(rng, shape, k):
    p = rng.dirichlet(np.ones(k), size=shape)
    return p


# --- metrics ------------------------------------------------------------------------------

@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), k=st.integers(3, 6))
def test_accuracy_is_argmax_agreement_for_any_number_of_classes(seed, n, k):
    rng = np.random.default_rng(seed)
    probs = rng.random((n, k))
    labels = rng.integers(0, k, n)
    expected = sum(int(max(range(k), key=lambda j: (probs[i, j], -j)) == labels[i]) for i in range(n)) / n
    assert accuracy(probs, labels) == pytest.approx(expected)


def test_accuracy_three_classes_where_the_binary_reading_differs():
    probs = np.array([[0.2, 0.3, 0.5], [0.5, 0.1, 0.4], [0.1, 0.6, 0.3]])
    assert accuracy(probs, [2, 0, 1]) == 1.0
    assert accuracy(probs, [1, 2, 0]) == 0.0
    assert accuracy([[0.4, 0.4, 0.2]], [0]) == 1.0  # ties go to the first maximal class


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 20))
def test_agreement_counts_equal_positions(seed, n):
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, 4, n), rng.integers(0, 4, n)
    assert agreement(a, b) == pytest.approx(sum(x == y for x, y in zip(a, b)) / n)


@SETTINGS
@given(seed=st.integers(0, 10_000), k=st.integers(2, 6), rows=st.integers(1, 4))
def test_kl_divergence_matches_the_sum_over_labels(seed, k, rows):
    rng = np.random.default_rng(seed)
    p, q = _probs(rng, rows, k), _probs(rng, rows, k)
    p[0, 0] = 0.0  # a zero in p contributes nothing
    p[0] /= p[0].sum()
    expected = [sum(pi * math.log(pi / qi) for pi, qi in zip(p[r], q[r]) if pi > 0) for r in range(rows)]
    np.testing.assert_allclose(kl_divergence(p, q), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(kl_divergence(p.T, q.T, axis=0), expected, rtol=1e-10, atol=1e-12)
    assert kl_divergence(p[0], p[0]) == pytest.approx(0.0, abs=1e-12)


@SETTINGS
@given(seed=st.integers(0, 10_000), h=st.integers(2, 6))
def test_influence_distance_is_the_log_ratio_range(seed, h):
    rng = np.random.default_rng(seed)
    p, q = np.log(rng.dirichlet(np.ones(h))), np.log(rng.dirichlet(np.ones(h)))
    ratios = [qi - pi for pi, qi in zip(p, q)]
    assert influence_distance(p, q) == pytest.approx(max(ratios) - min(ratios))
    assert influence_distance(p + 3.0, q - 1.0) == pytest.approx(max(ratios) - min(ratios))  # ratios only
    # -inf in both ignores the hypothesis; in one only gives inf
    p2, q2 = np.append(p, -np.inf), np.append(q, -np.inf)
    assert influence_distance(p2, q2) == pytest.approx(max(ratios) - min(ratios))
    assert influence_distance(np.append(p, 0.0), q2) == np.inf
    batch = influence_distance(np.stack([p, q]), np.stack([q, p]))
    np.testing.assert_allclose(batch, [max(ratios) - min(ratios)] * 2)


@SETTINGS
@given(seed=st.integers(0, 10_000), h=st.integers(2, 7))
def test_posterior_mass_sums_the_chosen_hypotheses(seed, h):
    rng = np.random.default_rng(seed)
    post = rng.dirichlet(np.ones(h), size=2)
    pick = sorted(set(rng.integers(0, h, 3).tolist()))
    np.testing.assert_allclose(posterior_mass(np.log(post), pick), post[:, pick].sum(1))
    mask = np.zeros(h, bool)
    mask[pick] = True
    np.testing.assert_allclose(posterior_mass(np.log(post), mask), post[:, pick].sum(1))


@SETTINGS
@given(w=st.floats(0, 0.9), lift=st.floats(0.01, 0.1), frac=st.floats(-1, 2))
def test_pgr_recovers_the_fraction_of_the_gap(w, lift, frac):
    c = w + lift
    s = min(max(w + frac * lift, 0.0), 1.0)
    assert pgr(w, s, c) == pytest.approx((s - w) / (c - w))
    out = pgr(np.array([w, w]), np.array([s, c]), c)
    np.testing.assert_allclose(out, [(s - w) / (c - w), 1.0])


# --- preferences: Kendall's tau-b on ties, pairwise accuracy -----------------------------

def _tau_b(x, y):
    """Kendall (1945) tau-b by enumeration of item pairs."""
    conc = disc = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        if dx == 0 and dy == 0:
            continue
        if dx == 0:
            tx += 1
        elif dy == 0:
            ty += 1
        elif dx == dy:
            conc += 1
        else:
            disc += 1
    return (conc - disc) / math.sqrt((conc + disc + tx) * (conc + disc + ty))


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(3, 9))
def test_kendall_tau_is_tau_b_with_ties_on_both_sides(seed, n):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, n).astype(float)  # few values: many ties
    truth = rng.integers(0, 3, n).astype(float)
    if np.ptp(scores) == 0 or np.ptp(truth) == 0:
        scores[0], scores[1], truth[0], truth[1] = 0.0, 2.0, 0.0, 2.0
    assert kendall_tau(scores, truth) == pytest.approx(_tau_b(scores, truth))
    stacked = kendall_tau(np.stack([scores, truth, np.zeros(n)]), truth)
    np.testing.assert_allclose(stacked[:2], [_tau_b(scores, truth), 1.0])
    assert np.isnan(stacked[2])  # a constant score has no rank correlation


def test_kendall_tau_with_ties_differs_from_tau_c():
    scores = np.array([1.0, 1.0, 2.0, 3.0, 3.0, 4.0])
    truth = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    assert kendall_tau(scores, truth) == pytest.approx(_tau_b(scores, truth))
    assert kendall_tau(scores, truth) == pytest.approx(13 / math.sqrt(13 * 15))


@SETTINGS
@given(seed=st.integers(0, 10_000), n_items=st.integers(2, 6))
def test_pairwise_accuracy_scores_decisions_and_ties(seed, n_items):
    rng = np.random.default_rng(seed)
    pairs = all_pairs(n_items)
    u = rng.integers(0, 3, n_items).astype(float)  # tied utilities occur
    truth = true_order(u, pairs)
    for (a, b), t in zip(pairs, truth):
        assert t == (1.0 if u[a] > u[b] else 0.0 if u[a] < u[b] else 0.5)
    p = rng.choice([0.1, 0.5, 0.9, 0.7], size=len(pairs))
    dec = np.where(p == 0.5, 0.5, (p > 0.5).astype(float))
    expected = np.mean([1 - abs(d - t) for d, t in zip(dec, truth)])
    assert pairwise_accuracy(p, truth) == pytest.approx(expected)
    np.testing.assert_allclose(order_table(u[None], pairs)[0], [int(u[a] > u[b]) for a, b in pairs])


def test_bradley_terry_log_probs_and_predictive_accuracy_are_asymmetric():
    u = np.array([[0.0, 1.0, 3.0], [2.0, 0.0, -1.0]])
    pairs = np.array([[0, 1], [2, 0], [1, 2]])
    lp = bt_log_probs(u, pairs)
    for h in range(2):
        for i, (a, b) in enumerate(pairs):
            assert math.exp(lp[h, i, 1]) == pytest.approx(1 / (1 + math.exp(-(u[h, a] - u[h, b]))))
            assert math.exp(lp[h, i, 0]) == pytest.approx(1 / (1 + math.exp(u[h, a] - u[h, b])))
    truth = true_order(u[0], pairs)
    post = np.log([0.8, 0.2])
    p_a = 0.8 * np.exp(lp[0, :, 1]) + 0.2 * np.exp(lp[1, :, 1])
    assert predictive_accuracy(post, lp, truth) == pytest.approx(pairwise_accuracy(p_a, truth))


# --- labels: the inverse CDF, per-token vs per-sequence, asymmetric priors ----------------

def _three_label_model():
    probs = np.array([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], [[0.05, 0.15, 0.8], [0.6, 0.3, 0.1]]])
    return Model(HypothesisSpace(probs), prior=[0.25, 0.75])


def test_per_token_three_label_frequencies_follow_the_predictive():
    model = _three_label_model()
    n = 60_000
    y = sample_labels(model, np.repeat([0, 1], n), np.random.default_rng(0))
    pred = model.predictive()
    for z in (0, 1):
        freq = np.bincount(y[z * n:(z + 1) * n], minlength=3) / n
        np.testing.assert_allclose(freq, pred[z], atol=0.01)
    _, y2 = label_sampler(model, np.random.default_rng(1), 2, context_probs=[1.0, 0.0])(n // 2)
    np.testing.assert_allclose(np.bincount(y2.ravel(), minlength=3) / n, pred[0], atol=0.01)


def test_per_sequence_draws_follow_the_prior_and_one_hypothesis_each():
    model = _three_label_model()
    rng = np.random.default_rng(2)
    firsts = []
    for _ in range(400):  # sample_labels draws one hypothesis per call
        y = sample_labels(model, np.zeros(30, int), rng, mode="per-sequence")
        firsts.append(np.bincount(y, minlength=3))
    counts = np.array(firsts)  # (400, 3): mostly label 0 (h0, w 0.25) or label 2 (h1, w 0.75)
    share_h1 = np.mean(counts[:, 2] > counts[:, 0])
    assert abs(share_h1 - 0.75) < 0.07
    draw = label_sampler(model, np.random.default_rng(3), 2000, mode="per-sequence")
    z, y = draw(40)
    h1 = (y == 2).sum(1) > (y == 0).sum(1)
    assert abs(h1.mean() - 0.75) < 0.04
    assert z.shape == (2000, 40) and set(np.unique(z)) == {0, 1}  # two contexts: uniform draws


def test_inverse_cdf_boundaries_are_left_closed():
    model = Model(HypothesisSpace([[0.5, 0.0, 0.5]]))
    y = sample_labels(model, np.zeros(2000, int), np.random.default_rng(5))
    assert set(np.unique(y)) == {0, 2}  # a zero-probability label is never drawn
    certain = Model(HypothesisSpace([[0.0, 0.0, 1.0]]))
    assert np.all(sample_labels(certain, np.zeros(50, int), np.random.default_rng(6)) == 2)


@pytest.mark.parametrize(
    "call, name, text",
    [
        (lambda m: label_sampler(m, np.random.default_rng(0), 0), "n_replicates", "positive integer"),
        (lambda m: label_sampler(m, np.random.default_rng(0), 1, context_probs=[0.5, 0.6]), "context_probs", "sums"),
        (lambda m: label_sampler(m, np.random.default_rng(0), 1)(-1), "n", "non-negative integer"),
        (lambda m: sample_labels(m, [0, 5], np.random.default_rng(0)), "contexts", "context indices in [0, 2)"),
        (lambda m: sample_labels(m, [0.5], np.random.default_rng(0)), "contexts", "integer context indices"),
    ],
)
def test_label_errors_name_the_argument(call, name, text):
    with pytest.raises(ValueError) as err:
        call(_three_label_model())
    assert err.value.argument == name
    assert str(err.value).startswith((f"{name} ", f"{name}[")) and text in str(err.value)


def test_label_sampler_draws_zero_labels_and_single_context_without_draws():
    model = _three_label_model()
    z, y = label_sampler(model, np.random.default_rng(0), 3)(0)
    assert z.shape == y.shape == (3, 0)
    one = Model(HypothesisSpace(model.space.probs[:, :1]), prior=[0.25, 0.75])
    a = label_sampler(one, np.random.default_rng(9), 2)
    b = label_sampler(one, np.random.default_rng(9), 2, context_probs=[1.0])
    np.testing.assert_array_equal(a(50)[1], b(50)[1])  # one context: no context draw either way


# --- hypotheses and asymptotics -------------------------------------------------------------

def test_model_predictive_and_containment_with_three_labels():
    weak = _three_label_model()
    mix = weak.predictive()
    np.testing.assert_allclose(mix, 0.25 * weak.space.probs[0] + 0.75 * weak.space.probs[1])
    strong = Model(HypothesisSpace(np.stack([weak.space.probs[1], mix, weak.space.probs[0] * 0 + 1 / 3])))
    report = containment(strong, weak)
    assert report.matches == (None, 0) and report.mixture_match == 1
    assert report.unmatched == ("hypothesis0",) and not report.contains_all and report.represents_mixture
    close = Model(HypothesisSpace(weak.space.probs + np.array([0, 1e-7, -1e-7])))
    assert containment(close, weak).matches == (None, None)
    assert containment(close, weak, atol=1e-6).matches == (0, 1)


@SETTINGS
@given(seed=st.integers(0, 10_000), h=st.integers(2, 5), z=st.integers(1, 3), k=st.integers(2, 4))
def test_kl_projection_matches_the_weighted_sum(seed, h, z, k):
    rng = np.random.default_rng(seed)
    space = HypothesisSpace(rng.dirichlet(np.ones(k), size=(h, z)))
    q = rng.dirichlet(np.ones(k), size=z)
    mu = rng.dirichlet(np.ones(z))
    proj = kl_projection(space, q, mu)
    expected = [sum(mu[c] * sum(q[c, y] * math.log(q[c, y] / space.probs[j, c, y]) for y in range(k))
                    for c in range(z)) for j in range(h)]
    np.testing.assert_allclose(proj.kl, expected, rtol=1e-9)
    assert proj.index == (int(np.argmin(expected)),)


def test_kl_projection_lists_ties_and_default_context_weights():
    space = HypothesisSpace([[[0.9, 0.1], [0.5, 0.5]], [[0.5, 0.5], [0.9, 0.1]], [[0.1, 0.9], [0.1, 0.9]]])
    assert kl_projection(space, [[0.2, 0.8], [0.2, 0.8]]).index == (2,)
    proj = kl_projection(space, [[0.7, 0.3], [0.7, 0.3]])  # h0 and h1 mirror each other: a tie
    assert proj.index == (0, 1)
    assert kl_projection(space, [[0.7, 0.3], [0.7, 0.3]], [0.8, 0.2]).index == (1,)
    assert kl_projection(space, [[0.7, 0.3], [0.7, 0.3]], [0.2, 0.8]).index == (0,)


def test_beta_bernoulli_weighted_counts_and_moments():
    post = beta_bernoulli_posterior(2.0, 3.0, np.array([1, 0, 1, 1]), np.array([0.5, 2.0, 1.0, 0.0]))
    assert (post.a, post.b) == (3.5, 5.0)
    assert post.mean == pytest.approx(3.5 / 8.5)
    assert post.sd == pytest.approx(math.sqrt(3.5 * 5.0 / (8.5**2 * 9.5)))
    lo, hi = post.interval(0.9)
    from scipy import stats

    assert (lo, hi) == pytest.approx(stats.beta.interval(0.9, 3.5, 5.0))
    assert beta_bernoulli_posterior(1.0, 1.0, np.array([], int)) == (1.0, 1.0)

"""Issue 16: the preference helpers refuse NaN, out-of-range, unnormalized and float-index
input instead of returning a number (asymmetric and multi-hypothesis cases)."""

import numpy as np
import pytest

from bayes_w2s.core.metrics import posterior_mass
from bayes_w2s.core.preferences import (
    all_pairs,
    bt_log_probs,
    expected_utility,
    kendall_tau,
    pairwise_accuracy,
    predictive_accuracy,
    random_pairs,
    reference_pairs,
    true_order,
)
from bayes_w2s.core.validation import ValidationError

U = np.array([[0.0, 1.3, 2.9, -0.4], [2.0, -1.0, 0.5, 0.1], [0.3, 0.2, -2.0, 1.1]])  # (3 hyps, 4 items)
PAIRS = np.array([[0, 1], [2, 0], [3, 1], [1, 2]])
TRUTH = true_order(U[0], PAIRS)
LOG_POST = np.log(np.array([0.6, 0.3, 0.1]))


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: pairwise_accuracy([0.7, np.nan, 0.2, 0.9], TRUTH), "p_a[1] = nan"),
        (lambda: pairwise_accuracy([0.7, 1.4, 0.2, 0.9], TRUTH), "p_a[1] = 1.4"),
        (lambda: pairwise_accuracy([0.7, -0.1, 0.2, 0.9], TRUTH), "p_a[1] = -0.1"),
        (lambda: pairwise_accuracy([0.7, 0.4, 0.2, 0.9], [1, 0, 0.3, 1]), "truth[2] = 0.3"),
        (lambda: pairwise_accuracy([0.7, 0.4, 0.2], TRUTH), "disagree"),
        (lambda: predictive_accuracy(LOG_POST + 1.0, bt_log_probs(U, PAIRS), TRUTH), "log_posterior[0]"),
        (lambda: predictive_accuracy(LOG_POST - 1.0, bt_log_probs(U, PAIRS), TRUTH), "sums to 0.36787"),
        (lambda: predictive_accuracy([np.nan, -1.0, -2.0], bt_log_probs(U, PAIRS), TRUTH), "NaN"),
        (lambda: expected_utility([3.0, 3.0, 3.0], U), "log_posterior[0] = 3.0"),
        (lambda: expected_utility(np.log([0.2, 0.2, 0.2]), U), "sums to 0.6"),
        (lambda: expected_utility(np.log([0.5, 0.5]), U), "hypotheses"),
        (lambda: kendall_tau([0.1, np.nan, 0.3, 0.2], U[0]), "scores[1] = nan"),
        (lambda: kendall_tau([0.1, 0.2, 0.3, 0.4], [0.0, np.inf, 1.0, 2.0]), "true_utility[1] = inf"),
        (lambda: true_order([0.0, np.nan, 1.0, 2.0], PAIRS), "utility[1] = nan"),
        (lambda: random_pairs(np.random.default_rng(0), [3, 5, 3], 10), "repeats item 3"),
        (lambda: random_pairs(np.random.default_rng(0), [1.0, 2.5], 10), "integer item indices"),
        (lambda: random_pairs(np.random.default_rng(0), [1, 2], 2.5), "n_pairs"),
        (lambda: random_pairs(np.random.default_rng(0), [1, 2], 0), "n_pairs"),
        (lambda: reference_pairs([0.0, 1.7, 2.0], 5), "integer item indices"),
        (lambda: reference_pairs([0, 1, 2], 1), "cannot be compared with itself"),
        (lambda: reference_pairs([0, 1, 2], 4.0), "reference must be"),
        (lambda: bt_log_probs(U, PAIRS.astype(float) + 0.5), "integer item indices"),
        (lambda: all_pairs(2.5), "n_items"),
        (lambda: posterior_mass([0.0, 0.0, 0.0], [0]), "sums to 3"),
    ],
)
def test_refused_with_the_argument_named(call, fragment):
    with pytest.raises(ValidationError, match=None) as info:
        call()
    assert fragment in str(info.value), str(info.value)


def test_valid_asymmetric_multi_hypothesis_values_unchanged():
    lp = bt_log_probs(U, PAIRS)  # (3, 4, 2)
    p_a = np.exp(LOG_POST) @ np.exp(lp[..., 1])
    by_hand = np.mean([1 - abs(float(p > 0.5) - t) for p, t in zip(p_a, TRUTH)])
    assert predictive_accuracy(LOG_POST, lp, TRUTH) == pytest.approx(by_hand)
    eu = expected_utility(LOG_POST, U)
    centred = U - U.mean(axis=1, keepdims=True)
    np.testing.assert_allclose(eu, np.exp(LOG_POST) @ centred)
    assert kendall_tau(eu, U[0]) == pytest.approx(kendall_tau(eu, U[0] * 3 + 1))  # rank-only
    assert np.isnan(kendall_tau([1.0, 1.0, 1.0, 1.0], U[0]))  # constant scores: undefined, stated
    assert posterior_mass(LOG_POST, [0, 2]) == pytest.approx(0.7)


def test_random_pairs_never_pairs_an_item_with_itself():
    rng = np.random.default_rng(3)
    items = np.array([7, 2, 9])
    pairs = random_pairs(rng, items, 5000)
    assert np.all(pairs[:, 0] != pairs[:, 1]) and set(np.unique(pairs)) == {2, 7, 9}
    # uniform over the 6 ordered pairs of distinct items
    counts = np.unique(pairs, axis=0, return_counts=True)[1]
    assert counts.size == 6 and counts.min() > 700

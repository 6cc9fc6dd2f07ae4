"""Preference metrics against brute-force references, and their public boundaries
(issue 18, third mutation round).

Hypothesis properties compare ``true_order``, ``pairwise_accuracy``, ``predictive_accuracy``
and ``kendall_tau`` with plain double loops over pairs (ties included: tied utilities, tied
scores, coin-flip decisions). The boundary tests check that each helper refuses a bad input
with a :class:`ValidationError` whose ``argument`` is the public argument's name, and accepts
the values exactly on its boundary (a single item, item 0 as the reference, ``tol = 0``,
posteriors normalized only to within the tolerance).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.core.preferences import (
    all_pairs,
    bt_log_probs,
    check_pairs,
    expected_utility,
    kendall_tau,
    linear_utilities,
    order_table,
    pairwise_accuracy,
    predictive_accuracy,
    random_pairs,
    reference_pairs,
    true_order,
)

from ._refusal import refused as _refused

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)
RNG = np.random.default_rng




# ---------------------------------------------------------------- brute-force references


def _order_loop(u, pairs):
    return np.array([1.0 if u[a] > u[b] else 0.0 if u[a] < u[b] else 0.5 for a, b in pairs])


def _accuracy_loop(p_a, truth, tol):
    score = 0.0
    for p, t in zip(p_a, truth):
        decision = 0.5 if abs(p - 0.5) <= tol else (1.0 if p > 0.5 else 0.0)
        score += 1.0 - abs(decision - t)
    return score / len(truth)


def _tau_b_loop(x, y):
    """Kendall's tau-b by the definition: (C - D) / sqrt((n0 - n1)(n0 - n2))."""
    conc = disc = ties_x = ties_y = 0
    n = len(x)
    for i, j in itertools.combinations(range(n), 2):
        dx, dy = np.sign(x[i] - x[j]), np.sign(y[i] - y[j])
        ties_x += dx == 0
        ties_y += dy == 0
        conc += dx * dy > 0
        disc += dx * dy < 0
    n0 = n * (n - 1) / 2
    denom = math.sqrt((n0 - ties_x) * (n0 - ties_y))
    return (conc - disc) / denom if denom > 0 else math.nan


# utilities on a coarse grid so ties are frequent
_UTIL = st.lists(st.integers(-2, 2), min_size=2, max_size=7)


@SETTINGS
@given(u=_UTIL, seed=st.integers(0, 10_000))
def test_true_order_and_order_table_match_a_loop_with_ties(u, seed):
    u = np.array(u, float)
    pairs = random_pairs(RNG(seed), np.arange(u.size), 12)
    np.testing.assert_array_equal(true_order(u, pairs), _order_loop(u, pairs))
    strict = np.array([[1 if u[a] > u[b] else 0 for a, b in pairs]], np.int8)
    np.testing.assert_array_equal(order_table(u, pairs), strict)


@SETTINGS
@given(
    p=st.lists(st.sampled_from([0.0, 0.2, 0.5 - 1e-13, 0.5, 0.5 + 1e-13, 0.5 + 1e-6, 0.8, 1.0]),
               min_size=1, max_size=8),
    seed=st.integers(0, 10_000),
    tol=st.sampled_from([0.0, 1e-12, 1e-7, 0.25]),
)
def test_pairwise_accuracy_matches_a_double_loop(p, seed, tol):
    p = np.array(p)
    truth = RNG(seed).choice([0.0, 0.5, 1.0], size=p.size)
    got = pairwise_accuracy(p, truth, tol=tol)
    assert got == pytest.approx(_accuracy_loop(p, truth, tol), abs=1e-15)
    # a batch of rows: one accuracy per row, each the loop over that row's pairs
    rows = np.stack([p, 1.0 - p, np.full(p.size, 0.5)])
    np.testing.assert_allclose(pairwise_accuracy(rows, truth, tol=tol),
                               [_accuracy_loop(r, truth, tol) for r in rows], atol=1e-15)


@SETTINGS
@given(u=st.lists(st.integers(-3, 3), min_size=3, max_size=6), seed=st.integers(0, 10_000),
       w=st.lists(st.integers(0, 4), min_size=2, max_size=4))
def test_predictive_accuracy_is_the_accuracy_of_the_mixture_by_a_loop(u, seed, w):
    rng = RNG(seed)
    n = len(u)
    utilities = np.vstack([np.array(u, float)] + [rng.integers(-3, 4, n).astype(float) for _ in w[1:]])
    post = np.array(w, float) + 1.0
    post /= post.sum()
    pairs = all_pairs(n)
    truth = _order_loop(utilities[0], pairs)
    p_a = [sum(post[h] / (1.0 + math.exp(-(utilities[h, a] - utilities[h, b]))) for h in range(len(post)))
           for a, b in pairs]
    got = predictive_accuracy(np.log(post), bt_log_probs(utilities, pairs), truth)
    assert got == pytest.approx(_accuracy_loop(p_a, truth, 1e-12), abs=1e-12)


@SETTINGS
@given(x=st.lists(st.integers(-2, 2), min_size=2, max_size=7), seed=st.integers(0, 10_000))
def test_kendall_tau_is_tau_b_by_a_double_loop_with_ties(x, seed):
    x = np.array(x, float)
    y = RNG(seed).integers(-2, 3, x.size).astype(float)
    want = _tau_b_loop(x, y)
    got = kendall_tau(x, y)
    assert (math.isnan(got) and math.isnan(want)) or got == pytest.approx(want, abs=1e-12)
    batch = np.stack([x, y, np.zeros_like(x)])  # (3, n), the last row constant
    out = kendall_tau(batch, y)
    assert out.shape == (3,)
    for row, value in zip(batch, out):
        ref = _tau_b_loop(row, y)
        assert (math.isnan(value) and math.isnan(ref)) or value == pytest.approx(ref, abs=1e-12)


def test_kendall_tau_batch_keeps_its_leading_shape_and_nan_on_constant_rows():
    truth = np.array([0.0, 1.0, 2.0, 3.0])
    scores = np.array([[[0.0, 1.0, 2.0, 3.0], [3.0, 2.0, 1.0, 0.0]], [[5.0, 5.0, 5.0, 5.0], [0.0, 2.0, 1.0, 3.0]]])
    out = kendall_tau(scores, truth)
    assert out.shape == (2, 2)
    assert out[0, 0] == 1.0 and out[0, 1] == -1.0 and np.isnan(out[1, 0])
    assert out[1, 1] == pytest.approx(_tau_b_loop(scores[1, 1], truth))


# ---------------------------------------------------------------- pairwise_accuracy edges


def test_pairwise_accuracy_tol_is_a_number_in_0_to_half():
    p, t = [0.9, 0.1], [1.0, 0.0]
    assert pairwise_accuracy(p, t, tol=0.0) == 1.0
    assert pairwise_accuracy(p, t, tol=0.41) == 0.5  # |0.9 - 1/2| <= 0.41: both coin flips
    assert pairwise_accuracy([1.0, 0.0], t, tol=0.4999) == 1.0
    for tol in (0.5, 0.7, 1.0, -1e-12):
        _refused(lambda: pairwise_accuracy(p, t, tol=tol), "tol")
    _refused(lambda: pairwise_accuracy(p, t, tol="0.1"), "tol")


def test_pairwise_accuracy_names_the_bad_argument_and_element():
    _refused(lambda: pairwise_accuracy([0.3, 1.2], [1.0, 0.0]), "p_a", "p_a[1] = 1.2")
    _refused(lambda: pairwise_accuracy([0.3, 0.2, 0.1], [1.0, 0.0, 0.25]), "truth", "truth[2] = 0.25")
    _refused(lambda: pairwise_accuracy([0.3, 0.2, 0.1], [0.7, 0.0, 1.0]), "truth", "truth[0] = 0.7")
    _refused(lambda: pairwise_accuracy([0.3, 0.2], [[1.0, 0.0]]), "truth", "truth must be 1-D")
    _refused(lambda: pairwise_accuracy([0.3, 0.2], "ab"), "truth")


def test_predictive_accuracy_even_mixture_of_opposite_certain_hypotheses_is_a_coin_flip():
    # hypothesis 0: a surely preferred (its log P(a) carries rounding slack 1e-9 above 0, which
    # is accepted and read as probability 1); hypothesis 1: b surely preferred. The 50/50
    # predictive is exactly 1/2: a coin flip, scoring 1/2 whatever the truth.
    table = np.array([[[-np.inf, 1e-9]], [[0.0, -np.inf]]])
    assert predictive_accuracy(np.log([0.5, 0.5]), table, [1.0]) == 0.5
    assert predictive_accuracy(np.log([0.5, 0.5]), table, [0.0]) == 0.5


def test_predictive_accuracy_posterior_normalized_within_tolerance_is_accepted():
    # sums to 1 + 8e-10 (inside the 1e-9 tolerance): the predictive must stay a probability
    lp = np.log([0.5 + 4e-10, 0.5 + 4e-10])
    table = np.zeros((2, 1, 2))  # both hypotheses: a surely preferred
    table[..., 0] = -np.inf
    assert predictive_accuracy(lp, table, [1.0]) == 1.0
    assert predictive_accuracy(lp, table, [0.0]) == 0.0


def test_predictive_accuracy_and_expected_utility_name_their_arguments():
    u = np.array([[0.0, 1.0, 2.0], [2.0, 0.0, 1.0]])
    pairs = all_pairs(3)
    lp_table = bt_log_probs(u, pairs)
    truth = true_order(u[0], pairs)
    good = np.log([0.25, 0.75])
    _refused(lambda: predictive_accuracy(np.log([0.2, 0.2]), lp_table, truth), "log_posterior", "sums to 0.4")
    _refused(lambda: expected_utility(np.log([0.2, 0.2]), u), "log_posterior", "sums to 0.4")
    _refused(lambda: predictive_accuracy(good, lp_table[:, :, 1], truth), "log_probs", "3-D")  # (H, P)
    _refused(lambda: predictive_accuracy(good, lp_table[None], truth), "log_probs", "3-D")  # (1, H, P, 2)
    bad = lp_table.copy()
    bad[1, 2, 0] = 0.5
    _refused(lambda: predictive_accuracy(good, bad, truth), "log_probs", "log_probs[1, 2, 0] = 0.5")


# ---------------------------------------------------------------- items, pairs, utilities


def test_reference_pairs_boundaries():
    np.testing.assert_array_equal(reference_pairs([3], 0), [[3, 0]])  # one item is enough
    np.testing.assert_array_equal(reference_pairs([2, 1], 0), [[2, 0], [1, 0]])  # item 0 is a reference
    np.testing.assert_array_equal(reference_pairs(np.array([0, 4]), np.int64(1)), [[0, 1], [4, 1]])
    for bad in (True, False, 2.0, -1, "1", None):
        _refused(lambda: reference_pairs([5, 6], bad), "reference")


def test_item_lists_are_checked_and_named_items():
    rng = RNG(0)
    for bad in ("ab", None):
        _refused(lambda: random_pairs(rng, bad, 3), "items", "array of item indices, got")
        _refused(lambda: reference_pairs(bad, 0), "items", "array of item indices, got")
    _refused(lambda: random_pairs(rng, [4, -1, 2], 3), "items",
             "items[1] = -1: must be non-negative integer item indices")
    _refused(lambda: reference_pairs([-3], 0), "items", "integer item indices")
    _refused(lambda: random_pairs(rng, [7], 3), "items", "at least 2")
    _refused(lambda: random_pairs(rng, [4, 9, 4, 1], 3), "items", "repeats item 4")
    _refused(lambda: reference_pairs([2, 8, 8], 0), "items", "repeats item 8")
    _refused(lambda: random_pairs(rng, [1, 2], 0), "n_pairs")
    _refused(lambda: all_pairs(1), "n_items")


def test_check_pairs_describes_a_non_array():
    for bad, shown in (("ab", "'ab'"), (None, "None")):
        _refused(lambda: check_pairs(bad, 3), "pairs", f"array of item indices, got {shown}")


def test_linear_utilities_checks_shapes_and_finiteness_naming_the_argument():
    x = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    w = np.array([[2.0, -1.0]])
    np.testing.assert_allclose(linear_utilities(x, w), [[2.0, -1.0, 1.0]])
    np.testing.assert_allclose(linear_utilities(x, w[0]), [[2.0, -1.0, 1.0]])  # one (d,) weight vector
    _refused(lambda: linear_utilities([1.0, 2.0], [[1.0]]), "features", "features must be 2-D")
    _refused(lambda: linear_utilities(np.ones((3, 2, 2)), [1.0, 1.0]), "features", "2-D")
    _refused(lambda: linear_utilities(x, np.ones((1, 2, 2))), "weights", "weights must be 1-D or 2-D")
    _refused(lambda: linear_utilities(x, 1.0), "weights")
    _refused(lambda: linear_utilities("x", w), "features")
    _refused(lambda: linear_utilities(x, "w"), "weights")
    _refused(lambda: linear_utilities(np.array([[1.0, np.nan]] * 3), w), "features", "features must be finite")
    _refused(lambda: linear_utilities(x, [[np.inf, 0.0]]), "weights", "weights must be finite")


def test_utilities_scores_and_truth_are_named_on_every_kind_of_bad_input():
    pairs = np.array([[0, 1], [2, 1]])
    _refused(lambda: true_order([[0.0, 1.0, 2.0]], pairs), "utility", "utility must be 1-D")
    _refused(lambda: true_order("abc", pairs), "utility")
    _refused(lambda: true_order([0.0, np.inf, 1.0], pairs), "utility", "utility[1] = inf")
    _refused(lambda: bt_log_probs(np.ones((1, 1, 3)), pairs), "utilities", "utilities must be 1-D or 2-D")
    _refused(lambda: bt_log_probs([[0.0, 1.0, 2.0], [0.0, np.nan, 1.0]], pairs), "utilities",
             "utilities[1, 1] = nan")
    _refused(lambda: order_table([], pairs), "utilities", "empty")
    _refused(lambda: kendall_tau("abc", [1.0, 2.0, 3.0]), "scores")
    _refused(lambda: kendall_tau([], [1.0, 2.0]), "scores", "empty")
    _refused(lambda: kendall_tau([1.0, np.nan], [1.0, 2.0]), "scores", "scores[1] = nan")
    _refused(lambda: kendall_tau([1.0, 2.0], [[1.0, 2.0]]), "true_utility", "true_utility must be 1-D")
    _refused(lambda: kendall_tau([1.0, 2.0], [1.0, -np.inf]), "true_utility", "true_utility[1] = -inf")

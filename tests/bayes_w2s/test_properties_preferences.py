"""Preference helpers at their edges (issue 18: mutation testing): pair validation, the pair
sampler's distribution, dtypes of integer inputs, batches, ties at the decision boundary."""

from __future__ import annotations

import numpy as np
import pytest

from bayes_w2s.core.preferences import (
    LABEL_NAMES,
    all_pairs,
    bt_log_probs,
    centered_utilities,
    check_pairs,
    expected_utility,
    kendall_tau,
    linear_utilities,
    order_table,
    pairwise_accuracy,
    preference_space,
    random_pairs,
    reference_pairs,
    true_order,
)


@pytest.mark.parametrize(
    "pairs, match",
    [
        (np.zeros((0, 2), int), "non-empty"),
        (np.array([0, 1]), "non-empty"),
        (np.array([[0, 1, 2]]), "non-empty"),
        (np.array([[0.0, 1.0]]), "integer item indices"),
        (np.array([[0, -1]]), r"range \[-1, 0\]"),
        (np.array([[0, 3]]), r"in \[0, 3\)"),
        (np.array([[0, 1], [2, 2], [1, 1]]), "pair 1 compares item 2 with itself"),
    ],
)
def test_check_pairs_rejects(pairs, match):
    with pytest.raises(ValueError, match=match):
        check_pairs(pairs, 3)


def test_all_pairs_and_reference_pairs():
    assert all_pairs(2).tolist() == [[0, 1]]
    assert all_pairs(3).tolist() == [[0, 1], [0, 2], [1, 2]]
    assert all_pairs(4.0).shape == (6, 2)
    for bad in (1, 1.5, 0):
        with pytest.raises(ValueError, match="n_items"):
            all_pairs(bad)
    with pytest.raises(ValueError, match="integer item indices"):  # floats are refused, not truncated
        reference_pairs(np.array([0.0, 2.0]), 1)
    ref = reference_pairs(np.array([0, 2]), 1)
    assert ref.dtype == np.int64 and ref.tolist() == [[0, 1], [2, 1]]
    with pytest.raises(ValueError, match="reference item 1"):
        reference_pairs([0, 1], 1)


def test_random_pairs_are_uniform_over_ordered_distinct_pairs():
    items = np.array([10, 20, 30])
    p = random_pairs(np.random.default_rng(0), items, 6000)
    assert p.dtype == np.int64 and p.shape == (6000, 2)
    assert np.all(p[:, 0] != p[:, 1])
    codes = (p[:, 0] // 10 - 1) * 3 + (p[:, 1] // 10 - 1)
    freq = np.bincount(codes, minlength=9) / 6000
    for a in range(3):
        for b in range(3):
            assert freq[a * 3 + b] == (0.0 if a == b else pytest.approx(1 / 6, abs=0.02))
    many = random_pairs(np.random.default_rng(1), np.arange(5), 2000)
    assert np.all(many[:, 0] != many[:, 1])
    assert set(((many[:, 1] - many[:, 0]) % 5).tolist()) == {1, 2, 3, 4}
    assert random_pairs(np.random.default_rng(2), [4, 7], 1).tolist() in ([[4, 7]], [[7, 4]])
    for items_, n, match in [([1], 3, "at least 2"), ([[1, 2]], 3, "1-D"), ([1, 2], 0, "n_pairs"), ([1, 2], 1.5, "n_pairs")]:
        with pytest.raises(ValueError, match=match):
            random_pairs(np.random.default_rng(0), items_, n)


def test_utilities_dtypes_shapes_and_validation():
    u = linear_utilities([[1, 2], [3, 4], [0, 1]], [1, -1])
    assert u.dtype == np.float64 and u.tolist() == [[-1.0, -1.0, -1.0]]
    u2 = linear_utilities(np.array([[1, 0], [0, 1]]), np.array([[2, 0], [0, 3]]))
    assert u2.dtype == np.float64 and u2.tolist() == [[2.0, 0.0], [0.0, 3.0]]
    with pytest.raises(ValueError, match="disagree"):
        linear_utilities([[1, 2]], [[1, 2, 3]])
    for bad in (np.array([[0.0, np.inf]]), np.array([[[0.0, 1.0]]])):
        with pytest.raises(ValueError, match="finite|1-D or 2-D"):
            bt_log_probs(bad, [[0, 1]])
    c = centered_utilities([[1, 2, 3], [10, 10, 16]])
    assert c.dtype == np.float64 and c.tolist() == [[-1.0, 0.0, 1.0], [-2.0, -2.0, 4.0]]
    np.testing.assert_allclose(expected_utility(np.log([[0.5, 0.5]]), [[1, 2, 3], [10, 10, 16]]), [[-1.5, -1.0, 2.5]])
    space = preference_space([[0.0, 1.0], [1.0, 0.0]], [[0, 1]], names=["up", "down"])
    assert space.hypothesis_names == ("up", "down") and space.label_names == LABEL_NAMES
    assert preference_space([[0.0, 1.0]], [[0, 1]]).hypothesis_names == ("hypothesis0",)


def test_orders_with_integer_and_tied_utilities():
    pairs = np.array([[0, 1], [1, 2], [2, 0]])
    t = true_order(np.array([1, 1, 3]), pairs)
    assert t.dtype == np.float64 and t.tolist() == [0.5, 0.0, 1.0]
    with pytest.raises(ValueError, match="1-D"):
        true_order([[1.0, 2.0, 3.0]], pairs)
    table = order_table(np.array([[1, 1, 3]]), pairs)
    assert table.dtype == np.int8 and table.tolist() == [[0, 0, 1]]


def test_pairwise_accuracy_batches_and_the_exact_half():
    truth = np.array([1.0, 0.0, 0.5])
    p = np.array([[0.9, 0.2, 0.5], [0.1, 0.8, 0.7], [0.5, 0.5, 0.5]])
    out = pairwise_accuracy(p, truth)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [(1 + 1 + 1) / 3, (0 + 0 + 0.5) / 3, (0.5 + 0.5 + 1) / 3])
    assert pairwise_accuracy(np.array([0.5]), np.array([1.0]), tol=0.0) == 0.5  # exactly 1/2 is a coin flip
    assert pairwise_accuracy(np.array([0.5 + 1e-9]), np.array([1.0]), tol=1e-6) == 0.5
    assert pairwise_accuracy(np.array([0.5 + 1e-3]), np.array([1.0]), tol=1e-6) == 1.0
    assert pairwise_accuracy([0.5 - 1e-3], [0], tol=1e-6) == 1.0
    with pytest.raises(ValueError, match="disagree"):
        pairwise_accuracy(np.ones((2, 3)) / 2, np.ones(2))
    with pytest.raises(ValueError, match="disagree|1-D"):
        pairwise_accuracy(np.ones(4) / 2, np.ones((2, 2)))


def test_kendall_tau_shapes_and_small_spreads():
    truth = np.array([0.0, 1.0, 2.0, 3.0])
    assert kendall_tau([0.0, 0.1, 0.05, 0.2], truth) == pytest.approx(2 / 3)  # spread below 1 is still a ranking
    assert type(kendall_tau(truth, truth)) is float
    cube = np.stack([np.stack([truth, -truth]), np.stack([truth[::-1], np.zeros(4)])])  # (2, 2, 4)
    out = kendall_tau(cube, truth)
    assert out.shape == (2, 2)
    np.testing.assert_allclose(out[0], [1.0, -1.0])
    assert out[1, 0] == pytest.approx(-1.0) and np.isnan(out[1, 1])
    assert kendall_tau(np.stack([truth, truth[::-1]]), truth).tolist() == pytest.approx([1.0, -1.0])
    assert kendall_tau([0.0, 1.0], [0.0, 5.0]) == pytest.approx(1.0)  # two items are enough
    for scores, t in (([0.0], [0.0]), ([0.0, 1.0, 2.0], [0.0, 1.0]), ([[0.0, 1.0]], [[0.0, 1.0]])):
        with pytest.raises(ValueError, match="disagree|1-D"):
            kendall_tau(scores, t)

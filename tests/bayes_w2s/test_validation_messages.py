"""The validation layer's verdicts and messages at their boundaries (issue 18, third mutation
round).

Each public error names the argument it was given (``err.argument``), the first bad element
and the rule it broke, in the words the module documents; the tolerance of a normalized log
distribution is inclusive and can be set; index arrays of any float width are checked for
integrality; a count is an exact Python integer, however large.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.core.validation import (
    as_count,
    as_index_array,
    as_log_distribution,
    as_log_probs,
    as_probs,
    as_strengths,
    check_log_weights,
)

from ._refusal import refused as _refused

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)




def test_rule_texts_of_probabilities_and_log_probabilities():
    _refused(lambda: as_probs([0.2, 1.5], "p"), "p", "p[1] = 1.5: probabilities must lie in [0, 1]")
    _refused(lambda: as_log_probs([-1.0, np.nan]), "log_probs", "log_probs[1] = nan: log-probabilities must not be NaN")
    _refused(lambda: as_log_probs([[0.0, 0.5]], "t"), "t",
             "t[0, 1] = 0.5: a log-probability must be <= 0 (probability <= 1)")
    _refused(lambda: as_log_probs("x"), "log_probs")  # the default name
    # rounding slack up to LOG_PROB_TOL (1e-9) inclusive is accepted, and an entry exactly at it
    # is not the one blamed when a later entry is above it
    np.testing.assert_array_equal(as_log_probs([-1.0, 1e-9]), [-1.0, 1e-9])
    _refused(lambda: as_log_probs([0.0, 1e-9, 0.5], "t"), "t", "t[2] = 0.5: a log-probability must be <= 0")
    _refused(lambda: check_log_weights(np.array([0.0, np.inf]), "w"), "w", "w[1] = inf: must be finite or -inf")


def test_rule_texts_of_strengths_and_the_first_negative_named():
    _refused(lambda: as_strengths([1.0, np.nan], "s"), "s", "s[1] = nan: a strength must be a number >= 0, not NaN")
    # a zero strength is valid: the first *negative* one is named, not the first non-positive
    _refused(lambda: as_strengths([0.0, 0.5, -1.0], "s"), "s", "s[2] = -1.0: a strength must be non-negative")
    _refused(lambda: as_strengths([0.0, np.inf], "s"), "s", "s[1] = inf: a strength must be finite here")
    _refused(lambda: as_strengths("abc", "s"), "s", "s must be a numeric array")
    np.testing.assert_array_equal(as_strengths([0.0, 0.5, np.inf], "s", allow_inf=True), [0.0, 0.5, np.inf])


def test_log_distribution_tolerance_default_and_inclusive():
    lp = as_log_distribution(np.log([0.5, 0.5 + 4e-10]), "lp")  # 4e-10 off: inside 1e-9
    assert lp.shape == (2,)
    _refused(lambda: as_log_distribution(np.log([0.5, 0.5 + 1e-6]), "lp"), "lp", "lp sums to 1.000001")
    _refused(lambda: as_log_distribution(np.log([0.5, 0.6]), "lp"), "lp", "lp sums to 1.1 in probability")
    _refused(lambda: as_log_distribution(np.log([0.5, 0.4]), "lp"), "lp", "lp sums to 0.9 in probability")
    # exactly normalized, tolerance 0: accepted (the tolerance is inclusive) ...
    np.testing.assert_array_equal(as_log_distribution([0.0, -np.inf], "lp", tol=0.0), [0.0, -np.inf])
    # ... and a caller's looser tolerance is honoured
    as_log_distribution(np.log([0.5, 0.6]), "lp", tol=0.2)


def test_log_distribution_names_the_first_unnormalized_row():
    ok = np.log([0.25, 0.75])
    batch = np.stack([ok, np.log([0.2, 0.2]), np.log([0.1, 0.1]), ok])
    _refused(lambda: as_log_distribution(batch, "post"), "post", "post[1, :] sums to 0.4 in probability, not 1")
    grid = np.stack([np.stack([ok, ok]), np.stack([ok, np.log([0.3, 0.3])])])  # (2, 2, H)
    _refused(lambda: as_log_distribution(grid, "post"), "post", "post[1, 1, :] sums to 0.6")
    one_bad = np.stack([np.log([0.1, 0.2]), ok])
    _refused(lambda: as_log_distribution(one_bad, "post"), "post", "post[0, :] sums to 0.3")


def test_log_distribution_forwards_ndim_and_rejects_a_scalar():
    _refused(lambda: as_log_distribution(np.log([[0.5, 0.5]]), "lp", ndim=1), "lp", "lp must be 1-D")
    assert as_log_distribution(np.log([[0.5, 0.5]]), "lp", ndim=2).shape == (1, 2)
    _refused(lambda: as_log_distribution(0.0, "lp"), "lp", "scalar")
    _refused(lambda: as_log_distribution([np.nan, 0.0], "lp"), "lp", "lp[0] = nan")


@SETTINGS
@given(w=st.lists(st.floats(0.01, 10.0), min_size=1, max_size=5),
       scale=st.one_of(st.floats(0.5, 1.0), st.sampled_from([1.0, 1.0 - 5e-10, 1.0 - 2e-9])))
def test_log_distribution_verdict_matches_the_sum(w, scale):
    p = np.array(w) / np.sum(w) * scale
    total = float(np.exp(np.log(p)).sum())
    if abs(total - 1.0) > 1e-9:
        _refused(lambda: as_log_distribution(np.log(p), "lp"), "lp", "sums to")
    else:
        np.testing.assert_array_equal(as_log_distribution(np.log(p), "lp"), np.log(p))


def test_index_arrays_describe_a_non_array_and_check_every_float_width():
    for bad, shown in (("abc", "'abc'"), (None, "None")):
        _refused(lambda: as_index_array(bad, "idx", 5), "idx", f"1-D array of index indices, got {shown}")
    for dtype in (np.float16, np.float32, np.float64):
        np.testing.assert_array_equal(as_index_array(np.array([1.0, 4.0], dtype), "idx", 5), [1, 4])
        _refused(lambda: as_index_array(np.array([1.0, 2.5], dtype), "idx", 5), "idx",
                 "idx[1] = 2.5: must be integer index")
        _refused(lambda: as_index_array(np.array([np.inf], dtype), "idx", 5), "idx", "must be integer index")
    for dtype in (np.int8, np.uint16, np.int64):
        np.testing.assert_array_equal(as_index_array(np.array([0, 4], dtype), "idx", 5), [0, 4])


def test_count_is_an_exact_integer_however_large():
    big = 10**400  # beyond float64: the count must not pass through a float
    assert as_count(big, "n") == big
    assert as_count(np.int64(3), "n") == 3 and as_count(3.0, "n") == 3
    for bad in (2.5, float("inf"), float("nan"), True, "3"):
        _refused(lambda: as_count(bad, "n"), "n")


def test_clipped_log_probabilities_are_copied_only_when_something_is_above_zero():
    table = np.array([[np.log(0.25), np.log(0.75)], [0.0, -np.inf]])
    assert as_log_probs(table, clip=True) is table  # nothing above 0: the input itself
    slack = table.copy()
    slack[1, 0] = 5e-13  # rounding slack (<= LOG_PROB_TOL): read as log 1
    got = as_log_probs(slack, clip=True)
    np.testing.assert_array_equal(got, np.minimum(slack, 0.0))
    assert slack[1, 0] == 5e-13  # the caller's array is left alone
    np.testing.assert_array_equal(as_log_probs(slack), slack)  # without clip: unchanged
    _refused(lambda: as_log_probs([[0.0, 0.5]], "t", clip=True), "t", "t[0, 1] = 0.5: a log-probability must be <= 0")
    _refused(lambda: as_log_probs([np.nan, 0.5], "t", clip=True), "t", "t[0] = nan: log-probabilities must not be NaN")

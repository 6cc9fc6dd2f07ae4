"""The validation helpers at their boundaries (issue 18: mutation testing).

Each helper accepts the values exactly on its boundary and rejects the nearest values outside
it, with a :class:`ValidationError` whose ``argument`` is the name it was given and whose
message points at the first bad element.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from bayes_w2s.core.validation import (
    ImpossiblePriorError,
    NumericalOverflowError,
    ValidationError,
    as_count,
    as_float_array,
    as_index_array,
    as_labels,
    as_log_prior,
    as_log_probs,
    as_prob_vector,
    as_probs,
    as_strengths,
    check_log_weights,
    describe,
)


def _bad(call, name="x", match=None):
    with pytest.raises(ValidationError, match=match) as err:
        call()
    assert err.value.argument == name
    return str(err.value)


def test_describe_abbreviates():
    assert describe(np.arange(7)) == "array of shape (7,)"
    assert describe(np.arange(6)) == "[0, 1, 2, 3, 4, 5]"
    assert describe(np.array([1 / 3])) == "[0.333333]"
    assert describe("z" * 61) == repr("z" * 61)[:57] + "..." and describe("z" * 58) == repr("z" * 58)
    assert describe([1, 2]) == "[1, 2]" and describe(np.int8(-3)) == "-3"
    assert describe("w" * 59) == repr("w" * 59)[:57] + "..."  # a 61-character repr is cut
    assert describe(np.array([1.5, 2.0])) == "[1.5, 2. ]"
    assert describe(np.float32(0.5)) == "0.5" and describe(np.int64(3)) == "3"
    assert describe("x" * 70) == repr("x" * 70)[:57] + "..."
    assert describe("abc") == "'abc'" and len(describe("y" * 58)) == 60


def test_float_arrays_ndim_and_emptiness():
    assert as_float_array([1, 2], "x").dtype == np.float64
    assert as_float_array([[1.0]], "x", ndim=(1, 2)).shape == (1, 1)
    assert "must be 1-D or 3-D, got shape (1, 1)" in _bad(lambda: as_float_array([[1.0]], "x", ndim=(1, 3)))
    assert "must be 2-D" in _bad(lambda: as_float_array([1.0], "x", ndim=2))
    assert "is empty" in _bad(lambda: as_float_array([], "x"))
    assert as_float_array([], "x", allow_empty=True).shape == (0,)
    for junk in ("12", None, b"1", [[1.0], [1.0, 2.0]], {"a": 1}):
        assert "numeric array" in _bad(lambda: as_float_array(junk, "x"))


def test_probabilities_and_probability_vectors():
    np.testing.assert_array_equal(as_probs([0.0, 1.0], "x"), [0.0, 1.0])
    assert as_probs([], "x", allow_empty=True).size == 0
    assert "x[1] = " in _bad(lambda: as_probs([0.5, 1.0 + 1e-12], "x"))
    assert "x[0, 1] = -1e-12" in _bad(lambda: as_probs([[0.5, -1e-12]], "x"))
    assert "x[0] = nan" in _bad(lambda: as_probs([np.nan], "x"))
    assert "x = 1.5" in _bad(lambda: as_probs(1.5, "x"))  # a scalar has no index
    assert "x[0, 0]" in _bad(lambda: as_probs([[np.inf]], "x"))
    assert as_prob_vector([0.25, 0.75], "x", size=2).tolist() == [0.25, 0.75]
    assert as_prob_vector([0.5, 0.5 + 5e-10], "x").shape == (2,)
    assert "sums to 1.000000002" in _bad(lambda: as_prob_vector([0.5, 0.5 + 2e-9], "x"))
    assert "must have 3 entries, got 2" in _bad(lambda: as_prob_vector([0.5, 0.5], "x", size=3))
    assert "1-D" in _bad(lambda: as_prob_vector([[0.5, 0.5]], "x"))


def test_log_probs_and_log_weights():
    assert as_log_probs([0.0, -np.inf], "x").tolist() == [0.0, -np.inf]
    assert as_log_probs([1e-13], "x")[0] == 1e-13  # rounding slack above 0 is kept, not clipped
    assert "x[1] = nan" in _bad(lambda: as_log_probs([0.0, np.nan, 1.0], "x"))
    assert "x[1] = 0.1" in _bad(lambda: as_log_probs([0.0, 0.1], "x"))
    assert as_log_probs([], "x", allow_empty=True).size == 0
    assert check_log_weights(np.array([5.0, -np.inf]), "x").tolist() == [5.0, -np.inf]
    assert "x[1] = inf" in _bad(lambda: check_log_weights(np.array([0.0, np.inf]), "x"))
    assert "x[0] = nan" in _bad(lambda: check_log_weights(np.array([np.nan]), "x"))


def test_log_priors():
    assert as_log_prior([3.0, -np.inf], "x").tolist() == [3.0, -np.inf]  # unnormalized is fine
    assert as_log_prior([[0.0, 0.0]], "x", n_hypotheses=2).shape == (1, 2)
    assert "x and tbl disagree: x has 3 hypotheses, tbl 2" in _bad(lambda: as_log_prior([0.0, 0.0, 0.0], "x", n_hypotheses=2, other="tbl"))
    assert "scalar" in _bad(lambda: as_log_prior(0.0, "x"))
    with pytest.raises(ImpossiblePriorError, match="x is -inf for every hypothesis") as err:
        as_log_prior([[0.0, 0.0], [-np.inf, -np.inf]], "x")
    assert err.value.argument == "x"
    assert "x[0] = inf" in _bad(lambda: as_log_prior([np.inf, 0.0], "x"))


def test_strengths():
    assert as_strengths([0.0, 2.0], "x").tolist() == [0.0, 2.0]
    assert as_strengths(np.inf, "x", allow_inf=True) == np.inf
    assert as_strengths([], "x").size == 0
    assert "x[1] = nan" in _bad(lambda: as_strengths([1.0, np.nan], "x"))
    assert "x[0] = -1e-300" in _bad(lambda: as_strengths([-1e-300], "x"))
    assert as_strengths([0.5], "x").tolist() == [0.5]  # below 1 is a valid strength
    assert "finite" in _bad(lambda: as_strengths([1.0, np.inf], "x"))
    assert "non-negative" in _bad(lambda: as_strengths([-np.inf], "x", allow_inf=True))


def test_index_arrays_and_labels():
    out = as_index_array([0.0, 2.0], "x", 3)
    assert out.dtype == np.int64 and out.tolist() == [0, 2]
    assert as_index_array([], "x", 3).dtype == np.int64
    assert "empty: need at least one thing" in _bad(lambda: as_index_array([], "x", 3, what="thing", allow_empty=False))
    assert "1-D array of thing indices, got shape (1, 1)" in _bad(lambda: as_index_array([[0]], "x", 3, what="thing"))
    assert "x[1] = 1.5: must be integer thing indices" in _bad(lambda: as_index_array([0, 1.5], "x", 3, what="thing"))
    assert "x[0] = nan" in _bad(lambda: as_index_array([np.nan], "x", 3))
    assert "x[1] = -1: must be non-negative integer index indices (in [0, 3))" in _bad(lambda: as_index_array([0, -1], "x", 3))
    assert "x[0] = 3: must be index indices in [0, 3)" in _bad(lambda: as_index_array([3], "x", 3))
    assert "dtype bool" in _bad(lambda: as_index_array(np.array([True]), "x", 3))
    assert as_index_array(np.array([0, 1], dtype=np.uint8), "x", 3).tolist() == [0, 1]
    assert as_index_array([0], "x", 1).tolist() == [0]  # index 0 is valid
    assert "dtype <U1" in _bad(lambda: as_index_array(np.array(["a"]), "x", 3))
    for junk in ("0", None, b"0"):
        assert "1-D array of index indices" in _bad(lambda: as_index_array(junk, "x", 3))
    assert as_labels([0, 7]).tolist() == [0, 7]
    assert "labels[0] = 2: must be class indices in [0, 2)" in _bad(lambda: as_labels([2], n_classes=2), "labels")
    assert "empty" in _bad(lambda: as_labels([]), "labels")


@pytest.mark.parametrize("minimum, kind", [(0, "a non-negative integer"), (1, "a positive integer"), (3, "an integer")])
def test_counts(minimum, kind):
    assert as_count(minimum, "x", minimum=minimum) == minimum
    # the minimum itself in every accepted type (a Python int takes a fast path; the others not)
    assert as_count(np.int64(minimum), "x", minimum=minimum) == minimum
    assert as_count(float(minimum), "x", minimum=minimum) == minimum
    assert as_count(float(minimum + 2), "x", minimum=minimum) == minimum + 2
    assert type(as_count(np.int64(5), "x", minimum=minimum)) is int
    msg = _bad(lambda: as_count(minimum - 1, "x", minimum=minimum))
    assert msg == f"x must be {kind} (>= {minimum}), got {minimum - 1}"
    for junk in (True, 2.5, math.nan, math.inf, "3", None):
        assert f"x must be {kind}" in _bad(lambda: as_count(junk, "x", minimum=minimum))


def test_error_classes():
    err = ValidationError("msg", "arg")
    assert isinstance(err, ValueError) and err.argument == "arg" and str(err) == "msg"
    assert ValidationError("msg").argument is None
    assert issubclass(ImpossiblePriorError, ValidationError)
    assert issubclass(NumericalOverflowError, OverflowError) and issubclass(NumericalOverflowError, ValueError)

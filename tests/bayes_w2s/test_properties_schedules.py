"""Schedules against brute-force sums and at their boundaries (issue 18: mutation testing).

Every schedule's ``strengths``, ``total`` and ``limit`` are checked against the defining
formula evaluated term by term in plain Python; parameters exactly on a boundary (ratio 0,
value 0, confidence 0 or 1) are accepted and just outside rejected, naming the parameter.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.core.schedules import (
    SCHEDULES,
    Budget,
    Coarsened,
    ConfidenceWeighted,
    Constant,
    Geometric,
    PSeries,
    make_schedule,
)
from bayes_w2s.core.validation import ValidationError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)


def _raises_on(call, argument, match=None):
    with pytest.raises(ValidationError, match=match) as err:
        call()
    assert err.value.argument == argument
    return err.value


@SETTINGS
@given(first=st.floats(0, 5), ratio=st.floats(0, 0.99), n=st.integers(0, 30))
def test_geometric_terms_total_and_limit(first, ratio, n):
    g = Geometric(first, ratio)
    terms = [first * ratio ** (k - 1) for k in range(1, n + 1)]
    np.testing.assert_allclose(g.strengths(n), terms, rtol=1e-12, atol=1e-300)
    assert g.total(n) == pytest.approx(sum(terms), rel=1e-9, abs=1e-12)
    assert g.limit() == pytest.approx(first / (1 - ratio))
    assert g.bounded


@SETTINGS
@given(c=st.floats(0, 5), p=st.floats(1.05, 4), n=st.integers(1, 30))
def test_pseries_terms_and_zeta_limit(c, p, n):
    s = PSeries(c, p)
    terms = [c / k**p for k in range(1, n + 1)]
    np.testing.assert_allclose(s.strengths(n), terms, rtol=1e-12)
    assert s.total(n) == pytest.approx(sum(terms), rel=1e-9, abs=1e-300)
    partial = float(np.sum(c / np.arange(1, 200_001, dtype=float) ** p))
    assert partial - 1e-9 <= s.limit() <= partial + c * 200_000 ** (1 - p) / (p - 1) + 1e-9  # the tail's integral bound


@SETTINGS
@given(alpha=st.floats(0.1, 50), n=st.integers(1, 30))
def test_coarsened_terms_and_unbounded(alpha, n):
    s = Coarsened(alpha)
    np.testing.assert_allclose(s.strengths(n), [alpha / (alpha + k) for k in range(1, n + 1)], rtol=1e-12)
    assert s.limit() == math.inf and not s.bounded


@SETTINGS
@given(budget=st.floats(0, 10), n=st.integers(1, 40))
def test_budget_spreads_b_over_n(budget, n):
    s = Budget(budget)
    np.testing.assert_allclose(s.strengths(n), [budget / n] * n)
    assert s.total(n) == pytest.approx(budget) and s.limit() == budget
    assert s.strength(np.array([1, n]), n_total=n).tolist() == pytest.approx([budget / n] * 2)
    assert s.strengths(0).shape == (0,)


@SETTINGS
@given(seed=st.integers(0, 10_000), n=st.integers(1, 12), budget=st.floats(0.1, 5))
def test_confidence_weighted_is_proportional_and_sums_to_the_budget(seed, n, budget):
    conf = np.random.default_rng(seed).random(n)
    conf[0] = 1.0  # the boundary values 0 and 1 are valid confidences
    if n > 1:
        conf[1] = 0.0
    s = ConfidenceWeighted(budget)
    out = s.strengths(n, confidence=conf)
    np.testing.assert_allclose(out, [budget * c / conf.sum() for c in conf])
    assert s.total(n, confidence=conf) == pytest.approx(budget)
    np.testing.assert_allclose(s.strength(np.array([n, 1]), confidence=conf), out[[n - 1, 0]])


def test_constant_and_zero_strength_boundaries():
    assert Constant(0.0).limit() == 0.0 and Constant(0.0).bounded
    assert Constant(0.5).limit() == math.inf and not Constant(0.5).bounded
    assert Constant(0.5).total(4) == 2.0
    np.testing.assert_array_equal(Constant(2).strength(np.array([[1, 2], [3, 4]])), np.full((2, 2), 2.0))
    assert Geometric(1.0, 0.0).strengths(3).tolist() == [1.0, 0.0, 0.0]  # ratio 0 is allowed
    assert Geometric(0.0, 0.5).limit() == 0.0 and Budget(0.0).total(3) == 0.0


@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: Constant(-1e-12), "value"),
        (lambda: Constant(math.inf), "value"),
        (lambda: Constant(True), "value"),
        (lambda: Constant("1"), "value"),
        (lambda: Geometric(-1.0, 0.5), "first"),
        (lambda: Geometric(1.0, 1.0), "ratio"),
        (lambda: Geometric(1.0, -1e-12), "ratio"),
        (lambda: Geometric(1.0, None), "ratio"),
        (lambda: PSeries(1.0, 1.0), "p"),
        (lambda: PSeries(1.0, math.inf), "p"),
        (lambda: PSeries(-1.0, 2.0), "c"),
        (lambda: Budget(-0.5), "budget"),
        (lambda: Coarsened(0.0), "alpha"),
        (lambda: Coarsened(-1.0), "alpha"),
        (lambda: ConfidenceWeighted(math.nan), "budget"),
    ],
)
def test_bad_parameters_name_the_parameter(make, argument):
    err = _raises_on(make, argument)
    assert argument in str(err)


def test_positive_versus_non_negative_messages():
    assert "finite positive number" in str(_raises_on(lambda: Coarsened(0.0), "alpha"))
    assert "finite non-negative number" in str(_raises_on(lambda: Budget(-1.0), "budget"))
    assert "coarsened parameter alpha" in str(_raises_on(lambda: Coarsened(-1.0), "alpha"))


@pytest.mark.parametrize("n", [0, 1.5, -1, math.nan, math.inf, np.array([1, 0]), np.array([2.0, 2.5])])
def test_indices_are_finite_one_based_integers(n):
    for sched in (Constant(1.0), Geometric(), PSeries(), Coarsened()):
        err = _raises_on(lambda: sched.strength(n), "n", "1-based integers")
        assert str(err).startswith("n = ")
    assert Constant(1.0).strength(np.array([], float)).shape == (0,)
    assert Constant(1.0).strength(np.array([1.0, 3.0])).tolist() == [1.0, 1.0]


def test_budget_and_confidence_need_their_inputs():
    _raises_on(lambda: Budget(1.0).strength(np.array([1])), "n_total", "needs n_total")
    _raises_on(lambda: Budget(1.0).strength(np.array([3]), n_total=2), "n", "exceeds n_total=2")
    assert Budget(1.0).strength(np.array([2]), n_total=2).tolist() == [0.5]
    _raises_on(lambda: Budget(1.0).strengths(-1), "n_total")
    s = ConfidenceWeighted(1.0)
    _raises_on(lambda: s.strengths(2), "confidence", "needs confidence")
    _raises_on(lambda: s.strengths(3, confidence=[0.5, 0.5]), "confidence", "2 entries but n_total=3")
    _raises_on(lambda: s.strength(np.array([3]), confidence=[0.5, 0.5]), "n", "exceeds the 2 confidences")
    _raises_on(lambda: s.strengths(2, confidence=[0.0, 0.0]), "confidence", "all confidences are zero")
    _raises_on(lambda: s.strengths(2, confidence=[0.5, 1.5]), "confidence")
    _raises_on(lambda: s.strength(np.array([1]), confidence=[[0.5, 0.5]]), "confidence", "1-D")


def test_make_schedule_parses_round_trips_and_rejects():
    for name, cls in SCHEDULES.items():
        sched = cls()
        assert make_schedule(sched.to_dict()) == sched
        assert make_schedule(sched) is sched
        assert sched.describe().startswith(f"{name}(")
    s = make_schedule(" pseries : c=0.5 , p=3 ")
    assert s == PSeries(0.5, 3.0) and s.describe() == "pseries(c=0.5, p=3)"
    assert make_schedule("constant") == Constant()
    assert make_schedule({"name": "budget", "budget": 2}).to_dict() == {"name": "budget", "budget": 2}
    for spec, match in [("pseries:c", "not key=value"), ("pseries:=1", "not key=value"),
                        ("pseries:c=1,c=2", "given twice"), ("pseries:c=x", "not a number"),
                        ("zigzag:c=1", "unknown schedule 'zigzag'"), ({"c": 1.0}, "unknown schedule None"),
                        ("pseries:q=1", "bad parameters for schedule 'pseries'"),
                        ("pseries:c=1=2", "'c' is not a number: '1=2'"), ("pseries:c=1:2", "'c' is not a number: '1:2'")]:
        _raises_on(lambda: make_schedule(spec), "spec", match)
    with pytest.raises(TypeError, match="cannot build a schedule from int"):
        make_schedule(3)

"""Every registered schedule against closed forms computed here, independently of the module.

For each schedule the partial sum ``T(N) = sum_{n<=N} s_n`` and the limit ``T(inf)`` are
written out from the formula in its docstring:

* constant ``v``: ``T(N) = v N``, unbounded;
* geometric ``a, q``: ``T(N) = a (1 - q^N) / (1 - q)``, ``T(inf) = a / (1 - q)``;
* p-series ``c, p``: ``T(N) = c (zeta(p) - zeta(p, N + 1))`` (Hurwitz zeta), ``T(inf) = c zeta(p)``;
* budget ``B`` and confidence-weighted ``B``: ``T(N) = B`` for every N;
* coarsened ``alpha``: ``T(N) = alpha (psi(alpha + N + 1) - psi(alpha + 1))`` (digamma), unbounded.

Parameters are deliberately not the defaults, so a parameter that is read wrongly shows.
"""

import math

import numpy as np
import pytest
from scipy.special import digamma, zeta

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

N_VALUES = [1, 7, 100, 10_000]
APERY = 1.2020569031595942  # zeta(3), a literal so the limit is not checked against scipy


class Case:
    """A schedule instance with its partial sums ``T(N)`` and limit written out by hand."""

    def __init__(self, schedule, total, limit, bounded):
        self.schedule, self.total, self.limit, self.bounded = schedule, total, limit, bounded


CASES = {
    "constant": Case(Constant(0.3), lambda n: 0.3 * n, math.inf, False),
    "geometric": Case(Geometric(first=2.0, ratio=0.75), lambda n: 2.0 * (1 - 0.75**n) / 0.25, 8.0, True),
    "pseries": Case(PSeries(c=1.5, p=3.0), lambda n: 1.5 * (APERY - zeta(3.0, n + 1)), 1.5 * APERY, True),
    "budget": Case(Budget(budget=4.0), lambda n: 4.0, 4.0, True),
    "coarsened": Case(Coarsened(alpha=5.0), lambda n: 5.0 * (digamma(n + 6.0) - digamma(6.0)), math.inf, False),
    "confidence": Case(ConfidenceWeighted(budget=2.5), lambda n: 2.5, 2.5, True),
}


def _confidence(n):
    return np.random.default_rng(n).uniform(0.05, 1, n)


def _kwargs(schedule, n):
    return {"confidence": _confidence(n) if schedule.needs_confidence else None}


@pytest.fixture(params=sorted(CASES), ids=sorted(CASES))
def case(request):
    return CASES[request.param]


def test_every_registered_schedule_has_a_closed_form_case():
    assert set(CASES) == set(SCHEDULES)
    assert all(type(c.schedule) is SCHEDULES[name] for name, c in CASES.items())


@pytest.mark.parametrize("n", N_VALUES)
def test_strengths_are_nonnegative_with_one_entry_per_datapoint(case, n):
    s = case.schedule.strengths(n, **_kwargs(case.schedule, n))
    assert s.shape == (n,)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)


@pytest.mark.parametrize("n", N_VALUES)
def test_total_and_summed_strengths_match_the_closed_form(case, n):
    kw = _kwargs(case.schedule, n)
    expected = case.total(n)
    assert case.schedule.total(n, **kw) == pytest.approx(expected, rel=1e-10)
    assert math.fsum(case.schedule.strengths(n, **kw)) == pytest.approx(expected, rel=1e-10)


def test_limit_and_boundedness_match_the_closed_form(case):
    assert case.schedule.bounded is case.bounded
    if case.bounded:
        assert case.schedule.limit() == pytest.approx(case.limit, rel=1e-12)
    else:
        assert case.schedule.limit() == math.inf


BOUNDED = sorted(name for name, c in CASES.items() if c.bounded)
UNBOUNDED = sorted(name for name, c in CASES.items() if not c.bounded)


@pytest.mark.parametrize("n", N_VALUES)
@pytest.mark.parametrize("name", BOUNDED)
def test_bounded_totals_stay_below_the_limit_by_the_exact_tail(name, n):
    """``T(inf) - T(N)``: ``a q^N/(1-q)`` (geometric), ``c zeta(p, N+1)`` (p-series), 0 (budgets)."""
    case = CASES[name]
    tail = {
        "geometric": 2.0 * 0.75**n / 0.25,
        "pseries": 1.5 * zeta(3.0, n + 1),
        "budget": 0.0,
        "confidence": 0.0,
    }[case.schedule.name]
    gap = case.schedule.limit() - case.schedule.total(n, **_kwargs(case.schedule, n))
    assert gap == pytest.approx(tail, rel=1e-6, abs=1e-12)
    assert gap >= -1e-12


@pytest.mark.parametrize("n", N_VALUES)
@pytest.mark.parametrize("name", UNBOUNDED)
def test_unbounded_totals_grow_at_their_known_rate(name, n):
    """Constant: ``T(10N) - T(N) = 9 v N``. Coarsened (decreasing ``s``), by the integral test:
    ``alpha ln((alpha+N+1)/(alpha+1)) <= T(N) <= alpha ln((alpha+N)/alpha)``."""
    sched = CASES[name].schedule
    if sched.name == "constant":
        assert sched.total(10 * n) - sched.total(n) == pytest.approx(9 * 0.3 * n, rel=1e-12)
    else:
        a = 5.0
        assert a * math.log((a + n + 1) / (a + 1)) <= sched.total(n) <= a * math.log((a + n) / a) + 1e-12
        # ten times the data adds at least the integral from n+1 to 10n+1: it never vanishes
        assert sched.total(10 * n) - sched.total(n) >= a * math.log((a + 10 * n + 1) / (a + n + 1)) - 1e-12


def test_index_schedules_are_nonincreasing_per_datapoint():
    for name in ("constant", "geometric", "pseries", "coarsened"):
        s = CASES[name].schedule.strengths(1000)
        assert np.all(np.diff(s) <= 0), name
        assert s[0] > 0, name


@pytest.mark.parametrize("n", N_VALUES)
def test_fixed_budget_schedules_split_their_budget(n):
    """Budget: ``s_n = B/N`` for all n; confidence: ``s_i = B c_i / sum c``, so ``s_i / c_i`` is constant."""
    assert np.allclose(Budget(budget=4.0).strengths(n), 4.0 / n, rtol=1e-14)
    conf = _confidence(n)
    s = ConfidenceWeighted(budget=2.5).strengths(n, confidence=conf)
    np.testing.assert_allclose(s / conf, 2.5 / conf.sum(), rtol=1e-12)


def test_round_trip_through_dict_and_string(case):
    schedule = case.schedule
    assert make_schedule(schedule.to_dict()) == schedule
    params = ",".join(f"{k}={v!r}" for k, v in schedule.to_dict().items() if k != "name")
    assert make_schedule(f"{schedule.name}:{params}") == schedule
    assert schedule.describe().startswith(schedule.name + "(")


def test_known_closed_forms_of_the_defaults():
    assert PSeries().limit() == pytest.approx(math.pi**2 / 6)
    assert PSeries(c=1, p=4).limit() == pytest.approx(math.pi**4 / 90)
    assert Geometric().limit() == pytest.approx(2.0)
    assert Geometric(first=2, ratio=0.75).total(3) == pytest.approx(2 + 1.5 + 1.125)
    assert Budget(budget=3).strengths(4).tolist() == [0.75] * 4
    assert ConfidenceWeighted(budget=2).strengths(2, confidence=[0.25, 0.75]).tolist() == [0.5, 1.5]
    assert Coarsened(alpha=1).strengths(3).tolist() == pytest.approx([1 / 2, 1 / 3, 1 / 4])
    assert Constant(0).limit() == 0 and Constant(0).bounded
    assert not Constant(0.1).bounded


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: Constant(-1), "non-negative"),
        (lambda: Geometric(ratio=1.0), r"\[0, 1\)"),
        (lambda: PSeries(p=1.0), "p must be > 1"),
        (lambda: Budget(budget=float("nan")), "finite"),
        (lambda: SCHEDULES["coarsened"](alpha=0), "positive"),
        (lambda: Budget().strength([1, 2]), "needs n_total"),
        (lambda: ConfidenceWeighted().strengths(3), "needs confidence"),
        (lambda: ConfidenceWeighted().strengths(2, confidence=[0.5, 1.5]), r"\[0, 1\]"),
        (lambda: ConfidenceWeighted().strengths(2, confidence=[0, 0]), "all confidences are zero"),
        (lambda: ConfidenceWeighted().strengths(3, confidence=[0.5, 0.5]), "n_total=3"),
        (lambda: Constant().strength([0, 1]), "1-based"),
        (lambda: Constant().strength(np.array([2, 0, 1])), "n = 0.0: datapoint indices"),  # integer array: its own check
        (lambda: PSeries().strength(np.array([1, -3], dtype=np.int32)), "n = -3.0"),
        (lambda: make_schedule("nope:x=1"), "unknown schedule 'nope'"),
        (lambda: make_schedule("pseries:c"), "not key=value"),
        (lambda: make_schedule("pseries:c=abc"), "not a number"),
        (lambda: make_schedule("pseries:q=2"), "bad parameters"),
        (lambda: Constant().strengths(-3), "non-negative integer"),
    ],
)
def test_bad_input_raises_a_clear_error(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_integer_index_arrays_give_the_same_strengths_as_float_ones():
    """Integer arrays take a shorter check (only the minimum); the strengths are the same."""
    for sched in (PSeries(c=1, p=2), Constant(0.5), Geometric(first=2.0, ratio=0.5)):
        for dtype in (np.int64, np.uint16):
            idx = np.arange(1, 50, dtype=dtype)
            np.testing.assert_array_equal(sched.strength(idx), sched.strength(idx.astype(float)))
    assert PSeries().strength(np.array([], dtype=np.int64)).shape == (0,)

"""One set of invariants for every registered schedule (scikit-learn's common-test style)."""

import math

import numpy as np
import pytest

from bayes_w2s.schedules import SCHEDULES, Budget, ConfidenceWeighted, Constant, Geometric, PSeries, make_schedule

N_VALUES = [1, 7, 100, 10_000]


def _instance(cls):
    return cls()


def _kwargs(schedule, n):
    conf = np.random.default_rng(n).uniform(0.05, 1, n) if schedule.needs_confidence else None
    return {"confidence": conf}


@pytest.fixture(params=sorted(SCHEDULES), ids=sorted(SCHEDULES))
def schedule(request):
    return _instance(SCHEDULES[request.param])


@pytest.mark.parametrize("n", N_VALUES)
def test_strengths_are_nonnegative_with_one_entry_per_datapoint(schedule, n):
    s = schedule.strengths(n, **_kwargs(schedule, n))
    assert s.shape == (n,)
    assert np.all(np.isfinite(s)) and np.all(s >= 0)


@pytest.mark.parametrize("n", N_VALUES)
def test_total_is_the_sum_of_strengths(schedule, n):
    kw = _kwargs(schedule, n)
    assert schedule.total(n, **kw) == pytest.approx(schedule.strengths(n, **kw).sum(), rel=1e-12)


@pytest.mark.parametrize("n", N_VALUES)
def test_total_never_exceeds_the_limit(schedule, n):
    assert schedule.total(n, **_kwargs(schedule, n)) <= schedule.limit() * (1 + 1e-12)


def test_bounded_iff_limit_is_finite(schedule):
    assert schedule.bounded == math.isfinite(schedule.limit())


def test_total_approaches_the_limit_for_bounded_index_schedules(schedule):
    if schedule.needs_confidence or schedule.needs_n_total or not schedule.bounded:
        # fixed-N schedules spend exactly their budget for every N
        if schedule.bounded:
            assert schedule.total(500, **_kwargs(schedule, 500)) == pytest.approx(schedule.limit())
        else:
            assert schedule.total(10**6) > schedule.total(10**3) > 0
        return
    assert schedule.total(10**6) == pytest.approx(schedule.limit(), rel=1e-5)


def test_index_schedules_are_monotone_in_n(schedule):
    if schedule.needs_confidence:
        return
    totals = [schedule.total(n) if not schedule.needs_n_total else None for n in (1, 10, 100)]
    if totals[0] is not None:
        assert totals == sorted(totals)


def test_round_trip_through_dict_and_string(schedule):
    assert make_schedule(schedule.to_dict()) == schedule
    params = ",".join(f"{k}={v!r}" for k, v in schedule.to_dict().items() if k != "name")
    assert make_schedule(f"{schedule.name}:{params}") == schedule
    assert schedule.describe().startswith(schedule.name + "(")


def test_known_closed_forms():
    assert PSeries(c=1, p=2).limit() == pytest.approx(math.pi**2 / 6)
    assert Geometric(first=2, ratio=0.75).limit() == pytest.approx(8)
    assert Geometric(first=2, ratio=0.75).total(3) == pytest.approx(2 + 1.5 + 1.125)
    assert Budget(budget=3).strengths(4).tolist() == [0.75] * 4
    assert ConfidenceWeighted(budget=2).strengths(2, confidence=[0.25, 0.75]).tolist() == [0.5, 1.5]
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

"""The engine benchmark's baselines compute the same rule as the engine (benchmarks/engine.py).

pyAgrum is in the ``bench`` extra, not ``test``, so it is exercised by the benchmark itself
(which checks every contender against the exact posterior before timing it), not here.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from bayes_w2s import condition

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "engine.py"
_spec = importlib.util.spec_from_file_location("bench_engine", _PATH)
bench = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = bench  # dataclasses look their module up
_spec.loader.exec_module(bench)


@pytest.fixture(scope="module")
def problem():
    return bench.Problem(n_hyp=25, n_obs=40, n_rep=3, seed=4)


@pytest.mark.parametrize("rule", bench.RULES)
def test_exact_reference_is_the_library_definition(problem, rule):
    s = None if rule == "bayes" else problem.strengths
    z = np.zeros(problem.n_obs, dtype=np.int64)
    ref = [np.exp(condition(problem.log_prior, problem.log_probs, z, y, rule=rule, strengths=s).log_posterior) for y in problem.labels]
    np.testing.assert_allclose(bench.exact(problem, rule), ref, atol=1e-14)


@pytest.mark.parametrize("contender", ["engine", "numpy", "loop", "pgmpy"])
@pytest.mark.parametrize("rule", bench.RULES)
def test_every_contender_runs_the_same_rule(problem, rule, contender):
    got = bench.CONTENDERS[contender](problem, rule)()
    assert got.shape == (problem.n_rep, problem.n_hyp)
    np.testing.assert_allclose(got, bench.exact(problem, rule), atol=1e-12)


def test_the_two_rules_give_different_posteriors(problem):
    """Guards the comparison itself: a baseline running the wrong rule would be caught."""
    assert np.abs(bench.exact(problem, "bayes") - bench.exact(problem, "ve")).max() > 0.05


def test_measure_tier_reports_matched_sizes_and_ratio_one_for_the_engine():
    rows = bench.measure_tier("T", 10, 15, 2, ("engine", "numpy"), seed=0, scale=0.1)
    assert {(r[1], r[2]) for r in rows} == {(rule, c) for rule in bench.RULES for c in ("engine", "numpy")}
    assert all(r[3:6] == (10, 15, 2) and len(r[6]) >= 1 and r[7] <= bench.TOLERANCE for r in rows)
    table = bench.format_table(rows)
    assert table.count("| engine |") == 2 and "| 1 (1) |" in table

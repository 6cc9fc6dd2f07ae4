"""Smoke and structural tests of the budget_tradeoff experiment at a tiny size."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayes_w2s.simulations import budget_tradeoff as exp

TINY = dict(replicates=2, n=2000, budgets=(1.0, 30.0, 3000.0), kappas=(30.0, 300.0), n_gt=40, n_train=80,
            n_test=150, strong_angles=24, strong_offsets=9)


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def test_table(table):
    assert list(table.columns) == ["kind", "budget", "kappa", "replicate", "metric", "value", "b_mimic"]
    spent = table[table.metric == "spent"]
    assert np.allclose(spent.value, spent.budget)  # a budget schedule spends exactly B
    ve = table[(table.kind == "ve") & (table.metric == "influence")]
    assert (ve.value <= ve.budget + 1e-9).all()  # the certificate
    assert exp.run(exp.Config(**{**TINY, "replicates": 1})).equals(table[table.replicate == 0].reset_index(drop=True))


def test_huge_budget_mimics(table):
    """Far above the predicted boundary the representable mimic wins: agreement on errors ~1."""
    big = table[(table.budget == 3000.0) & (table.metric == "agree_weak_err") & (table.budget > 2 * table.b_mimic)]
    assert len(big) and (big.value > 0.8).all()


def test_figures_and_summary(table):
    assert "predicted mimicry above" in exp.summarize(table, exp.Config(**TINY))
    for plot in exp.FIGURES.values():
        plt.close(plot(table))


def test_bad_config():
    with pytest.raises(ValueError, match="budgets must be a non-empty tuple of positive numbers"):
        exp.Config(budgets=(0.0,))
    with pytest.raises(ValueError, match="budgets and kappas must not repeat"):
        exp.Config(kappas=(1.0, 1.0))

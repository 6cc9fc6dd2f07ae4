"""Smoke and structural tests of the bootstrap experiment at a tiny size."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from bayes_w2s.simulations import bootstrap as exp

TINY = dict(replicates=2, n=2000, n_mid=2000, per_decade=1, n_gt=40, n_train=160, n_test=150, mid_angles=8,
            mid_offsets=5, strong_angles=24, strong_offsets=9, mid_kappa=100.0, strong_kappa=100.0)


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def test_table(table):
    assert set(table.path) == set(exp.PATHS)
    assert set(table[table.metric == "acc_mid"].path) == {"chain"}
    assert exp.run(exp.Config(**{**TINY, "replicates": 1})).equals(table[table.replicate == 0].reset_index(drop=True))


def test_chain_filters_weak_errors_under_hard_bayes(table):
    """The grammatical intermediate cannot pass on the staircase: the chained strong model
    agrees with the weak model on its errors less than the single jump (which copies them)."""
    last = table[(table.n == table.n.max()) & (table.rule == "hard Bayes") & (table.metric == "agree_weak_err")
                 & (table.strong == "contains weak")]
    med = last.groupby("path").value.median()
    assert med["single jump"] > 0.8 and med["chain"] < med["single jump"]


def test_figures_and_summary(table):
    assert "chain" in exp.summarize(table, exp.Config(**TINY))
    for plot in exp.FIGURES.values():
        plt.close(plot(table))


def test_bad_config():
    with pytest.raises(ValueError, match="n_train must be >= 2"):
        exp.Config(n_train=1)
    with pytest.raises(ValueError, match="mid_kappa and strong_kappa must be >= 0"):
        exp.Config(mid_kappa=-1.0)

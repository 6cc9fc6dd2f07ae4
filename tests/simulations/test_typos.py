"""Smoke and structural tests of the typos experiment at a tiny size."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from bayes_w2s.simulations import typos as exp

TINY = dict(replicates=2, n=2000, per_decade=1, rates=(0.1, 0.2), n_train=100, n_test=200,
            strong_angles=24, strong_offsets=9, kappa=100.0)


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def test_table(table):
    assert list(table.columns) == ["case", "rate", "rule", "replicate", "n", "metric", "value"]
    assert set(table.case) == set(exp.CASES)
    assert exp.run(exp.Config(**{**TINY, "replicates": 1})).equals(table[table.replicate == 0].reset_index(drop=True))


def test_grammatical_student_does_not_copy_random_typos(table):
    """Random typos are not representable by halfspaces: even hard Bayes stays off them,
    while the same typos added to the strong space are copied."""
    last = table[(table.n == table.n.max()) & (table.rule == "hard Bayes") & (table.metric == "agree_weak_err")]
    assert (last[last.case == "typos, grammatical student"].value < 0.5).all()
    assert (last[last.case == "typos, representable"].value > 0.9).all()


def test_figures_and_summary(table):
    assert "PGR" in exp.summarize(table, exp.Config(**TINY))
    for plot in exp.FIGURES.values():
        plt.close(plot(table))


def test_bad_config():
    with pytest.raises(ValueError, match=r"typo rates must lie in \[0, 0.5\)"):
        exp.Config(rates=(0.6,))
    with pytest.raises(ValueError, match="typo_cells must be >= 2"):
        exp.Config(typo_cells=1)

"""Smoke and structural tests of the gap_sweep experiment at a tiny size."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from bayes_w2s.simulations import gap_sweep as exp

TINY = dict(replicates=2, ns=(100, 1000), weak_angles=(2, 5), strong_angles=(8, 20), strong_kappas=(50.0, 200.0),
            strong_offsets=9, n_gt=40, n_train=80, n_test=150)


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def test_table(table):
    assert set(table.n) == {100, 1000}
    flags = table.groupby(["weak_angles", "strong_angles"]).contained.first()
    assert flags[(2, 8)] and flags[(5, 20)] and not flags[(5, 8)]
    assert exp.run(exp.Config(**{**TINY, "replicates": 1})).equals(table[table.replicate == 0].reset_index(drop=True))


def test_figures_and_summary(table):
    assert "median PGR" in exp.summarize(table, exp.Config(**TINY))
    for plot in exp.FIGURES.values():
        plt.close(plot(table))


def test_bad_config():
    with pytest.raises(ValueError, match=r"strong_kappas \(1\) must pair with strong_angles \(2\)"):
        exp.Config(strong_angles=(8, 16), strong_kappas=(1.0,))
    with pytest.raises(ValueError, match="not among the rules built from the config"):
        exp.Config(rules="hard Bayes;magic")

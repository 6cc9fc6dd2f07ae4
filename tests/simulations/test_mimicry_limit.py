"""Smoke and structural tests of the mimicry_limit experiment at a tiny size."""

import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from bayes_w2s.simulations import mimicry_limit as exp
from bayes_w2s.simulations._world import split_specs

from bayes_w2s.schedules import make_schedule

TINY = dict(replicates=2, n=3000, per_decade=2, n_gt=40, n_train=80, n_test=150, strong_angles=24,
            strong_offsets=9, kappa=100.0, bounded_schedules="budget:budget=20;geometric:first=1,ratio=0.9")


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def test_table_shape_and_determinism(table):
    assert list(table.columns) == ["strong", "rule", "replicate", "n", "metric", "value"]
    assert set(table.strong) == set(exp.STRONG_VARIANTS)
    assert table.n.max() == 3000
    again = exp.run(exp.Config(**{**TINY, "replicates": 1}))
    first = table[table.replicate == 0].reset_index(drop=True)
    assert first.equals(again.reset_index(drop=True))  # same seed, same rows (and independent of R)


def test_bounded_schedules_spend_exactly_their_total(table):
    spent = table[(table.metric == "spent") & (table.strong == "contains weak")]
    for spec in split_specs(TINY["bounded_schedules"]):
        rule = f"VE {make_schedule(spec).describe()}"
        for n, value in spent[spent.rule == rule].groupby("n").value.first().items():
            assert np.isclose(value, make_schedule(spec).total(int(n)))
        influence = table[(table.metric == "influence") & (table.rule == rule)].value
        assert influence.max() <= make_schedule(spec).limit() + 1e-9  # the certificate


def test_hard_bayes_mimics_representable_errors(table):
    """Past the predicted crossing N*, hard Bayes agrees with the weak model on its errors."""
    cfg = exp.Config(**TINY)
    assert exp.crossing_n(cfg) < 100
    last = table[(table.n == table.n.max()) & (table.rule == "hard Bayes") & (table.metric == "agree_weak_err")]
    contains = last[last.strong == "contains weak"].value
    assert (contains >= 0.8).all()


def test_summary_and_figures(table):
    text = exp.summarize(table, exp.Config(**TINY))
    assert "predicted hard-Bayes crossing" in text
    for name, plot in exp.FIGURES.items():
        fig = plot(table)
        assert fig.axes, name
        plt.close(fig)


def test_bad_config_raises_clear_errors():
    with pytest.raises(ValueError, match="is not bounded"):
        exp.Config(bounded_schedules="constant:value=1")
    with pytest.raises(ValueError, match=r"label noise eps must lie in \(0, 0.5\)"):
        exp.Config(eps_weak=0.6)
    with pytest.raises(ValueError, match="weak_labels must be one of sample, argmax"):
        exp.Config(weak_labels="soft")
    with pytest.raises(ValueError, match="grid_cells must be 1, 2 or 3"):
        exp.Config(grid_cells=4)
    with pytest.raises(ValueError, match="replicates must be a positive integer"):
        exp.Config(replicates=0)
    assert dataclasses.is_dataclass(exp.Config())

"""The misfit experiment at a tiny size: identity, inequality, determinism, figures, CLI."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from bayes_w2s.simulations import misfit

TINY = misfit.Config(
    n_replicates=3,
    n_pool=400,
    n_weak_train=16,
    n_test=100,
    weak_dims=(2, 8),
    radius_factors=(1.0, 1.5),
)


@pytest.fixture(scope="module")
def table():
    return misfit.run(TINY)


def test_table_shape_and_columns(table):
    assert list(table.columns) == misfit.COLUMNS
    assert len(table) == 3 * 2 * 3  # replicates x weak dims x (subspace + 2 balls)
    assert set(table["class_kind"]) == {"subspace", "ball"}
    assert table.loc[table.class_kind == "subspace", "radius_factor"].isna().all()
    np.testing.assert_allclose(table["gain"], table["err_w"] - table["err_sw"], rtol=0, atol=0)


def test_subspace_identity_to_1e8(table):
    sub = table[table["class_kind"] == "subspace"]
    assert (sub["misfit"] > 1e-4).all()  # the identity is not trivially 0 = 0
    assert (sub["residual"].abs() <= 1e-8).all()
    np.testing.assert_allclose(sub["err_sw"], sub["err_w"] - sub["misfit"], rtol=0, atol=1e-8)


def test_convex_class_inequality(table):
    ball = table[table["class_kind"] == "ball"]
    assert (ball["err_sw"] <= ball["err_w"] - ball["misfit"] + 1e-12).all()
    active = ball[ball["multiplier"] > 0]
    assert len(active) >= 2  # the constraint binds somewhere, and there the gap is strict
    assert (active["residual"] > 1e-6).all()
    inactive = ball[ball["multiplier"] == 0]
    assert (inactive["residual"].abs() <= 1e-8).all()


def test_same_seed_same_rows_other_seed_other_rows(table):
    pd.testing.assert_frame_equal(misfit.run(TINY), table)
    other = misfit.run(dataclasses.replace(TINY, seed=1))
    assert not np.allclose(other["err_w"], table["err_w"])


def test_replicates_do_not_depend_on_how_many_are_run(table):
    fewer = misfit.run(dataclasses.replace(TINY, n_replicates=2))
    pd.testing.assert_frame_equal(fewer, table[table.replicate < 2].reset_index(drop=True))


@pytest.mark.parametrize(
    "change, message",
    [
        (
            {"radius_factors": (0.9,)},
            "radius_factors must be >= 1 so that the target lies in the ball",
        ),
        ({"weak_dims": ()}, "weak_dims must be non-empty positive integers"),
        ({"n_pool": 0}, "n_pool must be >= 1, got 0"),
        ({"label_noise": -1.0}, "label_noise must be >= 0"),
    ],
)
def test_config_errors(change, message):
    with pytest.raises(ValueError, match=message):
        misfit.Config(**change)


def test_figures_only_read_the_table(table):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    before = table.copy()
    for name, plot_fn in misfit.FIGURES.items():
        fig, ax = plt.subplots()
        assert plot_fn(table, ax=ax) is fig
        assert ax.has_data(), name
        plt.close(fig)
    pd.testing.assert_frame_equal(table, before)
    text = misfit.summarize(table, TINY)
    assert "CHECK subspace identity" in text and "CHECK ball inequality" in text
    assert text.count("PASS") == 2 and "FAIL" not in text


def test_summary_checks_can_fail(table):
    """The printed checks are real checks: a residual beyond the tolerance reads FAIL."""
    scale = table["err_w"].abs().max()
    bad = table.copy()
    first_sub = bad.index[bad.class_kind == "subspace"][0]
    bad.loc[first_sub, "residual"] = 1e3 * misfit.CHECK_RTOL * scale
    first_ball = bad.index[bad.class_kind == "ball"][0]
    bad.loc[first_ball, "residual"] = -1e3 * misfit.CHECK_RTOL * scale
    text = misfit.summarize(bad, TINY)
    assert text.count("FAIL") == 2 and "PASS" not in text


def test_cli_run_smoke(tmp_path, capsys):
    from bayes_w2s.harness import cli
    from bayes_w2s.harness.runs import read_run

    args = ["run", "misfit", "--out", str(tmp_path), "--n-replicates", "2", "--n-pool", "200", "--n-test", "50",
            "--weak-dims", "2,4", "--no-figures"]  # fmt: skip
    assert cli.main(args) == 0
    meta, df = read_run(next(tmp_path.iterdir()))
    assert meta["experiment"] == "misfit" and meta["config"]["weak_dims"] == [2, 4]
    assert len(df) == 2 * 2 * 3 and "subspace" in capsys.readouterr().out

"""Smoke test of the pymc_student experiment at a tiny size, through the command line."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pymc", reason="needs the pymc extra")

from bayes_w2s.simulations import pymc_student as ps

from bayes_w2s.harness.cli import main
from bayes_w2s.harness.runs import read_run

pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")

TINY = dict(
    n_features=3,
    n_weak_features=1,
    n_weak_train=60,
    n_w2s=60,
    n_test=300,
    budgets=(3.0,),
    rules=("ve",),
    draws=150,
    tune=150,
)


def _args(**fields):
    out = []
    for key, value in fields.items():
        text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
        out += [f"--{key.replace('_', '-')}", text]
    return out


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    with warnings.catch_warnings():  # a tiny run may (rightly) warn about its chains
        warnings.simplefilter("ignore")
        code = main(["run", "pymc_student", "--out", str(root), "--seed", "3", *_args(**TINY)])
    assert code == 0
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    meta, df = read_run(folder)
    return folder, meta, df


def test_run_writes_table_config_and_figures(tiny_run):
    folder, meta, _ = tiny_run
    assert meta["experiment"] == "pymc_student" and meta["config"]["seed"] == 3
    assert meta["config"]["budgets"] == [3.0]
    for name in ps.FIGURES:
        assert (folder / f"{name}.png").stat().st_size > 0


def test_table_has_every_schedule_metric_and_weight(tiny_run):
    _, _, df = tiny_run
    assert set(df["row_type"]) == {"metric", "param"}
    schedules = ["prior", "weak", "ceiling", "hard", "ve budget B=3"]
    assert list(dict.fromkeys(df["schedule"])) == schedules
    met = df[df.row_type == "metric"].pivot_table(
        index="schedule", columns="metric", values="value", aggfunc="first"
    )
    for col in ("accuracy", "agree_weak", "agree_weak_when_wrong"):
        assert met[col].between(0, 1).all(), col
    assert met.loc["weak", "agree_weak"] == 1.0
    assert set(met["pgr"].dropna().index) <= {"prior", "hard", "ve budget B=3"}
    assert met.loc[["ceiling", "hard", "ve budget B=3"], "chain_n_chains"].eq(2).all()
    # PGR is recomputed from the stored accuracies, not invented
    acc = met["accuracy"]
    if acc["ceiling"] > acc["weak"]:
        expected = (acc["hard"] - acc["weak"]) / (acc["ceiling"] - acc["weak"])
        assert met.loc["hard", "pgr"] == pytest.approx(expected)
    par = df[df.row_type == "param"]
    assert set(par["param"]) == {"w[x0]", "w[x1]", "w[x2]", "intercept"}
    fits = par[par.schedule.isin(["ceiling", "hard", "ve budget B=3"])]
    assert (fits["hdi_lo"] <= fits["q50"]).all() and (fits["q50"] <= fits["hdi_hi"]).all()
    assert (fits["hdi_prob"] == 0.9).all() and fits["r_hat"].notna().all()
    # the weak model sees only x0: it has no weight for x1, x2
    weak = par[par.schedule == "weak"].set_index("param")
    assert math.isnan(weak.loc["w[x1]", "mean"]) and not math.isnan(weak.loc["w[x0]", "mean"])
    infl = df[(df.row_type == "metric") & (df.metric == "accuracy")].set_index("schedule")[
        "total_influence"
    ]
    assert infl["ve budget B=3"] == pytest.approx(3.0) and infl["hard"] == np.inf


def test_figures_are_drawn_from_the_table_alone(tiny_run):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, df = tiny_run
    for plot in ps.FIGURES.values():
        fig, ax = plt.subplots()
        assert plot(df.copy(), ax=ax) is fig
        assert ax.has_data()
    plt.close("all")
    assert "accuracy" in ps.summarize(df, ps.Config(**TINY))


def test_world_is_seeded_and_weak_sees_a_subset():
    cfg = ps.Config(seed=5, **TINY)
    a, b = ps.make_world(cfg), ps.make_world(cfg)
    np.testing.assert_array_equal(a.x_test, b.x_test)
    np.testing.assert_array_equal(a.weak_w2s, b.weak_w2s)
    c = ps.make_world(dataclasses.replace(cfg, seed=6))
    assert not np.allclose(a.beta, c.beta)
    assert a.weak_coef.shape == (cfg.n_weak_features + 1,)
    assert np.linalg.norm(a.beta) == pytest.approx(cfg.signal)
    assert np.linalg.norm(a.beta[:1]) ** 2 == pytest.approx(cfg.weak_share * cfg.signal**2)
    cos = a.prior_mean @ a.beta / (np.linalg.norm(a.prior_mean) * np.linalg.norm(a.beta))
    assert cos == pytest.approx(cfg.prior_alignment)
    # the weak labels are the weak model's argmax on the w2s pool
    p = 1 / (1 + np.exp(-(a.x_w2s[:, :1] @ a.weak_coef[:1] + a.weak_coef[1])))
    np.testing.assert_array_equal(a.weak_w2s, (p > 0.5).astype(int))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_weak_features=3, n_features=3), "n_weak_features"),
        (dict(budgets=(0.0,)), "budgets"),
        (dict(rules=("bayes",)), "rules"),
        (dict(bounded_schedule="constant"), "bounded_schedule"),
        (dict(prob=1.0), "prob"),
        (dict(prior_alignment=1.5), "prior_alignment"),
        (dict(weak_share=1.0), "weak_share"),
        (dict(n_test=1), "at least 2"),
    ],
)
def test_config_rejects_bad_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ps.Config(**kwargs)


def test_bounded_schedule_specs_spend_the_budget():
    from bayes_w2s.core.schedules import make_schedule

    for name in ps.BOUNDED_SCHEDULES:
        sched = make_schedule(ps._schedule_spec(name, 7.0))
        assert sched.bounded and sched.limit() == pytest.approx(7.0)


def test_summary_flags_untrustworthy_chains():
    df = pd.DataFrame(
        [
            {"row_type": "metric", "schedule": s, "metric": m, "value": v}
            for s, trust in (("hard", 1.0), ("ve budget B=1", 0.0))
            for m, v in (
                ("accuracy", 0.7),
                ("agree_weak", 0.9),
                ("agree_weak_when_wrong", 0.8),
                ("chain_trustworthy", trust),
            )
        ]
    )
    text = ps.summarize(df, ps.Config())
    assert "untrustworthy" in text and "ve budget B=1" in text.splitlines()[-1]

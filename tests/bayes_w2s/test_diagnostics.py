"""Chain diagnostics on synthetic draws with known defects, and the ArviZ house rules."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pytest

dg = pytest.importorskip("bayes_w2s.ppl.diagnostics", reason="needs the pymc extra")

ROOT = Path(__file__).resolve().parents[2]
INTERVAL_FUNCS = {"summary", "hdi", "plot_forest", "plot_posterior", "plot_density", "plot_ppc"}


def _iid(seed=0, chains=2, draws=600, loc=0.0):
    rng = np.random.default_rng(seed)
    return loc + rng.normal(size=(chains, draws))


def _ar1(phi, seed=0, chains=2, draws=600):
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, draws))
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + np.sqrt(1 - phi**2) * rng.normal(size=chains)
    return x


def test_good_chains_are_trusted_without_warning():
    idata = dg.from_draws({"mu": _iid(), "w": np.stack([_iid(1), _iid(2)], axis=-1)})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        diag = dg.check_chains(idata)
    assert diag.trustworthy and diag.problems == ()
    assert diag.n_chains == 2 and diag.n_draws == 600
    assert diag.max_rhat < 1.01 and diag.min_ess_bulk > 200 and diag.n_divergent == 0
    assert diag.to_dict()["trustworthy"] is True


def test_chains_in_different_places_fail_rhat():
    stuck = np.concatenate([_iid(0, chains=1), _iid(1, chains=1, loc=3.0)])
    with pytest.warns(dg.SamplingWarning, match="R-hat"):
        diag = dg.check_chains(dg.from_draws({"mu": stuck}))
    assert diag.max_rhat > 1.5 and not diag.trustworthy


def test_sticky_chains_fail_ess_but_not_rhat_alone():
    with pytest.warns(dg.SamplingWarning, match="bulk ESS"):
        diag = dg.check_chains(dg.from_draws({"mu": _ar1(0.995)}))
    assert diag.min_ess_bulk < 200
    # the threshold is per chain: the same draws pass a lax enough rule
    lax = dg.check_chains(
        dg.from_draws({"mu": _ar1(0.5)}), ess_per_chain_min=50, rhat_max=1.1, warn=False
    )
    assert lax.trustworthy, lax.problems


def test_divergences_are_reported():
    div = np.zeros((2, 600), dtype=bool)
    div[1, [3, 50, 400]] = True
    idata = dg.from_draws({"mu": _iid()}, sample_stats={"diverging": div})
    with pytest.warns(dg.SamplingWarning, match="3 divergent"):
        diag = dg.check_chains(idata)
    assert diag.n_divergent == 3


def test_one_chain_and_constant_chains_are_not_trusted():
    one = dg.check_chains(dg.from_draws({"mu": _iid(chains=1)}), warn=False)
    assert any("one chain" in p for p in one.problems)
    const = dg.check_chains(dg.from_draws({"mu": np.ones((2, 600))}), warn=False)
    assert any("undefined" in p for p in const.problems)


def test_var_names_restricts_the_check():
    idata = dg.from_draws({"good": _iid(), "bad": _ar1(0.995)})
    assert dg.check_chains(idata, var_names=["good"], warn=False).trustworthy
    assert not dg.check_chains(idata, warn=False).trustworthy


def test_posterior_table_matches_numpy_and_uses_the_given_prob():
    rng = np.random.default_rng(3)
    w = rng.gamma(2.0, 1.0, size=(2, 2000, 3)) * np.array([1.0, 2.0, 5.0])  # skewed, asymmetric
    idata = dg.from_draws({"w": w}, dims={"w": ["feature"]}, coords={"feature": ["a", "b", "c"]})
    t90 = dg.posterior_table(idata, prob=0.9).set_index("param")
    t50 = dg.posterior_table(idata, prob=0.5).set_index("param")
    flat = w.reshape(-1, 3)
    assert list(t90.index) == ["w[a]", "w[b]", "w[c]"]
    np.testing.assert_allclose(t90["mean"], flat.mean(0), rtol=1e-12)
    np.testing.assert_allclose(t90["sd"], flat.std(0, ddof=1), rtol=1e-9)
    np.testing.assert_allclose(t90["q50"], np.median(flat, 0))
    assert (t90["hdi_prob"] == 0.9).all() and (t50["hdi_prob"] == 0.5).all()
    width90, width50 = t90["hdi_hi"] - t90["hdi_lo"], t50["hdi_hi"] - t50["hdi_lo"]
    assert (width50 < width90).all()
    inside = ((flat >= t90["hdi_lo"].values) & (flat <= t90["hdi_hi"].values)).mean(0)
    np.testing.assert_allclose(inside, 0.9, atol=0.002)
    # HDI of a right-skewed posterior sits left of the central interval
    assert (t90["hdi_lo"] < t90["q5"]).all()
    assert (t90["mcse_mean"] > 0).all() and (t90["ess_bulk"] > 1000).all()
    h = dg.hdi(idata, prob=0.9)["w"].values
    np.testing.assert_allclose(h[:, 0], t90["hdi_lo"], rtol=1e-12)


@pytest.mark.parametrize("prob", [0.0, 1.0, 1.5, -0.1])
def test_interval_prob_is_validated(prob):
    idata = dg.from_draws({"mu": _iid()})
    with pytest.raises(ValueError, match="prob"):
        dg.posterior_table(idata, prob=prob)
    with pytest.raises(ValueError, match="prob"):
        dg.hdi(idata, prob=prob)


def test_interval_prob_has_no_default():
    idata = dg.from_draws({"mu": _iid()})
    for fn in (dg.posterior_table, dg.hdi, lambda d: dg.plot_forest({"m": d})):
        with pytest.raises(TypeError):
            fn(idata)


def test_plot_forest_across_models():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = dg.from_draws({"mu": _iid(0)})
    b = dg.from_draws({"mu": _iid(1, loc=2.0)})
    ax = dg.plot_forest({"hard": a, "bounded": b}, prob=0.8)
    assert ax.figure is not None
    plt.close("all")


def _arviz_calls(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        func = getattr(node, "func", None)
        if (
            isinstance(node, ast.Call)
            and isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "az"
        ):
            yield node


def test_every_arviz_interval_call_passes_prob_explicitly():
    calls = list(_arviz_calls(ROOT / "bayes_w2s" / "ppl" / "diagnostics.py"))
    assert {c.func.attr for c in calls} >= {"summary", "hdi", "rhat", "ess", "plot_forest"}
    for call in calls:
        if call.func.attr in INTERVAL_FUNCS:
            assert "hdi_prob" in {k.arg for k in call.keywords}, (
                f"az.{call.func.attr} at line {call.lineno}"
            )


def test_arviz_is_imported_only_by_the_diagnostics_module():
    offenders = []
    for folder in ("bayes_w2s", "simulations", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "diagnostics.py" and path.parent.name == "ppl":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n == "arviz" or n.startswith("arviz.") for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []

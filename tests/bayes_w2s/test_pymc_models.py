"""PyMC students: model structure, soft-evidence likelihoods, and NUTS against exact answers.

Sampling tests use 2 chains on 1 core with few draws; tolerances are Monte Carlo standard
errors (ESS-based, from ArviZ) times 4, plus the grid's own discretization error where a
grid is the reference. Every sampled fixture is module-scoped and seeded.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from scipy import stats
from scipy.special import expit, logit

from bayes_w2s.core.asymptotics import beta_bernoulli_posterior
from bayes_w2s.core.schedules import make_schedule
from bayes_w2s.core.updates import condition, weak_label_loglik

pmm = pytest.importorskip("bayes_w2s.ppl.pymc_models", reason="needs the pymc extra")
dg = pytest.importorskip("bayes_w2s.ppl.diagnostics", reason="needs the pymc extra")

pytestmark = pytest.mark.filterwarnings("ignore:PyTensor could not link to a BLAS:UserWarning")

Z_TOL = 4.0  # standard errors allowed between a sampled moment and the exact one
SAMPLE_KW = dict(draws=1500, tune=700, chains=2, cores=1)


def _coin_data(rule="tempered", n=60, seed=0):
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < 0.7).astype(int)  # asymmetric: mostly ones
    weights = rng.uniform(0.0, 2.0, n)
    weights[:5] = 0.0  # some labels carry no weight at all
    return labels, weights


# ---------------------------------------------------------------- the extra is optional


def _run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120
    )


def test_import_bayes_w2s_never_imports_pymc():
    out = _run_python(
        """
        import sys, bayes_w2s, bayes_w2s.core.schedules, bayes_w2s.core.updates, bayes_w2s.core.asymptotics
        assert "pymc" not in sys.modules and "arviz" not in sys.modules, sorted(sys.modules)
        """
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("module", ["bayes_w2s.ppl.pymc_models", "bayes_w2s.ppl.diagnostics"])
def test_missing_extra_gives_clear_error(module):
    out = _run_python(
        f"""
        import sys
        sys.modules["pymc"] = None; sys.modules["arviz"] = None  # as if not installed
        try:
            import {module}
        except ImportError as err:
            print(err)
        else:
            raise SystemExit("imported without the extra")
        """
    )
    assert out.returncode == 0, out.stderr
    assert "pip install 'bayes-w2s[pymc]'" in out.stdout


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(labels=[0, 2, 1]), "0/1"),
        (dict(labels=[0.5, 1, 0]), "0/1"),
        (dict(labels=[[0, 1]]), "1-D"),
        (dict(labels=[]), "non-empty"),
        (dict(labels=[0, 1], rule="hard"), "unknown rule"),
        (dict(labels=[0, 1], rule="bayes", strengths=[1.0, 1.0]), "no strengths"),
        (dict(labels=[0, 1], rule="tempered"), "needs strengths"),
        (dict(labels=[0, 1], rule="tempered", strengths=[1.0, -0.1]), "non-negative"),
        (dict(labels=[0, 1], rule="ve", strengths=[1.0, np.nan]), "finite"),
        (dict(labels=[0, 1], rule="ve", strengths=[1.0, 2.0, 3.0]), "shape"),
        (dict(labels=[0, 1], rule="ve", strengths=[1.0, 800.0]), "overflow"),
        (dict(labels=[0, 1], features=np.ones((3, 2))), "features must be"),
        (dict(labels=[0, 1], features=np.ones(2)), "features must be"),
        (dict(labels=[0, 1], features=np.array([[1.0], [np.inf]])), "finite"),
        (dict(labels=[0, 1], features=np.ones((2, 2)), feature_names=("a", "a")), "unique"),
        (dict(labels=[0, 1], feature_names=("a",)), "without features"),
    ],
)
def test_weak_data_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pmm.WeakData(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(student="gaussian"), "unknown student"),
        (dict(a=0.0), "positive"),
        (dict(b=-1.0), "positive"),
        (dict(prior_sd=[1.0, -1.0]), "positive"),
        (dict(prior_mean=np.nan), "finite"),
    ],
)
def test_student_config_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pmm.StudentConfig(**kwargs)


def test_build_model_rejects_mismatched_student_and_data():
    coin = pmm.WeakData([0, 1, 1])
    feats = pmm.WeakData([0, 1, 1], features=np.ones((3, 2)))
    with pytest.raises(ValueError, match="needs features"):
        pmm.build_model(coin, pmm.StudentConfig("logistic"))
    with pytest.raises(ValueError, match="pass no features"):
        pmm.build_model(feats, pmm.StudentConfig("beta_bernoulli"))
    with pytest.raises(ValueError, match="prior_mean"):
        pmm.build_model(feats, pmm.StudentConfig("logistic", prior_mean=[0.0, 0.0, 0.0]))
    with pytest.raises(TypeError):
        pmm.build_model(np.array([0, 1]), pmm.StudentConfig())


def test_weak_data_from_schedule_records_strengths():
    labels = np.array([1, 0, 1, 1, 0])
    data = pmm.weak_data(labels, "pseries:c=2,p=2", rule="ve")
    np.testing.assert_allclose(data.strengths, 2.0 / np.arange(1, 6) ** 2)
    assert data.schedule == make_schedule("pseries:c=2,p=2").describe()
    assert data.total_influence == pytest.approx(make_schedule("pseries:c=2,p=2").total(5))
    hard = pmm.weak_data(labels, None)
    assert hard.rule == "bayes" and hard.strengths is None and hard.total_influence == np.inf
    conf = pmm.weak_data(
        labels, "confidence:budget=3", rule="tempered", confidence=[1, 0, 1, 0.5, 0.5]
    )
    np.testing.assert_allclose(conf.strengths, [1, 0, 1, 0.5, 0.5])
    with pytest.raises(ValueError, match="no schedule"):
        pmm.weak_data(labels, "budget:budget=1", rule="bayes")


# ---------------------------------------------------------------- model structure and logp


@pytest.mark.parametrize("rule", ["tempered", "ve"])
def test_soft_labels_are_a_potential_never_observed(rule):
    labels, weights = _coin_data()
    model = pmm.build_model(pmm.WeakData(labels, rule, weights), pmm.StudentConfig(a=2, b=3))
    assert model.observed_RVs == []
    assert [p.name for p in model.potentials] == ["weak_loglik"]
    assert model.named_vars_to_dims["weak_loglik"] == ("obs",)
    assert len(model.coords["obs"]) == labels.size
    np.testing.assert_array_equal(model["strength"].get_value(), weights)


def test_hard_labels_are_observed_with_no_potential():
    labels, _ = _coin_data()
    x = np.random.default_rng(1).normal(size=(labels.size, 3))
    model = pmm.build_model(pmm.WeakData(labels, features=x), pmm.StudentConfig("logistic"))
    assert [v.name for v in model.observed_RVs] == ["weak_label"]
    assert model.potentials == []
    assert list(model.coords["feature"]) == ["x0", "x1", "x2"]
    assert model.named_vars_to_dims["w"] == ("feature",)
    assert model.named_vars_to_dims["X"] == ("obs", "feature")


@pytest.mark.parametrize("rule", ["bayes", "tempered", "ve"])
def test_coin_logp_is_prior_plus_rule_terms(rule):
    """The compiled joint log density equals the formula, term by term (no Jacobian)."""
    labels, weights = _coin_data()
    strengths = None if rule == "bayes" else weights
    model = pmm.build_model(pmm.WeakData(labels, rule, strengths), pmm.StudentConfig(a=2, b=3))
    logp = model.compile_logp(jacobian=False)
    for theta in (0.13, 0.62):
        log_p = np.where(labels == 1, np.log(theta), np.log1p(-theta))
        if rule == "bayes":
            terms = log_p
        elif rule == "tempered":
            terms = weights * log_p
        else:
            terms = weak_label_loglik(log_p, weights)  # the core's log((r - 1) p + 1)
        expected = stats.beta.logpdf(theta, 2, 3) + terms.sum()
        assert logp({"theta_logodds__": logit(theta)}) == pytest.approx(expected, rel=1e-8)


def test_logistic_ve_logp_matches_core_and_hard_equals_tempered_at_weight_one():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(25, 2))
    labels = rng.integers(0, 2, 25)
    s = rng.uniform(0, 3, 25)
    cfg = pmm.StudentConfig(
        "logistic", prior_mean=[0.5, -0.2], prior_sd=[1.0, 2.0], intercept_sd=1.5
    )
    point = {"w": np.array([0.7, -1.3]), "intercept": np.array(0.4)}
    eta = x @ point["w"] + point["intercept"]
    log_p = np.where(labels == 1, -np.logaddexp(0, -eta), -np.logaddexp(0, eta))
    prior = stats.norm.logpdf(point["w"], [0.5, -0.2], [1.0, 2.0]).sum() + stats.norm.logpdf(
        0.4, 0, 1.5
    )

    ve = pmm.build_model(pmm.WeakData(labels, "ve", s, features=x), cfg).compile_logp(
        jacobian=False
    )
    assert ve(point) == pytest.approx(prior + weak_label_loglik(log_p, s).sum(), rel=1e-8)
    hard = pmm.build_model(pmm.WeakData(labels, features=x), cfg).compile_logp()
    temp1 = pmm.build_model(
        pmm.WeakData(labels, "tempered", np.ones(25), features=x), cfg
    ).compile_logp()
    assert hard(point) == pytest.approx(temp1(point), rel=1e-12)
    assert hard(point) == pytest.approx(prior + log_p.sum(), rel=1e-8)


# ---------------------------------------------------------------- NUTS against exact answers


@pytest.fixture(scope="module")
def tempered_coin():
    labels, weights = _coin_data()
    data = pmm.WeakData(labels, "tempered", weights, schedule="uniform(0,2)")
    return data, pmm.fit(data, pmm.StudentConfig(a=2, b=3), seed=11, **SAMPLE_KW)


def test_tempered_beta_bernoulli_matches_closed_form(tempered_coin):
    data, fit = tempered_coin
    exact = beta_bernoulli_posterior(2, 3, data.labels, data.strengths)
    row = dg.posterior_table(fit.idata, prob=0.9, var_names=["theta"]).iloc[0]
    assert fit.diagnostics.trustworthy, fit.diagnostics.problems
    assert abs(row["mean"] - exact.mean) < Z_TOL * row["mcse_mean"]
    assert abs(row["sd"] - exact.sd) < Z_TOL * row["mcse_sd"]
    # and it is not the untempered posterior, which is far away in those units
    hard = beta_bernoulli_posterior(2, 3, data.labels, 1.0)
    assert (
        abs(row["mean"] - hard.mean) > 3 * Z_TOL * row["mcse_mean"]
        or abs(row["sd"] - hard.sd) > 3 * Z_TOL * row["mcse_sd"]
    )


def test_fit_records_schedule_and_strengths(tempered_coin):
    data, fit = tempered_coin
    attrs = fit.idata.posterior.attrs
    assert attrs["bayes_w2s_rule"] == "tempered"
    assert attrs["bayes_w2s_schedule"] == "uniform(0,2)"
    assert attrs["bayes_w2s_total_influence"] == pytest.approx(data.strengths.sum())
    assert attrs["bayes_w2s_seed"] == 11
    np.testing.assert_array_equal(fit.idata.constant_data["strength"].values, data.strengths)
    np.testing.assert_array_equal(fit.idata.constant_data["weak_label"].values, data.labels)
    assert "observed_data" not in fit.idata.groups()


def test_posterior_predictive_is_untempered(tempered_coin):
    """Predictive P(y=1) = E[theta | data] = (a + sum w y) / (a + b + sum w)."""
    data, fit = tempered_coin
    exact = beta_bernoulli_posterior(2, 3, data.labels, data.strengths)
    pred = pmm.posterior_predictive(fit.idata, seed=5, n_new=4)
    assert pred["label"].shape == (2, SAMPLE_KW["draws"], 4)
    np.testing.assert_allclose(pred["p_label"].values[..., 2], fit.idata.posterior["theta"].values)
    n = pred["label"].size
    mcse = dg.posterior_table(fit.idata, prob=0.9, var_names=["theta"])["mcse_mean"].iloc[0]
    tol = Z_TOL * np.hypot(np.sqrt(exact.mean * (1 - exact.mean) / n), mcse)
    assert abs(pred["label"].values.mean() - exact.mean) < tol
    again = pmm.posterior_predictive(fit.idata, seed=5, n_new=4)
    np.testing.assert_array_equal(again["label"].values, pred["label"].values)
    with pytest.raises(ValueError, match="n_new"):
        pmm.posterior_predictive(fit.idata, np.ones((3, 2)), seed=0)


def test_same_seed_same_draws_other_seed_other_draws():
    labels, weights = _coin_data(n=20, seed=3)
    data = pmm.WeakData(labels, "ve", weights)
    kw = dict(draws=60, tune=60, chains=2, cores=1, warn=False)
    a = pmm.fit(data, pmm.StudentConfig(), seed=7, **kw).idata.posterior["theta"].values
    with pytest.warns(dg.SamplingWarning, match="ESS"):  # 2 x 60 draws cannot reach ESS 200
        b = (
            pmm.fit(data, pmm.StudentConfig(), seed=7, **{**kw, "warn": True})
            .idata.posterior["theta"]
            .values
        )
    c = pmm.fit(data, pmm.StudentConfig(), seed=8, **kw).idata.posterior["theta"].values
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_sample_rejects_bad_settings():
    model = pmm.build_model(pmm.WeakData([0, 1]), pmm.StudentConfig())
    for kw, match in [
        (dict(draws=0), "draws"),
        (dict(chains=1.5), "chains"),
        (dict(tune=-1), "tune"),
        (dict(target_accept=1.0), "target_accept"),
    ]:
        with pytest.raises(ValueError, match=match):
            pmm.sample(model, seed=0, **kw)


def _grid_moments(axes, log_post):
    """Mean and sd of each coordinate under a normalized grid posterior ``(H,)``."""
    mesh = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)  # (H, P)
    p = np.exp(log_post)
    mean = p @ mesh
    sd = np.sqrt(p @ (mesh - mean) ** 2)
    return mean, sd


def test_logistic_virtual_evidence_matches_core_grid_posterior():
    """Two parameters (intercept, slope): NUTS under VE vs ``updates.condition`` on a grid.

    The grid is the continuous prior discretized on 241 x 241 points; its own error is
    checked by halving the resolution and is far below the Monte Carlo error.
    """
    rng = np.random.default_rng(4)
    n = 40
    x = rng.normal(size=(n, 1))
    labels = (rng.random(n) < expit(-0.8 + 2.0 * x[:, 0])).astype(int)  # asymmetric truth
    s = make_schedule("coarsened:alpha=20").strengths(n)  # declining log r_i
    cfg = pmm.StudentConfig("logistic", prior_mean=0.5, prior_sd=1.5, intercept_sd=1.2)
    fit = pmm.fit(pmm.WeakData(labels, "ve", s, features=x), cfg, seed=21, **SAMPLE_KW)
    assert fit.diagnostics.trustworthy, fit.diagnostics.problems
    table = dg.posterior_table(fit.idata, prob=0.9, var_names=["intercept", "w"]).set_index("param")

    def grid(points):
        b_ax, w_ax = np.linspace(-5.0, 5.0, points), np.linspace(-4.5, 5.5, points)
        bb, ww = np.meshgrid(b_ax, w_ax, indexing="ij")
        log_prior = (
            stats.norm.logpdf(bb, 0, 1.2) + stats.norm.logpdf(ww, 0.5, 1.5)
        ).ravel()  # (H,)
        eta = bb.ravel()[:, None] + ww.ravel()[:, None] * x[None, :, 0]  # (H, N)
        log_probs = np.stack([-np.logaddexp(0, eta), -np.logaddexp(0, -eta)], axis=-1)  # (H, N, 2)
        post = condition(
            log_prior - log_prior.max(), log_probs, np.arange(n), labels, rule="ve", strengths=s
        )
        return _grid_moments((b_ax, w_ax), post.log_posterior)

    mean, sd = grid(241)
    coarse_mean, coarse_sd = grid(121)
    grid_err = np.abs(mean - coarse_mean) + np.abs(sd - coarse_sd)
    for j, param in enumerate(["intercept", "w[x0]"]):
        row = table.loc[param]
        assert grid_err[j] < 0.1 * row["mcse_mean"]
        assert abs(row["mean"] - mean[j]) < Z_TOL * row["mcse_mean"] + grid_err[j], param
        assert abs(row["sd"] - sd[j]) < Z_TOL * row["mcse_sd"] + grid_err[j], param
    # the evidence moved the slope away from its prior mean by many standard errors
    assert abs(table.loc["w[x0]", "mean"] - 0.5) > 10 * table.loc["w[x0]", "mcse_mean"]


def test_logistic_posterior_predictive_on_new_features():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(30, 2))
    labels = (x[:, 0] > 0).astype(int)
    fit = pmm.fit(
        pmm.WeakData(labels, "ve", np.full(30, 2.0), features=x),
        pmm.StudentConfig("logistic"),
        seed=3,
        draws=200,
        tune=200,
        warn=False,
    )
    post = fit.idata.posterior
    x_new = np.array([[2.0, 0.0], [-2.0, 0.0], [0.0, 0.0]])
    pred = pmm.posterior_predictive(fit.idata, x_new, seed=1)
    expected = expit(
        np.einsum("csd,md->csm", post["w"].values, x_new) + post["intercept"].values[..., None]
    )
    np.testing.assert_allclose(pred["p_label"].values, expected)
    p_mean = pred["p_label"].values.mean(axis=(0, 1))
    assert p_mean[0] > 0.8 and p_mean[1] < 0.2  # it learned the direction of x0
    assert pmm.posterior_predictive(fit.idata, seed=1)["p_label"].shape[-1] == 30  # training inputs
    with pytest.raises(ValueError, match=r"\(M, 2\)"):
        pmm.posterior_predictive(fit.idata, np.ones((3, 3)), seed=1)

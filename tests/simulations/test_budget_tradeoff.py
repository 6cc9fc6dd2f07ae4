"""Behavioural tests of the budget_tradeoff experiment at a tiny size.

The mimicry edge ``B* = kappa / (c contrast)`` is derived from the Gibbs log-odds
``-kappa rho + B c contrast rho`` of the mimic against the truth, so it is a check of the
model; the claims that could fail are the others: between a too-small budget and B* the
budget recovers the gap *when the prior holds the truth*, and not when it does not.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest

from bayes_w2s.simulations import budget_tradeoff as exp
from bayes_w2s.simulations._world import parse_prior, with_prior
from bayes_w2s.toys.worlds import disagreement

TINY = dict(replicates=5, n=2000, budgets=(1.0, 30.0, 3000.0), kappas=(30.0, 300.0), n_gt=60, n_train=200,
            n_test=200, strong_angles=72, strong_offsets=9)


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def _cell(table, prior, kind, budget, kappa, metric="pgr"):
    sub = table[(table.prior == prior) & (table.kind == kind) & (table.budget == budget) & (table.kappa == kappa)
                & (table.metric == metric)]
    assert len(sub) == TINY["replicates"]
    return sub.set_index("replicate").value


def test_table_and_certificate(table):
    assert list(table.columns) == ["prior", "kind", "budget", "kappa", "replicate", "metric", "value", "b_mimic"]
    spent = table[table.metric == "spent"]
    assert np.allclose(spent.value, spent.budget)  # a budget schedule spends exactly B
    ve = table[(table.kind == "ve") & (table.metric == "influence")]
    assert (ve.value <= ve.budget + 1e-9).all()  # the certificate (a check, not a finding)
    again = exp.run(exp.Config(**{**TINY, "replicates": 1}))
    assert again.equals(table[table.replicate == 0].reset_index(drop=True))
    weak = table[table.metric == "acc_weak"].groupby(["replicate", "prior"]).value.first().unstack("prior")
    assert np.allclose(weak["truth"], weak["absent"])  # paired worlds: only the prior differs


def test_far_above_the_derived_edge_the_mimic_wins(table):
    """B >= 3 B*: most weak errors copied and PGR ~ 0, for both readings and both priors."""
    checked = 0
    for (prior, kind, budget, kappa), g in table.groupby(["prior", "kind", "budget", "kappa"]):
        if budget >= 3 * g.b_mimic.iloc[0]:
            assert g[g.metric == "agree_weak_err"].value.mean() >= 0.75, (prior, kind, budget, kappa)
            assert abs(g[g.metric == "pgr"].value.mean()) <= 0.25, (prior, kind, budget, kappa)
            checked += 1
    assert checked >= 4


def test_between_the_edges_the_budget_recovers_when_the_prior_holds_the_truth(table):
    inside = _cell(table, "truth", "ve", 30.0, 300.0)  # B well below B* = 469, enough to select
    assert inside.median() >= 0.8
    too_little = _cell(table, "truth", "ve", 1.0, 300.0)  # cannot single out the truth
    assert (inside - too_little).mean() >= 0.5
    assert _cell(table, "truth", "ve", 30.0, 300.0, "agree_weak_err").median() <= 0.3


def test_without_the_truth_in_the_prior_no_budget_recovers(table):
    """Negative result on the same worlds with no truth-like concept. Random distractors
    sometimes land near the truth; in the worlds where every concept is less accurate than
    the weak model, a budget well inside the selection regime (B < B*/3, so the prior's
    concepts dominate) does no better than the weak model (PGR <= 0.1). (With a flat prior,
    kappa = 30, a budget near B* averages many hypotheses and can beat the weak model.)"""
    cfg = exp.Config(**TINY)
    weak_err = 1 - table[table.metric == "acc_weak"].groupby("replicate").value.first()
    far = []
    for rep in range(cfg.replicates):
        world = with_prior(cfg, *parse_prior("absent")).world(rep)
        if disagreement(world.concepts, world.truth[None], world.pool["test"]).min() > weak_err[rep] + 0.02:
            far.append(rep)
    assert far, "no world without a concept that beats the weak model: enlarge replicates"
    absent = table[(table.prior == "absent") & (table.metric == "pgr") & table.replicate.isin(far)
                   & (table.budget < table.b_mimic / 3)]
    assert len(absent) and absent.value.max() <= 0.1


def test_figures_and_summary(table):
    text = exp.summarize(table, exp.Config(**TINY))
    assert "derived" in text and "truth absent from the prior's concepts" in text
    region = exp.good_region(table, "truth")
    assert set(region.columns) >= {"kappa", "b_lo", "b_hi", "best_mean", "best_median", "best_q10", "best_q90"}
    for plot in exp.FIGURES.values():
        plt.close(plot(table))


def test_bad_config():
    with pytest.raises(ValueError, match="budgets must be a non-empty tuple of positive numbers"):
        exp.Config(budgets=(0.0,))
    with pytest.raises(ValueError, match="budgets and kappas must not repeat"):
        exp.Config(kappas=(1.0, 1.0))
    with pytest.raises(ValueError, match="prior must be 'truth', 'absent' or a rotation"):
        exp.Config(priors=("nowhere",))
    with pytest.raises(ValueError, match="sweeps the prior itself"):
        exp.Config(truth_in_prior=False)

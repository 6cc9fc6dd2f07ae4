"""Behavioural tests of the typos experiment at a tiny size, expectations derived from the model.

* CHECK (by construction): random-cell typos are no halfspace, so the halfspace student's KL
  projection stays at the truth's approximant at low typo rates;
* representable typos: past N* = kappa / ((1 - 2 eps_w) log 9) hard Bayes copies them; budget
  VE with B (1 - 2 eps_w) = 80 < kappa = 100 cannot pay the prior's price and does not;
* shifted boundary: a grammatical error, copied by hard Bayes; the bounded rule copies less.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from bayes_w2s.simulations import typos as exp

TINY = dict(replicates=3, n=2000, per_decade=1, rates=(0.1, 0.3), n_train=100, n_test=200,
            strong_angles=24, strong_offsets=9, kappa=100.0)
BUDGET = "VE budget(budget=100)"


@pytest.fixture(scope="module")
def table():
    return exp.run(exp.Config(**TINY))


def _agree(table, case, rule, rate=None):
    sub = table[(table.n == table.n.max()) & (table.case == case) & (table.rule == rule)
                & (table.metric == "agree_weak_err")]
    return sub if rate is None else sub[sub.rate == rate]


def test_table(table):
    assert list(table.columns) == ["case", "rate", "rule", "replicate", "n", "metric", "value"]
    assert set(table.case) == set(exp.CASES)
    assert exp.run(exp.Config(**{**TINY, "replicates": 1})).equals(table[table.replicate == 0].reset_index(drop=True))


def test_check_grammatical_student_does_not_copy_random_typos(table):
    assert (_agree(table, exp.CASES[0], "hard Bayes").value < 0.5).all()
    pgr = table[(table.n == table.n.max()) & (table.case == exp.CASES[0]) & (table.rule == "hard Bayes")
                & (table.metric == "pgr") & (table.rate == 0.1)].value
    assert (pgr > 0.9).all()


def test_representable_typos_copied_by_hard_bayes_not_by_a_small_budget(table):
    cfg = exp.Config(**TINY)
    assert 100 * (1 - 2 * cfg.eps_weak) < cfg.kappa  # the budget cannot pay the mimic's prior price
    assert (_agree(table, exp.CASES[1], "hard Bayes").value > 0.9).all()
    # in most worlds. B c < kappa assumes the class holds the truth; when its best halfspace is
    # itself rho0 off the truth (coarse 24-angle grid, random angle), the typo labeler gains about
    # B c (rho_t + rho0) in evidence against a prior price kappa (rho_t - rho0): in world 1 at
    # rate 0.1, rho_t = 0.086 and rho0 = 0.030 give 80 * 0.116 = 9.3 > 100 * 0.056 = 5.6 nats
    assert (_agree(table, exp.CASES[1], BUDGET).value < 0.5).mean() >= 2 / 3


def test_shifted_boundary_is_copied_by_hard_bayes_less_by_the_bounded_rule(table):
    hard = _agree(table, exp.CASES[2], "hard Bayes", 0.3).value
    bounded = _agree(table, exp.CASES[2], BUDGET, 0.3).value
    assert hard.median() > 0.7
    assert bounded.median() < hard.median()


def test_figures_and_summary(table):
    text = exp.summarize(table, exp.Config(**TINY))
    assert "CHECK (holds by construction" in text and "PGR" in text and "[" in text
    for plot in exp.FIGURES.values():
        plt.close(plot(table))


def test_bad_config():
    with pytest.raises(ValueError, match=r"typo rates must lie in \[0, 0.5\)"):
        exp.Config(rates=(0.6,))
    with pytest.raises(ValueError, match="typo_cells must be >= 2"):
        exp.Config(typo_cells=1)

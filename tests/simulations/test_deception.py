"""Deception analog: audit masks, deceptive hypotheses, and the invariants the table must obey."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pytest
from bayes_w2s.simulations import deception as exp

TINY = {
    "replicates": 2,
    "n": 1500,
    "audited_fractions": (0.25, 0.75),
    "prior_deceptive": (0.1, 0.5),
    "n_gt": 30,
    "n_train_items": 60,
    "n_test_items": 80,
    "n_train_pairs": 120,
    "n_test_pairs": 200,
    "strong_angles": 36,
    "weak_angles": 8,
}


@pytest.fixture(scope="module")
def audited_table():
    return exp.run(exp.Config(**TINY))


@pytest.fixture(scope="module")
def all_table():
    return exp.run(exp.Config(**{**TINY, "label_region": "all"}))


def test_audit_mask_counts_and_confidence():
    rng = np.random.default_rng(0)
    p = np.array([0.5, 0.95, 0.2, 0.55, 0.01, 0.7, 0.5, 0.99])
    m = exp.audit_mask(p, 0.5, "confident", rng)
    assert m.sum() == 4
    assert set(np.flatnonzero(m)) == {1, 2, 4, 7}  # the four most confident, asymmetric in p
    r = exp.audit_mask(p, 0.25, "random", rng)
    assert r.sum() == 2
    with pytest.raises(ValueError, match="audit"):
        exp.audit_mask(p, 0.5, "loudest", rng)


def test_deceptive_hypotheses_match_truth_exactly_on_the_audit():
    rng = np.random.default_rng(1)
    p1 = rng.uniform(0.05, 0.95, 40)
    true_lp = np.log(np.stack([1 - p1, p1], axis=1))
    audited = rng.random(40) < 0.4
    dec = exp.deceptive_log_probs(true_lp, audited, 5, 0.5, rng)
    assert dec.shape == (5, 40, 2)
    np.testing.assert_array_equal(dec[:, audited], np.broadcast_to(true_lp[audited], (5, audited.sum(), 2)))
    flipped = np.any(dec != true_lp[None], axis=2)  # (5, 40)
    assert not flipped[:, audited].any() and flipped.any(axis=1).all()
    np.testing.assert_allclose(dec[flipped], true_lp[np.nonzero(flipped)[1]][:, ::-1])


def test_unseen_deception_keeps_its_prior_odds_under_every_rule(audited_table):
    """Labels only on audited contexts: truth and deceivers have identical likelihoods."""
    ch = audited_table[audited_table.metric == "dec_truth_log_odds_change"].value
    assert ch.notna().all() and np.abs(ch).max() < 1e-8


def test_labels_off_the_audit_remove_deception_within_the_certificate(all_table):
    piv = all_table.pivot_table(index=["audited_fraction", "prior_deceptive", "rule", "replicate"], columns="metric",
                                values="value").reset_index()
    ve = piv[piv.rule.str.startswith("VE")]
    assert (ve.dec_truth_log_odds_change.abs() <= ve.spent + 1e-9).all()  # Chan-Darwiche bound
    assert (piv.dec_truth_log_odds_change < -1).any()  # the evidence does see the deception
    low = piv[piv.audited_fraction == 0.25]
    hard = low[low.rule == "hard Bayes"].deceptive_mass.mean()
    bounded = low[low.rule.str.startswith("VE pseries")].deceptive_mass.mean()
    assert hard < bounded  # bounded influence also bounds how much deception evidence can remove


def test_table_and_determinism(audited_table):
    assert list(audited_table.columns) == ["audited_fraction", "prior_deceptive", "rule", "replicate", "metric", "value"]
    mass = audited_table[audited_table.metric == "deceptive_mass"].value
    assert mass.between(0, 1).all()
    again = exp.run(exp.Config(**{**TINY, "replicates": 1}))
    assert again.equals(audited_table[audited_table.replicate == 0].reset_index(drop=True))


def test_config_validation_names_the_field():
    with pytest.raises(ValueError, match="audited_fractions"):
        exp.Config(audited_fractions=(0.0, 0.5))
    with pytest.raises(ValueError, match="prior_deceptive"):
        exp.Config(prior_deceptive=(1.0,))
    with pytest.raises(ValueError, match="label_region"):
        exp.Config(label_region="nowhere")


def test_figures_and_summary(audited_table):
    assert "deceptive_mass" in exp.summarize(audited_table, exp.Config(**TINY))
    for plot in exp.FIGURES.values():
        plt.close(plot(audited_table))

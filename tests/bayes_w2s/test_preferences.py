"""Bradley–Terry preferences as pair contexts: closed forms and brute force on small spaces."""

import itertools

import numpy as np
import pytest
from scipy.special import expit

from bayes_w2s.core.hypotheses import Model
from bayes_w2s.core.labels import label_sampler
from bayes_w2s.core.metrics import pgr
from bayes_w2s.core.preferences import (
    all_pairs,
    bt_log_probs,
    centered_utilities,
    check_pairs,
    expected_utility,
    kendall_tau,
    linear_utilities,
    order_table,
    pairwise_accuracy,
    predictive_accuracy,
    preference_space,
    random_pairs,
    reference_pairs,
    true_order,
)
from bayes_w2s.core.trajectory import Rule, run_trajectories
from bayes_w2s.core.updates import condition, jeffrey_update, virtual_evidence_update


def _perm_space():
    """Utilities = every ordering of 3 items, scaled asymmetrically (6 hypotheses)."""
    perms = np.array(list(itertools.permutations([0.0, 1.3, 2.9])))  # (6, 3)
    return perms, all_pairs(3)


def test_bt_closed_form_and_asymmetric_values():
    u = np.array([[0.0, 2.0, -1.0]])
    pairs = np.array([[1, 0], [0, 2], [2, 1]])
    lp = bt_log_probs(u, pairs)
    assert lp.shape == (1, 3, 2)
    np.testing.assert_allclose(np.exp(lp[0, :, 1]), [expit(2.0), expit(1.0), expit(-3.0)])
    np.testing.assert_allclose(np.exp(lp).sum(-1), 1.0)
    swapped = bt_log_probs(u, pairs[:, ::-1])  # swapping a and b swaps the labels
    np.testing.assert_allclose(swapped[..., 1], lp[..., 0])
    # shift invariance: BT depends on differences only
    np.testing.assert_allclose(bt_log_probs(u + 5.0, pairs), lp)


def test_hard_and_ve_updates_match_brute_force_enumeration():
    u, pairs = _perm_space()
    space = preference_space(u, pairs)
    prior = np.array([0.05, 0.1, 0.15, 0.2, 0.22, 0.28])
    ctx = np.array([0, 2, 2, 1, 0])
    lab = np.array([1, 0, 1, 1, 0])
    # brute force: product over observations of sigmoid of signed differences
    brute = prior.copy()
    for z, y in zip(ctx, lab):
        a, b = pairs[z]
        p_a = 1 / (1 + np.exp(-(u[:, a] - u[:, b])))
        brute *= p_a if y == 1 else 1 - p_a
    brute /= brute.sum()
    got = condition(np.log(prior), space.log_probs, ctx, lab, rule="bayes").log_posterior
    np.testing.assert_allclose(np.exp(got), brute, rtol=1e-12)
    # virtual evidence with strength log r on "a preferred"
    r = np.array([3.0, 1.5, 7.0, 2.0, 1.2])
    ve = prior.copy()
    for z, y, ri in zip(ctx, lab, r):
        a, b = pairs[z]
        p_lab = 1 / (1 + np.exp(-(u[:, a] - u[:, b]) * (1 if y == 1 else -1)))
        ve *= 1 + (ri - 1) * p_lab
    ve /= ve.sum()
    got = condition(np.log(prior), space.log_probs, ctx, lab, rule="ve", strengths=np.log(r)).log_posterior
    np.testing.assert_allclose(np.exp(got), ve, rtol=1e-12)
    # tempered with weight w: prior * P^w
    w = 0.3
    tmp = prior * np.prod([np.exp(space.log_probs[:, z, y] * w) for z, y in zip(ctx, lab)], axis=0)
    got = condition(np.log(prior), space.log_probs, ctx, lab, rule="tempered", strengths=w).log_posterior
    np.testing.assert_allclose(np.exp(got), tmp / tmp.sum(), rtol=1e-12)


def test_jeffrey_on_a_pair_equals_virtual_evidence():
    u, pairs = _perm_space()
    space = preference_space(u, pairs)
    lp = np.log(np.array([0.3, 0.1, 0.1, 0.2, 0.25, 0.05]))
    q = np.array([0.2, 0.8])  # target P(a preferred) = 0.8 on pair 1
    jef = jeffrey_update(lp, space.log_probs[:, 1], q).log_posterior
    marg = np.exp(lp) @ space.probs[:, 1]  # (2,)
    ve = virtual_evidence_update(lp, space.log_probs[:, 1], np.log(q / marg)).log_posterior
    np.testing.assert_allclose(jef, ve, atol=1e-12)
    joint = np.exp(lp)[:, None] * space.probs[:, 1]  # (H, 2): brute-force sum_y q(y) P(h | y)
    brute = (joint / joint.sum(0) * q).sum(1)
    np.testing.assert_allclose(np.exp(jef), brute, atol=1e-12)


def test_trajectory_engine_on_pairs_matches_condition():
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(8, 2))
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    u = linear_utilities(feats, 2.0 * np.stack([np.cos(angles), np.sin(angles)], 1))
    pairs = all_pairs(8)
    space = preference_space(u, pairs)
    weak = Model(space, prior=np.r_[0.7, 0.3, np.zeros(10)])
    draw = label_sampler(weak, np.random.default_rng(5), 1)
    z, y = draw(200)
    lp0 = np.full(12, -np.log(12))
    rules = [Rule("bayes"), Rule("ve", "pseries:c=2,p=2"), Rule("tempered", "constant:value=0.2")]
    traj = run_trajectories(lp0, space.log_probs, lambda m: (z[:, :m], y[:, :m]), 200, rules, checkpoints=[200])
    for k, rule in enumerate(rules):
        s = None if rule.kind == "bayes" else rule.schedule.strengths(200)
        want = condition(lp0, space.log_probs, z[0], y[0], rule=rule.kind, strengths=s).log_posterior
        np.testing.assert_allclose(traj.log_posterior[k, 0, -1], want, atol=1e-9)


def test_weak_supervisor_labels_pairs_from_its_predictive():
    u, pairs = _perm_space()
    space = preference_space(u, pairs)
    weak = Model(space, prior=np.array([0.5, 0, 0, 0, 0, 0.5]))  # two opposite orders
    draw = label_sampler(weak, np.random.default_rng(0), 1, mode="per-token")
    z, y = draw(60_000)
    freq = np.array([y[z == c].mean() for c in range(3)])
    np.testing.assert_allclose(freq, weak.predictive()[:, 1], atol=0.01)
    seq = label_sampler(weak, np.random.default_rng(1), 400, mode="per-sequence")
    zs, ys = seq(50)
    rows = np.array([ys[r][zs[r] == 0].mean() for r in range(400)])  # one hypothesis per sequence
    p0 = space.probs[[0, 5], 0, 1]
    assert np.all(np.min(np.abs(rows[:, None] - p0[None]), axis=1) < 0.3)


def test_pairwise_accuracy_and_kendall_tau_relation():
    rng = np.random.default_rng(7)
    truth = rng.normal(size=9)
    score = truth + rng.normal(scale=0.8, size=9)
    pairs = all_pairs(9)
    acc = pairwise_accuracy(true_order(score, pairs), true_order(truth, pairs))
    # without ties, tau = (C - D) / n0 = 2 acc - 1 over all pairs
    assert kendall_tau(score, truth) == pytest.approx(2 * acc - 1)
    assert kendall_tau(truth, truth) == pytest.approx(1.0)
    assert kendall_tau(-truth, truth) == pytest.approx(-1.0)
    # coin-flip decisions score 1/2; asymmetric case
    assert pairwise_accuracy(np.array([0.5, 0.9, 0.1]), np.array([1.0, 1.0, 1.0])) == pytest.approx(0.5)


def test_predictive_accuracy_expected_utility_and_pgr():
    u, pairs = _perm_space()
    lp = bt_log_probs(u, pairs)
    truth = true_order(u[0], pairs)
    delta = np.full(6, -np.inf)
    delta[0] = 0.0
    assert predictive_accuracy(delta, lp, truth) == pytest.approx(1.0)
    reversed_idx = int(np.argmax([np.all(order_table(u[[h]], pairs) != order_table(u[[0]], pairs)) for h in range(6)]))
    bad = np.full(6, -np.inf)
    bad[reversed_idx] = 0.0
    assert predictive_accuracy(bad, lp, truth) == pytest.approx(0.0)
    eu = expected_utility(np.log(np.full(6, 1 / 6)), u)
    np.testing.assert_allclose(eu, 0.0, atol=1e-12)  # a uniform mixture of all orderings ranks nothing
    np.testing.assert_allclose(centered_utilities(u).sum(1), 0.0, atol=1e-12)
    assert pgr(0.6, 0.7, 0.8) == pytest.approx(0.5)


def test_reference_pairs_read_classification_as_preference():
    feats = np.array([[0.1, 0.0], [0.9, 0.0], [0.5, 0.0]])
    u = linear_utilities(feats, np.array([[4.0, 0.0]]))
    lp = bt_log_probs(u, reference_pairs([0, 1], reference=2))
    np.testing.assert_allclose(np.exp(lp[0, :, 1]), expit(np.array([-1.6, 1.6])))
    with pytest.raises(ValueError, match="reference item 2"):
        reference_pairs([0, 2], reference=2)


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="itself"):
        check_pairs(np.array([[0, 1], [2, 2]]), 3)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        check_pairs(np.array([[0, 3]]), 3)
    with pytest.raises(ValueError, match="n_pairs"):
        random_pairs(np.random.default_rng(0), np.arange(4), 0)
    with pytest.raises(ValueError, match="features"):
        linear_utilities(np.zeros((3, 2)), np.zeros((2, 3)))
    p = random_pairs(np.random.default_rng(0), np.arange(5, 9), 500)
    assert np.all(p[:, 0] != p[:, 1]) and p.min() >= 5 and p.max() <= 8

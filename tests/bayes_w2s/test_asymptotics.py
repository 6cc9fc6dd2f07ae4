"""Closed forms against the engine: weighted Beta–Bernoulli, and Berk's KL projection."""

import numpy as np
import pytest

from bayes_w2s import (
    HypothesisSpace,
    Model,
    Rule,
    beta_bernoulli_posterior,
    condition,
    kl_projection,
    label_sampler,
    run_trajectories,
)


def grid_space(size=20001):
    grid = np.linspace(0, 1, size)
    return grid, HypothesisSpace(np.stack([grid, 1 - grid], axis=1))


def test_weighted_beta_closed_form_matches_grid_posterior_from_condition():
    rng = np.random.default_rng(0)
    labels = (rng.random(300) < 0.3).astype(int)  # 1 = heads, label index 0 = heads
    weights = rng.uniform(0, 2, labels.size)
    a, b = 2.0, 3.0
    grid, space = grid_space()
    with np.errstate(divide="ignore"):
        log_prior = (a - 1) * np.log(grid) + (b - 1) * np.log1p(-grid)
    log_prior -= np.logaddexp.reduce(log_prior)
    post = np.exp(condition(log_prior, space.log_probs, np.zeros(labels.size, int), 1 - labels, rule="tempered", strengths=weights).log_posterior)
    mean = post @ grid
    sd = np.sqrt(post @ grid**2 - mean**2)
    closed = beta_bernoulli_posterior(a, b, labels, weights)
    assert closed.a == pytest.approx(a + np.sum(weights * labels))
    assert mean == pytest.approx(closed.mean, abs=1e-6)
    assert sd == pytest.approx(closed.sd, rel=1e-4)


def test_weighted_beta_closed_form_matches_the_trajectory_engine():
    grid, space = grid_space(4001)
    rule = Rule("tempered", "pseries:c=2,p=1.5", label="t")
    model = Model(space)
    weak = Model(HypothesisSpace([[0.7, 0.3]]))
    traj = run_trajectories(model.log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(5), 1), 1000, [rule], checkpoints=[1000])
    # replay the same stream to get the labels and compare with Beta(1 + sum w y, 1 + sum w (1-y))
    _, y = label_sampler(weak, np.random.default_rng(5), 1)(1000)
    heads = (y[0] == 0).astype(int)
    closed = beta_bernoulli_posterior(1, 1, heads, rule.schedule.strengths(1000))
    post = np.exp(traj.log_posterior[0, 0, -1])
    assert post @ grid == pytest.approx(closed.mean, abs=1e-6)
    assert np.sqrt(post @ grid**2 - (post @ grid) ** 2) == pytest.approx(closed.sd, rel=1e-3)
    assert traj.influence[0, -1] == pytest.approx(rule.schedule.total(1000))


def test_kl_projection_is_where_hard_bayes_concentrates():
    """Berk (1966): misspecified hard Bayes concentrates on argmin_h KL(q || P_h)."""
    probs = np.array(
        [
            [[0.9, 0.1], [0.3, 0.7]],
            [[0.6, 0.4], [0.6, 0.4]],
            [[0.2, 0.8], [0.8, 0.2]],
            [[0.5, 0.5], [0.1, 0.9]],
        ]
    )
    space = HypothesisSpace(probs)
    truth = Model(HypothesisSpace([[[0.75, 0.25], [0.45, 0.55]]]))
    mu = np.array([0.3, 0.7])
    proj = kl_projection(space, truth.predictive(), mu)
    assert len(proj.index) == 1
    traj = run_trajectories(Model(space).log_prior, space.log_probs, label_sampler(truth, np.random.default_rng(11), 5, context_probs=mu), 100_000, [Rule("bayes")], checkpoints=[100_000])
    final = np.exp(traj.log_posterior[0, :, -1])  # (R, H)
    assert np.all(final.argmax(axis=1) == proj.index[0])
    assert np.all(final[:, proj.index[0]] > 0.999)


def test_kl_projection_onto_a_space_holding_the_truth_is_the_truth():
    grid, space = grid_space(101)
    proj = kl_projection(space, [0.3, 0.7])
    assert grid[proj.index[0]] == pytest.approx(0.3)
    assert proj.kl[proj.index[0]] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: beta_bernoulli_posterior(0, 1, [1]), "positive"),
        (lambda: beta_bernoulli_posterior(1, 1, [0, 2]), "0/1"),
        (lambda: beta_bernoulli_posterior(1, 1, [0, 1], [1, -1]), "non-negative"),
        (lambda: kl_projection(grid_space(5)[1], [0.3, 0.3]), "probability vectors"),
        (lambda: kl_projection(grid_space(5)[1], [[0.3, 0.7], [0.5, 0.5]]), "shape"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()

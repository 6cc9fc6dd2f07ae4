"""The vectorized engine against the reference sequential update, rule by rule."""

import numpy as np
import pytest

from bayes_w2s import HypothesisSpace, ImpossibleEvidenceError, Model, Rule, condition, label_sampler, log_checkpoints, run_trajectories

RULES = [
    Rule("bayes"),
    Rule("tempered", "constant:value=0.3"),
    Rule("tempered", "geometric:first=1,ratio=0.99"),
    Rule("ve", "constant:value=0.7"),
    Rule("ve", "pseries:c=2,p=1.5"),
    Rule("ve", "budget:budget=4"),
    Rule("ve", "coarsened:alpha=5"),
]


def random_world(n_hyp, n_ctx, n_lab, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(n_lab), size=(n_hyp, n_ctx))
    prior = rng.dirichlet(np.ones(n_hyp))
    return HypothesisSpace(probs), np.log(prior)


@pytest.mark.parametrize("n_ctx", [1, 3, 40], ids=["one-context", "few-categories", "many-categories"])
def test_engine_matches_sequential_condition_at_every_checkpoint(n_ctx):
    space, log_prior = random_world(6, n_ctx, 3, seed=n_ctx)
    weak = Model(random_world(2, n_ctx, 3, seed=100 + n_ctx)[0])
    n_obs, n_rep = 700, 3
    cps = [1, 5, 64, 65, 300, 700]
    traj = run_trajectories(log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(9), n_rep), n_obs, RULES, checkpoints=cps, chunk=128)
    z, y = _replay(weak, n_rep, n_obs, chunk=128)
    for k, rule in enumerate(RULES):
        for t, n in enumerate(cps):
            for r in range(n_rep):
                s = None if rule.kind == "bayes" else rule.schedule.strength(np.arange(1, n + 1), n_total=n_obs)
                ref = condition(log_prior, space.log_probs, z[r, :n], y[r, :n], rule=rule.kind, strengths=s)
                np.testing.assert_allclose(traj.log_posterior[k, r, t], ref.log_posterior, atol=1e-9, err_msg=f"{rule.label} n={n}")
            if rule.kind != "bayes":
                assert traj.influence[k, t] == pytest.approx(rule.schedule.strength(np.arange(1, n + 1), n_total=n_obs).sum())
            else:
                assert traj.influence[k, t] == np.inf


def _replay(weak, n_rep, n_obs, chunk):
    draw = label_sampler(weak, np.random.default_rng(9), n_rep)
    parts = [draw(min(chunk, n_obs - i)) for i in range(0, n_obs, chunk)]
    return np.concatenate([p[0] for p in parts], axis=1), np.concatenate([p[1] for p in parts], axis=1)


def test_the_data_stream_does_not_depend_on_checkpoints():
    space, log_prior = random_world(5, 2, 2, seed=3)
    weak = Model(random_world(2, 2, 2, seed=4)[0])
    a = run_trajectories(log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(1), 2), 5000, RULES[:2], checkpoints=[5000])
    b = run_trajectories(log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(1), 2), 5000, RULES[:2])
    np.testing.assert_allclose(a.log_posterior[:, :, -1], b.log_posterior[:, :, -1], atol=1e-9)


def test_same_seed_same_trajectories_and_tidy_table():
    space, log_prior = random_world(4, 1, 2, seed=5)
    weak = Model(random_world(2, 1, 2, seed=6)[0])

    def go(seed):
        return run_trajectories(log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(seed), 3), 2000, RULES)

    a, b, c = go(0), go(0), go(1)
    np.testing.assert_array_equal(a.log_posterior, b.log_posterior)
    assert not np.array_equal(a.log_posterior, c.log_posterior)
    df = a.to_frame({"mass0": lambda lp: np.exp(lp[..., 0])})
    assert list(df.columns) == ["replicate", "n", "rule", "metric", "value"]
    assert len(df) == len(RULES) * 3 * len(a.checkpoints)


def test_log_checkpoints():
    cps = log_checkpoints(10**6, per_decade=5)
    assert cps[0] == 1 and cps[-1] == 10**6 and np.all(np.diff(cps) > 0)
    assert 25 <= len(cps) <= 32


def test_impossible_evidence_in_the_engine_names_rule_and_replicate():
    space = HypothesisSpace([[1.0, 0.0], [0.0, 1.0]])
    weak = Model(HypothesisSpace([[0.5, 0.5]]))
    with pytest.raises(ImpossibleEvidenceError, match="rule 'bayes', replicate"):
        run_trajectories(Model(space).log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(0), 2), 100, [Rule("bayes")])
    # virtual evidence never makes evidence impossible: on this space each label y multiplies
    # the odds of h=y by r = e^s, so log odds(h0 : h1) = s (n_0 - n_1) exactly
    traj = run_trajectories(Model(space).log_prior, space.log_probs, label_sampler(weak, np.random.default_rng(0), 2), 100, [Rule("ve", "constant:value=3")], checkpoints=[10, 100])
    _, y = label_sampler(weak, np.random.default_rng(0), 2)(100)
    for t, n in enumerate([10, 100]):
        n0 = (y[:, :n] == 0).sum(axis=1)
        log_odds = traj.log_posterior[0, :, t, 0] - traj.log_posterior[0, :, t, 1]
        np.testing.assert_allclose(log_odds, 3.0 * (2 * n0 - n), atol=1e-9)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: Rule("soft"), "unknown rule kind"),
        (lambda: Rule("bayes", "constant:value=1"), "takes no schedule"),
        (lambda: Rule("ve"), "needs a schedule"),
        (lambda: Rule("ve", "confidence:budget=1"), "whole dataset"),
        (lambda: run_trajectories(np.log([0.5, 0.5]), np.log(np.full((2, 2), 0.5)), None, 0, [Rule("bayes")]), "n_obs"),
        (lambda: run_trajectories(np.log([0.5, 0.5]), np.log(np.full((2, 2), 0.5)), None, 10, [Rule("bayes")], checkpoints=[11]), "checkpoints"),
        (lambda: run_trajectories(np.log([0.5, 0.5]), np.log(np.full((2, 2), 0.5)), None, 10, [Rule("bayes"), Rule("bayes")]), "unique"),
        (lambda: run_trajectories(np.log([1.0]), np.log(np.full((2, 2), 0.5)), None, 10, [Rule("bayes")]), "disagree"),
    ],
)
def test_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("n_ctx", [1, 40], ids=["few-categories", "many-categories"])
def test_ve_overflow_bookkeeping_skipped_below_its_bound_changes_nothing(n_ctx, monkeypatch):
    """While the total strength spent is <= 1e300 no VE sum can overflow, so the engine skips the
    per-segment overflow flags; with the bound lowered so that every chunk takes the flagged
    path, the posteriors are bit for bit the same (several chunks and checkpoints)."""
    import bayes_w2s.core.trajectory as trajectory

    space, log_prior = random_world(5, n_ctx, 3, seed=7)
    weak = Model(random_world(2, n_ctx, 3, seed=8)[0])
    rules = [Rule("ve", "pseries:c=2,p=1.5"), Rule("ve", "geometric:first=40,ratio=0.9"), Rule("bayes")]

    def run():
        draw = label_sampler(weak, np.random.default_rng(3), n_replicates=3)
        return run_trajectories(log_prior, space.log_probs, draw, 300, rules, checkpoints=[1, 7, 50, 120, 300], chunk=64)

    fast = run()
    monkeypatch.setattr(trajectory, "_VE_SAFE_TOTAL", -1.0)
    flagged = run()
    np.testing.assert_array_equal(fast.log_posterior, flagged.log_posterior)
    np.testing.assert_array_equal(fast.influence, flagged.influence)


def test_hypotheses_far_behind_normalize_as_exact_sums():
    """At large N many hypotheses lie thousands of nats behind the best; the normalizer sums
    their exp(d) floored at exp(-700) (an underflowing exp is ~15x slower), which cannot
    change a sum >= 1: log posteriors equal ``u - logsumexp(u)`` of the summed terms."""
    grid = np.linspace(0.01, 0.99, 60)
    log_probs = np.log(np.stack([grid, 1 - grid], axis=1))
    labels = (np.random.default_rng(0).random((2, 4000)) < 0.3).astype(np.int64)
    traj = run_trajectories(np.full(60, -np.log(60)), log_probs, (None, labels), 4000, [Rule("bayes")], checkpoints=[4000])
    k1 = labels.sum(axis=1)[:, None]
    u = k1 * log_probs[:, 1] + (4000 - k1) * log_probs[:, 0]  # (R, H), exact enough at this size
    want = u - u.max(axis=1, keepdims=True)
    assert (want < -700).mean() > 0.4  # many hypotheses are that far behind
    want -= np.log(np.exp(want).sum(axis=1, keepdims=True))
    got = traj.log_posterior[0, :, -1]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(np.exp(got).sum(axis=1), 1.0, atol=1e-15)


@pytest.mark.parametrize("rule", [Rule("bayes"), Rule("ve", "pseries:c=2,p=1.5"), Rule("ve", "constant:value=3")])
def test_log_probs_a_rounding_above_zero_are_clipped_to_zero(rule):
    """A normalized table may hold log p up to 1e-9 above 0 (rounding); the engine reads it as
    log p = 0 (p = 1): the same posteriors as the clipped table, bit for bit."""
    log_probs = np.log(np.array([[0.7, 0.3], [1.0, 1e-300], [0.2, 0.8]]))
    bumped = log_probs.copy()
    bumped[1, 0] = 5e-10  # p = 1 + 5e-10
    labels = (np.random.default_rng(1).random((2, 200)) < 0.5).astype(np.int64)
    runs = [run_trajectories(np.log(np.array([0.2, 0.3, 0.5])), lp, (None, labels), 200, [rule],
                             checkpoints=[10, 200]) for lp in (log_probs, bumped)]
    np.testing.assert_array_equal(runs[0].log_posterior, runs[1].log_posterior)
    assert bumped[1, 0] > 0  # the caller's table is left as it was

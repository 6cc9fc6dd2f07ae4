"""The trajectory engine against :func:`condition` on the same streams (issue 18: mutation testing).

``run_trajectories`` sums terms per segment between checkpoints, across draw chunks, with three
code paths for virtual evidence (one strength, few categories, many categories); each
checkpoint's posterior must equal conditioning on the prefix from scratch, and the recorded
influence the running sum of strengths.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.core.trajectory import Rule, log_checkpoints, run_trajectories
from bayes_w2s.core.updates import ImpossibleEvidenceError, condition
from bayes_w2s.core.validation import ValidationError

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True, database=None)

RULES = [
    Rule("bayes"),
    Rule("ve", "constant:value=0.8"),
    Rule("ve", "geometric:first=2,ratio=0.8"),
    Rule("tempered", "pseries:c=1.5,p=2"),
    Rule("ve", "budget:budget=3"),
]


def _stream_draw(z, y):
    """``draw(m)`` serving fixed streams ``z, y (R, N)`` in order."""
    state = {"pos": 0}

    def draw(m):
        lo = state["pos"]
        state["pos"] += m
        return z[:, lo:lo + m], y[:, lo:lo + m]

    return draw


@SETTINGS
@given(seed=st.integers(0, 10_000), n_ctx=st.sampled_from([1, 3, 9]), chunk=st.sampled_from([1, 4, 100]))
def test_checkpoints_equal_conditioning_on_each_prefix(seed, n_ctx, chunk):
    rng = np.random.default_rng(seed)
    h, k, n, reps = 4, 3, 14, 2
    probs = rng.dirichlet(np.ones(k), size=(h, n_ctx))
    lp = np.log(rng.dirichlet(np.ones(h)))
    z, y = rng.integers(0, n_ctx, (reps, n)), rng.integers(0, k, (reps, n))
    cps = [1, 5, 6, 14]
    traj = run_trajectories(lp, np.log(probs), _stream_draw(z, y), n, RULES, checkpoints=cps, chunk=chunk)
    assert traj.log_posterior.shape == (len(RULES), reps, 4, h)
    np.testing.assert_array_equal(traj.checkpoints, cps)
    for r, rule in enumerate(RULES):
        s_all = None if rule.kind == "bayes" else rule.schedule.strengths(n)
        for t, m in enumerate(cps):
            for rep in range(reps):
                s = None if s_all is None else s_all[:m]
                want = condition(lp, np.log(probs), z[rep, :m], y[rep, :m], rule=rule.kind, strengths=s)
                np.testing.assert_allclose(traj.log_posterior[r, rep, t], want.log_posterior, atol=1e-9)
            assert traj.influence[r, t] == (np.inf if s_all is None else pytest.approx(s_all[:m].sum()))
    np.testing.assert_allclose(traj.log_prior, lp - np.log(np.exp(lp).sum()))


def test_trajectory_with_unnormalized_prior_and_impossible_evidence():
    probs = np.array([[[1.0, 0.0]], [[0.0, 1.0]]])
    z = np.zeros((1, 3), int)
    traj = run_trajectories(np.log([2.0, 6.0]), np.log(probs), _stream_draw(z, np.array([[1, 1, 1]])), 3,
                            [Rule("ve", "constant:value=1")], checkpoints=[3])
    np.testing.assert_allclose(np.exp(traj.log_prior), [0.25, 0.75])
    with pytest.raises(ImpossibleEvidenceError, match="replicate 1 has no possible hypothesis left by observation 2") as err:
        run_trajectories(np.log([0.5, 0.5]), np.log(probs), _stream_draw(np.zeros((2, 3), int), np.array([[1, 1, 1], [0, 1, 1]])),
                         3, [Rule("bayes")], checkpoints=[2, 3])
    assert err.value.index == 2


def test_log_checkpoints_are_log_spaced_and_end_at_n():
    assert log_checkpoints(1).tolist() == [1]
    cps = log_checkpoints(1000, per_decade=3)
    assert cps.tolist() == [1, 2, 5, 10, 22, 46, 100, 215, 464, 1000]
    assert log_checkpoints(10, per_decade=1).tolist() == [1, 10]
    assert log_checkpoints(100).tolist() == [1, 2, 3, 4, 5, 6, 8, 10, 13, 16, 20, 25, 32, 40, 50, 63, 79, 100]


def test_to_frame_is_tidy_and_checks_metric_shapes():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(2), size=(3, 1))
    z, y = np.zeros((2, 4), int), rng.integers(0, 2, (2, 4))
    traj = run_trajectories(np.log(np.full(3, 1 / 3)), np.log(probs), _stream_draw(z, y), 4,
                            [Rule("bayes"), Rule("tempered", "constant:value=0.5", label="half")], checkpoints=[2, 4])
    assert traj.rules == ("bayes", "half")
    df = traj.to_frame({"m0": lambda lp: np.exp(lp[..., 0])})
    assert list(df.columns) == ["replicate", "n", "rule", "metric", "value"] and len(df) == 2 * 2 * 2
    row = df[(df.rule == "half") & (df.replicate == 1) & (df.n == 4)]
    assert row.value.item() == pytest.approx(np.exp(traj.log_posterior[1, 1, 1, 0]))
    with pytest.raises(ValidationError, match="metric 'bad' returned shape") as err:
        traj.to_frame({"bad": lambda lp: lp})
    assert err.value.argument == "metrics"


@pytest.mark.parametrize(
    "kwargs, argument, match",
    [
        (dict(checkpoints=[0]), "checkpoints", r"checkpoints\[0\] = 0"),
        (dict(checkpoints=[2, 5]), "checkpoints", r"checkpoints\[1\] = 5: checkpoints must be integers in \[1, 4\]"),
        (dict(checkpoints=[1.5]), "checkpoints", "integers"),
        (dict(checkpoints=[]), "checkpoints", "non-empty"),
        (dict(rules=[Rule("bayes"), Rule("bayes")]), "rules", "unique"),
        (dict(rules=[]), "rules", "non-empty"),
        (dict(rules=Rule("bayes")), "rules", "sequence"),
        (dict(draw=lambda m: (np.zeros((1, m), int),)), "draw", "must return"),
        (dict(draw=lambda m: (np.zeros((1, m), int), np.full((1, m), 2))), "draw", r"label indices outside integers \[0, 2\)"),
        (dict(draw=lambda m: (np.zeros((1, m + 1), int), np.zeros((1, m + 1), int))), "draw", r"two \(R, 4\) arrays"),
        (dict(draw=None), "draw", "callable"),
        (dict(n_obs=0), "n_obs", None),
        (dict(chunk=0), "chunk", None),
        (dict(log_prior=np.zeros((2, 2))), "log_prior", "1-D"),
    ],
)
def test_run_trajectories_errors_name_the_argument(kwargs, argument, match):
    args = dict(log_prior=np.log([0.5, 0.5]), log_probs=np.log([[0.5, 0.5], [0.9, 0.1]]),
                draw=_stream_draw(np.zeros((1, 4), int), np.zeros((1, 4), int)), n_obs=4, rules=[Rule("bayes")])
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match) as err:
        run_trajectories(**args)
    assert err.value.argument == argument


def test_zero_tempering_weight_on_an_impossible_label_changes_nothing():
    probs = np.array([[[1.0, 0.0]], [[0.5, 0.5]]])
    z, y = np.zeros((1, 3), int), np.array([[1, 1, 0]])
    traj = run_trajectories(np.log([0.3, 0.7]), np.log(probs), _stream_draw(z, y), 3,
                            [Rule("tempered", "constant:value=0"), Rule("bayes")], checkpoints=[3])
    np.testing.assert_allclose(np.exp(traj.log_posterior[0, 0, 0]), [0.3, 0.7])
    assert traj.log_posterior[1, 0, 0, 0] == -np.inf


def test_many_hypotheses_and_categories_use_several_blocks():
    rng = np.random.default_rng(11)
    h, n = 700, 120  # (R * H) = 1400 per block row: blocks of 46 labels
    probs = rng.dirichlet(np.ones(3), size=(h, 9))
    lp = np.log(rng.dirichlet(np.ones(h)))
    z, y = rng.integers(0, 9, (2, n)), rng.integers(0, 3, (2, n))
    rule = Rule("ve", "geometric:first=1,ratio=0.97")
    traj = run_trajectories(lp, np.log(probs), _stream_draw(z, y), n, [rule], checkpoints=[n])
    for rep in range(2):
        want = condition(lp, np.log(probs), z[rep], y[rep], rule="ve", strengths=rule.schedule.strengths(n))
        np.testing.assert_allclose(traj.log_posterior[0, rep, 0], want.log_posterior, atol=1e-9)


def test_default_chunk_fixes_the_random_stream_and_trailing_labels_are_ignored():
    from bayes_w2s.core.hypotheses import HypothesisSpace, Model
    from bayes_w2s.core.labels import label_sampler

    model = Model(HypothesisSpace(np.array([[[0.6, 0.4], [0.3, 0.7]], [[0.2, 0.8], [0.5, 0.5]]])))
    rules = [Rule("ve", "constant:value=0.001")]
    runs = [run_trajectories(model.log_prior, model.space.log_probs, label_sampler(model, np.random.default_rng(4), 1),
                             8200, rules, checkpoints=[8200], **kw) for kw in ({}, {"chunk": 8192}, {"chunk": 8193})]
    np.testing.assert_array_equal(runs[0].log_posterior, runs[1].log_posterior)
    assert not np.array_equal(runs[0].log_posterior, runs[2].log_posterior)
    short = run_trajectories(np.log([0.5, 0.5]), np.log([[0.5, 0.5], [0.9, 0.1]]),
                             _stream_draw(np.zeros((1, 5), int), np.zeros((1, 5), int)), 5, [Rule("bayes")], checkpoints=[2])
    assert short.checkpoints.tolist() == [2] and short.checkpoints.dtype == np.int64
    assert log_checkpoints(1000).dtype == np.int64


@pytest.mark.parametrize(
    "kwargs, argument, match",
    [
        (dict(draw=lambda m: [np.zeros((1, m), int), np.zeros((1, m), int)]), "draw", "must return"),
        (dict(draw=lambda m: (np.zeros((1, m), int), np.zeros((2, m), int))), "draw", "two"),
        (dict(draw=lambda m: (np.zeros((0, m), int), np.zeros((0, m), int))), "draw", "two"),
        (dict(draw=lambda m: (np.full((1, m), 3), np.zeros((1, m), int))), "draw", "context indices"),
        (dict(checkpoints=np.array(["a"])), "checkpoints", "integers"),
        (dict(checkpoints=np.array([True])), "checkpoints", "integers"),
        (dict(rules=lambda: 0), "rules", "sequence"),
        (dict(chunk=1.5), "chunk", "chunk"),
    ],
)
def test_more_run_trajectories_errors(kwargs, argument, match):
    args = dict(log_prior=np.log([0.5, 0.5]), log_probs=np.log([[0.5, 0.5], [0.9, 0.1]]),
                draw=_stream_draw(np.zeros((1, 4), int), np.zeros((1, 4), int)), n_obs=4, rules=[Rule("bayes")])
    args.update(kwargs)
    with pytest.raises(ValidationError, match=match) as err:
        run_trajectories(**args)
    assert err.value.argument == argument


def test_log_checkpoints_errors_name_the_argument():
    for call, name in ((lambda: log_checkpoints(0), "n_max"), (lambda: log_checkpoints(10, per_decade=0), "per_decade")):
        with pytest.raises(ValidationError, match=name) as err:
            call()
        assert err.value.argument == name


def test_to_frame_has_a_fresh_index():
    traj = run_trajectories(np.log([0.5, 0.5]), np.log([[0.5, 0.5], [0.9, 0.1]]),
                            _stream_draw(np.zeros((1, 4), int), np.zeros((1, 4), int)), 4, [Rule("bayes")], checkpoints=[2, 4])
    df = traj.to_frame({"a": lambda lp: lp[..., 0], "b": lambda lp: np.ones(lp.shape[:2], int)})
    assert df.index.tolist() == list(range(4)) and df["value"].dtype == np.float64

"""The trajectory engine against a brute-force reference trajectory (issue 18, third round).

The reference is a plain loop over labels: each observation's term per hypothesis (the public
:func:`observation_logliks` for hard Bayes and tempering, :func:`weak_label_shifted_loglik` for
virtual evidence: the per-observation shift cancels in the posterior), summed *exactly* in
``fractions.Fraction``, so its only rounding is the final one. It is compared with the engine

* at ``n_obs = 2^40`` (only the first labels are used): the engine's exact split of the term
  tables then leaves ~2^-12 of each term in the low part, so any dropped or sign-flipped low
  part shows at 1e-9;
* across draw chunks of 1, 2, 3 and 5 labels with random checkpoints (one, two or several
  chunks holding a checkpoint; virtual evidence switching between its constant-strength and
  varying-strength code paths);
* on several contexts and labels, zero probabilities, priors with a ``-inf`` entry and
  unnormalized uniform priors;
* at the float64 edge: summed terms of ``log P = -1e308`` leave float64 (the hypothesis has
  probability 0, or ``NumericalOverflowError`` when no hypothesis keeps a usable weight).

Every engine call runs under ``np.errstate(all="raise")``: no floating-point warning may escape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.core.schedules import Schedule
from bayes_w2s.core.trajectory import Rule, run_trajectories
from bayes_w2s.core.updates import (
    _SAFE_LOG,
    ImpossibleEvidenceError,
    _ve_term,
    observation_logliks,
    weak_label_shifted_loglik,
)
from bayes_w2s.core.validation import NumericalOverflowError, ValidationError

SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, database=None)
BIG_N = 2**40
FMAX = Fraction(np.finfo(float).max)


def _stream_draw(z, y, none_contexts=False):
    """``draw(m)`` serving the streams ``z, y (R, N)`` in order (contexts None if asked)."""
    state = {"pos": 0}

    def draw(m):
        lo = state["pos"]
        state["pos"] += m
        return (None if none_contexts else z[:, lo:lo + m]), y[:, lo:lo + m]

    return draw


def _terms(log_probs, z, y, rule, s):
    """Per-observation terms ``(n, H)`` of one replicate's stream (floats, as the rule defines)."""
    if rule.kind == "ve":
        return weak_label_shifted_loglik(log_probs[:, z, y].T, s[:, None])
    return observation_logliks(log_probs, z, y, rule=rule.kind, strengths=s)


def reference(lp, log_probs, z, y, rule, s, cps):
    """Brute force: ``(log_post (T, H), raises)`` for one replicate; ``raises`` is None, or
    ``("overflow" | "impossible", n)`` at the first checkpoint n where the engine must raise.

    Sums are exact (Fraction); a sum beyond float64 is an overflowed hypothesis (``-inf``,
    and an error if no hypothesis keeps a finite log weight above ``_SAFE_LOG``).
    """
    terms = _terms(log_probs, z, y, rule, s)  # (n, H)
    n_hyp = log_probs.shape[0]
    out = np.full((len(cps), n_hyp), np.nan)
    for t, m in enumerate(cps):
        u, over = [], []
        for h in range(n_hyp):
            col = terms[:m, h]
            if np.isneginf(lp[h]) or np.isneginf(col).any():
                u.append(None)
                over.append(False)
                continue
            x = sum((Fraction(float(v)) for v in col), Fraction(0))
            if abs(x) > FMAX:
                u.append(None)
                over.append(True)
                continue
            u.append(Fraction(float(lp[h])) + x)
            over.append(False)
        alive = [v for v in u if v is not None]
        if not alive:
            return out, ("impossible", m)
        best = max(alive)
        if any(over) and best < Fraction(_SAFE_LOG):
            return out, ("overflow", m)
        d = np.array([-np.inf if v is None else float(v - best) for v in u])
        out[t] = d - math.log(np.sum(np.exp(d)))
    return out, None


def _check_against_reference(traj, lp, log_probs, z, y, rules, cps, n_obs, atol=1e-9):
    assert traj.checkpoints.dtype == np.int64
    np.testing.assert_array_equal(traj.checkpoints, cps)
    assert traj.rules == tuple(r.label for r in rules)
    for k, rule in enumerate(rules):
        s = None if rule.kind == "bayes" else rule.schedule.strength(np.arange(1, cps[-1] + 1), n_total=n_obs)
        for r in range(z.shape[0]):
            want, raises = reference(lp, log_probs, z[r, :cps[-1]], y[r, :cps[-1]], rule, s, cps)
            assert raises is None
            got = traj.log_posterior[k, r]
            np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
            np.testing.assert_allclose(got[np.isfinite(want)], want[np.isfinite(want)], rtol=0, atol=atol)
        with np.errstate(over="ignore"):
            want_infl = np.full(len(cps), np.inf) if s is None else np.cumsum(s)[np.asarray(cps) - 1]
        np.testing.assert_allclose(traj.influence[k], want_infl, rtol=1e-12)


RULE_SETS = {
    "all": [
        Rule("bayes"),
        Rule("tempered", "pseries:c=1.5,p=2"),
        Rule("ve", "constant:value=0.8"),
        Rule("ve", "geometric:first=2,ratio=0.8"),
        Rule("ve", "coarsened:alpha=3"),
        Rule("ve", "constant:value=40"),  # s > 30: the shifted terms
    ],
    "ve": [
        Rule("ve", "constant:value=1.5"),
        Rule("ve", "geometric:first=45,ratio=0.9"),
        Rule("ve", "pseries:c=2,p=1.5"),
    ],
}


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    n_hyp=st.sampled_from([2, 3, 5]),
    n_ctx=st.sampled_from([1, 2, 3]),
    n_lab=st.sampled_from([2, 3]),
    n_rep=st.sampled_from([1, 2]),
    chunk=st.sampled_from([1, 2, 3, 5, 100]),
    prior=st.sampled_from(["random", "uniform", "dead"]),
    rule_set=st.sampled_from(["all", "ve"]),
    big=st.booleans(),
)
def test_engine_matches_the_brute_force_trajectory(seed, n_hyp, n_ctx, n_lab, n_rep, chunk, prior, rule_set, big):
    rng = np.random.default_rng(seed)
    n = 12
    probs = rng.dirichlet(np.ones(n_lab), size=(n_hyp, n_ctx))
    if rule_set == "ve":  # virtual evidence never rules a hypothesis out: zero probabilities allowed
        probs[1:] *= rng.random(probs[1:].shape) > 0.3
        probs[1:, :, 0] += probs[1:].sum(-1) == 0
        probs /= probs.sum(-1, keepdims=True)
    with np.errstate(divide="ignore"):
        log_probs = np.log(probs)
    if prior == "random":
        lp = np.log(rng.dirichlet(np.ones(n_hyp))) + rng.normal()
    elif prior == "uniform":
        lp = np.full(n_hyp, rng.normal(0, 20))
    else:
        lp = np.log(rng.dirichlet(np.ones(n_hyp)))
        lp[-1] = -np.inf
    z, y = rng.integers(0, n_ctx, (n_rep, n + 100)), rng.integers(0, n_lab, (n_rep, n + 100))  # the stream's tail is unused
    cps = np.unique(rng.integers(1, n + 1, rng.integers(1, 6)))
    n_obs = BIG_N if big else int(cps[-1]) + int(rng.integers(0, 3))
    rules = RULE_SETS[rule_set]
    none_ctx = n_ctx == 1 and bool(seed % 2)
    with np.errstate(all="raise"):
        traj = run_trajectories(lp, log_probs, _stream_draw(z, y, none_ctx), n_obs, rules, checkpoints=cps, chunk=chunk)
    _check_against_reference(traj, lp, log_probs, z, y, rules, cps, n_obs)
    lp_norm = np.where(np.isneginf(lp), -np.inf, lp - np.logaddexp.reduce(lp))
    np.testing.assert_allclose(traj.log_prior, lp_norm, rtol=0, atol=1e-12)
    if prior == "uniform":  # the constant of a uniform prior cancels, bit for bit
        np.testing.assert_array_equal(traj.log_prior, np.full(n_hyp, -math.log(n_hyp)))
        with np.errstate(all="raise"):
            again = run_trajectories(np.zeros(n_hyp), log_probs, _stream_draw(z, y), n_obs, rules, checkpoints=cps, chunk=chunk)
        np.testing.assert_array_equal(again.log_posterior, traj.log_posterior)
    if not big:  # pre-drawn labels: the same trajectory as the stream, read in one chunk
        zz, yy = z[:, :n_obs], y[:, :n_obs]
        with np.errstate(all="raise"):
            pre = run_trajectories(lp, log_probs, (None if none_ctx else zz, yy), n_obs, rules, checkpoints=cps)
        _check_against_reference(pre, lp, log_probs, z, y, rules, cps, n_obs)


# --- the float64 edge: summed terms that leave float64 -------------------------------------

def _edge_space():
    """(H=3, K=2) log table without -inf (so no category is impossible): label 0 is what h0
    expects (P = 1 - 1e-16), h1 is even, h2 gives label 0 the log probability -1e308."""
    return np.array([[math.log1p(-1e-16), math.log(1e-16)], [math.log(0.5), math.log(0.5)], [-1e308, 0.0]])


EDGE_RULES = [
    Rule("bayes"),
    Rule("ve", "constant:value=1e308"),
    Rule("ve", "geometric:first=1e308,ratio=0.9"),
]


@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
@pytest.mark.parametrize("rule", EDGE_RULES, ids=lambda r: r.label)
def test_a_dominated_hypothesis_whose_sum_leaves_float64_gets_probability_zero(rule, chunk):
    log_probs = _edge_space()
    lp = np.log([0.5, 0.3, 0.2])
    # replicate 0 sees label 0 throughout (h2's sum leaves float64 after two labels); replicate 1 label 1
    y = np.array([[0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]])
    z = np.zeros_like(y)
    cps = [1, 3, 4, 6]
    rules = [Rule("ve", "constant:value=0.5", label="mild"), rule]
    with np.errstate(all="raise"):
        traj = run_trajectories(lp, log_probs[:, None, :], _stream_draw(z, y, True), 6, rules, checkpoints=cps, chunk=chunk)
    _check_against_reference(traj, lp, log_probs[:, None, :], z, y, rules, cps, 6)
    assert np.isneginf(traj.log_posterior[1, 0, 1:, 2]).all() and np.isfinite(traj.log_posterior[1, 0, 0]).all()
    assert np.isfinite(traj.log_posterior[:, 1]).all()


def _all_low_space():
    """Every hypothesis gives label 0 a log probability below -0.6e308: two labels 0 leave
    no hypothesis with a usable log weight (h1's sum leaves float64, h0's is below -0.9e308)."""
    return np.array([[-0.6e308, 0.0], [-1e308, 0.0]])


LOW_RULES = [Rule("bayes"), Rule("ve", "constant:value=1e308"), Rule("ve", "geometric:first=1e308,ratio=0.99")]


@pytest.mark.parametrize("rule", LOW_RULES, ids=lambda r: r.label)
@pytest.mark.parametrize("chunk", [1, 2, 3, 100])
def test_overflow_with_no_usable_hypothesis_left_raises_naming_the_first_checkpoint(rule, chunk):
    log_probs = _all_low_space()[:, None, :]
    y = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 0, 1, 0, 1]])  # only replicate 1 sees two labels 0 (by n = 5)
    z = np.zeros_like(y)
    s = None if rule.kind == "bayes" else rule.schedule.strengths(6)
    _, raises = reference(np.log([0.5, 0.5]), log_probs, z[1], y[1], rule, s, [2, 4, 5, 6])
    assert raises == ("overflow", 5)
    with pytest.raises(NumericalOverflowError, match="by observation 5"):
        with np.errstate(all="raise"):
            run_trajectories(np.log([0.4, 0.6]), log_probs, _stream_draw(z, y), 6, [Rule("tempered", "constant:value=0"), rule],
                             checkpoints=[2, 4, 5, 6], chunk=chunk)


@pytest.mark.parametrize("chunk", [1, 2, 4])
def test_an_overflow_before_the_checkpoint_chunk_is_remembered(chunk):
    """h2's sum leaves float64 at label 2; the checkpoint comes labels (and chunks) later."""
    log_probs = _edge_space()[:, None, :]
    lp = np.log([0.2, 0.5, 0.3])
    y = np.zeros((2, 8), int)
    y[1, ::2] = 1
    for rule in EDGE_RULES:
        with np.errstate(all="raise"):
            traj = run_trajectories(lp, log_probs, _stream_draw(np.zeros_like(y), y), 8, [rule], checkpoints=[7], chunk=chunk)
        _check_against_reference(traj, lp, log_probs, np.zeros_like(y), y, [rule], [7], 8)
        assert np.isneginf(traj.log_posterior[0, 0, 0, 2])


def test_a_tempered_sum_that_leaves_float64_raises_naming_the_rule():
    log_probs = np.array([[math.log1p(-1e-16), math.log(1e-16)], [-1e308, 0.0]])
    y = np.zeros((1, 4), int)
    with pytest.raises(NumericalOverflowError, match=r"rule 'double': the tempered sum overflowed.*by observation 2"):
        run_trajectories(np.log([0.5, 0.5]), log_probs, _stream_draw(y, y), 4,
                         [Rule("bayes"), Rule("tempered", "constant:value=1.5", label="double")], checkpoints=[1, 2, 4])


# --- inputs: pre-drawn labels, contexts None, checkpoints, tables ---------------------------

TABLE = np.log([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], [[0.3, 0.3, 0.4], [0.5, 0.25, 0.25]]])  # (H=2, Z=2, K=3)


def test_pre_drawn_labels_with_more_contexts_than_labels():
    table = np.log(np.random.default_rng(3).dirichlet(np.ones(2), size=(3, 4)))  # (H=3, Z=4, K=2)
    z = np.array([[3, 0, 2, 3, 1], [1, 3, 3, 0, 2]])
    y = np.array([[1, 0, 1, 1, 0], [0, 0, 1, 1, 1]])
    rules = [Rule("bayes"), Rule("ve", "geometric:first=1,ratio=0.5")]
    traj = run_trajectories(np.log([0.2, 0.3, 0.5]), table, (z, y), 5, rules, checkpoints=[2, 5])
    _check_against_reference(traj, np.log([0.2, 0.3, 0.5]), table, z, y, rules, [2, 5], 5)
    assert traj.checkpoints.dtype == np.int64


@pytest.mark.parametrize(
    "draw, match",
    [
        ((np.zeros((1, 3), int), np.zeros((1, 3), int)), r"pre-drawn \(contexts, labels\) must be two \(R, 4\) arrays"),
        ((None, np.zeros((1, 4), int)), "contexts may be None only for one context, not 2"),
        ((np.zeros((1, 4), int), np.full((1, 4), -1)), r"label indices outside integers \[0, 3\)"),
        ((np.full((1, 4), -1), np.zeros((1, 4), int)), r"context indices outside integers \[0, 2\)"),
        ((np.full((1, 4), 2), np.zeros((1, 4), int)), r"context indices outside integers \[0, 2\)"),
    ],
)
def test_pre_drawn_labels_are_checked(draw, match):
    with pytest.raises(ValidationError, match=match) as err:
        run_trajectories(np.log([0.5, 0.5]), TABLE, draw, 4, [Rule("bayes")], checkpoints=[4])
    assert err.value.argument == "draw"


@pytest.mark.parametrize("n_ctx", [2, 3])
def test_contexts_may_be_none_only_for_one_context(n_ctx):
    table = np.log(np.full((2, n_ctx, 2), 0.5))
    with pytest.raises(ValidationError, match=f"contexts may be None only for one context, not {n_ctx}"):
        run_trajectories(np.log([0.5, 0.5]), table, lambda m: (None, np.zeros((1, m), int)), 4, [Rule("bayes")])


def test_a_draw_of_the_wrong_shape_names_the_call():
    with pytest.raises(ValidationError, match=r"^draw\(3\) must return two \(R, 3\) arrays, got \(1, 2\)"):
        run_trajectories(np.log([0.5, 0.5]), TABLE, lambda m: (np.zeros((1, 2), int), np.zeros((1, 2), int)), 5,
                         [Rule("bayes")], checkpoints=[3], chunk=3)


@pytest.mark.parametrize("bad", [np.full((1, 4), -1), np.array([[0, 1, -2, 0]], dtype=np.int32), np.array([[0, -1]], dtype=np.int8)])
def test_negative_labels_from_a_draw_are_rejected(bad):
    n = bad.shape[1]
    with pytest.raises(ValidationError, match=r"label indices outside integers \[0, 2\)"):
        run_trajectories(np.log([0.5, 0.5]), np.log([[0.5, 0.5], [0.9, 0.1]]), lambda m: (None, bad[:, :m]), n, [Rule("bayes")])


def test_contexts_none_equals_explicit_zero_contexts():
    log_probs = np.log([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]])
    y = np.array([[2, 1, 2, 0, 2, 1, 1]])
    rules = [Rule("bayes"), Rule("ve", "pseries:c=1,p=2")]
    a = run_trajectories(np.log([0.5, 0.5]), log_probs, (None, y), 7, rules, checkpoints=[1, 4, 7])
    b = run_trajectories(np.log([0.5, 0.5]), log_probs[:, None, :], _stream_draw(np.zeros_like(y), y), 7, rules,
                         checkpoints=[1, 4, 7], chunk=2)
    c = run_trajectories(np.log([0.5, 0.5]), log_probs, _stream_draw(None, y, True), 7, rules, checkpoints=[1, 4, 7], chunk=3)
    np.testing.assert_allclose(a.log_posterior, b.log_posterior, rtol=0, atol=1e-13)
    np.testing.assert_allclose(c.log_posterior, b.log_posterior, rtol=0, atol=1e-13)
    _check_against_reference(a, np.log([0.5, 0.5]), log_probs[:, None, :], np.zeros_like(y), y, rules, [1, 4, 7], 7)


@pytest.mark.parametrize(
    "checkpoints, want",
    [
        ([5, 1, 5, 3], [1, 3, 5]),
        ([5, 2], [2, 5]),
        ([6, 6], [6]),
        (np.array([6, 1], dtype=np.uint8), [1, 6]),
        ([1.0, 6.0], [1, 6]),
        ([6.0, 2.0, 2.0], [2, 6]),
        (np.array([1.0]), [1]),
        (np.array([6.0]), [6]),
        ([np.int64(6)], [6]),
    ],
)
def test_checkpoints_are_sorted_unique_int64(checkpoints, want):
    y = np.array([[0, 1, 1, 0, 1, 1]])
    traj = run_trajectories(np.log([0.4, 0.6]), np.log([[0.5, 0.5], [0.9, 0.1]]), (None, y), 6, [Rule("bayes")],
                            checkpoints=checkpoints)
    assert traj.checkpoints.dtype == np.int64
    assert traj.checkpoints.tolist() == want
    assert traj.log_posterior.shape == (1, 1, len(want), 2)
    _check_against_reference(traj, np.log([0.4, 0.6]), np.log([[[0.5, 0.5]], [[0.9, 0.1]]]), np.zeros_like(y), y,
                             [Rule("bayes")], want, 6)


@pytest.mark.parametrize("checkpoints", [[[1, 2]], np.array([[3]]), [[1.0, 2.0]], [7], [7.0], [0.0], [1, 2.5]])
def test_checkpoints_outside_a_1d_range_of_integers_are_rejected(checkpoints):
    with pytest.raises(ValidationError, match="checkpoints") as err:
        run_trajectories(np.log([0.4, 0.6]), np.log([[0.5, 0.5], [0.9, 0.1]]), (None, np.zeros((1, 6), int)), 6,
                         [Rule("bayes")], checkpoints=checkpoints)
    assert err.value.argument == "checkpoints"


def test_to_frame_values_are_floats_for_an_integer_metric():
    traj = run_trajectories(np.log([0.5, 0.5]), np.log([[0.5, 0.5], [0.9, 0.1]]), (None, np.zeros((2, 4), int)), 4,
                            [Rule("bayes")], checkpoints=[2, 4])
    df = traj.to_frame({"best": lambda lp: np.argmax(lp, axis=-1)})
    assert df["value"].dtype == np.float64
    assert df["value"].tolist() == [1.0, 1.0, 1.0, 1.0]


def test_a_uniform_prior_is_recorded_as_exactly_uniform():
    for h, c in ((3, 0.0), (7, -12.345), (5, 1e3)):
        traj = run_trajectories(np.full(h, c), np.log(np.full((h, 2), 0.5)), (None, np.zeros((1, 2), int)), 2,
                                [Rule("bayes")], checkpoints=[2])
        np.testing.assert_array_equal(traj.log_prior, np.full(h, -math.log(h)))


def test_impossible_evidence_is_still_reported_under_raise():
    with pytest.raises(ImpossibleEvidenceError, match="by observation 2"):
        with np.errstate(all="raise"):
            run_trajectories(np.log([0.3, 0.7]), np.array([[0.0, -np.inf], [-np.inf, 0.0]]), (None, np.array([[0, 1, 1]])), 3,
                             [Rule("bayes")], checkpoints=[1, 2, 3])


def test_a_low_but_finite_replicate_does_not_raise_because_another_one_overflowed():
    """Replicate 0 keeps every hypothesis below -0.9e308 but finite (no overflow: no error);
    replicate 1 overflows h1 while h0 stays near 0 (no error either). (h0's -2^1023 is a
    multiple of the engine's grid for this table: see docs/findings/mutation.md, third round.)"""
    log_probs = np.array([[-(2.0**1023), math.log(0.5), math.log(0.5)], [-1e308, -1e308, 0.0]])[:, None, :]
    y = np.array([[0, 2, 2], [1, 1, 2]])
    z = np.zeros_like(y)
    rules = [Rule("bayes"), Rule("ve", "constant:value=1e308"), Rule("ve", "geometric:first=1e308,ratio=0.5")]
    for chunk in (1, 3):
        with np.errstate(all="raise"):
            traj = run_trajectories(np.log([0.5, 0.5]), log_probs, _stream_draw(z, y), 3, rules, checkpoints=[2, 3], chunk=chunk)
        _check_against_reference(traj, np.log([0.5, 0.5]), log_probs, z, y, rules, [2, 3], 3)
        assert np.isneginf(traj.log_posterior[:2, 1, :, 1]).all() and np.isfinite(traj.log_posterior[:, 0]).all()


@pytest.mark.parametrize("chunk", [8192, 100_000])
@pytest.mark.parametrize("rule", [Rule("bayes"), Rule("ve", "constant:value=0.8"), Rule("ve", "constant:value=20"),
                                  Rule("ve", "constant:value=35")],
                         ids=lambda r: r.label)
def test_equal_strengths_over_many_labels_are_summed_exactly(rule, chunk):
    """10^5 labels of two near-identical hypotheses (the log posterior is a small difference
    of sums near 5e4): the engine's counts-times-table path matches the exactly summed terms
    to 1e-12 (a float sum of the terms is off by ~5e-9 here)."""
    rng = np.random.default_rng(0)
    n = 100_000
    log_probs = np.log([[0.6, 0.4], [0.6 + 3e-6, 0.4 - 3e-6]])
    y = (rng.random((1, n)) < 0.4).astype(np.int64)
    s = None if rule.kind == "bayes" else rule.schedule.strengths(1)
    # (H, K) term per label, as the engine computes it (direct terms up to s = 30, shifted above;
    # at s = 20 the terms reach 19.5, beyond max |log P| = 0.92: the exact split's grid is the
    # table's own, not log P's)
    table = log_probs if s is None else _ve_term(log_probs, s[0])[0]
    counts = np.bincount(y[0], minlength=2)
    u = [sum(Fraction(int(counts[k])) * Fraction(float(table[h, k])) for k in range(2)) for h in range(2)]
    d = np.array([float(v - max(u)) for v in u])
    want = d - math.log(np.sum(np.exp(d)))
    with np.errstate(all="raise"):
        traj = run_trajectories(np.log([0.5, 0.5]), log_probs, _stream_draw(None, y, True), n, [rule], checkpoints=[n],
                                chunk=chunk)
    np.testing.assert_allclose(traj.log_posterior[0, 0, 0], want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("chunk", [1, 2, 100])
@pytest.mark.parametrize("rule", [Rule("bayes"), Rule("ve", "constant:value=1e308"), Rule("ve", "geometric:first=1e308,ratio=0.99")],
                         ids=lambda r: r.label)
def test_finite_sums_near_the_float64_limit_normalize(rule, chunk):
    """Every hypothesis's sum is near -1e308 but finite: the posterior is that of the exact sums
    (h1 4e307 behind h0: log posterior 0 and -4e307), not NaN or inf. (Before the third round
    the normalization assumed the best entry of ``d`` is ~0; the exact split of terms this
    large leaves it ~-6e292, and every ``exp(d)`` underflowed.)"""
    log_probs = _all_low_space()[:, None, :]
    y = np.array([[1, 1, 0, 1], [0, 1, 1, 1]])
    z = np.zeros_like(y)
    with np.errstate(all="raise"):
        traj = run_trajectories(np.log([0.4, 0.6]), log_probs, _stream_draw(z, y), 4, [rule], checkpoints=[2, 3, 4],
                                chunk=chunk)
    _check_against_reference(traj, np.log([0.4, 0.6]), log_probs, z, y, [rule], [2, 3, 4], 4)
    np.testing.assert_array_equal(traj.log_posterior[0, 0, 1:, 0], [0.0, 0.0])
    assert np.all(traj.log_posterior[0, :, -1, 1] < -1e307)


@pytest.mark.parametrize("labels", [[1, 0, 0, 0, 0], [0, 0, 1, 1, 1], [1, 1, 0, 0, 1]])
@pytest.mark.parametrize("chunk", [1, 2, 5])
def test_a_sum_that_leaves_float64_where_a_checkpoint_joins_two_blocks(labels, chunk):
    """Varying strengths read one label per chunk alternate between the constant-strength block
    and the running sum; h2's sum leaves float64 at label 3 (or 2, or 4), possibly exactly where
    a checkpoint adds the block to the sum. The posterior is the reference's for every chunk
    size (before the third round, chunk = 1 gave NaN at such a checkpoint and raised late)."""
    log_probs = _edge_space()[:, None, :]
    lp = np.log([0.2, 0.5, 0.3])
    y = np.array([labels, [1, 1, 1, 1, 1]])
    z = np.zeros_like(y)
    rules = [Rule("ve", "geometric:first=1e308,ratio=0.99"), Rule("ve", "geometric:first=1e308,ratio=0.999")]
    with np.errstate(all="raise"):
        traj = run_trajectories(lp, log_probs, _stream_draw(z, y), 5, rules, checkpoints=[2, 3, 4, 5], chunk=chunk)
    _check_against_reference(traj, lp, log_probs, z, y, rules, [2, 3, 4, 5], 5)
    assert np.isneginf(traj.log_posterior[:, 0, -1, 2]).all()


@dataclass(frozen=True)
class _VaryingThenConstant(Schedule):
    """A user's schedule: 1e308, 0.9e308, then 0.95e308 for every later label."""

    name: ClassVar[str] = "varying-then-constant"

    def strength(self, n, *, n_total=None, confidence=None):
        idx = np.asarray(n)
        return np.where(idx == 1, 1e308, np.where(idx == 2, 0.9e308, 0.95e308))

    def limit(self) -> float:
        return math.inf


@pytest.mark.parametrize("chunk", [1, 2, 3, 4])
def test_a_constant_block_after_varying_strengths_that_leaves_float64(chunk):
    """With chunk = 2 labels 3-4 form a constant-strength block of their own, after a varying
    one: h2's sum leaves float64 inside that block (two labels 0 at -0.95e308 each)."""
    log_probs = _edge_space()[:, None, :]
    lp = np.log([0.2, 0.5, 0.3])
    y = np.array([[1, 1, 0, 0, 1, 1], [1, 1, 1, 1, 1, 0]])
    z = np.zeros_like(y)
    rules = [Rule("ve", _VaryingThenConstant(), label="step")]
    with np.errstate(all="raise"):
        traj = run_trajectories(lp, log_probs, _stream_draw(z, y), 6, rules, checkpoints=[2, 4, 6], chunk=chunk)
    _check_against_reference(traj, lp, log_probs, z, y, rules, [2, 4, 6], 6)
    assert np.isneginf(traj.log_posterior[0, 0, 1:, 2]).all() and np.isfinite(traj.log_posterior[0, 1]).all()

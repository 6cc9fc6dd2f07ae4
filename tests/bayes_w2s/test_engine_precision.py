"""The engine's posterior stays normalized and exact to ~1e-16 however large N grows.

The unnormalized log posterior grows like N (|u| ~ 1.4e5 here), so a naive
``u - logsumexp(u)`` rounds ``log Z`` to ``ulp(|u|)`` ~ 3e-11 and a running float sum of
per-chunk terms drifts by more; the engine sums integer counts exactly, splits the term
table so that ``counts @ table`` is exact, and normalizes relative to the best hypothesis.
The reference sums the same float64 terms exactly (``math.fsum`` of exact products).
"""

import math
from fractions import Fraction as F

import numpy as np
import pytest

from bayes_w2s import Rule, run_trajectories
from bayes_w2s.core._compensated import dd_matmul, dd_sum, split, two_prod, two_sum
from bayes_w2s.core.updates import _ve_term, observation_logliks

H, N = 300, 200_000


def _problem(seed=0):
    grid = np.linspace(0.001, 0.999, H)
    log_probs = np.log(np.stack([grid, 1 - grid], axis=1))  # (H, 2)
    rng = np.random.default_rng(seed)
    coin = rng.integers(0, 2, N)
    labels = np.where(rng.random(N) < 0.05, 1 - coin, coin).astype(np.int64)
    log_prior = np.log(rng.dirichlet(np.ones(H)))  # non-uniform: the prior must be added exactly too
    return log_prior, log_probs, labels


def _exact_log_post(log_prior, table, labels):
    """Reference ``log post`` for count-based terms ``table (2, H)``: fsum of exact products."""
    counts = np.bincount(labels, minlength=2).astype(float)
    parts = [log_prior]
    for c in range(2):
        hi, lo = split(table[c])
        parts += [counts[c] * hi, counts[c] * lo]
    parts = np.stack(parts, axis=1)  # (H, 5)
    best = int(np.argmax(parts.sum(axis=1)))
    d = np.array([math.fsum([*row, *(-parts[best])]) for row in parts]).astype(np.longdouble)
    return (d - np.log(np.sum(np.exp(d)))).astype(float)


@pytest.mark.parametrize("rule", [Rule("bayes"), Rule("ve", "constant:value=1"), Rule("ve", "constant:value=50")], ids=lambda r: r.label)
def test_count_based_rules_are_exact_at_large_n(rule):
    log_prior, log_probs, labels = _problem()
    table = log_probs.T if rule.kind == "bayes" else _ve_term(log_probs.T, rule.schedule.value)[0]
    ref = _exact_log_post(log_prior, table, labels)
    cps = [1000, 65_536, N]
    for draw in [(None, labels[None]), _chunked(labels)]:  # pre-drawn, and a draw function (chunks of 8192)
        traj = run_trajectories(log_prior, log_probs, draw, N, [rule], checkpoints=cps)
        lp = traj.log_posterior[0, 0, -1]
        assert abs(math.fsum(np.exp(lp)) - 1.0) < 1e-14  # the naive normalization: ~1e-11
        big = ref > math.log(1e-6)
        assert np.max(np.abs(lp[big] - ref[big])) < 1e-14  # a float running sum: ~1e-11
        assert np.max(np.abs(np.exp(lp) - np.exp(ref))) < 1e-15


def _chunked(labels):
    done = [0]

    def draw(m):
        y = labels[None, done[0] : done[0] + m]
        done[0] += m
        return np.zeros_like(y), y

    return draw


def test_varying_strength_virtual_evidence_stays_normalized_and_close_to_an_extended_sum():
    log_prior, log_probs, labels = _problem(1)
    rule = Rule("ve", "pseries:c=2,p=1.1")
    traj = run_trajectories(log_prior, log_probs, _chunked(labels), N, [rule], checkpoints=[N])
    lp = traj.log_posterior[0, 0, -1]
    s = rule.schedule.strengths(N)
    u = log_prior.astype(np.longdouble)
    for lo in range(0, N, 20_000):
        terms = observation_logliks(log_probs, np.zeros(20_000, np.int64), labels[lo : lo + 20_000], rule="ve", strengths=s[lo : lo + 20_000])
        u = u + terms.astype(np.longdouble).sum(axis=0)
    d = u - u.max()
    ref = (d - np.log(np.sum(np.exp(d)))).astype(float)
    assert abs(math.fsum(np.exp(lp)) - 1.0) < 1e-14
    big = ref > math.log(1e-6)
    assert np.max(np.abs(lp[big] - ref[big])) < 1e-12  # BLAS sums within a chunk: stated bound, not exact


def test_error_free_transformations_are_exact():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=200) * 1e3, rng.normal(size=200) * 1e-3
    s, e = two_sum(a, b)
    assert all(F(x) + F(y) == F(p) + F(q) for x, y, p, q in zip(a, b, s, e))
    p, e = two_prod(a, b)
    assert all(F(x) * F(y) == F(u) + F(v) for x, y, u, v in zip(a, b, p, e))
    hi, lo = split(a)
    assert np.all(hi + lo == a)
    terms = rng.normal(size=(7, 33)) * 10.0 ** rng.integers(-8, 8, size=(7, 33))
    hi, lo = dd_sum(terms, axis=1)
    for h, l_, row in zip(hi, lo, terms):
        exact = sum(map(F, row))
        assert abs(F(h) + F(l_) - exact) <= abs(exact) * F(1, 2**100)  # double-double accuracy
    w, t = rng.integers(0, 10**6, size=(4, 5)).astype(float), rng.normal(size=(5, 3))
    hi, lo = dd_matmul(w, t)
    for i in range(4):
        for j in range(3):
            exact = sum(F(w[i, c]) * F(t[c, j]) for c in range(5))
            assert abs(F(hi[i, j]) + F(lo[i, j]) - exact) <= abs(exact) * F(1, 2**100)

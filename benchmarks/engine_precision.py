"""Precision of the engine's posterior at large N: normalization and log-posterior error.

Problem: H coin biases on a grid (uniform prior), one stream of N binary labels (a 50/50
mixture of two noisy coins, as in ``benchmarks/engine.py``). Rules: hard Bayes, virtual
evidence with constant strength s = 1 and s = 50 (the shifted terms), and VE with the
p-series ``s_n = 1/n^2``. For each rule it reports, at n = N:

* ``|sum_h post(h) - 1|``, the sum taken with ``math.fsum`` of the float64 posteriors;
* ``max_h |post(h) - post_ref(h)|``; ``max |log post(h) - log post_ref(h)|`` over hypotheses
  with ``post_ref(h) > 1e-6``; and the relative error ``|log post - log post_ref| /
  max(1, |log post_ref|)`` over those with ``post_ref(h) > 1e-300`` (a log posterior of
  -10^4 cannot be stored closer than ulp(10^4) = 1.8e-12), where the reference sums the *same* float64 terms exactly: for the count-based rules
  ``sum_c n_c T_c(h)`` with ``math.fsum`` of the exact products (Veltkamp split), for the
  p-series the N terms of each hypothesis summed in ``np.longdouble`` (x86: 64-bit
  mantissa, pairwise); then ``d_h = u_h - max u`` is rounded once and
  ``log post_ref = d - log sum exp(d)`` is taken in ``np.longdouble``.

Usage: ``python benchmarks/engine_precision.py [--n 1000000] [--h 1000] [--old PATH]``;
``--old`` names a copy of an earlier ``trajectory.py`` to measure side by side (e.g.
``git show <rev>:bayes_w2s/core/trajectory.py > /tmp/old_trajectory.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time

import numpy as np

from bayes_w2s import Rule, run_trajectories
from bayes_w2s.core._compensated import split
from bayes_w2s.core.updates import observation_logliks

RULES = {
    "hard Bayes": Rule("bayes"),
    "VE constant s=1": Rule("ve", "constant:value=1"),
    "VE constant s=50": Rule("ve", "constant:value=50"),
    "VE p-series 1/n^2": Rule("ve", "pseries:c=1,p=2"),
}


def problem(n_hyp: int, n_obs: int, seed: int = 0):
    grid = np.linspace(0.001, 0.999, n_hyp)
    log_probs = np.log(np.stack([grid, 1 - grid], axis=1))  # (H, 2)
    rng = np.random.default_rng(seed)
    coin = rng.integers(0, 2, n_obs)
    labels = np.where(rng.random(n_obs) < 0.05, 1 - coin, coin).astype(np.int64)
    return np.full(n_hyp, -math.log(n_hyp)), log_probs, labels


def reference(log_prior, log_probs, labels, rule: Rule) -> np.ndarray:
    """Log posterior from exactly summed float64 terms (see module docstring)."""
    n = labels.size
    if rule.kind == "ve" and rule.schedule.name == "pseries":
        s, u = rule.schedule.strengths(n), log_prior.astype(np.longdouble)
        for lo in range(0, n, 10_000):  # the engine's float64 terms, summed in extended precision
            terms = observation_logliks(log_probs, np.zeros(min(n, lo + 10_000) - lo, np.int64), labels[lo : lo + 10_000],
                                        rule="ve", strengths=s[lo : lo + 10_000])  # (b, H)
            u = u + terms.astype(np.longdouble).sum(axis=0)
        d = u - u.max()
    else:
        if rule.kind == "bayes":
            table = log_probs.T  # (2, H)
        else:  # the engine's table for a constant strength (shifted above s = 30)
            from bayes_w2s.core.updates import _ve_term

            table = _ve_term(log_probs.T, rule.schedule.value)[0]
        counts = np.bincount(labels, minlength=2).astype(float)
        parts = [log_prior]
        for c in range(2):
            hi, lo = split(table[c])
            parts += [counts[c] * hi, counts[c] * lo]  # exact: counts < 2^26, halves of 26 bits
        parts = np.stack(parts, axis=1)  # (H, 5): u_h is their exact sum
        best = int(np.argmax(parts.sum(axis=1)))
        d = np.array([math.fsum([*row, *(-parts[best])]) for row in parts]).astype(np.longdouble)  # u_h - u_best, rounded once
    return (d - np.log(np.sum(np.exp(d)))).astype(float)


def measure(module, log_prior, log_probs, labels, rule: Rule):
    n = labels.size
    if module is None:
        traj = run_trajectories(log_prior, log_probs, (None, labels[None]), n, [rule], checkpoints=[n])
    else:  # an earlier engine: feed the labels through a draw function
        done = [0]

        def draw(m):
            y = labels[None, done[0] : done[0] + m]
            done[0] += m
            return np.zeros_like(y), y

        traj = module.run_trajectories(log_prior, log_probs, draw, n, [module.Rule(rule.kind, rule.schedule)], checkpoints=[n])
    return traj.log_posterior[0, 0, -1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--h", type=int, default=1000)
    ap.add_argument("--old", help="path of an earlier trajectory.py to compare")
    args = ap.parse_args(argv)
    engines = {"engine": None}
    if args.old:
        spec = importlib.util.spec_from_file_location("old_trajectory", args.old)
        old = importlib.util.module_from_spec(spec)
        sys.modules["old_trajectory"] = old
        spec.loader.exec_module(old)
        engines = {"old engine": old, "engine": None}
    log_prior, log_probs, labels = problem(args.h, args.n)
    print(f"H = {args.h}, N = {args.n}, one stream, seed 0")
    print("| rule | engine | abs(sum post - 1) | max abs err of post | max abs err of log post, post > 1e-6 "
          "| max rel err of log post | s |")
    print("|---|---|---|---|---|---|---|")
    for name, rule in RULES.items():
        t0 = time.perf_counter()
        ref = reference(log_prior, log_probs, labels, rule)
        keep = ref > math.log(1e-300)
        for label, module in engines.items():
            t1 = time.perf_counter()
            lp = measure(module, log_prior, log_probs, labels, rule)
            dt = time.perf_counter() - t1
            norm = abs(math.fsum(np.exp(lp)) - 1.0)
            err_p = float(np.max(np.abs(np.exp(lp) - np.exp(ref))))
            big = ref > math.log(1e-6)
            err_big = float(np.max(np.abs(lp[big] - ref[big])))
            rel = float(np.max(np.abs(lp[keep] - ref[keep]) / np.maximum(1.0, np.abs(ref[keep]))))
            print(f"| {name} | {label} | {norm:.2g} | {err_p:.2g} | {err_big:.2g} | {rel:.2g} | {dt:.2f} |", flush=True)
        del t0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

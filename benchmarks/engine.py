"""Hypothesis-updates per second of the trajectory engine against two named baselines.

Problem: a grid of H coin biases learning from per-token weak labels of a 50/50 mixture of
two noisy coins, R replicates, N labels each; "hypothesis-updates" = R * N * H.

* engine, hard Bayes — sufficient statistics: weighted label counts @ log-likelihoods;
* engine, virtual evidence with a p-series schedule — every label has its own strength,
  so each (label, hypothesis) term ``log(1 + (r_n - 1) P(y|h))`` is computed;
* baseline (a): a plain Python loop over replicates and labels, one numpy vector update
  and normalization per label (how one would write it first);
* baseline (b): pgmpy's ``VariableElimination`` with ``virtual_evidence``, one query over
  a network H -> Y_1..Y_n with a virtual-evidence CPD per weak label.

Baselines run on a smaller slice (they are orders of magnitude slower); rates are per
hypothesis-update, so they compare directly. Every path is checked against the engine's
posterior on the same labels before its time counts. Threads are pinned to one core
(``OMP_NUM_THREADS=1`` etc.) so the figures are per core.

Usage: ``python benchmarks/engine.py [--hypotheses 1000 --labels 100000 --replicates 100]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

from bayes_w2s import HypothesisSpace, Model, Rule, condition, label_sampler, run_trajectories  # noqa: E402


def _world(n_hyp: int):
    grid = np.linspace(0.001, 0.999, n_hyp)
    strong = Model(HypothesisSpace(np.stack([grid, 1 - grid], axis=1)))
    weak = Model(HypothesisSpace([[0.95, 0.05], [0.05, 0.95]]))
    return strong, weak


def _time(fn, repeat=1):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def engine_rate(n_hyp, n_obs, n_rep, rule, seed=0):
    strong, weak = _world(n_hyp)
    draw = label_sampler(weak, np.random.default_rng(seed), n_rep)
    secs, traj = _time(
        lambda: run_trajectories(strong.log_prior, strong.space.log_probs, draw, n_obs, [rule], checkpoints=[n_obs])
    )
    return n_rep * n_obs * n_hyp / secs, secs, traj


def _labels(n_obs, n_rep, seed):
    _, weak = _world(2)
    z, y = label_sampler(weak, np.random.default_rng(seed), n_rep)(n_obs)
    return y


def python_loop(n_hyp, labels, strengths):
    """Baseline (a): one normalized numpy update per (replicate, label)."""
    strong, _ = _world(n_hyp)
    probs = strong.space.probs[:, 0, :]  # (H, 2)
    out = []
    for row in labels:
        post = strong.prior.copy()
        for y, s in zip(row, strengths):
            post = post * (1 + np.expm1(s) * probs[:, y])
            post /= post.sum()
        out.append(np.log(post))
    return np.array(out)


def pgmpy_query(n_hyp, labels, strengths):
    """Baseline (b): pgmpy VariableElimination with one virtual-evidence CPD per label."""
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    try:
        from pgmpy.models import DiscreteBayesianNetwork as Network
    except ImportError:  # older pgmpy
        from pgmpy.models import BayesianNetwork as Network
    strong, _ = _world(n_hyp)
    probs = strong.space.probs[:, 0, :]  # (H, 2)
    names = [f"Y{i}" for i in range(len(strengths))]
    net = Network([("H", y) for y in names])
    cpds = [TabularCPD("H", n_hyp, strong.prior[:, None])]
    cpds += [TabularCPD(y, 2, probs.T, evidence=["H"], evidence_card=[n_hyp]) for y in names]
    net.add_cpds(*cpds)
    infer = VariableElimination(net)
    out = []
    for row in labels:
        ve = []
        for y_name, y, s in zip(names, row, strengths):
            lam = np.ones(2)
            lam[y] = np.exp(s)
            ve.append(TabularCPD(y_name, 2, (lam / lam.sum())[:, None]))
        res = infer.query(["H"], virtual_evidence=ve, show_progress=False)
        out.append(np.log(res.values))
    return np.array(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hypotheses", type=int, default=1000)
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--replicates", type=int, default=100)
    parser.add_argument("--baseline-labels", type=int, default=2000)
    parser.add_argument("--baseline-replicates", type=int, default=2)
    parser.add_argument("--pgmpy-labels", type=int, default=30)
    args = parser.parse_args(argv)
    H, N, R = args.hypotheses, args.labels, args.replicates
    sched = "pseries:c=1,p=2"
    print(f"problem: H={H} hypotheses x N={N} labels x R={R} replicates = {H * N * R:.3g} hypothesis-updates, 1 thread")

    rates = {}
    rate, secs, _ = engine_rate(H, N, R, Rule("bayes"))
    rates["engine, hard Bayes (counts)"] = rate
    print(f"engine, hard Bayes:            {secs:8.2f} s  {rate:10.3g} updates/s")
    rate, secs, _ = engine_rate(H, N, R, Rule("ve", sched))
    rates["engine, VE p-series"] = rate
    print(f"engine, VE p-series schedule:  {secs:8.2f} s  {rate:10.3g} updates/s")

    # baselines on a slice, checked against the engine on the same labels
    n_b, r_b = args.baseline_labels, args.baseline_replicates
    y = _labels(n_b, r_b, seed=1)
    s = Rule("ve", sched).schedule.strengths(n_b)
    strong, weak = _world(H)
    draw = label_sampler(weak, np.random.default_rng(1), r_b)
    ref = run_trajectories(strong.log_prior, strong.space.log_probs, draw, n_b, [Rule("ve", sched)], checkpoints=[n_b])
    secs, loop_post = _time(lambda: python_loop(H, y, s))
    np.testing.assert_allclose(loop_post, ref.log_posterior[0, :, -1], atol=1e-8)
    rates["baseline (a) python loop"] = r_b * n_b * H / secs
    print(f"baseline (a) Python loop:      {secs:8.2f} s  {rates['baseline (a) python loop']:10.3g} updates/s  (R={r_b}, N={n_b})")

    n_p = args.pgmpy_labels
    y_p = y[:, :n_p]
    s_p = Rule("ve", sched).schedule.strengths(n_p)
    ref_p = [condition(strong.log_prior, strong.space.log_probs, np.zeros(n_p, int), row, rule="ve", strengths=s_p) for row in y_p]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        secs, pg_post = _time(lambda: pgmpy_query(H, y_p, s_p))
    np.testing.assert_allclose(pg_post, [r.log_posterior for r in ref_p], atol=1e-6)
    rates["baseline (b) pgmpy"] = r_b * n_p * H / secs
    print(f"baseline (b) pgmpy VE query:   {secs:8.2f} s  {rates['baseline (b) pgmpy']:10.3g} updates/s  (R={r_b}, N={n_p})")

    print("\nratios (engine / baseline):")
    for eng in ("engine, hard Bayes (counts)", "engine, VE p-series"):
        for base in ("baseline (a) python loop", "baseline (b) pgmpy"):
            print(f"  {eng:28s} / {base:25s} = {rates[eng] / rates[base]:10.1f}x")
    target = 3e8
    for eng in ("engine, hard Bayes (counts)", "engine, VE p-series"):
        verdict = "meets" if rates[eng] >= target else "MISSES"
        print(f"{eng}: {rates[eng]:.3g} updates/s per core {verdict} the 3e8 target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

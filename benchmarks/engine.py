"""The trajectory engine against like-for-like baselines, at matched sizes, in one run.

Problem: a grid of H coin biases ``P(heads | h)`` (uniform prior) learns from R replicate
streams of N binary weak labels (a 50/50 mixture of two noisy coins). Two rules:

* hard Bayes: ``log post(h) = log prior(h) + sum_n log P(y_n | h) - log Z``;
* virtual evidence with the p-series schedule ``s_n = 1/n^2`` (``r_n = exp(s_n)``):
  ``log post(h) = log prior(h) + sum_n log(1 + (r_n - 1) P(y_n | h)) - log Z``.

Every contender computes the *same* rule on the *same* labels, at the same (H, N, R), and its
posterior is checked against the exact one (:func:`exact`) before its time counts:

* ``engine``: ``run_trajectories`` fed the pre-drawn labels as the tuple ``(None, labels)`` (one
  context; so no contender pays for sampling), recording the posterior at n = N;
* ``numpy``: what a numpy user would write. Hard Bayes by sufficient statistics,
  ``k1 log P1 + (N - k1) log P0``. VE as ``f0.sum(0) + Y @ (f1 - f0)`` with
  ``f_y = log1p(expm1(s_n) P(y | h))`` of shape (N, H), the log terms included in the time;
* ``loop``: a Python loop over replicates and labels, one numpy vector update and
  normalization per label, of the same rule;
* ``pyagrum-lazy`` / ``pyagrum-ve``: pyAgrum's ``LazyPropagation`` / ``VariableElimination``
  on H -> Y_1..Y_N; hard evidence, or likelihood evidence ``[1, r_n]`` / ``[r_n, 1]`` per
  label (``setEvidence``). Network and inference object are built outside the timed region;
  the time is evidence + inference + posterior. With likelihood evidence on every child,
  LazyPropagation's time grows faster than linearly in N (H=500: 0.04 s at N=50, 0.16 s at
  N=100, 0.95 s at N=200), so it runs only in the smallest tier;
* ``pgmpy``: ``VariableElimination`` on the same network with ``evidence`` or
  ``virtual_evidence``; built outside the timed region; one query per replicate.

Times are medians over interleaved repeats (the contenders take turns, so a burst of load
from other processes hits all of them); the spread is the min-max over repeats. Ratios are
``contender time / engine time`` for the same rule and size, of the medians and of the
minima (on a loaded machine the minimum is the better estimate of the cost itself): above 1
the engine is faster.
Threads are pinned to one core (``OMP_NUM_THREADS=1`` etc.).

Usage: ``python benchmarks/engine.py [--quick] [--markdown table.md]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.special import logsumexp

from bayes_w2s import Rule, run_trajectories
from bayes_w2s.core.schedules import PSeries
from bayes_w2s.core.updates import observation_logliks

SCHEDULE = PSeries(c=1.0, p=2.0)
RULES = ("bayes", "ve")
# (name, H, N, R, contenders): every contender in a tier runs at exactly that size
TIERS = (
    ("S", 500, 100, 4, ("engine", "numpy", "loop", "pyagrum-lazy", "pyagrum-ve", "pgmpy")),
    ("M", 500, 400, 4, ("engine", "numpy", "loop", "pyagrum-ve")),
    ("L", 500, 20_000, 8, ("engine", "numpy", "loop")),
)
QUICK_TIERS = (
    ("S", 50, 20, 2, ("engine", "numpy", "loop", "pyagrum-lazy", "pyagrum-ve", "pgmpy")),
    ("M", 50, 200, 2, ("engine", "numpy", "loop", "pyagrum-ve")),
)
REPEATS = {"engine": 15, "numpy": 15, "loop": 2, "pyagrum-lazy": 3, "pyagrum-ve": 3, "pgmpy": 2}
TOLERANCE = 1e-9  # max |posterior difference| from the exact posterior


@dataclass
class Problem:
    """Grid ``probs (H, 2)`` of ``P(y | h)``, uniform prior, labels ``(R, N)``, strengths ``(N,)``."""

    n_hyp: int
    n_obs: int
    n_rep: int
    seed: int
    probs: np.ndarray = field(init=False)
    labels: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        grid = np.linspace(0.001, 0.999, self.n_hyp)
        self.probs = np.stack([grid, 1 - grid], axis=1)
        rng = np.random.default_rng(self.seed)
        coin = rng.integers(0, 2, (self.n_rep, self.n_obs))  # which noisy coin emits the label
        flip = rng.random((self.n_rep, self.n_obs)) < 0.05
        self.labels = np.where(flip, 1 - coin, coin).astype(np.int64)
        self.strengths = SCHEDULE.strengths(self.n_obs)
        self.log_prior = np.full(self.n_hyp, -np.log(self.n_hyp))
        self.log_probs = np.log(self.probs)

def exact(pb: Problem, rule: str) -> np.ndarray:
    """Reference posteriors ``(R, H)``: the rule's per-label terms (``observation_logliks``)
    summed pairwise along N. (``condition`` sums the (N, H) terms along axis 0, which numpy
    does not sum pairwise: at N = 2e4 it is off by ~7e-10 in probability. This reference normalizes
    with ``lp - logsumexp(lp)``, itself off by ~ulp(|lp|) ~ 4e-13 at N = 2e4; the engine's error
    against exactly summed terms is measured by ``benchmarks/engine_precision.py``.)
    """
    s = None if rule == "bayes" else pb.strengths
    zeros = np.zeros(pb.n_obs, dtype=np.int64)
    out = []
    for y in pb.labels:
        terms = observation_logliks(pb.log_probs, zeros, y, rule=rule, strengths=s)  # (N, H)
        lp = pb.log_prior + np.ascontiguousarray(terms.T).sum(axis=1)  # pairwise summation
        out.append(np.exp(lp - logsumexp(lp)))
    return np.array(out)


# --- contenders: each returns a callable () -> posterior probabilities (R, H) ----------------


def engine(pb: Problem, rule: str) -> Callable[[], np.ndarray]:
    r = Rule("bayes") if rule == "bayes" else Rule("ve", SCHEDULE)
    return lambda: np.exp(
        run_trajectories(pb.log_prior, pb.log_probs, (None, pb.labels), pb.n_obs, [r], checkpoints=[pb.n_obs]).log_posterior[0, :, -1]
    )


def numpy_user(pb: Problem, rule: str) -> Callable[[], np.ndarray]:
    def hard():
        k1 = pb.labels.sum(axis=1)[:, None]  # (R, 1) counts of label 1
        lp = pb.log_prior + k1 * pb.log_probs[:, 1] + (pb.n_obs - k1) * pb.log_probs[:, 0]
        return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

    def ve():
        r1 = np.expm1(SCHEDULE.strengths(pb.n_obs))[:, None]  # (N, 1)
        f0 = np.log1p(r1 * pb.probs[:, 0])  # (N, H)
        f1 = np.log1p(r1 * pb.probs[:, 1])
        lp = pb.log_prior + f0.sum(axis=0) + pb.labels @ (f1 - f0)
        return np.exp(lp - logsumexp(lp, axis=1, keepdims=True))

    return hard if rule == "bayes" else ve


def python_loop(pb: Problem, rule: str) -> Callable[[], np.ndarray]:
    prior = np.exp(pb.log_prior)
    cols = [pb.probs[:, 0].copy(), pb.probs[:, 1].copy()]

    def hard():
        out = []
        for row in pb.labels:
            post = prior.copy()
            for y in row:
                post = post * cols[y]
                post /= post.sum()
            out.append(post)
        return np.array(out)

    def ve():
        out = []
        r1 = np.expm1(SCHEDULE.strengths(pb.n_obs))
        for row in pb.labels:
            post = prior.copy()
            for y, a in zip(row, r1):
                post = post * (1 + a * cols[y])
                post /= post.sum()
            out.append(post)
        return np.array(out)

    return hard if rule == "bayes" else ve


def pyagrum(pb: Problem, rule: str, algorithm: str = "LazyPropagation") -> Callable[[], np.ndarray]:
    import pyagrum as gum

    bn = gum.BayesNet("w2s")
    bn.add(gum.LabelizedVariable("H", "hypothesis", pb.n_hyp))
    names = [f"Y{i}" for i in range(pb.n_obs)]
    for name in names:
        bn.add(gum.LabelizedVariable(name, "label", 2))
        bn.addArc("H", name)
        bn.cpt(name)[:] = pb.probs  # (H, 2): last axis is the child
    bn.cpt("H")[:] = np.exp(pb.log_prior)
    inference = getattr(gum, algorithm)(bn)
    r = np.exp(pb.strengths)

    def evidence(row):
        if rule == "bayes":
            return {name: int(y) for name, y in zip(names, row)}
        return {name: ([1.0, float(rn)] if y else [float(rn), 1.0]) for name, y, rn in zip(names, row, r)}

    def run():
        out = []
        for row in pb.labels:
            inference.setEvidence(evidence(row))
            inference.makeInference()
            out.append(inference.posterior("H").toarray())
        return np.array(out)

    return run


def pgmpy(pb: Problem, rule: str) -> Callable[[], np.ndarray]:
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination

    try:
        from pgmpy.models import DiscreteBayesianNetwork as Network
    except ImportError:  # older pgmpy
        from pgmpy.models import BayesianNetwork as Network
    names = [f"Y{i}" for i in range(pb.n_obs)]
    net = Network([("H", y) for y in names])
    cpds = [TabularCPD("H", pb.n_hyp, np.exp(pb.log_prior)[:, None])]
    cpds += [TabularCPD(y, 2, pb.probs.T, evidence=["H"], evidence_card=[pb.n_hyp]) for y in names]
    net.add_cpds(*cpds)
    inference = VariableElimination(net)
    r = np.exp(pb.strengths)

    def run():
        out = []
        for row in pb.labels:
            if rule == "bayes":
                res = inference.query(["H"], evidence={n: int(y) for n, y in zip(names, row)}, show_progress=False)
            else:
                ve = []
                for name, y, rn in zip(names, row, r):
                    lam = np.array([1.0, rn]) if y else np.array([rn, 1.0])
                    ve.append(TabularCPD(name, 2, (lam / lam.sum())[:, None]))
                res = inference.query(["H"], virtual_evidence=ve, show_progress=False)
            out.append(res.values)
        return np.array(out)

    return run


CONTENDERS = {
    "engine": engine,
    "numpy": numpy_user,
    "loop": python_loop,
    "pyagrum-lazy": pyagrum,
    "pyagrum-ve": lambda pb, rule: pyagrum(pb, rule, "VariableElimination"),
    "pgmpy": pgmpy,
}


# --- measurement -----------------------------------------------------------------------------


def measure_tier(name, n_hyp, n_obs, n_rep, contenders, seed, scale=1.0):
    """Rows ``(tier, rule, contender, H, N, R, times, max_err)`` for one matched size."""
    pb = Problem(n_hyp, n_obs, n_rep, seed)
    rows = []
    for rule in RULES:
        ref = exact(pb, rule)
        fns, errs, failed = {}, {}, {}
        for c in contenders:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fns[c] = CONTENDERS[c](pb, rule)
                    errs[c] = float(np.max(np.abs(fns[c]() - ref)))  # also a warm-up run
            except Exception as exc:  # a baseline that cannot do this size is a result, not a crash
                if c == "engine":
                    raise
                failed[c] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:90]}"
                continue
            if not errs[c] <= TOLERANCE:
                raise AssertionError(f"{c} ({rule}, tier {name}) is off the exact posterior by {errs[c]:.3g}")
        times = {c: [] for c in contenders}
        reps = {c: max(1, round(REPEATS[c] * scale)) for c in contenders}
        for rnd in range(max(reps.values())):
            for c in contenders:
                if c not in failed and rnd < reps[c]:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        start = time.perf_counter()
                        fns[c]()
                        times[c].append(time.perf_counter() - start)
        rows += [(name, rule, c, n_hyp, n_obs, n_rep, times[c], errs.get(c, failed.get(c))) for c in contenders]
    return rows


def format_table(rows) -> str:
    """Markdown table: median and min time, updates/s at the median, time ratios to the engine."""
    eng = {(r[0], r[1]): r[6] for r in rows if r[2] == "engine"}
    lines = [
        "| tier | H x N x R | rule | contender | median s (min-max) | updates/s | time / engine, median (min) | max abs err |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for tier, rule, c, h, n, r, times, err in rows:
        what = "VE p-series" if rule == "ve" else "hard Bayes"
        if not times:
            lines.append(f"| {tier} | {h} x {n} x {r} | {what} | {c} | failed | - | - | {err} |")
            continue
        med, base = float(np.median(times)), eng[(tier, rule)]
        lines.append(
            f"| {tier} | {h} x {n} x {r} | {what} | {c} | {med:.3g} ({min(times):.3g}-{max(times):.3g}) | "
            f"{h * n * r / med:.3g} | {med / np.median(base):.3g} ({min(times) / min(base):.3g}) | {err:.1e} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (a smoke test)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", help="also write the table to this file")
    args = parser.parse_args(argv)
    tiers = QUICK_TIERS if args.quick else TIERS
    scale = 0.2 if args.quick else 1.0
    start = time.perf_counter()
    rows = []
    for name, h, n, r, contenders in tiers:
        rows += measure_tier(name, h, n, r, contenders, args.seed, scale)
        print(f"tier {name} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = format_table(rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    footer = (
        f"\n1 thread; load average {load:.1f} on {os.cpu_count()} cores; seed {args.seed}; "
        f"total {time.perf_counter() - start:.0f} s. Posteriors checked against the summed observation_logliks terms "
        f"(tolerance {TOLERANCE:g}) before timing."
    )
    print(table + footer)
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(table + footer + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

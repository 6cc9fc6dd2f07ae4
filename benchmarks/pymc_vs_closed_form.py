"""NUTS vs the closed form for the tempered Beta–Bernoulli posterior, at matched accuracy.

The tempered posterior of a coin under weak labels ``y_i`` with weights ``w_i`` is
``Beta(a + sum_i w_i y_i, b + sum_i w_i (1 - y_i))`` (``bayes_w2s.core.asymptotics``). The
closed form is exact; NUTS (``bayes_w2s.ppl.pymc_models``) is asked for the same two numbers,
posterior mean and sd, to a Monte Carlo standard error of at most ``tol`` posterior sds.
Draws are doubled until ArviZ's ESS-based MCSE of the mean meets that target, and the
wall time of the accepted run (model build, compilation, tuning and sampling) is compared
with the closed form's.

    python benchmarks/pymc_vs_closed_form.py [--n 1000] [--tol 0.02] [--seed 0]

Prints both times and their ratio (NUTS / closed form).
"""

from __future__ import annotations

import argparse
import time
import timeit
import warnings

import numpy as np

from bayes_w2s.core.asymptotics import beta_bernoulli_posterior
from bayes_w2s.core.schedules import make_schedule


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1000, help="number of weak labels")
    parser.add_argument(
        "--tol", type=float, default=0.02, help="target MCSE of the mean, in posterior sds"
    )
    parser.add_argument("--schedule", default="coarsened:alpha=50", help="tempering weights w_i")
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument(
        "--draws", type=int, default=1000, help="first try, per chain (doubled as needed)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from bayes_w2s.ppl import diagnostics as dg
    from bayes_w2s.ppl import pymc_models as pmm

    rng = np.random.default_rng(args.seed)
    labels = (rng.random(args.n) < 0.3).astype(np.int64)
    weights = make_schedule(args.schedule).strengths(args.n)
    a, b = 2.0, 2.0

    exact = beta_bernoulli_posterior(a, b, labels, weights)
    loops, _ = timeit.Timer(lambda: beta_bernoulli_posterior(a, b, labels, weights)).autorange()
    closed_s = min(
        timeit.repeat(
            lambda: beta_bernoulli_posterior(a, b, labels, weights), number=loops, repeat=5
        )
    )
    closed_s /= loops

    data = pmm.WeakData(
        labels, "tempered", weights, schedule=make_schedule(args.schedule).describe()
    )
    cfg = pmm.StudentConfig("beta_bernoulli", a=a, b=b)
    draws = args.draws
    while True:
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = pmm.fit(data, cfg, seed=args.seed, draws=draws, tune=1000, chains=args.chains)
        nuts_s = time.perf_counter() - start
        row = dg.posterior_table(fit.idata, prob=0.9, var_names=["theta"]).iloc[0]
        if row["mcse_mean"] <= args.tol * exact.sd or draws >= 64 * args.draws:
            break
        draws *= 2

    result = {
        "n_labels": args.n,
        "draws_per_chain": draws,
        "chains": args.chains,
        "ess_bulk": float(row["ess_bulk"]),
        "mcse_mean_in_sd": float(row["mcse_mean"] / exact.sd),
        "mean_error_in_sd": float((row["mean"] - exact.mean) / exact.sd),
        "sd_rel_error": float(row["sd"] / exact.sd - 1),
        "nuts_seconds": nuts_s,
        "closed_form_seconds": closed_s,
        "ratio": nuts_s / closed_s,
    }
    print(f"tempered Beta–Bernoulli, {args.n} labels, weights {data.schedule}")
    print(
        f"closed form  Beta({exact.a:.3f}, {exact.b:.3f}): mean {exact.mean:.5f} sd {exact.sd:.5f}"
    )
    print(
        f"NUTS         {args.chains} x {draws} draws, ESS {row['ess_bulk']:.0f}: "
        f"mean {row['mean']:.5f} "
        f"sd {row['sd']:.5f}  (MCSE {result['mcse_mean_in_sd']:.3f} sd, "
        f"error {result['mean_error_in_sd']:+.3f} sd)"
    )
    print(f"wall time    NUTS {nuts_s:.2f} s   closed form {closed_s * 1e6:.1f} us")
    print(f"ratio NUTS / closed form = {result['ratio']:.3g}")
    return result


if __name__ == "__main__":
    main()

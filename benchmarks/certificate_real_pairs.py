"""Measured movement and prediction flips next to the a-priori certificates, on real pairs.

    python benchmarks/certificate_real_pairs.py --pair default --seeds 0-4 --out /tmp/cert
    python benchmarks/certificate_real_pairs.py --pair mpnet --seeds 0-4 --out /tmp/cert
    python benchmarks/certificate_real_pairs.py --summarize /tmp/cert/certificate_mpnet.csv

One row per (method, seed) with the pipeline's row (``param_distance``, ``distance_bound``
(old constants), ``distance_bound_data``, ``flip_bound``, ``flips_measured`` ...) plus the
breakdown of the data-dependent movement bound (per-example norms, Gram, linearized) taken from
the training log. Weight decay is a student-only setting here (a ``W2SConfig`` subclass), so
weak models and ceilings come from the cache.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from bayes_w2s.neural import backend as backend_mod
from bayes_w2s.neural.cache import ArrayCache
from bayes_w2s.neural.config import W2SConfig
from bayes_w2s.neural.pipeline import run_seed

PAIRS = {
    "default": dict(weak="minilm-l0", strong="minilm", dataset="rotten_tomatoes"),
    "mpnet": dict(weak="minilm-l1", strong="mpnet", dataset="rotten_tomatoes:n=4500",
                  n_weak_train=1500, n_weak_label=1500, n_test=1500),
}
METHODS = [  # (label, method, weight decay)
    ("xent", "xent", 0.0),
    ("ve+budget(40)", "ve+budget:budget=40", 0.0),
    ("ve+budget(4000)", "ve+budget:budget=4000", 0.0),
    ("tempered+budget(4000)", "tempered+budget:budget=4000", 0.0),
    ("xent+wd(1)", "xent", 1.0),
    ("xent+wd(10)", "xent", 10.0),
]
BREAKDOWN = ("distance_bound_norms", "distance_bound_gram", "distance_bound_linear")


@dataclass(frozen=True)
class WDConfig(W2SConfig):
    """The pipeline config with a student-only weight decay."""

    student_weight_decay: float = 0.0

    def train_config(self, *, student: bool = False):
        tc = super().train_config(student=student)
        return replace(tc, weight_decay=self.student_weight_decay) if student else tc


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Per method, over seeds: means of the measured movement and of each bound, the
    bound/measured ratios (mean and worst seed), flips measured vs the flip bound, and the KL."""
    d = df.copy()
    d["ratio_old"] = d["distance_bound"] / d["param_distance"]
    d["ratio_data"] = d["distance_bound_data"] / d["param_distance"]
    d["flip_frac_bound"] = d["flip_bound"] / d["n_test"]
    d["flip_frac"] = d["flips_measured"] / d["n_test"]
    g = d.groupby("label", sort=False)
    out = pd.DataFrame({
        "seeds": g.size(),
        "pgr": g["pgr"].mean(),
        "dist": g["param_distance"].mean(),
        "old_bound": g["distance_bound"].mean(),
        "old_ratio": g["ratio_old"].mean(),
        "norms": g["distance_bound_norms"].mean(),
        "gram": g["distance_bound_gram"].mean(),
        "linear": g["distance_bound_linear"].mean(),
        "data_bound": g["distance_bound_data"].mean(),
        "data_ratio": g["ratio_data"].mean(),
        "data_ratio_max": g["ratio_data"].max(),
        "ref_dist": g["reference_distance"].mean(),
        "flips": g["flip_frac"].mean(),
        "flip_bound": g["flip_frac_bound"].mean(),
        "flip_bound_max": g["flip_frac_bound"].max(),
        "kl": g["kl_from_init"].mean(),
        "kl_bound_old": g["kl_bound"].mean(),
        "kl_bound_data": g["kl_bound_data"].mean(),
        "valid": g.apply(lambda x: bool((x.param_distance <= x.distance_bound_data).all()
                                        and (x.flips_measured <= x.flip_bound).all()
                                        and (x.kl_from_init <= x.kl_bound_data).all())),
    })
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pair", choices=sorted(PAIRS), default="default")
    ap.add_argument("--seeds", default="0-4")
    ap.add_argument("--out", default="/tmp/cert")
    ap.add_argument("--summarize", help="print the summary of a written CSV and exit")
    args = ap.parse_args()
    if args.summarize:
        with pd.option_context("display.width", 250, "display.max_columns", 30):
            print(summarize(pd.read_csv(args.summarize)).to_string(float_format="%.4g"))
        return
    lo, _, hi = args.seeds.partition("-")
    seeds = range(int(lo), int(hi or lo) + 1)
    captured = {}
    real_train = backend_mod.train

    def capture(*a, **k):
        log = real_train(*a, **k)
        captured.update({b: log.extra.get(b) for b in BREAKDOWN})
        return log

    backend_mod.train = capture
    cache = ArrayCache()
    rows = []
    for seed in seeds:
        for label, method, wd in METHODS:
            cfg = WDConfig(**PAIRS[args.pair], method=method, student_weight_decay=wd)
            t0 = time.perf_counter()
            row = run_seed(cfg, seed, cache=cache)
            row.update(captured, label=label, weight_decay=wd, wall_s=time.perf_counter() - t0)
            rows.append(row)
            print(f"{args.pair} seed {seed} {label}: dist {row['param_distance']:.4g} old "
                  f"{row['distance_bound']:.4g} data {row['distance_bound_data']:.4g} flips "
                  f"{row['flips_measured']}/{row['flip_bound']} ({row['wall_s']:.1f} s)",
                  flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(out / f"certificate_{args.pair}.csv", index=False)


if __name__ == "__main__":
    main()

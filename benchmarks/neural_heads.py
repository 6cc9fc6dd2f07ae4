"""Batched vs one-at-a-time training of linear heads on cached-feature shapes (issue 15).

Trains the same M heads with :func:`bayes_w2s.neural.heads.train_heads` (one batched loop) and
with :func:`bayes_w2s.neural.train.train` one after another (the best one would write with the
sequential loop: a :class:`FeatureHead` per run on pre-gathered features, one thread, as the
pipeline runs feature heads), checks that every head agrees, and prints a table. Cases:

* ``compare``: the default ``neural compare`` shape, 8 methods x 10 seeds = 80 heads, D = 384
  (MiniLM), n = 4,000 weak-labelled rows per seed, 10 epochs of batch 32 = 1,250 SGD steps at
  lr 0.1 (the student defaults), each seed its own rows of a 12,000-row feature matrix;
* ``grid``: a weak-validation selection grid, 10 seeds x 5 methods x 4 learning rates x 5
  weight decays = 1,000 heads with early stopping every 125 steps on 400 validation rows.
  The batched run is timed in full; the sequential one on a random subsample of heads,
  extrapolated (said so in the output).

Features are synthetic with the real shapes (a two-class task with a low-dimensional signal
in anisotropic noise), so the benchmark runs without the feature cache. The last line is
``speedup: N.Nx`` for the compare case. ``--quick`` shrinks everything for a smoke run.

Run: ``nice -n 5 python benchmarks/neural_heads.py [--threads 1] [--grid-sample 12]
[--real minilm]`` (``--real``: the compare case again on the cached MiniLM features of Rotten
Tomatoes, with synthetic weak labels, when the feature cache holds them; nothing is embedded).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
from bayes_w2s.neural.features import FeatureHead, row_standardization
from bayes_w2s.neural.heads import HeadSpec, train_heads
from bayes_w2s.neural.losses import get_loss
from bayes_w2s.neural.methods import MethodSpec, method_strengths
from bayes_w2s.neural.train import train

COMPARE_METHODS = (
    "xent",
    "logconf",
    "product",
    "ve+budget:budget=40",
    "ve+confidence:budget=40",
    "ve+geometric:first=3,ratio=0.995@steps",
    "ve+constant:value=3",
    "tempered+confidence:budget=4000",
)
GRID_METHODS = ("xent", "logconf", "ve+budget:budget=4", "ve+budget:budget=40",
                "ve+budget:budget=400")
GRID_LRS = (0.01, 0.03, 0.1, 0.3)
GRID_WDS = (0.0, 1e-4, 1e-3, 1e-2, 1e-1)


def world(n_all, d, seed=0):
    """Synthetic features ``(n_all, d)`` float32 and labels: signal in 8 of d directions."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n_all)
    x = rng.normal(size=(n_all, d)) * rng.uniform(0.2, 2.0, d) + rng.normal(0, 1, d)
    x[:, :8] += np.outer(2 * y - 1, rng.uniform(0.2, 0.6, 8))
    return x.astype(np.float32), y


def weak_labels(x, y, rng):
    """Soft weak labels ``(n, 2)``: ``sigmoid(1.5 (2 y - 1) + N(0, 1.5^2))``, about 80% right."""
    p1 = 1 / (1 + np.exp(-(1.5 * (2 * y - 1) + rng.normal(0, 1.5, len(y)))))
    return np.stack([1 - p1, p1], 1).astype(np.float32)


def build(methods, seeds, lrs, wds, *, n_all, d, n, steps, n_val, real=None):
    """Specs, rows ``(M, n)``, targets ``(M, n, 2)`` and validation sets for every head
    (``real = (features, labels)``: those instead of the synthetic world)."""
    x, y = real if real is not None else world(n_all, d)
    n_all = len(x)
    specs, rows, tg, v_rows, v_tg = [], [], [], [], []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        perm = rng.permutation(n_all)
        r, rv = perm[:n], perm[n:n + max(n_val, 1)]
        q, qv = weak_labels(x[r], y[r], rng), weak_labels(x[rv], y[rv], rng)
        for text in methods:
            method = MethodSpec.parse(text)
            s = method_strengths(method, q, steps, 32)
            for lr in lrs:
                for wd in wds:
                    specs.append(HeadSpec(method.loss, lr=lr, n_steps=steps, seed=seed,
                                          weight_decay=wd, strengths=s, over=method.over))
                    rows.append(r)
                    tg.append(q)
                    v_rows.append(rv)
                    v_tg.append(qv)
    return x, specs, np.array(rows), np.array(tg), (np.array(v_rows), np.array(v_tg))


class _NotCached(Exception):
    pass


def real_world(spec):
    """Cached features ``(N, D)`` of ``spec`` on Rotten Tomatoes and the true labels, or
    None when the feature cache does not hold them (nothing is embedded here)."""
    from bayes_w2s.neural.cache import ArrayCache
    from bayes_w2s.neural.data import load_dataset
    from bayes_w2s.neural.features import cached_features

    data = load_dataset("rotten_tomatoes")
    cache = ArrayCache()
    fetch = cache.get_or_compute

    def only_cached(kind, parts, fn):
        return fetch(kind, parts, lambda: (_ for _ in ()).throw(_NotCached()))

    cache.get_or_compute = only_cached
    try:
        x = cached_features(spec, data, cache, max_length=64)
    except _NotCached:
        return None
    return np.ascontiguousarray(x, dtype=np.float32), np.asarray(data.labels)


def sequential(x, specs, rows, tg, heads, val=None, eval_every=0):
    """The one-at-a-time loop over ``heads``: ``(models, wall s, cpu s)``. Like the batched
    call it computes no certificate (``train(certify=False)``): the timed work is training."""
    from bayes_w2s.neural.backend import BestCheckpoint

    feats = torch.from_numpy(x)
    out = []
    t0, c0 = time.perf_counter(), time.process_time()
    for m in heads:
        spec = specs[m]
        xs = feats[torch.as_tensor(rows[m])]
        mean, std = row_standardization(feats, rows[m])
        model = FeatureHead(x.shape[1], 2, mean=mean, std=std)
        keeper = None
        if val is not None:
            keeper = BestCheckpoint(model, {"features": feats[torch.as_tensor(val[0][m])]},
                                    val[1][m], eval_every, device="cpu")
        cfg = spec.train_config()
        train(model, {"features": xs}, tg[m], get_loss(spec.loss),
              cfg.__class__(**{**cfg.__dict__, "threads": 1}), seed=spec.seed,
              strengths=spec.strengths, strengths_over=spec.over, device="cpu", progress=False,
              on_step=keeper.on_step if keeper else None,
              on_end=keeper.restore if keeper else None, certify=False)
        out.append(model)
    return out, time.perf_counter() - t0, time.process_time() - c0


def agreement(res, models, heads, x):
    """Each batched head against its one-at-a-time model: max |dW|, |db| and |d mu|, |d sd|
    of the standardization (absolute, over all heads), the max logit difference relative to
    ``1 + |z|``, and the fraction of equal argmax predictions on all rows, each side through
    its *own* forward (the batched ``predict``, the sequential model's ``forward``)."""
    z = res.predict(np.arange(len(x)), heads=heads)  # (h, N, C)
    xs = torch.from_numpy(x)
    dw = db = dstat = dz = 0.0
    same = []
    with torch.no_grad():
        for j, m in enumerate(heads):
            model = models[j]
            dw = max(dw, float((res.weight[m] - model.net.weight.T).abs().max()))
            db = max(db, float((res.bias[m] - model.net.bias).abs().max()))
            dstat = max(dstat, float((res.mean[m] - model.mean).abs().max()),
                        float((res.std[m] - model.std).abs().max()))
            zs = model(features=xs).numpy()
            dz = max(dz, float((np.abs(z[j] - zs) / (1 + np.abs(zs))).max()))
            same.append(np.mean(z[j].argmax(1) == zs.argmax(1)))
    return max(dw, db), dstat, dz, float(np.mean(same))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads for the batched run (default 1, as train_heads on CPU)")
    ap.add_argument("--grid-sample", type=int, default=12,
                    help="heads of the grid timed one at a time (extrapolated)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    ap.add_argument("--skip-grid", action="store_true")
    ap.add_argument("--real", default=None, metavar="SPEC",
                    help="also run the compare case on cached Rotten Tomatoes features of SPEC "
                         "(e.g. minilm) when the feature cache holds them")
    a = ap.parse_args(argv)
    n_all, d, n, epochs, seeds = (1200, 64, 400, 2, range(3)) if a.quick else \
        (12000, 384, 4000, 10, range(10))
    steps = epochs * n // 32
    load = os.getloadavg()[0]
    print(f"cpu cores {os.cpu_count()}, load average {load:.1f} at start"
          f"{' (machine loaded by other jobs)' if load > 0.5 else ''}; torch "
          f"{torch.__version__}, batched threads {a.threads or 1}, "
          f"sequential threads 1")
    rows_out = []

    x, specs, rows, tg, _ = build(COMPARE_METHODS, seeds, (0.1,), (0.0,), n_all=n_all, d=d,
                                  n=n, steps=steps, n_val=0)
    m = len(specs)
    t0, c0 = time.perf_counter(), time.process_time()
    res = train_heads(x, rows, tg, specs, threads=a.threads)
    t_batch, c_batch = time.perf_counter() - t0, time.process_time() - c0
    seq, t_seq, c_seq = sequential(x, specs, rows, tg, range(m))
    speedup = t_seq / t_batch
    rows_out.append(("compare", m, steps, t_batch, t_seq, c_batch, c_seq, "measured",
                     *agreement(res, seq, list(range(m)), x)))

    real = real_world(a.real) if a.real else None
    if a.real and real is None:
        print(f"--real {a.real}: not in the feature cache, skipped")
    if real is not None:
        x, specs, rows, tg, _ = build(COMPARE_METHODS, seeds, (0.1,), (0.0,), n_all=0, d=0,
                                      n=n, steps=steps, n_val=0, real=real)
        m = len(specs)
        t0, c0 = time.perf_counter(), time.process_time()
        res = train_heads(x, rows, tg, specs, threads=a.threads)
        t_b, c_b = time.perf_counter() - t0, time.process_time() - c0
        seq, t_s, c_s = sequential(x, specs, rows, tg, range(m))
        rows_out.append((f"real:{a.real}", m, steps, t_b, t_s, c_b, c_s, "measured",
                         *agreement(res, seq, list(range(m)), x)))

    if not a.skip_grid:
        methods = GRID_METHODS[:2] if a.quick else GRID_METHODS
        x, specs, rows, tg, val = build(methods, seeds, GRID_LRS, GRID_WDS, n_all=n_all, d=d,
                                        n=n, steps=steps, n_val=n // 10)
        m = len(specs)
        every = max(1, steps // 10)
        t0, c0 = time.perf_counter(), time.process_time()
        res = train_heads(x, rows, tg, specs, val=val, eval_every=every, threads=a.threads)
        t_batch_g, c_batch_g = time.perf_counter() - t0, time.process_time() - c0
        sample = np.sort(np.random.default_rng(0).choice(m, min(m, a.grid_sample), replace=False))
        seq, t_sub, c_sub = sequential(x, specs, rows, tg, sample, val=val, eval_every=every)
        k = m / len(sample)
        rows_out.append(("grid", m, steps, t_batch_g, t_sub * k, c_batch_g, c_sub * k,
                         f"extrapolated from {len(sample)} heads",
                         *agreement(res, seq, list(sample), x)))

    print(f"{'case':<12} {'heads':>6} {'steps':>6} {'batched s':>10} {'one-by-one s':>13} "
          f"{'speedup':>8} {'cpu: batched':>13} {'one-by-one':>11} {'speedup':>8}  "
          f"{'max|dW,db|':>10} {'max|dstat|':>10} {'max rel dz':>10} {'pred agree':>10}  "
          f"sequential timing")
    for case, mm, st, tb, ts, cb, cs, how, dwv, dsv, dzv, ag in rows_out:
        print(f"{case:<12} {mm:>6} {st:>6} {tb:>10.2f} {ts:>13.1f} {ts / tb:>7.1f}x {cb:>13.2f} "
              f"{cs:>11.1f} {cs / cb:>7.1f}x  {dwv:>10.1e} {dsv:>10.1e} {dzv:>10.1e} {ag:>10.5f}"
              f"  {how}")
    print(f"(wall seconds, then process CPU seconds; batched on {a.threads or 1} torch "
          f"thread(s), one-by-one on 1; neither computes a certificate)")
    ok = all(r[8] <= 1e-5 and r[9] <= 1e-6 and r[10] <= 1e-5 and r[11] >= 0.999
             for r in rows_out)
    print(f"agreement check: {'PASS' if ok else 'FAIL'} (every head: max |dW|, |db| <= 1e-5, "
          f"standardization |d mu|, |d sd| <= 1e-6, logits |dz| <= 1e-5 (1 + |z|), argmax "
          f"agreement >= 0.999, each side through its own forward)")
    print(f"load average {os.getloadavg()[0]:.1f} at end")
    print(f"speedup: {speedup:.1f}x")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""The same seed gives the same numbers in a new process (issue 18).

torch seeds its global generator afresh in every process (``torch.initial_seed()`` differs
between two fresh interpreters), so any draw from it that is not explicitly seeded gives new
numbers per process: that is how the certificate test's seeded SGD run once gave a different
``param_distance`` in each of three processes (its initial weights came from
``nn.init.normal_`` on the global generator). Here one seeded pipeline row (tiny offline
models, its own empty cache, so every stage really runs), one ``train.train`` run and one
``train_heads`` call run in two fresh processes with one torch thread and different hash
seeds (set iteration order), and must agree bitwise.
"""

import json
import os
import subprocess
import sys
import textwrap

from .conftest import STRONG, WEAK

CHILD = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import torch
    torch.set_num_threads(1)
    from bayes_w2s.neural.cache import ArrayCache
    from bayes_w2s.neural.features import FeatureHead
    from bayes_w2s.neural.heads import HeadSpec, train_heads
    from bayes_w2s.neural.losses import ve_loss
    from bayes_w2s.neural.pipeline import W2SConfig, run_seed
    from bayes_w2s.neural.train import TrainConfig, train

    cache_dir, weak, strong = sys.argv[1:4]
    cfg = W2SConfig(weak=weak, strong=strong, dataset="synthetic:n=300", mode="features",
                    n_weak_train=100, n_weak_label=100, n_test=100, max_length=16,
                    method="ve+budget:budget=4", eval_every=3, val_frac=0.2)
    row = run_seed(cfg, 1, cache=ArrayCache(cache_dir))
    row = {k: v for k, v in row.items() if k not in ("seconds", "examples_per_s", "wall_s")}

    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    q = rng.dirichlet(np.ones(3), size=120).astype(np.float32)
    s = np.full(8 * 120, 0.01)
    head = FeatureHead(6, 3, mean=x[:120].mean(0), std=x[:120].std(0), seed=2)
    log = train(head, {"features": torch.from_numpy(x[:120])}, q, ve_loss,
                TrainConfig(batch_size=16, steps=60, lr=0.5, optimizer="sgd"), seed=2,
                strengths=s, heldout={"features": torch.from_numpy(x[120:])})
    one = {"weight": head.net.weight.detach().numpy().ravel().tolist(),
           **{k: log.extra[k] for k in ("param_distance", "kl_from_init", "lr_strength_sum")}}

    specs = [HeadSpec("ve", 0.5, 60, seed, strengths=s, max_distance=0.2, batch_size=16)
             for seed in (0, 1)] + [HeadSpec("logconf", 0.05, 40, 3, optimizer="adam", batch_size=16)]
    res = train_heads(x, np.tile(np.arange(120), (3, 1)), np.tile(q, (3, 1, 1)), specs,
                      val=(np.tile(np.arange(120, 160), (3, 1)), np.tile(q[:40], (3, 1, 1))),
                      eval_every=7, heldout=np.tile(np.arange(160, 200), (3, 1)))
    heads = {"weight": res.weight.numpy().ravel().tolist(),
             "param_distance": res.param_distance.tolist(),
             "kl_from_init": res.kl_from_init.tolist(), "best_step": res.best_step.tolist()}
    print(json.dumps({"row": row, "train": one, "heads": heads}, default=str))
    """
)


def _spawn(tmp_path, name, hash_seed):
    env = {**os.environ, "PYTHONHASHSEED": str(hash_seed), "OMP_NUM_THREADS": "1",
           "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / name), WEAK, STRONG],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_seeded_runs_are_bitwise_identical_in_two_fresh_processes(tmp_path):
    procs = [_spawn(tmp_path, "a", 1), _spawn(tmp_path, "b", 2)]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err[-3000:]
        outs.append(out.strip().splitlines()[-1])
    a, b = (json.loads(o) for o in outs)
    assert a["row"]["method"].startswith("ve+budget") and a["row"]["certificate"] == ""
    assert a["row"]["param_distance"] > 0 and len(a["heads"]["weight"]) == 3 * 6 * 3
    for part in ("row", "train", "heads"):  # json floats are repr-exact: bitwise equality
        assert json.dumps(a[part], sort_keys=True) == json.dumps(b[part], sort_keys=True), part

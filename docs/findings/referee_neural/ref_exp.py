"""Referee experiment: train every grid value as a fixed recipe once per seed; keep per-value
test acc, weak-val argmax agreement, weak-val soft CE, and gt-val per-example correctness, so
selection rules / comparators can be recomputed offline."""
import sys, json, time, pickle, math
import numpy as np
from dataclasses import replace
from bayes_w2s.neural import W2SConfig, student_data
from bayes_w2s.neural.backend import Backend
from bayes_w2s.neural.cache import ArrayCache
from bayes_w2s.neural.stages import _dataset
from bayes_w2s.neural.recipes import parse_recipe
from bayes_w2s.neural.student_batch import fit_recipes

pair, seeds, tag = sys.argv[1], sys.argv[2], sys.argv[3]
extra = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
weak, strong = pair.split(":")
RT = dict(dataset="rotten_tomatoes:n=4500", n_weak_train=1500, n_weak_label=1500, n_test=1500)
cfg = W2SConfig(weak=weak, strong=strong, n_gt_val=300, **RT)
cfg = replace(cfg, **{k: v for k, v in extra.items() if k != "recipes"})
s0, s1 = map(int, seeds.split("-"))
adam = cfg.student_optimizer == "adam"
if adam:
    lrs = [1e-5, 1e-4, 1e-3, 1e-2]
else:
    lrs = [1e-4, 1e-3, 1e-2]
labels = (["xent", "centroid"]
          + [f"ve+budget({b:g})" for b in (1, 4, 10, 40, 100, 400, 1000, 4000, 10000, 40000, 100000)]
          + [f"xent+wd({w:g})" for w in (10, 1, 0.1, 0.01, 0.001)]
          + [f"xent@lr={l:g}" for l in lrs]
          + ([] if adam else [f"xent+cap({c:g})" for c in (0.01, 0.03, 0.1, 0.3, 1, 3)])
          + ([] if adam else [f"xent@steps={s}" for s in (10, 30, 100, 300)] + ["xent+stop(weak-val)"]))
labels = extra.get("recipes", labels)
recipes = [parse_recipe(l) for l in labels]
cache = ArrayCache()
backend = Backend(cfg, _dataset(cfg.dataset), cache, False)
out = {"cfg": repr(cfg), "labels": [r.label() for r in recipes], "seeds": {}}
for seed in range(s0, s1 + 1):
    t = time.time()
    sd = student_data(cfg, seed, cache=cache, backend=backend)
    fits = fit_recipes(recipes, cfg, backend, seed, sd)
    qv = sd.q_val; wv = qv.argmax(1)
    rec = {"acc_weak": sd.acc_weak, "acc_ceiling": sd.acc_ceiling, "n_val": len(sd.val_idx),
           "n_gt": len(sd.gt_val_idx), "rows": {}}
    for r, f in zip(recipes, fits):
        lt, lv, lg = f.logits["test"], f.logits["val"], f.logits.get("gt_val")
        lsm = lv - np.logaddexp.reduce(lv, axis=1, keepdims=True)
        rec["rows"][r.label()] = dict(
            acc=float((lt.argmax(1) == sd.y_test).mean()),
            val_agree=float((lv.argmax(1) == wv).mean()),
            val_ce=float(-(qv * lsm).sum(1).mean()),
            gt_correct=(lg.argmax(1) == sd.y_gt_val).astype(np.int8) if lg is not None else None,
            best_step=(f.log.extra.get("checkpoint") or {}).get("best_step") if f.log is not None else None,
        )
    out["seeds"][seed] = rec
    print(tag, seed, f"{time.time()-t:.0f}s", "weak", round(sd.acc_weak, 3), "ceil", round(sd.acc_ceiling, 3), flush=True)
    pickle.dump(out, open(f"/tmp/ref_runs/{tag}.pkl", "wb"))
print("done", tag)

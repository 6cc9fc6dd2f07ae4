"""VE / hard-Bayes precision of `condition` at H = 1000, N = 1e6 (issue 16): python benchmarks/condition_precision.py"""
import sys, time
import numpy as np
from scipy.special import logsumexp
from bayes_w2s.core.updates import condition

H, Z, K, N = 1000, 40, 2, 1_000_000
rng = np.random.default_rng(0)
# near-identical hypotheses (differences ~1e-3 per label) so that after N = 1e6 labels the
# posterior is spread over many of them: the regime where summation error shows
base = rng.uniform(0.2, 0.8, size=Z)
p1 = np.clip(base[None, :] + 1e-3 * rng.standard_normal((H, Z)), 0.01, 0.99)
p = np.stack([1 - p1, p1], axis=-1)                 # (H, Z, K)
log_probs = np.log(p)
z = rng.integers(0, Z, N); y = rng.integers(0, K, N)
log_prior = np.full(H, -np.log(H))

def reference(rule, s):
    """Exact-ish log posterior: per-(category, strength) sums in long double."""
    cat = z * K + y
    lp = log_probs.reshape(H, -1).T.astype(np.longdouble)  # (C, H)
    if rule == "bayes":
        counts = np.bincount(cat, minlength=Z * K).astype(np.longdouble)
        total = counts @ lp
    else:
        pairs, counts = np.unique(np.stack([cat.astype(float), s], 1), axis=0, return_counts=True)
        total = np.zeros(H, np.longdouble)
        for lo in range(0, len(pairs), 256):
            c = pairs[lo:lo+256, 0].astype(int); sb = pairs[lo:lo+256, 1].astype(np.longdouble)
            r = np.exp(sb)[:, None]
            terms = np.log1p((r - 1) * np.exp(lp[c]))  # (b, H)
            total += (counts[lo:lo+256].astype(np.longdouble)[:, None] * terms).sum(0)
    un = np.longdouble(log_prior) + total
    m = un.max()
    return un - (m + np.log(np.exp(un - m).sum()))

cases = {
    "bayes": ("bayes", None),
    "ve constant s=2": ("ve", np.full(N, 2.0)),
    "ve varying (1000 distinct s in [0.1, 5])": ("ve", rng.choice(np.linspace(0.1, 5, 1000), N)),
}
for name, (rule, s) in cases.items():
    t0 = time.perf_counter()
    res = condition(log_prior, log_probs, z, y, rule=rule, strengths=None if rule == "bayes" else s)
    dt = time.perf_counter() - t0
    post = res.log_posterior
    norm_err = abs(np.exp(post).sum() - 1)
    ref = reference(rule, s)
    mass = np.exp(ref.astype(float))
    top = mass > 1e-12
    err = float(np.max(np.abs((post - ref)[top]))) if top.any() else float("nan")
    print(f"{name:45s} effective hyps {1/np.sum(mass**2):.1f}", end=" ")
    print(f" |sum post - 1| = {norm_err:.2e}   max |log post - ref| (mass > 1e-12) = {err:.2e}   "
          f"max |log w| = {np.max(np.abs(post[np.isfinite(post)])):.3g}  {dt:.2f} s", flush=True)

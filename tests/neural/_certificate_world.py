"""A small random linear-head certificate problem shared by the certificate edge tests."""

import numpy as np


def small_world(seed, n=40, d=4, c=2, steps=12, b=5, loss="ve"):
    """``(x, q, order, lrs, strengths, heldout, init)``: features, soft targets, a minibatch
    order of epochs without replacement, linearly decaying step sizes, strengths for VE and
    tempered, held-out inputs and a random initial head ``(C, D+1)``."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, d)
    q = rng.dirichlet(np.ones(c), size=n)
    perms = np.concatenate([rng.permutation(n) for _ in range(steps * b // n + 1)])
    order = perms[: steps * b].reshape(steps, b)
    lrs = np.linspace(0.3, 0.05, steps)
    s = rng.uniform(0.01, 0.5, (steps, b)) if loss in ("ve", "tempered") else None
    held = rng.normal(size=(30, d))
    init = rng.normal(0, 0.3, (c, d + 1))
    return x, q, order, lrs, s, held, init

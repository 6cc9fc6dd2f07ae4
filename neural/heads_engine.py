"""The batched loop behind :func:`~.heads.train_heads` (see :mod:`.heads` for the maths).

Layout: heads are grouped into *streams* (same training rows, seed and validation rows: the
same minibatch of feature rows at every step) and padded to ``K`` slots per stream. Weights
are ``(S, D, K, C)`` so one ``bmm`` of ``(S, B, D) @ (S, D, K C)`` gives every head's logits;
per-head scalars broadcast as ``(S, 1, K, 1)``. Heads with different optimizers or batch
sizes run as separate groups, one after another.
"""

from __future__ import annotations

import numpy as np
import torch

from .head_losses import BATCHED_LOSSES
from .heads import BETA1, BETA2, EPS, head_schedule
from .train import minibatch_order

__all__ = ["run_heads"]


def _as_index(a, name, shape0=None):
    a = np.asarray(a)
    if a.ndim != 2 or not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must be a 2-d integer array (M, n), got {a.dtype} {a.shape}")
    if shape0 is not None and a.shape[0] != shape0:
        raise ValueError(f"{name} must have M={shape0} rows, got {a.shape[0]}")
    return a.astype(np.int64)


def _validate(features, train_idx, targets, specs, val, eval_every, heldout, init):
    if not isinstance(features, torch.Tensor):
        features = torch.as_tensor(np.asarray(features))
    if features.ndim != 2 or not features.is_floating_point():
        raise ValueError(f"features must be a float (N_all, D) array, got {tuple(features.shape)}")
    m = len(specs)
    if m == 0:
        raise ValueError("specs is empty: nothing to train")
    train_idx = _as_index(train_idx, "train_idx", m)
    n_all = features.shape[0]
    targets = np.asarray(targets, dtype=np.float32)
    n = train_idx.shape[1]
    if targets.ndim != 3 or targets.shape[:2] != (m, n):
        raise ValueError(f"targets must be (M={m}, n={n}, C), got {targets.shape}")
    if targets.shape[2] < 2 or not np.all(np.isfinite(targets)) or np.any(targets < 0):
        raise ValueError("targets must be finite, non-negative, with C >= 2 classes")
    checks = [("train_idx", train_idx)]
    if val is not None:
        if eval_every < 1:
            raise ValueError("val given: eval_every must be >= 1")
        v_idx, v_t = _as_index(val[0], "val idx", m), np.asarray(val[1], dtype=np.float32)
        if v_t.shape != (*v_idx.shape, targets.shape[2]):
            raise ValueError(f"val targets must be {(*v_idx.shape, targets.shape[2])}, got {v_t.shape}")
        val = (v_idx, v_t)
        checks.append(("val idx", v_idx))
    elif eval_every:
        raise ValueError("eval_every > 0 needs val=(idx, targets)")
    if heldout is not None:
        heldout = _as_index(heldout, "heldout", m)
        checks.append(("heldout", heldout))
    for name, a in checks:
        if a.size and (a.min() < 0 or a.max() >= n_all):
            raise ValueError(f"{name} holds rows outside 0..{n_all - 1}")
    if init is not None:
        w0, b0 = (torch.as_tensor(np.asarray(t), dtype=torch.float32) for t in init)
        d, c = features.shape[1], targets.shape[2]
        if w0.shape != (m, d, c) or b0.shape != (m, c):
            raise ValueError(f"init must be ((M, D, C)={(m, d, c)}, (M, C)), got "
                             f"{tuple(w0.shape)}, {tuple(b0.shape)}")
        init = (w0, b0)
    return features, train_idx, targets, val, heldout, init


def run_heads(features, train_idx, targets, specs, *, val, eval_every, heldout, device, init,
              standardize, record_losses) -> dict:
    features, train_idx, targets, val, heldout, init = _validate(
        features, train_idx, targets, specs, val, eval_every, heldout, init)
    feats = features.to(device=device, dtype=torch.float32)  # (N_all, D)
    m, n = train_idx.shape
    d, c = feats.shape[1], targets.shape[2]
    plans = [head_schedule(s, n) for s in specs]  # validates strengths; a-priori bookkeeping
    # per-head standardization from its own training rows (float64 statistics, as Backend)
    mean = torch.zeros(m, d, device=device)
    std = torch.ones(m, d, device=device)
    if standardize:
        _, first, inverse = np.unique(train_idx, axis=0, return_index=True, return_inverse=True)
        for u, h in enumerate(first):
            x = feats[torch.as_tensor(train_idx[h], device=device)].double()  # (n, D)
            mask = torch.as_tensor(inverse.ravel() == u, device=device)
            mean[mask] = x.mean(0).float()
            std[mask] = x.std(0).clamp_min(1e-6).float()
    w0 = init[0].to(device) if init is not None else torch.zeros(m, d, c, device=device)
    b0 = init[1].to(device) if init is not None else torch.zeros(m, c, device=device)
    weight, bias = w0.clone(), b0.clone()
    t_max = max(s.n_steps for s in specs)
    out = {
        "losses": np.full((m, t_max), np.nan),
        "best_step": np.full(m, -1), "val_acc_best": np.full(m, np.nan),
        "val_acc_final": np.full(m, np.nan), "n_evals": np.zeros(m, dtype=np.int64),
    }
    groups: dict = {}
    for h, s in enumerate(specs):
        groups.setdefault((s.optimizer, s.batch_size), []).append(h)
    for (opt, bsz), heads in groups.items():
        _run_group(np.array(heads), opt, bsz, feats, train_idx, targets, specs, plans, val,
                   eval_every, mean, std, weight, bias, out, record_losses)
    n_steps = np.array([s.n_steps for s in specs])
    movement = np.where(out["best_step"] >= 0, out["best_step"], n_steps) if val is not None \
        else n_steps
    dist = ((weight.double() - w0.double()).pow(2).sum((1, 2))
            + (bias.double() - b0.double()).pow(2).sum(1)).sqrt().cpu().numpy()
    kl = np.full(m, np.nan)
    if heldout is not None:
        from .heads import _predict

        z0 = _predict(feats, mean, std, w0, b0, heldout, None, 1 << 24)
        z1 = _predict(feats, mean, std, weight, bias, heldout, None, 1 << 24)
        kl = _prediction_kl(z1, z0)
    return {
        "specs": tuple(specs), "weight": weight.cpu(), "bias": bias.cpu(),
        "mean": mean, "std": std, "features": feats, "train_idx": train_idx,
        "n_steps": n_steps, "movement_step": movement,
        "influence": np.array([p["influence"] for p in plans]),
        "influence_per_epoch": tuple(p["influence_per_epoch"] for p in plans),
        "lr_strength_sum": np.array([p["lr_strength_cum"][t] for p, t in zip(plans, movement)]),
        "param_distance": dist, "kl_from_init": kl, "losses": out["losses"],
        "best_step": out["best_step"], "val_acc_best": out["val_acc_best"],
        "val_acc_final": out["val_acc_final"], "n_evals": out["n_evals"],
        "init_weight": w0.cpu(), "init_bias": b0.cpu(), "heldout": heldout,
    }


def _prediction_kl(z: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """Per head ``mean_i KL(softmax(z_i) || softmax(z0_i))`` in float64 ``(M,)``."""
    def log_softmax(a):
        a = np.asarray(a, float)
        a = a - a.max(-1, keepdims=True)
        return a - np.log(np.exp(a).sum(-1, keepdims=True))

    lp, lp0 = log_softmax(z), log_softmax(z0)
    return (np.exp(lp) * (lp - lp0)).sum(-1).mean(-1)


def _run_group(heads, opt, bsz, feats, train_idx, targets, specs, plans, val, eval_every,
               mean, std, weight, bias, out, record_losses):
    """Train the heads ``heads`` (one optimizer, one batch size) in place in weight/bias."""
    dev = feats.device
    n = train_idx.shape[1]
    d, c = feats.shape[1], targets.shape[2]
    # streams: same rows, seed (so the same minibatches) and validation rows
    keys: dict = {}
    stream_of = np.empty(len(heads), dtype=np.int64)
    for j, h in enumerate(heads):
        key = (train_idx[h].tobytes(), specs[h].seed,
               val[0][h].tobytes() if val is not None else b"")
        stream_of[j] = keys.setdefault(key, len(keys))
    n_streams = len(keys)
    k_max = int(np.bincount(stream_of).max())
    slot = np.full((n_streams, k_max), -1, dtype=np.int64)  # slot -> head (-1: padding)
    fill = np.zeros(n_streams, dtype=np.int64)
    for j, h in enumerate(heads):
        s = stream_of[j]
        slot[s, fill[s]] = h
        fill[s] += 1
    flat = slot.ravel()  # (H,) with H = S * K
    real = flat >= 0
    hh = np.where(real, flat, heads[0])  # padded slots borrow a head's data
    n_slots = len(flat)
    rep = slot[:, 0]  # one head per stream
    t_max = max(specs[h].n_steps for h in heads)
    # minibatches per stream over the longest run: a prefix is every shorter run's order
    longest = [minibatch_order(n, t_max, bsz, specs[h].seed) for h in rep]
    idx_s = torch.stack([o[0] for o in longest])  # (S, T, B)
    ep_s = torch.stack([o[1] for o in longest])
    rows_s = torch.as_tensor(np.stack([train_idx[h] for h in rep]))
    rows_s = torch.gather(rows_s, 1, idx_s.view(n_streams, -1)).view_as(idx_s).to(dev)
    idx_s, ep_s = idx_s.to(dev), ep_s.to(dev)  # (S, T, B)
    slot_stream = torch.as_tensor(np.repeat(np.arange(n_streams), k_max), device=dev)
    mean_s, std_s = mean[torch.as_tensor(rep, device=dev)], std[torch.as_tensor(rep, device=dev)]
    tg = torch.as_tensor(targets[hh], device=dev)  # (H, n, C)
    tg[torch.as_tensor(~real, device=dev)] = 0
    h_ar = torch.arange(n_slots, device=dev)[:, None]
    # per-step step sizes (T, H): the scalar each update multiplies by (0 once a head is done)
    alpha = np.zeros((t_max, n_slots))
    frac = np.zeros((t_max, n_slots))
    for j, h in enumerate(flat):
        if h < 0:
            continue
        t_h = specs[h].n_steps
        lrs = plans[h]["lrs"]
        if opt == "adam":
            bc1 = 1 - BETA1 ** np.arange(1, t_h + 1, dtype=float)
            alpha[:t_h, j] = -(lrs / bc1)
        else:
            alpha[:t_h, j] = -lrs
        frac[:, j] = np.arange(t_max) / t_h
    alpha_t = torch.as_tensor(alpha, dtype=torch.float32, device=dev)
    wd = torch.as_tensor([specs[h].weight_decay if h >= 0 else 0.0 for h in flat],
                         dtype=torch.float32, device=dev).view(n_streams, 1, k_max, 1)
    any_wd = bool((wd != 0).any())
    cap = np.array([specs[h].max_distance or np.inf if h >= 0 else np.inf for h in flat])
    capped = torch.as_tensor(np.isfinite(cap), device=dev).view(n_streams, k_max)
    cap_t = torch.as_tensor(np.where(np.isfinite(cap), cap, 1.0), dtype=torch.float32,
                            device=dev).view(n_streams, k_max)
    any_cap = bool(capped.any())
    # strengths: one float32 table row per distinct array, indexed per head by its `over`
    tables, tab_of, lens = {}, np.zeros(n_slots, dtype=np.int64), np.ones(n_slots, np.int64)
    mode = np.zeros(n_slots, dtype=np.int64)  # 0 visits, 1 per pass, 2 steps
    for j, h in enumerate(flat):
        st = specs[h].strengths if h >= 0 else None
        if st is None:
            continue
        key = st.tobytes()
        tab_of[j] = tables.setdefault(key, (len(tables) + 1, st))[0]
        lens[j] = len(st)
        mode[j] = ("visits", "per_pass", "steps").index(specs[h].over)
    has_s = bool(tables)
    if has_s:
        l_max = max(len(st) for _, st in tables.values())
        table = torch.zeros(len(tables) + 1, l_max, dtype=torch.float32, device=dev)
        for row, st in tables.values():
            table[row, :len(st)] = torch.tensor(st, dtype=torch.float32)
        tab_t = torch.as_tensor(tab_of, device=dev)[:, None]
        last_t = torch.as_tensor(lens - 1, device=dev)[:, None]
        mode_t = torch.as_tensor(mode, device=dev)[:, None]
    loss_groups = {}
    for j, h in enumerate(flat):
        if h >= 0:
            loss_groups.setdefault(specs[h].loss, []).append(j)
    loss_groups = {k: torch.as_tensor(v, device=dev) for k, v in loss_groups.items()}
    loss_np = {k: v.cpu().numpy() for k, v in loss_groups.items()}
    # parameters of this group in stream layout
    slot_head = torch.as_tensor(hh, device=dev)
    w = weight[slot_head].view(n_streams, k_max, d, c).permute(0, 2, 1, 3).contiguous()
    b = bias[slot_head].view(n_streams, k_max, c).clone()  # (S, K, C)
    w0, b0 = w.clone(), b.clone()
    if opt == "adam":
        mw, vw, mb, vb = (torch.zeros_like(w), torch.zeros_like(w), torch.zeros_like(b),
                          torch.zeros_like(b))
    # validation (early stopping): standardized once per stream
    if val is not None:
        xv = (feats[torch.as_tensor(np.stack([val[0][h] for h in rep]), device=dev)]
              - mean_s[:, None]) / std_s[:, None]  # (S, n_val, D)
        lab_v = torch.as_tensor(val[1][hh].argmax(-1), device=dev)  # (H, n_val)
        best_w, best_b = w.clone(), b.clone()
        best_acc = torch.full((n_slots,), -1.0, dtype=torch.float64, device=dev)
        best_step = torch.zeros(n_slots, dtype=torch.long, device=dev)
        last_acc = torch.full((n_slots,), float("nan"), dtype=torch.float64, device=dev)
        n_evals = torch.zeros(n_slots, dtype=torch.long, device=dev)
        steps_h = torch.as_tensor([specs[h].n_steps if h >= 0 else 0 for h in flat], device=dev)
    losses = torch.zeros(t_max, n_slots, device=dev) if record_losses else None
    kc = k_max * c
    for t in range(t_max):
        x = (feats[rows_s[:, t]] - mean_s[:, None]) / std_s[:, None]  # (S, B, D)
        z = torch.baddbmm(b.view(n_streams, 1, kc), x, w.view(n_streams, d, kc))  # (S, B, KC)
        zh = z.view(n_streams, bsz, k_max, c).transpose(1, 2).reshape(n_slots, bsz, c)
        zh.requires_grad_(True)
        ex = idx_s[:, t][slot_stream]  # (H, B) example indices
        tgt = tg[h_ar, ex]  # (H, B, C)
        s = None
        if has_s:
            pos = torch.where(mode_t == 0, ep_s[:, t][slot_stream] * n + ex,
                              torch.where(mode_t == 1, ex, torch.full_like(ex, t)))
            s = table[tab_t, torch.minimum(pos, last_t)]  # (H, B)
        total = 0.0
        for name, js in loss_groups.items():
            lv = BATCHED_LOSSES[name](zh[js], tgt[js], frac[t, loss_np[name]],
                                      s[js] if s is not None else None)  # (H_g,)
            total = total + lv.sum()
            if losses is not None:
                losses[t, js] = lv.detach()
        (g,) = torch.autograd.grad(total, zh)  # (H, B, C)
        g = g.view(n_streams, k_max, bsz, c).transpose(1, 2).reshape(n_streams, bsz, kc)
        gw = torch.bmm(x.transpose(1, 2), g).view(n_streams, d, k_max, c)  # (S, D, K, C)
        gb = g.sum(1).view(n_streams, k_max, c)  # (S, K, C)
        if any_wd:
            gw = gw + wd * w
            gb = gb + wd[:, 0] * b
        a = alpha_t[t].view(n_streams, 1, k_max, 1)
        if opt == "adam":
            step = t + 1
            bc2_sqrt = (1 - BETA2 ** step) ** 0.5
            for p, gp, mp, vp, ap in ((w, gw, mw, vw, a), (b, gb, mb, vb, a[:, 0])):
                mp.lerp_(gp, 1 - BETA1)
                vp.mul_(BETA2).addcmul_(gp, gp, value=1 - BETA2)
                denom = (vp.sqrt() / bc2_sqrt).add_(EPS)
                p.add_((mp * ap) / denom)
        else:
            w.add_(gw * a)
            b.add_(gb * a[:, 0])
        if any_cap:
            _project(w, b, w0, b0, capped & (alpha_t[t] != 0).view(n_streams, k_max), cap_t)
        if val is not None:
            done = t + 1
            due = (steps_h >= done) & ((done % eval_every == 0) | (steps_h == done))
            if bool(due.any()):
                zv = torch.baddbmm(b.view(n_streams, 1, kc), xv, w.view(n_streams, d, kc))
                pred = zv.view(n_streams, -1, k_max, c).argmax(-1).transpose(1, 2)  # (S, K, n_v)
                acc = (pred.reshape(n_slots, -1) == lab_v).sum(-1).double() / lab_v.shape[1]
                better = due & (acc > best_acc)
                best_acc = torch.where(better, acc, best_acc)
                best_step = torch.where(better, done, best_step)
                last_acc = torch.where(due, acc, last_acc)
                n_evals += due.long()
                bm = better.view(n_streams, k_max)
                best_w = torch.where(bm[:, None, :, None], w, best_w)
                best_b = torch.where(bm[:, :, None], b, best_b)
    if val is not None:
        w, b = best_w, best_b
    sel = torch.as_tensor(flat[real], device=dev)
    keep = torch.as_tensor(np.flatnonzero(real), device=dev)
    weight[sel] = w.permute(0, 2, 1, 3).reshape(n_slots, d, c)[keep]
    bias[sel] = b.reshape(n_slots, c)[keep]
    heads_real = flat[real]
    if losses is not None:
        lh = losses.T[keep].cpu().double().numpy()
        for r, h in enumerate(heads_real):
            out["losses"][h, :specs[h].n_steps] = lh[r, :specs[h].n_steps]
    if val is not None:
        for name, arr in (("best_step", best_step), ("val_acc_best", best_acc),
                          ("val_acc_final", last_acc), ("n_evals", n_evals)):
            out[name][heads_real] = arr[keep].cpu().numpy()


def _project(w, b, w0, b0, capped, cap):
    """``theta <- theta_0 + (theta - theta_0) min(1, R / ||theta - theta_0||)`` where capped."""
    dw, db = w - w0, b - b0
    dist = (dw.pow(2).sum((1, 3)) + db.pow(2).sum(-1)).sqrt()  # (S, K)
    over = capped & (dist > cap)
    if bool(over.any()):
        scale = cap / dist
        w.copy_(torch.where(over[:, None, :, None], w0 + dw * scale[:, None, :, None], w))
        b.copy_(torch.where(over[:, :, None], b0 + db * scale[:, :, None], b))

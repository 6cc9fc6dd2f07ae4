"""The batched loop behind :func:`~.heads.train_heads` (see :mod:`.heads` for the maths).

Layout: heads are grouped into *streams* (same training rows, seed and validation rows: the
same minibatch of feature rows at every step) and padded to ``K`` slots per stream. Weights
are ``(S, D, K, C)`` so one ``bmm`` of ``(S, B, D) @ (S, D, K C)`` gives every head's logits;
per-head scalars broadcast as ``(S, 1, K, 1)``. Heads with different optimizers or batch
sizes run as separate groups, one after another.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .features import row_standardization
from .head_losses import LOSS_GO, LOSS_VALUES, log_rm1, logconf_c
from .heads import BETA1, BETA2, EPS, head_schedule
from .train import OVER, minibatch_order

BATCHED_ORDER = tuple(LOSS_GO)

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


@torch.no_grad()
def run_heads(features, train_idx, targets, specs, *, val, eval_every, heldout, device, init,
              standardize, record_losses) -> dict:
    features, train_idx, targets, val, heldout, init = _validate(
        features, train_idx, targets, specs, val, eval_every, heldout, init)
    feats = features.to(device=device, dtype=torch.float32)  # (N_all, D)
    m, n = train_idx.shape
    d, c = feats.shape[1], targets.shape[2]
    plans, orders = [], {}
    for s in specs:  # validates strengths; a-priori bookkeeping (orders shared by seed)
        key = (s.n_steps, s.batch_size, s.seed)
        if key not in orders:
            orders[key] = minibatch_order(n, *key)
        plan = head_schedule(s, n, order=orders[key])
        plans.append({k: plan[k] for k in ("lrs", "influence", "influence_per_epoch",
                                           "lr_strength_cum")})
    # per-head standardization from its own training rows (float64 statistics, as Backend)
    mean = torch.zeros(m, d, device=device)
    std = torch.ones(m, d, device=device)
    stat_group = np.zeros(m, dtype=np.int64)  # heads with the same standardization
    if standardize:
        _, first, inverse = np.unique(train_idx, axis=0, return_index=True, return_inverse=True)
        for u, h in enumerate(first):
            mask = torch.as_tensor(inverse.ravel() == u, device=device)
            mean[mask], std[mask] = row_standardization(feats, train_idx[h])
        stat_group = inverse.ravel().astype(np.int64)
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

        z0 = _predict(feats, mean, std, w0, b0, heldout, None, stat_group)
        z1 = _predict(feats, mean, std, weight, bias, heldout, None, stat_group)
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
        "stat_group": stat_group,
    }


def _prediction_kl(z: np.ndarray, z0: np.ndarray) -> np.ndarray:
    """Per head ``mean_i KL(softmax(z_i) || softmax(z0_i))`` in float64 ``(M,)``."""
    def log_softmax(a):
        a = np.asarray(a, float)
        a = a - a.max(-1, keepdims=True)
        return a - np.log(np.exp(a).sum(-1, keepdims=True))

    lp, lp0 = log_softmax(z), log_softmax(z0)
    return (np.exp(lp) * (lp - lp0)).sum(-1).mean(-1)


def _layout(heads, specs, train_idx, val):
    """Streams and slots: ``slot (S, K)`` head ids (-1: padding) with each loss in one block
    of columns ``blocks[name] = (start, stop)`` shared by all streams."""
    keys: dict = {}
    stream_of = {}
    for h in heads:  # same rows, seed (hence minibatches) and validation rows
        key = (train_idx[h].tobytes(), specs[h].seed,
               val[0][h].tobytes() if val is not None else b"")
        stream_of[h] = keys.setdefault(key, len(keys))
    n_streams = len(keys)
    members = [[h for h in heads if stream_of[h] == s] for s in range(n_streams)]
    blocks, start = {}, 0
    for name in BATCHED_ORDER:
        width = max(sum(specs[h].loss == name for h in mem) for mem in members)
        if width:
            blocks[name] = (start, start + width)
            start += width
    slot = np.full((n_streams, start), -1, dtype=np.int64)
    for s, mem in enumerate(members):
        for name, (a, _) in blocks.items():
            ours = [h for h in mem if specs[h].loss == name]
            slot[s, a : a + len(ours)] = ours
    return slot, blocks


def _run_group(heads, opt, bsz, feats, train_idx, targets, specs, plans, val, eval_every,
               mean, std, weight, bias, out, record_losses):
    """Train the heads ``heads`` (one optimizer, one batch size) in place in weight/bias."""
    dev = feats.device
    n = train_idx.shape[1]
    d, c = feats.shape[1], targets.shape[2]
    slot, blocks = _layout(heads, specs, train_idx, val)
    n_streams, k_max = slot.shape
    real = slot >= 0
    rep = np.array([row[row >= 0][0] for row in slot])  # one head per stream
    hh = np.where(real, slot, rep[:, None])  # padding borrows a head of its stream's data
    t_max = max(specs[h].n_steps for h in heads)
    # minibatches per stream over the longest run: every shorter run's order is a prefix
    orders = [minibatch_order(n, t_max, bsz, specs[h].seed) for h in rep]
    idx_s = torch.stack([o[0] for o in orders]).to(dev)  # (S, T, B) example indices
    ep_s = torch.stack([o[1] for o in orders]).to(dev)  # (S, T, B) epochs
    s_ar = torch.arange(n_streams, device=dev)[:, None]
    rep_t = torch.as_tensor(rep, device=dev)
    mean_s, std_s = mean[rep_t][:, None], std[rep_t][:, None]  # (S, 1, D)
    rows = torch.as_tensor(train_idx[rep], device=dev)  # (S, n) feature rows
    offset = s_ar * n  # flat row of (stream, example) is s n + i
    if n_streams * n * d <= (1 << 27):  # standardize each stream's rows once (same values)
        xs_all = ((feats[rows] - mean_s) / std_s).view(n_streams * n, d)  # (S n, D)

        def batch_x(flat):
            return xs_all.index_select(0, flat).view(n_streams, bsz, d)
    else:
        rows_flat = rows.reshape(-1)

        def batch_x(flat):
            return (feats.index_select(0, rows_flat[flat]).view(n_streams, bsz, d)
                    - mean_s) / std_s
    # targets per stream and slot (S, n, K, C); padding: uniform
    tgs = torch.as_tensor(np.ascontiguousarray(
        np.where(real[:, None, :, None], targets[hh].transpose(0, 2, 1, 3), np.float32(1 / c))),
        device=dev).view(n_streams * n, k_max * c)  # (S n, K C)
    need_lq = "ve" in blocks or "product" in blocks
    lq_all = torch.log(tgs.clamp_min(0)) if need_lq else None  # log q (-inf at 0), once
    # per-step step sizes (T, S, K): the scalar each update multiplies by (0 once done)
    alpha = np.zeros((t_max, n_streams, k_max))
    frac = np.zeros((t_max, n_streams, k_max))
    for (s, k), h in np.ndenumerate(slot):
        if h < 0:
            continue
        t_h = specs[h].n_steps
        lrs = plans[h]["lrs"]
        if opt == "adam":
            lrs = lrs / (1 - BETA1 ** np.arange(1, t_h + 1, dtype=float))
        alpha[:t_h, s, k] = -lrs
        frac[:, s, k] = np.arange(t_max) / t_h
    alpha_t = torch.as_tensor(alpha, dtype=torch.float32, device=dev)
    conf = None
    if "logconf" in blocks:
        a, z_ = blocks["logconf"]
        cw = logconf_c(frac[:, :, a:z_])
        conf = (torch.as_tensor(cw, dtype=torch.float32, device=dev),
                torch.as_tensor(1 - cw, dtype=torch.float32, device=dev))  # (T, S, k) each
    wd_np = np.array([[specs[h].weight_decay if h >= 0 else 0.0 for h in row] for row in slot])
    any_wd = bool(np.any(wd_np != 0))
    wd = torch.as_tensor(wd_np, dtype=torch.float32, device=dev)[:, None, :, None]  # (S,1,K,1)
    cap = np.array([[specs[h].max_distance or np.inf if h >= 0 else np.inf for h in row]
                    for row in slot])
    capped = torch.as_tensor(np.isfinite(cap), device=dev)  # (S, K)
    cap_t = torch.as_tensor(np.where(np.isfinite(cap), cap, 1.0), dtype=torch.float32,
                            device=dev)
    any_cap = bool(capped.any())
    frozen = np.array([[h >= 0 and not specs[h].fit_bias for h in row] for row in slot])
    any_frozen = bool(frozen.any())  # bias gradients masked to 0 where frozen (fit_bias=False)
    fit_b = torch.as_tensor(~frozen, dtype=torch.float32, device=dev)[:, :, None]  # (S, K, 1)
    strengths = _Strengths(slot, specs, n, idx_s, ep_s, bsz, need_lrm1="ve" in blocks)
    w = weight[torch.as_tensor(hh, device=dev)].permute(0, 2, 1, 3).contiguous()  # (S,D,K,C)
    b = bias[torch.as_tensor(hh, device=dev)].clone()  # (S, K, C)
    if any_cap:  # the head columns holding a capped head, and their init and radii
        cap_cols = torch.nonzero(capped.any(0)).flatten()
        w0_c, b0_c = w.index_select(2, cap_cols), b.index_select(1, cap_cols)  # copies
        capped_c, cap_c = capped.index_select(1, cap_cols), cap_t.index_select(1, cap_cols)
    if opt == "adam":
        mw, vw, mb, vb = (torch.zeros_like(w), torch.zeros_like(w), torch.zeros_like(b),
                          torch.zeros_like(b))
    if val is not None:  # early stopping: validation rows standardized once per stream
        v_rows = torch.as_tensor(np.stack([val[0][h] for h in rep]), device=dev)
        xv = (feats[v_rows] - mean_s) / std_s  # (S, n_val, D)
        lab_v = torch.as_tensor(val[1][hh].argmax(-1), device=dev)  # (S, K, n_val)
        best_w, best_b = w.clone(), b.clone()
        best_acc = torch.full((n_streams, k_max), -1.0, dtype=torch.float64, device=dev)
        best_step = torch.zeros(n_streams, k_max, dtype=torch.long, device=dev)
        last_acc = torch.full((n_streams, k_max), math.nan, dtype=torch.float64, device=dev)
        n_evals = torch.zeros(n_streams, k_max, dtype=torch.long, device=dev)
        steps_np = np.where(real, np.array([s.n_steps for s in specs])[hh], 0)  # (S, K)
    losses = []
    kc = k_max * c
    inv_b = 1.0 / bsz
    one_block = len(blocks) == 1
    go = torch.empty(n_streams, bsz, k_max, c, device=dev)
    for t in range(t_max):
        it = idx_s[:, t]  # (S, B)
        flat = (it + offset).view(-1)  # (S B,)
        x = batch_x(flat)  # (S, B, D)
        z = torch.baddbmm(b.view(n_streams, 1, kc), x, w.view(n_streams, d, kc))
        z = z.view(n_streams, bsz, k_max, c)  # (S, B, K, C)
        lp = torch.log_softmax(z, -1)
        p = torch.exp(lp)
        q = tgs.index_select(0, flat).view(n_streams, bsz, k_max, c)  # (S, B, K, C)
        lq = lq_all.index_select(0, flat).view(n_streams, bsz, k_max, c) if need_lq else None
        s, lrm1 = strengths.at(t) if strengths.any else (None, None)  # (S, B, K) each
        row = []
        for name, (a, e) in blocks.items():
            cj = (conf[0][t], conf[1][t]) if name == "logconf" else None
            sj = s[:, :, a:e] if s is not None else None
            go_j = LOSS_GO[name](lp[:, :, a:e], p[:, :, a:e], q[:, :, a:e],
                                 lq[:, :, a:e] if lq is not None else None, cj, sj,
                                 lrm1[:, :, a:e] if lrm1 is not None else None, inv_b)
            if one_block:
                go = go_j
            else:
                go[:, :, a:e] = go_j
            if record_losses:
                row.append(LOSS_VALUES[name](z[:, :, a:e], q[:, :, a:e], cj, sj))
        if record_losses:
            losses.append(torch.cat(row, -1))  # (S, K)
        g = (go - p * go.sum(-1, keepdim=True)).view(n_streams, bsz, kc)  # dL/dz
        al = alpha_t[t].view(n_streams, 1, k_max, 1)  # -eta_t (Adam: / (1 - beta1^t))
        if opt == "adam":
            gw = torch.bmm(x.transpose(1, 2), g).view(n_streams, d, k_max, c)  # (S, D, K, C)
            gb = g.sum(1).view(n_streams, k_max, c)  # (S, K, C)
            if any_wd:  # coupled decay g + wd theta (one op, the same roundings as mul, add)
                gw = torch.addcmul(gw, wd, w)
                gb = torch.addcmul(gb, wd[:, 0], b)
            if any_frozen:  # m = v = 0 stay: the step 0 / (0 + eps) leaves the bias as it is
                gb = gb * fit_b
            bc2_sqrt = (1 - BETA2 ** (t + 1)) ** 0.5
            for th, gp, mp, vp, ap in ((w, gw, mw, vw, al), (b, gb, mb, vb, al[:, 0])):
                mp.lerp_(gp, 1 - BETA1)
                vp.mul_(BETA2).addcmul_(gp, gp, value=1 - BETA2)
                th.add_((mp * ap) / (vp.sqrt() / bc2_sqrt).add_(EPS))
        else:  # theta + [x~^T (-eta dL/dz) + (-eta wd) theta]: one rounding of theta per step
            gs = (g.view(n_streams, bsz, k_max, c) * al).view(n_streams, bsz, kc)
            if any_wd:
                upd = torch.bmm(x.transpose(1, 2), gs).view(n_streams, d, k_max, c)
                w.add_(upd.addcmul_(w, al * wd))
                ub = gs.sum(1).view(n_streams, k_max, c).addcmul_(b, al[:, 0] * wd[:, 0])
            else:
                w.view(n_streams, d, kc).baddbmm_(x.transpose(1, 2), gs)
                ub = gs.sum(1).view(n_streams, k_max, c)
            b.add_(ub * fit_b if any_frozen else ub)
        if any_cap:
            moving = capped_c & (alpha_t[t][:, cap_cols] != 0)
            _project(w, b, cap_cols, w0_c, b0_c, moving, cap_c)
        if val is not None:
            done = t + 1
            due = (steps_np >= done) & ((done % eval_every == 0) | (steps_np == done))
            if due.any():  # decided on the host: no device sync per step
                due = torch.as_tensor(due, device=dev)
                zv = torch.baddbmm(b.view(n_streams, 1, kc), xv, w.view(n_streams, d, kc))
                pred = zv.view(n_streams, -1, k_max, c).argmax(-1).transpose(1, 2)  # (S,K,n_v)
                acc = (pred == lab_v).sum(-1).double() / lab_v.shape[-1]  # (S, K)
                better = due & (acc > best_acc)
                best_acc = torch.where(better, acc, best_acc)
                best_step = torch.where(better, done, best_step)
                last_acc = torch.where(due, acc, last_acc)
                n_evals += due.long()
                best_w = torch.where(better[:, None, :, None], w, best_w)
                best_b = torch.where(better[:, :, None], b, best_b)
    if val is not None:
        w, b = best_w, best_b
    sel = torch.as_tensor(slot[real], device=dev)
    weight[sel] = w.permute(0, 2, 1, 3)[torch.as_tensor(real, device=dev)]
    bias[sel] = b[torch.as_tensor(real, device=dev)]
    heads_real = slot[real]
    if record_losses:
        lh = torch.stack(losses).permute(1, 2, 0)[torch.as_tensor(real, device=dev)]
        lh = lh.double().cpu().numpy()  # (M_group, T)
        for r, h in enumerate(heads_real):
            out["losses"][h, : specs[h].n_steps] = lh[r, : specs[h].n_steps]
    if val is not None:
        for name, arr in (("best_step", best_step), ("val_acc_best", best_acc),
                          ("val_acc_final", last_acc), ("n_evals", n_evals)):
            out[name][heads_real] = arr[torch.as_tensor(real, device=dev)].cpu().numpy()


class _Strengths:
    """Per-step strengths ``(S, B, K)`` float32 (and ``log(r - 1)`` for ve) of every slot.

    Each distinct (strength array, index) pair of a stream is a column ``u``; a head reads
    its array at
    ``e n + i`` (visits), ``i`` (per pass) or ``t`` (steps). Values are made for a chunk of
    steps at a time as ``(T_chunk, S, B, U)`` and gathered per step into the K slots.
    """

    def __init__(self, slot, specs, n, idx_s, ep_s, bsz, *, need_lrm1, max_elems=1 << 22):
        n_streams = slot.shape[0]
        arrays: dict = {b"": (0, np.zeros(1))}  # distinct arrays -> (offset in table, array)
        size = 1
        local = [{} for _ in range(n_streams)]  # per stream: (array, index) -> column
        slot_u = np.zeros(slot.shape, dtype=np.int64)  # column 0: no strengths (zeros)
        for (s, k), h in np.ndenumerate(slot):
            st = specs[h].strengths if h >= 0 else None
            if st is None:
                continue
            if st.tobytes() not in arrays:
                arrays[st.tobytes()] = (size, st)
                size += len(st)
            key = (st.tobytes(), OVER.index(specs[h].over))
            slot_u[s, k] = local[s].setdefault(key, len(local[s]) + 1)
        self.any = len(arrays) > 1
        if not self.any:
            return
        dev = idx_s.device
        n_cols = 1 + max(len(cols) for cols in local)
        start = np.zeros((n_streams, n_cols), dtype=np.int64)
        last = np.zeros((n_streams, n_cols), dtype=np.int64)
        mode = np.zeros((n_streams, n_cols), dtype=np.int64)
        for s, cols in enumerate(local):
            for (key, mo), u in cols.items():
                start[s, u], last[s, u], mode[s, u] = arrays[key][0], len(arrays[key][1]) - 1, mo
        self.table = torch.as_tensor(np.concatenate([a for _, a in arrays.values()]),
                                     dtype=torch.float32, device=dev)
        self.start = torch.as_tensor(start, device=dev)[:, None]  # (S, 1, U)
        self.last = torch.as_tensor(last, device=dev)[:, None]
        self.mode = torch.as_tensor(mode, device=dev)[:, None]
        self.gidx = torch.as_tensor(slot_u, device=dev)[:, None, :].expand(-1, bsz, -1)
        self.vis, self.idx = ep_s * n + idx_s, idx_s  # (S, T, B)
        self.need_lrm1 = need_lrm1
        self.chunk = max(1, max_elems // (n_streams * bsz * n_cols))
        self.t0 = self.t1 = 0

    def _fill(self, t0):
        t1 = min(self.vis.shape[1], t0 + self.chunk)
        vis = self.vis[:, t0:t1].transpose(0, 1)[..., None]  # (Tc, S, B, 1)
        idx = self.idx[:, t0:t1].transpose(0, 1)[..., None]
        steps = torch.arange(t0, t1, device=vis.device)[:, None, None, None]
        pos = torch.where(self.mode == 0, vis, torch.where(self.mode == 1, idx, steps))
        pos = torch.minimum(pos, self.last) + self.start  # (Tc, S, B, U) into the flat table
        self.s = self.table.take(pos)
        self.lrm1 = log_rm1(self.s) if self.need_lrm1 else None
        self.t0, self.t1 = t0, t1

    def at(self, t):
        if not self.t0 <= t < self.t1:
            self._fill(t)
        s = torch.gather(self.s[t - self.t0], 2, self.gidx)  # (S, B, K)
        lrm1 = torch.gather(self.lrm1[t - self.t0], 2, self.gidx) if self.need_lrm1 else None
        return s, lrm1


def _project(w, b, cols, w0, b0, capped, cap):
    """``theta <- theta_0 + (theta - theta_0) min(1, R / ||theta - theta_0||)`` where capped.

    Only the head columns ``cols`` that hold a capped head are read and written (``w0 (S, D,
    Kc, C)``, ``b0``, ``capped``, ``cap`` ``(S, Kc)`` are theirs): the others never move."""
    wc, bc = w.index_select(2, cols), b.index_select(1, cols)
    dw, db = wc - w0, bc - b0
    dist = (dw.pow(2).sum((1, 3)) + db.pow(2).sum(-1)).sqrt()  # (S, Kc)
    over = capped & (dist > cap)
    if bool(over.any()):
        scale = cap / dist
        w.index_copy_(2, cols, torch.where(over[:, None, :, None],
                                           w0 + dw * scale[:, None, :, None], wc))
        b.index_copy_(1, cols, torch.where(over[:, :, None], b0 + db * scale[:, :, None], bc))

"""The training loop: flat, plain functions (nanoGPT style), real minibatches, seeded.

One loop serves every model — a :class:`~bayes_w2s.neural.models.Classifier` on token ids or a
head on cached features: ``inputs`` is a dict of ``(n, ...)`` tensors passed to the model as
keyword arguments, batch by batch. Adam (or momentum-free SGD, ``optimizer="sgd"``), cosine
learning-rate decay without warmup (the openai defaults: batch 32, 2 epochs, lr 5e-5). On CUDA
the forward pass runs under bf16 autocast. Token batches are trimmed to their longest row.

The loss at step t is

    L_t = mean_{i in batch} loss_i(theta; s_i, step_frac) + anchor_weight * A(theta)

with ``s_i`` strengths and ``A`` an optional prior anchor (L2 to the initial weights, or KL to
the initial model's predictions). Strengths index, by ``strengths_over``:

* ``"visits"`` (run-level, the default of :class:`~.methods.MethodSpec`): every *visit* of a
  weak example, ``v = e * n + i`` for example ``i`` (dataset order) in epoch ``e`` (the e-th
  seeded permutation), an array of ``n_epochs_touched(n, n_steps, B) * n``; a schedule with
  total ``T`` then spends at most ``T`` over the whole run, whatever the epochs;
* ``"per_pass"``: ``(n,)``, the same strengths again in every epoch (spends epochs x T);
* ``"steps"``: ``(n_steps,)``, one strength per optimizer step for every example of its batch.

The influence spent ``sum over visits of s`` is returned in total and per epoch, with the
movement certificate of :mod:`.certificate_linear` (parameter distance from init and its a-priori
bounds, computed from the recorded minibatch order, learning rates and strengths; on
``heldout`` inputs the KL of the final predictions from the initial ones and its bounds, and
the number of predictions that differ from the reference classifier with its bound).
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .certificate import (
    certificate_valid,
    logit_grad_bound,
    loss_name,
    param_distance,
    prediction_kl,
    standardized_features,
)
from .certificate_columns import certificate_columns
from .losses import kl_anchor, l2_anchor

__all__ = [
    "OVER",
    "TrainConfig",
    "TrainLog",
    "lr_schedule",
    "minibatch_order",
    "n_epochs_touched",
    "num_threads",
    "pick_device",
    "predict_logits",
    "strengths_length",
    "train",
]

OVER = ("visits", "per_pass", "steps")


def n_epochs_touched(n: int, n_steps: int, batch_size: int) -> int:
    """Permutations a run draws from: ``ceil(n_steps * batch_size / n)`` (full batches)."""
    if n < 1 or n_steps < 1 or batch_size < 1:
        raise ValueError(f"n, n_steps, batch_size must be >= 1, got {n}, {n_steps}, {batch_size}")
    return math.ceil(n_steps * batch_size / n)


def minibatch_order(
    n: int, n_steps: int, batch_size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The seeded minibatches of a run: ``(idx, epoch)``, both ``(n_steps, batch_size)`` int64.

    ``idx[t]`` are the examples (indices into the ``n`` training rows) of optimizer step t and
    ``epoch[t]`` the permutation each came from: the permutations ``torch.randperm(n)`` drawn
    one after another from ``torch.Generator().manual_seed(seed)`` and read in order, in
    consecutive full batches (a batch may straddle two permutations). Exactly
    ``n_epochs_touched(n, n_steps, batch_size)`` permutations are drawn. A pure function of its
    arguments: :func:`train` and :func:`~.heads.train_heads` both use it, and a certificate can
    compute a-priori bounds from it without training.
    """
    reps = n_epochs_touched(n, n_steps, batch_size)  # validates the arguments
    gen = torch.Generator().manual_seed(int(seed))
    perms = torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)])  # (reps * n,)
    used = n_steps * batch_size
    idx = perms[:used].view(n_steps, batch_size)
    epoch = torch.arange(reps).repeat_interleave(n)[:used].view(n_steps, batch_size)
    return idx, epoch


def lr_schedule(lr: float, n_steps: int, schedule: str = "cosine") -> np.ndarray:
    """Learning rate of every step ``(n_steps,)`` float64: ``eta_t = lr`` (``"constant"``) or
    ``eta_t = lr * (1 + cos(pi t / T)) / 2`` (``"cosine"``, no warmup; ``0 <= t < T``)."""
    if schedule not in ("cosine", "constant"):
        raise ValueError(f"lr_schedule must be cosine or constant, got {schedule!r}")
    if schedule == "constant":
        return np.full(n_steps, float(lr))
    frac = np.arange(n_steps) / n_steps
    return float(lr) * 0.5 * (1 + np.cos(np.pi * frac))


def strengths_length(over: str, n: int, n_steps: int, batch_size: int) -> int:
    """Length of a strengths array indexed ``over`` visits, per pass or steps (see the module
    docstring): ``n_epochs_touched * n``, ``n`` or ``n_steps``."""
    if over not in OVER:
        raise ValueError(f"strengths_over must be one of {OVER}, got {over!r}")
    reps = n_epochs_touched(n, n_steps, batch_size)  # also validates n, n_steps, batch_size
    return {"visits": reps * n, "per_pass": n, "steps": n_steps}[over]


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings; ``steps`` (if set) overrides ``epochs``."""

    batch_size: int = 32
    epochs: float = 2.0
    lr: float = 5e-5
    weight_decay: float = 0.0
    lr_schedule: str = "cosine"
    steps: int | None = None
    eval_batch_size: int = 256
    anchor: str | None = None
    anchor_weight: float = 0.0
    threads: int | None = None
    optimizer: str = "adam"

    def __post_init__(self) -> None:
        if self.optimizer not in ("adam", "sgd"):
            raise ValueError(f"optimizer must be 'adam' or 'sgd', got {self.optimizer!r}")
        if self.batch_size < 1 or self.lr <= 0 or self.epochs <= 0:
            raise ValueError("batch_size >= 1, lr > 0 and epochs > 0 are required")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, got {self.lr_schedule!r}")
        if self.anchor not in (None, "l2", "kl"):
            raise ValueError(f"anchor must be None, 'l2' or 'kl', got {self.anchor!r}")
        if self.anchor_weight < 0:
            raise ValueError("anchor_weight must be non-negative")
        if self.steps is not None and self.steps < 1:
            raise ValueError("steps must be >= 1")

    def n_steps(self, n: int) -> int:
        return (
            self.steps
            if self.steps is not None
            else max(1, math.ceil(self.epochs * n / self.batch_size))
        )


@dataclass(frozen=True)
class TrainLog:
    """What a run did: ``losses (n_steps,)``, the influence spent, examples/s and seconds.

    ``extra``: ``influence_per_epoch`` (list), ``param_distance`` ``||theta_T - theta_0||``,
    ``distance_bound`` (the first certificate, largest input norm, bound (B0) of
    :mod:`.certificate_linear`; weight decay and an L2 anchor enter as its contraction; NaN
    when it does not apply), ``distance_bound_data`` (the least of the data-dependent bounds
    (B1)-(B3), each also under ``distance_bound_{norms,gram,linear}``), ``reference_distance``
    ``||R_T||`` (the linearized path), ``lr_strength_sum`` ``sum_{t<T} eta_t mean_i g(s_i)``,
    ``certificate`` ("" or why not), and with held-out inputs ``kl_from_init``, ``kl_bound``,
    ``kl_bound_data``, ``flip_bound`` (held-out predictions that may differ from the reference
    classifier ``Theta_0 + R_T``) and ``flips_measured``; all for the weights left in the
    model, those after ``T = movement_step`` steps (``n_steps`` unless ``on_end`` restored an
    earlier checkpoint).
    """

    losses: np.ndarray
    influence: float
    n_steps: int
    seconds: float
    examples_per_s: float
    extra: dict = field(default_factory=dict)


def pick_device(device: str | None = None) -> torch.device:
    """``cuda`` when present (unless told otherwise), else ``cpu``."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _batch(inputs: dict, idx: torch.Tensor, device: torch.device) -> dict:
    out = {k: v[idx] for k, v in inputs.items()}
    if "attention_mask" in out:  # trim right padding to the longest row in the batch
        length = int(out["attention_mask"].sum(1).max())
        out = {
            k: (v[:, :length] if v.ndim == 2 and k in ("input_ids", "attention_mask") else v)
            for k, v in out.items()
        }
    return {k: v.to(device, non_blocking=True) for k, v in out.items()}


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    inputs: dict,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
) -> np.ndarray:
    """Logits ``(n, C)`` as float32 numpy, in eval mode, batch by batch."""
    device = pick_device(device) if not isinstance(device, torch.device) else device
    model.eval().to(device)
    n = len(next(iter(inputs.values())))
    out = []
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(n, start + batch_size))
        with _autocast(device):
            out.append(model(**_batch(inputs, idx, device)).float().cpu())
    return torch.cat(out).numpy() if out else np.zeros((0, 0), np.float32)


@contextlib.contextmanager
def num_threads(n: int | None):
    """Temporarily set torch's intra-op threads (tiny heads run fastest, and fairest to a shared
    machine, on one thread: measured 1.8 s vs 18.5 s for 1,250 steps on 2 busy cores)."""
    old = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def train(
    model: nn.Module,
    inputs: dict,
    targets: torch.Tensor | np.ndarray,
    loss_fn,
    cfg: TrainConfig,
    *,
    seed: int,
    strengths: np.ndarray | None = None,
    strengths_over: str = "visits",
    heldout: dict | None = None,
    device: str | torch.device | None = None,
    progress: bool | None = None,
    desc: str = "train",
    on_step=None,
    on_end=None,
    certify: bool = True,
) -> TrainLog:
    """Train ``model`` in place on ``(inputs, targets (n, C))`` with ``loss_fn``.

    Parameters
    ----------
    strengths : array, optional
        ``(n_epochs_touched * n,)`` over visits, ``(n,)`` per pass or ``(n_steps,)`` over
        steps, by ``strengths_over`` (see the module docstring).
    heldout : dict, optional
        Inputs on which the KL of the final predictions from the initial ones is measured.
    progress : bool, optional
        tqdm bar; default: only when stderr is a terminal.
    on_step : callable, optional
        ``on_step(t, model)`` after the t-th optimizer step (``t = 1 .. n_steps``).
    on_end : callable, optional
        ``on_end(model) -> t | None`` once after the last step; it may load earlier weights
        into ``model`` in place and returns the step ``t`` they come from (None: the final
        weights). The movement in ``extra`` is measured on the weights left in ``model``, with
        ``lr_strength_sum`` (and so the bounds) summed over its first ``t`` steps only.
    certify : bool
        Compute a linear head's certificate columns (``distance_bound``,
        ``distance_bound_data``, ``kl_bound_data``, ``flip_bound``, ...: the ``n x n`` Gram
        products and the path walk); False leaves them NaN and keeps the measured ones
        (``param_distance``, ``kl_from_init``), e.g. to time training alone.
    """
    with num_threads(cfg.threads):
        return _train(
            model,
            inputs,
            targets,
            loss_fn,
            cfg,
            seed=seed,
            strengths=strengths,
            strengths_over=strengths_over,
            heldout=heldout,
            device=device,
            progress=progress,
            desc=desc,
            on_step=on_step,
            on_end=on_end,
            certify=certify,
        )


def _check_strengths(strengths, over, n, n_steps, batch_size):
    if strengths is None:
        return None
    want = strengths_length(over, n, n_steps, batch_size)
    strengths = np.asarray(strengths, dtype=np.float64)
    if strengths.shape != (want,):
        raise ValueError(
            f"strengths over {over!r} must have shape ({want},), got {strengths.shape}"
        )
    if np.any(strengths < 0) or not np.all(np.isfinite(strengths)):
        raise ValueError("strengths must be finite and non-negative")
    return strengths


def _train(
    model,
    inputs,
    targets,
    loss_fn,
    cfg,
    *,
    seed,
    strengths,
    strengths_over,
    heldout,
    device,
    progress,
    desc,
    on_step=None,
    on_end=None,
    certify=True,
):
    from tqdm.auto import tqdm

    device = pick_device(device) if not isinstance(device, torch.device) else device
    targets = torch.as_tensor(np.asarray(targets), dtype=torch.float32)  # (n, C)
    n = targets.shape[0]
    n_steps = cfg.n_steps(n)
    strengths = _check_strengths(strengths, strengths_over, n, n_steps, cfg.batch_size)
    model.to(device)
    init_logits = None
    if cfg.anchor == "kl" and cfg.anchor_weight > 0:
        init_logits = torch.from_numpy(
            predict_logits(model, inputs, batch_size=cfg.eval_batch_size, device=device)
        )  # (n, C)
    heldout_init = (
        predict_logits(model, heldout, batch_size=cfg.eval_batch_size, device=device)
        if heldout is not None
        else None
    )  # (n_heldout, C)
    params = [p for p in model.parameters() if p.requires_grad]
    theta0 = [p.detach().clone() for p in params]
    init_params = theta0 if cfg.anchor == "l2" and cfg.anchor_weight > 0 else None
    if cfg.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.0, weight_decay=cfg.weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    order, order_epoch = minibatch_order(n, n_steps, cfg.batch_size, seed)  # (T, B) each
    lrs = lr_schedule(cfg.lr, n_steps, cfg.lr_schedule)  # (T,)
    epoch_influence = [0.0] * n_epochs_touched(n, n_steps, cfg.batch_size)
    losses = np.zeros(n_steps)
    influence = 0.0
    lr_strength_cum = np.zeros(n_steps + 1)  # [t]: sum_{u < t} eta_u * mean_{i in b_u} g(s_i)
    path = {"order": [], "lrs": [], "strengths": []}  # what the a-priori certificate needs
    show = sys.stderr.isatty() if progress is None else progress
    model.train()
    t0 = time.perf_counter()
    bar = tqdm(range(n_steps), desc=desc, disable=not show, leave=False)
    for step in bar:
        idx, epoch = order[step], order_epoch[step]  # (B,) each
        frac = step / n_steps
        for group in opt.param_groups:
            group["lr"] = float(lrs[step])
        batch = _batch(inputs, idx, device)
        s = s_np = None
        if strengths is not None:
            i_np, e_np = idx.numpy(), epoch.numpy()
            if strengths_over == "visits":
                s_np = strengths[e_np * n + i_np]
            elif strengths_over == "per_pass":
                s_np = strengths[i_np]
            else:
                s_np = np.full(len(idx), strengths[step])
            influence += float(s_np.sum())
            _add_epochs(epoch_influence, e_np, s_np)
            s = torch.as_tensor(s_np, dtype=torch.float32, device=device)  # (B,)
        lr_strength_cum[step + 1] = lr_strength_cum[step] + opt.param_groups[0][
            "lr"
        ] * logit_grad_bound(loss_fn, s_np, len(idx))
        path["order"].append(idx.numpy())
        path["lrs"].append(opt.param_groups[0]["lr"])
        path["strengths"].append(s_np)
        with _autocast(device):
            logits = model(**batch)  # (B, C)
        loss = loss_fn(logits.float(), targets[idx].to(device), step_frac=frac, strengths=s)
        if init_logits is not None:
            loss = loss + cfg.anchor_weight * kl_anchor(logits, init_logits[idx].to(device))
        if init_params is not None:
            loss = loss + cfg.anchor_weight * l2_anchor(params, init_params)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses[step] = float(loss.detach())
        if show and step % 10 == 0:
            bar.set_postfix(loss=f"{losses[step]:.4f}")
        if on_step is not None:
            on_step(step + 1, model)
    seconds = time.perf_counter() - t0
    at = on_end(model) if on_end is not None else None
    at = n_steps if at is None else int(at)
    if not 0 <= at <= n_steps:
        raise ValueError(f"on_end returned step {at}, outside 0..{n_steps}")
    model.eval()
    extra = _movement(
        model, inputs, params, theta0, cfg, float(lr_strength_cum[at]), heldout, heldout_init,
        device, loss_fn=loss_fn, targets=targets, path=path if certify else None, at=at,
    )
    extra["movement_step"] = at
    extra["influence_per_epoch"] = epoch_influence if strengths is not None else []
    return TrainLog(
        losses,
        influence,
        n_steps,
        seconds,
        n_steps * cfg.batch_size / max(seconds, 1e-9),
        extra,
    )


def _add_epochs(acc: list, epochs: np.ndarray, s: np.ndarray) -> None:
    for e, v in zip(epochs.tolist(), s.tolist()):
        acc[e] += v


def _movement(
    model, inputs, params, theta0, cfg, lr_strength_sum, heldout, heldout_init, device, *,
    loss_fn=None, targets=None, path=None, at=None,
):
    """Measured movement next to the certified bounds (see :mod:`.certificate` and
    :mod:`.certificate_linear`): the old ``distance_bound`` (largest input norm; weight decay
    and an L2 anchor enter as the contraction), the data-dependent ``distance_bound_data``
    (least of the per-example, Gram and linearized bounds), the reference classifier's
    distance, and on held-out inputs ``flip_bound`` (predictions that may differ from the
    reference) next to ``flips_measured``."""
    why = certificate_valid(cfg)
    feats = standardized_features(model, inputs)
    name = loss_name(loss_fn)
    if feats is None and not why:
        why = "no gradient bound derived for this model (only a linear feature head)"
    if name is None and not why:
        why = "no gradient bound derived for this loss"
    out = {
        "param_distance": param_distance(params, theta0),
        "distance_bound": math.nan,
        "lr_strength_sum": lr_strength_sum,
        "certificate": why,
        "kl_from_init": math.nan,
        "kl_bound": math.nan,
        "distance_bound_data": math.nan,
        "reference_distance": math.nan,
        "kl_bound_data": math.nan,
        "flip_bound": math.nan,
        "flips_measured": math.nan,
    }
    final = None
    if heldout is not None:
        final = predict_logits(model, heldout, batch_size=cfg.eval_batch_size, device=device)
        out["kl_from_init"] = prediction_kl(final, heldout_init)
    if why or path is None or not math.isfinite(lr_strength_sum):
        return out
    at = len(path["order"]) if at is None else at
    init = np.hstack(
        [theta0[0].double().cpu().numpy(), theta0[1].double().cpu().numpy()[:, None]]
    )  # (C, D+1): a linear head's [W_0 | b_0]
    out.update(
        certificate_columns(
            feats,
            np.asarray(targets, float),
            np.asarray(path["order"][:at], dtype=np.int64).reshape(at, cfg.batch_size),
            np.asarray(path["lrs"][:at], float),
            name,
            strengths=None if at == 0 or path["strengths"][0] is None
            else np.stack(path["strengths"][:at]),
            weight_decay=cfg.weight_decay,
            anchor_weight=cfg.anchor_weight if cfg.anchor == "l2" else 0.0,
            cap=getattr(cfg, "movement_cap", None),
            init=init,
            heldout=standardized_features(model, heldout) if heldout is not None else None,
            final_logits=final,
        )
    )
    return out

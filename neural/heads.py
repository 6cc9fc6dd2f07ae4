"""Many linear heads on shared cached features, trained at once as one batched computation.

A head is one student run of :func:`~.train.train` on a :class:`~.features.FeatureHead`
(``hidden=0``): ``logits = W^T x~ + b`` with ``x~ = (x - mu) / sd`` standardized by the mean and
(unbiased) std of its own training rows (``sd`` floored at 1e-6, as :class:`~.backend.Backend`
builds it), ``W (D, C)`` and ``b (C,)`` zero-initialized. :func:`train_heads` stacks M heads
— recipes x seeds x hyperparameters — and steps them together: heads that share training rows
and seed share every minibatch (a *stream*), so one ``(B, D) @ (D, K C)`` product per stream
and step serves all K heads of the stream (``torch.bmm`` over streams). Per head: loss, lr,
schedule, weight decay, optimizer (grouped), strengths, movement cap and step count; a head
with fewer steps stops updating (its step size is 0).

Updates, written by hand on stacked tensors (the single-tensor ``torch.optim`` rules):

* SGD (momentum-free, coupled decay): ``g <- g + wd theta``; ``theta <- theta - eta_t g``;
* Adam (``beta = (0.9, 0.999)``, ``eps = 1e-8``, coupled decay): ``m <- lerp(m, g, 0.1)``,
  ``v <- 0.999 v + 0.001 g^2``, ``theta <- theta - (eta_t / (1 - 0.9^t)) m /
  (sqrt(v) / sqrt(1 - 0.999^t) + eps)``;
* movement cap ``max_distance = R`` (projected SGD/Adam): after each step
  ``theta <- theta_0 + (theta - theta_0) min(1, R / ||theta - theta_0||_F)`` over ``(W, b)``.

``eta_t`` is :func:`~.train.lr_schedule` and the minibatches :func:`~.train.minibatch_order`,
the very definitions :func:`~.train.train` uses. Equality with the one-head loop: every
elementwise op is the same, but the logits and weight gradients come from ``bmm`` over a
stream instead of a per-head ``addmm``, whose float32 reduction order differs, and the step
``theta - eta g`` is two roundings here (the per-head ``add_(alpha=)`` may fuse it); so results
agree to ~1e-6, not bitwise (``tests/neural/test_heads.py``). On CUDA :func:`~.train.train`
runs the forward pass under bf16 autocast; this module stays in float32 everywhere.

Early stopping (``val``, ``eval_every``) is :class:`~.backend.BestCheckpoint`'s rule per
head: after steps ``t = e, 2e, ...`` and after the head's last step, score
``acc = mean(argmax logits == argmax targets)`` on its validation rows and keep the weights
of the best score, ties to the earlier step; never scored: step 0.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .head_losses import logit_grad_bound_per_example
from .losses import NEEDS_STRENGTHS, get_loss
from .train import (
    OVER,
    TrainConfig,
    TrainLog,
    _check_strengths,
    lr_schedule,
    minibatch_order,
    n_epochs_touched,
    num_threads,
    pick_device,
)

__all__ = ["HeadSpec", "HeadsResult", "head_schedule", "minibatch_order", "lr_schedule",
           "train_heads"]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True, eq=False)
class HeadSpec:
    """One head: one student training run on shared features (as :func:`~.train.train`).

    ``strengths`` (float64, read-only) are indexed ``over`` visits, per pass or steps exactly as
    in :func:`~.train.train`; ``ve`` and ``tempered`` need them. ``max_distance``: project
    ``(W, b)`` back onto ``||theta - theta_0||_F <= max_distance`` after every step.
    """

    loss: str
    lr: float
    n_steps: int
    seed: int
    optimizer: str = "sgd"
    lr_schedule: str = "cosine"
    weight_decay: float = 0.0
    max_distance: float | None = None
    strengths: np.ndarray | None = field(default=None, repr=False)
    over: str = "visits"
    batch_size: int = 32

    def __post_init__(self) -> None:
        get_loss(self.loss)
        if self.optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ValueError(f"lr_schedule must be cosine or constant, got {self.lr_schedule!r}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr must be finite and > 0, got {self.lr!r}")
        if int(self.n_steps) != self.n_steps or self.n_steps < 1:
            raise ValueError(f"n_steps must be an integer >= 1, got {self.n_steps!r}")
        if int(self.batch_size) != self.batch_size or self.batch_size < 1:
            raise ValueError(f"batch_size must be an integer >= 1, got {self.batch_size!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be finite and >= 0, got {self.weight_decay!r}")
        if self.max_distance is not None and not self.max_distance > 0:
            raise ValueError(f"max_distance must be > 0 or None, got {self.max_distance!r}")
        if self.over not in OVER:
            raise ValueError(f"over must be one of {OVER}, got {self.over!r}")
        if self.loss in NEEDS_STRENGTHS and self.strengths is None:
            raise ValueError(f"loss {self.loss!r} needs strengths from a schedule")
        if self.strengths is not None:
            s = np.array(self.strengths, dtype=np.float64)
            s.setflags(write=False)
            object.__setattr__(self, "strengths", s)

    def train_config(self) -> TrainConfig:
        """The :class:`~.train.TrainConfig` of the same run under :func:`~.train.train`."""
        return TrainConfig(batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                           lr_schedule=self.lr_schedule, steps=self.n_steps,
                           optimizer=self.optimizer)


def head_schedule(spec: HeadSpec, n: int) -> dict:
    """Everything about a head's run that does not need training (a pure function).

    Returns ``idx``, ``epoch`` ``(T, B)`` (:func:`~.train.minibatch_order`), ``lrs (T,)``
    (:func:`~.train.lr_schedule`), ``strengths (T, B)`` per visit (or None), ``influence`` =
    ``sum_visits s``, ``influence_per_epoch (E,)`` and ``lr_strength_cum (T + 1,)`` with
    ``[t] = sum_{u < t} eta_u mean_{i in b_u} g(s_i)``, ``g`` the logit-gradient bound
    (:func:`~.head_losses.logit_grad_bound_per_example`), summed in the order
    :func:`~.train.train` sums them.
    """
    idx, epoch = minibatch_order(n, spec.n_steps, spec.batch_size, spec.seed)
    i, e = idx.numpy(), epoch.numpy()
    lrs = lr_schedule(spec.lr, spec.n_steps, spec.lr_schedule)
    n_ep = n_epochs_touched(n, spec.n_steps, spec.batch_size)
    s = _check_strengths(spec.strengths, spec.over, n, spec.n_steps, spec.batch_size)
    if s is not None:
        if spec.over == "visits":
            s = s[e * n + i]
        elif spec.over == "per_pass":
            s = s[i]
        else:
            s = np.repeat(s[:, None], spec.batch_size, 1)
        g = logit_grad_bound_per_example(spec.loss, s).mean(1)  # (T,)
        influence = float(np.cumsum(s.sum(1))[-1])  # step by step, as train() adds them
        per_epoch = np.bincount(e.ravel(), weights=s.ravel(), minlength=n_ep)
    else:
        g = np.full(spec.n_steps, logit_grad_bound_per_example(spec.loss, None))
        influence, per_epoch = 0.0, np.zeros(0)
    cum = np.concatenate([[0.0], np.cumsum(lrs * g)])
    return {"idx": idx, "epoch": epoch, "lrs": lrs, "strengths": s, "influence": influence,
            "influence_per_epoch": per_epoch, "lr_strength_cum": cum}


@dataclass(frozen=True, eq=False)
class HeadsResult:
    """M trained heads: ``logits_m(x) = W_m^T (x - mu_m) / sd_m + b_m``.

    ``weight (M, D, C)`` (an ``nn.Linear``'s weight is ``weight[m].T``), ``bias (M, C)``,
    ``mean``/``std (M, D)``; the weights are the best checkpoint's when early-stopping. Per
    head: ``n_steps``, ``movement_step`` (the step the weights come from), ``influence``
    ``sum_visits s`` (whole run; 0 without strengths) and ``influence_per_epoch``,
    ``lr_strength_sum`` ``sum_{t < movement_step} eta_t mean_b g(s)``, ``param_distance``
    ``||theta - theta_0||_F`` (float64 sums), ``kl_from_init`` (mean KL of the final from the
    initial predictions on ``heldout``, NaN without), ``losses (M, T_max)`` (with
    ``record_losses``; NaN past a head's last step and otherwise), ``best_step``/``val_acc_best``/``val_acc_final``/``n_evals`` (early stopping;
    -1/NaN/0 without), ``seconds`` (the whole batched call).
    """

    specs: tuple
    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    features: torch.Tensor = field(repr=False)
    train_idx: np.ndarray = field(repr=False)
    n_steps: np.ndarray = field(repr=False)
    movement_step: np.ndarray = field(repr=False)
    influence: np.ndarray = field(repr=False)
    influence_per_epoch: tuple = field(repr=False)
    lr_strength_sum: np.ndarray = field(repr=False)
    param_distance: np.ndarray = field(repr=False)
    kl_from_init: np.ndarray = field(repr=False)
    losses: np.ndarray = field(repr=False)
    best_step: np.ndarray = field(repr=False)
    val_acc_best: np.ndarray = field(repr=False)
    val_acc_final: np.ndarray = field(repr=False)
    n_evals: np.ndarray = field(repr=False)
    seconds: float = 0.0
    init_weight: torch.Tensor | None = field(default=None, repr=False)
    init_bias: torch.Tensor | None = field(default=None, repr=False)
    heldout: np.ndarray | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.specs)

    @torch.no_grad()
    def predict(self, idx, *, heads=None, init: bool = False, max_elems: int = 1 << 24) -> np.ndarray:
        """Logits ``(M, n, C)`` float32 of every head (or of ``heads``) on feature rows ``idx``
        (``(n,)`` shared or ``(M, n)`` per head); ``init=True``: those of the initial weights."""
        return _predict(self.features, self.mean, self.std,
                        self.init_weight if init else self.weight,
                        self.init_bias if init else self.bias, idx, heads, max_elems)

    def log(self, m: int) -> TrainLog:
        """Head ``m`` as the :class:`~.train.TrainLog` :func:`~.train.train` would return: the
        movement certificate of :mod:`.certificate` in ``extra`` (``kl_bound`` on ``heldout``)
        and, when early-stopping, ``extra["checkpoint"]`` as :class:`~.backend.BestCheckpoint`.
        ``seconds`` is the batched call's time divided by M."""
        return _head_log(self, m)


def _predict(features, mean, std, weight, bias, idx, heads, max_elems):
    m_all = weight.shape[0]
    heads = np.arange(m_all) if heads is None else np.asarray(heads, dtype=np.int64)
    idx = torch.as_tensor(np.asarray(idx), dtype=torch.long, device=features.device)
    if idx.ndim not in (1, 2) or (idx.ndim == 2 and idx.shape[0] != len(heads)):
        raise ValueError(f"idx must be (n,) or (n_heads={len(heads)}, n), got {tuple(idx.shape)}")
    n, d = idx.shape[-1], features.shape[1]
    chunk = max(1, max_elems // max(1, n * d))
    out = []
    for start in range(0, len(heads), chunk):
        h = torch.as_tensor(heads[start:start + chunk], device=features.device)
        rows = idx[start:start + chunk] if idx.ndim == 2 else idx.expand(len(h), n)
        x = (features[rows] - mean[h][:, None]) / std[h][:, None]  # (h, n, D)
        w, b = weight[h].to(features.device), bias[h].to(features.device)
        out.append(torch.baddbmm(b[:, None], x, w).cpu())  # (h, n, C)
    return torch.cat(out).numpy()


def _head_log(res: HeadsResult, m: int) -> TrainLog:
    from .certificate import certificate_valid, kl_bound

    spec = res.specs[m]
    why = certificate_valid(spec.train_config())
    dev = res.features.device
    x = (res.features[torch.as_tensor(res.train_idx[m], device=dev)] - res.mean[m]) / res.std[m]
    scales = torch.sqrt(x.pow(2).sum(1) + 1.0).double().cpu().numpy()  # (n,) as input_scales
    lr_s = float(res.lr_strength_sum[m])
    bound = lr_s * float(scales.max()) if not why and math.isfinite(lr_s) else math.nan
    extra = {
        "param_distance": float(res.param_distance[m]),
        "distance_bound": bound,
        "lr_strength_sum": lr_s,
        "certificate": why,
        "kl_from_init": float(res.kl_from_init[m]),
        "kl_bound": math.nan,
        "movement_step": int(res.movement_step[m]),
        "influence_per_epoch": [float(v) for v in res.influence_per_epoch[m]],
    }
    if res.heldout is not None:
        xh = (res.features[torch.as_tensor(res.heldout[m], device=dev)] - res.mean[m]) / res.std[m]
        extra["kl_bound"] = kl_bound(bound, torch.sqrt(xh.pow(2).sum(1) + 1.0).double().cpu().numpy())
    if res.n_evals[m] > 0:
        extra["checkpoint"] = {
            "best_step": int(res.best_step[m]),
            "val_acc_best": float(res.val_acc_best[m]),
            "val_acc_final": float(res.val_acc_final[m]),
            "n_evals": int(res.n_evals[m]),
        }
    t = int(res.n_steps[m])
    seconds = res.seconds / len(res)
    return TrainLog(res.losses[m, :t].copy(), float(res.influence[m]), t, seconds,
                    t * spec.batch_size / max(seconds, 1e-9), extra)


def train_heads(features, train_idx, targets, specs, *, val=None, eval_every: int = 0,
                heldout=None, device=None, init=None, standardize: bool = True,
                threads: int | None = None, record_losses: bool = False) -> HeadsResult:
    """Train M linear heads on shared features at once; head m equals :func:`~.train.train`.

    Parameters
    ----------
    features : (N_all, D) float array or tensor
        Shared by all heads (cached frozen features).
    train_idx : (M, n) int
        Rows of ``features`` head m trains on.
    targets : (M, n, C) float
        Soft targets (rows sum to 1).
    specs : sequence of M :class:`HeadSpec`
    val : (idx (M, n_val), targets (M, n_val, C)), optional
        Weak-labelled validation rows for early stopping (needs ``eval_every >= 1``).
    heldout : (M, n_h) int, optional
        Rows on which ``kl_from_init`` is measured.
    init : (weight (M, D, C), bias (M, C)), optional
        Initial weights (default zeros: uniform initial predictions).
    standardize : bool
        ``x~ = (x - mu) / sd`` with the training rows' float64 mean and unbiased std
        (``sd >= 1e-6``), as :class:`~.backend.Backend`; False: ``mu = 0, sd = 1``.
    threads : int, optional
        torch intra-op threads during the call; default 1 on CPU (the per-step tensors are
        small: measured on 2 busy cores, 250 steps of 80 heads took 4.2 s on one thread and
        84 s on two), torch's setting on CUDA.
    record_losses : bool
        Also compute every head's loss at every step (``losses``; NaN otherwise). The
        updates never need them (gradients are closed-form, :mod:`.head_losses`).
    """
    from .heads_engine import run_heads

    device = pick_device(device)
    if threads is None and device.type == "cpu":
        threads = 1
    with num_threads(threads):
        t0 = time.perf_counter()
        res = run_heads(features, train_idx, targets, list(specs), val=val,
                        eval_every=eval_every, heldout=heldout, device=device,
                        init=init, standardize=standardize, record_losses=record_losses)
        return HeadsResult(**res, seconds=time.perf_counter() - t0)

"""Many linear heads on shared cached features, trained at once as one batched computation.

A head is one student run of :func:`~.train.train` on a :class:`~.features.FeatureHead`
(``hidden=0``): ``logits = W^T x~ + b`` with ``x~ = (x - mu) / sd`` standardized by the mean and
(unbiased) std of its own training rows (``sd`` floored at 1e-6, as :class:`~.backend.Backend`
builds it), ``W (D, C)`` and ``b (C,)`` zero-initialized. :func:`train_heads` stacks M heads
— recipes x seeds x hyperparameters — and steps them together: heads that share training rows
and seed share every minibatch (a *stream*), so one ``(B, D) @ (D, K C)`` product per stream
and step serves all K heads of the stream (``torch.bmm`` over streams). Per head: loss, lr,
schedule, weight decay, optimizer (grouped), strengths, movement cap, step count and
whether the bias trains; a head with fewer steps stops updating (its step size is 0).

Updates, written by hand on stacked tensors (the single-tensor ``torch.optim`` rules), with
``G = dL/dz`` the closed-form logit gradient (:mod:`.head_losses`) and ``x~`` the batch:

* SGD (momentum-free, coupled decay): ``theta <- theta - eta_t (x~^T G + wd theta)``, computed
  as ``theta + [x~^T (-eta_t G) + (-eta_t wd) theta]`` (without decay one ``baddbmm`` per step
  for all heads);
* Adam (``beta = (0.9, 0.999)``, ``eps = 1e-8``, coupled decay): ``g = x~^T G + wd theta``,
  ``m <- lerp(m, g, 0.1)``, ``v <- 0.999 v + 0.001 g^2``, ``theta <- theta - (eta_t /
  (1 - 0.9^t)) m / (sqrt(v) / sqrt(1 - 0.999^t) + eps)``, op for op as ``torch.optim.Adam``;
* movement cap ``max_distance = R`` (projected SGD/Adam): after each step
  ``theta <- theta_0 + (theta - theta_0) min(1, R / ||theta - theta_0||_F)`` over ``(W, b)``.

``eta_t`` is :func:`~.train.lr_schedule` and the minibatches :func:`~.train.minibatch_order`,
the very definitions :func:`~.train.train` uses. Equality with the one-head loop is to
rounding, not bitwise: the logits and weight gradients come from ``bmm`` over a stream instead
of a per-head ``addmm``, whose float32 reduction order differs; the logit gradient is the
closed form of what autograd computes; and the SGD step scales ``G`` before the product
instead of the product after it. Measured: ``|dW| <= 1e-6`` after 1,250 steps on D = 384
(``benchmarks/neural_heads.py``; weights of order 1), and in ``tests/neural/test_heads.py``. On CUDA
:func:`~.train.train` runs the forward pass under bf16 autocast; this module stays in float32.

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

__all__ = [
    "HeadSpec",
    "HeadsResult",
    "head_schedule",
    "lr_schedule",
    "minibatch_order",
    "standardized_rows",
    "train_heads",
]

BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True, eq=False)
class HeadSpec:
    """One head: one student training run on shared features (as :func:`~.train.train`).

    ``strengths`` (float64, read-only) are indexed ``over`` visits, per pass or steps exactly as
    in :func:`~.train.train`; ``ve`` and ``tempered`` need them. ``max_distance``: project
    ``(W, b)`` back onto ``||theta - theta_0||_F <= max_distance`` after every step.
    ``fit_bias=False`` keeps the bias at its initial value (its gradient is set to 0, so SGD
    and Adam leave it exactly unchanged): a head on difference features ``x_a - x_b``, where a
    bias would cancel, e.g. a Bradley-Terry reward head (:mod:`.reward_batched`).
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
    fit_bias: bool = True

    def __post_init__(self) -> None:
        get_loss(self.loss)
        if not isinstance(self.fit_bias, (bool, np.bool_)):
            raise TypeError(f"fit_bias must be a bool, got {self.fit_bias!r}")
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

    @classmethod
    def from_train_config(cls, loss: str, cfg: TrainConfig, *, n: int, seed: int,
                          strengths=None, over: str = "visits",
                          max_distance: float | None = None) -> HeadSpec:
        """The head of :func:`~.train.train` with ``cfg`` on ``n`` examples (``cfg.threads``
        and ``cfg.eval_batch_size`` do not change results and are dropped; anchors are not
        supported here: weight decay toward the zero init is the L2 anchor)."""
        if cfg.anchor is not None and cfg.anchor_weight > 0:
            raise ValueError(f"train_heads has no {cfg.anchor!r} anchor; use weight_decay")
        return cls(loss, lr=cfg.lr, n_steps=cfg.n_steps(n), seed=seed, optimizer=cfg.optimizer,
                   lr_schedule=cfg.lr_schedule, weight_decay=cfg.weight_decay,
                   max_distance=max_distance, strengths=strengths, over=over,
                   batch_size=cfg.batch_size)

    def train_config(self) -> TrainConfig:
        """The :class:`~.train.TrainConfig` of the same run under :func:`~.train.train`."""
        return TrainConfig(batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay,
                           lr_schedule=self.lr_schedule, steps=self.n_steps,
                           optimizer=self.optimizer)


def head_schedule(spec: HeadSpec, n: int, *, order=None) -> dict:
    """Everything about a head's run that does not need training (a pure function).

    Returns ``idx``, ``epoch`` ``(T, B)`` (:func:`~.train.minibatch_order`), ``lrs (T,)``
    (:func:`~.train.lr_schedule`), ``strengths (T, B)`` per visit (or None), ``influence`` =
    ``sum_visits s``, ``influence_per_epoch (E,)`` and ``lr_strength_cum (T + 1,)`` with
    ``[t] = sum_{u < t} eta_u mean_{i in b_u} g(s_i)``, ``g`` the logit-gradient bound
    (:func:`~.head_losses.logit_grad_bound_per_example`), summed in the order
    :func:`~.train.train` sums them. ``order``: the ``(idx, epoch)`` of this run if already
    drawn.
    """
    idx, epoch = order or minibatch_order(n, spec.n_steps, spec.batch_size, spec.seed)
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
    stat_group: np.ndarray | None = field(default=None, repr=False)
    _memo: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.specs)

    @torch.no_grad()
    def predict(self, idx, *, heads=None, init: bool = False) -> np.ndarray:
        """Logits ``(M, n, C)`` float32 of every head (or of ``heads``) on feature rows ``idx``
        (``(n,)`` shared or ``(M, n)`` per head); ``init=True``: those of the initial weights.
        Heads that share standardization and rows share one ``(n, D) @ (D, K C)`` product."""
        return _predict(self.features, self.mean, self.std,
                        self.init_weight if init else self.weight,
                        self.init_bias if init else self.bias, idx, heads, self.stat_group)

    def log(self, m: int) -> TrainLog:
        """Head ``m`` as the :class:`~.train.TrainLog` :func:`~.train.train` would return: the
        movement certificate of :mod:`.certificate` in ``extra`` (``kl_bound`` on ``heldout``)
        and, when early-stopping, ``extra["checkpoint"]`` as :class:`~.backend.BestCheckpoint`.
        ``seconds`` is the batched call's time divided by M."""
        return _head_log(self, m)


def standardized_rows(features: torch.Tensor, rows, mean: torch.Tensor,
                      std: torch.Tensor) -> torch.Tensor:
    """``x~ = (x - mu) / sd`` of the feature rows ``rows`` ``(n, D)``, float32 as a
    :class:`~.features.FeatureHead` forward sees them."""
    return (features[torch.as_tensor(rows, device=features.device)] - mean) / std


def _predict(features, mean, std, weight, bias, idx, heads, stat_group, max_elems=1 << 24):
    heads = np.arange(weight.shape[0]) if heads is None else np.asarray(heads, dtype=np.int64)
    idx = np.asarray(idx)
    if idx.ndim not in (1, 2) or (idx.ndim == 2 and idx.shape[0] != len(heads)):
        raise ValueError(f"idx must be (n,) or (n_heads={len(heads)}, n), got {idx.shape}")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"idx must be integer rows, got {idx.dtype}")
    if idx.size and (idx.min() < 0 or idx.max() >= features.shape[0]):
        raise ValueError(f"idx holds rows outside 0..{features.shape[0] - 1}")
    n, d, c = idx.shape[-1], features.shape[1], weight.shape[-1]
    out = np.empty((len(heads), n, c), dtype=np.float32)
    groups: dict = {}  # (standardization, rows) -> positions in heads
    for j, h in enumerate(heads):
        key = (int(stat_group[h]), idx[j].tobytes() if idx.ndim == 2 else b"")
        groups.setdefault(key, []).append(j)
    dev = features.device
    for js in groups.values():
        h0 = int(heads[js[0]])
        x = standardized_rows(features, idx[js[0]] if idx.ndim == 2 else idx, mean[h0], std[h0])
        chunk = max(1, max_elems // max(1, n * c))
        for start in range(0, len(js), chunk):
            part = np.asarray(js[start : start + chunk])
            hs = torch.as_tensor(heads[part])
            k = len(part)
            w = weight[hs].to(dev).permute(1, 0, 2).reshape(d, k * c)  # (D, k C)
            z = torch.addmm(bias[hs].to(dev).reshape(k * c), x, w)  # (n, k C)
            out[part] = z.view(n, k, c).permute(1, 0, 2).cpu().numpy()
    return out


def _scales(res: HeadsResult, m: int, rows: np.ndarray) -> np.ndarray:
    """``sqrt(||x~_i||^2 + 1)`` on ``rows`` under head m's standardization (as
    :func:`~.certificate.input_scales`), computed once per (standardization, rows)."""
    key = (int(res.stat_group[m]), rows.tobytes())
    if key not in res._memo:
        x = standardized_rows(res.features, rows, res.mean[m], res.std[m])
        res._memo[key] = torch.sqrt(x.pow(2).sum(1) + 1.0).double().cpu().numpy()  # (n,)
    return res._memo[key]


def _frozen_bias(spec: HeadSpec) -> str:
    """Why a head is not certified for having a frozen bias ('' when it fits one): the
    certificate's bounds are derived for a trained ``(W, b)``."""
    return "" if spec.fit_bias else "bias frozen (fit_bias=False): certificate derived for a trained bias"


def _head_log(res: HeadsResult, m: int) -> TrainLog:
    from .certificate import certificate_valid, kl_bound
    from .certificate_columns import FLOAT32_ALLOWANCE

    spec = res.specs[m]
    why = certificate_valid(spec.train_config()) or _frozen_bias(spec)
    lr_s = float(res.lr_strength_sum[m])
    scale_max = float(_scales(res, m, res.train_idx[m]).max())
    # the largest-norm formula without decay terms; a decayed head's bounds (B0 with its drift
    # term, and the data-dependent ones) come from heads_certificate.certify_head, as train.train records them
    bound = (lr_s * scale_max if not why and math.isfinite(lr_s) and spec.weight_decay == 0
             else math.nan)  # exact arithmetic; recorded with the float32 allowance
    extra = {
        "param_distance": float(res.param_distance[m]),
        "distance_bound": bound * (1 + FLOAT32_ALLOWANCE),
        "lr_strength_sum": lr_s,
        "certificate": why,
        "kl_from_init": float(res.kl_from_init[m]),
        "kl_bound": math.nan,
        "movement_step": int(res.movement_step[m]),
        "influence_per_epoch": [float(v) for v in res.influence_per_epoch[m]],
    }
    if res.heldout is not None:
        extra["kl_bound"] = kl_bound(bound, _scales(res, m, res.heldout[m]))
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

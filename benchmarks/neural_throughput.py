"""Training throughput of the neural W2S loop; batched vs the minibatch-1 accumulation pattern.

    python benchmarks/neural_throughput.py                  # CPU: examples/s for the default pair
    python benchmarks/neural_throughput.py --compare-loop   # also minibatch-1 accumulation (GPU: bf16)
    python benchmarks/neural_throughput.py --full-compare   # time `bayes-w2s neural compare` (defaults)
    python benchmarks/neural_throughput.py --embed-limit --n-embed 512   # embedding vs the GEMM peak

Measures, on real Rotten Tomatoes snippets (max length 64, batch 32, Adam):

* embedding throughput (sentences/s) of the weak and strong backbones (the one-off cost of
  the cached-features path) and head training examples/s on cached features;
* full-finetune training examples/s and tokens/s of the weak (minilm-l1) and strong (minilm);
* with ``--embed-limit`` (and nothing else): embedding tokens/s of MiniLM, mpnet and
  gemma-270m (frozen forward, every layer pooled, length-sorted batches as in
  ``embed_all_layers``) for several settings, interleaved over rounds (minimum kept), with
  the executed FLOPs ``sum_batches B T (2 P_lin + 4 L T d_attn)`` (``P_lin``: weights of every
  ``nn.Linear``; ``T``: the batch's trimmed length; ``d_attn = heads x head_dim``; padding
  counted, embeddings and norms not) divided by the measured peak of a 2048^3 ``torch.mm``
  (float32, and bfloat16 for the bf16 variant) at the same thread count -- and each
  variant's max |feature - float32 baseline|. On CUDA also the peak memory;
* with ``--compare-loop``: the same model and effective batch trained with the openai pattern
  (minibatch 1, gradient accumulation over 32) — tokens/s and peak GPU memory of both, and
  the ratio batched / accumulated.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
import torch
from bayes_w2s.neural.data import load_rotten_tomatoes
from bayes_w2s.neural.features import FeatureHead, embed_all_layers
from bayes_w2s.neural.losses import xent_loss
from bayes_w2s.neural.models import (
    ModelSpec,
    _is_decoder,
    build_classifier,
    load_backbone,
    pool,
    tokenize,
)
from bayes_w2s.neural.train import TrainConfig, _autocast, _batch, pick_device, train


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def batched_loop(model, enc, targets, steps, batch, device, lr=5e-5):
    """Our loop's pattern: one forward/backward per batch of ``batch`` examples."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train().to(device)
    n, tokens = len(targets), 0
    _sync(device)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.arange(step * batch, (step + 1) * batch) % n
        b = _batch(enc, idx, device)
        tokens += int(b["attention_mask"].sum())
        with _autocast(device):
            logits = model(**b)
        loss = xent_loss(logits.float(), targets[idx].to(device), step_frac=0.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    return steps * batch, tokens, time.perf_counter() - t0


def accumulation_loop(model, enc, targets, steps, batch, device, lr=5e-5):
    """The openai/weak-to-strong pattern: minibatch 1, gradients accumulated over ``batch``."""
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train().to(device)
    n, tokens = len(targets), 0
    _sync(device)
    t0 = time.perf_counter()
    for step in range(steps):
        opt.zero_grad(set_to_none=True)
        for j in range(batch):
            idx = torch.tensor([(step * batch + j) % n])
            b = _batch(enc, idx, device)
            tokens += int(b["attention_mask"].sum())
            with _autocast(device):
                logits = model(**b)
            (xent_loss(logits.float(), targets[idx].to(device), step_frac=0.0) / batch).backward()
        opt.step()
    _sync(device)
    return steps * batch, tokens, time.perf_counter() - t0


def _peak(device, fn, *args):
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    out = fn(*args)
    mem = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    return (*out, mem)


# --- embedding against the machine's arithmetic limit ------------------------------------------


def peak_gemm(device, dtype, n=2048, repeats=5):
    """Measured peak of one large ``torch.mm`` ``(n, n) @ (n, n)``: FLOP/s = 2 n^3 / min time."""
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    torch.mm(a, b)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        torch.mm(a, b)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best


def linear_params(backbone) -> int:
    """Weights in the matrix products of a forward pass (every ``nn.Linear``; no embeddings)."""
    return sum(m.weight.numel() for m in backbone.modules() if isinstance(m, torch.nn.Linear))


def attention_width(config) -> tuple[int, int]:
    """``(n_layers, n_heads * head_dim)`` of the attention products ``Q K^T`` and ``A V``."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return config.num_hidden_layers, heads * head_dim


def embed_variant(backbone, enc, order, how, device, *, batch, autocast, mode):
    """One pass of :func:`bayes_w2s.neural.features.embed_all_layers`' loop (length-sorted
    batches, every layer pooled): ``(features (L+1, n, H) float32 in sorted order, seconds,
    real tokens, executed FLOPs, peak memory MiB)``."""
    n_lin = linear_params(backbone)
    n_layers, width = attention_width(backbone.config)
    ctx = torch.inference_mode if mode == "inference_mode" else torch.no_grad
    out, tokens, flops = [], 0, 0.0
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    _sync(device)
    t0 = time.perf_counter()
    with ctx():
        for start in range(0, len(order), batch):
            b = _batch(enc, order[start : start + batch], device)
            bsz, length = b["input_ids"].shape
            tokens += int(b["attention_mask"].sum())
            flops += bsz * length * 2 * n_lin + bsz * n_layers * 4 * length * length * width
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                hs = backbone(**b, output_hidden_states=True).hidden_states  # L+1 x (B, T, H)
            out.append(torch.stack([pool(h.float(), b["attention_mask"], how) for h in hs]).cpu())
    _sync(device)
    dt = time.perf_counter() - t0
    mem = torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else float("nan")
    return torch.cat(out, dim=1), dt, tokens, flops, mem


EMBED_VARIANTS = {  # name: (batch, bf16 autocast, grad mode, threads (0: all))
    "fp32 no_grad b128 (before)": (128, False, "no_grad", 0),
    "fp32 inference_mode b128 (today)": (128, False, "inference_mode", 0),
    "fp32 inference_mode b32": (32, False, "inference_mode", 0),
    "fp32 inference_mode b512": (512, False, "inference_mode", 0),
    "bf16 autocast b128": (128, True, "inference_mode", 0),
    "fp32 inference_mode b128, 1 thread": (128, False, "inference_mode", 1),
}


def embed_limit(models, texts, max_length, device, repeats, attn):
    """Tokens/s of every variant, interleaved over ``repeats`` rounds (minimum kept), against
    the measured GEMM peak; max |feature - fp32 baseline| over every pooled layer."""
    threads = torch.get_num_threads()
    peaks = {"fp32": peak_gemm(device, torch.float32)}
    try:
        peaks["bf16"] = peak_gemm(device, torch.bfloat16)
    except RuntimeError as exc:  # pragma: no cover - depends on the machine
        print(f"bf16 GEMM unsupported: {exc}")
    print(f"[peak] torch.mm 2048^3, {threads} threads: " + ", ".join(f"{k} {v / 1e9:.1f} GFLOP/s" for k, v in peaks.items()))
    rows = []
    for name in models:
        spec = ModelSpec.parse(name)
        t_load = time.perf_counter()
        backbone, tokenizer = load_backbone(ModelSpec(spec.source, None, spec.params))
        backbone.eval().to(device)
        if attn:
            backbone.set_attn_implementation(attn)
        how = "last" if _is_decoder(backbone.config) else "mean"
        enc = tokenize(tokenizer, texts, max_length)
        order = torch.argsort(enc["attention_mask"].sum(1), descending=True)
        if not rows:
            print("| model | variant | tokens/s | FLOP/token | MFU (vs peak GEMM) | max abs diff vs fp32 | peak MiB |")
            print("|---|---|---|---|---|---|---|")
        print(f"[load] {name}: {time.perf_counter() - t_load:.1f} s, {linear_params(backbone) / 1e6:.1f}M matmul weights, "
              f"attention {backbone.config._attn_implementation}")
        variants = {k: v for k, v in EMBED_VARIANTS.items() if device.type == "cpu" or v[3] == 0}
        best, ref = {}, None
        for rnd in range(repeats):
            for vname, (batch, autocast, mode, nthreads) in variants.items():
                torch.set_num_threads(nthreads or threads)
                feats, dt, tokens, flops, mem = embed_variant(backbone, enc, order, how, device, batch=batch, autocast=autocast, mode=mode)
                torch.set_num_threads(threads)
                if ref is None:
                    ref = feats  # the first variant (no_grad, the former setting) is the float32 reference
                diff = float((feats - ref).abs().max())
                if vname not in best or dt < best[vname][0]:
                    best[vname] = (dt, tokens, flops, mem, diff)
        for vname, (dt, tokens, flops, mem, diff) in best.items():
            peak = peaks["bf16" if EMBED_VARIANTS[vname][1] and "bf16" in peaks else "fp32"]
            rows.append((name, vname, tokens / dt, flops / tokens, flops / dt / peak, diff, mem))
            print(f"| {name} | {vname} | {tokens / dt:.0f} | {flops / tokens / 1e6:.1f}M | {flops / dt / peak:.1%} | "
                  f"{diff:.1e} | {mem:.0f} |", flush=True)
        del backbone
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--device", default="auto")
    ap.add_argument("--steps", type=int, default=8, help="optimizer steps per finetune measurement")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument(
        "--n-embed", type=int, default=1024, help="sentences for the embedding measurement"
    )
    ap.add_argument("--models", default="minilm-l1,minilm")
    ap.add_argument("--compare-loop", action="store_true")
    ap.add_argument("--full-compare", action="store_true")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--embed-limit", action="store_true",
                    help="only: embedding tokens/s of --embed-models against the measured GEMM peak")
    ap.add_argument("--embed-models", default="minilm,mpnet,gemma-270m")
    ap.add_argument("--repeats", type=int, default=2, help="interleaved rounds (--embed-limit)")
    ap.add_argument("--attn", default="", help="attention implementation to set, e.g. sdpa or eager")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    data = load_rotten_tomatoes()
    if args.embed_limit:
        embed_limit(args.embed_models.split(","), list(data.texts[: args.n_embed]), args.max_length, device, args.repeats, args.attn)
        return 0
    texts = list(data.texts[: max(args.n_embed, args.steps * args.batch)])
    labels = torch.as_tensor(data.labels[: len(texts)])
    targets = torch.nn.functional.one_hot(labels, 2).float()  # (n, 2)

    backbones = {}
    for name in args.models.split(","):  # truncations share their backbone's single pass
        spec = ModelSpec.parse(name)
        backbones.setdefault(ModelSpec(spec.source, None, spec.params), name)
    for spec, name in backbones.items():
        embed_all_layers(
            spec, texts[:32], max_length=args.max_length, device=device
        )  # load + warm-up
        t0 = time.perf_counter()
        embed_all_layers(spec, texts[: args.n_embed], max_length=args.max_length, device=device)
        dt = time.perf_counter() - t0
        print(
            f"[embed] {spec.source}: {args.n_embed / dt:.0f} sentences/s (all layers in one pass, "
            f"incl. model load)"
        )

    feats = np.random.default_rng(0).normal(size=(4000, 384)).astype(np.float32)
    head = FeatureHead(384, 2)
    log = train(
        head,
        {"features": torch.from_numpy(feats)},
        np.eye(2)[np.arange(4000) % 2],
        xent_loss,
        TrainConfig(lr=1e-3, epochs=10),
        seed=0,
        device="cpu",
        progress=False,
    )
    print(
        f"[features] linear head, 4000 examples x 10 epochs: {log.examples_per_s:.0f} examples/s "
        f"({log.seconds:.2f} s)"
    )

    for name in args.models.split(","):
        model, tok = build_classifier(name, 2, "finetune", seed=0)
        enc = tokenize(tok, texts, args.max_length)
        batched_loop(model, enc, targets, 1, args.batch, device)  # warm-up
        ex, tokens, dt, mem = _peak(
            device, batched_loop, model, enc, targets, args.steps, args.batch, device
        )
        print(
            f"[finetune] {name}: {ex / dt:.1f} examples/s, {tokens / dt:.0f} tokens/s, batch {args.batch}, "
            f"peak GPU memory {mem:.0f} MiB"
        )
        if args.compare_loop:
            ex2, tokens2, dt2, mem2 = _peak(
                device, accumulation_loop, model, enc, targets, args.steps, args.batch, device
            )
            print(
                f"[finetune] {name} minibatch-1 x {args.batch} accumulation: {ex2 / dt2:.1f} examples/s, "
                f"{tokens2 / dt2:.0f} tokens/s, peak GPU memory {mem2:.0f} MiB"
            )
            print(
                f"[ratio] {name}: batched / accumulated tokens/s = {(tokens / dt) / (tokens2 / dt2):.2f}x; "
                f"peak memory ratio {mem / mem2:.2f}"
            )

    if args.full_compare:
        t0 = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "bayes_w2s.neural.cli",
                "compare",
                "--no-progress",
                "--out",
                "runs/benchmark",
            ],
            check=True,
        )
        print(
            f"[compare] full `bayes-w2s neural compare` (weak, ceiling, 5 methods, 3 seeds): "
            f"{time.perf_counter() - t0:.1f} s wall"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

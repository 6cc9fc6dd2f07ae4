"""Model specs, pooling, the three training modes on tiny random configs."""

import pytest
import torch
from bayes_w2s.neural.models import ModelSpec, build_classifier, pool, tokenize


def test_spec_parsing_and_errors():
    assert ModelSpec.parse("minilm-l2") == ModelSpec("minilm", 2)
    assert ModelSpec.parse("minilm") == ModelSpec("minilm", None)
    assert ModelSpec.parse("tiny-bert:hidden=16,layers=1").params == (("hidden", 16),)
    with pytest.raises(ValueError, match="6 layers"):
        ModelSpec.parse("minilm-l9")
    with pytest.raises(ValueError, match="tiny"):
        ModelSpec.parse("tiny-lstm")
    with pytest.raises(ValueError, match="key=integer"):
        ModelSpec.parse("tiny-bert:hidden=big")
    with pytest.raises(FileNotFoundError, match="unknown model path"):
        ModelSpec.parse("no/such-model-anywhere").path()


def test_pooling_mean_and_last():
    h = torch.arange(12.0).reshape(1, 4, 3).repeat(2, 1, 1)  # (2, 4, 3)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    assert torch.allclose(pool(h, mask, "mean")[0], h[0, :2].mean(0))
    assert torch.equal(pool(h, mask, "last"), torch.stack([h[0, 1], h[1, 3]]))


@pytest.mark.parametrize(
    "spec, pooling",
    [("tiny-bert:hidden=16,layers=1", "mean"), ("tiny-gpt2:hidden=16,layers=1", "last")],
)
def test_classifier_modes(spec, pooling):
    counts = {}
    for mode in ("finetune", "probe", "lora"):
        model, tok = build_classifier(spec, 3, mode, seed=0)
        assert model.pooling == pooling
        enc = tokenize(tok, ["a good film", "bad"], max_length=8)
        logits = model(**enc)
        assert logits.shape == (2, 3)
        counts[mode] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counts["probe"] == 16 * 3 + 3  # the head only
    assert counts["probe"] < counts["lora"] < counts["finetune"]


def test_tiny_models_are_seeded():
    a, _ = build_classifier("tiny-bert:hidden=16,layers=1,seed=5", 2)
    b, _ = build_classifier("tiny-bert:hidden=16,layers=1,seed=5", 2)
    c, _ = build_classifier("tiny-bert:hidden=16,layers=1,seed=6", 2)
    pa, pb, pc = (next(m.backbone.parameters()) for m in (a, b, c))
    assert torch.equal(pa, pb) and not torch.equal(pa, pc)


def test_tokenizers_pad_on_the_right_even_when_saved_left(tmp_path):
    # last-token pooling and batch trimming assume right padding; gemma's tokenizer pads left
    from bayes_w2s.neural.models import load_tokenizer

    tok = load_tokenizer("minilm")
    tok.padding_side = "left"
    tok.save_pretrained(tmp_path)
    again = load_tokenizer(str(tmp_path))
    assert again.padding_side == "right"
    enc = again(["a b", "a b c d e"], padding="max_length", max_length=8)
    assert enc["attention_mask"][0][:2] == [1, 1] and enc["attention_mask"][0][-1] == 0

"""Shared fixtures for the neural tests: one thread, an isolated on-disk cache, tiny specs."""

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

WEAK = "tiny-bert:hidden=16,layers=1,seed=3"
STRONG = "tiny-bert:hidden=32,layers=2,seed=1"


@pytest.fixture
def cache(tmp_path):
    from bayes_w2s.neural.cache import ArrayCache

    return ArrayCache(tmp_path / "cache")


@pytest.fixture
def tiny_cfg():
    from bayes_w2s.neural.pipeline import W2SConfig

    return W2SConfig(
        weak=WEAK,
        strong=STRONG,
        dataset="synthetic:n=300",
        mode="features",
        n_weak_train=100,
        n_weak_label=100,
        n_test=100,
        max_length=16,
    )

"""The neural cache drops and recomputes a bad entry, and keys local models by content."""

import numpy as np
import pytest

pytest.importorskip("torch")

from bayes_w2s.neural.cache import ArrayCache  # noqa: E402
from bayes_w2s.neural.models import ModelSpec, content_fingerprint  # noqa: E402


def _fill(cache, value):
    return cache.get_or_compute("weak", {"k": 1}, lambda: {"q": np.full(3, value)})


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_a_damaged_entry_is_dropped_and_recomputed(tmp_path, damage):
    cache = ArrayCache(tmp_path)
    _fill(cache, 0.5)
    path = cache.path("weak", {"k": 1})
    raw = path.read_bytes()
    path.write_bytes({"truncate": raw[: len(raw) // 2], "garbage": b"not a zip" * 10, "empty": b""}[damage])
    again = ArrayCache(tmp_path)
    np.testing.assert_array_equal(_fill(again, 0.25)["q"], [0.25] * 3)  # recomputed, not raised
    assert again.misses == {"weak": 1} and not again.hits
    np.testing.assert_array_equal(_fill(ArrayCache(tmp_path), 9.0)["q"], [0.25] * 3)  # and stored


def test_an_entry_with_nan_is_not_used(tmp_path):
    cache = ArrayCache(tmp_path)
    _fill(cache, np.nan)
    again = ArrayCache(tmp_path)
    np.testing.assert_array_equal(_fill(again, 0.5)["q"], [0.5] * 3)
    assert again.misses == {"weak": 1}


def test_a_local_model_is_keyed_by_its_contents_not_its_path(tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    (folder / "weights.bin").write_bytes(b"\x00" * 64)
    spec = ModelSpec.parse(str(folder))
    before = spec.key()
    assert "content=" in before and before == ModelSpec.parse(str(folder)).key()
    (folder / "weights.bin").write_bytes(b"\x01" * 64)  # same path, same size, new weights
    assert spec.key() != before
    assert content_fingerprint(folder) != content_fingerprint(tmp_path / "model" / "config.json")


def test_aliases_keep_their_key():
    assert ModelSpec.parse("minilm-l1").key() == "minilm|layers=1|"

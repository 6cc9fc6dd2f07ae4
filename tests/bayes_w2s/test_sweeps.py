"""Sweeps: grid/seed parsing, exact resumption after SIGKILL, manifest checks, backends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from bayes_w2s.simulations import misfit

from bayes_w2s.harness import cli, executors, sweeps
from bayes_w2s.harness.executors import CellError, make_executor
from bayes_w2s.harness.sweeps import SweepError, parse_grid, parse_seeds, plan_cells, run_sweep

TINY = {
    "n_replicates": 2,
    "n_pool": 200,
    "n_test": 50,
    "weak_dims": (2, 8),
    "radius_factors": (1.0,),
}
TINY_GRID = {"label_noise": [0.5, 1.0], "n_weak_train": [16, 32]}
# Cells slow enough (~0.1 s each) that a SIGKILL lands mid-sweep.
SLOW = {"n_replicates": 4, "n_pool": 1000, "n_test": 200}
SLOW_GRID = {"label_noise": [0.5, 1.0, 2.0]}
SLOW_SEEDS = [0, 1, 2, 3]
SLOW_ARGS = ["--grid", "label_noise=0.5,1.0,2.0", "--seeds", "0-3", "--n-replicates", "4", "--n-pool", "1000",
             "--n-test", "200"]  # fmt: skip


# --- parsing -------------------------------------------------------------------------------


def test_parse_seeds_ranges_and_lists():
    assert parse_seeds("0-3") == [0, 1, 2, 3]
    assert parse_seeds("5") == [5]
    assert parse_seeds("0,4,7-8") == [0, 4, 7, 8]


@pytest.mark.parametrize(
    "text, message",
    [
        ("a-b", "cannot parse seeds"),
        ("3-1", "need 0 <= first <= last"),
        ("0-2,1", "repeat a seed"),
        ("", "cannot parse"),
    ],
)
def test_parse_seeds_errors(text, message):
    with pytest.raises(SweepError, match=message):
        parse_seeds(text)


def test_parse_grid_types_values_like_the_defaults():
    grid = parse_grid(["label_noise=0.5,1", "n-pool=100,200", "weak_dims=1,2/4,8"], misfit.Config)
    assert grid == {"label_noise": [0.5, 1.0], "n_pool": [100, 200], "weak_dims": [(1, 2), (4, 8)]}
    assert all(isinstance(v, float) for v in grid["label_noise"])


@pytest.mark.parametrize(
    "spec, message",
    [
        (["label_nois=1,2"], "unknown grid key 'label_nois' \\(did you mean 'label_noise'\\?\\)"),
        (["bogus=1"], "unknown grid key 'bogus'; .*Config has: n_replicates"),
        (["seed=1,2"], "'seed' cannot be a grid key: give seeds with --seeds"),
        (["label_noise"], "bad grid spec 'label_noise': expected KEY=V1,V2"),
        (["label_noise="], "bad grid spec"),
        (["n_pool=10", "n_pool=20"], "grid key 'n_pool' given twice"),
        (["n_pool=10,abc"], "--grid n_pool: expected an integer, got 'abc'"),
    ],
)
def test_parse_grid_errors(spec, message):
    with pytest.raises(SweepError, match=message):
        parse_grid(spec, misfit.Config)


def test_plan_cells_errors():
    with pytest.raises(SweepError, match="label_noise given both as grid key and as fixed option"):
        plan_cells("misfit", misfit.Config, {"label_noise": [1.0]}, [0], base={"label_noise": 2.0})
    with pytest.raises(
        SweepError, match="invalid config at grid point .*radius_factors must be >= 1"
    ):
        plan_cells("misfit", misfit.Config, {"radius_factors": [(0.5,)]}, [0])
    with pytest.raises(SweepError, match="grid key 'n_pool' repeats a value"):
        plan_cells("misfit", misfit.Config, {"n_pool": [10, 10]}, [0])
    with pytest.raises(SweepError, match="seeds must be distinct non-negative integers"):
        plan_cells("misfit", misfit.Config, {}, [1, 1])


def test_cell_ids_are_distinct_and_fixed_by_the_config():
    cells = plan_cells("misfit", misfit.Config, TINY_GRID, [0, 1], base=TINY)
    assert len(cells) == 8 and len({c.cell_id for c in cells}) == 8
    again = plan_cells("misfit", misfit.Config, TINY_GRID, [0, 1], base=TINY)
    assert [c.cell_id for c in again] == [c.cell_id for c in cells]
    assert cells[1].tags == {
        "label_noise": 0.5,
        "n_weak_train": 16,
        "seed": 1,
        "cell_id": cells[1].cell_id,
    }


# --- serial sweeps: determinism, resumption, refusals ------------------------------------------


def _serial(folder, seeds=(0, 1), **kw):
    return run_sweep("misfit", TINY_GRID, list(seeds), folder, base=TINY, executor="serial", **kw)


def test_sweep_table_is_tagged_and_deterministic(tmp_path):
    first, _second = _serial(tmp_path / "a"), _serial(tmp_path / "b")
    assert (tmp_path / "a" / "results.csv").read_bytes() == (
        tmp_path / "b" / "results.csv"
    ).read_bytes()
    df = first.table
    assert list(df.columns[:4]) == ["label_noise", "n_weak_train", "seed", "cell_id"]
    rows_per_cell = len(misfit.run(misfit.Config(**TINY)))
    assert len(df) == 8 * rows_per_cell and df.groupby("cell_id").size().eq(rows_per_cell).all()
    # Each cell's rows are exactly the experiment's run at that config.
    one = (
        df[(df.label_noise == 1.0) & (df.n_weak_train == 32) & (df.seed == 1)]
        .iloc[:, 4:]
        .reset_index(drop=True)
    )
    direct = misfit.run(misfit.Config(**TINY, label_noise=1.0, n_weak_train=32, seed=1))
    pd.testing.assert_frame_equal(one, direct, check_exact=False, rtol=1e-15)
    assert first.n_computed == 8 and first.n_resumed == 0
    meta = json.loads((tmp_path / "a" / "config.json").read_text())
    assert meta["experiment"] == "misfit" and meta["sweep"]["seeds"] == [0, 1]


@pytest.mark.parametrize("damage", ["drop_last_rows", "cut_mid_line", "unmarked", "bad_marker"])
def test_resume_recomputes_a_damaged_cell(tmp_path, damage):
    """A cell whose .csv no longer matches its marker (or has none) is recomputed, not trusted."""
    folder = tmp_path / "s"
    _serial(folder)
    reference = (folder / "results.csv").read_bytes()
    cell = sorted((folder / "cells").glob("*.csv"))[2]
    marker = cell.with_suffix(".json")
    assert json.loads(marker.read_text())["rows"] == len(pd.read_csv(cell))
    lines = cell.read_text().splitlines(keepends=True)
    if damage == "drop_last_rows":  # still a well-formed CSV: only the checksum can tell
        cell.write_text("".join(lines[:-3]))
        assert len(pd.read_csv(cell)) == len(lines) - 4
    elif damage == "cut_mid_line":
        cell.write_text("".join(lines)[: len("".join(lines)) // 2])
    elif damage == "unmarked":  # e.g. left by a version without cell markers
        marker.unlink()
    else:
        marker.write_text("{not json")
    (folder / "results.csv").unlink()
    again = _serial(folder)
    assert (again.n_computed, again.n_resumed, again.n_repaired) == (1, 7, 1)
    assert (folder / "results.csv").read_bytes() == reference


def test_resume_recomputes_only_missing_cells(tmp_path):
    folder = tmp_path / "s"
    full = _serial(folder)
    reference = (folder / "results.csv").read_bytes()
    cell_files = sorted((folder / "cells").glob("*.csv"))
    for path in cell_files[:3]:
        path.unlink()
    (folder / "results.csv").unlink()
    (folder / "cells" / ".torn.csv.tmp").write_text("label_noise,n_w")  # a write cut short
    again = _serial(folder)
    assert (again.n_computed, again.n_resumed) == (3, 5)
    assert (folder / "results.csv").read_bytes() == reference
    assert not list((folder / "cells").glob(".*"))
    assert full.table["cell_id"].nunique() == 8


def test_refuses_to_resume_into_a_different_sweep(tmp_path):
    _serial(tmp_path / "s", seeds=(0,))
    with pytest.raises(
        SweepError, match=r"holds a different sweep \(seeds: \[0\] here, \[0, 1\] now\)"
    ):
        _serial(tmp_path / "s", seeds=(0, 1))
    with pytest.raises(SweepError, match="config: .*refusing to resume"):
        run_sweep(
            "misfit",
            TINY_GRID,
            [0],
            tmp_path / "s",
            base={**TINY, "n_pool": 300},
            executor="serial",
        )


def test_refuses_a_foreign_or_busy_folder(tmp_path):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SweepError, match="exists and is not a sweep folder"):
        _serial(foreign)
    fcntl = pytest.importorskip("fcntl")
    busy = tmp_path / "busy"
    busy.mkdir()
    with open(busy / ".lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(SweepError, match="another sweep is running in"):
            _serial(busy)


def test_failed_cell_keeps_finished_cells(tmp_path, monkeypatch):
    real_run = misfit.run

    def flaky(cfg):
        if cfg.seed == 1:
            raise RuntimeError("boom")
        return real_run(cfg)

    monkeypatch.setattr(misfit, "run", flaky)
    with pytest.raises(CellError, match="cell [0-9a-f]{16} failed: RuntimeError: boom"):
        _serial(tmp_path / "s")
    assert len(list((tmp_path / "s" / "cells").glob("*.csv"))) == 1  # seed 0 of the first point
    assert not (tmp_path / "s" / "results.csv").exists()


# --- executors -----------------------------------------------------------------------------


def test_make_executor_errors(monkeypatch):
    with pytest.raises(
        ValueError, match="unknown executor 'spark'; choose one of local, serial, dask, ray"
    ):
        make_executor("spark")
    with pytest.raises(ValueError, match="workers must be a positive integer, got 0"):
        make_executor("local", workers=0)
    with pytest.raises(
        ValueError, match="--address is for the dask and ray executors, not 'local'"
    ):
        make_executor("local", address="tcp://x:1")
    monkeypatch.setitem(sys.modules, "distributed", None)
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(
        ImportError,
        match=r"needs the 'distributed' package: pip install 'bayes-w2s\[distributed\]'",
    ):
        make_executor("dask")
    with pytest.raises(
        ImportError, match=r"needs the 'ray' package: pip install 'bayes-w2s\[ray\]'"
    ):
        make_executor("ray")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The SLOW sweep, uninterrupted, on the local pool: the reference for kill/resume and Dask."""
    folder = tmp_path_factory.mktemp("ref") / "sweep"
    return run_sweep(
        "misfit", SLOW_GRID, SLOW_SEEDS, folder, base=SLOW, executor="local", workers=2
    )


def assert_same_rows(path: Path, reference: sweeps.SweepResult):
    """Same rows in the same order; floats to 1e-12 (BLAS thread counts may differ by backend)."""
    table = pd.read_csv(path)
    assert table["cell_id"].tolist() == reference.table["cell_id"].tolist()
    pd.testing.assert_frame_equal(table, reference.table, check_exact=False, rtol=1e-12, atol=1e-14)


def _group(pgid: int) -> set[int]:
    """Pids of the live processes in process group ``pgid`` (Linux /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            state, _ppid, group = stat.read_text().rsplit(")", 1)[1].split()[:3]
        except (OSError, ValueError):
            continue
        if int(group) == pgid and state != "Z":
            out.add(int(stat.parent.name))
    return out


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc to find the pool workers"
)
def test_sigkill_mid_sweep_then_rerun_gives_the_same_rows(tmp_path, reference):
    folder = tmp_path / "sweep"
    cmd = [sys.executable, "-m", "bayes_w2s.harness.cli", "sweep", "misfit", *SLOW_ARGS, "--executor", "local",
           "--workers", "2", "--dir", str(folder), "--no-figures", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while len(list((folder / "cells").glob("*.json"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "sweep made no progress"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)  # the driver dies; its pool workers must follow
        proc.wait()
        done = len(list((folder / "cells").glob("*.json")))  # a cell is done once marked
        assert 2 <= done < 12 and not (folder / "results.csv").exists()
        deadline = time.monotonic() + 10
        while _group(proc.pid):
            assert time.monotonic() < deadline, "orphaned pool workers outlived the driver"
            time.sleep(0.1)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    rerun = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"({12 - done} computed, {done} resumed)" in rerun.stdout
    table = pd.read_csv(folder / "results.csv")
    assert table["cell_id"].nunique() == 12 and not table.duplicated().any()
    assert_same_rows(folder / "results.csv", reference)
    # Same backend as the reference, so the same bytes: resuming changes nothing.
    assert (folder / "results.csv").read_bytes() == (reference.folder / "results.csv").read_bytes()


def test_dask_local_cluster_gives_the_same_table_as_local(tmp_path, reference):
    pytest.importorskip("distributed")
    folder = tmp_path / "dask"
    result = run_sweep(
        "misfit", SLOW_GRID, SLOW_SEEDS, folder, base=SLOW, executor="dask", workers=2
    )
    assert result.n_computed == 12
    assert_same_rows(folder / "results.csv", reference)


@pytest.mark.slow
def test_ray_gives_the_same_table_as_serial(tmp_path):
    pytest.importorskip("ray")  # the [ray] extra is optional; Dask above is the tested default
    reference = _serial(tmp_path / "serial")
    folder = tmp_path / "ray"
    result = run_sweep("misfit", TINY_GRID, [0, 1], folder, base=TINY, executor="ray", workers=2)
    assert result.n_computed == 8
    assert_same_rows(folder / "results.csv", reference)


# --- command line --------------------------------------------------------------------------


def test_cli_sweep_then_figures(tmp_path, capsys):
    from bayes_w2s.harness import cli

    args = ["sweep", "misfit", "--grid", "label_noise=0.5,1.0", "--seeds", "0-1", "--executor", "serial",
            "--n-replicates", "2", "--n-pool", "200", "--n-test", "50", "--out", str(tmp_path), "--no-progress",
            "--no-figures"]  # fmt: skip
    assert cli.main(args) == 0
    folder = tmp_path / "misfit__n_replicates=2__n_pool=200__n_test=50__sweep__label_noise"
    assert "4 cells (4 computed, 0 resumed)" in capsys.readouterr().out
    assert (folder / "manifest.json").is_file() and not (folder / "gain_vs_misfit.png").exists()
    assert (folder / "complete.json").is_file()  # the consolidated table is marked too
    assert cli.main(["figures", str(folder)]) == 0
    assert (folder / "gain_vs_misfit.png").is_file()
    assert cli.main(args) == 0  # a finished sweep re-run is a no-op
    assert "4 cells (0 computed, 4 resumed)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--grid", "bogus=1"], "unknown grid key 'bogus'"),
        (["--seed", "3"], "give seeds with --seeds, not --seed"),
        (["--seeds", "x"], "cannot parse seeds 'x'"),
    ],
)
def test_cli_usage_errors(tmp_path, capsys, extra, message):
    assert cli.main(["sweep", "misfit", "--executor", "serial", "--out", str(tmp_path), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []  # refused before any folder is made


def test_cli_unknown_experiment(capsys):
    assert cli.main(["sweep", "nope"]) == 2
    assert "no experiment named 'nope'" in capsys.readouterr().err


def test_executor_names_are_documented():
    assert set(executors.EXECUTORS) == {"local", "serial", "dask", "ray"}
    for name in executors.EXECUTORS:
        assert name in sweeps.__doc__

"""Issue 17 (CLI items) and issue 16 (files): --config, never overwriting a finished run,
one folder naming scheme, `cache info|clear`, --quiet/--verbose, strict JSON, clear errors
for corrupted or undecodable files, up-front resource estimates."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from bayes_w2s.harness import cli
from bayes_w2s.harness.configfile import read_json, strict_json
from bayes_w2s.harness.options import UsageError
from bayes_w2s.harness.runs import fresh_folder, run_folder_name, write_run
from bayes_w2s.simulations import coinflip

TINY = ["--n", "200", "--replicates", "2", "--grid-size", "21", "--no-figures"]


def test_run_reruns_from_its_own_config_into_a_new_folder(tmp_path, capsys):
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), *TINY]) == 0
    first = tmp_path / "coinflip__n=200__replicates=2__grid_size=21"
    assert (first / "complete.json").is_file()
    # the folder's config.json as --config reproduces the run; a finished folder is never overwritten
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), "--no-figures", "--config",
                     str(first / "config.json")]) == 0
    second = tmp_path / "coinflip__n=200__replicates=2__grid_size=21__2"
    assert (second / "results.csv").read_bytes() == (first / "results.csv").read_bytes()
    assert f"wrote {second}" in capsys.readouterr().out
    # --overwrite replaces the folder in place
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), *TINY, "--overwrite"]) == 0
    assert not (tmp_path / "coinflip__n=200__replicates=2__grid_size=21__3").exists()


def test_toml_config_with_command_line_overrides(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('n = 200\nreplicates = 2\ngrid-size = 21\nseed = 5\n')
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), "--no-figures", "--config", str(cfg),
                     "--seed", "3"]) == 0
    folder = tmp_path / "coinflip__seed=3__n=200__replicates=2__grid_size=21"
    meta = json.loads((folder / "config.json").read_text())
    assert meta["config"]["seed"] == 3 and meta["config"]["n"] == 200


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("n = 9\n", "n (--n): must be an integer ≥ 10, got 9"),
        ("bogus = 1\n", "unknown key 'bogus'"),
        ("n = \n", "not valid TOML"),
        ("epsilon = nan\n", "expected a finite number"),
    ],
)
def test_bad_config_files_are_one_line(tmp_path, capsys, text, fragment):
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    assert cli.main(["run", "coinflip", "--out", str(tmp_path / "o"), "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_config_of_another_experiment_is_refused(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"experiment": "misfit", "config": {}}))
    assert cli.main(["run", "coinflip", "--config", str(tmp_path / "config.json")]) == 2
    assert "a config of 'misfit', not 'coinflip'" in capsys.readouterr().err


def test_one_naming_scheme_and_fresh_folders(tmp_path):
    assert run_folder_name("coinflip", coinflip.Config()) == "coinflip"
    assert run_folder_name("coinflip", coinflip.Config(n=500)) == "coinflip__n=500"
    long = run_folder_name("coinflip", coinflip.Config(bounded_schedule="pseries:c=" + "1" * 150 + ",p=2"))
    assert len(long) <= 120 and "__h=" in long
    write_run(tmp_path / "x", "coinflip", coinflip.Config(), coinflip.run(coinflip.Config(n=20, replicates=1,
                                                                                         grid_size=5)))
    assert fresh_folder(tmp_path, "x") == tmp_path / "x__2"
    assert fresh_folder(tmp_path, "x", overwrite=True) == tmp_path / "x"
    (tmp_path / "y").mkdir()  # a killed run (no marker) is reused
    assert fresh_folder(tmp_path, "y") == tmp_path / "y"


def test_neural_folders_use_the_same_scheme():
    pytest.importorskip("torch")
    from bayes_w2s.neural.compare import CompareConfig, folder_name
    from bayes_w2s.neural.pipeline import W2SConfig

    assert folder_name("neural_compare", CompareConfig()) == "neural_compare"
    name = folder_name("neural_compare", CompareConfig(base=W2SConfig(weak="minilm-l1"), seeds=(0, 1)))
    assert name == "neural_compare__weak=minilm-l1__seeds=0,1"


def test_cache_info_and_clear(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    from bayes_w2s.neural.cache import ArrayCache

    monkeypatch.setenv("BAYES_W2S_CACHE", str(tmp_path / "cache"))  # never the shared cache
    cache = ArrayCache()
    cache.get_or_compute("features", {"a": 1}, lambda: {"x": np.zeros(1000)})
    cache.get_or_compute("weak", {"a": 2}, lambda: {"x": np.ones(10)})
    assert cli.main(["cache", "info"]) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "cache") in out and "in 2 entries" in out and "features: 1 entries" in out
    assert cli.main(["cache", "clear"]) == 1  # needs --yes
    assert "would remove 2 entries" in capsys.readouterr().out
    assert cli.main(["cache", "clear", "--yes"]) == 0
    assert "removed 2 entries" in capsys.readouterr().out
    assert not list((tmp_path / "cache").rglob("*.npz"))
    assert cli.main(["cache", "bogus"]) == 2


def test_quiet_and_verbose_set_the_logger_level(tmp_path):
    logger = logging.getLogger("bayes_w2s")
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), *TINY, "--quiet"]) == 0
    assert logger.level == logging.WARNING
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), *TINY, "-v"]) == 0
    assert logger.level == logging.DEBUG
    assert cli.main(["run", "coinflip", "-q", "-v"]) == 2  # one or the other


def test_strict_json_everywhere(tmp_path):
    text = strict_json({"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5]})
    assert json.loads(text) == {"a": "nan", "b": ["inf", "-inf", 1.5]}
    cfg = coinflip.Config(n=20, replicates=1, grid_size=5)
    write_run(tmp_path, "coinflip", cfg, coinflip.run(cfg), extra={"score": float("nan")})
    for name in ("config.json", "complete.json"):
        json.loads((tmp_path / name).read_text(), parse_constant=lambda c: pytest.fail(f"{c} in {name}"))


def test_corrupted_and_binary_files_name_the_file(tmp_path, capsys):
    bad = tmp_path / "manifest.json"
    bad.write_text('{"format": "bayes-w2s-sweep/1", "grid": "unterminated')
    with pytest.raises(UsageError, match=r"manifest.json: corrupted sweep manifest, not valid JSON \(line 1"):
        read_json(bad, "sweep manifest")
    binary = tmp_path / "config.json"
    binary.write_bytes(b'{"a":\n 1}\n\xff\xfe')
    with pytest.raises(UsageError, match=r"config.json: line 3: not UTF-8 text \(byte 0xff\)"):
        read_json(binary, "config.json")
    # a sweep folder with a corrupted manifest: one line naming the file
    folder = tmp_path / "sw"
    folder.mkdir()
    (folder / "manifest.json").write_text('{"format": "bayes-w2s-sweep/1", "experiment": "mis')
    assert cli.main(["sweep", "misfit", "--dir", str(folder), "--executor", "serial", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{folder / 'manifest.json'}: corrupted sweep manifest" in err and err.count("\n") == 1


def test_undecodable_data_file_names_file_and_line(tmp_path):
    pytest.importorskip("torch")
    from bayes_w2s.neural.data import DataFormatError, load_dataset

    path = tmp_path / "d.csv"
    path.write_bytes(b"text,label\ngood,1\nbad \xff row,0\n")
    with pytest.raises(DataFormatError, match=r"d.csv:3: not UTF-8 text \(byte 0xff\)"):
        load_dataset(str(path))


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", "bootstrap", "--strong-angles", "1e9"], "of memory, more than this machine's"),
        (["run", "misfit", "--input-dim", "1e7"], "lower --input-dim"),
        (["run", "reward_model", "--n", "1e13"], "above the cap"),
        (["sweep", "misfit", "--seeds", "0-1000000000"], "asks for 1,000,000,001 seeds"),
        (["sweep", "misfit", "--executor", "dask", "--address", "127.0.0.1:9"], "no dask scheduler answers"),
    ],
)
def test_impossible_sizes_refused_up_front(tmp_path, capsys, argv, fragment):
    assert cli.main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert fragment in err and err.count("\n") == 1, err
    assert not (tmp_path / "o").exists()


def test_force_overrides_the_estimate(monkeypatch, tmp_path):
    monkeypatch.setenv("BAYES_W2S_TIME_CAP_S", "1e-9")  # every run is "too slow"
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), *TINY]) == 2
    assert cli.main(["run", "coinflip", "--out", str(tmp_path), *TINY, "--force"]) == 0


@pytest.mark.filterwarnings("ignore::bayes_w2s.core.metrics.PGRUndefinedWarning")
def test_neural_run_reruns_from_its_config_and_never_overwrites(tmp_path, capsys):
    pytest.importorskip("torch")
    out, cache = tmp_path / "runs", tmp_path / "cache"
    argv = ["neural", "run", "--weak", "tiny-bert:hidden=16,layers=1,seed=3", "--strong",
            "tiny-bert:hidden=32,layers=2,seed=1", "--dataset", "synthetic:n=200", "--n-weak-train", "60",
            "--n-weak-label", "60", "--n-test", "60", "--seeds", "0", "--method", "xent", "--out", str(out),
            "--cache", str(cache), "--no-progress"]
    assert cli.main(argv) == 0
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    assert folder.name.startswith("neural_run__weak=tiny-bert-hidden=16")
    capsys.readouterr()
    assert cli.main(argv) == 2  # a finished folder is not overwritten silently
    assert "holds a finished run" in capsys.readouterr().err
    rerun = ["neural", "run", "--config", str(folder / "config.json"), "--out", str(tmp_path / "again"),
             "--cache", str(cache), "--no-progress"]
    assert cli.main(rerun) == 0
    again = tmp_path / "again" / folder.name
    import pandas as pd

    timing = ["seconds", "examples_per_s", "wall_s"]  # wall-clock columns differ on every run
    first, second = (pd.read_csv(f / "results.csv") for f in (folder, again))
    pd.testing.assert_frame_equal(first.drop(columns=timing, errors="ignore"),
                                  second.drop(columns=timing, errors="ignore"))

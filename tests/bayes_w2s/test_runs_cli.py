"""Run folders and the command line, end to end on the coin-flip experiment at a tiny size."""

import json

import pytest

from bayes_w2s.harness import cli
from bayes_w2s.harness.runs import RunFolderError, atomic_write_text, load_experiment, read_run, run_folder_name
from bayes_w2s.simulations import coinflip


def test_run_folder_name_lists_changed_fields():
    assert run_folder_name("coinflip", coinflip.Config()) == "coinflip"
    assert run_folder_name("coinflip", coinflip.Config(n=500, seed=2)) == "coinflip__seed=2__n=500"


def test_cli_run_writes_config_table_and_figures(tmp_path, capsys):
    rc = cli.main(["run", "coinflip", "--out", str(tmp_path), "--n", "200", "--replicates", "2", "--grid-size", "21"])
    assert rc == 0
    folder = tmp_path / "coinflip__n=200__replicates=2__grid_size=21"
    meta, df = read_run(folder)
    assert meta["experiment"] == "coinflip" and meta["config"]["n"] == 200
    assert meta["package_version"] and "git_revision" in meta
    assert set(df.columns) == {"strong", "rule", "replicate", "n", "metric", "value"}
    for name in coinflip.FIGURES:
        assert (folder / f"{name}.png").stat().st_size > 1000 and (folder / f"{name}.pdf").exists()
    out = capsys.readouterr().out
    assert "certificate" in out and "wrote" in out
    # figures are redrawn from the stored table alone
    (folder / "certificate.png").unlink()
    assert cli.main(["figures", str(tmp_path)]) == 0
    assert (folder / "certificate.png").exists()
    marker = json.loads((folder / "complete.json").read_text())
    assert marker["tables"]["results.csv"]["rows"] == len(df)
    # a truncated table is refused, reported, and makes figures exit non-zero
    table = folder / "results.csv"
    table.write_text("".join(table.read_text().splitlines(keepends=True)[:-10]))
    capsys.readouterr()
    assert cli.main(["figures", str(tmp_path)]) == 1
    assert f"SKIPPED {folder}: " in capsys.readouterr().err


def test_cli_errors(tmp_path, capsys):
    assert cli.main(["run", "no_such_experiment"]) == 2
    assert "no experiment named" in capsys.readouterr().err
    assert cli.main(["run", "coinflip", "--n", "lots"]) == 2  # main returns, never exits
    assert cli.main(["run", "coinflip", "--epsilon", "0.9", "--out", str(tmp_path)]) == 2
    assert cli.main(["bogus"]) == 2
    with pytest.raises(ValueError, match="identifier"):
        load_experiment("../etc")
    with pytest.raises(RunFolderError, match="not a run folder"):
        read_run(tmp_path)


def test_atomic_write_leaves_no_temporary_files(tmp_path):
    atomic_write_text(tmp_path / "a.json", json.dumps({"x": 1}))
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]

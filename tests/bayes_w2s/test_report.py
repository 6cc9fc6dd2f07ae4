"""bayes-w2s report: summaries, rendering, and --check failing on an edited README number."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bayes_w2s.harness import report
from bayes_w2s.harness.cli import main
from bayes_w2s.harness.report_sections import SECTIONS, fmt_cell

REPO = Path(__file__).resolve().parents[2]


def _copy_repo(tmp_path: Path) -> Path:
    """README, docs/results and docs/figures of this checkout, in a scratch root."""
    root = tmp_path / "repo"
    (root / "docs").mkdir(parents=True)
    shutil.copy(REPO / "README.md", root / "README.md")
    shutil.copytree(REPO / "docs" / "results", root / "docs" / "results")
    shutil.copytree(REPO / "docs" / "figures", root / "docs" / "figures")
    return root


def test_summarize_runs_counts_nan_and_quantiles():
    rng = np.random.default_rng(0)
    values = rng.normal(size=10)
    values[3] = np.nan  # an undefined PGR: counted, not averaged
    df = pd.DataFrame({"rule": "a", "replicate": range(10), "n": 100, "metric": "pgr", "value": values})
    early = df.assign(n=10, value=99.0)  # only the largest n is summarized
    out = report.summarize_runs(pd.concat([early, df]), ("rule",))
    assert len(out) == 1
    row = out.iloc[0]
    ok = values[np.isfinite(values)]
    assert (row["count"], row["n_worlds"], row["n"]) == (9, 10, 100)
    assert row["mean"] == pytest.approx(ok.mean())
    assert row["median"] == pytest.approx(np.median(ok))
    assert (row["q10"], row["q90"]) == pytest.approx(tuple(np.quantile(ok, [0.1, 0.9])))
    assert fmt_cell(row, "mean_q", 2).endswith("(9/10)")


def test_summary_csv_round_trips_exactly():
    df = pd.DataFrame({"rule": ["a", "b"], "metric": "pgr", "count": 2, "n_worlds": 2,
                       "mean": [1 / 3, -np.inf], "median": [0.1, 2.0], "q10": 0.0, "q90": 1.0,
                       "min": 0.0, "max": np.inf})
    back = report._read_csv(report.summary_to_csv(df))
    assert report.compare_summaries(df, back, "x") == []
    assert report.compare_summaries(df, back.assign(mean=[1 / 3 + 1e-3, -np.inf]), "x")


def test_every_section_has_a_readme_region_and_a_stored_summary():
    regions = {name for name, *_ in report.find_regions((REPO / "README.md").read_text())}
    for section in SECTIONS:
        assert set(section.regions) <= regions, section.experiment
        assert (REPO / "docs" / "results" / f"{section.experiment}.csv").is_file()


def test_check_passes_on_this_checkout_and_fails_on_an_edited_number(tmp_path, capsys):
    root = _copy_repo(tmp_path)
    assert report.check(root, fresh=False, quiet=True) == []
    assert main(["report", "--check", "--no-fresh", "--quiet", "--root", str(root)]) == 0
    readme = (root / "README.md").read_text()
    start = readme.index("<!-- report:misspecification -->")
    cell = readme.index("0.87 [", start)  # one README number, edited by hand
    (root / "README.md").write_text(readme[:cell] + "0.88" + readme[cell + 4:])
    problems = report.check(root, fresh=False, quiet=True)
    assert len(problems) == 1 and "region misspecification" in problems[0] and "0.88" in problems[0]
    assert main(["report", "--check", "--no-fresh", "--root", str(root)]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_check_fails_on_a_tampered_summary_or_figure(tmp_path):
    root = _copy_repo(tmp_path)
    path = root / "docs" / "results" / "typos.csv"
    path.write_text(path.read_text().replace("0.", "0.1", 1))
    fig = next(iter(report._load_manifest(root)["summaries"]["misspecification"]["figures"]))
    (root / fig).write_bytes(b"not the figure")
    problems = report.check(root, fresh=False, quiet=True)
    assert any("typos.csv does not match its sha256" in p for p in problems)
    assert any(fig in p for p in problems)


def test_fresh_fast_run_matches_its_stored_summary():
    """misfit reruns in about a second: its fresh summary equals the committed one."""
    section = next(s for s in SECTIONS if s.experiment == "misfit")
    module = report.load_experiment("misfit")
    fresh = report._read_csv(report.summary_to_csv(section.summarize(module.run(module.Config()))))
    stored = report._read_csv(REPO / "docs" / "results" / "misfit.csv")
    assert report.compare_summaries(stored, fresh, "misfit") == []


def test_any_results_csv_renders_and_must_be_registered(tmp_path):
    root = _copy_repo(tmp_path)
    table = pd.DataFrame({"method": ["xent", "ve+budget(40)"], "PGR mean": [0.2134, 0.7061],
                          "PGR 95% CI low": [0.16, -0.66]})
    table.to_csv(root / "docs" / "results" / "neural_demo.csv", index=False)
    with (root / "README.md").open("a") as fh:
        fh.write("\n<!-- report:csv:neural_demo digits=2 -->\n<!-- /report:csv:neural_demo -->\n")
    problems = report.check(root, fresh=False, quiet=True)
    assert any("neural_demo.csv: not registered" in p for p in problems)
    assert any("region csv:neural_demo differs" in p for p in problems)
    assert report.report(root, render_only=True, quiet=True) == 0
    text = (root / "README.md").read_text()
    assert "| ve+budget(40) | 0.71 | −0.66 |" in text and "rounded to 2 decimals" in text
    assert report.check(root, fresh=False, quiet=True) == []


def test_unknown_region_is_reported(tmp_path):
    root = _copy_repo(tmp_path)
    with (root / "README.md").open("a") as fh:
        fh.write("\n<!-- report:nonesuch -->\n<!-- /report:nonesuch -->\n")
    assert any("nonesuch" in p for p in report.check(root, fresh=False, quiet=True))


def test_report_reruns_a_fast_experiment_into_the_same_summary_and_figures(tmp_path, monkeypatch):
    """The write path on the fastest experiment: same summary bytes, figures registered, check passes."""
    from bayes_w2s.harness import report_sections

    root = _copy_repo(tmp_path)
    misfit = next(s for s in SECTIONS if s.experiment == "misfit")
    monkeypatch.setattr(report_sections, "SECTIONS", (misfit,))
    before = (root / "docs" / "results" / "misfit.csv").read_bytes()
    assert report.report(root, quiet=True) == 0
    assert (root / "docs" / "results" / "misfit.csv").read_bytes() == before
    figures = report._load_manifest(root)["summaries"]["misfit"]["figures"]
    assert figures and all((root / f).is_file() for f in figures)
    assert report.check(root, fresh=True, quiet=True) == []

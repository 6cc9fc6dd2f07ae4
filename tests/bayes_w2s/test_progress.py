"""Progress of long work: bar on a terminal, log records when piped, nothing when quiet."""

from __future__ import annotations

import contextvars
import io
import logging
import os
import re
import subprocess
import sys

import pytest

from bayes_w2s.harness import progress as pg


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def info(caplog):
    caplog.set_level(logging.INFO, logger=pg.LOGGER_NAME)
    return caplog


def _messages(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == pg.LOGGER_NAME]


def test_piped_progress_logs_count_elapsed_and_eta(info):
    stream = io.StringIO()  # not a terminal
    out = list(pg.progress(range(4), desc="demo", unit="world", interval=0.0, stream=stream))
    assert out == [0, 1, 2, 3]
    msgs = _messages(info)
    assert msgs[:4] == [m for m in msgs[:4] if m.startswith("demo: ")]
    assert re.fullmatch(r"demo: 1/4 worlds, \d+ s elapsed, ~\d+ s left", msgs[0])
    assert len(msgs) == 4 and msgs[2].startswith("demo: 3/4 worlds") and msgs[-1].startswith("demo: 4/4 worlds done in ")
    assert stream.getvalue() == ""  # log records go through logging, never to the stream


def test_log_records_are_rate_limited(info):
    for _ in pg.progress(range(50), desc="fast", interval=3600.0, stream=io.StringIO()):
        pass
    assert _messages(info) == []  # a run shorter than the interval writes nothing


def test_quiet_logger_emits_nothing(caplog):
    caplog.set_level(logging.WARNING, logger=pg.LOGGER_NAME)
    tty = _Tty()
    for stream in (io.StringIO(), tty):
        with pg.Progress(3, "quiet", interval=0.0, stream=stream) as bar:
            assert bar.mode == "off"
            bar.update(3)
    assert _messages(caplog) == [] and tty.getvalue() == ""


def test_terminal_gets_a_tqdm_bar(info):
    tty = _Tty()
    with pg.Progress(5, "bar", unit="cell", stream=tty) as bar:
        assert bar.mode == "bar" and bar._bar is not None
        bar.update(5)
    if not os.environ.get("TQDM_DISABLE"):  # tests/neural/conftest.py sets it for the whole session
        assert "bar" in tty.getvalue() and "5/5" in tty.getvalue()
    assert _messages(info) == []


def test_nested_and_silenced_progress_stay_silent(info):
    stream = io.StringIO()
    with pg.Progress(2, "outer", interval=0.0, stream=stream) as outer:
        inner = pg.Progress(3, "inner", interval=0.0, stream=stream)
        assert outer.mode == "log" and inner.mode == "off"
        inner.update(3)
        inner.close()
        outer.update(2)
    with pg.silenced():
        assert pg.Progress(1, "cell", stream=stream).mode == "off"
    assert pg.Progress(1, "again", stream=stream, disable=True).mode == "off"
    fresh = pg.Progress(1, "after", stream=stream)
    assert fresh.mode == "log"  # depth is restored after the blocks close
    fresh.close()
    assert not any(m.startswith("inner") for m in _messages(info))


def test_eta_is_mean_time_per_item_times_items_left(info, monkeypatch):
    clock = iter([100.0, 100.0, 106.0, 106.0, 106.0, 106.0])
    monkeypatch.setattr(pg.time, "monotonic", lambda: next(clock))
    bar = pg.Progress(5, "eta", unit="world", initial=1, interval=1e9, stream=io.StringIO())
    bar.update(2)  # 2 new items in 6 s -> 3 s each, 2 items left -> 6 s
    assert bar.eta() == pytest.approx(6.0)
    assert bar.message() == "eta: 3/5 worlds, 6 s elapsed, ~6 s left"


@pytest.mark.parametrize("seconds, text", [(8.4, "8 s"), (200, "3 min 20 s"), (3900, "1 h 05 min"), (float("nan"), "?")])
def test_format_seconds(seconds, text):
    assert pg.format_seconds(seconds) == text


def test_bad_arguments_are_refused(monkeypatch):
    with pytest.raises(ValueError, match="total"):
        pg.Progress(-1)
    monkeypatch.setenv(pg.INTERVAL_ENV, "soon")
    with pytest.raises(ValueError, match=pg.INTERVAL_ENV):
        pg.Progress(1)


def _cli(args, tmp_path, *, pre: str = ""):
    code = f"import sys, logging; {pre}from bayes_w2s.harness.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, pg.INTERVAL_ENV: "0", "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, "-c", code, *args, "--out", str(tmp_path)], capture_output=True,
                          text=True, env=env, timeout=300)


def test_piped_run_prints_progress_lines(tmp_path):
    done = _cli(["run", "coinflip", "--n", "200", "--replicates", "2", "--no-figures"], tmp_path)
    assert done.returncode == 0, done.stderr
    lines = [ln for ln in done.stderr.splitlines() if "coinflip: " in ln]
    assert any(re.search(r"coinflip: 1/2 strong learners, \d+ s elapsed, ~\d+ s left", ln) for ln in lines), done.stderr
    assert any("2/2 strong learners done in" in ln for ln in lines)


def test_quiet_run_prints_no_progress(tmp_path):
    # --quiet sets the bayes_w2s logger to WARNING (harness.boundary.apply_logging)
    done = _cli(["run", "coinflip", "--n", "200", "--replicates", "2", "--no-figures", "--quiet"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert "coinflip: " not in done.stderr and "strong learner" not in done.stderr


def test_piped_sweep_counts_cells(tmp_path):
    done = _cli(["sweep", "coinflip", "--grid", "epsilon=0.05,0.1", "--seeds", "0", "--n", "100",
                 "--replicates", "1", "--executor", "serial", "--no-figures"], tmp_path)
    assert done.returncode == 0, done.stderr
    assert re.search(r"sweep coinflip: 1/2 cells", done.stderr), done.stderr
    assert "strong learner" not in done.stderr  # the cells' own progress is silenced: one overall count


def test_a_forced_mode_overrides_the_terminal_check(info):
    def mode_of(**kw):  # in a fresh context: not nested in a progress another test left open
        def make():
            with pg.Progress(3, "t", **kw) as p:
                return p.mode

        return contextvars.Context().run(make)

    assert mode_of(stream=_Tty()) == "bar"
    assert mode_of(stream=_Tty(), mode="log") == "log"
    assert mode_of(stream=io.StringIO(), mode="bar") == "bar"
    assert mode_of(mode="log", disable=True) == "off"

    def forced_log():
        with pg.Progress(3, "t", stream=_Tty(), mode="log", interval=0.0) as forced:
            forced.update()

    contextvars.Context().run(forced_log)
    assert _messages(info)[0].startswith("t: 1/3 items")
    with pytest.raises(ValueError, match="mode"):
        pg.Progress(3, "t", mode="tty")

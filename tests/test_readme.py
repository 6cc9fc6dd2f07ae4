"""The README's Python quickstart runs as written and prints what the README says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(text: str) -> list[str]:
    """The bodies of the fenced ```python blocks of a markdown text, in order."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def test_readme_has_one_short_python_quickstart():
    blocks = python_blocks(README.read_text())
    assert len(blocks) == 1
    code_lines = [ln for ln in blocks[0].splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(code_lines) <= 11, code_lines  # ten lines of work and one import line


def test_readme_quickstart_runs_and_shows_mimicry_and_the_bound(tmp_path):
    code = python_blocks(README.read_text())[0]
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "hard Bayes favours bias 0.5"
    moved, bound = (float(v) for v in re.findall(r"[-+]?\d*\.\d+(?:e[-+]?\d+)?", lines[1]))
    assert 0 < moved <= bound < 1.65  # the certificate: odds move by at most T = sum 1/n^2

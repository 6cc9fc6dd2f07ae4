import subprocess
import sys


def test_core_import_pulls_in_no_heavy_dependency():
    """The core is numpy/scipy/pandas only: torch, pymc, arviz and matplotlib stay unloaded."""
    code = (
        "import sys, bayes_w2s\n"
        "heavy = [m for m in ('torch', 'pymc', 'arviz', 'matplotlib', 'transformers') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""Module boundaries of bayes_w2s.neural."""

import pytest

pytest.importorskip("torch")


def test_backend_does_not_import_the_pipeline():
    """The backend and the pipeline share W2SConfig through neural/config.py, not each other."""
    import subprocess
    import sys

    code = "import sys, bayes_w2s.neural.backend; print('bayes_w2s.neural.pipeline' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

"""Sphinx configuration: the API reference from the numpydoc docstrings, the tutorial
notebook executed at build time (myst-nb), one how-to page per experiment generated from
its module docstring and ``Config``.

Build (warnings are errors, as in ``.ci/run``)::

    sphinx-build -W -b html docs docs/_build
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))  # docs/_ext

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

project = "bayes-w2s"
author = "bayes-w2s contributors"
copyright = "bayes-w2s contributors"
try:
    from importlib.metadata import version as _version

    release = _version("bayes-w2s")
except Exception:  # pragma: no cover - not installed
    release = "unknown"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "myst_nb",
    "_ext.howto",
]

source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"
exclude_patterns = ["_build", "jupyter_execute", "findings", "figures", "results", "**.ipynb_checkpoints"]
templates_path = ["_templates"]

autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": False}
autodoc_typehints = "none"  # shapes and types are in the numpydoc sections
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# the tutorial runs at every build; a failing cell fails the build
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 300
nb_execution_show_tb = True
myst_enable_extensions = ["dollarmath", "amsmath"]

html_theme = "alabaster"
html_title = f"bayes-w2s {release}"
suppress_warnings = ["mystnb.unknown_mime_type"]

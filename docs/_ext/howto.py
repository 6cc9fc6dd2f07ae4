"""Sphinx extension: one how-to page per experiment, generated from the experiment itself.

Each page is written (before reading the sources) to ``docs/howto/generated/<name>.rst``
from what the code already says, so it cannot drift from it:

* *What it asks* — the module docstring;
* *Run it* — the ``bayes-w2s run`` / ``sweep`` commands;
* *Options* — every ``Config`` field with its default and the help text of
  ``bayes-w2s run NAME --help``;
* *Output* — the ``run`` docstring (the tidy table's columns), the figures (their plot
  docstrings) and ``summarize``'s docstring (what is printed);
* *Stored results* — ``docs/results/<name>.csv`` when ``bayes-w2s report`` keeps one.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path


def _block(text: str) -> str:
    """A docstring, dedented, up to its first numpydoc section (``Returns`` / ``-------``)."""
    lines = inspect.cleandoc(text or "").splitlines()
    for i in range(1, len(lines)):
        if lines[i].strip() and set(lines[i].strip()) == {"-"} and lines[i - 1].strip():
            lines = lines[: i - 1]
            break
    return "\n".join(lines).strip()


def _indent(text: str, pad: str = "   ") -> str:
    return "\n".join(pad + line if line else "" for line in text.splitlines())


def _options(module) -> list[str]:
    from bayes_w2s.harness.fields import field_option

    defaults = module.Config()
    rows = [".. list-table::", "   :header-rows: 1", "   :widths: 25 75", "",
            "   * - option", "     - meaning, kind, default"]
    for field in dataclasses.fields(module.Config):
        default = getattr(defaults, field.name)
        text = field_option(module.__name__.rsplit(".", 1)[-1], field, default).help().replace("%%", "%").replace("*", r"\*").replace("`", "'")
        rows += [f"   * - ``--{field.name.replace('_', '-')}``", f"     - {text}"]
    return rows


def howto_page(name: str, results_dir: Path) -> str:
    """The reStructuredText how-to page of experiment ``name``."""
    from bayes_w2s.harness.runs import load_experiment

    module = load_experiment(name)
    doc = _block(module.__doc__)
    first, _, rest = doc.partition("\n")
    title = f"``{name}``: {first.rstrip('.')}"
    out = [f".. _howto-{name}:", "", title, "=" * len(title), "", "What it asks", "------------", "",
           rest.strip() or first, "", "Run it", "------", "", ".. code-block:: bash", "",
           f"   bayes-w2s run {name}                      # defaults; writes runs/{name}/",
           f"   bayes-w2s run {name} --help               # every option below",
           f"   bayes-w2s sweep {name} --seeds 0-9        # the same over seeds, resumable",
           "", "Options", "-------", "", *_options(module), "",
           "Output", "------", "",
           "The run folder holds ``config.json``, ``results.csv``, ``complete.json`` (checksums,"
           " written last) and the figures. The table (from ``run``'s docstring):", "",
           _indent(_block(module.run.__doc__)) if module.run.__doc__ else "   (undocumented)", ""]
    if getattr(module, "FIGURES", None):
        out += ["Figures (``<name>.png`` / ``.pdf``):", ""]
        for fig, fn in module.FIGURES.items():
            line = " ".join(_block(fn.__doc__).split()) or "(undocumented)"
            out.append(f"* ``{fig}`` — {line}")
        out.append("")
    if hasattr(module, "summarize"):
        out += ["How to read the printed summary", "-------------------------------", "",
                _block(module.summarize.__doc__) or "(undocumented)", ""]
    stored = results_dir / f"{name}.csv"
    if stored.is_file():
        out += ["Stored results", "--------------", "",
                f"``docs/results/{name}.csv`` holds the summary (mean, median, 10% and 90% over worlds) "
                "that the README's tables are rendered from; ``bayes-w2s report --check`` verifies it.", ""]
    return "\n".join(out) + "\n"


def write_pages(app) -> None:
    from bayes_w2s.harness.cli import _experiment_names

    docs = Path(app.srcdir)
    target = docs / "howto" / "generated"
    target.mkdir(parents=True, exist_ok=True)
    names = _experiment_names()
    for old in target.glob("*.rst"):
        if old.stem not in names:
            old.unlink()
    for name in names:
        text = howto_page(name, docs / "results")
        path = target / f"{name}.rst"
        if not path.is_file() or path.read_text() != text:  # unchanged files keep Sphinx's cache
            path.write_text(text)


def setup(app):
    app.connect("builder-inited", write_pages)
    return {"parallel_read_safe": True, "version": "1"}

"""Documentation: every public name documented with an example that runs, the API reference
lists them all, the how-to pages come from the experiments, and the tutorial notebook runs."""

from __future__ import annotations

import dataclasses
import doctest
import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np
import pytest

import bayes_w2s

DOCS = Path(__file__).resolve().parents[1] / "docs"
PUBLIC = [n for n in bayes_w2s.__all__ if n != "SCHEDULES"]  # SCHEDULES is a dict: documented by its #: comment


@pytest.mark.parametrize("name", PUBLIC)
def test_public_name_has_formula_text_and_a_passing_example(name):
    obj = getattr(bayes_w2s, name)
    doc = inspect.getdoc(obj) or ""
    assert len(doc.splitlines()) >= 3, f"{name}: docstring of {len(doc.splitlines())} lines"
    tests = doctest.DocTestFinder(recurse=False).find(obj, name, globs={"np": np, "bw": bayes_w2s})
    examples = sum(len(t.examples) for t in tests)
    assert examples >= 1, f"{name}: no example"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0, f"{name}: example failed (see output)"


def test_condition_lists_its_rules_and_needs_no_contexts_for_one_context():
    doc = inspect.getdoc(bayes_w2s.condition)
    for rule in ('rule="bayes"', 'rule="ve"', 'rule="tempered"'):
        assert rule in doc
    log_probs = np.log([[0.9, 0.1], [0.5, 0.5]])
    labels = np.array([0, 0, 1, 0])
    by_hand = bayes_w2s.condition(np.log([0.5, 0.5]), log_probs, np.zeros(4, int), labels)
    implicit = bayes_w2s.condition(np.log([0.5, 0.5]), log_probs, None, labels)
    np.testing.assert_array_equal(by_hand.log_posterior, implicit.log_posterior)
    with pytest.raises(bayes_w2s.ValidationError, match="one-context"):
        bayes_w2s.condition(np.log([0.5, 0.5]), np.log(np.full((2, 3, 2), 0.5)), None, labels)


def test_sample_labels_takes_a_count_for_one_context():
    model = bayes_w2s.Model(bayes_w2s.HypothesisSpace([[0.9, 0.1], [0.2, 0.8]]))
    a = bayes_w2s.sample_labels(model, 50, np.random.default_rng(3))
    b = bayes_w2s.sample_labels(model, np.zeros(50, int), np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    two = bayes_w2s.Model(bayes_w2s.HypothesisSpace(np.full((2, 3, 2), 0.5)))
    with pytest.raises(bayes_w2s.ValidationError, match="one-context"):
        bayes_w2s.sample_labels(two, 5, np.random.default_rng(0))


def test_api_reference_lists_every_public_name():
    text = (DOCS / "api" / "index.rst").read_text()
    listed = {line.strip() for line in text.splitlines()}
    import bayes_w2s.neural as neural

    missing = [n for n in [*bayes_w2s.__all__, *neural.__all__] if n not in listed]
    assert not missing, f"not in docs/api/index.rst: {missing}"


def _howto():
    spec = importlib.util.spec_from_file_location("howto", DOCS / "_ext" / "howto.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_howto_page_per_experiment_comes_from_its_code():
    from bayes_w2s.harness.cli import _experiment_names
    from bayes_w2s.harness.runs import load_experiment

    howto = _howto()
    for name in _experiment_names():
        page = howto.howto_page(name, DOCS / "results")
        module = load_experiment(name)
        assert f"bayes-w2s run {name}" in page
        for field in dataclasses.fields(module.Config):
            assert f"--{field.name.replace('_', '-')}" in page, (name, field.name)
        for figure in module.FIGURES:
            assert f"``{figure}``" in page


def test_tutorial_is_stored_without_outputs_and_runs(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    nb = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), "strip the outputs"
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the kernel inherits it: no hub lookups
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    text = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for c in code for o in c.outputs)
    assert "represents the weak mixture: yes" in text and "acc_ceiling" in text

"""Bad input to the neural command line and data files: a clear error before any work."""

import pytest

pytest.importorskip("torch")

from bayes_w2s.neural.data import DataFormatError, load_dataset  # noqa: E402


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["run", "--seeds", ""], "expected a comma-separated list"),
        (["run", "--seeds", "0,-1"], "≥ 0"),
        (["mimicry", "--n-grid", "0"], "≥ 1"),
        (["mimicry", "--steps-grid", "40,0"], "≥ 1"),
        (["compare", "--max-length", "0"], "≥ 1"),
        (["compare", "--head-hidden", "-1"], "≥ 0"),
        (["compare", "--batch-size", "0"], "≥ 1"),
        (["compare", "--n-weak-train", "0"], "≥ 1"),
        (["compare", "--eval-every", "-3"], "≥ 0"),
        (["compare", "--max-length", "abc"], "expected an integer"),
    ],
)
def test_bad_option_is_a_usage_error(argv, fragment, capsys):
    from bayes_w2s.harness.cli import main

    assert main(["neural", *argv]) == 2
    err = capsys.readouterr().err
    assert fragment in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize(("labels", "fragment"), [((0, 7), "[0, 7]"), ((1, 2), "[1, 2]"), ((0, 0), "[0]")])
def test_labels_must_be_contiguous_class_indices(tmp_path, labels, fragment):
    path = tmp_path / "d.csv"
    path.write_text("text,label\n" + "".join(f"t{i},{y}\n" for i, y in enumerate(labels)))
    with pytest.raises(DataFormatError, match=fragment.replace("[", r"\[").replace("]", r"\]")):
        load_dataset(str(path))


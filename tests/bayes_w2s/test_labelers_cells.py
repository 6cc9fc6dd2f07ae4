"""Typo placement and grid cells against a brute-force reference (issue 18: mutation testing).

``typo_labeler(placement="band")`` flips the ``round(rate * cells^2)`` cells with the smallest
*positive* mean score (cells without points never flip; the cell centre's x coordinate only
breaks exact ties); ``placement="random"`` flips that many *distinct* cells. The reference
below computes the cells point by point in plain Python.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bayes_w2s.toys.labelers import LabelerClass, grid_labelers, noisy_space, typo_labeler

SETTINGS = settings(max_examples=25, deadline=None, derandomize=True, database=None)


def _cell(x, y, cells):
    """(row, col) of a point: col from feature 0, row from feature 1, border cells take the outside."""
    col = min(max(int(np.floor(x * cells)), 0), cells - 1)
    row = min(max(int(np.floor(y * cells)), 0), cells - 1)
    return row, col


def _band_reference(points, truth, rate, cells, score):
    n_flip = int(round(rate * cells * cells))
    members: dict[tuple[int, int], list[int]] = {}
    for i, (x, y) in enumerate(points[:, :2]):
        members.setdefault(_cell(x, y, cells), []).append(i)
    mean = {c: sum(score[i] for i in idx) / len(idx) for c, idx in members.items()}
    candidates = sorted((m, c[1], c) for c, m in mean.items() if m > 0)  # by mean score, then centre x
    assert len(candidates) >= n_flip, "test setup: enough cells with a positive score"
    out = truth.copy()
    for _, _, c in candidates[:n_flip]:
        for i in members[c]:
            out[i] = 1 - truth[i]
    return out


def _centres(cells):
    """One point at the centre of every cell, row-major."""
    g = (np.arange(cells) + 0.5) / cells
    return np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)


@SETTINGS
@given(seed=st.integers(0, 10_000), cells=st.integers(3, 8), n=st.integers(5, 120), rate=st.floats(0.0, 0.3))
def test_band_typos_match_the_brute_force_cell_ranking(seed, cells, n, rate):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))  # few points per cell: some cells empty, some with one point
    truth = (rng.random(n) < 0.5).astype(np.int8)
    score = rng.normal(0.2, 0.5, n)
    n_pos = len({_cell(*p, cells) for p, s in zip(x, score)} & {_cell(*p, cells) for p, s in zip(x, score) if s > 0})
    rate = min(rate, 0.49, (n_pos - 1) / cells**2 if n_pos > 1 else 0.0)
    want = _band_reference(x, truth, rate, cells, score)
    got = typo_labeler(x, truth, rate, np.random.default_rng(0), cells=cells, placement="band", score=score)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, want)


def test_band_typos_break_exact_ties_by_the_cell_centre_x():
    cells = 6
    x = _centres(cells)
    truth = np.zeros(len(x), dtype=np.int8)
    row = np.floor(x[:, 1] * cells)
    score = 0.1 * (row + 1)  # every cell of a row has the same score: row 0 first, left to right
    got = typo_labeler(x, truth, 3 / 36, np.random.default_rng(0), cells=cells, placement="band", score=score)
    np.testing.assert_array_equal(np.flatnonzero(got), [0, 1, 2])
    # a tie across rows and columns: (row 0, col 2) and (row 2, col 0); the smaller x wins
    score = np.full(len(x), 1.0)
    score[[2, 12]] = 0.5
    got = typo_labeler(x, truth, 1 / 36, np.random.default_rng(0), cells=cells, placement="band", score=score)
    np.testing.assert_array_equal(np.flatnonzero(got), [12])
    # ... and only ties: a score smaller by 5e-12 wins over a cell further left
    score = np.full(len(x), 1.0)
    score[5] = 0.5 + 1e-12  # row 0, rightmost column
    score[6 * 3] = 0.5 + 6e-12  # row 3, leftmost column: larger score
    got = typo_labeler(x, truth, 1 / 36, np.random.default_rng(0), cells=cells, placement="band", score=score)
    np.testing.assert_array_equal(np.flatnonzero(got), [5])
    score[5], score[6 * 3] = 0.3, 0.4  # a clear score order against the x order
    got = typo_labeler(x, truth, 1 / 36, np.random.default_rng(0), cells=cells, placement="band", score=score)
    np.testing.assert_array_equal(np.flatnonzero(got), [5])


def test_band_typos_skip_zero_and_empty_cells_and_take_single_point_cells():
    cells = 4
    x = _centres(cells)[:-1]  # the last cell (top right) has no point
    truth = np.ones(len(x), dtype=np.int8)
    score = np.full(len(x), 2.0)
    score[0] = 0.0  # exactly on the boundary: not a positive score, never flipped
    score[7] = 0.25  # a single-point cell with the smallest positive score
    score[9] = 0.5
    got = typo_labeler(x, truth, 2 / 16, np.random.default_rng(0), cells=cells, placement="band", score=score)
    np.testing.assert_array_equal(np.flatnonzero(got == 0), [7, 9])
    assert set(np.unique(got)) <= {0, 1}


@pytest.mark.parametrize("seed", range(5))
def test_random_typos_flip_exactly_that_many_distinct_cells(seed):
    cells = 10
    x = _centres(cells)  # one point per cell: flipped points = flipped cells
    truth = (x[:, 0] > 0.5).astype(np.int8)
    got = typo_labeler(x, truth, 0.3, np.random.default_rng(seed), cells=cells)
    assert got.dtype == np.int8
    assert int((got != truth).sum()) == 30
    np.testing.assert_array_equal(got[got != truth], 1 - truth[got != truth])  # a flip is 1 - y, binary


def test_cell_counts_are_validated_by_name():
    x = _centres(3)
    with pytest.raises(ValueError, match="^cells must be an integer >= 1"):
        typo_labeler(x, np.zeros(9, dtype=np.int8), 0.1, np.random.default_rng(0), cells=0)
    with pytest.raises(ValueError, match="^cells must be an integer >= 1"):
        grid_labelers(x, 0)
    assert len(grid_labelers(x, 3)) == 2**9  # 9 cells are allowed; 16 are not
    with pytest.raises(ValueError, match="2\\^16 labelings"):
        grid_labelers(x, 4)


def test_points_on_or_outside_the_square_fall_in_the_border_cells():
    x = np.array([[-0.2, -1e-9], [1.0, 1.0], [1.3, 0.2], [0.5, -0.1]])
    cls = grid_labelers(x, 2)  # cells: 0 = (row 0, col 0), 1 = (0, 1), 2 = (1, 0), 3 = (1, 1)
    cell_of = [0, 3, 1, 1]  # (col, row) clipped into [0, 1]
    for code in range(16):
        bits = [(code >> c) & 1 for c in range(4)]
        np.testing.assert_array_equal(cls.labels[code], [bits[c] for c in cell_of])
    truth = np.zeros(4, dtype=np.int8)
    score = np.array([1.0, 0.2, 0.1, 1.0])  # points 2 and 3 share cell 1: mean 0.55, above cell 3's 0.2
    got = typo_labeler(x, truth, 1 / 4, np.random.default_rng(0), cells=2, placement="band", score=score)
    np.testing.assert_array_equal(got, [0, 1, 0, 0])


def test_a_labeler_class_space_is_its_noisy_space():
    cls = LabelerClass(np.array([[0, 2, 1], [1, 1, 0]]), n_labels=3)
    got, want = cls.space(0.3), noisy_space(cls, 0.3)
    np.testing.assert_array_equal(got.probs, want.probs)
    assert got.hypothesis_names == want.hypothesis_names == ("h0", "h1")
    np.testing.assert_allclose(got.probs[0, 1], [0.15, 0.15, 0.7])

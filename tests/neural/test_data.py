"""Loaders (line-numbered errors), the offline Rotten Tomatoes data, seeded splits."""

import json

import numpy as np
import pytest
from bayes_w2s.neural.data import (
    DataFormatError,
    TextDataset,
    load_dataset,
    load_rotten_tomatoes,
    load_table,
    make_splits,
    synthetic_task,
)


def test_csv_and_jsonl_roundtrip(tmp_path):
    csv_path = tmp_path / "d.csv"
    csv_path.write_text('text,label\n"hello, world",1\nbye,0\n')
    ds = load_table(csv_path)
    assert ds.texts == ("hello, world", "bye") and ds.labels.tolist() == [1, 0]
    jl = tmp_path / "d.jsonl"
    jl.write_text(
        json.dumps({"text": "a", "label": 1})
        + "\n\n"
        + json.dumps({"text": "b", "label": 0})
        + "\n"
    )
    ds = load_dataset(str(jl))
    assert ds.labels.tolist() == [1, 0] and ds.n_classes == 2  # a gap ({0, 2}) is refused


@pytest.mark.parametrize(
    "body, line",
    [
        ("text,label\nok,1\nbad,yes\n", 3),
        ("text,label\nok,1\nok,0\n,1\n", 4),
        ("text,label\nok,1\nok,1.5\n", 3),
        ("text,label\nok,1,extra\n", 2),
    ],
)
def test_csv_malformed_rows_name_their_line(tmp_path, body, line):
    path = tmp_path / "bad.csv"
    path.write_text(body)
    with pytest.raises(DataFormatError, match=rf"bad.csv:{line}:"):
        load_table(path)


def test_jsonl_malformed_rows_name_their_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "a", "label": 0}\n{"text": "b", "label": -1}\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl:2:"):
        load_table(path)
    path.write_text('{"text": "a", "label": 0}\n\n{"text": "b"\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl:3: invalid JSON"):
        load_table(path)
    path.write_text('{"text": "a", "label": true}\n')
    with pytest.raises(DataFormatError, match=r"bad.jsonl:1:"):
        load_table(path)


def test_unknown_dataset_spec():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("imdb_please")
    with pytest.raises(FileNotFoundError):
        load_dataset("/nonexistent/file.csv")


def test_rotten_tomatoes_offline():
    ds = load_rotten_tomatoes()
    assert len(ds) == 12752 and len(set(ds.texts)) == len(ds)
    assert np.bincount(ds.labels).tolist() == [5384, 7368]  # rotten, fresh


def test_synthetic_is_seeded_and_learnable():
    a, b, c = synthetic_task(200, seed=1), synthetic_task(200, seed=1), synthetic_task(200, seed=2)
    assert a.texts == b.texts and np.array_equal(a.labels, b.labels) and a.texts != c.texts
    assert 0.3 < a.labels.mean() < 0.7


def test_splits_disjoint_seeded_and_nested():
    ds = synthetic_task(300, seed=0)
    s = make_splits(ds, 50, 60, 70, seed=4)
    ix = s.indices
    allidx = np.concatenate([ix["weak_train"], ix["weak_label"], ix["test"]])
    assert len(set(allidx)) == 180 and len(s.test) == 70
    same = make_splits(ds, 50, 60, 70, seed=4)
    assert all(np.array_equal(ix[k], same.indices[k]) for k in ix)
    bigger = make_splits(ds, 50, 120, 70, seed=4).indices
    assert np.array_equal(bigger["test"], ix["test"]) and np.array_equal(
        bigger["weak_label"][:60], ix["weak_label"]
    )
    assert not np.array_equal(make_splits(ds, 50, 60, 70, seed=5).indices["test"], ix["test"])
    assert len(make_splits(ds, 50, 60, 0, seed=0).test) == 190
    with pytest.raises(ValueError, match="need"):
        make_splits(ds, 200, 100, 10, seed=0)


def test_bbc_news_offline_five_topics_fixed_labels():
    from bayes_w2s.neural.data import BBC_TOPICS, load_bbc_news

    data = load_dataset("bbc_news")
    assert data.n_classes == 5 and len(BBC_TOPICS) == 5
    counts = np.bincount(data.labels)
    assert counts.min() > 300 and 2000 < len(data) <= 2225  # duplicates dropped
    assert len(set(data.texts)) == len(data)
    # labels follow the topic names, not directory-listing order: spot-check by content
    sport = [t for t, y in zip(data.texts, data.labels) if y == BBC_TOPICS.index("sports")]
    assert sum(("match" in t or "cup" in t.lower()) for t in sport) > len(sport) // 3
    assert load_bbc_news().fingerprint() == data.fingerprint()  # deterministic order


def test_subsample_spec_is_seeded_and_validated():
    a = load_dataset("bbc_news:n=300")
    b = load_dataset("bbc_news:n=300,seed=0")
    c = load_dataset("bbc_news:n=300,seed=1")
    assert len(a) == 300 and a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert set(a.texts) <= set(load_dataset("bbc_news").texts)
    for bad in ("bbc_news:n=0", "bbc_news:n=99999", "bbc_news:k=3", "bbc_news:n=x"):
        with pytest.raises(ValueError):
            load_dataset(bad)


def test_fingerprint_is_computed_once_and_cannot_go_stale():
    labels = np.array([0, 1, 1])
    d = TextDataset(("a", "b", "c"), labels)
    first = d.fingerprint()
    labels[0] = 1  # the caller's array: the dataset holds its own copy
    assert d.fingerprint() == first == TextDataset(("a", "b", "c"), [0, 1, 1]).fingerprint()
    assert TextDataset(("a", "b", "c"), labels).fingerprint() != first
    with pytest.raises(ValueError, match="read-only"):
        d.labels[0] = 1  # in place would make the cached fingerprint lie

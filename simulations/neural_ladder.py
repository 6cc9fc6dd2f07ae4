"""Neural capability ladder at equal ground truth, one method and one seed per run (sweepable).

One run trains, for every weak < strong pair of ``models`` (capability order), the weak
model and the strong ceiling on the same ground truth and the strong student on the weak
model's soft labels (:mod:`bayes_w2s.neural.ladder`, Burns et al. protocol), with ``method``.
As an experiment it plugs into the sweep machinery, so a ladder x methods x seeds grid is

    bayes-w2s sweep neural_ladder --models minilm-l1,minilm,mpnet \\
        --grid method=xent,product,ve+budget:budget=40 --seeds 0-9 [--executor dask|ray]

(resumable; frozen features and weak/ceiling outputs are cached on disk and shared by cells).
Grid values are split on ``,``: a method whose schedule has several parameters goes in a
second sweep or in ``bayes-w2s neural ladder --methods``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

__all__ = ["FIGURES", "Config", "run", "summarize"]


@dataclass(frozen=True)
class Config:
    """One ladder run; ``n_weak_gt = 0``: weak sees all of weak-train (equal ground truth);
    ``lr = 0`` / ``epochs = 0``: the mode's defaults."""

    seed: int = 0
    models: tuple = ("minilm-l1", "minilm")
    dataset: str = "rotten_tomatoes"
    method: str = "xent"
    mode: str = "features"
    n_weak_train: int = 4000
    n_weak_gt: int = 0
    n_weak_label: int = 4000
    n_test: int = 4000
    max_length: int = 64
    lr: float = 0.0
    epochs: float = 0.0
    eval_every: int = 0

    def __post_init__(self) -> None:
        self.ladder()  # validates every field through the neural configs

    def ladder(self):
        from bayes_w2s.neural.ladder import LadderConfig
        from bayes_w2s.neural.pipeline import W2SConfig

        if self.lr < 0 or self.epochs < 0 or self.n_weak_gt < 0:
            raise ValueError("lr, epochs and n_weak_gt must be >= 0 (0: default)")
        base = W2SConfig(
            weak=self.models[0],
            strong=self.models[-1],
            dataset=self.dataset,
            method=self.method,
            mode=self.mode,
            n_weak_train=self.n_weak_train,
            n_weak_gt=self.n_weak_gt or None,
            n_weak_label=self.n_weak_label,
            n_test=self.n_test,
            max_length=self.max_length,
            lr=self.lr or None,
            epochs=self.epochs or None,
            eval_every=self.eval_every,
        )
        return LadderConfig(
            models=tuple(self.models), base=base, methods=(self.method,), seeds=(self.seed,)
        )


def run(cfg: Config) -> pd.DataFrame:
    """Rows per weak < strong pair for this seed and method (see :func:`run_ladder`)."""
    from bayes_w2s.neural.ladder import run_ladder

    rows = run_ladder(cfg.ladder())
    # the sweep tags its own ``seed`` and ``method`` (the spec as given); keep the pretty label
    rows = rows.rename(columns={"method": "method_label"}).drop(columns=["seed"])
    rows.insert(1, "method", cfg.method)
    return rows


def summarize(df: pd.DataFrame, cfg: Config) -> str:
    from bayes_w2s.neural.ladder import ladder_summary

    summary = ladder_summary(df.assign(seed=df.get("seed", 0)))
    cols = ["pair", "method", "n_seeds", "acc_weak", "acc_ceiling", "acc_w2s", "pgr"]
    return summary[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}")


def plot_ladder(df: pd.DataFrame, ax=None):
    from bayes_w2s.neural.ladder import ladder_summary
    from bayes_w2s.neural.ladder import plot_ladder as _plot

    return _plot(ladder_summary(df.assign(seed=df.get("seed", 0))), ax=ax)


FIGURES = {"ladder": plot_ladder}

"""The configuration of one weak-to-strong pipeline run: :class:`W2SConfig`.

Its own module so that the pipeline (:mod:`.pipeline`) and the model backend
(:mod:`.backend`) can both depend on it without depending on each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import MODES, ModelSpec
from .train import TrainConfig

__all__ = ["ALL_MODES", "MOVEMENT_COLUMNS", "STUDENT_SGD_LR", "W2SConfig"]

ALL_MODES = ("features",) + MODES
# momentum-free SGD lr of students on standardized frozen features (measured in
# docs/readme_parts/neural_core.md: xent under SGD at this lr matches xent under Adam 1e-3)
STUDENT_SGD_LR = 0.1
MOVEMENT_COLUMNS = (
    "param_distance",
    "distance_bound",
    "kl_from_init",
    "kl_bound",
    "lr_strength_sum",
    "certificate",
    "distance_bound_data",
    "reference_distance",
    "kl_bound_data",
    "flip_bound",
    "flips_measured",
)


@dataclass(frozen=True)
class W2SConfig:
    """Everything that determines one W2S run (per seed).

    Default: the Burns et al. protocol, weak and ceiling trained on the *same* ground truth
    (``n_weak_gt=None``: all of ``weak_train``); the models differ in capability. A
    data-starved weak supervisor (the old default) is ``n_weak_gt=250``. The default pair
    is the widest gap that needs nothing beyond the MiniLM wheel: ``minilm-l0`` (its
    embedding layer, mean of word vectors, no attention) -> ``minilm`` (6 layers). Measured,
    Rotten Tomatoes, 4,000 each, 10 seeds: 0.740 -> 0.755, a 1.5-point gap (``minilm-l1``:
    0.743); a clear gap needs ``mpnet`` (``bayes-w2s neural assets mpnet``; :mod:`.ladder`).

    ``lr``/``epochs`` default by mode: heads on frozen features (``features``, ``probe``) use
    Adam lr 1e-3 for 10 epochs; ``finetune``/``lora`` use the openai defaults (lr 5e-5, 2
    epochs) for the backbone with the head's step ``head_lr_mult = 20`` times larger and its
    input features standardized (``standardize``; see :class:`~.models.Classifier` for why a
    small finetune otherwise stays at the majority class). Batch 32 throughout.

    Student-only settings (they never touch the weak model or the ceiling, whose epochs are
    ``gt_epochs``): ``method`` (a :mod:`.recipes` label, whose own fields override the rest),
    ``epochs``, ``steps``, ``student_lr``, ``student_optimizer``, ``anchor``, ``weight_decay``
    and ``eval_every``. The last ``val_frac`` of the weak-labelled split is held out from every
    student as the weak-labelled validation split (selection, early stopping); ``n_gt_val``
    ground-truth examples (the end of ``weak_train``) form the optional ground-truth validation
    split. ``eval_every > 0`` early-stops the student on the weak-labelled validation split
    (scored every ``eval_every`` steps, best checkpoint kept; EleutherAI/w2s practice).
    """

    weak: str = "minilm-l0"
    strong: str = "minilm"
    dataset: str = "rotten_tomatoes"
    method: str = "xent"
    mode: str = "features"
    n_weak_train: int = 4000
    n_weak_gt: int | None = None
    n_weak_label: int = 4000
    n_test: int = 4000
    max_length: int = 64
    batch_size: int = 32
    lr: float | None = None
    epochs: float | None = None
    steps: int | None = None
    head_hidden: int = 0
    weak_temperature: str = "1"
    anchor: str | None = None
    anchor_weight: float = 0.0
    intermediate: str | None = None
    device: str = "auto"
    threads: int | None = None
    student_optimizer: str = "auto"  # auto: momentum-free SGD on feature heads, else Adam
    student_lr: float | None = None  # default: STUDENT_SGD_LR under SGD, else ``lr``
    head_lr_mult: float | None = None
    standardize: bool = True
    eval_every: int = 0
    val_frac: float = 0.2
    n_gt_val: int = 100
    weight_decay: float = 0.0
    gt_epochs: float | None = None

    def head_mult(self) -> float:
        """``head_lr_mult``, default 20 for ``finetune``/``lora`` and 1 otherwise."""
        if self.head_lr_mult is not None:
            return float(self.head_lr_mult)
        return 20.0 if self.mode in ("finetune", "lora") else 1.0

    def __post_init__(self) -> None:
        if self.head_lr_mult is not None and not self.head_lr_mult > 0:
            raise ValueError(f"head_lr_mult must be > 0, got {self.head_lr_mult!r}")
        if isinstance(self.eval_every, bool) or int(self.eval_every) != self.eval_every or self.eval_every < 0:
            raise ValueError(f"eval_every must be a non-negative integer, got {self.eval_every!r}")
        if not 0 <= self.val_frac < 0.5:
            raise ValueError(f"val_frac must be in [0, 0.5), got {self.val_frac!r}")
        if isinstance(self.n_gt_val, bool) or int(self.n_gt_val) != self.n_gt_val or self.n_gt_val < 0:
            raise ValueError(f"n_gt_val must be a non-negative integer, got {self.n_gt_val!r}")
        if not self.weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay!r}")
        if self.gt_epochs is not None and not self.gt_epochs > 0:
            raise ValueError(f"gt_epochs must be > 0, got {self.gt_epochs!r}")
        if self.n_weak_gt is not None and self.n_weak_gt < 1:
            raise ValueError(f"n_weak_gt must be >= 1 or None, got {self.n_weak_gt}")
        if self.mode not in ALL_MODES:
            raise ValueError(f"unknown mode {self.mode!r}; choose from {ALL_MODES}")
        from .recipes import parse_recipe

        parse_recipe(self.method)
        for name in ("weak", "strong") + (("intermediate",) if self.intermediate else ()):
            ModelSpec.parse(getattr(self, name))
        if self.weak_temperature != "fit":
            try:
                t = float(self.weak_temperature)
            except ValueError:
                raise ValueError(
                    f"weak_temperature must be a positive number or 'fit', got {self.weak_temperature!r}"
                ) from None
            if not t > 0:
                raise ValueError("weak_temperature must be > 0")
        self.train_config(student=True)  # validates lr / epochs / steps / anchor

    def train_config(self, *, student: bool = False) -> TrainConfig:
        feats = self.mode in ("features", "probe")  # a head on frozen features either way
        opt = self.student_optimizer if student else "adam"
        if opt == "auto":
            opt = "sgd" if feats else "adam"
        lr = self.lr if self.lr is not None else (1e-3 if feats else 5e-5)
        if student and opt == "sgd":
            lr = self.student_lr if self.student_lr is not None else STUDENT_SGD_LR
        elif student and self.student_lr is not None:
            lr = self.student_lr
        epochs = self.epochs if student else self.gt_epochs
        return TrainConfig(
            batch_size=self.batch_size,
            epochs=epochs if epochs is not None else (10.0 if feats else 2.0),
            weight_decay=self.weight_decay if student else 0.0,
            lr=lr,
            optimizer=opt,
            steps=self.steps if student else None,
            anchor=self.anchor if student else None,
            anchor_weight=self.anchor_weight if student else 0.0,
            threads=self.threads
            if self.threads is not None
            else (1 if self.mode == "features" else None),
        )

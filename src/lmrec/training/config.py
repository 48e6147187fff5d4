"""What training is told (:class:`TrainConfig`) and what it reports (:class:`TrainResult`), for
eager (:mod:`.loop`) and streamed (:mod:`.stream`) training alike."""

from __future__ import annotations

from dataclasses import dataclass, field

NDCG10 = "NDCG@10"
NEG_LOSS = "-loss"
"""Validation metrics: per-user NDCG@10, or the negated per-example loss on held-out examples."""


@dataclass(frozen=True)
class TrainConfig:
    """Training settings.

    epochs: maximum passes over the training examples.
    batch_size: examples per optimisation step (per process).
    learning_rate: peak AdamW learning rate (after linear warm-up, then linear decay).
    weight_decay: AdamW weight decay.
    warmup_ratio: share of steps spent warming up.
    max_source_length: prompts are truncated to this many tokens.
    patience: stop after this many validations without a better validation NDCG@10 (0 = never).
    max_valid_users: validation users sampled (seeded) for the per-epoch check; 0 = all.
    seed: seeds data order, templates, dropout and initialisation.
    output_dir: where the resumable checkpoint is written each epoch (None = nowhere).
    resume: continue from ``output_dir``'s checkpoint if there is one.
    checkpoint_steps: also checkpoint every this many steps within an epoch (0 = only at the
        end of each epoch); a resumed run continues at the exact step.
    progress: show progress bars.
    log_dir: directory for TensorBoard scalars, one point per epoch: the training loss and the
        validation metric (None = none written).
    float32: train every product in float32; by default the output layer's products and the
        item-text projection read bfloat16 (float32 sums) where the device multiplies bfloat16
        natively: faster, but the weights a seed trains then depend on the machine.
    """

    epochs: int = 10
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.01
    warmup_ratio: float = 0.05
    max_source_length: int = 256
    patience: int = 3
    max_valid_users: int = 500
    seed: int = 0
    output_dir: str | None = None
    resume: bool = False
    checkpoint_steps: int = 0
    progress: bool = True
    log_dir: str | None = None
    float32: bool = False


@dataclass
class TrainResult:
    """What happened during training.

    ``best_valid`` is the best validation score, by ``valid_metric``: the validation NDCG@10
    when the sequential task is trained, else the negated mean loss on held-out examples
    (``"-loss"``: higher is better, like NDCG)."""

    epochs_run: int = 0
    best_epoch: int = 0
    best_valid: float = float("-inf")
    seconds: float = 0.0
    examples_seen: int = 0
    tokens_seen: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    valid_metric: str = NDCG10

    @property
    def best_valid_ndcg10(self) -> float:
        """The best validation NDCG@10 (NaN when validation used another metric)."""
        return self.best_valid if self.valid_metric == NDCG10 else float("nan")

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float | str]:
        return {
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "valid_metric": self.valid_metric,
            "best_valid": self.best_valid,
            "best_valid_ndcg10": self.best_valid_ndcg10,
            "seconds": self.seconds,
            "examples_per_second": self.examples_per_second,
            "tokens_per_second": self.tokens_per_second,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TrainResult:
        """Read back :meth:`as_dict` (also files written before ``valid_metric`` existed)."""
        return cls(
            epochs_run=data["epochs_run"],
            best_epoch=data["best_epoch"],
            best_valid=data.get("best_valid", data.get("best_valid_ndcg10", float("-inf"))),
            seconds=data["seconds"],
            valid_metric=data.get("valid_metric", NDCG10),
        )

    def describe_best(self) -> str:
        """e.g. ``"best validation NDCG@10 0.4123 at epoch 3"``."""
        if self.best_epoch == 0:
            return "no validation"
        if self.valid_metric == NEG_LOSS:
            return f"best validation loss {-self.best_valid:.4f} at epoch {self.best_epoch}"
        score = f"{self.valid_metric} {self.best_valid:.4f}"
        return f"best validation {score} at epoch {self.best_epoch}"


@dataclass
class RefitRecord:
    """A model trained once more, on every event, for the epoch count validation chose.

    epochs: epochs of the refit run (the best validation epoch of the run before it).
    events: events it trained on (training events plus every validation and test target).
    result: what the refit run reported (its per-epoch history, seconds; no validation).
    """

    epochs: int
    events: int
    result: TrainResult = field(default_factory=TrainResult)

    def as_dict(self) -> dict[str, float]:
        return {"epochs": self.epochs, "events": self.events, "seconds": self.result.seconds}

    @classmethod
    def from_dict(cls, data: dict) -> RefitRecord:
        """Read back :meth:`as_dict` (the refit run's history is in ``metrics.json``)."""
        return cls(data["epochs"], data["events"], TrainResult(seconds=data.get("seconds", 0.0)))

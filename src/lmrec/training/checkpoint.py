"""Resumable checkpoints: the loop's position and early-stopping record (:class:`LoopState`),
written beside the weights, optimizer, scheduler and RNG states that Accelerate saves."""

from __future__ import annotations

import json
import logging
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"


@dataclass
class LoopState:
    """Where training is: the next epoch and step to run, and the early-stopping record."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    stale: int = 0
    best_epoch: int = 0
    best_valid_ndcg10: float = float("-inf")
    history: list[dict[str, float]] = field(default_factory=list)
    best: dict | None = None

    def to_json(self) -> str:
        fields_ = {k: v for k, v in self.__dict__.items() if k != "best"}
        return json.dumps(fields_)

    @classmethod
    def from_json(cls, text: str) -> LoopState:
        return cls(**json.loads(text))


class _TiedWeightsNote(logging.Filter):
    """Drops accelerate's warning that a tied output layer was not written twice (a model with
    tied input and output embeddings; loading ties them again): one line per checkpoint."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Removed shared tensor" not in record.getMessage()


@contextmanager
def _tied_weights_quiet():
    logger = logging.getLogger("accelerate.utils.other")
    note = _TiedWeightsNote()
    logger.addFilter(note)
    try:
        yield
    finally:
        logger.removeFilter(note)


def save_checkpoint(accelerator: Accelerator, ckpt: Path, state: LoopState) -> None:
    """Write the resumable state (weights, optimizer, scheduler, every process's RNG, loop
    position) to a temporary folder, then swap it in by renames, so a kill at any moment
    leaves either the old or the new checkpoint whole. Only the main process writes files
    other than its RNG state."""
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    with _tied_weights_quiet():
        accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        if state.best is not None:
            torch.save(state.best, tmp / "best.pt")
        (tmp / "progress.json").write_text(state.to_json())
        old = ckpt.with_name(ckpt.name + ".old")
        if old.exists():
            shutil.rmtree(old)
        if ckpt.exists():
            ckpt.rename(old)
        tmp.rename(ckpt)
        if old.exists():
            shutil.rmtree(old)
    accelerator.wait_for_everyone()


def load_checkpoint(accelerator: Accelerator, ckpt: Path) -> LoopState | None:
    """Restore the objects ``accelerator`` prepared (weights, optimizer, scheduler, RNGs) from
    ``ckpt`` and return the loop's position there; None (nothing restored) when ``ckpt`` holds
    no checkpoint."""
    if not (ckpt / "progress.json").exists():
        return None
    accelerator.load_state(str(ckpt))
    state = LoopState.from_json((ckpt / "progress.json").read_text())
    if (ckpt / "best.pt").exists():
        state.best = torch.load(ckpt / "best.pt", weights_only=True)
    logger.info("resumed from %s at epoch %d step %d", ckpt, state.epoch + 1, state.step)
    return state

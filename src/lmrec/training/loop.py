"""Fine-tuning: length-bucketed batches, AdamW with warm-up, validation each epoch with early
stopping, the best weights kept, checkpoints to resume from. Runs unchanged under
``accelerate launch`` / ``torchrun`` (each process takes its share of the batches).

The configuration and result (:mod:`.config`) are importable from here too, as most callers of
:func:`train_model` need them."""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lmrec.config.progress import show_progress
from lmrec.tasks import Example
from lmrec.training.checkpoint import CHECKPOINT_DIR, LoopState, load_checkpoint, save_checkpoint
from lmrec.training.config import NDCG10, NEG_LOSS, TrainConfig, TrainResult
from lmrec.training.records import ScalarLog
from lmrec.training.step import TrainingStep, batch_order_rng, cpu_only, make_batches

__all__ = [
    "NDCG10",
    "NEG_LOSS",
    "TrainConfig",
    "TrainResult",
    "Validator",
    "process_state",
    "train_model",
]

logger = logging.getLogger(__name__)

Validator = Callable[[PreTrainedModel, slice], list[float]]
"""``validate(model, shard)``: a score per validation case in ``cases[shard]`` (see
:func:`train_model`)."""


def train_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples_for_epoch: Callable[[int], list[Example]],
    validate: Validator | None,
    config: TrainConfig,
    valid_metric: str = NDCG10,
) -> TrainResult:
    """Train in place; on return ``model`` holds the weights of the best validation epoch.

    ``examples_for_epoch(epoch)`` supplies that epoch's examples (templates are redrawn each
    epoch); ``validate(model, shard)`` returns the validation NDCG@10 of each validation user
    in ``users[shard]``: every process scores its own share (``slice(rank, None,
    processes)``) and the mean is gathered across processes, so all of them take the same
    early-stopping decision. ``valid_metric`` names what ``validate`` returns (higher is
    better): :data:`NDCG10` (per validation user) or :data:`NEG_LOSS` (per held-out example).

    Under ``torchrun`` / ``accelerate launch`` each step forms one *global* batch of
    ``batch_size * processes`` examples and process ``r`` takes every ``processes``-th example
    of it, so N processes with batch size B follow the same trajectory as one process with
    batch size N*B (up to float summation order and dropout masks).
    """
    # step_scheduler_with_optimizer=False: Accelerate would otherwise advance the schedule
    # once per process at each step, as if every process saw a different step's data.
    accelerator = Accelerator(cpu=cpu_only(), step_scheduler_with_optimizer=False)
    torch.manual_seed(config.seed)
    first = examples_for_epoch(0)
    global_batch = config.batch_size * accelerator.num_processes
    steps_per_epoch = max(1, len(first) // global_batch)
    step = TrainingStep(
        accelerator, model, tokenizer, config, max(1, steps_per_epoch * config.epochs)
    )
    result = TrainResult(valid_metric=valid_metric)
    ckpt = Path(config.output_dir) / CHECKPOINT_DIR if config.output_dir else None
    state = LoopState()
    if config.resume and ckpt is not None:
        state = load_checkpoint(accelerator, ckpt) or state
        result.best_epoch, result.best_valid = state.best_epoch, state.best_valid_ndcg10
        result.history, result.epochs_run = state.history, state.epoch

    log = ScalarLog(config.log_dir, accelerator.is_main_process)
    started = time.perf_counter()
    for epoch in range(state.epoch, config.epochs):
        # Checked before the epoch, not only after it: a run resumed from the checkpoint of a
        # run that stopped early stops again instead of training one epoch more.
        if validate is not None and config.patience and state.stale >= config.patience:
            break
        examples = first if epoch == 0 else examples_for_epoch(epoch)
        batches = make_batches(
            [len(e.source) for e in examples], global_batch, batch_order_rng(config.seed, epoch)
        )
        # Every process must take part in every step: drop global batches too small to share.
        batches = [b for b in batches if len(b) >= accelerator.num_processes]
        _run_epoch(step, examples, batches, epoch, config, state, result, ckpt)
        result.epochs_run = epoch + 1
        record = {"epoch": epoch + 1, "loss": state.loss_sum / max(1, len(batches))}
        if validate is not None:
            _validate_epoch(accelerator, step.model, validate, epoch, state, result, record)
        result.history.append(record)
        state.history = result.history
        if accelerator.is_main_process:
            _report(record, config, valid_metric)
        log.epoch(record)
        state.epoch, state.step, state.loss_sum = epoch + 1, 0, 0.0
        if ckpt is not None:
            save_checkpoint(accelerator, ckpt, state)
    log.close()
    result.seconds = time.perf_counter() - started
    if state.best is not None:
        accelerator.unwrap_model(step.model).load_state_dict(state.best)
    return result


def _run_epoch(
    step: TrainingStep,
    examples: Sequence[Example],
    batches: list[list[int]],
    epoch: int,
    config: TrainConfig,
    state: LoopState,
    result: TrainResult,
    ckpt: Path | None,
) -> None:
    """Train on this process's share of each global batch from ``state.step`` on, checkpointing
    every ``config.checkpoint_steps`` steps."""
    accelerator = step.accelerator
    world, rank = accelerator.num_processes, accelerator.process_index
    step.model.train()
    bar = tqdm(
        total=len(batches),
        initial=state.step,
        desc=f"epoch {epoch + 1}/{config.epochs}",
        disable=not show_progress(config.progress) or not accelerator.is_main_process,
        leave=False,
    )
    for index in range(state.step, len(batches)):
        local = batches[index][rank::world]
        loss, tokens = step([examples[i] for i in local])
        state.loss_sum += loss
        state.step = index + 1
        result.examples_seen += len(local)
        result.tokens_seen += tokens
        bar.update(1)
        if index % 20 == 0:
            bar.set_postfix(loss=f"{state.loss_sum / (index + 1):.3f}")
        steps_left = len(batches) - state.step
        if (
            ckpt is not None
            and config.checkpoint_steps
            and steps_left
            and (state.step % config.checkpoint_steps == 0)
        ):
            save_checkpoint(accelerator, ckpt, state)
    bar.close()


def _validate_epoch(
    accelerator: Accelerator,
    model: torch.nn.Module,
    validate: Validator,
    epoch: int,
    state: LoopState,
    result: TrainResult,
    record: dict[str, float],
) -> None:
    """Score the epoch's weights, record the score, and keep them if they are the best yet."""
    shard = slice(accelerator.process_index, None, accelerator.num_processes)
    score = _gathered_mean(accelerator, validate(accelerator.unwrap_model(model), shard))
    record["valid_ndcg10" if result.valid_metric == NDCG10 else "valid_neg_loss"] = score
    if score > state.best_valid_ndcg10:
        state.best_valid_ndcg10 = result.best_valid = score
        state.best_epoch = result.best_epoch = epoch + 1
        state.best = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
        state.stale = 0
    else:
        state.stale += 1


def _report(record: dict[str, float], config: TrainConfig, valid_metric: str) -> None:
    logger.info("epoch %d: %s", record["epoch"], record)
    if not config.progress:
        return
    valid = record.get("valid_ndcg10" if valid_metric == NDCG10 else "valid_neg_loss")
    if valid is None:
        shown = ""
    elif valid_metric == NDCG10:
        shown = f", valid NDCG@10 {valid:.4f}"
    else:
        shown = f", valid loss {-valid:.4f}"
    tqdm.write(f"epoch {record['epoch']}: loss {record['loss']:.4f}{shown}")


def _gathered_mean(accelerator: Accelerator, scores: Sequence[float]) -> float:
    """The mean of every process's ``scores`` together (0.0 when there are none)."""
    total = torch.tensor([float(sum(scores)), float(len(scores))], dtype=torch.float64)
    if accelerator.num_processes > 1:
        total = accelerator.reduce(total.to(accelerator.device), reduction="sum").cpu()
    return float(total[0] / total[1]) if total[1] > 0 else 0.0


def process_state() -> PartialState:
    """This process's place in a distributed run (one process when not launched by
    ``torchrun`` / ``accelerate launch``)."""
    return PartialState(cpu=cpu_only())

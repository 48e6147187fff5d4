"""Fine-tuning: length-bucketed batches, AdamW with warm-up, validation each epoch with early
stopping, the best weights kept, checkpoints to resume from. Runs unchanged under
``accelerate launch`` / ``torchrun`` (each process takes its share of the batches)."""

from __future__ import annotations

import copy
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from lmrec.tasks import Example

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"


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
    progress: show progress bars.
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
    progress: bool = True


@dataclass
class TrainResult:
    """What happened during training."""

    epochs_run: int = 0
    best_epoch: int = 0
    best_valid_ndcg10: float = float("-inf")
    seconds: float = 0.0
    examples_seen: int = 0
    tokens_seen: int = 0
    history: list[dict[str, float]] = field(default_factory=list)

    @property
    def examples_per_second(self) -> float:
        return self.examples_seen / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, float]:
        return {
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "best_valid_ndcg10": self.best_valid_ndcg10,
            "seconds": self.seconds,
            "examples_per_second": self.examples_per_second,
            "tokens_per_second": self.tokens_per_second,
        }


def make_batches(
    lengths: Sequence[int], batch_size: int, rng: random.Random, bucket: int = 50
) -> list[list[int]]:
    """Shuffle, then sort by length within buckets of ``bucket`` batches, so each batch holds
    prompts of similar length (little padding) while the order stays random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    span = batch_size * bucket
    for start in range(0, len(order), span):
        chunk = sorted(order[start : start + span], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def _collate(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    max_len: int,
) -> dict[str, torch.Tensor]:
    enc = tokenizer(
        [e.source for e in examples],
        padding=True,
        truncation=True,
        max_length=max_len,
        return_tensors="pt",
    )
    labels = tokenizer(
        [e.target for e in examples],
        padding=True,
        truncation=True,
        max_length=64,
        return_tensors="pt",
    ).input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    weights = torch.tensor([e.weight for e in examples], dtype=torch.float)
    return {
        "input_ids": enc.input_ids,
        "attention_mask": enc.attention_mask,
        "labels": labels,
        "weights": weights,
    }


def weighted_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor:
    """Mean token cross-entropy per example, then the weight-averaged mean over examples."""
    token_loss = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none"
    )
    mask = (labels != -100).float()
    per_example = (token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1)
    return (per_example * weights).sum() / weights.sum().clamp(min=1e-8)


def train_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples_for_epoch: Callable[[int], list[Example]],
    validate: Callable[[PreTrainedModel], float] | None,
    config: TrainConfig,
) -> TrainResult:
    """Train in place; on return ``model`` holds the weights of the best validation epoch.

    ``examples_for_epoch(epoch)`` supplies that epoch's examples (templates are redrawn each
    epoch); ``validate(model)`` returns validation NDCG@10.
    """
    accelerator = Accelerator()
    torch.manual_seed(config.seed)
    first = examples_for_epoch(0)
    steps_per_epoch = math.ceil(len(first) / config.batch_size / accelerator.num_processes)
    total_steps = max(1, steps_per_epoch * config.epochs)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    result = TrainResult()
    best_state = None
    start_epoch = 0
    stale = 0
    ckpt = Path(config.output_dir) / CHECKPOINT_DIR if config.output_dir else None
    if config.resume and ckpt is not None and (ckpt / "progress.json").exists():
        accelerator.load_state(str(ckpt))
        saved = json.loads((ckpt / "progress.json").read_text())
        start_epoch = saved["epoch"] + 1
        stale = saved["stale"]
        result.best_epoch = saved["best_epoch"]
        result.best_valid_ndcg10 = saved["best_valid_ndcg10"]
        result.history = saved["history"]
        best_path = ckpt / "best.pt"
        if best_path.exists():
            best_state = torch.load(best_path, weights_only=True)
        logger.info("resumed from %s at epoch %d", ckpt, start_epoch)

    started = time.perf_counter()
    for epoch in range(start_epoch, config.epochs):
        examples = first if epoch == 0 else examples_for_epoch(epoch)
        rng = random.Random(config.seed * 1_000_003 + epoch)
        lengths = [len(e.source) for e in examples]
        batches = make_batches(lengths, config.batch_size, rng)
        # Each process takes an equal share so gradients stay in sync under DDP.
        share = len(batches) // accelerator.num_processes * accelerator.num_processes or len(
            batches
        )
        batches = batches[accelerator.process_index : share : accelerator.num_processes]
        model.train()
        running = 0.0
        bar = tqdm(
            batches,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not config.progress or not accelerator.is_main_process,
            leave=False,
        )
        for step, batch_idx in enumerate(bar):
            batch = _collate(tokenizer, [examples[i] for i in batch_idx], config.max_source_length)
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            weights = batch.pop("weights")
            out = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                labels=batch["labels"],
            )
            loss = weighted_loss(out.logits, batch["labels"], weights)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.detach().item()
            result.examples_seen += len(batch_idx)
            result.tokens_seen += int(batch["attention_mask"].sum()) + int(
                (batch["labels"] != -100).sum()
            )
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running / (step + 1):.3f}")
        result.epochs_run = epoch + 1
        record = {"epoch": epoch + 1, "loss": running / max(1, len(batches))}
        if validate is not None:
            score = validate(accelerator.unwrap_model(model))
            record["valid_ndcg10"] = score
            if score > result.best_valid_ndcg10:
                result.best_valid_ndcg10 = score
                result.best_epoch = epoch + 1
                best_state = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
                stale = 0
            else:
                stale += 1
        result.history.append(record)
        if accelerator.is_main_process:
            logger.info("epoch %d: %s", epoch + 1, record)
            if config.progress:
                tqdm.write(
                    f"epoch {epoch + 1}: loss {record['loss']:.4f}"
                    + (
                        f", valid NDCG@10 {record['valid_ndcg10']:.4f}"
                        if "valid_ndcg10" in record
                        else ""
                    )
                )
        if ckpt is not None:
            _save_checkpoint(accelerator, ckpt, epoch, stale, result, best_state)
        if validate is not None and config.patience and stale >= config.patience:
            break
    result.seconds = time.perf_counter() - started
    unwrapped = accelerator.unwrap_model(model)
    if best_state is not None:
        unwrapped.load_state_dict(best_state)
    return result


def _save_checkpoint(
    accelerator: Accelerator,
    ckpt: Path,
    epoch: int,
    stale: int,
    result: TrainResult,
    best_state: dict | None,
) -> None:
    """Write the resumable state to a temporary folder, then swap it in (atomic on POSIX)."""
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        return
    tmp = ckpt.with_name(ckpt.name + ".tmp")
    if tmp.exists():
        _remove_tree(tmp)
    tmp.mkdir(parents=True)
    accelerator.save_state(str(tmp))
    if best_state is not None:
        torch.save(best_state, tmp / "best.pt")
    progress = {
        "epoch": epoch,
        "stale": stale,
        "best_epoch": result.best_epoch,
        "best_valid_ndcg10": result.best_valid_ndcg10,
        "history": result.history,
    }
    (tmp / "progress.json").write_text(json.dumps(progress))
    old = ckpt.with_name(ckpt.name + ".old")
    if ckpt.exists():
        ckpt.rename(old)
    tmp.rename(ckpt)
    if old.exists():
        _remove_tree(old)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)

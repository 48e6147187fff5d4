"""Fine-tuning: length-bucketed batches, AdamW with warm-up, validation each epoch with early
stopping, the best weights kept, checkpoints to resume from. Runs unchanged under
``accelerate launch`` / ``torchrun`` (each process takes its share of the batches)."""

from __future__ import annotations

import copy
import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator, PartialState
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from lmrec.backbone.causal import (
    answer_ids,
    is_causal,
    prompt_ids,
    separator_id,
    takes_logits_to_keep,
)
from lmrec.config.progress import show_progress
from lmrec.tasks import Example

logger = logging.getLogger(__name__)

NDCG10 = "NDCG@10"
NEG_LOSS = "-loss"
"""Validation metrics: per-user NDCG@10, or the negated per-example loss on held-out examples."""

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
    checkpoint_steps: also checkpoint every this many steps within an epoch (0 = only at the
        end of each epoch); a resumed run continues at the exact step.
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
    checkpoint_steps: int = 0
    progress: bool = True


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


def collate_batch(
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    max_len: int,
    causal: bool = False,
) -> dict[str, torch.Tensor]:
    if causal:
        return _collate_causal(tokenizer, examples, max_len)
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


def _collate_causal(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example], max_len: int
) -> dict[str, torch.Tensor]:
    """One sequence per example for a decoder-only model: ``prompt </s> answer </s>``
    (:mod:`lmrec.backbone.causal`), right-padded; labels are the answer tokens in place, -100 on the
    prompt and padding (:func:`weighted_loss` shifts them). An ``Example.all_positions``
    example is ``source target`` with no separator between, every token but ``</s>`` a label."""
    rows = []
    separator = separator_id(tokenizer)
    for e in examples:
        if e.all_positions:
            # ``source target`` as one sequence, no separator between: every id token is a
            # label; the start token (end-of-sequence standing in) is an input only.
            prompt = prompt_ids(tokenizer, e.source, max_len, separator=False)
            answer = tokenizer(e.target, add_special_tokens=False).input_ids
            ids = prompt + answer
            rows.append((ids, [-100 if t == separator else t for t in ids]))
        else:
            prompt = prompt_ids(tokenizer, e.source, max_len)
            answer = answer_ids(tokenizer, e.target)
            rows.append((prompt + answer, [-100] * len(prompt) + answer))
    width = max(len(ids) for ids, _ in rows)
    input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    labels = torch.full((len(rows), width), -100, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(rows):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(ids)] = torch.tensor(labs)
        attention_mask[row, : len(ids)] = 1
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "weights": torch.tensor([e.weight for e in examples], dtype=torch.float),
    }


def weighted_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Mean token cross-entropy per example, then the weight-averaged mean over examples.

    ``causal``: labels sit at the positions of the tokens themselves (:func:`_collate_causal`),
    and a decoder-only model's logits at position t predict token t+1, so ``logits[:, :-1]``
    are scored against ``labels[:, 1:]``. (An encoder-decoder's decoder is fed the labels
    shifted right, so its logits and labels already line up.)"""
    per_example = example_losses(logits, labels, causal)
    return (per_example * weights).sum() / weights.sum().clamp(min=1e-8)


def example_losses(
    logits: torch.Tensor, labels: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Each example's mean answer-token cross-entropy (see :func:`weighted_loss`)."""
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    token_loss = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none"
    )
    mask = (labels != -100).float()
    return (token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1)


@torch.no_grad()
def evaluation_losses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    max_source_length: int,
    batch_size: int = 64,
) -> list[float]:
    """Each example's mean answer-token cross-entropy under ``model`` (eval mode, no
    gradients), in the order given: the held-out loss a validation set is scored by."""
    causal = is_causal(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].source))
    losses = [0.0] * len(examples)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        batch = collate_batch(tokenizer, [examples[i] for i in chunk], max_source_length, causal)
        batch = {k: v.to(device) for k, v in batch.items()}
        logits, labels = logits_and_labels(model, batch, causal)
        values = example_losses(logits, labels).tolist()
        for i, value in zip(chunk, values, strict=True):
            losses[i] = value
    model.train(was_training)
    return losses


def batch_loss(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    causal: bool = False,
    trim_logits: bool = False,
) -> torch.Tensor:
    """The weighted loss of one batch from :func:`collate_batch`.

    ``trim_logits`` (decoder-only models whose forward takes ``logits_to_keep``): logits only
    at the positions that predict a label in some row of the batch. The vocabulary-wide logits
    of the prompt (or, with ``Example.all_positions``, of the positions followed by a ``</s>``)
    would otherwise be a large share of a step's time and memory, all thrown away."""
    logits, labels = logits_and_labels(model, batch, causal, trim_logits)
    return weighted_loss(logits, labels, batch["weights"])


def logits_and_labels(
    model: torch.nn.Module,
    batch: dict[str, torch.Tensor],
    causal: bool,
    trim_logits: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass over a batch from :func:`collate_batch`: the logits and the labels they
    predict, aligned (a decoder-only model's causal shift already applied; see
    :func:`batch_loss` for ``trim_logits``)."""
    labels = batch["labels"]
    if not causal:
        # The labels give the decoder its (right-shifted) input.
        out = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels
        )
        return out.logits, labels
    if not trim_logits:
        # No labels: the model would compute a second (unweighted) loss.
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return out.logits[:, :-1], labels[:, 1:]
    # Position t predicts token t + 1: keep the positions whose next token is a label.
    keep = (labels[:, 1:] != -100).any(0).nonzero().squeeze(1)
    if not len(keep):
        keep = torch.tensor([labels.shape[1] - 2], device=labels.device)
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    )
    return out.logits, labels[:, keep + 1]


def train_model(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples_for_epoch: Callable[[int], list[Example]],
    validate: Callable[[PreTrainedModel, slice], list[float]] | None,
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
    accelerator = Accelerator(cpu=_cpu_only(), step_scheduler_with_optimizer=False)
    causal = is_causal(model)
    trim_logits = causal and takes_logits_to_keep(model)
    world, rank = accelerator.num_processes, accelerator.process_index
    torch.manual_seed(config.seed)
    first = examples_for_epoch(0)
    global_batch = config.batch_size * world
    steps_per_epoch = max(1, len(first) // global_batch)
    total_steps = max(1, steps_per_epoch * config.epochs)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * total_steps), total_steps
    )
    model, optimizer, scheduler = accelerator.prepare(model, optimizer, scheduler)
    result = TrainResult(valid_metric=valid_metric)
    valid_key = "valid_ndcg10" if valid_metric == NDCG10 else "valid_neg_loss"
    state = _LoopState()
    ckpt = Path(config.output_dir) / CHECKPOINT_DIR if config.output_dir else None
    if config.resume and ckpt is not None and (ckpt / "progress.json").exists():
        accelerator.load_state(str(ckpt))
        state = _LoopState.from_json((ckpt / "progress.json").read_text())
        result.best_epoch, result.best_valid = state.best_epoch, state.best_valid_ndcg10
        result.history = state.history
        if (ckpt / "best.pt").exists():
            state.best = torch.load(ckpt / "best.pt", weights_only=True)
        logger.info("resumed from %s at epoch %d step %d", ckpt, state.epoch + 1, state.step)

    started = time.perf_counter()
    for epoch in range(state.epoch, config.epochs):
        examples = first if epoch == 0 else examples_for_epoch(epoch)
        rng = random.Random(config.seed * 1_000_003 + epoch)
        batches = make_batches([len(e.source) for e in examples], global_batch, rng)
        # Every process must take part in every step: drop global batches too small to share.
        batches = [b for b in batches if len(b) >= world]
        model.train()
        bar = tqdm(
            total=len(batches),
            initial=state.step,
            desc=f"epoch {epoch + 1}/{config.epochs}",
            disable=not show_progress(config.progress) or not accelerator.is_main_process,
            leave=False,
        )
        for step in range(state.step, len(batches)):
            local = batches[step][rank::world]
            batch = collate_batch(
                tokenizer, [examples[i] for i in local], config.max_source_length, causal
            )
            batch = {k: v.to(accelerator.device) for k, v in batch.items()}
            loss = batch_loss(model, batch, causal, trim_logits)
            accelerator.backward(loss)
            accelerator.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            state.loss_sum += loss.detach().item()
            state.step = step + 1
            result.examples_seen += len(local)
            # A causal sequence holds its answer; an encoder-decoder's answer is extra.
            result.tokens_seen += int(batch["attention_mask"].sum()) + (
                0 if causal else int((batch["labels"] != -100).sum())
            )
            bar.update(1)
            if step % 20 == 0:
                bar.set_postfix(loss=f"{state.loss_sum / (step + 1):.3f}")
            steps_left = len(batches) - state.step
            if (
                ckpt is not None
                and config.checkpoint_steps
                and steps_left
                and (state.step % config.checkpoint_steps == 0)
            ):
                _save_checkpoint(accelerator, ckpt, state)
        bar.close()
        result.epochs_run = epoch + 1
        record = {"epoch": epoch + 1, "loss": state.loss_sum / max(1, len(batches))}
        if validate is not None:
            shard = slice(accelerator.process_index, None, accelerator.num_processes)
            score = _gathered_mean(accelerator, validate(accelerator.unwrap_model(model), shard))
            record[valid_key] = score
            if score > state.best_valid_ndcg10:
                state.best_valid_ndcg10 = result.best_valid = score
                state.best_epoch = result.best_epoch = epoch + 1
                state.best = copy.deepcopy(accelerator.unwrap_model(model).state_dict())
                state.stale = 0
            else:
                state.stale += 1
        result.history.append(record)
        state.history = result.history
        if accelerator.is_main_process:
            logger.info("epoch %d: %s", epoch + 1, record)
            if config.progress:
                valid = record.get(valid_key)
                if valid is None:
                    shown = ""
                elif valid_metric == NDCG10:
                    shown = f", valid NDCG@10 {valid:.4f}"
                else:
                    shown = f", valid loss {-valid:.4f}"
                tqdm.write(f"epoch {epoch + 1}: loss {record['loss']:.4f}{shown}")
        state.epoch, state.step, state.loss_sum = epoch + 1, 0, 0.0
        if ckpt is not None:
            _save_checkpoint(accelerator, ckpt, state)
        if validate is not None and config.patience and state.stale >= config.patience:
            break
    result.seconds = time.perf_counter() - started
    unwrapped = accelerator.unwrap_model(model)
    if state.best is not None:
        unwrapped.load_state_dict(state.best)
    return result


def _gathered_mean(accelerator: Accelerator, scores: Sequence[float]) -> float:
    """The mean of every process's ``scores`` together (0.0 when there are none)."""
    total = torch.tensor([float(sum(scores)), float(len(scores))], dtype=torch.float64)
    if accelerator.num_processes > 1:
        total = accelerator.reduce(total.to(accelerator.device), reduction="sum").cpu()
    return float(total[0] / total[1]) if total[1] > 0 else 0.0


def _cpu_only() -> bool:
    # Accelerate only sets up multi-process CPU training (gloo) when told it is on the CPU.
    return not torch.cuda.is_available()


def process_state() -> PartialState:
    """This process's place in a distributed run (one process when not launched by
    ``torchrun`` / ``accelerate launch``)."""
    return PartialState(cpu=_cpu_only())


@dataclass
class _LoopState:
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
    def from_json(cls, text: str) -> _LoopState:
        return cls(**json.loads(text))


def _save_checkpoint(accelerator: Accelerator, ckpt: Path, state: _LoopState) -> None:
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

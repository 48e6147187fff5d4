"""One training step, shared by eager (:mod:`.loop`) and streamed (:mod:`.stream`) training:
length-bucketed batches, collation (encoder-decoder or causal layout), the weighted loss, and
the AdamW step with linear warm-up and decay and gradient clipping (:class:`TrainingStep`)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import torch
from accelerate import Accelerator
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from lmrec.backbone.causal import (
    answer_ids,
    is_causal,
    keeps_logits_by_mask,
    prompt_ids,
    separator_id,
    takes_logits_to_keep,
)
from lmrec.backbone.itemtext import item_text_of
from lmrec.tasks import Example
from lmrec.training.config import TrainConfig
from lmrec.training.fused import fused_head_loss, fuses_head


def batch_order_rng(seed: int, epoch: int) -> random.Random:
    """The stream that orders an epoch's batches (:func:`make_batches`), eager or streamed."""
    return random.Random(seed * 1_000_003 + epoch)


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
            ids = list(e.token_ids) if e.token_ids is not None else _sequence(tokenizer, e, max_len)
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


def _sequence(tokenizer: PreTrainedTokenizerBase, example: Example, max_len: int) -> list[int]:
    """An ``all_positions`` example's tokens: ``source`` (cut to ``max_len``) then ``target``."""
    prompt = prompt_ids(tokenizer, example.source, max_len, separator=False)
    return prompt + tokenizer(example.target, add_special_tokens=False).input_ids


def with_token_ids(
    tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example], max_len: int
) -> list[Example]:
    """``examples`` with each ``all_positions`` example's tokens computed once
    (``Example.token_ids``): the same batches as tokenising them at every step (the sequence
    objective's examples are the same every epoch; tokenising them took ~6 % of an epoch)."""
    return [
        replace(e, token_ids=tuple(_sequence(tokenizer, e, max_len))) if e.all_positions else e
        for e in examples
    ]


def weighted_loss(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Mean token cross-entropy per example, then the weight-averaged mean over examples.

    ``causal``: labels sit at the positions of the tokens themselves (:func:`_collate_causal`),
    and a decoder-only model's logits at position t predict token t+1, so ``logits[:, :-1]``
    are scored against ``labels[:, 1:]``. (An encoder-decoder's decoder is fed the labels
    shifted right, so its logits and labels already line up.)"""
    return _weighted_mean(example_losses(logits, labels, causal), weights)


def _weighted_mean(per_example: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    return (per_example * weights).sum() / weights.sum().clamp(min=1e-8)


def example_losses(
    logits: torch.Tensor, labels: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """Each example's mean answer-token cross-entropy (see :func:`weighted_loss`)."""
    if causal:
        logits, labels = logits[:, :-1], labels[:, 1:]
    labelled = labels != -100
    return _mean_token_losses(logits[labelled], labels[labelled], labelled)


def _mean_token_losses(
    logits: torch.Tensor, labels: torch.Tensor, labelled: torch.Tensor
) -> torch.Tensor:
    """Each example's mean cross-entropy over its labelled positions, from the logits
    (positions, vocabulary) and labels of the ``True`` entries of ``labelled`` (examples,
    positions), in row-major order. One contiguous matrix: cross-entropy over a transposed
    (batch, vocabulary, positions) view, padding included, took 5-6x as long forward and
    backward (a 64 x 12 x 13k batch, one CPU thread), for the same values."""
    token_loss = torch.nn.functional.cross_entropy(logits.float(), labels, reduction="none")
    rows = labelled.nonzero()[:, 0]
    sums = token_loss.new_zeros(labelled.shape[0]).index_add(0, rows, token_loss)
    return sums / labelled.sum(-1).clamp(min=1)


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

    ``trim_logits`` (decoder-only models, see :func:`trims_logits`): logits only where a label
    is predicted (:func:`labelled_logits`). The vocabulary-wide logits of the prompt, the
    padding (or, with ``Example.all_positions``, the positions followed by a ``</s>``) would
    otherwise be a large share of a step's time and memory, all thrown away."""
    if causal and trim_logits:
        logits, labels, labelled = labelled_logits(model, batch)
        return _weighted_mean(_mean_token_losses(logits, labels, labelled), batch["weights"])
    logits, labels = logits_and_labels(model, batch, causal)
    return weighted_loss(logits, labels, batch["weights"])


def logits_and_labels(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], causal: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass over a batch from :func:`collate_batch`: the logits and the labels they
    predict, aligned (a decoder-only model's causal shift already applied)."""
    labels = batch["labels"]
    if not causal:
        # The labels give the decoder its (right-shifted) input.
        out = model(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=labels
        )
        return out.logits, labels
    # No labels: the model would compute a second (unweighted) loss.
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return out.logits[:, :-1], labels[:, 1:]


def labelled_logits(
    model: torch.nn.Module, batch: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A decoder-only model's logits at the positions that predict a label, row by row (a
    boolean ``logits_to_keep``: prompt and padding positions never reach the output layer),
    as one (labelled positions, vocabulary) matrix in row-major order; their labels; and the
    (examples, positions) mask of where they sit (position t predicts token t + 1)."""
    labels = batch["labels"][:, 1:]
    labelled = labels != -100
    keep = torch.cat([labelled, labelled.new_zeros(len(labelled), 1)], dim=1)
    out = model(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], logits_to_keep=keep
    )
    if out.logits.dim() != 2:
        raise RuntimeError("the model's forward does not take a boolean logits_to_keep mask")
    return out.logits, labels[labelled], labelled


def trims_logits(model: torch.nn.Module) -> bool:
    """Whether :func:`batch_loss` can keep ``model``'s logits at labelled positions only: a
    decoder-only model whose forward takes ``logits_to_keep`` and a transformers that slices
    by a boolean (batch, positions) mask."""
    return is_causal(model) and takes_logits_to_keep(model) and keeps_logits_by_mask()


def cpu_only() -> bool:
    """Whether training runs on the CPU (no CUDA device)."""
    # Accelerate only sets up multi-process CPU training (gloo) when told it is on the CPU.
    return not torch.cuda.is_available()


class TrainingStep:
    """The optimisation step of every training path: collate a batch of examples the way the
    model needs (encoder-decoder, or the causal layout of a decoder-only model), take the
    weighted loss, back-propagate, clip gradients to norm 1, and step AdamW and its linear
    warm-up/decay schedule over ``total_steps``.

    The model, optimizer and schedule are prepared by ``accelerator`` (``self.model`` is the
    prepared model: under ``torchrun`` a DDP wrapper, else the model itself)."""

    def __init__(
        self,
        accelerator: Accelerator,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        config: TrainConfig,
        total_steps: int,
    ) -> None:
        self.accelerator = accelerator
        self.tokenizer = tokenizer
        self.max_source_length = config.max_source_length
        self.causal = is_causal(model)
        self.trim_logits = trims_logits(model)
        # foreach: one multi-tensor update for all parameters instead of a Python loop over them
        # (PyTorch picks it by default on CUDA, not on the CPU); the same arithmetic, so the same
        # weights bit for bit (the demo's numbers are unchanged), with fewer kernel launches.
        optimizer = torch.optim.AdamW(
            model.parameters(),
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
            foreach=True,
        )
        scheduler = get_linear_schedule_with_warmup(
            optimizer, int(config.warmup_ratio * total_steps), total_steps
        )
        self.model, self.optimizer, self.scheduler = accelerator.prepare(
            model, optimizer, scheduler
        )
        # The output layer and loss in cache-sized chunks (lmrec.training.fused), where the
        # prepared model is the plain model (not under DDP): a sixth of a full Beauty step
        # less, the same loss and gradients to float rounding.
        self.fused = self.trim_logits and fuses_head(self.model)
        # None: bfloat16 products where the device multiplies bfloat16 natively
        self.bf16 = False if config.float32 else None
        if (table := item_text_of(model)) is not None:
            table.bf16_training = self.bf16

    def __call__(self, examples: Sequence[Example]) -> tuple[float, int]:
        """One step on ``examples``: the batch's loss and the tokens it held."""
        batch = collate_batch(self.tokenizer, examples, self.max_source_length, self.causal)
        batch = {k: v.to(self.accelerator.device) for k, v in batch.items()}
        if self.fused:
            loss = fused_head_loss(self.model, batch, bf16_gradients=self.bf16)
        else:
            loss = batch_loss(self.model, batch, self.causal, self.trim_logits)
        self.accelerator.backward(loss)
        self.accelerator.clip_grad_norm_(self.model.parameters(), 1.0)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        # A causal sequence holds its answer; an encoder-decoder's answer is extra.
        tokens = int(batch["attention_mask"].sum())
        if not self.causal:
            tokens += int((batch["labels"] != -100).sum())
        return loss.detach().item(), tokens

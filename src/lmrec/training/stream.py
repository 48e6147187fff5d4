"""Fine-tuning from a stream of examples, for training logs larger than memory.

The optimisation step of :func:`lmrec.training.loop.train_model` (same collation, weighted loss,
AdamW
with linear warm-up and decay, gradient clipping), but each epoch's examples arrive as an
iterable, e.g. :func:`lmrec.data.stream.stream_sequential_examples`, and only a buffer of
``shuffle_buffer`` of them is held at a time: it is shuffled and cut into length-bucketed batches
(:func:`lmrec.training.loop.make_batches`), trained on, and dropped. A log in time order stays
roughly in
time order across buffers, so make the buffer as large as memory allows.

One process, no per-epoch validation, early stopping or checkpoints: a stream has no held-out
users to validate on, and resuming would mean replaying the stream to a position.
:func:`fit_on_stream` sets up and trains an :class:`~lmrec.recommenders.lm.LMRecommender` this way.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from lmrec.backbone.model import prepare_model
from lmrec.data.readers import ColumnMap, StrPath
from lmrec.data.schema import Catalog, LoadReport
from lmrec.data.stream import (
    DEFAULT_CHUNK_SIZE,
    catalog_index,
    stream_sequential_examples,
    stream_sequential_pairs,
)
from lmrec.decoding.trie import ItemTrie
from lmrec.recommenders.lm import LMRecommender, catalog_corpus
from lmrec.tasks import Example
from lmrec.training.loop import TrainConfig, TrainResult, collate_batch, make_batches, weighted_loss

__all__ = ["fit_on_stream", "train_on_stream"]


def fit_on_stream(
    recommender: LMRecommender,
    log: StrPath,
    catalog: Catalog,
    columns: ColumnMap | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    shuffle_buffer: int = 10_000,
) -> LMRecommender:
    """Set up ``recommender`` and train it, sequential task only, on a log read in chunks.

    The item index comes from ``catalog`` alone (:func:`~lmrec.data.stream.catalog_index`), so
    give the *training* log's catalogue, never one gathered from test events. A first pass over
    the log counts its training pairs (for the learning-rate schedule); it also meets any
    malformed row or out-of-order time before training starts. Validation, early stopping and
    checkpoints of ``config.train`` are not used (see the module docstring).
    """
    cfg = recommender.config
    if cfg.tasks != ("sequential",) or cfg.lora is not None or cfg.events.active:
        raise ValueError("a streamed log trains the sequential task only, without LoRA or types")
    if cfg.objective != "answer":
        raise ValueError("a streamed log trains the answer objective only (not 'sequence')")
    index = catalog_index(catalog, cfg.index)
    report = LoadReport(str(log))
    pairs = sum(
        1
        for _ in stream_sequential_pairs(
            log, index, cfg.prompts.max_history, columns, chunk_size, report=report
        )
    )
    report.log()
    if not pairs:
        raise ValueError(f"{log}: no training pairs (no user has two events)")
    model, tokenizer = prepare_model(
        cfg.model,
        catalog_corpus(catalog, recommender.templates),
        index.vocabulary(),
        cfg.train.seed,
        tokenizer_algorithm=cfg.tokenizer,
        dropout=cfg.dropout,
    )

    def examples_for_epoch(epoch: int) -> Iterable[Example]:
        rng = random.Random(cfg.train.seed * 7919 + epoch)  # as LMRecommender.fit draws them
        templates = recommender.templates
        return stream_sequential_examples(
            log, index, templates, cfg.prompts, rng, columns, chunk_size
        )

    result = train_on_stream(model, tokenizer, examples_for_epoch, cfg.train, pairs, shuffle_buffer)
    recommender.catalog, recommender.index = catalog, index
    recommender.model, recommender.tokenizer = model, tokenizer
    recommender.trie = ItemTrie.from_index(index, tokenizer)
    recommender.users = recommender.adapter = None
    recommender.train_result = result
    return recommender


def train_on_stream(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples_for_epoch: Callable[[int], Iterable[Example]],
    config: TrainConfig,
    examples_per_epoch: int,
    shuffle_buffer: int = 10_000,
) -> TrainResult:
    """Train in place for ``config.epochs`` passes over ``examples_for_epoch(epoch)``.

    ``examples_per_epoch`` sizes the learning-rate schedule (a stream's length is not known in
    advance): a log's pair count is its events minus its users. Past the planned steps the rate
    stays at zero, so an overestimate is the safe side. Memory holds ``shuffle_buffer`` examples
    and one batch, whatever the stream's length.
    """
    if shuffle_buffer < config.batch_size:
        raise ValueError(
            f"shuffle_buffer ({shuffle_buffer}) must hold at least one batch ({config.batch_size})"
        )
    torch.manual_seed(config.seed)
    device = next(model.parameters()).device
    planned_steps = max(1, math.ceil(examples_per_epoch / config.batch_size) * config.epochs)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(config.warmup_ratio * planned_steps), planned_steps
    )
    result = TrainResult()
    started = time.perf_counter()
    model.train()

    def step(batch_examples: Sequence[Example]) -> float:
        batch = collate_batch(tokenizer, batch_examples, config.max_source_length)
        batch = {k: v.to(device) for k, v in batch.items()}
        weights = batch.pop("weights")
        out = model(
            input_ids=batch["input_ids"],
            attention_mask=batch["attention_mask"],
            labels=batch["labels"],
        )
        loss = weighted_loss(out.logits, batch["labels"], weights)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        result.examples_seen += len(batch_examples)
        result.tokens_seen += int(batch["attention_mask"].sum()) + int(
            (batch["labels"] != -100).sum()
        )
        return loss.detach().item()

    for epoch in range(config.epochs):
        rng = random.Random(config.seed * 1_000_003 + epoch)
        losses: list[float] = []
        buffer: list[Example] = []
        for example in examples_for_epoch(epoch):
            buffer.append(example)
            if len(buffer) == shuffle_buffer:
                losses.extend(_train_buffer(buffer, config.batch_size, rng, step))
                buffer = []
        losses.extend(_train_buffer(buffer, config.batch_size, rng, step))
        result.epochs_run = epoch + 1
        result.history.append({"epoch": epoch + 1, "loss": sum(losses) / max(1, len(losses))})
    result.seconds = time.perf_counter() - started
    model.eval()
    return result


def _train_buffer(
    buffer: list[Example],
    batch_size: int,
    rng: random.Random,
    step: Callable[[Sequence[Example]], float],
) -> list[float]:
    """One optimisation step per length-bucketed batch of the buffer; the losses."""
    batches = make_batches([len(e.source) for e in buffer], batch_size, rng)
    return [step([buffer[i] for i in batch]) for batch in batches]

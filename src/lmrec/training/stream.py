"""Fine-tuning from a stream of examples, for training logs larger than memory.

The optimisation step of :func:`lmrec.training.loop.train_model`
(:class:`~lmrec.training.step.TrainingStep`: the same collation, weighted loss, AdamW with linear
warm-up and decay, gradient clipping), but each epoch's examples arrive as an iterable, e.g.
:func:`stream_sequential_examples`, and only a buffer of ``shuffle_buffer`` of them is held at a
time: it is shuffled and cut into length-bucketed batches
(:func:`lmrec.training.step.make_batches`), trained on, and dropped. A log in time order stays
roughly in time order across buffers, so make the buffer as large as memory allows.

One process, no per-epoch validation, early stopping or checkpoints: a stream has no held-out
users to validate on, and resuming would mean replaying the stream to a position.
:meth:`LMRecommender.fit_stream <lmrec.recommenders.fitting.LMFitting.fit_stream>` sets up
and trains a recommender this way (the recommender owns its set-up, the same for eager and
streamed training; training does not know recommenders).

The log is read by :mod:`lmrec.data.stream`; this module makes the item index from a catalogue
and the prompts from the pairs read.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

import torch
from accelerate import Accelerator
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lmrec.data.readers import ColumnMap, StrPath
from lmrec.data.schema import Catalog, LoadReport
from lmrec.data.split import Split
from lmrec.data.stream import DEFAULT_CHUNK_SIZE, stream_sequential_pairs
from lmrec.indexing import IndexConfig, ItemIndex, build_index
from lmrec.prompts.templates import TemplateSet
from lmrec.tasks import Example, PromptConfig
from lmrec.tasks.sequential import sequential_examples
from lmrec.training.config import TrainConfig, TrainResult
from lmrec.training.records import ScalarLog
from lmrec.training.step import TrainingStep, batch_order_rng, cpu_only, make_batches

__all__ = [
    "catalog_index",
    "count_stream_pairs",
    "stream_sequential_examples",
    "train_on_stream",
]

CATALOG_STRATEGIES = ("random", "sequential")
"""Index strategies that need no training events (:func:`catalog_index`)."""


def catalog_index(catalog: Catalog, config: IndexConfig | None = None) -> ItemIndex:
    """An item index built from the catalogue alone, before any event is read.

    Only the ``random`` (a seeded permutation) and ``sequential`` (catalogue order) strategies
    fit: the learned ones need training events, so build those from an in-memory split.
    """
    config = config or IndexConfig()
    if config.strategy not in CATALOG_STRATEGIES:
        raise ValueError(
            f"index strategy {config.strategy!r} needs training events; a catalogue-only index "
            f"takes one of {', '.join(CATALOG_STRATEGIES)}"
        )
    no_events = Split(train={}, valid={}, test={}, catalog=catalog, name="catalogue")
    return build_index(no_events, config)


def count_stream_pairs(
    log: StrPath,
    index: ItemIndex,
    max_history: int,
    columns: ColumnMap | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> int:
    """The log's training pairs, counted in one pass (which also meets any malformed row or
    out-of-order time before training starts); refuses a log with none."""
    report = LoadReport(str(log))
    pairs = stream_sequential_pairs(log, index, max_history, columns, chunk_size, report=report)
    count = sum(1 for _ in pairs)
    report.log()
    if not count:
        raise ValueError(f"{log}: no training pairs (no user has two events)")
    return count


def stream_sequential_examples(
    path: StrPath,
    index: ItemIndex,
    templates: TemplateSet,
    config: PromptConfig,
    rng: random.Random,
    columns: ColumnMap | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    strict: bool = True,
    report: LoadReport | None = None,
) -> Iterator[Example]:
    """Sequential training examples, rendered as the log is read.

    The pairs of :func:`~lmrec.data.stream.stream_sequential_pairs`, rendered by
    :func:`~lmrec.tasks.sequential.sequential_examples` (a seen template drawn from ``rng`` per
    pair), so a log sorted by user then time gives exactly the examples of the in-memory path.
    ``config.max_targets_per_user`` is not supported: it needs each user's last event, which a
    stream only knows at its end.
    """
    if config.max_targets_per_user:
        raise ValueError("max_targets_per_user needs whole histories; a stream cannot use it")
    pairs = stream_sequential_pairs(
        path, index, config.max_history, columns, chunk_size, strict, report
    )
    # Rendered a chunk at a time; a template is drawn per pair, so chunks change nothing.
    while chunk := list(islice(pairs, chunk_size)):
        yield from sequential_examples(chunk, index, templates, config, rng)


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
    accelerator = Accelerator(cpu=cpu_only(), step_scheduler_with_optimizer=False)
    if accelerator.num_processes > 1:
        raise ValueError("training on a stream runs in one process (not under torchrun)")
    torch.manual_seed(config.seed)
    planned_steps = max(1, math.ceil(examples_per_epoch / config.batch_size) * config.epochs)
    step = TrainingStep(accelerator, model, tokenizer, config, planned_steps)
    result = TrainResult()
    log = ScalarLog(config.log_dir)
    started = time.perf_counter()
    step.model.train()

    def train_batch(examples: Sequence[Example]) -> float:
        loss, tokens = step(examples)
        result.examples_seen += len(examples)
        result.tokens_seen += tokens
        return loss

    for epoch in range(config.epochs):
        rng = batch_order_rng(config.seed, epoch)
        losses: list[float] = []
        buffer: list[Example] = []
        for example in examples_for_epoch(epoch):
            buffer.append(example)
            if len(buffer) == shuffle_buffer:
                losses.extend(_train_buffer(buffer, config.batch_size, rng, train_batch))
                buffer = []
        losses.extend(_train_buffer(buffer, config.batch_size, rng, train_batch))
        result.epochs_run = epoch + 1
        result.history.append({"epoch": epoch + 1, "loss": sum(losses) / max(1, len(losses))})
        log.epoch(result.history[-1])
    log.close()
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

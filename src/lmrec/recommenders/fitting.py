"""How the language-model recommender trains (mixed into
:class:`~lmrec.recommenders.lm.LMRecommender`): one set-up (model, tokenizer, whole-word
embedding, LoRA, causal layout check, item trie) for eager training on a split
(:meth:`LMFitting.fit`, :func:`lmrec.training.loop.train_model`) and for training on a streamed
log (:meth:`LMFitting.fit_stream`, :func:`lmrec.training.stream.train_on_stream`); both take the
same training step (:class:`lmrec.training.step.TrainingStep`), so an option cannot reach one
path and miss the other. :meth:`LMFitting.refit` trains once more on every event, for the
epoch count validation chose."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Self

from lmrec.backbone.causal import is_causal
from lmrec.backbone.lora import apply_lora, merge_lora, trainable_parameters
from lmrec.backbone.model import count_parameters, is_scratch, prepare_model
from lmrec.backbone.wholeword import install_whole_word
from lmrec.data.random_split import (
    InteractionSplit,
    random_interaction_split,
    split_interactions,
)
from lmrec.data.readers import ColumnMap, StrPath
from lmrec.data.schema import Catalog
from lmrec.data.split import Split
from lmrec.data.stream import DEFAULT_CHUNK_SIZE
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import ItemIndex, build_index
from lmrec.prompts.templates import TemplateSet
from lmrec.recommenders.validation import (
    loss_validator,
    ndcg10_scores,
    validation_users,
    with_model,
)
from lmrec.tasks import (
    TASK_FAMILIES,
    TaskContext,
    TaskData,
    UserIndex,
    multitask_examples,
    sequential_examples,
    sequential_pairs,
)
from lmrec.tasks.events import marker_words, typed_examples, typed_pairs, without_item
from lmrec.tasks.mixture import task_rng
from lmrec.tasks.sequential import sequence_examples
from lmrec.training.config import RefitRecord
from lmrec.training.loop import NDCG10, NEG_LOSS, Validator, train_model
from lmrec.training.step import with_token_ids
from lmrec.training.stream import (
    catalog_index,
    count_stream_pairs,
    stream_sequential_examples,
    train_on_stream,
)

__all__ = ["REFIT_DIR", "LMFitting", "catalog_corpus", "whole_split"]

logger = logging.getLogger(__name__)

# Template families whose text a scratch tokenizer always learns (as before multitask).
BASE_FAMILIES = ("sequential", "named")
REFIT_DIR = "refit"
"""The refit run's checkpoints and TensorBoard scalars go in this folder of the first run's."""


def whole_split(split: Split) -> Split:
    """Every event of ``split`` as training events: each user's training events, then the
    validation and the test target; no targets are held out (what a refit trains on)."""
    train = {}
    for user, events in split.train.items():
        targets = [t[user] for t in (split.valid, split.test) if user in t]
        train[user] = [*events, *targets]
    return Split(
        train=train,
        valid={},
        test={},
        catalog=split.catalog,
        name=split.name,
        method="every event (refit)",
    )


def catalog_corpus(
    catalog: Catalog, templates: TemplateSet, families: tuple[str, ...] = BASE_FAMILIES
) -> list[str]:
    """Text a scratch tokenizer learns from: the templates of ``families`` and every item
    text. (A sequential-only model sees exactly the text it always has.)"""
    chosen = [t for t in templates.templates if t.family in families]
    texts = [t.source for t in chosen] + [t.target for t in chosen]
    for item in catalog.values():
        texts.extend(v for v in (item.name, item.category, item.description) if v)
        texts.extend(item.names.values())
    return texts


class LMFitting:
    """The training methods of :class:`~lmrec.recommenders.lm.LMRecommender`."""

    def fit(self, split: Split, interactions: InteractionSplit | None = None) -> Self:
        """Train on a leave-one-out split. Rating, explanation and review tasks train on
        ``interactions`` (default: the seeded random 80/10/10 split of the same events,
        ``split_interactions(split, config.multitask.split_seed)``)."""
        cfg = self.config
        index = build_index(split, cfg.index)
        multitask = cfg.tasks != ("sequential",)
        families, id_tokens, extra_text = BASE_FAMILIES, index.vocabulary(), []
        users = data = ctx = None
        if multitask:
            if interactions is None:
                interactions = split_interactions(split, cfg.multitask.split_seed)
            data = TaskData.build(split, interactions, cfg.prompts)
            users = UserIndex.build(u for u, events in split.train.items() if events)
            families += tuple(f for t in cfg.tasks for f in TASK_FAMILIES[t])
            id_tokens = id_tokens + users.vocabulary()
            extra_text = data.corpus()
        if cfg.events.typed and is_scratch(cfg.model):
            id_tokens = id_tokens + marker_words(self.templates)
        if cfg.objective == "sequence":
            # Its sequences are id tokens alone: a scratch tokenizer needs no words (a word
            # vocabulary, ~1,000 pieces, would only widen every softmax; 7 % of Beauty's).
            corpus = []
        else:
            corpus = catalog_corpus(split.catalog, self.templates, families) + extra_text
        self._set_up(split.catalog, index, users, corpus, id_tokens)
        if cfg.events.active:
            pairs = typed_pairs(split, cfg.events, cfg.prompts.max_targets_per_user)
        else:
            pairs = sequential_pairs(split, cfg.prompts.max_targets_per_user)
        if not pairs and "sequential" in cfg.tasks:
            raise ValueError(f"{split.name}: no training pairs (every history is shorter than 2)")
        if multitask:
            ctx = TaskContext(index, users, split.catalog, cfg.multitask, cfg.prompts.language)
        if "sequential" in cfg.tasks or not multitask:
            checker, metric = self._ndcg_validator(split), NDCG10
        else:
            held_out = data.validation(split, interactions)
            checker = loss_validator(self, held_out, ctx)
            metric = NEG_LOSS
        self.train_result = train_model(
            self.model,
            self.tokenizer,
            self._epoch_examples(split, pairs, data, ctx),
            checker,
            cfg.train,
            metric,
        )
        self._finish_training()
        return self

    def refit(self, split: Split, interactions: InteractionSplit | None = None) -> Self:
        """Train once more, from a fresh model, on every event of ``split``
        (:func:`whole_split`: training events plus every validation and test target) for the
        epoch count validation chose: the best epoch of the last :meth:`fit` (which runs first,
        on ``split`` and ``interactions``, when the recommender has not been fitted). The refit
        run validates nothing and keeps its last weights; ``train_result`` stays the first
        run's (the validation that chose the epochs), ``refit_record`` says what the refit did.

        A refit model has seen the test targets: evaluate the first run, never this one."""
        if self.train_result is None:
            self.fit(split, interactions)
        chosen = self.train_result
        epochs = chosen.best_epoch or chosen.epochs_run
        whole = whole_split(split)
        original = self.config
        self.config = replace(original, train=_refit_train(original.train, epochs))
        everything = None
        if original.tasks != ("sequential",):
            # Rating, explanation and review examples from every interaction too (none held out).
            rows = [x for events in whole.train.values() for x in events]
            everything = random_interaction_split(rows, split.catalog, (1.0, 0.0, 0.0))
        try:
            self.fit(whole, everything)
        finally:
            self.config = original
        events = sum(len(v) for v in whole.train.values())
        self.refit_record = RefitRecord(epochs, events, self.train_result)
        self.train_result = chosen
        logger.info("refit on %d events for %d epochs", events, epochs)
        return self

    def fit_stream(
        self,
        log: StrPath,
        catalog: Catalog,
        columns: ColumnMap | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        shuffle_buffer: int = 10_000,
    ) -> Self:
        """Train, sequential task only, on a log read in chunks (``lmrec train --stream``;
        :mod:`lmrec.training.stream`).

        The item index comes from ``catalog`` alone (:func:`~lmrec.training.stream.catalog_index`),
        so give the *training* log's catalogue, never one gathered from test events. A first
        pass over the log counts its training pairs (for the learning-rate schedule); it also
        meets any malformed row or out-of-order time before training starts. Validation, early
        stopping and checkpoints of ``config.train`` are not used. What a stream cannot train
        is refused before anything is built."""
        cfg = self.config
        if cfg.tasks != ("sequential",) or cfg.events.active:
            raise ValueError("a streamed log trains the sequential task only, without event types")
        if cfg.objective != "answer":
            raise ValueError(
                "a streamed log trains the answer objective only (not 'sequence', whose examples "
                "are whole histories)"
            )
        if cfg.prompts.max_targets_per_user:
            raise ValueError("max_targets_per_user needs whole histories; a stream cannot use it")
        index = catalog_index(catalog, cfg.index)
        pairs = count_stream_pairs(log, index, cfg.prompts.max_history, columns, chunk_size)
        corpus = catalog_corpus(catalog, self.templates)
        self._set_up(catalog, index, None, corpus, index.vocabulary())

        def examples_for_epoch(epoch: int):
            rng = task_rng(cfg.train.seed, epoch, "sequential")  # as fit draws them
            return stream_sequential_examples(
                log, index, self.templates, cfg.prompts, rng, columns, chunk_size
            )

        self.train_result = train_on_stream(
            self.model, self.tokenizer, examples_for_epoch, cfg.train, pairs, shuffle_buffer
        )
        self._finish_training()
        return self

    def _set_up(
        self,
        catalog: Catalog,
        index: ItemIndex,
        users: UserIndex | None,
        corpus: list[str],
        id_tokens: list[str],
    ) -> None:
        """The one set-up of every training path: the model and tokenizer (``id_tokens`` added,
        a scratch tokenizer learnt from ``corpus``), the whole-word embedding, LoRA, the
        objective's check of the layout, the item trie, and item text in the item tokens'
        vectors."""
        cfg = self.config
        self.catalog, self.index, self.users, self.adapter = catalog, index, users, None
        self.model, self.tokenizer = prepare_model(
            cfg.model,
            corpus,
            id_tokens,
            seed=cfg.train.seed,
            quantization=cfg.quantization,
            tokenizer_algorithm=cfg.tokenizer,
            dropout=cfg.dropout,
        )
        if cfg.whole_word:
            install_whole_word(self.model, self.tokenizer, self._codes(), cfg.train.seed)
        if cfg.lora is not None:
            ids = self.tokenizer.convert_tokens_to_ids(list(id_tokens))
            self.model = apply_lora(self.model, cfg.lora, ids)
        if cfg.objective == "sequence" and not is_causal(self.model):
            raise ValueError(
                f"objective='sequence' needs a decoder-only model ({cfg.model} is an "
                "encoder-decoder): use scratch:gpt-tiny|gpt-small|llama-tiny|llama-small|"
                "llama-wide or a causal checkpoint"
            )
        self.trie = ItemTrie.from_index(index, self.tokenizer)
        self._install_item_text()
        logger.info(
            "model %s: %d parameters (%d trained), %d items in the index",
            cfg.model,
            count_parameters(self.model),
            trainable_parameters(self.model),
            len(index),
        )

    def _codes(self):
        return (self.index.code(i) for i in self.index.items)

    def _finish_training(self) -> None:
        """After any training path: fold a LoRA adapter into the weights; inference mode."""
        if self.config.lora is not None:
            self.model, self.adapter = merge_lora(self.model, self.config.model)
        self.model.eval()

    def _epoch_examples(self, split: Split, pairs, data: TaskData | None, ctx):
        """``examples_for_epoch(epoch)`` for :func:`~lmrec.training.loop.train_model`."""
        cfg = self.config
        if cfg.objective == "sequence":
            # The same examples every epoch: built and tokenised once.
            examples = with_token_ids(
                self.tokenizer,
                sequence_examples(
                    split, self.index, cfg.prompts.max_history, self.tokenizer.eos_token
                ),
                cfg.train.max_source_length,
            )
            return lambda epoch: examples

        def examples_for_epoch(epoch: int):
            if data is not None:
                return multitask_examples(
                    data,
                    ctx,
                    self.templates,
                    cfg.tasks,
                    cfg.weights,
                    cfg.train.seed,
                    epoch,
                    cfg.multitask.max_examples_per_task,
                )
            rng = task_rng(cfg.train.seed, epoch, "sequential")
            if cfg.events.active:
                return typed_examples(
                    pairs, self.index, self.templates, cfg.prompts, cfg.events, rng
                )
            return sequential_examples(pairs, self.index, self.templates, cfg.prompts, rng)

        return examples_for_epoch

    def _ndcg_validator(self, split: Split) -> Validator | None:
        """NDCG@10 of each validation user (:func:`validation_users`) in a process's share;
        None when no user validates."""
        cfg = self.config
        valid_users = validation_users(split, cfg.train)
        if not valid_users:
            return None

        def validate(model, shard: slice) -> list[float]:
            users = valid_users[shard]
            known = [split.train[u] for u in users]
            if cfg.events.unseen_targets:
                known = [
                    without_item(h, split.valid[u].item) for h, u in zip(known, users, strict=True)
                ]
            histories = [[x.item for x in h] for h in known]
            events = [[x.event for x in h] for h in known] if cfg.events.typed else None
            ranked = with_model(self, model).recommend(
                histories, k=10, exclude_seen=cfg.valid_exclude_seen, events=events
            )
            return ndcg10_scores(ranked, [split.valid[u].item for u in users])

        return validate


def _refit_train(train, epochs: int):
    """The refit run's training settings: ``epochs`` epochs, its checkpoints and scalars in a
    ``refit`` folder of the first run's (so resuming either run finds its own)."""
    sub = {
        key: str(Path(value) / REFIT_DIR) if value else None
        for key, value in (("output_dir", train.output_dir), ("log_dir", train.log_dir))
    }
    return replace(train, epochs=epochs, **sub)

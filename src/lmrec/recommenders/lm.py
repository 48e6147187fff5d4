"""The language-model recommender: index items, write prompts, fine-tune, decode through the
item trie. One trained model is one directory (see :meth:`LMRecommender.save`).

Training (eager and streamed, one set-up) is :mod:`lmrec.recommenders.fitting`; the config is
:mod:`lmrec.recommenders.config`; answers of the other task families are
:mod:`lmrec.recommenders.task_answers`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Self

import torch

from lmrec.backbone.causal import prompt_ids
from lmrec.backbone.lora import ADAPTER_DIR, Adapter, load_adapter, save_adapter
from lmrec.backbone.wholeword import WHOLE_WORD_FILE, install_whole_word, load_whole_word
from lmrec.data.schema import Catalog
from lmrec.decoding.beam import constrained_beam_search, score_candidates
from lmrec.decoding.one_token import (
    one_token_sequences,
    rank_one_token_items,
    ranks_in_one_pass,
    score_one_token_candidates,
)
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import ItemIndex
from lmrec.metrics.ranking import check_k
from lmrec.prompts.templates import Template, TemplateSet, load_templates
from lmrec.recommenders.base import Recommender, Scored
from lmrec.recommenders.config import LMConfig
from lmrec.recommenders.directory import ModelDirectory
from lmrec.recommenders.fitting import LMFitting, catalog_corpus
from lmrec.recommenders.itemtext import ItemTextMethods
from lmrec.recommenders.task_answers import RatingAnswer, TaskAnswers
from lmrec.tasks import UserIndex, sequential_prompt
from lmrec.tasks.events import typed_prompt
from lmrec.tasks.sequential import sequence_text
from lmrec.text.encoders import ItemTextEmbeddings
from lmrec.training.config import RefitRecord, TrainResult

logger = logging.getLogger(__name__)

CONFIG_FILE = "lmrec.json"
INDEX_FILE = "item_index.json"
USERS_FILE = "user_index.json"

__all__ = ["LMConfig", "LMRecommender", "RatingAnswer", "catalog_corpus", "set_threads"]


class LMRecommender(LMFitting, ItemTextMethods, TaskAnswers, Recommender):
    """A language model (T5-style encoder-decoder, or decoder-only such as GPT-2 or LLaMA)
    fine-tuned on P5 prompts: sequential recommendation, and with
    ``LMConfig.tasks`` also rating, explanation, review and direct recommendation."""

    name = "lm"

    one_pass_ranking: bool = True
    """Rank one-token ids under the sequence objective with one forward pass and one masked
    top-k (:mod:`lmrec.decoding.one_token`): the beam search's items and scores, faster.
    False forces the beam search (to compare the two)."""

    def __init__(self, config: LMConfig | None = None):
        self.config = config or LMConfig()
        self.model = None
        self.tokenizer = None
        self.index: ItemIndex | None = None
        self.templates: TemplateSet = load_templates()
        self.catalog: Catalog | None = None
        self.trie: ItemTrie | None = None
        self.train_result: TrainResult | None = None
        self.refit_record: RefitRecord | None = None
        self.users: UserIndex | None = None
        self.adapter: Adapter | None = None
        self.item_text: ItemTextEmbeddings | None = None

    # ------------------------------------------------------------------ inference
    @property
    def _separated(self) -> bool:
        """Whether a decoder-only prompt ends in ``</s>`` before the answer (not under the
        sequence objective, whose answer continues the ids directly)."""
        return self.config.objective != "sequence"

    def _require_fitted(self) -> None:
        if self.model is None or self.index is None or self.trie is None:
            raise RuntimeError("the language model is not trained or loaded yet")

    def template_for(self, template_id: str | None = None, language: str | None = None) -> Template:
        chosen = template_id or self.config.template
        if chosen:
            return self.templates.get(chosen)
        return self.templates.select("sequential", language or self.config.prompts.language)[0]

    def prompts(
        self,
        histories: Sequence[Sequence[str]],
        template: Template,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[str]:
        """Sequential prompts; with ``config.events.typed`` each history event carries its type
        (``events``, one type per history item; none given reads every event as a purchase)."""
        assert self.index is not None
        max_history = self.config.prompts.max_history
        if self.config.objective == "sequence":
            eos = self.tokenizer.eos_token
            return [sequence_text(h, self.index, max_history, eos) for h in histories]
        if self.config.events.typed:
            types = events if events is not None else [None] * len(histories)
            return [
                typed_prompt(h, e, self.index, template, self.templates, max_history)
                for h, e in zip(histories, types, strict=True)
            ]
        return [sequential_prompt(h, self.index, template, max_history) for h in histories]

    def recommend(
        self,
        histories: Sequence[Sequence[str]],
        k: int = 10,
        exclude_seen: bool = True,
        template: str | None = None,
        language: str | None = None,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[list[Scored]]:
        """Top-k catalogue items per history (item ids, oldest first), by trie beam search
        (in one forward pass where :meth:`ranks_in_one_pass`). ``events`` gives each history
        item's event type (used when the model is typed)."""
        self._require_fitted()
        check_k(k)  # here, not by the ranking path alone: no histories must not slip by
        chosen = self.template_for(template, language)
        k = min(k, len(self.index))
        if self.ranks_in_one_pass():
            ranked = rank_one_token_items(
                self.model,
                self.trie,
                self._sequence_ids(histories),
                k,
                exclude=histories if exclude_seen else None,
                pad=self.tokenizer.pad_token_id or 0,
                batch_size=self.config.inference_batch_size,
            )
            return [[Scored(i, s) for i, s in r] for r in ranked]
        results: list[list[Scored]] = []
        size = self.config.inference_batch_size
        for start in range(0, len(histories), size):
            chunk = histories[start : start + size]
            kinds = events[start : start + size] if events is not None else None
            exclude = [list(h) for h in chunk] if exclude_seen else None
            ranked = constrained_beam_search(
                self.model,
                self.tokenizer,
                self.trie,
                self.prompts(chunk, chosen, kinds),
                k=k,
                num_beams=self.config.num_beams,
                exclude=exclude,
                max_source_length=self.config.train.max_source_length,
                separator=self._separated,
            )
            results.extend([Scored(i, s) for i, s in r] for r in ranked)
        return results

    def ranks_in_one_pass(self) -> bool:
        """Whether :meth:`recommend` ranks in one forward pass: the sequence objective, a plain
        output head, one token per item id, and prompts whose tokens are just those ids (the
        text of a two-item prompt is tokenised once here to confirm it)."""
        self._require_fitted()
        if not (
            self.one_pass_ranking
            and self.config.objective == "sequence"
            and ranks_in_one_pass(self.model, self.trie)
        ):
            return False
        sample = [self.trie.items[: min(2, len(self.trie))]]
        (text,) = self.prompts(sample, self.template_for())
        ids = prompt_ids(self.tokenizer, text, self.config.train.max_source_length, False)
        return ids == self._sequence_ids(sample)[0]

    def _sequence_ids(self, histories: Sequence[Sequence[str]]) -> list[list[int]]:
        """The token ids of the sequence-objective prompts of ``histories``, without text."""
        return one_token_sequences(
            histories,
            self.trie,
            self.tokenizer.eos_token_id,
            self.config.prompts.max_history,
            self.config.train.max_source_length,
        )

    def score(
        self,
        histories: Sequence[Sequence[str]],
        candidates: Sequence[Sequence[str]],
        template: str | None = None,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[list[float]]:
        """Log-likelihood of each candidate item for each history, in one batched pass (where
        :meth:`ranks_in_one_pass`, read from one forward pass per history, however many
        candidates it has)."""
        self._require_fitted()
        chosen = self.template_for(template)
        if self.ranks_in_one_pass():
            return score_one_token_candidates(
                self.model,
                self.trie,
                self._sequence_ids(histories),
                candidates,
                pad=self.tokenizer.pad_token_id or 0,
                batch_size=self.config.inference_batch_size,
            )
        return score_candidates(
            self.model,
            self.tokenizer,
            self.trie,
            self.prompts(histories, chosen, events),
            candidates,
            max_source_length=self.config.train.max_source_length,
            separator=self._separated,
        )

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """One directory (:class:`~lmrec.recommenders.directory.ModelDirectory`): weights,
        tokenizer, templates, catalogue and the lmrec config, plus the item index (and user
        index); after LoRA training the weights have the adapter merged in, and ``adapter/``
        holds the adapter itself; with ``whole_word`` the whole-word table is
        ``whole_word.safetensors``; with item text (``item_representation``) the weights hold
        each item's effective vector, and the projection, the id rows and the text vectors are
        saved beside them (:mod:`lmrec.recommenders.itemtext`)."""
        self._require_fitted()
        out = ModelDirectory.of(self).save(path, CONFIG_FILE)
        self.index.save(out / INDEX_FILE)
        if self.users is not None:
            self.users.save(out / USERS_FILE)
        if self.adapter is not None:
            save_adapter(self.adapter, out / ADAPTER_DIR)
        self._save_item_text(out)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """A directory written by :meth:`save`. With ``whole_word`` the whole-word embedding is
        re-installed and its table loaded from ``whole_word.safetensors`` (plain transformers
        loads the directory without it); item text is installed again likewise. A directory
        that cannot be read (a file truncated, corrupt, or from another model) is a ValueError
        naming it, whatever failed underneath."""
        src = Path(path)
        try:
            return cls._read(src)
        except FileNotFoundError:  # names the missing file (or says src is no model directory)
            raise
        except Exception as error:
            detail = (
                str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            )
            raise ValueError(f"{src}: not a readable lmrec model directory: {detail}") from error

    @classmethod
    def _read(cls, src: Path) -> Self:
        directory = ModelDirectory.load(src, CONFIG_FILE, "an lmrec model directory")
        rec = cls(LMConfig.from_dict(directory.config))
        directory.restore(rec)
        rec.index = ItemIndex.load(src / INDEX_FILE)
        rec.trie = ItemTrie.from_index(rec.index, rec.tokenizer)
        if rec.config.whole_word:
            install_whole_word(rec.model, rec.tokenizer, rec._codes(), rec.config.train.seed)
            load_whole_word(rec.model, src / WHOLE_WORD_FILE)
        rec._load_item_text(src)
        if (src / USERS_FILE).exists():
            rec.users = UserIndex.load(src / USERS_FILE)
        if (src / ADAPTER_DIR).exists():
            rec.adapter = load_adapter(src / ADAPTER_DIR)
        return rec

    def with_config(self, **changes) -> LMRecommender:
        """The same trained model with inference settings changed (template, beams, ...)."""
        clone = type(self)(replace(self.config, **changes))
        for attr in (
            "model",
            "tokenizer",
            "index",
            "templates",
            "catalog",
            "trie",
            "train_result",
            "refit_record",
            "users",
            "adapter",
            "item_text",
        ):
            setattr(clone, attr, getattr(self, attr))
        return clone


def set_threads(threads: int | None) -> None:
    """Limit PyTorch's intra-op threads (two PyTorch jobs on two cores slow each other ~6x)."""
    if threads:
        torch.set_num_threads(threads)

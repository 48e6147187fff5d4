"""The named-items recommender: item *names* in, the next item's *name* out, in any language.

The prompt lists the names of the items a user bought and the names of candidate items (template
family ``"named"``: ``{history_names}``, ``{candidate_names}`` -> ``{target_name}``), in
``NamedConfig.language``. Decoding walks an :class:`~lmrec.decoding.beam.ItemTrie` over each item's
tokenized name (ending with ``</s>``, which makes the names prefix-free), so every answer is the
exact name of a real item, in the catalogue's own spelling, and never free text.

Candidates in the prompt: a catalogue of at most ``max_prompt_candidates`` items (40, as in the
T5-P5 sports set) is listed whole, in catalogue order. A larger one does not fit in a prompt
(docs/design.md, "Whole inventory in the prompt"): training prompts list the target and
``num_candidates - 1`` random items (seeded, shuffled); at inference the candidates are the
caller's (``candidates=``, e.g. from a retrieval stage) or a seeded sample of the catalogue.
The answer is always one of the listed candidates: decoding is restricted to them.

The model is a T5 built from scratch (``scratch:tiny|small|base``) with a tokenizer trained on
the templates and item names of the chosen language (so Arabic script is covered: no ``<unk>``),
or any local sequence-to-sequence checkpoint. A fitted model is one directory (:meth:`save`).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Self

from lmrec.backbone.model import count_parameters, prepare_model
from lmrec.backbone.tokenizer import unknown_token_rate
from lmrec.data.schema import Catalog
from lmrec.data.split import Split
from lmrec.decoding.beam import constrained_beam_search, score_candidates
from lmrec.decoding.trie import ItemTrie
from lmrec.prompts.templates import Template, TemplateSet, load_templates
from lmrec.recommenders.base import Recommender, Scored
from lmrec.recommenders.config import WORD_ORDERS, NamedConfig
from lmrec.recommenders.directory import ModelDirectory
from lmrec.recommenders.validation import candidate_ndcg_validator
from lmrec.tasks import Example, sequential_pairs
from lmrec.tasks.mixture import task_rng
from lmrec.text.names import ResolvedNames, catalog_names, parse_item_list, resolve_names
from lmrec.training.loop import TrainResult, train_model

__all__ = ["WORD_ORDERS", "NamedConfig", "NamedItemsRecommender", "NamedRecommendation"]

logger = logging.getLogger(__name__)

CONFIG_FILE = "lmrec_named.json"
FAMILY = "named"
_CORPUS_PROMPTS = 5000  # training prompts a scratch tokenizer learns from (see _corpus)
# How a written list separates names, per language (as the T5-P5 files write them).
_SEPARATORS = {"ar": "، ", "fa": "، ", "ur": "، "}


class NamedRecommendation(NamedTuple):
    """A recommended item with its name in the model's language and its log-probability."""

    item: str
    name: str
    score: float


class NamedItemsRecommender(Recommender):
    """P5's named-items task: purchased names + candidate names -> the next item's name."""

    name = "named"

    def __init__(self, config: NamedConfig | None = None):
        self.config = config or NamedConfig()
        self.model = None
        self.tokenizer = None
        self.templates: TemplateSet = load_templates()
        self.catalog: Catalog | None = None
        self.trie: ItemTrie | None = None
        self.train_result: TrainResult | None = None

    # ------------------------------------------------------------------ names and prompts
    def item_name(self, item: str) -> str:
        """The item's name in the model's language (its main name or id where it has none)."""
        assert self.catalog is not None
        return self.catalog.name(item, self.config.language)

    def target_text(self, item: str) -> str:
        """What the decoder writes for an item: its name, in ``target_word_order``."""
        name = self.item_name(item)
        if self.config.target_word_order == "reversed":
            return " ".join(reversed(name.split()))
        return name

    @property
    def names(self) -> dict[str, str]:
        """Item id -> name in the model's language, in catalogue order."""
        assert self.catalog is not None
        return {i: self.item_name(i) for i in self.catalog}

    @property
    def lists_whole_catalog(self) -> bool:
        """Whether every prompt lists the whole catalogue (else a candidate list)."""
        assert self.catalog is not None
        return len(self.catalog) <= self.config.max_prompt_candidates

    def _join(self, items: Sequence[str]) -> str:
        separator = _SEPARATORS.get(self.config.language, ", ")
        return separator.join(self.item_name(i) for i in items)

    def template_for(self, template_id: str | None = None) -> Template:
        chosen = template_id or self.config.template
        if chosen:
            return self.templates.get(chosen)
        return self.templates.select(FAMILY, self.config.language)[0]

    def prompt(self, history: Sequence[str], candidates: Sequence[str], template: Template) -> str:
        """The prompt for a history (item ids, oldest first; unknown ids are skipped)."""
        assert self.catalog is not None
        known = [i for i in history if i in self.catalog]
        if self.config.max_history > 0:
            known = known[-self.config.max_history :]
        values = {
            "history_names": self._join(known),
            "candidate_names": self._join(candidates),
            "target_name": "",
        }
        return template.render(values)[0]

    def sample_candidates(self, rng: random.Random, target: str | None = None) -> list[str]:
        """The candidate list of a prompt: the whole catalogue when small; else ``target``
        (if given) plus random items, ``num_candidates`` in all, shuffled."""
        assert self.catalog is not None
        items = list(self.catalog)
        if self.lists_whole_catalog:
            return items
        size = min(self.config.num_candidates, len(items))
        pool = [i for i in items if i != target]
        chosen = rng.sample(pool, size - 1 if target is not None else size)
        if target is not None:
            chosen.append(target)
        rng.shuffle(chosen)
        return chosen

    def _inference_candidates(self, history: Sequence[str]) -> list[str]:
        # Seeded by the history itself, so the same history always gets the same sample.
        rng = random.Random(f"{self.config.candidate_seed}:{'|'.join(history)}")
        return self.sample_candidates(rng)

    # ------------------------------------------------------------------ training
    def _build_trie(self) -> ItemTrie:
        """A trie over every item's tokenized name (with ``</s>``); two items whose names
        tokenize alike cannot be told apart, which is a clear error."""
        assert self.tokenizer is not None
        eos = self.tokenizer.eos_token_id
        sequences: dict[str, list[int]] = {}
        owner: dict[tuple[int, ...], str] = {}
        for item, name in self.names.items():
            ids = list(self.tokenizer(self.target_text(item)).input_ids)
            if not ids or ids[-1] != eos:
                ids.append(eos)
            key = tuple(ids)
            if key in owner:
                raise ValueError(
                    f"items {owner[key]!r} and {item!r} have the same name in "
                    f"{self.config.language!r} ({name!r}): names must be distinct"
                )
            owner[key] = item
            sequences[item] = ids
        return ItemTrie(sequences)

    def _corpus(self, examples: Sequence[Example] = ()) -> list[str]:
        """Text a scratch tokenizer learns from: the templates and names of the language, and
        training prompts. The unigram trainer counts how often a piece occurs, so with each
        name written once it keeps Arabic words as single letters (~10 tokens a name); the
        prompts, where names recur, teach it whole words (~3 tokens a name)."""
        chosen = [t for t in self.templates.templates if t.family == FAMILY]
        chosen = [t for t in chosen if t.language == self.config.language] or chosen
        texts = [t.source for t in chosen] + list(self.names.values())
        if self.config.target_word_order != "natural":
            texts += [self.target_text(i) for i in self.catalog]
        return texts + [e.source for e in examples[:_CORPUS_PROMPTS]]

    def _check_prompt_length(self) -> None:
        """Refuse a set-up whose prompts would be truncated (the candidates would be cut)."""
        assert self.tokenizer is not None
        lengths = {
            i: len(self.tokenizer(n, add_special_tokens=False).input_ids)
            for i, n in self.names.items()
        }
        longest = sorted(self.names, key=lambda i: -lengths[i])
        n_cands = len(longest) if self.lists_whole_catalog else self.config.num_candidates
        worst = max(
            (
                self.prompt(longest[: self.config.max_history], longest[:n_cands], t)
                for t in self.templates.select(FAMILY, self.config.language, unseen=None)
            ),
            key=lambda p: len(self.tokenizer(p).input_ids),
        )
        size = len(self.tokenizer(worst).input_ids)
        limit = self.config.train.max_source_length
        if size > limit:
            raise ValueError(
                f"the longest prompt has {size} tokens, over max_source_length={limit}: "
                f"lower max_prompt_candidates / num_candidates / max_history"
            )
        logger.info("longest named prompt: %d tokens (limit %d)", size, limit)

    def examples(self, pairs: Sequence[tuple[Sequence[str], str]], epoch: int) -> list[Example]:
        """One training example per (history, next item) pair, seen templates only."""
        # Templates are drawn from the stream a sequential model draws its own from.
        rng = task_rng(self.config.train.seed, epoch, "sequential")
        cand_rng = random.Random(self.config.candidate_seed * 104_729 + epoch)
        seen = self.templates.select(FAMILY, self.config.language, unseen=False)
        out = []
        for history, target in pairs:
            template = rng.choice(seen)
            candidates = self.sample_candidates(cand_rng, target)
            source = self.prompt(history, candidates, template)
            out.append(Example(source, self.target_text(target), FAMILY, template.id))
        return out

    def fit(self, split: Split) -> Self:
        """Train on a split's training histories (validation NDCG@10 picks the best epoch)."""
        cfg = self.config
        self.catalog = split.catalog
        pairs = sequential_pairs(split, cfg.max_targets_per_user)
        if not pairs and cfg.train.epochs > 0:
            raise ValueError(f"{split.name}: no training pairs (every history is shorter than 2)")
        first = self.examples(pairs, 0)
        self.model, self.tokenizer = prepare_model(
            cfg.model,
            self._corpus(first),
            [],
            cfg.train.seed,
            tokenizer_algorithm=cfg.tokenizer,
            isolate_separators=cfg.isolate_separators,
        )
        self.trie = self._build_trie()
        self._check_prompt_length()
        logger.info(
            "named model %s (%s): %d parameters, %d items, unknown-token rate %.3f",
            cfg.model,
            cfg.language,
            count_parameters(self.model),
            len(self.catalog),
            self.unknown_token_rate(),
        )
        self.train_result = train_model(
            self.model,
            self.tokenizer,
            lambda epoch: first if epoch == 0 else self.examples(pairs, epoch),
            candidate_ndcg_validator(self, split),
            cfg.train,
        )
        self.model.eval()
        return self

    # ------------------------------------------------------------------ inference
    def _require_fitted(self) -> None:
        if self.model is None or self.trie is None or self.catalog is None:
            raise RuntimeError("the named-items model is not trained or loaded yet")

    def recommend(
        self,
        histories: Sequence[Sequence[str]],
        k: int = 10,
        exclude_seen: bool = True,
        candidates: Sequence[Sequence[str]] | None = None,
        template: str | None = None,
    ) -> list[list[Scored]]:
        """Top-k items per history (item ids, oldest first), decoded through the name trie.

        ``candidates`` gives each history's candidate list (listed in the prompt; the answers
        are restricted to it). Without it: the whole catalogue when it is small, else a seeded
        random sample of ``num_candidates`` items (see the module docstring).
        """
        self._require_fitted()
        if k < 1:
            raise ValueError("k must be at least 1")
        if candidates is not None and len(candidates) != len(histories):
            raise ValueError("one candidate list per history is needed")
        chosen = self.template_for(template)
        everything = set(self.catalog)
        prompts, excluded = [], []
        for row, history in enumerate(histories):
            if candidates is not None:
                cands = self._listed(candidates[row])
            else:
                cands = self._inference_candidates(history)
            prompts.append(self.prompt(history, cands, chosen))
            # Restrict decoding to the candidates by excluding everything else.
            banned = everything - set(cands)
            if exclude_seen:
                banned |= set(history) & everything
            excluded.append(sorted(banned))
        results: list[list[Scored]] = []
        size = self.config.inference_batch_size
        for start in range(0, len(prompts), size):
            end = start + size
            chunk_excluded = excluded[start:end]
            allowed = [len(everything) - len(e) for e in chunk_excluded]
            if max(allowed) == 0:
                results.extend([] for _ in chunk_excluded)
                continue
            ranked = constrained_beam_search(
                self.model,
                self.tokenizer,
                self.trie,
                prompts[start:end],
                k=min(k, len(everything)),
                num_beams=self.config.num_beams,
                exclude=chunk_excluded,
                max_source_length=self.config.train.max_source_length,
            )
            results.extend([Scored(i, s) for i, s in r[:k]] for r in ranked)
        return results

    def _listed(self, candidates: Sequence[str]) -> list[str]:
        """A caller's candidate list as the prompt lists it: catalogue items, first mention."""
        return [c for c in dict.fromkeys(candidates) if c in self.catalog]

    def score(
        self,
        histories: Sequence[Sequence[str]],
        candidates: Sequence[Sequence[str]],
        template: str | None = None,
    ) -> list[list[float]]:
        """Log-likelihood of each candidate's name (its tokens and ``</s>``) given the prompt
        that lists the candidates, as :meth:`recommend` builds it; teacher-forced in one
        batched pass, no beam search. One score per given candidate, in the order given; a
        candidate outside the catalogue is an error."""
        self._require_fitted()
        if len(candidates) != len(histories):
            raise ValueError("one candidate list per history is needed")
        chosen = self.template_for(template)
        prompts = [
            self.prompt(h, self._listed(c), chosen)
            for h, c in zip(histories, candidates, strict=True)
        ]
        return score_candidates(
            self.model,
            self.tokenizer,
            self.trie,
            prompts,
            candidates,
            max_source_length=self.config.train.max_source_length,
        )

    def resolve(self, names: Sequence[str]) -> ResolvedNames:
        """Item ids of names given one by one, in the model's language: exact or fuzzy, else the
        one item whose name holds every word (:func:`~lmrec.text.names.resolve_names`)."""
        self._require_fitted()
        known = catalog_names(self.catalog, self.config.language)
        return resolve_names(names, known, self.config.language)

    def parse_history(self, text: str, strict: bool = False) -> list[str]:
        """Item ids of a written list of names ("،", "," and the Arabic "و" separate them); a
        piece naming no single item is dropped, or with ``strict`` a ValueError names it."""
        self._require_fitted()
        known = catalog_names(self.catalog, self.config.language)
        resolved = self.resolve(parse_item_list(text, known, self.config.language))
        if strict and resolved.problem:
            raise ValueError(f"history: {resolved.problem}")
        return [i for i in resolved.ids if i is not None]

    def recommend_names(
        self,
        history: str | Sequence[str],
        k: int = 5,
        exclude_seen: bool = True,
        candidates: Sequence[str] | None = None,
    ) -> list[NamedRecommendation]:
        """Names in, names out: ``history`` is a written list (``"أ، ب"``) or a list of names in
        the model's language; the answer gives each item's exact catalogue name."""
        self._require_fitted()
        text = history if isinstance(history, str) else ", ".join(history)
        items = self.parse_history(text)
        cand_ids = None
        if candidates is not None:
            cand_ids = [self.parse_history(c) for c in candidates]
            cand_ids = [[i for ids in cand_ids for i in ids]]
        (ranked,) = self.recommend([items], k=k, exclude_seen=exclude_seen, candidates=cand_ids)
        return [NamedRecommendation(s.item, self.item_name(s.item), s.score) for s in ranked]

    def unknown_token_rate(self) -> float:
        """Share of ``<unk>`` tokens over the catalogue's names (0 for a data-trained one)."""
        self._require_fitted()
        return unknown_token_rate(self.tokenizer, self.names.values())

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """One directory (:class:`~lmrec.recommenders.directory.ModelDirectory`): weights,
        tokenizer, templates, catalogue and the named-items config."""
        self._require_fitted()
        ModelDirectory.of(self).save(path, CONFIG_FILE)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        directory = ModelDirectory.load(path, CONFIG_FILE, "a named-items model directory")
        rec = cls(NamedConfig.from_dict(directory.config))
        directory.restore(rec)
        rec.trie = rec._build_trie()
        return rec

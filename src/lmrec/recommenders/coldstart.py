"""Cold-start items: recommend items added to the catalogue after training, from their text.

A new item has no id the model has learned. :class:`ColdStartRecommender` gives it *content
neighbours*: the ``neighbours`` known items (items of the model's index) whose text (its
catalogue fields through a template) is most similar, by cosine similarity of the item-text
encoder's vectors (:mod:`lmrec.text.encoders`: all-MiniLM-L6-v2 by default, a local encoder
directory, or character n-gram TF-IDF + SVD, the fallback). The new item then inherits the
model's belief in the items it resembles, with similarity weights:

    p(new | history) = sum_j w_j * p(n_j | history),   w_j = max(sim_j, 0) / sum_l max(sim_l, 0)

so it ranks just below its neighbours when they are likely, and nowhere when they are not.
Known items keep the scores of the wrapped model's beam search; new items get the formula's
log-probability, from one batched scoring pass over their neighbours (:meth:`score` of the
wrapped model, whose scores equal its beam-search scores); both lists are merged by score.
A new item inside a history is read as its nearest known neighbour (the model has no token for
it), and that stand-in counts as seen when ``exclude_seen`` is on. The text vectors of the
known and new items are saved with the model (``coldstart_text.npz``/``.json``), so a loaded
model does not encode them again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Self

import numpy as np

from lmrec.data.schema import Catalog, Item
from lmrec.data.split import Split
from lmrec.recommenders.base import Recommender, Scored
from lmrec.text.encoders import ItemTextConfig, ItemTextEmbeddings, coerce_item_text, embed_catalog

__all__ = ["ColdStartConfig", "ColdStartRecommender", "content_neighbours", "text_embeddings"]

COLDSTART_FILE = "coldstart.json"
NEW_ITEMS_FILE = "new_items.jsonl"
TEXT_STEM = "coldstart_text"  # the known and new items' text vectors, beside the model
_SCORE_CHUNK = 32  # histories scored together against the neighbour pool


def _logsumexp(values: np.ndarray) -> float:
    top = float(values.max())
    if not math.isfinite(top):
        return top
    return top + math.log(float(np.exp(values - top).sum()))


@dataclass(frozen=True)
class ColdStartConfig:
    """neighbours: known items each new item borrows its score from.
    item_text: the item-text encoder and template (:class:`lmrec.text.encoders.ItemTextConfig`).
    embedding: the old spelling of ``item_text``'s encoder, still read from saved models
        (``minilm``, ``tfidf``, ``auto`` = ``minilm``); moved into ``item_text`` on construction.
    """

    neighbours: int = 5
    item_text: ItemTextConfig = field(default_factory=ItemTextConfig)
    embedding: str = ""

    def __post_init__(self) -> None:
        if self.neighbours < 1:
            raise ValueError("neighbours must be at least 1")
        # Saved configs hold ``item_text`` as a dict, and older ones only ``embedding``.
        object.__setattr__(self, "item_text", coerce_item_text(self.item_text, self.embedding))
        object.__setattr__(self, "embedding", "")


def text_embeddings(
    catalog: Catalog,
    known: Sequence[str],
    new: Sequence[str],
    config: ColdStartConfig,
    reuse: ItemTextEmbeddings | None = None,
) -> ItemTextEmbeddings:
    """The text vectors of the known items then the new ones (``reuse`` when it holds them)."""
    pool = Catalog(catalog[i] for i in [*known, *new])
    return embed_catalog(pool, config.item_text, reuse=reuse)


def content_neighbours(
    catalog: Catalog,
    known: Sequence[str],
    new: Sequence[str],
    config: ColdStartConfig,
    embeddings: ItemTextEmbeddings | None = None,
) -> dict[str, list[tuple[str, float]]]:
    """Each new item's ``config.neighbours`` most similar known items with their weights
    (non-negative, summing to 1; equal when no neighbour is similar at all). Ties keep the
    known items' order. ``embeddings`` (from :func:`text_embeddings`) spare encoding again."""
    if not known:
        raise ValueError("content neighbours need at least one known item")
    embeddings = text_embeddings(catalog, known, new, config, embeddings)
    vectors = embeddings.rows([*known, *new])
    sims = vectors[len(known) :] @ vectors[: len(known)].T
    m = min(config.neighbours, len(known))
    result = {}
    for row, item in zip(sims, new, strict=True):
        order = np.argsort(-row, kind="stable")[:m]
        weights = np.maximum(row[order], 0.0)
        total = weights.sum()
        weights = weights / total if total > 0 else np.full(m, 1.0 / m)
        result[item] = [(known[j], float(w)) for j, w in zip(order, weights, strict=True)]
    return result


class ColdStartRecommender(Recommender):
    """A fitted language-model recommender (anything with ``index``, ``catalog``,
    ``recommend`` and ``score``, such as :class:`lmrec.recommenders.lm.LMRecommender`) that can also
    recommend items added after training (:meth:`add_items`)."""

    name = "lm+coldstart"

    def __init__(self, lm, config: ColdStartConfig | None = None):
        self.lm = lm
        self.config = config or ColdStartConfig()
        self.new_items: list[Item] = []
        self.neighbours: dict[str, list[tuple[str, float]]] = {}
        self.text: ItemTextEmbeddings | None = None

    @property
    def catalog(self) -> Catalog:
        """The model's catalogue plus every added item."""
        known = [self.lm.catalog[i] for i in self.lm.catalog if i not in self.neighbours]
        return Catalog([*known, *self.new_items])

    def add_items(self, items: Iterable[Item]) -> Self:
        """Add catalogue items that the model has no id for; each gets content neighbours.
        An item the model already knows, or one added before, is an error."""
        items = list(items)
        taken = {i.id for i in self.new_items}
        for item in items:
            if item.id in self.lm.index or item.id in taken:
                raise ValueError(f"item {item.id!r} is already in the catalogue")
            taken.add(item.id)
        self.new_items.extend(items)
        catalog = self.lm.catalog.with_items(
            i for i in self.new_items if i.id not in self.lm.catalog
        )
        known = [i for i in self.lm.index.items if i in catalog]
        new = [i.id for i in self.new_items]
        if not new:  # nothing to place: no text to encode
            self.neighbours = {}
            return self
        self.text = text_embeddings(catalog, known, new, self.config, self.text)
        self.neighbours = content_neighbours(catalog, known, new, self.config, self.text)
        return self

    def fit(self, split: Split) -> Self:
        """Train the wrapped model on ``split`` (added items keep their place)."""
        self.lm.fit(split)
        return self.add_items([]) if self.new_items else self

    def _stand_in(self, history: Sequence[str]) -> list[str]:
        return [self.neighbours[i][0][0] if i in self.neighbours else i for i in history]

    def recommend(
        self,
        histories: Sequence[Sequence[str]],
        k: int = 10,
        exclude_seen: bool = True,
        events: Sequence[Sequence[str]] | None = None,
    ) -> list[list[Scored]]:
        """Top-k of the known and the new items together, best first."""
        mapped = [self._stand_in(h) for h in histories]
        extra = [sum(i in self.neighbours for i in set(h)) for h in histories]
        typed = {"events": events} if events is not None else {}
        known = self.lm.recommend(
            mapped, k=k + max(extra, default=0), exclude_seen=exclude_seen, **typed
        )
        if not self.neighbours:
            return [row[:k] for row in known]
        pool = list(dict.fromkeys(n for ns in self.neighbours.values() for n, _ in ns))
        position = {item: j for j, item in enumerate(pool)}
        with np.errstate(divide="ignore"):  # a zero weight is log 0 = -inf: no share
            columns = {
                item: (np.array([position[n] for n, _ in ns]), np.log([w for _, w in ns]))
                for item, ns in self.neighbours.items()
            }
        results = []
        for start in range(0, len(mapped), _SCORE_CHUNK):
            chunk = slice(start, start + _SCORE_CHUNK)
            part = {"events": events[chunk]} if events is not None else {}
            scores = self.lm.score(mapped[chunk], [pool] * len(mapped[chunk]), **part)
            for history, row, logp in zip(histories[chunk], known[chunk], scores, strict=True):
                logp = np.asarray(logp)
                seen = set(history) if exclude_seen else set()
                merged = [s for s in row if s.item not in seen]
                for item, (cols, log_w) in columns.items():
                    if item not in seen:
                        merged.append(Scored(item, _logsumexp(logp[cols] + log_w)))
                merged.sort(key=lambda s: -s.score)
                results.append(merged[:k])
        return results

    def save(self, path: str | Path) -> None:
        """The wrapped model's directory, plus the added items and this config."""
        out = Path(path)
        self.lm.save(out)
        Catalog(self.new_items).save_jsonl(out / NEW_ITEMS_FILE)
        (out / COLDSTART_FILE).write_text(json.dumps(asdict(self.config)), encoding="utf-8")
        if self.text is not None:
            self.text.save(out, TEXT_STEM)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        from lmrec.recommenders.lm import LMRecommender

        src = Path(path)
        config = ColdStartConfig(**json.loads((src / COLDSTART_FILE).read_text(encoding="utf-8")))
        rec = cls(LMRecommender.load(src), config)
        if ItemTextEmbeddings.exists(src, TEXT_STEM):  # absent from models saved before it
            rec.text = ItemTextEmbeddings.load(src, TEXT_STEM)
        return rec.add_items(Catalog.load_jsonl(src / NEW_ITEMS_FILE).values())

"""Item indexing: how each catalogue item is written as a short sequence of id tokens.

An :class:`ItemIndex` maps item ids to tuples of token strings (``("<item_17>",)`` or
``("<a_3>", "<b_12>")``). Strategies build one from a split's *training* events only
(docs/design.md, "ID leakage"): items never seen in training are numbered after the training
items, in catalogue order, which carries no information about test events.
"""

from __future__ import annotations

import importlib
import json
import math
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from lmrec.data.schema import Catalog
from lmrec.data.split import Split
from lmrec.text.encoders import ItemTextConfig, coerce_item_text

LEVEL_NAMES = "abcdefgh"


@dataclass(frozen=True)
class IndexConfig:
    """How items become id tokens.

    strategy: ``random`` (a seeded permutation), ``sequential`` (numbered by first appearance
        in training histories, users in log order), ``collaborative`` (hierarchical spectral
        clustering of the training co-occurrence graph, last token numbers the item in its leaf),
        ``collaborative+unique`` (the same tree, last token unique per item) or ``semantic``
        (residual k-means codes of the item text embedding plus a collision token).
    style: ``single`` (one new token per item) or ``subtokens`` (a few digits in base ``base``,
        each level with its own tokens, so the vocabulary grows like ``levels * base``); only
        for ``random`` and ``sequential``.
    base: codebook size per level for ``subtokens``; 0 picks the smallest base with 2 levels.
    seed: seed of the ``random`` strategy and of the k-means runs of the learned strategies.
    clusters: branching per level (``collaborative``) or codebook size (``semantic``); 0 picks
        20 for ``collaborative`` and, for ``semantic``, the smallest power of two at least twice
        the ``levels``-th root of the catalogue size (64 for 12k items and 3 levels).
    max_leaf: ``collaborative``: a cluster with more items is split again; 0 means 100.
    levels: ``semantic``: residual k-means levels before the collision token; 0 means 3.
    window: ``collaborative``: items co-occur when at most this many positions apart in a
        user's training history; 0 means anywhere in it.
    item_text: ``semantic``: the item-text encoder and template
        (:class:`lmrec.text.encoders.ItemTextConfig`); a built index records the encoder used.
    embedding: the old spelling of ``item_text``'s encoder, still read from saved models:
        ``minilm``, ``tfidf`` or ``auto`` (= ``minilm``, which falls back to TF-IDF when not
        installed). Moved into ``item_text`` on construction, so it reads ``""`` afterwards.
    """

    strategy: str = "sequential"
    style: str = "single"
    base: int = 0
    seed: int = 0
    clusters: int = 0
    max_leaf: int = 0
    levels: int = 0
    window: int = 0
    item_text: ItemTextConfig = field(default_factory=ItemTextConfig)
    embedding: str = ""

    def __post_init__(self) -> None:
        # Saved configs hold ``item_text`` as a dict, and older ones only ``embedding``; clearing
        # ``embedding`` afterwards lets ``replace(config, item_text=...)`` take effect.
        object.__setattr__(self, "item_text", coerce_item_text(self.item_text, self.embedding))
        object.__setattr__(self, "embedding", "")


class ItemIndex:
    """A bijection between item ids and token tuples, saved with the model."""

    def __init__(self, codes: Mapping[str, Sequence[str]], config: IndexConfig | None = None):
        self.config = config or IndexConfig()
        self._codes: dict[str, tuple[str, ...]] = {i: tuple(c) for i, c in codes.items()}
        self._items: dict[tuple[str, ...], str] = {}
        for item, code in self._codes.items():
            if not code:
                raise ValueError(f"item {item!r} has an empty code")
            if code in self._items:
                raise ValueError(f"items {self._items[code]!r} and {item!r} share code {code}")
            self._items[code] = item

    def __len__(self) -> int:
        return len(self._codes)

    def __contains__(self, item: object) -> bool:
        return item in self._codes

    @property
    def items(self) -> list[str]:
        return list(self._codes)

    def code(self, item: str) -> tuple[str, ...]:
        try:
            return self._codes[item]
        except KeyError:
            raise KeyError(f"unknown item {item!r}: it has no id in the item index") from None

    def render(self, item: str) -> str:
        """The item as prompt text: its tokens joined without spaces."""
        return "".join(self.code(item))

    def item_of(self, code: Sequence[str]) -> str | None:
        return self._items.get(tuple(code))

    def vocabulary(self) -> list[str]:
        """Every distinct id token, in a stable order (first use)."""
        return list(dict.fromkeys(t for code in self._codes.values() for t in code))

    def with_items(self, codes: Mapping[str, Sequence[str]]) -> ItemIndex:
        """A new index with extra items (e.g. cold-start items given codes after training)."""
        return ItemIndex({**self._codes, **codes}, self.config)

    def save(self, path: str | Path) -> None:
        payload = {
            "config": asdict(self.config),
            "codes": {i: list(c) for i, c in self._codes.items()},
        }
        Path(path).write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> ItemIndex:
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        return cls(payload["codes"], IndexConfig(**payload["config"]))


def single_code(number: int) -> tuple[str, ...]:
    """The code of item number ``number`` in style ``single``: one token of its own."""
    return (f"<item_{number}>",)


def _numbers_to_codes(numbered: Sequence[str], config: IndexConfig) -> dict[str, tuple[str, ...]]:
    if config.style == "single":
        return {item: single_code(n) for n, item in enumerate(numbered)}
    if config.style != "subtokens":
        raise ValueError(f"unknown index style {config.style!r} (expected 'single' or 'subtokens')")
    n = max(len(numbered), 2)
    base = config.base or math.ceil(math.sqrt(n))
    if base < 2:
        raise ValueError("base must be at least 2")
    levels = max(1, math.ceil(math.log(n, base) - 1e-9))
    while base**levels < n:
        levels += 1
    if levels > len(LEVEL_NAMES):
        raise ValueError(f"base {base} needs {levels} levels for {n} items; use a larger base")
    codes = {}
    for number, item in enumerate(numbered):
        digits = []
        for level in reversed(range(levels)):
            digits.append(f"<{LEVEL_NAMES[levels - 1 - level]}_{(number // base**level) % base}>")
        codes[item] = tuple(digits)
    return codes


def _training_order(split: Split) -> list[str]:
    """Items by first appearance in training histories (users in split order), then the rest."""
    order: dict[str, None] = {}
    for events in split.train.values():
        for x in events:
            order.setdefault(x.item, None)
    return list(order)


def _with_unseen(ordered: Iterable[str], catalog: Catalog) -> list[str]:
    known = dict.fromkeys(ordered)
    return [*known, *(i for i in catalog if i not in known)]


def sequential_index(split: Split, config: IndexConfig) -> ItemIndex:
    """Number items by first appearance in the training data only (never valid/test events)."""
    return ItemIndex(
        _numbers_to_codes(_with_unseen(_training_order(split), split.catalog), config), config
    )


def random_index(split: Split, config: IndexConfig) -> ItemIndex:
    """A seeded random numbering of the whole catalogue."""
    items = list(split.catalog)
    random.Random(config.seed).shuffle(items)
    return ItemIndex(_numbers_to_codes(items, config), config)


IndexBuilder = Callable[[Split, IndexConfig], ItemIndex]

INDEX_STRATEGIES: dict[str, IndexBuilder] = {
    "random": random_index,
    "sequential": sequential_index,
}

# Learned strategies live in their own modules (scikit-learn, maybe sentence-transformers) and
# are imported on first use, so ``import lmrec.indexing`` stays light: name -> "module:function".
_LAZY_STRATEGIES: dict[str, str] = {
    "collaborative": "lmrec.indexing.collaborative:collaborative_index",
    "collaborative+unique": "lmrec.indexing.collaborative:collaborative_unique_index",
    "semantic": "lmrec.indexing.semantic:semantic_index",
}


def build_index(split: Split, config: IndexConfig) -> ItemIndex:
    """Build the item index named by ``config.strategy`` from the split's training events."""
    builder = INDEX_STRATEGIES.get(config.strategy)
    if builder is None and config.strategy in _LAZY_STRATEGIES:
        module, _, name = _LAZY_STRATEGIES[config.strategy].partition(":")
        builder = getattr(importlib.import_module(module), name)
        INDEX_STRATEGIES[config.strategy] = builder
    if builder is None:
        known = ", ".join(sorted({*INDEX_STRATEGIES, *_LAZY_STRATEGIES}))
        raise ValueError(f"unknown index strategy {config.strategy!r} (known: {known})")
    return builder(split, config)

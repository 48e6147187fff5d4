"""Item tags beside the item text (``ItemTextConfig.tags`` of :mod:`lmrec.text.encoders`): an
item's ``category`` field split into tags, each distinct tag of the catalogue one one-hot column
after the text vector's, so items that share a brand or a category path share a direction that
no sentence encoder gives an anonymous attribute id or a brand it never read."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from lmrec.data.schema import Item

__all__ = ["TAG_SEPARATORS", "item_tags", "keyed_texts", "with_tags"]

TAG_SEPARATORS = re.compile(r"[|,;>]")


def item_tags(item: Item) -> list[str]:
    """The item's tags: its category field split at ``|``, ``,``, ``;`` or ``>``, lower-cased,
    stripped, each once, in order."""
    parts = (t.strip().lower() for t in TAG_SEPARATORS.split(item.category or ""))
    return list(dict.fromkeys(t for t in parts if t))


def keyed_texts(texts: Sequence[str], items: Sequence[Item], tags: bool) -> list[str]:
    """What the text cache's hash reads per item: its text, and with ``tags`` its tags too."""
    if not tags:
        return list(texts)
    return [f"{t}\x1d{'|'.join(item_tags(i))}" for t, i in zip(texts, items, strict=True)]


def _tag_rows(items: Sequence[Item], vocabulary: Sequence[str]) -> np.ndarray:
    """One-hot tag rows over ``vocabulary`` (tags outside it have no column)."""
    column = {tag: n for n, tag in enumerate(vocabulary)}
    rows = np.zeros((len(items), len(vocabulary)))
    for n, item in enumerate(items):
        for tag in item_tags(item):
            if tag in column:
                rows[n, column[tag]] = 1.0
    return rows


def with_tags(
    text_vectors: np.ndarray, items: Sequence[Item], vocabulary: Sequence[str]
) -> np.ndarray:
    """Unit text vectors with the items' tag columns beside them: the two parts weigh alike
    (each of length 1/sqrt(2)) where an item has tags; an item without is its text alone."""
    from lmrec.text.encoders import unit_rows  # encoders imports this module

    if not vocabulary:
        return text_vectors
    tags = unit_rows(_tag_rows(items, vocabulary))
    return unit_rows(np.concatenate([unit_rows(text_vectors), tags], axis=1))

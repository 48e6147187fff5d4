"""Most-popular baseline: recommend the items with the most training events."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np

from lmrec.baselines.storage import read_arrays, read_config, write_model
from lmrec.data.split import Split
from lmrec.metrics.ranking import check_k
from lmrec.recommenders.base import Recommender, Scored

__all__ = ["FittedItems", "PopularityRecommender", "popularity_ranking"]


class FittedItems:
    """The fitted state the classic baselines share: the catalogue's items and their index,
    the training popularity they fall back on when a history says nothing, and the check that
    a model is fitted before it is asked for ``k`` items."""

    _items: list[str]
    _fitted: bool

    def _set_items(self, items: Sequence[str]) -> None:
        self._items = list(items)
        self._index = {item: i for i, item in enumerate(self._items)}

    def _set_popularity(self, counts: np.ndarray, order: np.ndarray) -> None:
        self._counts = counts
        self._order = order
        self._popularity_rank = np.empty_like(order)
        self._popularity_rank[order] = np.arange(len(order))

    def _check_ready(self, k: int) -> None:
        if not self._fitted:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(split) first")
        check_k(k)

    def _fit_items(self, split: Split, items: Sequence[str]) -> None:
        """The end of every ``fit``: the items, their training popularity, fitted."""
        self._set_items(items)
        self._set_popularity(*popularity_ranking(split, self._items))
        self._fitted = True

    def _write(self, path: str | Path, settings: dict[str, Any], **arrays: np.ndarray) -> None:
        """``config.json`` (``settings`` and the item ids) and ``arrays.npz`` (``arrays`` and
        the popularity counts and ranking), in :mod:`lmrec.baselines.storage`'s form."""
        self._check_ready(1)
        config = {**settings, "items": self._items}
        write_model(
            path, type(self).__name__, config, counts=self._counts, order=self._order, **arrays
        )

    @classmethod
    def _read(cls, path: str | Path) -> tuple[Self, dict[str, np.ndarray]]:
        """A fitted model from :meth:`_write`'s files (settings passed to the constructor),
        and the arrays for the caller to restore its own state from."""
        config = read_config(path, cls.__name__)
        model = cls(**{key: value for key, value in config.items() if key != "items"})
        model._set_items(config["items"])
        arrays = read_arrays(path)
        model._set_popularity(arrays["counts"], arrays["order"])
        model._fitted = True
        return model, arrays


class PopularityRecommender(FittedItems, Recommender):
    """Recommend the same list to everyone: catalogue items by number of training events.

    The score of an item is its event count in ``split.train`` (repeat events count again).
    Equal counts are broken by first appearance in the training data, read user by user in
    split order and each user's events in time order; never by item id, which would favour
    whatever the id scheme happens to put first. Catalogue items with no training event come
    last, in catalogue order, with score 0.
    """

    name = "popularity"

    def __init__(self) -> None:
        self._items: list[str] = []
        self._counts = np.zeros(0, dtype=np.float64)
        # Item indices, best first: the popularity ranking.
        self._order = np.zeros(0, dtype=np.int64)
        self._fitted = False

    def fit(self, split: Split) -> Self:
        """Count the training events of every catalogue item."""
        self._fit_items(split, split.catalog)
        return self

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]:
        """The ``k`` most popular catalogue items (without each history's items if asked)."""
        self._check_ready(k)
        items, counts = self._items, self._counts
        results: list[list[Scored]] = []
        for history in histories:
            seen = set(history) if exclude_seen else set()
            recs: list[Scored] = []
            # Walk the global ranking; at most len(history) items are skipped before k are found.
            for index in self._order:
                item = items[index]
                if item in seen:
                    continue
                recs.append(Scored(item, float(counts[index])))
                if len(recs) == k:
                    break
            results.append(recs)
        return results

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (item ids) and ``arrays.npz`` (counts, ranking) to ``path``."""
        self._write(path, {})

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save`."""
        return cls._read(path)[0]


def popularity_ranking(split: Split, items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Training event counts of ``items`` and their indices ordered most popular first.

    Ties keep first appearance in ``split.train`` (user by user, in time order); items without
    training events follow in the order of ``items``. Events on items outside ``items`` are
    ignored.
    """
    index = {item: i for i, item in enumerate(items)}
    counts = np.zeros(len(items), dtype=np.float64)
    first_seen = np.full(len(items), len(items), dtype=np.int64)
    n_seen = 0
    for events in split.train.values():
        for event in events:
            i = index.get(event.item)
            if i is None:
                continue
            if counts[i] == 0:
                first_seen[i] = n_seen
                n_seen += 1
            counts[i] += 1
    # Unseen items share first_seen = len(items); position in ``items`` then orders them.
    order = np.lexsort((np.arange(len(items)), first_seen, -counts))
    return counts, order.astype(np.int64)

"""Item-based k-nearest-neighbours: cosine similarity of items over who interacted with them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from lmrec.baselines.popularity import FittedItems
from lmrec.data.split import Split
from lmrec.recommenders.base import Recommender, Scored

__all__ = ["ItemKNNRecommender"]

# Score at most this many (history x item) cells at once, to bound memory on large catalogues.
_CELLS_PER_CHUNK = 1 << 22


class ItemKNNRecommender(FittedItems, Recommender):
    """Score items by their cosine similarity to the items of a history (Sarwar et al., 2001).

    Fitting builds the binary user x item matrix of the training events (repeat events count
    once) and the item x item cosine similarity ``|U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink)``,
    where ``U_i`` is the set of training users of item ``i``. Each item keeps only its
    ``neighbors`` most similar items (ties: catalogue order).

    A candidate's score is the sum of its similarities to the history's items, the ``n``-th most
    recent of which is weighted ``recency_decay ** n`` (1.0: every history item counts the same).
    Items with no similarity to the history come after every scored item, in popularity order
    (see :class:`~lmrec.baselines.popularity.PopularityRecommender`) with score 0, so ``k`` items
    are always returned when the catalogue has them. Equal scores are also broken by popularity.
    History items outside the catalogue are ignored.
    """

    name = "item-knn"

    def __init__(
        self, *, neighbors: int | None = 100, shrink: float = 0.0, recency_decay: float = 1.0
    ) -> None:
        """Configure the model.

        Args:
            neighbors: similar items kept per item; ``None`` keeps them all.
            shrink: added to the cosine denominator; damps similarities of rarely seen items.
            recency_decay: weight ratio between consecutive history items, in (0, 1].
        """
        if neighbors is not None and (isinstance(neighbors, bool) or neighbors < 1):
            raise ValueError(f"neighbors must be >= 1 or None, got {neighbors!r}")
        if shrink < 0:
            raise ValueError(f"shrink must be >= 0, got {shrink!r}")
        if not 0 < recency_decay <= 1:
            raise ValueError(f"recency_decay must be in (0, 1], got {recency_decay!r}")
        self.neighbors = neighbors
        self.shrink = float(shrink)
        self.recency_decay = float(recency_decay)
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._similarity = sp.csr_matrix((0, 0), dtype=np.float64)
        self._counts = np.zeros(0, dtype=np.float64)
        self._order = np.zeros(0, dtype=np.int64)
        self._popularity_rank = np.zeros(0, dtype=np.int64)
        self._fitted = False

    def fit(self, split: Split) -> Self:
        """Compute the pruned item-item similarity matrix from ``split.train``."""
        items = list(split.catalog)
        index = {item: i for i, item in enumerate(items)}
        users: list[int] = []
        columns: list[int] = []
        for u, events in enumerate(split.train.values()):
            for event in events:
                i = index.get(event.item)
                if i is not None:
                    users.append(u)
                    columns.append(i)
        interactions = sp.csr_matrix(
            (np.ones(len(users)), (users, columns)), shape=(len(split.train), len(items))
        )
        interactions.sum_duplicates()
        interactions.data[:] = 1.0  # binary: a repeat event is the same user again

        n_items = len(items)
        cooccurrence = sp.csr_matrix(interactions.T @ interactions)
        cooccurrence.sort_indices()
        n_users_of = np.asarray(interactions.sum(axis=0)).ravel()
        rows = np.repeat(np.arange(n_items), np.diff(cooccurrence.indptr))
        cols = cooccurrence.indices.astype(np.int64)
        # sqrt of the product, not the product of sqrts: 1 / sqrt(2 * 2) is then exactly 0.5.
        norms = np.sqrt(n_users_of[rows] * n_users_of[cols])
        sims = cooccurrence.data / (norms + self.shrink)
        keep = rows != cols
        if self.neighbors is not None:
            keep &= _top_per_row(sims, cooccurrence.indptr, keep, self.neighbors)
        self._similarity = sp.csr_matrix(
            (sims[keep], (rows[keep], cols[keep])), shape=(n_items, n_items)
        )
        self._fit_items(split, items)
        return self

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]:
        """The ``k`` items most similar to each history, best first."""
        self._check_ready(k)
        n_items = len(self._items)
        chunk = max(1, _CELLS_PER_CHUNK // max(n_items, 1))
        results: list[list[Scored]] = []
        for start in range(0, len(histories), chunk):
            batch = histories[start : start + chunk]
            weights, seen = self._history_matrix(batch)
            scores = (weights @ self._similarity).toarray()
            for row, seen_items in zip(scores, seen, strict=True):
                results.append(self._top_k(row, seen_items if exclude_seen else [], k))
        return results

    def score(
        self, histories: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]]
    ) -> list[list[float]]:
        """Each candidate's similarity sum to its history, in the order given (0.0 for a
        candidate similar to nothing in the history); a candidate outside the catalogue is an
        error."""
        self._check_ready(1)
        if len(histories) != len(candidates):
            raise ValueError(f"{len(histories)} histories but {len(candidates)} candidate lists")
        unknown = sorted({c for row in candidates for c in row if c not in self._index})
        if unknown:
            raise KeyError(f"candidates not in the catalogue: {', '.join(unknown[:5])}")
        chunk = max(1, _CELLS_PER_CHUNK // max(len(self._items), 1))
        results: list[list[float]] = []
        for start in range(0, len(histories), chunk):
            weights, _ = self._history_matrix(histories[start : start + chunk])
            scores = (weights @ self._similarity).toarray()
            for row, cands in zip(scores, candidates[start : start + chunk], strict=True):
                results.append([float(row[self._index[c]]) for c in cands])
        return results

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (settings, item ids) and ``arrays.npz`` (similarities, counts)."""
        settings = {
            "neighbors": self.neighbors,
            "shrink": self.shrink,
            "recency_decay": self.recency_decay,
        }
        similarity = self._similarity
        self._write(
            path,
            settings,
            similarity_data=similarity.data,
            similarity_indices=similarity.indices,
            similarity_indptr=similarity.indptr,
        )

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save`."""
        model, arrays = cls._read(path)
        n_items = len(model._items)
        model._similarity = sp.csr_matrix(
            (arrays["similarity_data"], arrays["similarity_indices"], arrays["similarity_indptr"]),
            shape=(n_items, n_items),
        )
        return model

    def _history_matrix(
        self, histories: Sequence[Sequence[str]]
    ) -> tuple[sp.csr_matrix, list[list[int]]]:
        """Recency-weighted history x item matrix, and each history's known item indices."""
        rows: list[int] = []
        cols: list[int] = []
        values: list[float] = []
        seen: list[list[int]] = []
        decay = self.recency_decay
        for r, history in enumerate(histories):
            known = [i for i in map(self._index.get, history) if i is not None]
            weight_of: dict[int, float] = {}
            # Most recent first: a repeated item keeps the weight of its latest occurrence.
            for age, i in enumerate(reversed(known)):
                weight_of.setdefault(i, decay**age)
            rows.extend([r] * len(weight_of))
            cols.extend(weight_of)
            values.extend(weight_of.values())
            seen.append(list(weight_of))
        matrix = sp.csr_matrix(
            (values, (rows, cols)), shape=(len(histories), len(self._items)), dtype=np.float64
        )
        return matrix, seen

    def _top_k(self, scores: np.ndarray, exclude: Sequence[int], k: int) -> list[Scored]:
        if len(exclude):
            scores[list(exclude)] = 0.0
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            # Keep everything tied with the k-th best, so ties are broken by popularity below.
            kth_best = -np.partition(-scores[candidates], k - 1)[k - 1]
            candidates = candidates[scores[candidates] >= kth_best]
        ranked = candidates[np.lexsort((self._popularity_rank[candidates], -scores[candidates]))]
        recs = [Scored(self._items[i], float(scores[i])) for i in ranked[:k]]
        if len(recs) < k:
            taken = set(exclude).union(ranked.tolist())
            for i in self._order:
                if int(i) not in taken:
                    recs.append(Scored(self._items[i], 0.0))
                    if len(recs) == k:
                        break
        return recs


def _top_per_row(values: np.ndarray, indptr: np.ndarray, allowed: np.ndarray, n: int) -> np.ndarray:
    """Mask of the ``n`` largest allowed values of each CSR row; ties go to lower columns.

    Assumes column indices are sorted within each row.
    """
    mask = allowed.copy()
    for start, end in zip(indptr[:-1].tolist(), indptr[1:].tolist(), strict=True):
        row_allowed = allowed[start:end]
        if np.count_nonzero(row_allowed) <= n:
            continue
        row = np.where(row_allowed, values[start:end], -np.inf)
        nth_best = -np.partition(-row, n - 1)[n - 1]
        above = row > nth_best
        tied = np.flatnonzero(row == nth_best)[: n - np.count_nonzero(above)]
        row_mask = above
        row_mask[tied] = True
        mask[start:end] = row_mask
    return mask

"""Top-N retrieval over item vectors with FAISS: the first stage of retrieval + LM ranking
for catalogues too large to rank item by item.

Item vectors can come from anything that embeds items and users in one space (ALS factors, a
two-tower model, text embeddings). ``exact`` uses a flat inner-product index (every item
scored, exact top-N); ``hnsw`` a graph index whose search cost grows roughly with log(items)
at a small loss of recall.
"""

from __future__ import annotations

from collections.abc import Sequence

import faiss
import numpy as np

KINDS = ("exact", "hnsw")


class EmbeddingIndex:
    """Items and their vectors in a FAISS inner-product index."""

    def __init__(
        self, items: Sequence[str], vectors: np.ndarray, kind: str = "exact", hnsw_m: int = 32
    ):
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(items):
            raise ValueError(f"need one vector per item: {len(items)} items, shape {vectors.shape}")
        if len(set(items)) != len(items):
            raise ValueError("item ids must be unique")
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r} (known: {', '.join(KINDS)})")
        self.items = list(items)
        self.row_of = {item: r for r, item in enumerate(self.items)}
        self.kind = kind
        dim = vectors.shape[1]
        if kind == "exact":
            self.index = faiss.IndexFlatIP(dim)
        else:
            self.index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        self.index.add(vectors)

    def __len__(self) -> int:
        return len(self.items)

    def search(
        self,
        queries: np.ndarray,
        n: int,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[list[tuple[str, float]]]:
        """The ``n`` items with the highest inner product with each query, best first,
        leaving out each query's ``exclude`` items (fetched past, so ``n`` are still returned
        when the catalogue has them)."""
        if n < 1:
            raise ValueError("n must be at least 1")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.index.d:
            raise ValueError(f"queries must have shape (users, {self.index.d})")
        exclude = exclude or [()] * len(queries)
        if len(exclude) != len(queries):
            raise ValueError("one exclusion list per query is needed")
        skip = max((len(e) for e in exclude), default=0)
        fetch = min(n + skip, len(self.items))
        scores, rows = self.index.search(queries, fetch)
        results = []
        for row_scores, row_ids, banned in zip(scores, rows, exclude, strict=True):
            banned = set(banned)
            found = [
                (self.items[r], float(s))
                for s, r in zip(row_scores, row_ids, strict=True)
                if r >= 0 and self.items[r] not in banned
            ]
            results.append(found[:n])
        return results

"""Item-id strategies: how each catalogue item becomes a short code the model can write.

:mod:`.base` holds the index itself and the simple strategies (``sequential``, ``random``);
:mod:`.collaborative` (spectral clustering of co-occurrence) and :mod:`.semantic` (residual
k-means over item-text embeddings) are imported on first use by :func:`build_index`.
Every index is built from training events and the catalogue only.
"""

from lmrec.indexing.base import (
    INDEX_STRATEGIES,
    IndexBuilder,
    IndexConfig,
    ItemIndex,
    build_index,
    random_index,
    sequential_index,
    single_code,
)

__all__ = [
    "INDEX_STRATEGIES",
    "IndexBuilder",
    "IndexConfig",
    "ItemIndex",
    "build_index",
    "random_index",
    "sequential_index",
    "single_code",
]

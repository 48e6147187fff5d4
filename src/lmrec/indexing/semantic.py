"""Semantic item indexing: codes from the item text, as TIGER's semantic ids.

Each item's text (its catalogue fields through a template; its id when it has none) is embedded
by the item-text encoder (:mod:`lmrec.text.encoders`: the packaged all-MiniLM-L6-v2 by default,
a local encoder directory, or character n-gram TF-IDF + truncated SVD, which needs no model and
works in any language). The embeddings are quantised by residual k-means: ``levels`` codebooks
of ``clusters`` centroids, each fitted to what the previous levels left unexplained (TIGER's
RQ-VAE without the VAE). Items with the same ``levels`` codes get a final collision token
numbering them 0, 1, 2... in catalogue order; every other item gets 0, so all codes have
``levels + 1`` tokens and are prefix-free.

The codes depend only on the catalogue's text and the seed: no interaction at all, training or
test, is used. The catalogue is not test data (it is what the shop sells), so this carries no
leakage; cold items get codes exactly like the others.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np
from sklearn.cluster import KMeans

from lmrec.data.schema import Catalog
from lmrec.data.split import Split
from lmrec.indexing.base import LEVEL_NAMES, IndexConfig, ItemIndex
from lmrec.text.encoders import ItemTextEmbeddings, embed_catalog, minilm_available

__all__ = [
    "minilm_available",  # re-exported: callers found it here before lmrec.text.encoders
    "residual_kmeans",
    "semantic_codes",
    "semantic_index",
]

logger = logging.getLogger(__name__)

DEFAULT_LEVELS = 3


def residual_kmeans(vectors: np.ndarray, levels: int, clusters: int, seed: int = 0) -> np.ndarray:
    """Residual quantisation: ``levels`` rounds of k-means, each on what the last one left.

    Returns an ``(n, levels)`` array of centroid numbers. A level with fewer distinct residuals
    than ``clusters`` uses as many centroids as there are distinct residuals.
    """
    residual = np.array(vectors, dtype=np.float64)
    codes = np.zeros((len(residual), levels), dtype=np.int64)
    for level in range(levels):
        distinct = len(np.unique(residual.round(10), axis=0))
        k = min(clusters, distinct)
        if k < 2:
            continue  # nothing left to tell apart at this level: every item gets 0
        kmeans = KMeans(n_clusters=k, n_init=1, random_state=seed + level).fit(residual)
        codes[:, level] = kmeans.labels_
        residual = residual - kmeans.cluster_centers_[kmeans.labels_]
    return codes


def _default_clusters(n_items: int, levels: int) -> int:
    """The smallest power of two at least twice the ``levels``-th root of the catalogue size.

    Residual k-means uses its codebooks less evenly than a trained RQ-VAE: on Beauty (12,101
    items, 3 levels) 32 centroids leave up to 58 items on one code, 64 (this rule) up to 23.
    """
    root = 2 * max(n_items, 2) ** (1.0 / levels)
    return max(2, 2 ** math.ceil(math.log2(root) - 1e-9))


def semantic_codes(
    catalog: Catalog, config: IndexConfig, embeddings: ItemTextEmbeddings | None = None
) -> tuple[dict[str, tuple[str, ...]], str]:
    """Codes of every catalogue item from its text, and the item-text encoder actually used.
    ``embeddings`` (from :func:`lmrec.text.encoders.embed_catalog`, covering the catalogue) are
    used when given, so a caller that holds them does not encode the catalogue twice."""
    levels = config.levels or DEFAULT_LEVELS
    if not 1 <= levels <= len(LEVEL_NAMES) - 1:
        raise ValueError(f"levels must be between 1 and {len(LEVEL_NAMES) - 1}")
    clusters = config.clusters or _default_clusters(len(catalog), levels)
    if clusters < 2:
        raise ValueError("clusters must be at least 2 for the semantic index")
    items = list(catalog)
    if not items:
        return {}, config.item_text.encoder
    if embeddings is None:
        embeddings = embed_catalog(catalog, config.item_text, seed=config.seed)
    quantised = residual_kmeans(embeddings.rows(items), levels, clusters, config.seed)
    seen: dict[tuple[int, ...], int] = {}
    codes = {}
    for item, row in zip(items, quantised, strict=True):
        key = tuple(int(v) for v in row)
        collision = seen.get(key, 0)
        seen[key] = collision + 1
        digits = (*key, collision)
        codes[item] = tuple(f"<{LEVEL_NAMES[lv]}_{v}>" for lv, v in enumerate(digits))
    return codes, embeddings.encoder


def semantic_index(split: Split, config: IndexConfig) -> ItemIndex:
    """Semantic ids of the whole catalogue; the split's events are not used at all."""
    start = time.perf_counter()
    codes, method = semantic_codes(split.catalog, config)
    item_text = replace(config.item_text, encoder=method)
    index = ItemIndex(codes, replace(config, item_text=item_text))
    logger.info(
        "semantic index (%s): %d items, code length %d, %d tokens, %.1fs",
        method,
        len(index),
        max((len(c) for c in codes.values()), default=0),
        len(index.vocabulary()),
        time.perf_counter() - start,
    )
    return index

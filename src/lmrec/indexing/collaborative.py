"""Collaborative item indexing: hierarchical spectral clustering of the co-occurrence graph.

After Hua et al. 2023 ("How to Index Item IDs for Recommendation Foundation Models"): items
bought by the same users get codes with a common prefix, so the language model can share what it
learns about one item with its neighbours. The graph is built from the split's *training*
histories only (docs/design.md, "ID leakage").

The tree: the training items are split into ``clusters`` groups by spectral clustering, and every
group with more than ``max_leaf`` items is split again, until all groups are leaves. An item's
code is its path of cluster numbers, one level-specific token per level (``<a_3>``, ``<b_12>``,
...), then a final token: its number within its leaf (``collaborative``, catalogue order) or a
unique item token (``collaborative+unique``, ``<item_N>``).

Every code has the same length. A leaf above the deepest level is extended by ``_0`` tokens at the
missing levels (a chain of single-child nodes), so the final token is always at the last level and
beam search compares codes of equal length. Codes are prefix-free because every item ends at a
leaf and a leaf has no children.

Items with no training events (cold, or seen only in valid/test) get a branch of their own: the
top-level token after the last training cluster, inside which they are numbered in catalogue
order (split into chunks of ``max_leaf`` if there are many). Nothing about valid/test events is
used.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, eigsh
from sklearn.cluster import KMeans

from lmrec.data.split import Split
from lmrec.indexing.base import LEVEL_NAMES, IndexConfig, ItemIndex

__all__ = [
    "Leaf",
    "collaborative_index",
    "collaborative_tree",
    "collaborative_unique_index",
    "cooccurrence_matrix",
    "spectral_split",
]

logger = logging.getLogger(__name__)

DEFAULT_CLUSTERS = 20
DEFAULT_MAX_LEAF = 100
# Below this many items a node's eigenvectors come from a dense solver (faster, exact).
_DENSE_LIMIT = 1500
# Regularisation strength as a fraction of the mean degree (see _spectral_embedding).
_REGULARISATION = 0.03


@dataclass(frozen=True)
class Leaf:
    """A leaf of the item tree: its path of cluster numbers and its items, in catalogue order."""

    path: tuple[int, ...]
    items: tuple[str, ...]


def cooccurrence_matrix(
    histories: Sequence[Sequence[int]], n_items: int, window: int = 0
) -> sp.csr_matrix:
    """Symmetric item-item counts: how many users have both items in their history.

    ``histories`` hold item numbers in time order. With ``window > 0`` a pair counts only when
    the two events are at most ``window`` positions apart (each user still counts once per pair).
    The diagonal is zero.
    """
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    for user, seq in enumerate(histories):
        arr = np.asarray(seq, dtype=np.int64)
        if window <= 0:
            rows.append(np.full(len(np.unique(arr)), user, dtype=np.int64))
            cols.append(np.unique(arr))
            continue
        pairs = [
            np.stack([arr[:-offset], arr[offset:]], axis=1)
            for offset in range(1, min(window, len(arr) - 1) + 1)
        ]
        if pairs:
            both = np.concatenate(pairs)
            both = np.concatenate([both, both[:, ::-1]])
            both = np.unique(both[both[:, 0] != both[:, 1]], axis=0)  # once per user
            rows.append(both[:, 0])
            cols.append(both[:, 1])
    if window <= 0:
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        incidence = sp.csr_matrix(
            (np.ones(len(r), dtype=np.float64), (r, c)), shape=(len(histories), n_items)
        )
        counts = (incidence.T @ incidence).tocsr()
    else:
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        counts = sp.csr_matrix((np.ones(len(r)), (r, c)), shape=(n_items, n_items))
    counts.setdiag(0)
    counts.eliminate_zeros()
    return counts


def _spectral_embedding(adj: sp.csr_matrix, k: int, seed: int) -> np.ndarray:
    """Top-``k`` eigenvectors of the regularised normalised adjacency, rows scaled to unit length.

    Regularisation (Amini et al. 2013) adds ``tau / n`` to every entry, ``tau`` a small fraction
    of the mean degree: it connects isolated items (one training event) so the graph has one
    component. On Beauty a small ``tau`` (0.03 of the mean degree) gives the most balanced tree:
    with ``tau`` = the mean degree, a giant weakly-connected core peels off a few items per level
    and the tree is 6 levels deep instead of 3.
    """
    n = adj.shape[0]
    degree = np.asarray(adj.sum(axis=1)).ravel()
    tau = max(_REGULARISATION * float(degree.mean()), 1e-9)
    inv_sqrt = 1.0 / np.sqrt(degree + tau)
    if n <= _DENSE_LIMIT:
        dense = adj.toarray() + tau / n
        normalised = dense * inv_sqrt[:, None] * inv_sqrt[None, :]
        _, vectors = scipy.linalg.eigh(normalised, subset_by_index=[n - k, n - 1])
    else:
        scaled = sp.diags(inv_sqrt) @ adj @ sp.diags(inv_sqrt)

        def matvec(x: np.ndarray) -> np.ndarray:
            x = np.asarray(x).reshape(n, -1)
            return scaled @ x + inv_sqrt[:, None] * ((tau / n) * (inv_sqrt @ x))

        operator = LinearOperator((n, n), matvec=matvec, matmat=matvec, dtype=np.float64)
        v0 = np.random.default_rng(seed).random(n)
        _, vectors = eigsh(operator, k=k, which="LA", v0=v0, tol=1e-6)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def spectral_split(adj: sp.csr_matrix, k: int, seed: int = 0) -> np.ndarray:
    """Cluster the nodes of a graph into at most ``k`` groups (normalised spectral clustering).

    Returns one label per node; labels are renumbered by decreasing group size (ties: the group
    whose first node comes first), so the numbering does not depend on k-means' internal order.
    Falls back to ``k`` contiguous chunks along the leading non-trivial eigenvector when
    k-means puts everything in one group.
    """
    n = adj.shape[0]
    k = max(2, min(k, n))
    if k >= n:
        return np.arange(n)
    embedding = _spectral_embedding(adj, k, seed)
    distinct = len(np.unique(embedding.round(8), axis=0))
    labels = np.zeros(n, dtype=np.int64)
    if distinct >= 2:
        kmeans = KMeans(n_clusters=min(k, distinct), n_init=3, random_state=seed)
        labels = kmeans.fit_predict(embedding)
    if len(np.unique(labels)) < 2:
        order = np.argsort(embedding[:, -2], kind="stable")
        labels = np.empty(n, dtype=np.int64)
        labels[order] = np.arange(n) * k // n
    groups = sorted(np.unique(labels), key=lambda g: (-np.sum(labels == g), np.argmax(labels == g)))
    renumber = {int(g): new for new, g in enumerate(groups)}
    return np.array([renumber[int(g)] for g in labels], dtype=np.int64)


def _split_tree(
    adj: sp.csr_matrix,
    members: np.ndarray,
    path: tuple[int, ...],
    clusters: int,
    max_leaf: int,
    max_depth: int,
    seed: int,
) -> list[tuple[tuple[int, ...], np.ndarray]]:
    if len(members) <= max_leaf or len(path) >= max_depth:
        return [(path, members)]
    labels = spectral_split(adj[members][:, members].tocsr(), clusters, seed)
    leaves = []
    for group in range(int(labels.max()) + 1):
        child = members[labels == group]
        leaves.extend(_split_tree(adj, child, (*path, group), clusters, max_leaf, max_depth, seed))
    return leaves


def _chunk_tree(
    members: np.ndarray, path: tuple[int, ...], clusters: int, max_leaf: int
) -> list[tuple[tuple[int, ...], np.ndarray]]:
    """Contiguous chunks of at most ``max_leaf`` items, ``clusters`` children per node."""
    if len(members) <= max_leaf:
        return [(path, members)]
    parts = min(clusters, math.ceil(len(members) / max_leaf))
    bounds = np.linspace(0, len(members), parts + 1).round().astype(int)
    leaves = []
    for number, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
        leaves.extend(_chunk_tree(members[lo:hi], (*path, number), clusters, max_leaf))
    return leaves


def _resolve(config: IndexConfig) -> tuple[int, int]:
    clusters = config.clusters or DEFAULT_CLUSTERS
    max_leaf = config.max_leaf or DEFAULT_MAX_LEAF
    if clusters < 2:
        raise ValueError("clusters must be at least 2 for the collaborative index")
    if max_leaf < 1:
        raise ValueError("max_leaf must be at least 1")
    return clusters, max_leaf


def collaborative_tree(split: Split, config: IndexConfig) -> list[Leaf]:
    """The leaves of the collaborative item tree, built from training events only.

    Training items are ordered as in the catalogue; each leaf lists its items in that order.
    Cold items (no training event) form the last top-level branch.
    """
    clusters, max_leaf = _resolve(config)
    catalogue = list(split.catalog)
    in_training = split.training_items()
    warm = [i for i in catalogue if i in in_training]
    cold = [i for i in catalogue if i not in in_training]
    number = {item: n for n, item in enumerate(warm)}
    histories = [
        [number[x.item] for x in events if x.item in number] for events in split.train.values()
    ]
    adj = cooccurrence_matrix(histories, len(warm), config.window)
    # The final token needs a level of its own, and so does the cold branch.
    max_depth = len(LEVEL_NAMES) - 1 - (1 if cold else 0)
    raw = (
        _split_tree(adj, np.arange(len(warm)), (), clusters, max_leaf, max_depth, config.seed)
        if warm
        else []
    )
    if cold:
        if len(raw) == 1 and raw[0][0] == ():
            raw = [((0,), raw[0][1])]  # all training items in one leaf: give it a branch
        top = 1 + max((p[0] for p, _ in raw), default=-1)
        cold_leaves = _chunk_tree(np.arange(len(cold)), (top,), clusters, max_leaf)
    else:
        cold_leaves = []
    leaves = [Leaf(path, tuple(warm[i] for i in sorted(members))) for path, members in raw]
    leaves += [Leaf(path, tuple(cold[i] for i in members)) for path, members in cold_leaves]
    return sorted(leaves, key=lambda leaf: leaf.path)


def _token(level: int, value: int) -> str:
    return f"<{LEVEL_NAMES[level]}_{value}>"


def _tree_codes(leaves: Sequence[Leaf], unique: bool) -> dict[str, tuple[str, ...]]:
    depth = max((len(leaf.path) for leaf in leaves), default=0)
    if depth + 1 > len(LEVEL_NAMES):
        raise ValueError(f"the item tree is {depth} levels deep; at most {len(LEVEL_NAMES) - 1}")
    codes: dict[str, tuple[str, ...]] = {}
    serial = 0
    for leaf in leaves:
        padded = (*leaf.path, *([0] * (depth - len(leaf.path))))
        prefix = tuple(_token(level, value) for level, value in enumerate(padded))
        for position, item in enumerate(leaf.items):
            last = f"<item_{serial}>" if unique else _token(depth, position)
            codes[item] = (*prefix, last)
            serial += 1
    return codes


def _build(split: Split, config: IndexConfig, unique: bool) -> ItemIndex:
    start = time.perf_counter()
    leaves = collaborative_tree(split, config)
    index = ItemIndex(_tree_codes(leaves, unique), config)
    logger.info(
        "%s index: %d items, %d leaves (largest %d items), code length %d, %d tokens, %.1fs",
        config.strategy,
        len(index),
        len(leaves),
        max((len(leaf.items) for leaf in leaves), default=0),
        max((len(index.code(i)) for i in index.items), default=0),
        len(index.vocabulary()),
        time.perf_counter() - start,
    )
    return index


def collaborative_index(split: Split, config: IndexConfig) -> ItemIndex:
    """Cluster path + the item's number within its leaf (training co-occurrence only)."""
    return _build(split, config, unique=False)


def collaborative_unique_index(split: Split, config: IndexConfig) -> ItemIndex:
    """Cluster path + one unique token per item (``<item_N>``, numbered leaf by leaf)."""
    return _build(split, config, unique=True)

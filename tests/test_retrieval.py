"""FAISS retrieval: exact top-N equals brute force, exclusions honoured, bad input refused."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from lmrec.recommenders.retrieval import EmbeddingIndex

ITEMS = ["a", "b", "c", "d"]
VECTORS = np.array([[1, 0], [0, 1], [1, 1], [-1, 0]], dtype=np.float32)


def test_exact_search_is_the_inner_product_ranking():
    index = EmbeddingIndex(ITEMS, VECTORS)
    found = index.search(np.array([[2.0, 1.0], [1.0, -0.5]]), n=3)
    assert found == [
        [("c", 3.0), ("a", 2.0), ("b", 1.0)],
        [("a", 1.0), ("c", 0.5), ("b", -0.5)],
    ]


def test_excluded_items_are_skipped_and_n_still_returned():
    index = EmbeddingIndex(ITEMS, VECTORS)
    found = index.search(np.array([[2.0, 1.0]]), n=2, exclude=[["c", "zzz"]])
    assert found == [[("a", 2.0), ("b", 1.0)]]


def test_hnsw_finds_the_exact_neighbours_of_a_small_catalogue():
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 16)).astype(np.float32)
    items = [f"i{r}" for r in range(2000)]
    queries = rng.normal(size=(50, 16)).astype(np.float32)
    exact = EmbeddingIndex(items, vectors).search(queries, n=10)
    approx = EmbeddingIndex(items, vectors, kind="hnsw").search(queries, n=10)
    hits = sum(
        len({i for i, _ in a} & {i for i, _ in e}) for a, e in zip(approx, exact, strict=True)
    )
    assert hits / 500 >= 0.95
    brute = np.argsort(-(queries @ vectors.T), axis=1)[:, :10]
    assert [[i for i, _ in row] for row in exact] == [[items[r] for r in row] for row in brute]


@pytest.mark.parametrize(
    "items, vectors, kind, message",
    [
        (["a", "b"], np.zeros((3, 2)), "exact", "one vector per item"),
        (["a", "a"], np.zeros((2, 2)), "exact", "unique"),
        (["a", "b"], np.zeros((2, 2)), "ivf", "unknown index kind"),
    ],
)
def test_bad_input_is_a_clear_error(items, vectors, kind, message):
    with pytest.raises(ValueError, match=message):
        EmbeddingIndex(items, vectors, kind=kind)


def test_query_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match=r"shape \(users, 2\)"):
        EmbeddingIndex(ITEMS, VECTORS).search(np.zeros((1, 3)), n=1)

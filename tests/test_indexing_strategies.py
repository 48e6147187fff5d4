"""Learned item indexing strategies: collaborative (spectral tree) and semantic (text RQ ids)."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest
import scipy.sparse as sp
from contract import check_recommender_contract, checkerboard_split

from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import IndexConfig, ItemIndex, build_index
from lmrec.indexing.collaborative import collaborative_tree, cooccurrence_matrix, spectral_split
from lmrec.indexing.semantic import residual_kmeans
from lmrec.text.encoders import encode_texts

GROUP_A = [f"a{i}" for i in range(8)]
GROUP_B = [f"b{i}" for i in range(8)]
EXTRA = ["x0", "x1"]
"""Catalogue items that no training history touches (cold)."""

COLLAB = IndexConfig(strategy="collaborative", clusters=2, max_leaf=4)
COLLAB_UNIQUE = replace(COLLAB, strategy="collaborative+unique")
SEMANTIC = IndexConfig(strategy="semantic", clusters=2, levels=2, embedding="tfidf")
ALL_CONFIGS = [COLLAB, COLLAB_UNIQUE, SEMANTIC]

NAMES = {
    **{a: f"matte red lipstick shade {n}" for n, a in enumerate(GROUP_A)},
    **{b: f"carbon tennis racket size {n}" for n, b in enumerate(GROUP_B)},
    "x0": "matte red lipstick shade 9",
    "x1": "carbon tennis racket size 9",
}


def _catalog() -> Catalog:
    return Catalog(Item(i, name=NAMES[i]) for i in [*GROUP_A, *GROUP_B, *EXTRA])


def group_split(last_two: str = "same", seed: int = 0) -> Split:
    """60 users, each buying 6 items of one group only (A users first, then B users).

    The first four events (training) never change with ``last_two``; the last two (valid,
    test) do: ``"same"`` keeps them in the user's group, ``"other"`` takes them from the other
    group, ``"extra"`` uses the items that only ever occur there (``x0``, ``x1``).
    """
    rng = random.Random(seed)
    events: list[Interaction] = []
    for u in range(60):
        own, other = (GROUP_A, GROUP_B) if u < 30 else (GROUP_B, GROUP_A)
        history = rng.sample(own, 6)
        tail_rng = random.Random(u)
        if last_two == "other":
            history[4:] = tail_rng.sample(other, 2)
        elif last_two == "extra":
            history[4:] = EXTRA
        for t, item in enumerate(history):
            events.append(Interaction(f"u{u}", item, float(t), position=len(events)))
    return leave_one_out_split(Dataset(events, _catalog(), name="groups"))


def _check_index(index: ItemIndex, split: Split) -> None:
    assert set(index.items) == set(split.catalog), "every catalogue item has a code"
    codes = [index.code(i) for i in index.items]
    assert len(set(codes)) == len(codes), "codes are unique"
    assert len({len(c) for c in codes}) == 1, "all codes have the same length"
    for item in index.items:
        assert index.item_of(index.code(item)) == item
    vocab = {t: n for n, t in enumerate(index.vocabulary())}
    trie = ItemTrie({i: [vocab[t] for t in index.code(i)] for i in index.items})
    assert len(trie) == len(index)  # ItemTrie refuses codes that are prefixes of others


@pytest.mark.parametrize("config", ALL_CONFIGS, ids=lambda c: c.strategy)
def test_codes_unique_prefix_free_and_saved(config, tmp_path):
    split = group_split()
    index = build_index(split, config)
    _check_index(index, split)
    index.save(tmp_path / "index.json")
    loaded = ItemIndex.load(tmp_path / "index.json")
    assert loaded.config == index.config
    assert {i: loaded.code(i) for i in loaded.items} == {i: index.code(i) for i in index.items}


def test_collaborative_groups_share_the_first_token():
    index = build_index(group_split(), COLLAB)
    first = {i: index.code(i)[0] for i in index.items}
    assert len({first[i] for i in GROUP_A}) == 1
    assert len({first[i] for i in GROUP_B}) == 1
    assert first["a0"] != first["b0"]
    # Cold items: a branch of their own, numbered in catalogue order.
    assert first["x0"] == first["x1"] not in {first["a0"], first["b0"]}
    last = len(index.code("x0")) - 1
    assert index.code("x0")[-1] == f"<{'abcdefgh'[last]}_0>"
    assert index.code("x1")[-1] == f"<{'abcdefgh'[last]}_1>"
    # Level-specific tokens: a, b, ... then the leaf number at the last level.
    assert [t[1] for t in index.code("a0")] == list("abcdefgh"[: last + 1])


def test_collaborative_leaves_respect_max_leaf():
    leaves = collaborative_tree(group_split(), COLLAB)
    assert max(len(leaf.items) for leaf in leaves) <= COLLAB.max_leaf
    assert sorted(i for leaf in leaves for i in leaf.items) == sorted(_catalog())


def test_collaborative_unique_last_tokens():
    split = group_split()
    plain = build_index(split, COLLAB)
    unique = build_index(split, COLLAB_UNIQUE)
    last = [unique.code(i)[-1] for i in unique.items]
    assert len(set(last)) == len(last)
    assert all(t.startswith("<item_") for t in last)
    # Same tree: the cluster path is shared with the plain collaborative index.
    assert all(unique.code(i)[:-1] == plain.code(i)[:-1] for i in split.catalog)


@pytest.mark.parametrize("strategy", ["collaborative", "collaborative+unique"])
def test_collaborative_uses_training_events_only(strategy):
    """Valid/test events changed (other group, items seen only in test): codes identical."""
    config = replace(COLLAB, strategy=strategy)
    base = group_split("same")
    for variant in ("other", "extra"):
        changed = group_split(variant)
        assert changed.train == base.train and changed.test != base.test
        a, b = build_index(base, config), build_index(changed, config)
        assert {i: a.code(i) for i in a.items} == {i: b.code(i) for i in b.items}


def test_semantic_codes_depend_only_on_the_catalogue():
    a = build_index(group_split("same", seed=0), SEMANTIC)
    b = build_index(group_split("extra", seed=5), SEMANTIC)
    empty = Split(train={}, valid={}, test={}, catalog=_catalog())
    c = build_index(empty, SEMANTIC)
    assert {i: a.code(i) for i in a.items} == {i: b.code(i) for i in b.items}
    assert {i: a.code(i) for i in a.items} == {i: c.code(i) for i in c.items}
    assert a.config.item_text.encoder == "tfidf" and a.config.embedding == ""


def test_semantic_similar_names_share_a_prefix():
    index = build_index(group_split(), SEMANTIC)
    lipsticks = {index.code(i)[0] for i in [*GROUP_A, "x0"]}
    rackets = {index.code(i)[0] for i in [*GROUP_B, "x1"]}
    assert len(lipsticks) == 1 and len(rackets) == 1 and lipsticks != rackets


def test_semantic_collisions_get_a_final_number():
    catalog = Catalog(
        [Item("p", name="blue pen"), Item("q", name="blue pen"), Item("r", name="green tea")]
    )
    config = IndexConfig(strategy="semantic", clusters=2, levels=1, embedding="tfidf")
    index = build_index(Split(train={}, valid={}, test={}, catalog=catalog), config)
    assert index.code("p")[:-1] == index.code("q")[:-1]
    assert [index.code(i)[-1] for i in "pqr"] == ["<b_0>", "<b_1>", "<b_0>"]
    assert {len(index.code(i)) for i in "pqr"} == {2}


def test_cooccurrence_window():
    full = cooccurrence_matrix([[0, 1, 2, 0]], 3).toarray()
    assert full.tolist() == [[0, 1, 1], [1, 0, 1], [1, 1, 0]]
    near = cooccurrence_matrix([[0, 1, 2], [0, 1, 2]], 3, window=1).toarray()
    assert near.tolist() == [[0, 2, 0], [2, 0, 2], [0, 2, 0]]


def test_spectral_split_separates_components():
    block = np.ones((4, 4)) - np.eye(4)
    adj = np.block([[block, np.zeros((4, 4))], [np.zeros((4, 4)), block]])
    labels = spectral_split(sp.csr_matrix(adj), 2)
    assert len(set(labels[:4])) == 1 and len(set(labels[4:])) == 1 and labels[0] != labels[4]


def test_residual_kmeans_shapes():
    vectors = np.eye(6)
    codes = residual_kmeans(vectors, levels=3, clusters=2)
    assert codes.shape == (6, 3) and codes.max() <= 1


def test_unknown_strategy_lists_learned_ones():
    with pytest.raises(ValueError, match="collaborative"):
        build_index(group_split(), IndexConfig(strategy="nope"))
    with pytest.raises(ValueError, match="embedding"):
        build_index(group_split(), replace(SEMANTIC, embedding="word2vec"))


def test_minilm_embeddings():
    # MiniLM is a default dependency: this runs everywhere lmrec is installed.
    vectors = encode_texts(["red lipstick", "red lip stick", "tennis racket"], "minilm")
    assert vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]


def test_lm_recommender_with_collaborative_ids(tmp_path):
    # Imported here so the index tests above do not depend on the model stack.
    from lm_fixtures import tiny_config

    from lmrec.recommenders.lm import LMRecommender

    config = replace(
        tiny_config(epochs=0), index=IndexConfig("collaborative", clusters=2, max_leaf=3)
    )
    check_recommender_contract(
        lambda: LMRecommender(config), checkerboard_split(), tmp_path, score_tolerance=1e-4
    )
    model = LMRecommender(config).fit(group_split())
    (recs,) = model.recommend([["a0", "a1"]], k=5)
    assert {r.item for r in recs} <= set(_catalog())

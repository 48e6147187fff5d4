"""The two-stage hybrid: retriever candidates, language-model scores, a fused ranking."""

from __future__ import annotations

import pytest
from contract import GROUP_A, check_recommender_contract, checkerboard_split
from lm_fixtures import tiny_config

from lmrec.baselines import ItemKNNRecommender
from lmrec.recommenders.hybrid import HybridConfig, HybridRecommender, fuse
from lmrec.recommenders.lm import LMRecommender


@pytest.fixture(scope="module")
def stages():
    split = checkerboard_split()
    return split, ItemKNNRecommender().fit(split), LMRecommender(tiny_config(epochs=0)).fit(split)


def test_contract(stages, tmp_path):
    split, knn, lm = stages
    check_recommender_contract(
        lambda: HybridRecommender(knn, lm, HybridConfig(candidates=50)),
        split,
        tmp_path,
        score_tolerance=1e-4,
    )


def test_only_candidates_of_the_retriever_are_returned(stages):
    split, knn, lm = stages
    hybrid = HybridRecommender(knn, lm, HybridConfig(candidates=3, weight=1.0)).fit(split)
    histories = [["A1"], ["B2", "B3"], []]
    proposed = knn.recommend(histories, k=3)
    for row, candidates in zip(hybrid.recommend(histories, k=10), proposed, strict=True):
        assert {s.item for s in row} == {s.item for s in candidates}
        assert len(row) == 3


def test_weight_zero_keeps_the_retriever_order_and_one_follows_the_lm(stages):
    split, knn, lm = stages
    history = [["A1", "A2"]]
    retriever_only = HybridRecommender(knn, lm, HybridConfig(candidates=6, weight=0.0))
    assert [s.item for s in retriever_only.fit(split).recommend(history, k=6)[0]] == [
        s.item for s in knn.recommend(history, k=6)[0]
    ]
    lm_only = HybridRecommender(knn, lm, HybridConfig(candidates=6, weight=1.0)).fit(split)
    candidates = [s.item for s in knn.recommend(history, k=6)[0]]
    (lm_scores,) = lm.score(history, [candidates])
    by_lm = [c for _, c in sorted(zip(lm_scores, candidates, strict=True), key=lambda t: -t[0])]
    assert [s.item for s in lm_only.recommend(history, k=6)[0]] == by_lm


def test_fit_tunes_the_weight_on_validation(stages):
    split, knn, lm = stages
    hybrid = HybridRecommender(knn, lm, HybridConfig(candidates=10)).fit(split)
    assert set(hybrid.tuning) == set(HybridConfig().weight_grid)
    assert hybrid.weight in hybrid.tuning
    assert hybrid.tuning[hybrid.weight] == max(hybrid.tuning.values())
    (row,) = hybrid.recommend([list(GROUP_A[:2])], k=3)
    assert all(s.item in split.catalog for s in row)


def test_fuse_mixes_standardised_scores():
    # z(retrieval [3, 2, 1]) = [1.22, 0, -1.22]; z(lm [0, 1, 5]) = [-0.93, -0.46, 1.39]:
    # at weight 0.5, a 0.149, b -0.231, c 0.082.
    candidates, retrieval, lm = [["a", "b", "c"]], [[3.0, 2.0, 1.0]], [[0.0, 1.0, 5.0]]
    (half,) = fuse(candidates, retrieval, lm, weight=0.5, k=3)
    assert [s.item for s in half] == ["a", "c", "b"]
    assert [s.score for s in half] == pytest.approx([0.14946, 0.08199, -0.23146], abs=1e-5)
    assert [s.item for s in fuse(candidates, retrieval, lm, weight=0.0, k=3)[0]] == ["a", "b", "c"]
    assert [s.item for s in fuse(candidates, retrieval, lm, weight=1.0, k=2)[0]] == ["c", "b"]
    # A list whose scores are all equal keeps its order; an empty list stays empty.
    assert [s.item for s in fuse([["x", "y"]], [[1, 1]], [[2, 2]], 0.5, 2)[0]] == ["x", "y"]
    assert fuse([[]], [[]], [[]], 0.5, 3) == [[]]

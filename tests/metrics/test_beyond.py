"""Beyond-accuracy metrics and MMR re-ranking, against hand-computed values."""

from __future__ import annotations

import pytest

from lmrec.metrics.beyond import (
    catalog_coverage,
    category_distance,
    intra_list_diversity,
    mean_popularity_rank,
    popularity_ranks,
)
from lmrec.recommenders.base import Scored
from lmrec.recommenders.rerank import mmr_rerank

CATEGORIES = {"a1": "A", "a2": "A", "a3": "A", "b1": "B", "b2": "B"}


def test_coverage():
    assert catalog_coverage([["a1", "a2"], ["a2", "b1"]], 10) == pytest.approx(0.3)
    assert catalog_coverage([], 5) == 0.0
    with pytest.raises(ValueError):
        catalog_coverage([["a1"]], 0)


def test_intra_list_diversity_by_category():
    distance = category_distance(CATEGORIES)
    # list 1: pairs (a1,a2)=0 (a1,b1)=1 (a2,b1)=1 -> 2/3; list 2: one pair (b1,b2)=0 -> 0;
    # list 3 has one item and no pairs, so it is left out of the mean.
    value = intra_list_diversity([["a1", "a2", "b1"], ["b1", "b2"], ["a3"]], distance)
    assert value == pytest.approx((2 / 3 + 0) / 2)
    assert distance("a1", "unknown") == 1.0


def test_popularity_ranks_and_mean_rank():
    ranks = popularity_ranks({"x": 5, "y": 9, "z": 5, "w": 1})
    assert ranks == {"y": 1, "x": 2, "z": 2, "w": 4}
    # (1 + 2 + 5) / 3 with the unknown item at rank 5
    assert mean_popularity_rank([["y", "x"], ["new"]], ranks, unknown_rank=5) == pytest.approx(
        8 / 3
    )


def test_mmr_zero_diversity_keeps_order_and_full_diversity_spreads_categories():
    ranked = [Scored("a1", 0.9), Scored("a2", 0.8), Scored("a3", 0.7), Scored("b1", 0.6)]
    same = lambda a, b: 1.0 - category_distance(CATEGORIES)(a, b)  # noqa: E731
    assert mmr_rerank(ranked, same, k=4, diversity=0.0) == ranked
    # diversity 0.5: after a1 (relevance 1), a2 gains 0.5*0.667-0.5*1 < b1's 0.5*0-0.5*0 = 0
    picked = mmr_rerank(ranked, same, k=2, diversity=0.5)
    assert [s.item for s in picked] == ["a1", "b1"]
    assert picked[1].score == 0.6
    with pytest.raises(ValueError):
        mmr_rerank(ranked, same, k=2, diversity=1.5)

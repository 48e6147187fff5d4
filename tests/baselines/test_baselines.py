"""The shared contract for every baseline here and ALS; popularity and item-kNN answers
worked out by hand."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from contract import (
    COLD_ITEM,
    check_recommender_contract,
    check_recommends_the_users_group,
    checkerboard_split,
    random_split,
)

from lmrec.baselines import ALSRecommender, ItemKNNRecommender, PopularityRecommender
from lmrec.recommenders.base import Scored

# Training counts (see checkerboard_split): ties in first-appearance order, group B first.
POPULARITY_ORDER = ["B3", "A3", "A4", "B2", "B4", "A1", "A2", "A5", "B1", "B5", COLD_ITEM]
POPULARITY_COUNTS = [3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 0]

FACTORIES = {
    "popularity": PopularityRecommender,
    "item-knn": ItemKNNRecommender,
    "item-knn-pruned": lambda: ItemKNNRecommender(neighbors=2, shrink=1.0, recency_decay=0.5),
    # Two factors: the checkerboard has two groups of tastes (test_als.small_als).
    "als-binary": lambda: ALSRecommender(factors=2, alpha=10.0, regularization=0.1, threads=1),
    "als-counts": lambda: ALSRecommender(
        factors=2, alpha=10.0, regularization=0.1, threads=1, binary=False
    ),
}


@pytest.mark.parametrize("factory", FACTORIES.values(), ids=FACTORIES.keys())
@pytest.mark.parametrize("make_split", [checkerboard_split, random_split])
def test_contract(factory, make_split, tmp_path: Path) -> None:  # noqa: ANN001
    check_recommender_contract(factory, make_split(), tmp_path)


def test_popularity_order_is_exact() -> None:
    model = PopularityRecommender().fit(checkerboard_split())
    (recs,) = model.recommend([[]], k=20)
    assert [r.item for r in recs] == POPULARITY_ORDER
    assert [r.score for r in recs] == POPULARITY_COUNTS


def test_popularity_excludes_history_and_ignores_unknown_items() -> None:
    model = PopularityRecommender().fit(checkerboard_split())
    (recs,) = model.recommend([["B3", "no-such-item", "A4"]], k=3)
    assert recs == [Scored("A3", 3.0), Scored("B2", 2.0), Scored("B4", 2.0)]
    (recs,) = model.recommend([["B3", "A4"]], k=3, exclude_seen=False)
    assert [r.item for r in recs] == POPULARITY_ORDER[:3]


def test_popularity_saves_json_and_npz_only(tmp_path: Path) -> None:
    PopularityRecommender().fit(checkerboard_split()).save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["arrays.npz", "config.json"]
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["items"][-1] == COLD_ITEM


def test_item_knn_hand_computed_scores() -> None:
    # A1 was trained on by a0 and a3. cos(A1, A2) = cos(A1, A5) = 1 / sqrt(2 * 2) = 0.5 and
    # cos(A1, A3) = cos(A1, A4) = 1 / sqrt(2 * 3); ties go to the more popular item, and once
    # the A items run out the most popular remaining item (B3) fills in with score 0.
    model = ItemKNNRecommender().fit(checkerboard_split())
    (recs,) = model.recommend([["A1"]], k=5)
    assert [r.item for r in recs] == ["A2", "A5", "A3", "A4", "B3"]
    assert [r.score for r in recs] == pytest.approx(
        [0.5, 0.5, 1 / math.sqrt(6), 1 / math.sqrt(6), 0]
    )


def test_item_knn_scores_given_candidates_in_their_order() -> None:
    # The scores of test_item_knn_hand_computed_scores, for a candidate list in another order;
    # B3 and the history's own A1 have no similarity to A1.
    model = ItemKNNRecommender().fit(checkerboard_split())
    scores = model.score([["A1"], ["A1", "A2"]], [["B3", "A4", "A1", "A2"], ["A5"]])
    assert scores[0] == pytest.approx([0.0, 1 / math.sqrt(6), 0.0, 0.5])
    # A5 to A1: 0.5 (users a2, a3 and a0, a3); A5 to A2: 0 (no user has both); as recommend().
    assert scores[1] == [0.5]
    (recs,) = model.recommend([["A1", "A2"]], k=11, exclude_seen=False)
    assert next(r.score for r in recs if r.item == "A5") == 0.5
    with pytest.raises(KeyError, match="not in the catalogue: NOPE"):
        model.score([["A1"]], [["A2", "NOPE"]])
    with pytest.raises(ValueError, match="1 histories but 2 candidate lists"):
        model.score([["A1"]], [["A2"], ["A3"]])


def test_item_knn_recommends_within_the_group() -> None:
    split = checkerboard_split()
    tops = check_recommends_the_users_group(ItemKNNRecommender().fit(split), split)
    assert all(top.score > 0 for top in tops)


def test_item_knn_recency_decay_reorders() -> None:
    split = checkerboard_split()
    history = ["A2", "A4"]  # A4 is the most recent
    # Equal weights: A3 = 2/sqrt(6) + 2/3, A1 = 1/2 + 1/sqrt(6), A5 = 0 + 2/sqrt(6).
    (flat,) = ItemKNNRecommender().fit(split).recommend([history], k=3)
    assert [r.item for r in flat] == ["A3", "A1", "A5"]
    assert flat[0].score == pytest.approx(2 / math.sqrt(6) + 2 / 3)
    # A2 weighted 0.1: A5 = 2/sqrt(6), A3 = 0.2/sqrt(6) + 2/3, A1 = 0.05 + 1/sqrt(6).
    (recent,) = ItemKNNRecommender(recency_decay=0.1).fit(split).recommend([history], k=3)
    assert [r.item for r in recent] == ["A5", "A3", "A1"]
    assert [r.score for r in recent] == pytest.approx(
        [2 / math.sqrt(6), 0.2 / math.sqrt(6) + 2 / 3, 0.05 + 1 / math.sqrt(6)]
    )


def test_item_knn_neighbors_and_shrink() -> None:
    split = checkerboard_split()
    # One neighbour per item: A1's is A2 (tied with A5 at 0.5, catalogue order wins).
    (recs,) = ItemKNNRecommender(neighbors=1).fit(split).recommend([["A1"]], k=2)
    assert recs == [Scored("A2", 0.5), Scored("B3", 0.0)]
    # shrink = 1: cos(A1, A2) = 1 / (sqrt(2 * 2) + 1).
    (recs,) = ItemKNNRecommender(shrink=1.0).fit(split).recommend([["A1"]], k=1)
    assert recs[0].item == "A2"
    assert recs[0].score == pytest.approx(1 / 3)


def test_item_knn_cold_and_unknown_histories_fall_back_to_popularity() -> None:
    model = ItemKNNRecommender().fit(checkerboard_split())
    recs = model.recommend([[], ["no-such-item"], [COLD_ITEM]], k=4)
    assert [r.item for r in recs[0]] == POPULARITY_ORDER[:4]
    assert [r.item for r in recs[1]] == POPULARITY_ORDER[:4]
    assert [r.item for r in recs[2]] == POPULARITY_ORDER[:4]
    assert all(r.score == 0.0 for r in recs[0])


@pytest.mark.parametrize(
    "kwargs",
    [{"neighbors": 0}, {"shrink": -1.0}, {"recency_decay": 0.0}, {"recency_decay": 1.5}],
)
def test_item_knn_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ItemKNNRecommender(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("factory", [PopularityRecommender, ItemKNNRecommender, ALSRecommender])
def test_unfitted_model_says_so(factory) -> None:  # noqa: ANN001
    with pytest.raises(RuntimeError, match="not fitted"):
        factory().recommend([["A1"]], k=1)


def test_load_refuses_another_model_type(tmp_path: Path) -> None:
    PopularityRecommender().fit(checkerboard_split()).save(tmp_path / "pop")
    with pytest.raises(ValueError, match="PopularityRecommender"):
        ItemKNNRecommender.load(tmp_path / "pop")

"""Ranking metrics against values computed by hand."""

from __future__ import annotations

import math

import pytest

from lmrec.metrics import hit_rate_at_k, mrr, ndcg_at_k, ranking_metrics, recall_at_k

RANKING = ["a", "b", "c", "d", "e"]


def test_target_at_rank_three() -> None:
    # DCG = 1 / log2(3 + 1) = 1 / 2; the ideal DCG of one relevant item is 1.
    assert ndcg_at_k(RANKING, "c", 5) == 0.5
    assert ndcg_at_k(RANKING, "c", 3) == 0.5
    assert ndcg_at_k(RANKING, "c", 2) == 0.0
    assert hit_rate_at_k(RANKING, "c", 3) == 1.0
    assert hit_rate_at_k(RANKING, "c", 2) == 0.0
    assert recall_at_k(RANKING, "c", 3) == 1.0
    assert mrr(RANKING, "c") == 1 / 3
    assert mrr(RANKING, "c", k=3) == 1 / 3
    assert mrr(RANKING, "c", k=2) == 0.0


def test_target_first_is_perfect() -> None:
    assert ndcg_at_k(RANKING, "a", 1) == 1.0
    assert hit_rate_at_k(RANKING, "a", 1) == 1.0
    assert mrr(RANKING, "a") == 1.0


def test_target_absent_scores_zero() -> None:
    assert ndcg_at_k(RANKING, "z", 5) == 0.0
    assert hit_rate_at_k(RANKING, "z", 5) == 0.0
    assert recall_at_k(RANKING, "z", 5) == 0.0
    assert mrr(RANKING, "z") == 0.0


def test_two_relevant_items() -> None:
    relevant = {"a", "c"}
    # DCG = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1/log2(2) + 1/log2(3) = 1.6309297535714575.
    assert ndcg_at_k(RANKING, relevant, 5) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert ndcg_at_k(RANKING, relevant, 5) == pytest.approx(0.9197207891481876)
    # At k = 1 the ideal list holds min(1, 2) = 1 relevant item, and "a" is first.
    assert ndcg_at_k(RANKING, relevant, 1) == 1.0
    assert recall_at_k(RANKING, relevant, 1) == 0.5
    assert recall_at_k(RANKING, relevant, 3) == 1.0
    assert hit_rate_at_k(RANKING, relevant, 1) == 1.0
    assert mrr(RANKING, ["c", "a"]) == 1.0


def test_ideal_dcg_is_cut_at_k() -> None:
    # Three relevant items, k = 2, both top slots relevant: as good as it gets.
    assert ndcg_at_k(RANKING, {"a", "b", "e"}, 2) == 1.0
    assert recall_at_k(RANKING, {"a", "b", "e"}, 2) == pytest.approx(2 / 3)


def test_one_relevant_of_two_found() -> None:
    # Relevant "b" (rank 2) and "z" (absent): DCG = 1/log2(3); ideal = 1 + 1/log2(3).
    expected = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(RANKING, {"b", "z"}, 5) == pytest.approx(expected)
    assert recall_at_k(RANKING, {"b", "z"}, 5) == 0.5


def test_empty_ranking() -> None:
    assert ndcg_at_k([], "a", 10) == 0.0
    assert hit_rate_at_k([], "a", 10) == 0.0
    assert recall_at_k([], {"a", "b"}, 10) == 0.0
    assert mrr([], "a") == 0.0


def test_k_larger_than_the_list() -> None:
    assert ndcg_at_k(["a", "b"], "b", 10) == pytest.approx(1 / math.log2(3))
    assert hit_rate_at_k(["a", "b"], "b", 10) == 1.0
    assert mrr(["a", "b"], "b", k=10) == 0.5


def test_single_id_is_not_split_into_characters() -> None:
    assert hit_rate_at_k(["a", "b"], "ab", 2) == 0.0
    assert hit_rate_at_k(["ab"], "ab", 1) == 1.0


def test_tuple_ranking_is_accepted() -> None:
    assert ndcg_at_k(("x", "y", "c"), "c", 3) == 0.5


@pytest.mark.parametrize(
    "metric", [hit_rate_at_k, ndcg_at_k, recall_at_k, lambda r, t, k: mrr(r, t, k=k)]
)
@pytest.mark.parametrize("k", [0, -1, 1.5, True])
def test_invalid_k_is_an_error(metric, k) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="k must be an integer >= 1"):
        metric(RANKING, "a", k)


@pytest.mark.parametrize("metric", [hit_rate_at_k, ndcg_at_k, recall_at_k])
def test_duplicates_in_ranking_are_an_error(metric) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="repeats item 'b'"):
        metric(["a", "b", "c", "b"], "a", 3)
    with pytest.raises(ValueError, match="repeats"):
        mrr(["a", "a"], "a")


def test_empty_relevant_set_is_an_error() -> None:
    with pytest.raises(ValueError, match="relevant set is empty"):
        ndcg_at_k(RANKING, set(), 5)


def test_ranking_metrics_averages_over_users() -> None:
    rankings = [["t", "x", "y"], ["x", "y", "t"], ["x", "y", "z"]]
    targets = ["t", "t", "t"]  # ranks 1, 3, absent
    result = ranking_metrics(rankings, targets, ks=(5, 1))
    assert list(result) == ["HR@1", "HR@5", "NDCG@1", "NDCG@5", "MRR"]
    assert result["HR@1"] == pytest.approx(1 / 3)
    assert result["HR@5"] == pytest.approx(2 / 3)
    assert result["NDCG@1"] == pytest.approx(1 / 3)
    assert result["NDCG@5"] == 0.5  # (1 + 1/2 + 0) / 3
    assert result["MRR"] == pytest.approx(4 / 9)  # (1 + 1/3 + 0) / 3


def test_ranking_metrics_default_keys_and_recall() -> None:
    result = ranking_metrics([["a", "b"]], [{"a", "z"}], include_recall=True)
    assert list(result) == [
        "HR@1", "HR@5", "HR@10", "HR@20",
        "NDCG@1", "NDCG@5", "NDCG@10", "NDCG@20",
        "MRR",
        "Recall@1", "Recall@5", "Recall@10", "Recall@20",
    ]  # fmt: skip
    assert result["Recall@5"] == 0.5
    assert result["HR@1"] == 1.0
    # Ideal DCG@5 over min(5, 2) = 2 relevant items: 1 + 1/log2(3).
    assert result["NDCG@5"] == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ranking_metrics_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="pair up"):
        ranking_metrics([["a"]], ["a", "b"])
    with pytest.raises(ValueError, match="zero users"):
        ranking_metrics([], [])
    with pytest.raises(ValueError, match="ks is empty"):
        ranking_metrics([["a"]], ["a"], ks=())
    with pytest.raises(ValueError, match="k must be"):
        ranking_metrics([["a"]], ["a"], ks=(0, 5))

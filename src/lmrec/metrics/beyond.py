"""Beyond accuracy: how much of the catalogue a recommender uses, how varied each list is,
and how strongly it leans on popular items. Pure functions of recommendation lists."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import combinations


def catalog_coverage(rankings: Sequence[Sequence[str]], catalog_size: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    if catalog_size < 1:
        raise ValueError("catalog_size must be at least 1")
    return len({item for ranking in rankings for item in ranking}) / catalog_size


def intra_list_diversity(
    rankings: Sequence[Sequence[str]], distance: Callable[[str, str], float]
) -> float:
    """Mean pairwise distance between the items of a list, averaged over lists with at least
    two items (e.g. ``distance = 1 if the categories differ else 0``)."""
    scores = []
    for ranking in rankings:
        pairs = list(combinations(ranking, 2))
        if pairs:
            scores.append(sum(distance(a, b) for a, b in pairs) / len(pairs))
    return sum(scores) / len(scores) if scores else 0.0


def category_distance(categories: Mapping[str, str | None]) -> Callable[[str, str], float]:
    """1 when two items' categories differ (or either is unknown), else 0."""

    def distance(a: str, b: str) -> float:
        ca, cb = categories.get(a), categories.get(b)
        return 0.0 if ca is not None and ca == cb else 1.0

    return distance


def popularity_ranks(counts: Mapping[str, int]) -> dict[str, int]:
    """Rank of each item by training count (1 = most popular; ties share the best rank)."""
    ordered = sorted(counts.values(), reverse=True)
    first_rank: dict[int, int] = {}
    for rank, count in enumerate(ordered, 1):
        first_rank.setdefault(count, rank)
    return {item: first_rank[count] for item, count in counts.items()}


def mean_popularity_rank(
    rankings: Sequence[Sequence[str]], ranks: Mapping[str, int], unknown_rank: int
) -> float:
    """Mean popularity rank of recommended items (lower = more popular items recommended).
    Items without a rank (never in training) count as ``unknown_rank``."""
    values = [ranks.get(item, unknown_rank) for ranking in rankings for item in ranking]
    return sum(values) / len(values) if values else 0.0

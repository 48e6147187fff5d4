"""Top-K ranking metrics: pure functions of a ranked list of item ids and the relevant ids.

Relevance is binary. ``relevant`` is either one item id (the leave-one-out target) or a
collection of ids. A ranking with a repeated item is an error, not something to score: a
recommender that repeats itself is broken, and counting the repeat twice would inflate DCG.

References: Järvelin & Kekäläinen (2002) for (N)DCG with the log2(rank + 1) discount; the ideal
DCG puts ``min(k, |relevant|)`` relevant items at the top, so NDCG@k lies in [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Sequence

__all__ = [
    "hit_rate_at_k",
    "mrr",
    "ndcg_at_k",
    "ranking_metrics",
    "recall_at_k",
]

Relevant = str | Collection[str]
"""One relevant item id, or a collection of them."""


def hit_rate_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """1.0 if any relevant item is among the first ``k`` of ``ranking``, else 0.0."""
    ranks = _relevant_ranks(ranking, relevant)
    return _hit(ranks, check_k(k))


def recall_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """The share of relevant items that are among the first ``k`` of ``ranking``.

    With a single relevant item this equals :func:`hit_rate_at_k`.
    """
    ranks = _relevant_ranks(ranking, relevant)
    return _recall(ranks, check_k(k), len(_as_set(relevant)))


def ndcg_at_k(ranking: Sequence[str], relevant: Relevant, k: int) -> float:
    """Normalised discounted cumulative gain at ``k`` with binary relevance.

    ``DCG@k = sum(1 / log2(rank + 1))`` over relevant items at 1-based ranks ``<= k``; it is
    divided by the DCG of an ideal ranking, which has ``min(k, |relevant|)`` relevant items first.
    A single target at rank 3 gives ``1 / log2(4) = 0.5``.
    """
    ranks = _relevant_ranks(ranking, relevant)
    return _ndcg(ranks, check_k(k), len(_as_set(relevant)))


def mrr(ranking: Sequence[str], relevant: Relevant, k: int | None = None) -> float:
    """Reciprocal rank of the first relevant item (0.0 if none, or none within ``k``).

    Averaged over users by :func:`ranking_metrics` this is the mean reciprocal rank.
    """
    ranks = _relevant_ranks(ranking, relevant)
    return _reciprocal_rank(ranks, None if k is None else check_k(k))


def ranking_metrics(
    rankings: Sequence[Sequence[str]],
    targets: Sequence[Relevant],
    ks: Iterable[int] = (1, 5, 10, 20),
    include_recall: bool = False,
) -> dict[str, float]:
    """Average the metrics over users: ``rankings[i]`` is scored against ``targets[i]``.

    Returns ``HR@k`` and ``NDCG@k`` for each ``k`` in ascending order, then ``MRR`` (over the
    whole ranking given), and ``Recall@k`` after them when ``include_recall`` is set (with one
    target per user it equals ``HR@k``, so it is left out by default).
    """
    if len(rankings) != len(targets):
        raise ValueError(
            f"got {len(rankings)} rankings but {len(targets)} targets; they must pair up"
        )
    if not rankings:
        raise ValueError("no rankings to average: metrics over zero users are undefined")
    cutoffs = sorted({check_k(k) for k in ks})
    if not cutoffs:
        raise ValueError("ks is empty: give at least one cutoff, e.g. ks=(5, 10)")

    totals: dict[str, float] = {}
    for name in _metric_names(cutoffs, include_recall):
        totals[name] = 0.0
    for ranking, target in zip(rankings, targets, strict=True):
        ranks = _relevant_ranks(ranking, target)
        n_relevant = len(_as_set(target))
        for k in cutoffs:
            totals[f"HR@{k}"] += _hit(ranks, k)
            totals[f"NDCG@{k}"] += _ndcg(ranks, k, n_relevant)
            if include_recall:
                totals[f"Recall@{k}"] += _recall(ranks, k, n_relevant)
        totals["MRR"] += _reciprocal_rank(ranks, None)
    n = len(rankings)
    return {name: total / n for name, total in totals.items()}


def _metric_names(cutoffs: Sequence[int], include_recall: bool) -> list[str]:
    names = [f"HR@{k}" for k in cutoffs] + [f"NDCG@{k}" for k in cutoffs] + ["MRR"]
    if include_recall:
        names += [f"Recall@{k}" for k in cutoffs]
    return names


def check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    return k


def _as_set(relevant: Relevant) -> set[str]:
    # A str is itself a Collection[str]; treat it as one item id, never as its characters.
    if isinstance(relevant, str):
        return {relevant}
    items = set(relevant)
    if not items:
        raise ValueError("the relevant set is empty: there is nothing to find")
    return items


def _relevant_ranks(ranking: Sequence[str], relevant: Relevant) -> list[int]:
    """1-based ranks at which relevant items occur in ``ranking``, ascending."""
    targets = _as_set(relevant)
    if len(set(ranking)) != len(ranking):
        seen: set[str] = set()
        for item in ranking:
            if item in seen:
                raise ValueError(f"the ranking repeats item {item!r}; a ranking must be unique")
            seen.add(item)
    return [rank for rank, item in enumerate(ranking, start=1) if item in targets]


def _hit(ranks: Sequence[int], k: int) -> float:
    return 1.0 if ranks and ranks[0] <= k else 0.0


def _recall(ranks: Sequence[int], k: int, n_relevant: int) -> float:
    return sum(1 for r in ranks if r <= k) / n_relevant


def _ndcg(ranks: Sequence[int], k: int, n_relevant: int) -> float:
    dcg = sum(1.0 / math.log2(r + 1) for r in ranks if r <= k)
    if dcg == 0.0:
        return 0.0
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(k, n_relevant) + 1))
    return dcg / ideal


def _reciprocal_rank(ranks: Sequence[int], k: int | None) -> float:
    if not ranks or (k is not None and ranks[0] > k):
        return 0.0
    return 1.0 / ranks[0]

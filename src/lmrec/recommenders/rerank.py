"""Maximal marginal relevance: trade a little accuracy for less look-alike lists."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from lmrec.recommenders.base import Scored


def mmr_rerank(
    ranked: Sequence[Scored],
    similarity: Callable[[str, str], float],
    k: int,
    diversity: float = 0.3,
) -> list[Scored]:
    """Greedy MMR (Carbonell & Goldstein 1998) over a scored candidate list.

    Each step picks the candidate maximising ``(1 - diversity) * relevance - diversity *
    max similarity to the items already picked``; relevance is the candidates' score rescaled
    to [0, 1]. ``diversity = 0`` keeps the original order. Returned scores are the originals.
    """
    if not 0.0 <= diversity <= 1.0:
        raise ValueError("diversity must be between 0 and 1")
    if not ranked:
        return []
    scores = [s.score for s in ranked]
    low, high = min(scores), max(scores)
    span = high - low
    relevance = [(s - low) / span if span > 0 else 1.0 for s in scores]
    left = list(range(len(ranked)))
    picked: list[int] = []
    while left and len(picked) < k:

        def gain(i: int) -> float:
            penalty = max((similarity(ranked[i].item, ranked[j].item) for j in picked), default=0)
            return (1 - diversity) * relevance[i] - diversity * penalty

        best = max(left, key=lambda i: (gain(i), -i))
        picked.append(best)
        left.remove(best)
    return [ranked[i] for i in picked]

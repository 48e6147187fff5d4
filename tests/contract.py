"""The shared Recommender contract test, and tiny data whose right answers are known.

Not a test module itself: every recommender's tests call :func:`check_recommender_contract`
with a factory for an unfitted model, e.g.::

    def test_contract(tmp_path):
        check_recommender_contract(PopularityRecommender, checkerboard_split(), tmp_path)
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.recommenders.base import Recommender, Scored

__all__ = [
    "COLD_ITEM",
    "GROUP_A",
    "GROUP_B",
    "all_histories",
    "check_recommender_contract",
    "check_recommends_the_users_group",
    "checkerboard_split",
    "random_split",
]

GROUP_A = ("A1", "A2", "A3", "A4", "A5")
GROUP_B = ("B1", "B2", "B3", "B4", "B5")
COLD_ITEM = "Z"
"""A catalogue item that no user ever touched."""

UNKNOWN_ITEM = "__not_in_the_catalogue__"


def checkerboard_split() -> Split:
    """Two groups of users with disjoint tastes, plus one item nobody touched.

    Every user has five events, so leave-one-out keeps the first three in training. User
    ``g<i>`` of a group sees that group's items rotated by ``i``. The log lists group B first
    (users ``b0``-``b2``), then group A (``a0``-``a3``), so first appearance in the training
    data differs from item-id order::

        user  history (time order)  training   valid  test
        b0    B1 B2 B3 B4 B5        B1 B2 B3   B4     B5
        b1    B2 B3 B4 B5 B1        B2 B3 B4   B5     B1
        b2    B3 B4 B5 B1 B2        B3 B4 B5   B1     B2
        a0    A1 A2 A3 A4 A5        A1 A2 A3   A4     A5
        a1    A2 A3 A4 A5 A1        A2 A3 A4   A5     A1
        a2    A3 A4 A5 A1 A2        A3 A4 A5   A1     A2
        a3    A4 A5 A1 A2 A3        A4 A5 A1   A2     A3

    Training counts: B3 A3 A4 = 3; B2 B4 A1 A2 A5 = 2; B1 B5 = 1; Z = 0.
    """
    interactions: list[Interaction] = []
    groups = [("b", GROUP_B, 3), ("a", GROUP_A, 4)]
    for prefix, items, n_users in groups:
        for u in range(n_users):
            rotated = items[u:] + items[:u]
            for t, item in enumerate(rotated):
                interactions.append(
                    Interaction(
                        user=f"{prefix}{u}",
                        item=item,
                        timestamp=float(t),
                        position=len(interactions),
                    )
                )
    catalog = Catalog(Item(id=i, name=f"item {i}") for i in (*GROUP_A, *GROUP_B, COLD_ITEM))
    return leave_one_out_split(Dataset(interactions, catalog, name="checkerboard"))


def all_histories(split: Split, stage: str = "test") -> list[list[str]]:
    """One history per user: what the model may see for ``stage``, or all training if no target."""
    targets = split.targets(stage)
    return [
        [x.item for x in split.history(user, stage)] if user in targets else split.train_items(user)
        for user in split.train
    ]


def check_recommends_the_users_group(model: Recommender, split: Split) -> list[Scored]:
    """On the checkerboard, each user's top item is the one item of the user's group not yet
    seen (the test target). Returns the top items, for further checks."""
    tops = [recs[0] for recs in model.recommend(all_histories(split), k=1)]
    for user, top in zip(split.train, tops, strict=True):
        group = GROUP_A if user.startswith("a") else GROUP_B
        assert top.item in group, (user, top)
        assert top.item == split.test[user].item, (user, top)
    return tops


def check_recommender_contract(
    make_recommender: Callable[[], Recommender],
    split: Split,
    tmp_path: Path,
    k: int = 5,
    score_tolerance: float = 0.0,
) -> None:
    """Fit a fresh recommender on ``split`` and check everything the contract promises.

    ``score_tolerance`` is the absolute difference allowed between scores before and after
    save/load (0.0: identical); items must always be identical.
    """
    catalog = set(split.catalog)
    model = make_recommender()
    assert isinstance(model, Recommender)
    assert model.fit(split) is model, "fit must return the fitted recommender itself"

    histories = all_histories(split)
    for exclude_seen in (True, False):
        results = model.recommend(histories, k=k, exclude_seen=exclude_seen)
        assert len(results) == len(histories), "one list per history"
        for history, recs in zip(histories, results, strict=True):
            _check_list(recs, history, catalog, k, exclude_seen)

    # A new user, a history with items the model never heard of, a history of tuples.
    known = histories[0][:2]
    odd_histories: list[Sequence[str]] = [[], [UNKNOWN_ITEM], (UNKNOWN_ITEM, *known, UNKNOWN_ITEM)]
    odd_results = model.recommend(odd_histories, k=k)
    assert len(odd_results) == len(odd_histories)
    for history, recs in zip(odd_histories, odd_results, strict=True):
        _check_list(recs, history, catalog, k, exclude_seen=True)

    # Fewer items left than asked for: all of them come back, and nothing else.
    almost_all = list(split.catalog)[:-2]
    (short,) = model.recommend([almost_all], k=max(k, 3), exclude_seen=True)
    assert {r.item for r in short} == set(list(split.catalog)[-2:])
    _check_list(short, almost_all, catalog, max(k, 3), exclude_seen=True)

    with pytest.raises(ValueError):
        model.recommend([known], k=0)

    before = model.recommend(histories + odd_histories, k=k)
    assert model.recommend(histories + odd_histories, k=k) == before, "must be deterministic"
    path = tmp_path / "saved-model"
    model.save(path)
    loaded = type(model).load(path)
    assert isinstance(loaded, type(model))
    after = loaded.recommend(histories + odd_histories, k=k)
    assert [[r.item for r in recs] for recs in after] == [[r.item for r in recs] for recs in before]
    for recs_after, recs_before in zip(after, before, strict=True):
        for a, b in zip(recs_after, recs_before, strict=True):
            assert abs(a.score - b.score) <= score_tolerance, (a, b)


def _check_list(
    recs: list[Scored], history: Sequence[str], catalog: set[str], k: int, exclude_seen: bool
) -> None:
    items = [r.item for r in recs]
    assert all(isinstance(r, Scored) for r in recs)
    assert set(items) <= catalog, f"not catalogue items: {set(items) - catalog}"
    assert len(set(items)) == len(items), f"repeated items: {items}"
    available = len(catalog - set(history)) if exclude_seen else len(catalog)
    assert len(items) == min(k, available), f"{len(items)} items for k={k}, {available} available"
    if exclude_seen:
        assert not set(items) & set(history), f"history items returned: {set(items) & set(history)}"
    scores = [r.score for r in recs]
    assert all(isinstance(s, float) and math.isfinite(s) for s in scores), scores
    increasing = [(a, b) for a, b in zip(scores, scores[1:], strict=False) if a < b]
    assert not increasing, f"scores must not increase down the list: {scores}"


def random_split(
    n_users: int = 30, n_items: int = 25, max_events: int = 12, seed: int = 0
) -> Split:
    """Random logs with repeat events, short users (< 3 events) and never-touched items."""
    rng = random.Random(seed)
    catalog = Catalog(Item(id=f"i{j}") for j in range(n_items))
    # The last three items never occur, so some catalogue items have no training events.
    pool = [f"i{j}" for j in range(n_items - 3)]
    interactions: list[Interaction] = []
    for u in range(n_users):
        for t in range(rng.randint(1, max_events)):
            item = rng.choice(pool)
            interactions.append(
                Interaction(user=f"u{u}", item=item, timestamp=float(t), position=len(interactions))
            )
    return leave_one_out_split(Dataset(interactions, catalog, name="random"))

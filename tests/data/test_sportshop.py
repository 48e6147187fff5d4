"""The built-in sports shop: its catalogue, and a simulated log with known, learnable structure."""

from __future__ import annotations

import csv
import io
import re
import time
from collections import Counter, defaultdict
from importlib.resources import files
from itertools import pairwise
from typing import Any

import pytest

from lmrec.data.schema import Dataset, EventType, Interaction
from lmrec.data.sportshop import load_catalog, make_sportshop, sportshop_preferences

ARABIC = re.compile(r"[\u0600-\u06FF]")
LATIN = re.compile(r"[A-Za-z]")


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return make_sportshop()


def _catalog_rows() -> list[dict[str, str]]:
    text = (files("lmrec") / "data" / "builtin" / "catalog.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture(scope="module")
def features() -> dict[str, set[str]]:
    return {row["item"]: set(row["features"].split(";")) for row in _catalog_rows()}


def _purchase_sequences(data: Dataset) -> dict[str, list[str]]:
    return {
        user: [x.item for x in events if x.event is EventType.PURCHASE]
        for user, events in data.histories().items()
    }


# ---- catalogue -------------------------------------------------------------------------------


def test_catalogue_has_72_items_in_8_sports() -> None:
    catalog = load_catalog()
    assert len(catalog) == 72
    sports = Counter(item.category for item in catalog.values())
    assert len(sports) == 8
    assert set(sports.values()) == {9}


def test_catalogue_ids_are_short_and_stable() -> None:
    catalog = load_catalog()
    assert all(re.fullmatch(r"[A-Z]{3}-0[1-9]", item_id) for item_id in catalog)
    ball = catalog["SOC-01"]
    assert ball.name == "Soccer Ball"
    assert ball.names == {"en": "Soccer Ball", "ar": "كرة قدم"}
    assert ball.category == "soccer"
    assert catalog.name("RUN-01", "ar") == "حذاء جري"
    assert catalog.name("RUN-01") == "Running Shoes"


def test_every_item_has_english_and_arabic_names_and_a_description() -> None:
    for item in load_catalog().values():
        assert item.name and item.names["en"] == item.name
        assert item.description
        arabic = item.names["ar"]
        assert ARABIC.search(arabic), item.id
        assert not LATIN.search(arabic), item.id
        assert not ARABIC.search(item.name), item.id


@pytest.mark.parametrize("language", ["en", "ar"])
def test_names_are_unique_per_language(language: str) -> None:
    names = [item.names[language] for item in load_catalog().values()]
    assert len(set(names)) == len(names)


def test_every_item_has_a_price_tier_and_feature_words(features: dict[str, set[str]]) -> None:
    rows = _catalog_rows()
    assert list(rows[0])[:5] == ["item", "name", "name_ar", "category", "description"]
    assert {row["tier"] for row in rows} == {"budget", "mid", "premium"}
    assert all(features[row["item"]] and "" not in features[row["item"]] for row in rows)


# ---- generator ---------------------------------------------------------------------------------


def test_generator_is_deterministic() -> None:
    first = make_sportshop(n_users=80, seed=3)
    second = make_sportshop(n_users=80, seed=3)
    assert first.interactions == second.interactions
    assert repr(first.interactions) == repr(second.interactions)  # byte for byte
    assert make_sportshop(n_users=80, seed=4).interactions != first.interactions


def test_exact_counts_for_the_default_shop(shop: Dataset) -> None:
    # Pinned: the demo and other tests rely on the built-in data not drifting silently.
    assert shop.name == "sportshop"
    assert len(shop.users) == 600
    assert len(shop.interactions) == 12542
    assert Counter(x.event for x in shop.interactions) == {
        EventType.VIEW: 7786,
        EventType.CART: 2430,
        EventType.PURCHASE: 1929,
        EventType.BOOKMARK: 397,
    }


def test_a_user_does_not_depend_on_how_many_users_there_are(shop: Dataset) -> None:
    small = make_sportshop(n_users=20)
    big = shop.histories()
    for user, events in small.histories().items():
        assert [(x.item, x.timestamp, x.event) for x in events] == [
            (x.item, x.timestamp, x.event) for x in big[user]
        ]


def test_user_ids_and_catalogue(shop: Dataset) -> None:
    assert sorted(shop.users) == [f"u{i:04d}" for i in range(1, 601)]
    assert list(shop.catalog) == list(load_catalog())


def test_histories_are_long_enough_and_strictly_increasing(shop: Dataset) -> None:
    histories = shop.histories()
    lengths = [len(events) for events in histories.values()]
    assert min(lengths) >= 5
    assert 15 <= sum(lengths) / len(lengths) <= 25
    for events in histories.values():
        times = [x.timestamp for x in events]
        assert all(a is not None and b is not None and a < b for a, b in pairwise(times))
        assert sum(x.event is EventType.PURCHASE for x in events) >= 2


def test_log_is_sorted_by_time_and_interleaves_users(shop: Dataset) -> None:
    log = shop.interactions
    assert [x.position for x in log] == list(range(len(log)))
    assert all((a.timestamp or 0) <= (b.timestamp or 0) for a, b in pairwise(log))
    switches = sum(a.user != b.user for a, b in pairwise(log))
    assert switches > len(log) // 3  # users' sessions are mixed, not one user after another


def test_all_event_types_appear(shop: Dataset) -> None:
    assert {x.event for x in shop.interactions} == set(EventType)


def test_funnel_order_view_then_cart_then_purchase(shop: Dataset) -> None:
    for events in shop.histories().values():
        viewed: set[str] = set()
        carted: set[str] = set()
        for x in events:
            if x.event is EventType.VIEW:
                viewed.add(x.item)
            elif x.event is EventType.PURCHASE:
                assert x.item in carted
            else:
                assert x.item in viewed
                if x.event is EventType.CART:
                    carted.add(x.item)


def test_purchases_have_rating_review_and_summary(
    shop: Dataset, features: dict[str, set[str]]
) -> None:
    purchases = [x for x in shop.interactions if x.event is EventType.PURCHASE]
    for x in purchases:
        assert x.rating in {1.0, 2.0, 3.0, 4.0, 5.0}
        assert x.review and x.summary
        text = f"{x.review} {x.summary}".lower()
        assert any(feature in text for feature in features[x.item]), x
    assert len({x.rating for x in purchases}) == 5
    others = [x for x in shop.interactions if x.event is not EventType.PURCHASE]
    assert all(x.rating is None and x.review is None and x.summary is None for x in others)


def test_users_buy_mostly_from_their_favourite_sports(shop: Dataset) -> None:
    preferences = sportshop_preferences(600, seed=0)
    assert set(preferences) == set(shop.users)
    assert all(1 <= len(sports) <= 2 for sports in preferences.values())
    purchases = [x for x in shop.interactions if x.event is EventType.PURCHASE]
    in_favourite = [shop.catalog[x.item].category in preferences[x.user] for x in purchases]
    assert sum(in_favourite) / len(purchases) >= 0.7
    assert not all(in_favourite)  # some off-taste noise


def test_ratings_are_higher_in_favourite_sports(shop: Dataset) -> None:
    preferences = sportshop_preferences()
    ratings: dict[bool, list[float]] = {True: [], False: []}
    for x in shop.interactions:
        if x.event is EventType.PURCHASE and x.rating is not None:
            ratings[shop.catalog[x.item].category in preferences[x.user]].append(x.rating)
    mean = {k: sum(v) / len(v) for k, v in ratings.items()}
    assert mean[True] > mean[False] + 0.5


def test_next_purchase_is_more_predictable_than_popularity(shop: Dataset) -> None:
    """Most frequent successor of the last training purchase vs the most popular item (HR@1)."""
    sequences = _purchase_sequences(shop)
    successors: dict[str, Counter[str]] = defaultdict(Counter)
    popularity: Counter[str] = Counter()
    for items in sequences.values():
        train = items[:-1]
        popularity.update(train)
        for before, after in pairwise(train):
            successors[before][after] += 1
    most_popular = popularity.most_common(1)[0][0]

    successor_hits = popularity_hits = 0
    for items in sequences.values():
        last_seen, target = items[-2], items[-1]
        following = successors[last_seen]
        guess = following.most_common(1)[0][0] if following else most_popular
        successor_hits += guess == target
        popularity_hits += most_popular == target
    n = len(sequences)
    assert successor_hits / n >= 0.3
    assert successor_hits >= 5 * popularity_hits


def test_preferences_agree_with_the_generator_for_other_seeds() -> None:
    data = make_sportshop(n_users=100, seed=11)
    preferences = sportshop_preferences(n_users=100, seed=11)
    assert preferences != sportshop_preferences(n_users=100, seed=12)
    views = [x for x in data.interactions if x.event is EventType.VIEW]
    share = sum(data.catalog[x.item].category in preferences[x.user] for x in views) / len(views)
    assert share >= 0.8


def test_generation_is_fast() -> None:
    make_sportshop(n_users=10)  # reads the catalogue once
    seconds = []
    for _ in range(3):  # best of three: the machine running the tests may be busy
        start = time.perf_counter()
        make_sportshop(n_users=600)
        seconds.append(time.perf_counter() - start)
    assert min(seconds) < 1.0


@pytest.mark.parametrize("kwargs", [{"n_users": 0}, {"noise": -0.1}, {"noise": 1.0}])
def test_bad_arguments_are_rejected(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        make_sportshop(**kwargs)


def test_first_event_is_pinned(shop: Dataset) -> None:
    first: Interaction = shop.interactions[0]
    assert (first.user, first.item, first.event) == ("u0229", "CYC-01", EventType.VIEW)
    assert list(sportshop_preferences(3).items()) == [
        ("u0001", ("tennis",)),
        ("u0002", ("running", "tennis")),
        ("u0003", ("cycling",)),
    ]

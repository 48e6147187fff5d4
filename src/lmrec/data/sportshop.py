"""The built-in sports shop: a bilingual (English/Arabic) catalogue and a simulated event log.

The catalogue (``data/builtin/catalog.csv``) has 8 sports x 9 items. Within a sport the rows are
in a natural buying order (ball, then boots, then shin guards, ...), and the simulated shoppers
walk that order: the next purchase in a sport is usually the item after the last one bought there,
sometimes one further on. So "what comes next" is learnable, and clearly better than popularity.

Each simulated user has one or two favourite sports (:func:`sportshop_preferences`) and shops in
sessions: a few views (mostly in a favourite sport, sometimes off-taste), now and then a bookmark,
a cart-add, and a purchase. Each purchase has a 1-5 rating (higher in a favourite sport) and a
short English review and summary that name one feature word of the item ("grip", "fit", ...).
Beyond the five columns the catalogue readers use (``item,name,name_ar,category,description``),
the CSV gives each item a price ``tier`` (budget/mid/premium, which nudges ratings) and its
``features`` (";"-separated), which only this simulation reads.

Everything is a pure function of its arguments: the same ``seed`` gives the same log, byte for
byte. Each user draws from their own random stream, so user ``u0007`` is the same whatever
``n_users`` is.
"""

from __future__ import annotations

import csv
import functools
import io
import random
from dataclasses import dataclass
from importlib.resources import files

from lmrec.data.schema import Catalog, Dataset, EventType, Interaction, Item

__all__ = ["load_catalog", "make_sportshop", "sportshop_preferences"]

_START = 1_704_067_200.0  # 2024-01-01 00:00 UTC
_DAY = 86_400.0
_JOIN_WINDOW = 240 * _DAY  # users join at different times, so their sessions interleave
_SESSION_GAP = 5 * _DAY  # mean time between two sessions of one user

# How often people in each sport shop here: uneven, so popularity is a real (if weak) baseline.
_SPORT_POPULARITY = {
    "soccer": 1.4,
    "running": 1.3,
    "basketball": 1.1,
    "cycling": 1.0,
    "tennis": 0.9,
    "swimming": 0.9,
    "yoga": 0.8,
    "boxing": 0.6,
}
_TIER_RATING_BIAS = {"budget": -0.2, "mid": 0.0, "premium": 0.3}

# Review and summary templates by rating. The feature word is the one the review is about; the
# explanation task later asks a model to produce such a sentence for a (user, item, feature).
_REVIEWS: dict[int, tuple[str, ...]] = {
    5: (
        "Bought the {name} for {sport} and the {feature} is excellent. Worth every penny.",
        "I use the {name} every week; the {feature} is superb and it still looks new.",
        "Best purchase for my {sport} this year. The {feature} is exactly what I wanted.",
    ),
    4: (
        "Good {name} overall. The {feature} is solid, though not perfect.",
        "The {feature} is better than I expected from the {name}. Happy with it for {sport}.",
        "Nice {name}; the {feature} works well and delivery was quick.",
    ),
    3: (
        "The {name} does the job. The {feature} is average for the money.",
        "Mixed feelings about the {name}: the {feature} is fine, nothing special.",
        "An okay {name} for casual {sport}; the {feature} could be better.",
    ),
    2: (
        "The {feature} of the {name} let me down after a few sessions.",
        "Not great. The {feature} is worse than the photos suggest.",
        "I expected more from the {name}; the {feature} is poor for {sport}.",
    ),
    1: (
        "Very disappointed: the {feature} of the {name} failed within a week.",
        "Sent the {name} back. The {feature} is terrible.",
        "Do not buy the {name} for {sport}; the {feature} is awful.",
    ),
}
_SUMMARIES: dict[int, tuple[str, ...]] = {
    5: ("Superb {feature}", "Love the {feature}", "Excellent {feature}, great buy"),
    4: ("Good {feature}", "Solid {feature}", "Happy with the {feature}"),
    3: ("Average {feature}", "Okay {feature}", "{feature} is just fine"),
    2: ("Poor {feature}", "Disappointing {feature}", "{feature} could be better"),
    1: ("Terrible {feature}", "Awful {feature}", "{feature} failed fast"),
}


# One simulated event: (timestamp, item id, event type, (rating, review, summary) or None).
_Event = tuple[float, str, EventType, tuple[float, str, str] | None]


@dataclass(frozen=True, slots=True)
class _Product:
    """A catalogue row with what the simulation needs beyond :class:`Item`."""

    item: Item
    rank: int  # position in the sport's buying order, 0-based
    tier: str
    features: tuple[str, ...]


@functools.cache
def _products() -> tuple[_Product, ...]:
    text = (files("lmrec") / "data" / "builtin" / "catalog.csv").read_text(encoding="utf-8")
    products: list[_Product] = []
    ranks: dict[str, int] = {}
    for row in csv.DictReader(io.StringIO(text)):
        sport = row["category"]
        item = Item(
            id=row["item"],
            name=row["name"],
            category=sport,
            description=row["description"],
            language="en",
            names={"en": row["name"], "ar": row["name_ar"]},
        )
        rank = ranks.get(sport, 0)
        ranks[sport] = rank + 1
        features = tuple(f for f in row["features"].split(";") if f)
        products.append(_Product(item=item, rank=rank, tier=row["tier"], features=features))
    return tuple(products)


@functools.cache
def _by_sport() -> dict[str, tuple[_Product, ...]]:
    by_sport: dict[str, list[_Product]] = {}
    for product in _products():
        by_sport.setdefault(product.item.category or "", []).append(product)
    return {sport: tuple(items) for sport, items in by_sport.items()}


def load_catalog() -> Catalog:
    """The sports-shop catalogue: 72 items, 8 sports, English ``name`` and ``names["ar"]``.

    Items are in catalogue order: sport by sport, each sport in its natural buying order.
    """
    return Catalog(p.item for p in _products())


def _user_id(index: int) -> str:
    return f"u{index:04d}"


def _rng(seed: int, user: str, stream: str) -> random.Random:
    # String seeds are hashed with SHA-512, so this is stable across runs and platforms.
    return random.Random(f"sportshop:{seed}:{user}:{stream}")


def _taste(seed: int, user: str) -> tuple[tuple[str, float], ...]:
    """A user's favourite sports with their weights, strongest first."""
    rng = _rng(seed, user, "taste")
    sports = list(_by_sport())
    first = rng.choices(sports, [_SPORT_POPULARITY.get(s, 1.0) for s in sports])[0]
    if rng.random() < 0.4:
        return ((first, 1.0),)
    rest = [s for s in sports if s != first]
    second = rng.choices(rest, [_SPORT_POPULARITY.get(s, 1.0) for s in rest])[0]
    main = rng.uniform(0.55, 0.8)
    return ((first, main), (second, 1.0 - main))


def sportshop_preferences(n_users: int = 600, seed: int = 0) -> dict[str, tuple[str, ...]]:
    """Each user's favourite sports (one or two, strongest first), as :func:`make_sportshop` uses.

    This is the ground truth of the simulation: tests and benchmarks can check that a model
    recommends from the right sports.
    """
    _check_args(n_users, 0.0)
    users = (_user_id(i) for i in range(1, n_users + 1))
    return {u: tuple(sport for sport, _ in _taste(seed, u)) for u in users}


def _check_args(n_users: int, noise: float) -> None:
    if n_users < 1:
        raise ValueError(f"n_users must be at least 1, got {n_users}")
    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise}")


def make_sportshop(n_users: int = 600, seed: int = 0, *, noise: float = 0.1) -> Dataset:
    """Simulate the sports shop's event log for ``n_users`` users.

    Args:
        n_users: number of users, named ``u0001``, ``u0002``, ...
        seed: the random seed; the same seed gives the same log, byte for byte.
        noise: the share of sessions spent browsing a sport outside the user's favourites.

    Returns:
        A :class:`Dataset` named ``"sportshop"`` whose log is sorted by time across all users.
        Every user has at least 5 events and 2 purchases, with strictly increasing timestamps.
    """
    _check_args(n_users, noise)
    rows: list[tuple[float, int, str, _Event]] = []
    for index in range(1, n_users + 1):
        user = _user_id(index)
        events = _simulate_user(_taste(seed, user), _rng(seed, user, "events"), noise)
        rows.extend((event[0], index, user, event) for event in events)
    # Timestamps are strictly increasing per user, so (time, user) orders the log completely.
    rows.sort(key=lambda row: (row[0], row[1]))
    log = [
        Interaction(
            user=user,
            item=item,
            timestamp=timestamp,
            event=event,
            rating=review[0] if review else None,
            review=review[1] if review else None,
            summary=review[2] if review else None,
            position=position,
        )
        for position, (_, _, user, (timestamp, item, event, review)) in enumerate(rows)
    ]
    return Dataset(interactions=log, catalog=load_catalog(), name="sportshop")


def _next_target(rng: random.Random, products: tuple[_Product, ...], progress: int) -> _Product:
    """The item a user shops for next in a favourite sport, given how far along they are."""
    if progress >= len(products):  # has everything: replaces or upgrades something
        return rng.choice(products)
    draw = rng.random()
    if draw < 0.78:
        return products[progress]
    if draw < 0.94:
        return products[min(progress + 1, len(products) - 1)]
    return rng.choice(products)


def _simulate_user(
    taste: tuple[tuple[str, float], ...], rng: random.Random, noise: float
) -> list[_Event]:
    """One user's events in time order."""
    by_sport = _by_sport()
    favourites = [sport for sport, _ in taste]
    weights = [weight for _, weight in taste]
    others = [sport for sport in by_sport if sport not in favourites]
    progress = {sport: (0 if rng.random() < 0.75 else 1) for sport in favourites}
    generosity = rng.gauss(0.0, 0.35)
    n_sessions = 3 + min(int(rng.expovariate(1 / 3.5)), 20)

    events: list[_Event] = []
    clock = _START + rng.uniform(0.0, _JOIN_WINDOW)
    purchases = 0

    def emit(
        product: _Product,
        event: EventType,
        gap: tuple[float, float],
        review: tuple[float, str, str] | None = None,
    ) -> None:
        nonlocal clock
        clock += rng.uniform(*gap)
        events.append((round(clock, 3), product.item.id, event, review))

    session = 0
    while session < n_sessions or len(events) < 5 or purchases < 2:
        if session:
            clock += 3_600.0 + rng.expovariate(1 / _SESSION_GAP)
        session += 1
        off_taste = bool(others) and rng.random() < noise
        sport = rng.choice(others) if off_taste else rng.choices(favourites, weights)[0]
        products = by_sport[sport]
        if off_taste:
            target = rng.choice(products)
        else:
            target = _next_target(rng, products, progress[sport])

        # Browse a neighbour or two in the buying order (or anything in the sport) first.
        for _ in range(rng.choice((0, 1, 1, 2))):
            if rng.random() < 0.7:
                step = rng.choice((-1, 1, 2))
                browsed = products[max(0, min(len(products) - 1, target.rank + step))]
            else:
                browsed = rng.choice(products)
            emit(browsed, EventType.VIEW, (15.0, 240.0))
        emit(target, EventType.VIEW, (15.0, 240.0))
        if rng.random() < 0.1:
            emit(target, EventType.BOOKMARK, (5.0, 60.0))
        if rng.random() >= (0.3 if off_taste else 0.68):
            continue
        emit(target, EventType.CART, (10.0, 120.0))
        if rng.random() >= 0.8:
            continue
        review = _review(rng, target, favourite=not off_taste, bias=generosity)
        emit(target, EventType.PURCHASE, (60.0, 900.0), review)
        purchases += 1
        if not off_taste:
            progress[sport] = max(progress[sport], target.rank + 1)
    return events


def _review(
    rng: random.Random, product: _Product, *, favourite: bool, bias: float
) -> tuple[float, str, str]:
    """A purchase's rating (1-5), review text and one-line summary."""
    mean = (4.1 if favourite else 2.9) + bias + _TIER_RATING_BIAS.get(product.tier, 0.0)
    rating = min(5, max(1, round(mean + rng.gauss(0.0, 0.8))))
    feature = rng.choice(product.features) if product.features else "quality"
    words = {
        "name": (product.item.name or product.item.id).lower(),
        "sport": product.item.category or "sport",
        "feature": feature,
    }
    review = rng.choice(_REVIEWS[rating]).format(**words)
    summary = rng.choice(_SUMMARIES[rating]).format(**words)
    return float(rating), review, summary[0].upper() + summary[1:]

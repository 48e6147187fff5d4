"""The typed schema every other module speaks: events, items, catalogues, datasets.

Item and user ids are always strings (the ids of the user's own data); models map them to
tokens through an item index, never the other way round.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)


class EventType(enum.StrEnum):
    """What a user did with an item. The value is what data files and the API spell."""

    VIEW = "view"
    BOOKMARK = "bookmark"
    CART = "cart"
    PURCHASE = "purchase"

    @classmethod
    def parse(
        cls, value: str | EventType | None, event_map: Mapping[str, EventType] | None = None
    ) -> EventType:
        """Read an event type leniently ("Purchase", "add_to_cart", empty = purchase).

        ``event_map`` (lower-case name -> type, e.g. from ``--event-map``) is looked up first,
        so a log's own names can override the built-in :data:`EVENT_ALIASES`.
        """
        if isinstance(value, EventType):
            return value
        if value is None or str(value).strip() == "":
            return cls.PURCHASE
        text = str(value).strip().lower()
        if event_map and text in event_map:
            return event_map[text]
        if text in EVENT_ALIASES:
            return EVENT_ALIASES[text]
        try:
            return cls(text)
        except ValueError:
            valid = ", ".join(e.value for e in cls)
            raise ValueError(f"unknown event type {value!r} (expected one of: {valid})") from None


def _aliases(event: EventType, *names: str) -> dict[str, EventType]:
    return dict.fromkeys(names, event)


# Every type has its plural and past tense (a log of "purchases" is as common as one of
# "views"), and the Google Analytics 4 e-commerce names, which most shop exports use.
EVENT_ALIASES: dict[str, EventType] = {
    **_aliases(EventType.VIEW, "views", "viewed", "click", "clicks", "pageview", "view_item"),
    **_aliases(
        EventType.BOOKMARK,
        "bookmarks",
        "bookmarked",
        "favorite",
        "favourite",
        "wishlist",
        "add_to_wishlist",
    ),
    **_aliases(
        EventType.CART, "carts", "carted", "add_to_cart", "addtocart", "cart_add", "added_to_cart"
    ),
    **_aliases(
        EventType.PURCHASE,
        "purchases",
        "purchased",
        "buy",
        "buys",
        "bought",
        "order",
        "orders",
        "transaction",
        "rating",
        "review",
    ),
}
"""Built-in names of event types beyond their own values (lower case)."""


def parse_event_map(text: str | Iterable[str]) -> dict[str, EventType]:
    """``'view_item=view,add_to_cart=cart'`` (or its entries) -> ``{name: EventType}``.

    Names are matched case-insensitively, as :meth:`EventType.parse` lower-cases what it reads;
    a target may itself be an alias (``purchases``).
    """
    entries = text.split(",") if isinstance(text, str) else list(text)
    mapping: dict[str, EventType] = {}
    for entry in entries:
        if not entry.strip():
            continue
        name, equals, target = (s.strip() for s in entry.partition("="))
        if not equals or not name or not target:
            raise ValueError(f"event map entry {entry!r} is not name=type (e.g. view_item=view)")
        mapping[name.lower()] = EventType.parse(target)
    return mapping


@dataclass(frozen=True, slots=True)
class Interaction:
    """One event in a log.

    ``timestamp`` may be None for data that only gives an order (S3-Rec sequence files); the
    position in the log (``position``) then fixes the order. Equal timestamps keep log order.
    """

    user: str
    item: str
    timestamp: float | None = None
    event: EventType = EventType.PURCHASE
    rating: float | None = None
    review: str | None = None
    summary: str | None = None
    position: int = 0


@dataclass(frozen=True, slots=True)
class Item:
    """One catalogue entry. ``names`` holds extra names by language code (e.g. ``{"ar": ...}``)."""

    id: str
    name: str | None = None
    category: str | None = None
    description: str | None = None
    language: str | None = None
    names: Mapping[str, str] = field(default_factory=dict)

    def name_in(self, language: str | None) -> str:
        """The item's name in ``language`` if known, else its main name, else its id."""
        if language and language in self.names:
            return self.names[language]
        return self.name or self.id


class Catalog(Mapping[str, Item]):
    """An ordered, read-only mapping of item id to :class:`Item`."""

    def __init__(self, items: Iterable[Item] = ()) -> None:
        self._items: dict[str, Item] = {}
        for item in items:
            if item.id in self._items:
                raise ValueError(f"duplicate item id {item.id!r} in catalogue")
            self._items[item.id] = item

    def __getitem__(self, item_id: str) -> Item:
        try:
            return self._items[item_id]
        except KeyError:
            raise KeyError(f"unknown item {item_id!r}: not in the catalogue") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Catalog({len(self)} items)"

    def name(self, item_id: str, language: str | None = None) -> str:
        """Display name of an item (its id when the catalogue has no name for it)."""
        item = self._items.get(item_id)
        return item.name_in(language) if item else item_id

    def with_items(self, items: Iterable[Item]) -> Catalog:
        """A new catalogue with ``items`` added (e.g. cold-start items after training)."""
        return Catalog([*self._items.values(), *items])

    def save_jsonl(self, path: str | Path) -> None:
        """One JSON object per item (empty fields left out), UTF-8, names in every script."""
        with open(path, "w", encoding="utf-8") as f:
            for item in self._items.values():
                row = {k: v for k, v in asdict(item).items() if v not in (None, {})}
                f.write(json.dumps(row, ensure_ascii=False) + "\n")

    @classmethod
    def load_jsonl(cls, path: str | Path) -> Catalog:
        with open(path, encoding="utf-8") as f:
            return cls(Item(**json.loads(line)) for line in f if line.strip())

    @classmethod
    def from_ids(cls, ids: Iterable[str]) -> Catalog:
        """A catalogue of bare ids, in first-seen order, for data that has no item file."""
        seen: dict[str, None] = dict.fromkeys(ids)
        return cls(Item(id=i) for i in seen)


@dataclass
class LoadReport:
    """What a reader did: rows read and rows dropped, with the reason for each drop."""

    source: str
    rows: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    def log(self, level: int = logging.WARNING) -> None:
        """One line: rows read, and what was dropped and why, at ``level`` (a warning by
        default: a reader's drops are the data's surprises; a selection the user asked for
        logs at INFO)."""
        if self.dropped:
            detail = ", ".join(f"{n} {why}" for why, n in sorted(self.dropped.items()))
            logger.log(level, "%s: read %d rows, dropped %s", self.source, self.rows, detail)
        else:
            logger.info("%s: read %d rows", self.source, self.rows)


@dataclass
class Dataset:
    """An interaction log with its catalogue. ``interactions`` are in log (file) order."""

    interactions: list[Interaction]
    catalog: Catalog
    name: str = "data"
    reports: list[LoadReport] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = {x.item for x in self.interactions if x.item not in self.catalog}
        if unknown:
            sample = ", ".join(sorted(unknown)[:5])
            raise ValueError(
                f"{self.name}: {len(unknown)} item(s) in the log are not in the catalogue "
                f"(e.g. {sample})"
            )

    @property
    def users(self) -> list[str]:
        return list(dict.fromkeys(x.user for x in self.interactions))

    def histories(self) -> dict[str, list[Interaction]]:
        """Each user's events in time order; equal (or missing) timestamps keep log order."""
        by_user: dict[str, list[Interaction]] = {}
        for x in self.interactions:
            by_user.setdefault(x.user, []).append(x)
        return {u: sort_by_time(events) for u, events in by_user.items()}

    def select(
        self, events: Iterable[EventType | str] | None = None, first_only: bool = False
    ) -> Dataset:
        """A new dataset keeping only some event types and/or only each user's first event
        per item (a "distinct items in order of first contact" log). Drops are counted."""
        wanted = {EventType.parse(e) for e in events} if events is not None else None
        kept, seen = [], set()
        dropped: dict[str, int] = {}
        for x in self.interactions:
            if wanted is not None and x.event not in wanted:
                dropped[f"event {x.event.value} not selected"] = (
                    dropped.get(f"event {x.event.value} not selected", 0) + 1
                )
                continue
            if first_only:
                key = (x.user, x.item)
                if key in seen:
                    dropped["repeat of an earlier user-item event"] = (
                        dropped.get("repeat of an earlier user-item event", 0) + 1
                    )
                    continue
                seen.add(key)
            kept.append(x)
        report = LoadReport(source=f"{self.name} selection", rows=len(kept), dropped=dropped)
        report.log(logging.INFO)
        return Dataset(kept, self.catalog, name=self.name, reports=[*self.reports, report])

    def describe(self) -> str:
        n_users = len(self.users)
        return (
            f"{self.name}: {n_users} users, {len(self.catalog)} items, "
            f"{len(self.interactions)} interactions"
        )


def sort_by_time(events: Sequence[Interaction]) -> list[Interaction]:
    """Stable sort by timestamp: ties (and missing timestamps) keep their log order.

    Never break ties by item id: that leaks the test item (docs/design.md, "Tie leakage").
    """
    if all(e.timestamp is None for e in events):
        return sorted(events, key=lambda e: e.position)
    return sorted(
        events,
        key=lambda e: (e.timestamp if e.timestamp is not None else float("-inf"), e.position),
    )

"""Records to schema objects: one row of a log or catalogue to an :class:`Interaction` or
:class:`Item`, with every field checked.

A converter raises :class:`~lmrec.data.formats.RowError` (it does not know the row's location);
:func:`collect` turns that into a located :class:`~lmrec.data.formats.DataFormatError`.
"""

from __future__ import annotations

import logging
import math
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any, TypeAlias, TypeVar

from lmrec.data.formats import Record, RowError, reject_row
from lmrec.data.schema import EventType, Interaction, Item, LoadReport

__all__ = [
    "DEFAULT_RATING_RANGE",
    "MILLISECONDS_FROM",
    "ColumnMap",
    "ItemColumnMap",
    "RatingRange",
    "TimestampUnit",
    "collect",
    "control_character",
    "iso_timestamp",
    "not_empty",
    "row_interaction",
    "row_item",
    "text_field",
]

logger = logging.getLogger(__name__)

RatingRange: TypeAlias = tuple[float, float]
DEFAULT_RATING_RANGE: RatingRange = (1.0, 5.0)
# Epoch seconds reach 1e11 only in the year 5138, epoch milliseconds passed it in 1973: a
# number this large is milliseconds.
MILLISECONDS_FROM = 1e11
_NAME_PREFIX = "name_"
_T = TypeVar("_T")


@dataclass(frozen=True)
class ColumnMap:
    """Which column of a log file holds each :class:`Interaction` field.

    ``user`` and ``item`` must be in the file. The other columns are optional: one that is absent
    from the file, or mapped to None, reads as missing (no timestamp, a purchase, no rating).
    """

    user: str = "user"
    item: str = "item"
    timestamp: str | None = "timestamp"
    """Epoch seconds (or milliseconds, for a whole file), or an ISO-8601 string (read as UTC
    when it has no zone)."""
    event: str | None = "event"
    """Read with :meth:`EventType.parse`; empty means a purchase."""
    rating: str | None = "rating"
    review: str | None = "review"
    summary: str | None = "summary"

    def required(self) -> tuple[str, ...]:
        """The columns a file must have: user, item and every optional one mapped to a name
        of the caller's own (``timestamp=ts``: a log without ``ts`` is an error, not a log
        without timestamps)."""
        return (self.user, self.item, *_renamed(self, ("user", "item")))


@dataclass(frozen=True)
class ItemColumnMap:
    """Which column of a catalogue file holds each :class:`Item` field.

    ``id`` must be in the file; the others are optional. Any column named ``name_<lang>``
    (``name_ar``) also goes into ``Item.names[<lang>]``.
    """

    id: str = "item"
    name: str | None = "name"
    category: str | None = "category"
    description: str | None = "description"
    language: str | None = "language"

    def required(self) -> tuple[str, ...]:
        """The columns a file must have: the id and every optional one mapped to a name of the
        caller's own (``name=title``: a catalogue without ``title`` is an error)."""
        return (self.id, *_renamed(self, ("id",)))


def _renamed(columns: Any, always: tuple[str, ...]) -> list[str]:
    """The optional columns of ``columns`` (a column-map dataclass) named otherwise than by
    default."""
    defaults = type(columns)()
    return [
        value
        for f in fields(columns)
        if f.name not in always
        and (value := getattr(columns, f.name)) is not None
        and value != getattr(defaults, f.name)
    ]


class TimestampUnit:
    """Checks that one file's numeric timestamps share a unit, and reads them as seconds.

    The first numeric timestamp fixes the unit (milliseconds from :data:`MILLISECONDS_FROM`
    on); a later one of the other unit is a :class:`RowError`, since a mixed file would sort
    its millisecond events tens of millennia after the rest.
    """

    def __init__(self) -> None:
        self.first: float | None = None

    @property
    def milliseconds(self) -> bool:
        return self.first is not None and self.first >= MILLISECONDS_FROM

    def seconds(self, value: float | None) -> float | None:
        """``value`` in seconds, or RowError if its unit differs from the file's first."""
        if value is None:
            return None
        if self.first is None:
            self.first = value
            if self.milliseconds:
                logger.info("timestamps are in milliseconds (first: %r): read as such", value)
        if (value >= MILLISECONDS_FROM) != self.milliseconds:
            units = ("milliseconds", "seconds")
            mine, theirs = units if value >= MILLISECONDS_FROM else units[::-1]
            detail = (
                f"{value:.15g} is in {mine} but the file's first timestamp ({self.first:.15g}) "
                f"is in {theirs}: use one unit per file"
            )
            raise RowError("mixed timestamp units", detail)
        return value / 1000 if self.milliseconds else value


def collect(
    records: Iterable[tuple[str, Record]],
    convert: Callable[[Record, int], _T],
    report: LoadReport,
    strict: bool,
) -> list[_T]:
    """Convert each record (``convert(record, index_among_kept)``), rejecting the malformed."""
    kept: list[_T] = []
    for location, record in records:
        try:
            kept.append(convert(record, len(kept)))
        except RowError as error:
            reject_row(location, error, report, strict)
    report.rows = len(kept)
    return kept


def row_interaction(
    record: Record,
    columns: ColumnMap,
    position: int,
    rating_range: RatingRange | None = DEFAULT_RATING_RANGE,
    unit: TimestampUnit | None = None,
    event_map: Mapping[str, EventType] | None = None,
) -> Interaction:
    """One log row as an event. ``rating_range`` (inclusive; None: any finite number) bounds the
    rating; ``unit``, shared by a file's rows, checks that their timestamps share a unit;
    ``event_map`` names event types beyond the built-in aliases (see :meth:`EventType.parse`)."""
    timestamp = _timestamp(_optional(record, columns.timestamp))
    return Interaction(
        user=_identifier(record, columns.user, "user id"),
        item=_identifier(record, columns.item, "item id"),
        timestamp=timestamp if unit is None else unit.seconds(timestamp),
        event=_event(_optional(record, columns.event), event_map),
        rating=_rating(_optional(record, columns.rating), rating_range),
        review=text_field(_optional(record, columns.review)),
        summary=text_field(_optional(record, columns.summary)),
        position=position,
    )


def row_item(record: Record, columns: ItemColumnMap) -> Item:
    """One catalogue row as an item. Ids and names may not hold control characters."""
    names = {
        key[len(_NAME_PREFIX) :]: text
        for key, value in record.items()
        if key.startswith(_NAME_PREFIX) and len(key) > len(_NAME_PREFIX)
        if (text := _name(value, key)) is not None
    }
    return Item(
        id=_identifier(record, columns.id, "item id"),
        name=_name(_optional(record, columns.name), "name"),
        category=text_field(_optional(record, columns.category)),
        description=text_field(_optional(record, columns.description)),
        language=text_field(_optional(record, columns.language)),
        names=names,
    )


def control_character(text: str) -> str | None:
    """A description of the first control character (Unicode Cc) in ``text``, else None."""
    for position, char in enumerate(text):
        if unicodedata.category(char) == "Cc":
            return f"U+{ord(char):04X} at position {position} of {text!r}"
    return None


def text_field(value: Any) -> str | None:
    """Stripped text; None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _name(value: Any, what: str) -> str | None:
    text = text_field(value)
    if text is not None and (found := control_character(text)) is not None:
        raise RowError(f"control character in {what}", found)
    return text


def _optional(record: Record, column: str | None) -> Any:
    return None if column is None else record.get(column)


def _identifier(record: Record, column: str, what: str) -> str:
    """A non-empty id string with no control characters."""
    try:
        value = record[column]
    except KeyError:
        fields = ", ".join(record) or "none"
        raise RowError("missing field", f"{column!r} (fields: {fields})") from None
    if isinstance(value, str):
        text = value.strip()
    elif value is None or (isinstance(value, float) and math.isnan(value)):
        text = ""
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))  # pandas writes integer ids as floats when a column has gaps
    elif isinstance(value, int | float) and not isinstance(value, bool):
        text = str(value)
    else:
        raise RowError(f"bad {what}", repr(value))
    if not text:
        raise RowError(f"empty {what}")
    if (found := control_character(text)) is not None:
        raise RowError(f"control character in {what}", found)
    return text


def _number(value: Any, what: str) -> float | None:
    """A finite float; None, empty text and NaN are missing."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowError(f"non-numeric {what}", repr(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        if isinstance(value, str) and not value.strip():
            return None
        raise RowError(f"non-numeric {what}", repr(value)) from None
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise RowError(f"non-finite {what}", repr(value))
    return number


def _rating(value: Any, rating_range: RatingRange | None) -> float | None:
    rating = _number(value, "rating")
    if rating is None or rating_range is None:
        return rating
    low, high = rating_range
    if not low <= rating <= high:
        detail = f"{rating:g} is outside {low:g}-{high:g} (set rating_range for another scale)"
        raise RowError("rating out of range", detail)
    return rating


def _timestamp(value: Any) -> float | None:
    """Epoch seconds from a number, a datetime, or a numeric or ISO-8601 string (naive = UTC)."""
    if isinstance(value, datetime):
        return _epoch(value)
    if isinstance(value, date):
        return _epoch(datetime(value.year, value.month, value.day))
    try:
        return _number(value, "timestamp")
    except RowError:
        if not isinstance(value, str):
            raise
    try:
        return iso_timestamp(value)
    except ValueError:
        detail = f"{value!r} is neither a number nor an ISO-8601 date"
        raise RowError("bad timestamp", detail) from None


def iso_timestamp(text: str) -> float:
    """Epoch seconds of an ISO-8601 date or date-time (read as UTC when it has no zone);
    ValueError for anything else."""
    return _epoch(datetime.fromisoformat(text.strip()))


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _event(value: Any, event_map: Mapping[str, EventType] | None = None) -> EventType:
    try:
        return EventType.parse(value, event_map)
    except ValueError:
        valid = ", ".join(e.value for e in EventType)
        detail = f"{value!r} (expected {valid} or an alias; map other names with an event map)"
        raise RowError("unknown event type", detail) from None


def not_empty(rows: list[_T], report: LoadReport) -> list[_T]:
    """``rows``, or ValueError naming the file when it gave none (a header-only file)."""
    if rows:
        return rows
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.dropped.items()))
    raise ValueError(
        f"{report.source}: no rows to read" + (f" (skipped {skipped})" * bool(skipped))
    )

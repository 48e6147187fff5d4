"""A log file into the event store (``lmrec import``, ``lmrec serve --import``), idempotently.

Each event's idempotency id is derived from its content (user, item, type, timestamp, rating,
review) and its occurrence number among identical rows of the log, not from the file's name
or line: importing the same log again stores nothing, and so does importing it from another
path or re-exported in another row order; a log with rows appended stores only the new rows.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from collections.abc import Container, Iterable, Iterator
from dataclasses import dataclass

from lmrec.data.schema import Dataset, Interaction
from lmrec.serve.store import EventStore, StoredEvent

__all__ = ["IMPORT_ID_PREFIX", "ImportResult", "import_dataset", "imported_events"]

logger = logging.getLogger(__name__)

IMPORT_ID_PREFIX = "import:"
"""Imported events' ids start with this, so they never collide with a client's own ids."""
_BATCH = 5000


@dataclass(frozen=True)
class ImportResult:
    """What an import did: events read from the log, newly stored, already stored, and
    skipped as their item is not in the model's catalogue."""

    read: int
    stored: int
    duplicates: int
    skipped_unknown: int

    def describe(self) -> str:
        skipped = (
            f", {self.skipped_unknown} skipped (item not in the model's catalogue)"
            if self.skipped_unknown
            else ""
        )
        return (
            f"{self.read} events read, {self.stored} stored, "
            f"{self.duplicates} already stored{skipped}"
        )


def _event_id(event: Interaction, timestamp: float, occurrence: int) -> str:
    parts = (event.user, event.item, event.event.value, repr(timestamp), repr(event.rating))
    text = "\x1f".join((*parts, event.review or "", str(occurrence)))
    return IMPORT_ID_PREFIX + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def imported_events(interactions: Iterable[Interaction]) -> Iterator[StoredEvent]:
    """The store's events for a log's, with deterministic ids (see the module's docstring).

    User ids are NFC-normalised as the API normalises them, so an imported user is the same
    user a client names. An event without a timestamp gets its position in the log as one
    (seconds after 1970-01-01): the store orders by time, and the log's order is all there is.
    """
    occurrences: dict[str, int] = {}
    for event in interactions:
        user = unicodedata.normalize("NFC", event.user)
        timestamp = event.timestamp if event.timestamp is not None else float(event.position)
        key = _event_id(event, timestamp, 0)
        occurrence = occurrences.get(key, 0)
        occurrences[key] = occurrence + 1
        yield StoredEvent(
            id=_event_id(event, timestamp, occurrence) if occurrence else key,
            user=user,
            item=event.item,
            type=event.event.value,
            timestamp=timestamp,
            rating=event.rating,
            review=event.review,
        )


def import_dataset(
    store: EventStore,
    dataset: Dataset,
    known_items: Container[str] | None = None,
    skip_unknown: bool = False,
) -> ImportResult:
    """Store ``dataset``'s events (batches of 5000, each one transaction).

    ``known_items`` (the served model's catalogue) refuses, before anything is stored, a log
    naming other items; with ``skip_unknown`` their events are skipped and counted instead.
    """
    events = dataset.interactions
    unknown = [] if known_items is None else [x for x in events if x.item not in known_items]
    if unknown and not skip_unknown:
        raise ValueError(f"{_unknown_message(dataset.name, unknown)}; nothing stored")
    if unknown:
        missing = {x.item for x in unknown}
        events = [x for x in events if x.item not in missing]
        logger.warning("%s; skipped", _unknown_message(dataset.name, unknown))
    stored = duplicates = 0
    batch: list[StoredEvent] = []
    for event in imported_events(events):
        batch.append(event)
        if len(batch) == _BATCH:
            result = store.add(batch)
            stored, duplicates, batch = stored + result.stored, duplicates + result.duplicates, []
    if batch:
        result = store.add(batch)
        stored, duplicates = stored + result.stored, duplicates + result.duplicates
    return ImportResult(len(dataset.interactions), stored, duplicates, len(unknown))


def _unknown_message(name: str, unknown: list[Interaction]) -> str:
    items = list(dict.fromkeys(x.item for x in unknown))
    shown = ", ".join(repr(i) for i in items[:5])
    return (
        f"{name}: {len(unknown)} event(s) of {len(items)} item(s) not in the model's "
        f"catalogue (e.g. {shown}); skip_unknown (--skip-unknown) skips them"
    )

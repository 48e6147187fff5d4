"""Interaction logs read in chunks, and sequential training pairs made as the events arrive.

For logs larger than memory. The readers here hold one chunk of rows at a time, so their memory
does not grow with the file:

- :func:`stream_interactions`: a CSV/TSV, JSON Lines or Parquet log as lists of at most
  ``chunk_size`` :class:`Interaction` objects, with the columns, row checks and errors of
  :func:`~lmrec.data.readers.read_interactions` (a malformed row raises :class:`DataFormatError`
  naming file and line).
- :func:`stream_catalog`: a first pass over a log that keeps only its distinct item ids, for
  :func:`lmrec.training.stream.catalog_index` when there is no catalogue file.
- :func:`stream_sequential_pairs`: (recent history -> next item) training pairs, produced event
  by event (:func:`lmrec.training.stream.stream_sequential_examples` renders them as prompts).
  It keeps each user's last ``max_history`` items, so *its* memory grows with the number of
  users (and the item index), never with the number of events.

The log must be in time order, at least within each user (sorted by time, or by user then
time). A user's event earlier than their previous one raises :class:`DataFormatError`: sorting
would need the whole log in memory, which is what this module avoids.

Every event after a user's first becomes a training target, and nothing is held out: stream the
training part of a log (e.g. the events before a cut-off time), never one that holds the test
events. :meth:`lmrec.recommenders.lm.LMRecommender.fit_stream` (``lmrec train --stream``)
trains on a stream.
"""

from __future__ import annotations

import sys
from collections.abc import Container, Iterator
from pathlib import Path

from lmrec.data.readers import (
    ColumnMap,
    DataFormatError,
    RowError,
    StrPath,
    format_of,
    parquet_records,
    reject_row,
    row_interaction,
    row_records,
)
from lmrec.data.schema import Catalog, Interaction, LoadReport

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "stream_catalog",
    "stream_interactions",
    "stream_sequential_pairs",
]

DEFAULT_CHUNK_SIZE = 10_000
_Located = list[tuple[str, Interaction]]
_Pair = tuple[list[str], str]


def stream_interactions(
    path: StrPath,
    columns: ColumnMap | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    strict: bool = True,
    report: LoadReport | None = None,
) -> Iterator[list[Interaction]]:
    """The log's events, in file order, as lists of at most ``chunk_size``.

    Rows are read and checked as :func:`~lmrec.data.readers.read_interactions` reads them, and
    ``Interaction.position`` is the same: the event's index among the rows kept. With
    ``strict=False`` malformed rows are dropped and counted in ``report`` (if given).
    """
    for chunk in _located_chunks(path, columns, chunk_size, report, strict):
        yield [x for _, x in chunk]


def stream_catalog(
    path: StrPath,
    columns: ColumnMap | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    strict: bool = True,
) -> Catalog:
    """A catalogue of the log's item ids, bare, in first-seen order (one pass; keeps the ids
    only). Give it the *training* log: an index built from test events leaks them."""
    seen: dict[str, None] = {}
    for chunk in _located_chunks(path, columns, chunk_size, None, strict):
        for _, x in chunk:
            seen.setdefault(x.item, None)
    return Catalog.from_ids(seen)


def stream_sequential_pairs(
    path: StrPath,
    index: Container[str],
    max_history: int,
    columns: ColumnMap | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    strict: bool = True,
    report: LoadReport | None = None,
) -> Iterator[tuple[list[str], str]]:
    """``(history, next item)`` for every event that follows an earlier event of its user.

    ``history`` is the user's last ``max_history`` items (oldest first): all a sequential prompt
    shows (:func:`~lmrec.tasks.sequential.history_text`). An item missing from ``index`` (an
    item index, or any container of the known item ids) raises :class:`DataFormatError`
    (``strict=False``: the event is dropped and counted in ``report``).
    Memory: one list of at most ``max_history`` ids per user seen so far.
    """
    for pairs in _pair_chunks(path, index, max_history, columns, chunk_size, strict, report):
        yield from pairs


def _located_chunks(
    path: StrPath,
    columns: ColumnMap | None,
    chunk_size: int,
    report: LoadReport | None,
    strict: bool,
) -> Iterator[_Located]:
    """Chunks of ``(location, interaction)``: the location names the file and line for errors."""
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1 (got {chunk_size})")
    path = Path(path)
    columns = columns or ColumnMap()
    report = report if report is not None else LoadReport(str(path))
    required = columns.required()
    if format_of(path) == "parquet":
        # Parquet decodes a whole batch at once: the chunk size bounds that batch too.
        records = parquet_records(path, required, batch_size=chunk_size)
    else:
        records = row_records(path, required, report, strict)
    chunk: _Located = []
    kept = 0
    for location, record in records:
        try:
            interaction = row_interaction(record, columns, kept)
        except RowError as error:
            reject_row(location, error, report, strict)
            continue
        kept += 1
        report.rows = kept
        chunk.append((location, interaction))
        if len(chunk) == chunk_size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class _RecentItems:
    """One user's last items (oldest first) and the time of their latest event."""

    __slots__ = ("items", "time")

    def __init__(self, time: float) -> None:
        self.items: list[str] = []
        self.time = time


def _pair_chunks(
    path: StrPath,
    index: Container[str],
    max_history: int,
    columns: ColumnMap | None,
    chunk_size: int,
    strict: bool,
    report: LoadReport | None,
) -> Iterator[list[_Pair]]:
    """The training pairs of each chunk of events, in log order."""
    if max_history < 1:
        raise ValueError(f"a stream needs max_history of at least 1 (got {max_history})")
    report = report if report is not None else LoadReport(str(path))
    recent: dict[str, _RecentItems] = {}
    for chunk in _located_chunks(path, columns, chunk_size, report, strict):
        pairs: list[_Pair] = []
        for location, x in chunk:
            if x.item not in index:
                error = RowError("item not in the item index", repr(x.item))
                reject_row(location, error, report, strict)
                continue
            # A missing timestamp sorts first, as in lmrec.data.schema.sort_by_time.
            time = x.timestamp if x.timestamp is not None else float("-inf")
            user = recent.get(x.user)
            if user is None:
                user = recent[x.user] = _RecentItems(time)
            elif time < user.time:
                raise DataFormatError(
                    location,
                    "timestamp goes backwards",
                    f"user {x.user!r} has an event at {user.time} before this one at {time}; "
                    "a streamed log must be sorted by time (or by user, then time)",
                )
            else:
                user.time = time
            if user.items:
                pairs.append((list(user.items), x.item))
            # Interned: each user's window then shares one string per item, not one per row.
            user.items.append(sys.intern(x.item))
            if len(user.items) > max_history:
                del user.items[0]
        yield pairs

"""Read interaction logs and item catalogues from files into a :class:`Dataset`.

- :func:`read_interactions`: a log in CSV/TSV, JSON Lines or Parquet (text formats may be
  gzip'd), with an optional catalogue file in the same formats.
- :func:`read_recbole`: RecBole atomic files (``X.inter`` and ``X.item``).
- :func:`read_sequences`: S3-Rec sequence files (``user item item ...``), with optional names.

Each file read gets a :class:`LoadReport`. A malformed row raises :class:`DataFormatError`, whose
message starts with ``"{path}:{line}: "``; with ``strict=False`` the row is dropped and counted
instead. Rows that are legitimately skipped (blank lines) are counted too: nothing is dropped
silently. ``Interaction.position`` is always the event's index in ``Dataset.interactions``.
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, Any, TypeAlias, TypeVar

from lmrec.data.schema import Catalog, Dataset, EventType, Interaction, Item, LoadReport

__all__ = [
    "ColumnMap",
    "DataFormatError",
    "ItemColumnMap",
    "read_catalog",
    "read_interactions",
    "read_recbole",
    "read_sequences",
]

logger = logging.getLogger(__name__)

StrPath: TypeAlias = str | os.PathLike[str]
_Record: TypeAlias = Mapping[str, Any]
_T = TypeVar("_T")

_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
}
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_NAME_PREFIX = "name_"
_RECBOLE_NAME_FIELDS = ("movie_title", "title", "name")
_RECBOLE_CATEGORY_FIELDS = ("class", "genre", "categories")


class DataFormatError(ValueError):
    """A malformed row. ``str(error)`` starts with ``"{path}:{line}: "`` (Parquet: ``row N``)."""

    def __init__(self, location: str, problem: str, detail: str = "") -> None:
        super().__init__(f"{location}: {problem}: {detail}" if detail else f"{location}: {problem}")
        self.location = location
        self.problem = problem
        self.detail = detail

    def __reduce__(self) -> tuple[type[DataFormatError], tuple[str, str, str]]:
        # Rebuilt from its parts, so it survives pickling (e.g. across worker processes).
        return type(self), (self.location, self.problem, self.detail)


class RowError(Exception):
    """A problem with one row, raised by the converters, which do not know the row's location."""

    def __init__(self, problem: str, detail: str = "") -> None:
        super().__init__(problem, detail)
        self.problem = problem
        self.detail = detail


@dataclass(frozen=True)
class ColumnMap:
    """Which column of a log file holds each :class:`Interaction` field.

    ``user`` and ``item`` must be in the file. The other columns are optional: one that is absent
    from the file, or mapped to None, reads as missing (no timestamp, a purchase, no rating).
    """

    user: str = "user"
    item: str = "item"
    timestamp: str | None = "timestamp"
    """Epoch seconds, or an ISO-8601 string (read as UTC when it has no zone)."""
    event: str | None = "event"
    """Read with :meth:`EventType.parse`; empty means a purchase."""
    rating: str | None = "rating"
    review: str | None = "review"
    summary: str | None = "summary"


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


# --- public readers ------------------------------------------------------------------------------


def read_interactions(
    path: StrPath,
    columns: ColumnMap | None = None,
    catalog_path: StrPath | None = None,
    item_columns: ItemColumnMap | None = None,
    name: str | None = None,
    strict: bool = True,
) -> Dataset:
    """Read a log (``.csv``, ``.tsv``, ``.jsonl``/``.json`` lines, ``.parquet``) by suffix.

    Without ``catalog_path`` the catalogue holds the log's items, bare, in first-seen order. With
    it, every logged item must be in the catalogue (``strict=False``: other events are dropped).
    """
    path = Path(path)
    columns = columns or ColumnMap()
    report = LoadReport(str(path))
    records = row_records(path, (columns.user, columns.item), report, strict)
    interactions = _collect(records, lambda r, i: row_interaction(r, columns, i), report, strict)
    reports = [report]
    if catalog_path is None:
        catalog = Catalog.from_ids(x.item for x in interactions)
    else:
        item_report = LoadReport(str(catalog_path))
        item_columns = item_columns or ItemColumnMap()
        item_records = row_records(Path(catalog_path), (item_columns.id,), item_report, strict)
        catalog = _read_catalog(item_records, item_columns, item_report, strict)
        reports.append(item_report)
        interactions = _only_known(interactions, catalog, path, Path(catalog_path), report, strict)
    return _dataset(interactions, catalog, name or _stem(path), reports)


def read_catalog(
    path: StrPath, columns: ItemColumnMap | None = None, strict: bool = True
) -> Catalog:
    """Read a catalogue file alone (``.csv``, ``.tsv``, ``.jsonl``, ``.parquet``), as
    :func:`read_interactions` reads its ``catalog_path`` (e.g. for a log that is streamed)."""
    path = Path(path)
    columns = columns or ItemColumnMap()
    report = LoadReport(str(path))
    catalog = _read_catalog(
        row_records(path, (columns.id,), report, strict), columns, report, strict
    )
    report.log()
    return catalog


def read_recbole(
    directory_or_prefix: StrPath, name: str | None = None, strict: bool = True
) -> Dataset:
    """Read RecBole atomic files: ``X.inter`` (user_id, item_id, rating, timestamp) and ``X.item``.

    ``directory_or_prefix`` is a directory holding a single ``*.inter`` file, or the path without
    suffix (``data/ml-100k``). The item name comes from the first field present of movie_title,
    title, name; the category from class, genre, categories (a token_seq is joined with ", ");
    a release_year is appended to the description. Without ``X.item`` the catalogue holds the
    log's bare ids. ``X.user`` is not read: the schema has no user attributes.
    """
    inter_path = _recbole_inter_path(Path(directory_or_prefix))
    report = LoadReport(str(inter_path))
    columns = ColumnMap(user="user_id", item="item_id", event=None, review=None, summary=None)
    _, records = _recbole_records(inter_path, ("user_id", "item_id"), report, strict)
    interactions = _collect(records, lambda r, i: row_interaction(r, columns, i), report, strict)
    reports = [report]
    item_path = inter_path.with_suffix(".item")
    if item_path.exists():
        item_report = LoadReport(str(item_path))
        catalog = _read_recbole_items(item_path, item_report, strict)
        reports.append(item_report)
        interactions = _only_known(interactions, catalog, inter_path, item_path, report, strict)
    else:
        catalog = Catalog.from_ids(x.item for x in interactions)
    return _dataset(interactions, catalog, name or inter_path.stem, reports)


def read_sequences(
    path: StrPath,
    names_path: StrPath | None = None,
    id_map_path: StrPath | None = None,
    name: str | None = None,
    strict: bool = True,
) -> Dataset:
    """Read an S3-Rec sequence file: ``user item item ...`` per line, integer ids, in time order.

    Timestamps are None; ``position`` runs over the whole file, so each user's order is the file
    order. ``names_path`` holds ``key name`` lines. Its keys are the file's item ids, or, with
    ``id_map_path`` (a P5 ``datamaps.json``), the values of its ``id2item`` (ASINs). Items with no
    name get ``name=None``.
    """
    path = Path(path)
    report = LoadReport(str(path))
    interactions = _read_sequence_lines(path, report, strict)
    reports = [report]
    names: dict[str, str] = {}
    if names_path is not None:
        names_report = LoadReport(str(names_path))
        names = _read_names(Path(names_path), names_report, strict)
        reports.append(names_report)
    if id_map_path is not None:
        if names_path is None:
            raise ValueError(f"{id_map_path}: an id map is only used with names_path")
        map_report = LoadReport(str(id_map_path))
        id2item = _read_id2item(Path(id_map_path), map_report)
        reports.append(map_report)
        names = {item: names[key] for item, key in id2item.items() if key in names}
    ids = dict.fromkeys(x.item for x in interactions)
    catalog = Catalog(Item(id=i, name=names.get(i)) for i in ids)
    unnamed = sum(1 for item in catalog.values() if item.name is None)
    if names_path is not None and unnamed:
        logger.warning("%s: %d of %d items have no name", path, unnamed, len(catalog))
    return _dataset(interactions, catalog, name or _stem(path), reports)


# --- files to records ----------------------------------------------------------------------------


def format_of(path: Path) -> str:
    """The file format named by ``path``'s suffix; a text format may be followed by ``.gz``."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes[-1:] == [".gz"]:
        suffixes.pop()
    fmt = _FORMATS.get(suffixes[-1] if suffixes else "")
    if fmt is None or (fmt == "parquet" and path.suffix.lower() == ".gz"):
        known = ", ".join(_FORMATS)
        raise ValueError(
            f"{path}: unknown file format {''.join(path.suffixes)!r} "
            f"(expected one of {known}; text formats may end in .gz)"
        )
    return fmt


def _open_text(path: Path) -> IO[str]:
    """Open UTF-8 text (with or without a byte-order mark), gunzipping a ``.gz`` file."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")  # the caller closes it


def row_records(
    path: Path, required: Iterable[str], report: LoadReport, strict: bool
) -> Iterator[tuple[str, _Record]]:
    """The rows of a table file as ``(location, record)`` pairs, in file order."""
    fmt = format_of(path)
    if fmt == "parquet":
        return parquet_records(path, required)
    if fmt == "jsonl":
        return _jsonl_records(path, report, strict)
    return _delimited_records(path, _DELIMITERS[fmt], required, report, strict)


def _check_columns(path: Path, present: list[str], required: Iterable[str]) -> None:
    for column in required:
        if column not in present:
            raise ValueError(
                f"{path}: missing required column {column!r} "
                f"(columns: {', '.join(present) or 'none'})"
            )


def _delimited_records(
    path: Path,
    delimiter: str,
    required: Iterable[str],
    report: LoadReport,
    strict: bool,
    rename: Callable[[str], str] = str.strip,
    quoting: int = csv.QUOTE_MINIMAL,
) -> Iterator[tuple[str, _Record]]:
    """CSV/TSV rows keyed by header name. The header is line 1; a quoted field may span lines."""
    with _open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        raw_header = next(reader, None)
        if raw_header is None:
            raise ValueError(f"{path}: empty file (expected a header row)")
        header = [rename(h) for h in raw_header]
        _check_columns(path, header, required)
        last_line = reader.line_num
        try:
            for row in reader:
                location = f"{path}:{last_line + 1}"
                last_line = reader.line_num
                if not row or (len(row) == 1 and not row[0].strip()):
                    report.drop("blank line")
                elif len(row) != len(header):
                    count = f"expected {len(header)}, found {len(row)}"
                    reject_row(location, RowError("wrong field count", count), report, strict)
                else:
                    yield location, dict(zip(header, row, strict=True))
        except csv.Error as error:  # e.g. a field over csv.field_size_limit(): cannot go on
            raise DataFormatError(f"{path}:{last_line + 1}", "unreadable row", str(error)) from None


def _jsonl_records(path: Path, report: LoadReport, strict: bool) -> Iterator[tuple[str, _Record]]:
    """One JSON object per line. Required fields are checked per record, as there is no header."""
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                report.drop("blank line")
                continue
            location = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                reject_row(location, RowError("invalid JSON", error.msg), report, strict)
                continue
            if isinstance(record, dict):
                yield location, record
            else:
                error = RowError("expected a JSON object", f"found {type(record).__name__}")
                reject_row(location, error, report, strict)


def parquet_records(
    path: Path, required: Iterable[str], batch_size: int = 65_536
) -> Iterator[tuple[str, _Record]]:
    """Parquet rows, ``batch_size`` rows decoded at a time; the location is ``path:row N``
    (N counts from 1)."""
    # Imported here: pyarrow takes a while to import and only Parquet files need it.
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    _check_columns(path, list(parquet.schema_arrow.names), required)
    number = 0
    # One reader per row group: a single iter_batches over the whole file holds on to arrow
    # memory as it goes (pyarrow 26: +90 MB over 10M rows in 100 row groups; flat this way).
    for group in range(parquet.num_row_groups):
        for batch in parquet.iter_batches(batch_size=batch_size, row_groups=[group]):
            for record in batch.to_pylist():
                number += 1
                yield f"{path}:row {number}", record


def reject_row(location: str, error: RowError, report: LoadReport, strict: bool) -> None:
    """Raise a malformed row's error, or (``strict=False``) count it as a drop."""
    failure = DataFormatError(location, error.problem, error.detail)
    if strict:
        raise failure
    reason = f"malformed: {error.problem}"
    if reason not in report.dropped:
        logger.warning("dropping rows like %s", failure)
    report.drop(reason)


def _collect(
    records: Iterable[tuple[str, _Record]],
    convert: Callable[[_Record, int], _T],
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


# --- records to schema objects -------------------------------------------------------------------


def row_interaction(record: _Record, columns: ColumnMap, position: int) -> Interaction:
    return Interaction(
        user=_identifier(record, columns.user, "user id"),
        item=_identifier(record, columns.item, "item id"),
        timestamp=_timestamp(_optional(record, columns.timestamp)),
        event=_event(_optional(record, columns.event)),
        rating=_number(_optional(record, columns.rating), "rating"),
        review=_text(_optional(record, columns.review)),
        summary=_text(_optional(record, columns.summary)),
        position=position,
    )


def _item(record: _Record, columns: ItemColumnMap) -> Item:
    names = {
        key[len(_NAME_PREFIX) :]: text
        for key, value in record.items()
        if key.startswith(_NAME_PREFIX) and len(key) > len(_NAME_PREFIX)
        if (text := _text(value)) is not None
    }
    return Item(
        id=_identifier(record, columns.id, "item id"),
        name=_text(_optional(record, columns.name)),
        category=_text(_optional(record, columns.category)),
        description=_text(_optional(record, columns.description)),
        language=_text(_optional(record, columns.language)),
        names=names,
    )


def _optional(record: _Record, column: str | None) -> Any:
    return None if column is None else record.get(column)


def _identifier(record: _Record, column: str, what: str) -> str:
    """A non-empty id string."""
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
        return _epoch(datetime.fromisoformat(value.strip()))
    except ValueError:
        detail = f"{value!r} is neither a number nor an ISO-8601 date"
        raise RowError("bad timestamp", detail) from None


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _event(value: Any) -> EventType:
    try:
        return EventType.parse(value)
    except ValueError:
        valid = ", ".join(e.value for e in EventType)
        raise RowError("unknown event type", f"{value!r} (expected {valid})") from None


def _text(value: Any) -> str | None:
    """Stripped text; None when empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# --- catalogues ----------------------------------------------------------------------------------


def _read_catalog(
    records: Iterable[tuple[str, _Record]],
    columns: ItemColumnMap,
    report: LoadReport,
    strict: bool,
    finish: Callable[[Item, _Record], Item] = lambda item, _record: item,
) -> Catalog:
    """Build a catalogue from records; ``finish`` adjusts each item. Ids must be unique."""
    seen: set[str] = set()

    def convert(record: _Record, _index: int) -> Item:
        item = finish(_item(record, columns), record)
        if item.id in seen:
            raise RowError("duplicate item id", repr(item.id))
        seen.add(item.id)
        return item

    return Catalog(_collect(records, convert, report, strict))


def _only_known(
    interactions: list[Interaction],
    catalog: Catalog,
    log_path: Path,
    catalog_path: Path,
    report: LoadReport,
    strict: bool,
) -> list[Interaction]:
    """Check every logged item is in the catalogue; ``strict=False`` drops those events."""
    unknown = list(dict.fromkeys(x.item for x in interactions if x.item not in catalog))
    if not unknown:
        return interactions
    message = (
        f"{log_path}: {len(unknown)} item id(s) are not in the catalogue {catalog_path} "
        f"(e.g. {', '.join(unknown[:5])})"
    )
    if strict:
        raise ValueError(message)
    logger.warning("%s; dropping their events", message)
    kept: list[Interaction] = []
    for x in interactions:
        if x.item in catalog:
            kept.append(replace(x, position=len(kept)))
        else:
            report.drop("item not in catalogue")
    report.rows = len(kept)
    return kept


# --- RecBole -------------------------------------------------------------------------------------


def _recbole_inter_path(location: Path) -> Path:
    if location.is_dir():
        found = sorted(location.glob("*.inter"))
        if len(found) != 1:
            names = ", ".join(p.name for p in found) or "none"
            raise ValueError(f"{location}: expected exactly one *.inter file, found {names}")
        return found[0]
    path = location if location.suffix == ".inter" else Path(f"{location}.inter")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such RecBole .inter file (from {location})")
    return path


def _recbole_records(
    path: Path, required: Iterable[str], report: LoadReport, strict: bool
) -> tuple[dict[str, str], Iterator[tuple[str, _Record]]]:
    """A RecBole atomic file's header as ``{name: type}`` and its rows keyed by field name.

    Fields are split at every tab, with no quoting, as RecBole's own files are written.
    """
    fields = _recbole_fields(path)
    records = _delimited_records(
        path, "\t", required, report, strict, rename=_recbole_name, quoting=csv.QUOTE_NONE
    )
    return fields, records


def _recbole_name(header_field: str) -> str:
    return header_field.partition(":")[0].strip()


def _recbole_fields(path: Path) -> dict[str, str]:
    """The header line as ``{name: type}``, e.g. ``{"rating": "float"}``."""
    with _open_text(path) as handle:
        header = handle.readline().rstrip("\r\n").split("\t")
    fields: dict[str, str] = {}
    for raw in header:
        name, colon, kind = raw.partition(":")
        if not colon or not name.strip():
            raise DataFormatError(f"{path}:1", "header field is not name:type", repr(raw))
        fields[name.strip()] = kind.strip()
    return fields


def _read_recbole_items(path: Path, report: LoadReport, strict: bool) -> Catalog:
    fields, records = _recbole_records(path, ("item_id",), report, strict)
    name = next((f for f in _RECBOLE_NAME_FIELDS if f in fields), None)
    category = next((f for f in _RECBOLE_CATEGORY_FIELDS if f in fields), None)
    columns = ItemColumnMap(id="item_id", name=name, category=category, language=None)
    join_category = category is not None and fields[category] == "token_seq"

    def finish(item: Item, record: _Record) -> Item:
        year = _text(record.get("release_year"))
        description = item.description
        if year and year.isdigit():  # ml-100k spells an unknown year "unkonwn"
            description = f"{description}; released {year}" if description else f"released {year}"
        genres = ", ".join(item.category.split()) if join_category and item.category else None
        return replace(item, description=description, category=genres or item.category)

    return _read_catalog(records, columns, report, strict, finish)


# --- sequence files ------------------------------------------------------------------------------


def _read_sequence_lines(path: Path, report: LoadReport, strict: bool) -> list[Interaction]:
    interactions: list[Interaction] = []
    lines = 0
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens:
                report.drop("blank line")
                continue
            if len(tokens) == 1:
                report.drop("user with no items")
                continue
            bad = next((t for t in tokens if not (t.isascii() and t.isdigit())), None)
            if bad is not None:
                error = RowError("non-integer token", f"{bad!r} (ids must be whole numbers)")
                reject_row(f"{path}:{number}", error, report, strict)
                continue
            user = tokens[0]
            start = len(interactions)
            interactions.extend(
                Interaction(user=user, item=item, position=start + offset)
                for offset, item in enumerate(tokens[1:])
            )
            lines += 1
    report.rows = lines
    return interactions


def _read_names(path: Path, report: LoadReport, strict: bool) -> dict[str, str]:
    """``key name`` lines (split at the first whitespace); a key with no name is counted."""
    names: dict[str, str] = {}
    with _open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split(maxsplit=1)
            if not parts:
                report.drop("blank line")
            elif len(parts) == 1 or not parts[1].strip():
                report.drop("key with no name")
            elif parts[0] in names:
                error = RowError("duplicate key", repr(parts[0]))
                reject_row(f"{path}:{number}", error, report, strict)
            else:
                names[parts[0]] = parts[1].strip()
    report.rows = len(names)
    return names


def _read_id2item(path: Path, report: LoadReport) -> dict[str, str]:
    """The ``id2item`` map (file item id -> key such as an ASIN) of a P5 ``datamaps.json``."""
    with _open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataFormatError(f"{path}:{error.lineno}", "invalid JSON", error.msg) from None
    id2item = data.get("id2item") if isinstance(data, dict) else None
    if not isinstance(id2item, dict):
        raise ValueError(f"{path}: expected a JSON object with an 'id2item' object (datamaps.json)")
    report.rows = len(id2item)
    return {str(k): str(v) for k, v in id2item.items()}


# --- helpers -------------------------------------------------------------------------------------


def _stem(path: Path) -> str:
    """A file's name without its format suffix (``reviews.json.gz`` -> ``reviews``)."""
    return Path(path.name.removesuffix(".gz")).stem


def _dataset(
    interactions: list[Interaction], catalog: Catalog, name: str, reports: list[LoadReport]
) -> Dataset:
    for report in reports:
        report.log()
    return Dataset(interactions=interactions, catalog=catalog, name=name, reports=reports)

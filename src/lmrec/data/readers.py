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
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path

# format_of, parquet_records, reject_row, row_interaction, row_records and RowError are
# re-exported: lmrec.data.stream imports them from here.
from lmrec.data.formats import (
    DataFormatError,
    Record,
    RowError,
    StrPath,
    delimited_records,
    format_of,
    open_text,
    parquet_records,
    reject_row,
    row_records,
)
from lmrec.data.rows import (
    DEFAULT_RATING_RANGE,
    ColumnMap,
    ItemColumnMap,
    RatingRange,
    TimestampUnit,
    collect,
    not_empty,
    row_interaction,
    row_item,
    text_field,
)
from lmrec.data.schema import Catalog, Dataset, EventType, Interaction, Item, LoadReport
from lmrec.data.sequences import attribute_tags, id2item_map, name_lines, sequence_interactions

__all__ = [
    "DEFAULT_RATING_RANGE",
    "ColumnMap",
    "DataFormatError",
    "ItemColumnMap",
    "RatingRange",
    "RowError",
    "StrPath",
    "format_of",
    "parquet_records",
    "read_catalog",
    "read_interactions",
    "read_recbole",
    "read_sequences",
    "reject_row",
    "row_interaction",
    "row_records",
]

logger = logging.getLogger(__name__)

_RECBOLE_NAME_FIELDS = ("movie_title", "title", "name")
_RECBOLE_CATEGORY_FIELDS = ("class", "genre", "categories")


# --- public readers ------------------------------------------------------------------------------


def read_interactions(
    path: StrPath,
    columns: ColumnMap | None = None,
    catalog_path: StrPath | None = None,
    item_columns: ItemColumnMap | None = None,
    name: str | None = None,
    strict: bool = True,
    rating_range: RatingRange | None = DEFAULT_RATING_RANGE,
    event_map: Mapping[str, EventType] | None = None,
    skip_unknown: bool = False,
) -> Dataset:
    """Read a log (``.csv``, ``.tsv``, ``.jsonl``/``.json`` lines, ``.parquet``) by suffix.

    Without ``catalog_path`` the catalogue holds the log's items, bare, in first-seen order. With
    it, every logged item must be in the catalogue; ``skip_unknown`` (or ``strict=False``) drops
    the events of other items instead, counted in the log's report as "item not in catalogue".
    Ratings outside ``rating_range`` (inclusive; None: any) are malformed rows. A file that is
    entirely in epoch milliseconds is read as such; one that mixes units is refused.
    ``event_map`` (lower-case name -> type, see :func:`~lmrec.data.schema.parse_event_map`)
    reads a log's own event names beyond the built-in aliases.
    """
    path = Path(path)
    columns = columns or ColumnMap()
    report = LoadReport(str(path))
    records = row_records(path, columns.required(), report, strict)
    interactions = _log_rows(path, records, columns, report, strict, rating_range, event_map)
    reports = [report]
    if catalog_path is None:
        catalog = Catalog.from_ids(x.item for x in interactions)
    else:
        item_report = LoadReport(str(catalog_path))
        item_columns = item_columns or ItemColumnMap()
        item_records = row_records(Path(catalog_path), item_columns.required(), item_report, strict)
        catalog = _read_catalog(item_records, item_columns, item_report, strict)
        reports.append(item_report)
        drop = skip_unknown or not strict
        interactions = _only_known(interactions, catalog, path, Path(catalog_path), report, drop)
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
        row_records(path, columns.required(), report, strict), columns, report, strict
    )
    report.log()
    return catalog


def read_recbole(
    directory_or_prefix: StrPath,
    name: str | None = None,
    strict: bool = True,
    rating_range: RatingRange | None = DEFAULT_RATING_RANGE,
    skip_unknown: bool = False,
) -> Dataset:
    """Read RecBole atomic files: ``X.inter`` (user_id, item_id, rating, timestamp) and ``X.item``.

    ``directory_or_prefix`` is a directory holding a single ``*.inter`` file, or the path without
    suffix (``data/ml-100k``). The item name comes from the first field present of movie_title,
    title, name; the category from class, genre, categories (a token_seq is joined with ", ");
    a release_year is appended to the description. Without ``X.item`` the catalogue holds the
    log's bare ids. ``X.user`` is not read: the schema has no user attributes. Ratings and
    timestamps are checked as :func:`read_interactions` checks them, and ``skip_unknown`` drops
    (and counts) events of items that ``X.item`` lacks as it does there.
    """
    inter_path = _recbole_inter_path(Path(directory_or_prefix))
    report = LoadReport(str(inter_path))
    columns = ColumnMap(user="user_id", item="item_id", event=None, review=None, summary=None)
    _, records = _recbole_records(inter_path, ("user_id", "item_id"), report, strict)
    interactions = _log_rows(inter_path, records, columns, report, strict, rating_range)
    reports = [report]
    item_path = inter_path.with_suffix(".item")
    if item_path.exists():
        item_report = LoadReport(str(item_path))
        catalog = _read_recbole_items(item_path, item_report, strict)
        reports.append(item_report)
        drop = skip_unknown or not strict
        interactions = _only_known(interactions, catalog, inter_path, item_path, report, drop)
    else:
        catalog = Catalog.from_ids(x.item for x in interactions)
    return _dataset(interactions, catalog, name or inter_path.stem, reports)


def read_sequences(
    path: StrPath,
    names_path: StrPath | None = None,
    id_map_path: StrPath | None = None,
    name: str | None = None,
    strict: bool = True,
    attributes_path: StrPath | None = None,
) -> Dataset:
    """Read an S3-Rec sequence file: ``user item item ...`` per line, integer ids, in time order.

    Timestamps are None; ``position`` runs over the whole file, so each user's order is the file
    order. ``names_path`` holds ``key name`` lines. Its keys are the file's item ids, or, with
    ``id_map_path`` (a P5 ``datamaps.json``), the values of its ``id2item`` (ASINs). Items with no
    name get ``name=None``. ``attributes_path``: an S3-Rec ``*_item2attributes.json`` whose
    attribute ids become each item's ``category`` as tags (``"attribute 1|attribute 2"``, see
    ``ItemTextConfig.tags``); items it does not list get none.
    """
    path = Path(path)
    report = LoadReport(str(path))
    interactions = sequence_interactions(path, report, strict)
    reports = [report]
    names: dict[str, str] = {}
    if names_path is not None:
        names_report = LoadReport(str(names_path))
        names = name_lines(Path(names_path), names_report, strict)
        reports.append(names_report)
    if id_map_path is not None:
        if names_path is None:
            raise ValueError(f"{id_map_path}: an id map is only used with names_path")
        map_report = LoadReport(str(id_map_path))
        id2item = id2item_map(Path(id_map_path), map_report)
        reports.append(map_report)
        names = {item: names[key] for item, key in id2item.items() if key in names}
    tags: dict[str, str] = {}
    if attributes_path is not None:
        tags_report = LoadReport(str(attributes_path))
        tags = attribute_tags(Path(attributes_path), tags_report)
        reports.append(tags_report)
    ids = dict.fromkeys(x.item for x in interactions)
    catalog = Catalog(Item(id=i, name=names.get(i), category=tags.get(i) or None) for i in ids)
    unnamed = sum(1 for item in catalog.values() if item.name is None)
    if names_path is not None and unnamed:
        logger.warning("%s: %d of %d items have no name", path, unnamed, len(catalog))
    return _dataset(interactions, catalog, name or _stem(path), reports)


def _log_rows(
    path: Path,
    records: Iterable[tuple[str, Record]],
    columns: ColumnMap,
    report: LoadReport,
    strict: bool,
    rating_range: RatingRange | None,
    event_map: Mapping[str, EventType] | None = None,
) -> list[Interaction]:
    """A log's events, checked; one :class:`TimestampUnit` spans the file."""
    unit = TimestampUnit()

    def convert(record: Record, position: int) -> Interaction:
        return row_interaction(record, columns, position, rating_range, unit, event_map)

    interactions = not_empty(collect(records, convert, report, strict), report)
    if unit.milliseconds:
        logger.info("%s: timestamps in epoch milliseconds, read as seconds", path)
    return interactions


# --- catalogues ----------------------------------------------------------------------------------


def _read_catalog(
    records: Iterable[tuple[str, Record]],
    columns: ItemColumnMap,
    report: LoadReport,
    strict: bool,
    finish: Callable[[Item, Record], Item] = lambda item, _record: item,
) -> Catalog:
    """Build a catalogue from records; ``finish`` adjusts each item. Ids must be unique."""
    seen: set[str] = set()

    def convert(record: Record, _index: int) -> Item:
        item = finish(row_item(record, columns), record)
        if item.id in seen:
            raise RowError("duplicate item id", repr(item.id))
        seen.add(item.id)
        return item

    return Catalog(not_empty(collect(records, convert, report, strict), report))


def _only_known(
    interactions: list[Interaction],
    catalog: Catalog,
    log_path: Path,
    catalog_path: Path,
    report: LoadReport,
    drop: bool,
) -> list[Interaction]:
    """Check every logged item is in the catalogue; with ``drop``, drop (and count) the events
    of unknown items instead of refusing the log."""
    unknown = list(dict.fromkeys(x.item for x in interactions if x.item not in catalog))
    if not unknown:
        return interactions
    message = (
        f"{log_path}: {len(unknown)} item id(s) are not in the catalogue {catalog_path} "
        f"(e.g. {', '.join(unknown[:5])})"
    )
    if not drop:
        raise ValueError(f"{message}; skip_unknown=True (--skip-unknown) skips their events")
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
) -> tuple[dict[str, str], Iterator[tuple[str, Record]]]:
    """A RecBole atomic file's header as ``{name: type}`` and its rows keyed by field name.

    Fields are split at every tab, with no quoting, as RecBole's own files are written.
    """
    fields = _recbole_fields(path)
    records = delimited_records(
        path, "\t", required, report, strict, rename=_recbole_name, quoting=csv.QUOTE_NONE
    )
    return fields, records


def _recbole_name(header_field: str) -> str:
    return header_field.partition(":")[0].strip()


def _recbole_fields(path: Path) -> dict[str, str]:
    """The header line as ``{name: type}``, e.g. ``{"rating": "float"}``."""
    with open_text(path) as handle:
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

    def finish(item: Item, record: Record) -> Item:
        year = text_field(record.get("release_year"))
        description = item.description
        if year and year.isdigit():  # ml-100k spells an unknown year "unkonwn"
            description = f"{description}; released {year}" if description else f"released {year}"
        genres = ", ".join(item.category.split()) if join_category and item.category else None
        return replace(item, description=description, category=genres or item.category)

    return _read_catalog(records, columns, report, strict, finish)


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

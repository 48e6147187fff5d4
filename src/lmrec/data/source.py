"""Where a run's data comes from: one config naming the file and how to read it, and the
function that reads it (the format guessed from the path unless given)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

from lmrec.data.readers import (
    DEFAULT_RATING_RANGE,
    ColumnMap,
    ItemColumnMap,
    RatingRange,
    read_interactions,
    read_recbole,
    read_sequences,
)
from lmrec.data.schema import Dataset, EventType, parse_event_map
from lmrec.data.sportshop import make_sportshop

BUILTIN = "builtin"
FORMATS = ("auto", "builtin", "table", "recbole", "sequences", "names")
FieldMap = TypeVar("FieldMap", ColumnMap, ItemColumnMap)


@dataclass(frozen=True)
class DataConfig:
    """The interaction log a run reads, and how.

    path: 'builtin' (the sports shop), a RecBole directory or .inter file, an S3-Rec sequence
        file (.txt), or a CSV/TSV/JSONL/Parquet log.
    format: how to read the data: auto (guessed from its path), builtin, table, recbole,
        sequences, or names (an 'Input,Output' CSV of purchased item names and the next one's
        name, which 'lmrec train --format names' trains a named-items model on).
    catalog: item catalogue file for a table log (CSV/JSONL/Parquet).
    columns: which column of a table log holds each field, e.g. 'user=uid,item=sku,timestamp=ts'
        (fields: user, item, timestamp, event, rating, review, summary).
    names: item names file ('key name' lines) for a sequence file.
    id_map: P5 datamaps.json mapping sequence ids to the names' keys.
    events: keep only these event types (view, bookmark, cart, purchase); empty keeps all.
    first_only: keep each user's first event per item only (distinct items in order of
        contact).
    users: users generated for the built-in shop.
    data_seed: seed of the built-in shop's generator.
    catalog_columns: which column of the catalogue holds each item field, e.g.
        'item=sku,name=title' (fields: item (or id), name, category, description, language;
        name_<lang> columns are read as they are).
    event_map: a log's own event names as name=type, e.g. 'view_item=view,checkout=cart'
        (beyond the built-in aliases such as add_to_cart, purchases; names match in any case).
    skip_unknown: skip (and count) events of items the catalogue lacks instead of stopping.
    rating_range: the rating scale LOW-HIGH (inclusive); a rating outside it is a malformed
        row.
    """

    path: str | None = None
    format: str = "auto"
    catalog: str | None = None
    columns: ColumnMap = field(default_factory=ColumnMap)
    names: str | None = None
    id_map: str | None = None
    events: tuple[str, ...] = ()
    first_only: bool = False
    users: int = 600
    data_seed: int = 0
    catalog_columns: ItemColumnMap = field(default_factory=ItemColumnMap)
    event_map: tuple[str, ...] = ()
    skip_unknown: bool = False
    rating_range: RatingRange = DEFAULT_RATING_RANGE

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"unknown data format {self.format!r} (known: {', '.join(FORMATS)})")
        for event in self.events:
            EventType.parse(event)
        object.__setattr__(self, "events", tuple(self.events))
        object.__setattr__(self, "event_map", tuple(self.event_map))
        parse_event_map(self.event_map)
        low, high = self.rating_range
        if not low < high:
            raise ValueError(f"rating range {low:g}-{high:g} is empty (expected LOW-HIGH)")
        object.__setattr__(self, "rating_range", (float(low), float(high)))

    def event_types(self) -> dict[str, EventType]:
        """:attr:`event_map` as ``{lower-case name: EventType}``."""
        return parse_event_map(self.event_map)


def parse_columns(text: str) -> ColumnMap:
    """``'user=uid,item=sku'`` -> a :class:`ColumnMap` (unnamed fields keep their default)."""
    return _parse_field_map(text, ColumnMap, "columns")


def parse_catalog_columns(text: str) -> ItemColumnMap:
    """``'item=sku,name=title'`` -> an :class:`ItemColumnMap` (``item`` is the ``id`` field,
    spelled as a log's columns are; unnamed fields keep their default)."""
    return _parse_field_map(text, ItemColumnMap, "catalog columns", {"item": "id"})


def _parse_field_map(
    text: str, cls: type[FieldMap], what: str, aliases: Mapping[str, str] | None = None
) -> FieldMap:
    """``'field=column,...'`` -> ``cls(**mapping)``; ``aliases`` spell fields as the option
    does (the catalogue's ``id`` is ``item``), and errors name the option (``what``)."""
    if not text:
        return cls()
    aliases = aliases or {}
    known = {f.name for f in fields(cls)}
    mapping = {}
    for part in text.split(","):
        if "=" not in part:
            raise ValueError(f"{what} entry {part!r} is not field=column")
        key, value = (s.strip() for s in part.split("=", 1))
        key = aliases.get(key, key)
        if key not in known:
            shown = sorted(known - set(aliases.values()) | set(aliases))
            raise ValueError(f"{what} field {key!r} unknown (known: {shown})")
        mapping[key] = value
    return cls(**mapping)


def parse_rating_range(text: str) -> RatingRange:
    """``'0.5-5'`` -> ``(0.5, 5.0)``."""
    low, dash, high = text.partition("-")
    try:
        if not dash:
            raise ValueError
        bounds = float(low), float(high)
    except ValueError:
        raise ValueError(f"rating range {text!r} is not LOW-HIGH (e.g. 1-5, 0.5-5)") from None
    if not bounds[0] < bounds[1]:
        raise ValueError(f"rating range {text!r} is empty (expected LOW-HIGH with LOW < HIGH)")
    return bounds


def data_format(config: DataConfig) -> str:
    """The config's format, guessed from its path when 'auto'."""
    if config.format != "auto":
        return config.format
    path = Path(config.path or "")
    if config.path == BUILTIN:
        return "builtin"
    if path.is_dir() or path.suffix == ".inter":
        return "recbole"
    if path.suffix == ".txt":
        return "sequences"
    return "table"


def load_dataset(config: DataConfig) -> Dataset:
    """Read the data ``config`` names; then keep only its ``events`` / ``first_only``."""
    if config.path is None:
        raise ValueError("no data given (--data)")
    kind = data_format(config)
    path = Path(config.path)
    if kind != "builtin" and not path.exists():
        raise FileNotFoundError(f"data file {path} does not exist")
    if kind == "names":
        # Rows of names, no users or item ids: lmrec.data.t5p5.read_names_csv reads them.
        raise ValueError(
            f"{path} is a names file (Input,Output): it trains with 'lmrec train --format names' "
            "and is no interaction log"
        )
    if kind == "builtin":
        dataset = make_sportshop(n_users=config.users, seed=config.data_seed)
    elif kind == "recbole":
        dataset = read_recbole(
            path, rating_range=config.rating_range, skip_unknown=config.skip_unknown
        )
    elif kind == "sequences":
        dataset = read_sequences(path, names_path=config.names, id_map_path=config.id_map)
    else:
        dataset = read_interactions(
            path,
            config.columns,
            catalog_path=config.catalog,
            item_columns=config.catalog_columns,
            rating_range=config.rating_range,
            event_map=config.event_types(),
            skip_unknown=config.skip_unknown,
        )
    if config.events or config.first_only:
        events = [EventType.parse(e) for e in config.events] or None
        dataset = dataset.select(events, first_only=config.first_only)
    return dataset

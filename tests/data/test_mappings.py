"""A shop's own names: event aliases, event maps, catalogue column maps, unknown items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmrec.config import from_dict, to_dict
from lmrec.data import ColumnMap, EventType, ItemColumnMap, read_catalog, read_interactions
from lmrec.data.schema import EVENT_ALIASES, parse_event_map
from lmrec.data.source import DataConfig, load_dataset, parse_catalog_columns, parse_rating_range


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("event", list(EventType))
def test_every_event_type_has_its_plural_and_past_tense(event):
    past = {"view": "viewed", "bookmark": "bookmarked", "cart": "carted", "purchase": "purchased"}
    assert EventType.parse(event.value + "s") is event
    assert EventType.parse(past[event.value].upper()) is event


def test_ga4_names_are_built_in():
    assert [EventType.parse(n) for n in ("view_item", "add_to_wishlist", "add_to_cart")] == [
        EventType.VIEW,
        EventType.BOOKMARK,
        EventType.CART,
    ]
    assert all(name == name.lower() for name in EVENT_ALIASES)


def test_event_map_parses_and_overrides_the_aliases():
    mapping = parse_event_map("Begin_Checkout=cart, click=purchases")
    assert mapping == {"begin_checkout": EventType.CART, "click": EventType.PURCHASE}
    assert EventType.parse("BEGIN_CHECKOUT", mapping) is EventType.CART
    assert EventType.parse("click", mapping) is EventType.PURCHASE
    assert EventType.parse("click") is EventType.VIEW
    assert parse_event_map(["a=view", ""]) == {"a": EventType.VIEW}
    with pytest.raises(ValueError, match="'checkout' is not name=type"):
        parse_event_map("checkout")
    with pytest.raises(ValueError, match="unknown event type 'teleport'"):
        parse_event_map("checkout=teleport")


def test_event_map_in_a_log(tmp_path: Path):
    log = _write(tmp_path / "log.csv", "user,item,event\nu1,a,begin_checkout\nu1,b,view_item\n")
    with pytest.raises(ValueError, match="2: unknown event type: 'begin_checkout'"):
        read_interactions(log)
    data = read_interactions(log, event_map={"begin_checkout": EventType.CART})
    assert [x.event for x in data.interactions] == [EventType.CART, EventType.VIEW]


def test_catalogue_columns_from_text():
    assert parse_catalog_columns("item=sku,name=title") == ItemColumnMap(id="sku", name="title")
    assert parse_catalog_columns("id=sku") == ItemColumnMap(id="sku")
    assert parse_catalog_columns("") == ItemColumnMap()
    with pytest.raises(ValueError, match="catalog columns field 'price' unknown"):
        parse_catalog_columns("price=cost")


def test_rating_range_from_text():
    assert parse_rating_range("0.5-5") == (0.5, 5.0)
    assert parse_rating_range("1 - 10") == (1.0, 10.0)
    for bad in ("5", "5-1", "a-b"):
        with pytest.raises(ValueError, match="rating range"):
            parse_rating_range(bad)


def test_a_shop_log_through_the_data_config(tmp_path: Path):
    """Foreign column and event names, ISO and unix times, a catalogue keyed by sku."""
    log = _write(
        tmp_path / "log.csv",
        "customer_id,sku,ts,event_type,stars\n"
        "c1,S1,2024-01-02T10:00:00,view_item,\n"
        "c1,S1,1704189600,add_to_cart,\n"
        "c1,S9,1704189700,purchase,0.5\n"
        "c1,S2,2024-01-02T10:05:00+00:00,checkout,4.5\n",
    )
    items = _write(tmp_path / "items.csv", "sku,title\nS1,Ball\nS2,Bat\n")
    config = DataConfig(
        path=str(log),
        catalog=str(items),
        columns=DataConfig().columns.__class__(
            user="customer_id", item="sku", timestamp="ts", event="event_type", rating="stars"
        ),
        catalog_columns=parse_catalog_columns("item=sku,name=title"),
        event_map=("checkout=purchase",),
        skip_unknown=True,
        rating_range=(0.5, 5.0),
    )
    data = load_dataset(config)
    assert [(x.user, x.item, x.timestamp, x.event, x.rating) for x in data.interactions] == [
        ("c1", "S1", 1704189600.0, EventType.VIEW, None),
        ("c1", "S1", 1704189600.0, EventType.CART, None),
        ("c1", "S2", 1704189900.0, EventType.PURCHASE, 4.5),
    ]
    assert data.catalog.name("S2") == "Bat"
    assert data.reports[0].dropped == {"item not in catalogue": 1}
    with pytest.raises(ValueError, match="not in the catalogue"):
        load_dataset(DataConfig(**{**config.__dict__, "skip_unknown": False}))


def test_the_mappings_survive_a_run_file_round_trip():
    config = DataConfig(
        path="log.csv",
        catalog_columns=ItemColumnMap(id="sku"),
        event_map=("view_item=view",),
        skip_unknown=True,
        rating_range=(0.5, 5),
    )
    assert from_dict(DataConfig, json.loads(json.dumps(to_dict(config)))) == config
    with pytest.raises(ValueError, match="rating range 5-1 is empty"):
        DataConfig(rating_range=(5, 1))
    with pytest.raises(ValueError, match="'oops' is not name=type"):
        DataConfig(event_map=("oops",))


def test_a_column_mapped_by_name_must_be_in_the_file(tmp_path):
    log = _write(tmp_path / "log.csv", "customer,sku\nc1,A\nc1,B\n")
    catalog = _write(tmp_path / "items.csv", "sku,name\nA,Ball\nB,Bat\n")
    columns = ColumnMap(user="customer", item="sku", timestamp="ts")
    with pytest.raises(ValueError, match=r"log.csv: missing required column 'ts'"):
        read_interactions(log, columns)
    with pytest.raises(ValueError, match=r"items.csv: missing required column 'title'"):
        read_catalog(catalog, ItemColumnMap(id="sku", name="title"))
    # Columns left at their default names stay optional.
    assert len(read_interactions(log, ColumnMap(user="customer", item="sku")).interactions) == 2
    assert read_catalog(catalog, ItemColumnMap(id="sku"))["A"].name == "Ball"

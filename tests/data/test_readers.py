"""File readers: small hand-written files with known contents, and the shared research data."""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmrec.data import (
    ColumnMap,
    DataFormatError,
    Dataset,
    EventType,
    Interaction,
    Item,
    ItemColumnMap,
    read_interactions,
    read_recbole,
    read_sequences,
)

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
NEW_YEAR_2020 = 1577836800.0  # 2020-01-01T00:00:00Z


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- CSV, TSV, JSON Lines, Parquet ---------------------------------------------------------------


def test_csv_reads_every_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "log.csv",
        "user,item,timestamp,event,rating,review,summary\n"
        "u1,i1,1577836800,view,,,\n"
        'u1,i2,2020-01-01T00:00:00Z,add_to_cart,4,"Good grip, light",Nice\n'
        "u2,i1,2020-01-01T03:00:00+02:00,,5.0,,\n",
    )
    data = read_interactions(path)
    assert data.interactions == [
        Interaction("u1", "i1", NEW_YEAR_2020, EventType.VIEW, None, None, None, 0),
        Interaction("u1", "i2", NEW_YEAR_2020, EventType.CART, 4.0, "Good grip, light", "Nice", 1),
        Interaction("u2", "i1", NEW_YEAR_2020 + 3600, EventType.PURCHASE, 5.0, None, None, 2),
    ]
    assert list(data.catalog.values()) == [Item("i1"), Item("i2")]
    assert data.name == "log"
    assert [(r.source, r.rows, r.dropped) for r in data.reports] == [(str(path), 3, {})]


def test_tsv_with_a_column_map_and_no_optional_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "clicks.tsv", "uid\tsku\tts\n7\tA-1\t2020-01-01\n\n8\tA-2\t10\n")
    data = read_interactions(path, ColumnMap(user="uid", item="sku", timestamp="ts"), name="shop")
    assert data.interactions == [
        Interaction("7", "A-1", NEW_YEAR_2020, position=0),
        Interaction("8", "A-2", 10.0, position=1),
    ]
    assert data.name == "shop"
    assert data.reports[0].dropped == {"blank line": 1}


def test_jsonl_converts_numbers_to_id_strings(tmp_path: Path) -> None:
    lines = [
        {"user": 1, "item": 20.0, "timestamp": 5, "rating": 3, "event": "Purchase"},
        {"user": "2", "item": "21", "review": "fine", "summary": None},
    ]
    path = _write(tmp_path / "log.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    data = read_interactions(path)
    assert data.interactions == [
        Interaction("1", "20", 5.0, EventType.PURCHASE, 3.0, position=0),
        Interaction("2", "21", review="fine", position=1),
    ]
    assert data.reports[0].dropped == {"blank line": 1}


def test_gzipped_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "reviews.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"reviewerID": "A", "asin": "B", "overall": 5.0}) + "\n")
    data = read_interactions(path, ColumnMap(user="reviewerID", item="asin", rating="overall"))
    assert data.interactions == [Interaction("A", "B", rating=5.0)]
    assert data.name == "reviews"


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    table = pa.table(
        {
            "user": pa.array([1, 2], pa.int64()),
            "item": ["i1", "i2"],
            "timestamp": pa.array([datetime(2020, 1, 1), None], pa.timestamp("s")),
            "rating": [4.5, None],
            "event": ["cart", "view"],
        }
    )
    pq.write_table(table, path)
    data = read_interactions(path)
    assert data.interactions == [
        Interaction("1", "i1", NEW_YEAR_2020, EventType.CART, 4.5, position=0),
        Interaction("2", "i2", None, EventType.VIEW, None, position=1),
    ]


def test_parquet_error_names_the_row(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"user": ["u", "u"], "item": ["a", "b"], "rating": ["1", "x"]}), path)
    with pytest.raises(DataFormatError) as caught:
        read_interactions(path)
    assert str(caught.value) == f"{path}:row 2: non-numeric rating: 'x'"


def test_catalogue_file_with_arabic_names(tmp_path: Path) -> None:
    log = _write(tmp_path / "log.csv", "user,item\nu1,SOC-02\n")
    items = _write(
        tmp_path / "items.csv",
        "item,name,name_ar,category,description,language,tier\n"
        "SOC-01,Soccer Ball,كرة قدم,soccer,A size 5 ball.,en,mid\n"
        "SOC-02,Soccer Cleats,,soccer,,,premium\n",
    )
    data = read_interactions(log, catalog_path=items)
    assert list(data.catalog.values()) == [
        Item("SOC-01", "Soccer Ball", "soccer", "A size 5 ball.", "en", {"ar": "كرة قدم"}),
        Item("SOC-02", "Soccer Cleats", "soccer"),
    ]
    assert data.catalog.name("SOC-01", "ar") == "كرة قدم"
    assert [(r.source, r.rows) for r in data.reports] == [(str(log), 1), (str(items), 2)]


def test_catalogue_with_renamed_columns_in_json_lines(tmp_path: Path) -> None:
    log = _write(tmp_path / "log.csv", "user,item\nu1,7\n")
    items = _write(tmp_path / "items.jsonl", '{"sku": 7, "title": "Bat", "name_fr": "Batte"}\n')
    data = read_interactions(log, catalog_path=items, item_columns=ItemColumnMap("sku", "title"))
    assert list(data.catalog.values()) == [Item("7", "Bat", names={"fr": "Batte"})]


def test_logged_item_missing_from_the_catalogue(tmp_path: Path) -> None:
    log = _write(tmp_path / "log.csv", "user,item\nu1,a\nu1,x\nu2,y\nu2,a\n")
    items = _write(tmp_path / "items.csv", "item,name\na,Ball\n")
    with pytest.raises(ValueError) as caught:
        read_interactions(log, catalog_path=items)
    assert str(caught.value) == (
        f"{log}: 2 item id(s) are not in the catalogue {items} (e.g. x, y); "
        "skip_unknown=True (--skip-unknown) skips their events"
    )
    for lenient in ({"strict": False}, {"skip_unknown": True}):
        data = read_interactions(log, catalog_path=items, **lenient)
        assert data.interactions == [
            Interaction("u1", "a", position=0),
            Interaction("u2", "a", position=1),
        ]
        assert data.reports[0].dropped == {"item not in catalogue": 2}
        assert data.reports[0].rows == 2


def test_skip_unknown_keeps_malformed_rows_fatal(tmp_path: Path) -> None:
    log = _write(tmp_path / "log.csv", "user,item,rating\nu1,a,4\nu1,x,9\n")
    items = _write(tmp_path / "items.csv", "item,name\na,Ball\n")
    with pytest.raises(DataFormatError, match="log.csv:3: rating out of range"):
        read_interactions(log, catalog_path=items, skip_unknown=True)


def test_duplicate_catalogue_id(tmp_path: Path) -> None:
    log = _write(tmp_path / "log.csv", "user,item\nu1,a\n")
    items = _write(tmp_path / "items.csv", "item,name\na,Ball\na,Bat\n")
    with pytest.raises(DataFormatError) as caught:
        read_interactions(log, catalog_path=items)
    assert str(caught.value) == f"{items}:3: duplicate item id: 'a'"


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        (
            "a.csv",
            "user,item,rating\nu1,i1,4\nu1,i2\n",
            "3: wrong field count: expected 3, found 2",
        ),
        ("a.csv", "user,item,rating\nu1,i1,four\n", "2: non-numeric rating: 'four'"),
        # A quoted field spanning two lines: the next row starts on line 4.
        (
            "a.csv",
            'user,item,review\nu1,i1,"line one\nline two"\nu2,i2,ok,extra\n',
            "4: wrong field count: expected 3, found 4",
        ),
        (
            "a.csv",
            "user,item,timestamp\nu1,i1,yesterday\n",
            "2: bad timestamp: 'yesterday' is neither a number nor an ISO-8601 date",
        ),
        ("a.csv", "user,item,rating\nu1,i1,inf\n", "2: non-finite rating: 'inf'"),
        ("a.csv", "user,item\n ,i1\n", "2: empty user id"),
        (
            "a.csv",
            "user,item,event\nu1,i1,borrow\n",
            "2: unknown event type: 'borrow' (expected view, bookmark, cart, purchase or an alias; "
            "map other names with an event map)",
        ),
        ("a.tsv", "user\titem\nu1\ti1\t\n", "2: wrong field count: expected 2, found 3"),
        (
            "a.jsonl",
            '{"user": "u1", "item": "i1"}\n{"user": "u1", "item": \n',
            "2: invalid JSON: Expecting value",
        ),
        ("a.json", "[1, 2]\n", "1: expected a JSON object: found list"),
        ("a.jsonl", '{"user": "u1"}\n', "1: missing field: 'item' (fields: user)"),
        (
            "a.jsonl",
            '{"user": "u1", "item": "i1", "rating": true}\n',
            "1: non-numeric rating: True",
        ),
        ("a.jsonl", '{"user": "u1", "item": ["i1"]}\n', "1: bad item id: ['i1']"),
    ],
)
def test_malformed_row_names_file_and_line(
    tmp_path: Path, filename: str, content: str, message: str
) -> None:
    path = _write(tmp_path / filename, content)
    with pytest.raises(DataFormatError) as caught:
        read_interactions(path)
    assert str(caught.value) == f"{path}:{message}"


def test_unreadable_csv_row(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,review\nu1,i1,ok\nu2,i2," + "x" * 200_000 + "\n")
    with pytest.raises(DataFormatError) as caught:
        read_interactions(path)
    assert str(caught.value) == f"{path}:3: unreadable row: field larger than field limit (131072)"


def test_missing_required_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "uid,item\nu1,i1\n")
    with pytest.raises(ValueError) as caught:
        read_interactions(path)
    assert str(caught.value) == f"{path}: missing required column 'user' (columns: uid, item)"


def test_unknown_suffix(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.xlsx", "")
    with pytest.raises(ValueError, match=r"unknown file format '\.xlsx'"):
        read_interactions(path)


def test_non_strict_drops_and_counts_malformed_rows(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,rating\nu1,i1,4\nu1,i2,bad\nu2\nu2,i3,5\n")
    data = read_interactions(path, strict=False)
    assert data.interactions == [
        Interaction("u1", "i1", rating=4.0, position=0),
        Interaction("u2", "i3", rating=5.0, position=1),
    ]
    report = data.reports[0]
    assert report.rows == 2
    assert report.dropped == {
        "malformed: non-numeric rating": 1,
        "malformed: wrong field count": 1,
    }


# --- RecBole -------------------------------------------------------------------------------------


def _recbole_files(directory: Path, inter_rows: str) -> Path:
    directory.mkdir()
    _write(
        directory / "movies.inter",
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n" + inter_rows,
    )
    _write(
        directory / "movies.item",
        "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
        "10\tToy Story\t1995\tAnimation Children's\n"
        '11\t"Quoted" Title\tunkonwn\tDrama\n'
        "12\tUnseen\t2001\t\n",
    )
    return directory


def test_recbole_directory_prefix_and_inter_path_agree(tmp_path: Path) -> None:
    directory = _recbole_files(tmp_path / "ml", "1\t10\t4\t100\n1\t11\t5\t90\n2\t10\t3\t95\n")
    data = read_recbole(directory)
    assert data.name == "movies"
    assert data.interactions == [
        Interaction("1", "10", 100.0, rating=4.0, position=0),
        Interaction("1", "11", 90.0, rating=5.0, position=1),
        Interaction("2", "10", 95.0, rating=3.0, position=2),
    ]
    assert list(data.catalog.values()) == [
        Item("10", "Toy Story", "Animation, Children's", "released 1995"),
        Item("11", '"Quoted" Title', "Drama"),
        Item("12", "Unseen", None, "released 2001"),
    ]
    for location in (directory / "movies", directory / "movies.inter"):
        again = read_recbole(location)
        assert again.interactions == data.interactions
        assert list(again.catalog.values()) == list(data.catalog.values())


def test_recbole_bad_float(tmp_path: Path) -> None:
    directory = _recbole_files(tmp_path / "ml", "1\t10\t4\t100\n1\t11\tfour\t90\n")
    with pytest.raises(DataFormatError) as caught:
        read_recbole(directory)
    assert str(caught.value) == f"{directory / 'movies.inter'}:3: non-numeric rating: 'four'"
    data = read_recbole(directory, strict=False)
    assert len(data.interactions) == 1
    assert data.reports[0].dropped == {"malformed: non-numeric rating": 1}


def test_recbole_items_missing_from_the_item_file(tmp_path: Path) -> None:
    directory = _recbole_files(tmp_path / "ml", "1\t10\t4\t100\n1\t98\t5\t90\n2\t99\t3\t95\n")
    with pytest.raises(ValueError) as caught:
        read_recbole(directory)
    inter, item = directory / "movies.inter", directory / "movies.item"
    assert str(caught.value) == (
        f"{inter}: 2 item id(s) are not in the catalogue {item} (e.g. 98, 99); "
        "skip_unknown=True (--skip-unknown) skips their events"
    )
    data = read_recbole(directory, skip_unknown=True)
    assert [x.item for x in data.interactions] == ["10"]
    assert data.reports[0].dropped == {"item not in catalogue": 2}


def test_recbole_header_without_types(tmp_path: Path) -> None:
    path = _write(tmp_path / "x.inter", "user_id\titem_id:token\n1\t2\n")
    with pytest.raises(DataFormatError) as caught:
        read_recbole(tmp_path / "x")
    assert str(caught.value) == f"{path}:1: header field is not name:type: 'user_id'"


# --- sequence files ------------------------------------------------------------------------------


def test_sequences_keep_file_order_and_count_skipped_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.txt", "1 10 11 12\n\n2 13 11\n3\n")
    data = read_sequences(path)
    assert data.interactions == [
        Interaction("1", "10", position=0),
        Interaction("1", "11", position=1),
        Interaction("1", "12", position=2),
        Interaction("2", "13", position=3),
        Interaction("2", "11", position=4),
    ]
    assert [x.item for x in data.histories()["2"]] == ["13", "11"]
    assert list(data.catalog) == ["10", "11", "12", "13"]
    assert data.name == "seq"
    assert data.reports[0].rows == 2
    assert data.reports[0].dropped == {"blank line": 1, "user with no items": 1}


def test_sequence_names_keyed_by_item_id(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.txt", "1 10 11\n")
    names = _write(tmp_path / "names.txt", "10 red ball\n12 unused\n")
    data = read_sequences(path, names)
    assert list(data.catalog.values()) == [Item("10", "red ball"), Item("11")]


def test_sequence_names_through_a_p5_id_map(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.txt", "1 10 11\n2 12 13\n")
    names = _write(tmp_path / "names.txt", "B01 red ball\nB02 blue  bat \nB03 \n")
    id_map = _write(
        tmp_path / "datamaps.json", json.dumps({"id2item": {"10": "B01", "11": "B02", "12": "B03"}})
    )
    data = read_sequences(path, names, id_map)
    assert list(data.catalog.values()) == [
        Item("10", "red ball"),
        Item("11", "blue  bat"),
        Item("12"),
        Item("13"),
    ]
    assert [(r.source, r.rows, r.dropped) for r in data.reports] == [
        (str(path), 2, {}),
        (str(names), 2, {"key with no name": 1}),
        (str(id_map), 3, {}),
    ]


def test_sequence_non_integer_token(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.txt", "1 10\n2 11 x1\n3 12\n")
    with pytest.raises(DataFormatError) as caught:
        read_sequences(path)
    assert str(caught.value) == f"{path}:2: non-integer token: 'x1' (ids must be whole numbers)"
    data = read_sequences(path, strict=False)
    assert [(x.user, x.item, x.position) for x in data.interactions] == [
        ("1", "10", 0),
        ("3", "12", 1),
    ]
    assert data.reports[0].dropped == {"malformed: non-integer token": 1}


# --- the shared research data (a sibling of the repository) --------------------------------------


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.exists():
        pytest.skip(f"shared research data not found at {path}")
    return path


def _check_counts(data: Dataset, users: int, items: int, interactions: int) -> None:
    assert (len(data.users), len(data.catalog), len(data.interactions)) == (
        users,
        items,
        interactions,
    )


def test_movielens_100k() -> None:
    data = read_recbole(_shared("ml-100k"))
    _check_counts(data, users=943, items=1682, interactions=100_000)
    assert data.interactions[0] == Interaction("196", "242", 881250949.0, rating=3.0, position=0)
    assert data.catalog["1"].name == "Toy Story"
    assert data.catalog["1"].category == "Animation, Children's, Comedy"
    assert data.catalog["1"].description == "released 1995"
    assert {x.rating for x in data.interactions} == {1.0, 2.0, 3.0, 4.0, 5.0}


def test_amazon_beauty_with_names() -> None:
    directory = _shared("amazon_beauty")
    data = read_sequences(
        directory / "Beauty.txt",
        directory / "item_generative_indexing_phase_0.txt",
        directory / "datamaps.json",
    )
    _check_counts(data, users=22363, items=12101, interactions=198502)
    assert data.interactions[:5] == [Interaction("1", str(i), position=i - 1) for i in range(1, 6)]
    # The source file gives ASIN B001LTVF7G (item 10205) an empty name: that is the one gap.
    unnamed = [item.id for item in data.catalog.values() if item.name is None]
    assert unnamed == ["10205"]
    assert data.reports[1].dropped == {"key with no name": 1}
    assert data.catalog["1"].name == "nail lacquer simmer and shimmer"

"""Streamed logs: a small hand-written log in every format, chunking, errors, and parity with
the in-memory path (read the whole log, then ``sequential_pairs`` / ``sequential_examples``)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lmrec.data import Catalog, DataFormatError, Item, LoadReport, read_catalog, read_interactions
from lmrec.data.split import Split
from lmrec.data.stream import stream_catalog, stream_interactions, stream_sequential_pairs
from lmrec.indexing import IndexConfig
from lmrec.prompts.templates import Template, TemplateSet, load_templates
from lmrec.tasks import Example, PromptConfig
from lmrec.tasks.sequential import sequential_examples, sequential_pairs
from lmrec.training.stream import catalog_index, stream_sequential_examples

# user, item, timestamp: sorted by time, users interleaved.
ROWS = [
    ("a", "i1", 1),
    ("b", "i2", 2),
    ("a", "i3", 3),
    ("c", "i1", 4),
    ("b", "i1", 5),
    ("a", "i2", 6),
    ("b", "i3", 7),
    ("a", "i4", 8),
]
# max_history=2: every event after a user's first, with that user's last two items.
PAIRS = [
    (["i1"], "i3"),
    (["i2"], "i1"),
    (["i1", "i3"], "i2"),
    (["i2", "i1"], "i3"),
    (["i3", "i2"], "i4"),
]
FORMATS = ["csv", "jsonl", "parquet"]
INDEX = catalog_index(Catalog.from_ids(["i1", "i2", "i3", "i4"]))


def _write_log(path: Path, rows: list[tuple[str, str, object]]) -> Path:
    """``rows`` as a file of the format named by ``path``'s suffix."""
    if path.suffix == ".csv":
        lines = ["user,item,timestamp", *(f"{u},{i},{t}" for u, i, t in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    elif path.suffix == ".jsonl":
        lines = [json.dumps({"user": u, "item": i, "timestamp": t}) for u, i, t in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        users, items, times = (list(column) for column in zip(*rows, strict=True))
        table = pa.table({"user": users, "item": items, "timestamp": times})
        pq.write_table(table, path)
    return path


@pytest.mark.parametrize("fmt", FORMATS)
def test_pairs_from_a_hand_written_log(tmp_path: Path, fmt: str) -> None:
    path = _write_log(tmp_path / f"log.{fmt}", ROWS)
    assert list(stream_sequential_pairs(path, INDEX, max_history=2)) == PAIRS


@pytest.mark.parametrize("fmt", FORMATS)
def test_examples_are_rendered_with_the_sequential_templates(tmp_path: Path, fmt: str) -> None:
    path = _write_log(tmp_path / f"log.{fmt}", ROWS)
    only = Template("s", "sequential", "en", "after {history} comes", "{target}")
    examples = stream_sequential_examples(
        path, INDEX, TemplateSet([only]), PromptConfig(max_history=2), random.Random(0)
    )
    assert list(examples) == [
        Example("after <item_0> comes", "<item_2>", "sequential", "s"),
        Example("after <item_1> comes", "<item_0>", "sequential", "s"),
        Example("after <item_0> <item_2> comes", "<item_1>", "sequential", "s"),
        Example("after <item_1> <item_0> comes", "<item_2>", "sequential", "s"),
        Example("after <item_2> <item_1> comes", "<item_3>", "sequential", "s"),
    ]


@pytest.mark.parametrize("fmt", FORMATS)
def test_chunk_size_changes_nothing(tmp_path: Path, fmt: str) -> None:
    path = _write_log(tmp_path / f"log.{fmt}", ROWS)
    templates = load_templates()
    runs = []
    for size in (1, 3, 1000):
        examples = stream_sequential_examples(
            path, INDEX, templates, PromptConfig(max_history=2), random.Random(5), chunk_size=size
        )
        runs.append(list(examples))
    assert len(runs[0]) == 5
    assert runs[0] == runs[1] == runs[2]


def test_parquet_row_groups_change_nothing(tmp_path: Path) -> None:
    """Rows are read one row group at a time; row numbers run on across groups."""
    users, items, times = (list(column) for column in zip(*ROWS, strict=True))
    times = [str(t) for t in times]
    times[6] = "yesterday"  # row 7, in the third group of three rows
    path = tmp_path / "log.parquet"
    pq.write_table(pa.table({"user": users, "item": items, "timestamp": times}), path, 3)
    assert pq.ParquetFile(path).num_row_groups == 3
    assert list(stream_sequential_pairs(path, INDEX, 2, chunk_size=2, strict=False)) == PAIRS[
        :3
    ] + [(["i3", "i2"], "i4")]
    with pytest.raises(DataFormatError, match=r"log\.parquet:row 7: bad timestamp"):
        list(stream_sequential_pairs(path, INDEX, max_history=2, chunk_size=2))


@pytest.mark.parametrize("fmt", FORMATS)
def test_interactions_come_in_chunks_equal_to_the_eager_reader(tmp_path: Path, fmt: str) -> None:
    path = _write_log(tmp_path / f"log.{fmt}", ROWS)
    chunks = list(stream_interactions(path, chunk_size=3))
    assert [len(c) for c in chunks] == [3, 3, 2]
    streamed = [x for chunk in chunks for x in chunk]
    assert [x.position for x in streamed] == list(range(8))
    assert streamed == read_interactions(path).interactions


@pytest.mark.parametrize(
    ("fmt", "bad_row", "location", "problem"),
    [
        ("csv", "a,i2,yesterday", "log.csv:5", "bad timestamp"),
        (
            "jsonl",
            '{"user": "a", "item": "i2", "timestamp": "yesterday"',
            "log.jsonl:4",
            "invalid JSON",
        ),
        ("parquet", None, "log.parquet:row 4", "bad timestamp"),
    ],
)
def test_malformed_row_names_file_and_line(
    tmp_path: Path, fmt: str, bad_row: str | None, location: str, problem: str
) -> None:
    path = tmp_path / f"log.{fmt}"
    if fmt == "parquet":  # timestamps as text, the fourth one unreadable
        rows = [(u, i, str(t)) for u, i, t in ROWS]
        rows[3] = ("c", "i1", "yesterday")
        _write_log(path, rows)
    else:
        _write_log(path, ROWS[:3])
        with path.open("a", encoding="utf-8") as f:
            f.write(bad_row + "\n")
    with pytest.raises(DataFormatError) as caught:
        list(stream_sequential_pairs(path, INDEX, max_history=2, chunk_size=1000))
    assert str(caught.value).startswith(f"{tmp_path / location}: {problem}")


def test_malformed_rows_dropped_and_counted_when_not_strict(tmp_path: Path) -> None:
    path = _write_log(tmp_path / "log.csv", ROWS)
    with path.open("a", encoding="utf-8") as f:
        f.write("a,i1,yesterday\nb,i9,9\n")
    report = LoadReport(str(path))
    pairs = list(stream_sequential_pairs(path, INDEX, max_history=2, strict=False, report=report))
    assert pairs == PAIRS
    assert report.rows == 9  # the unknown item's row is read, then dropped
    assert report.dropped == {
        "malformed: bad timestamp": 1,
        "malformed: item not in the item index": 1,
    }


def test_item_missing_from_the_index_is_an_error(tmp_path: Path) -> None:
    path = _write_log(tmp_path / "log.csv", [*ROWS, ("c", "i9", 9)])
    with pytest.raises(DataFormatError, match=r"log\.csv:10: item not in the item index: 'i9'"):
        list(stream_sequential_pairs(path, INDEX, max_history=2))


@pytest.mark.parametrize("fmt", FORMATS)
def test_time_going_backwards_for_a_user_is_an_error(tmp_path: Path, fmt: str) -> None:
    rows = [*ROWS, ("b", "i4", 6)]  # b's previous event was at 7
    path = _write_log(tmp_path / f"log.{fmt}", rows)
    where = {"csv": "10", "jsonl": "9", "parquet": "row 9"}[fmt]  # CSV line 1 is the header
    with pytest.raises(DataFormatError) as caught:
        list(stream_sequential_pairs(path, INDEX, max_history=2))
    assert str(caught.value) == (
        f"{path}:{where}: timestamp goes backwards: user 'b' has an event at 7.0 before this "
        "one at 6.0; a streamed log must be sorted by time (or by user, then time)"
    )


def test_log_sorted_by_user_matches_the_eager_path(tmp_path: Path) -> None:
    """Histories longer than max_history, equal timestamps, users not interleaved: the streamed
    examples equal the in-memory ones drawn with the same seed, example for example."""
    rng = random.Random(11)
    rows = []
    for user in range(30):
        time = rng.randrange(100)
        for _ in range(rng.randrange(1, 15)):
            time += rng.choice([0, 1, 7])
            rows.append((f"u{user}", f"i{rng.randrange(12)}", time))
    path = _write_log(tmp_path / "log.csv", rows)
    dataset = read_interactions(path)
    everything = Split(train=dataset.histories(), valid={}, test={}, catalog=dataset.catalog)
    index = catalog_index(dataset.catalog, IndexConfig(strategy="random", seed=2))
    config = PromptConfig(max_history=5)
    templates = load_templates()

    eager_pairs = sequential_pairs(everything)
    eager = sequential_examples(eager_pairs, index, templates, config, random.Random(7))
    streamed = stream_sequential_examples(
        path, index, templates, config, random.Random(7), chunk_size=16
    )
    assert list(streamed) == eager
    assert len(eager) == len(rows) - 30
    assert list(stream_sequential_pairs(path, index, max_history=5)) == [
        (history[-5:], target) for history, target in eager_pairs
    ]


def test_catalog_pass_keeps_first_seen_item_order(tmp_path: Path) -> None:
    path = _write_log(tmp_path / "log.jsonl", ROWS)
    catalog = stream_catalog(path, chunk_size=2)
    assert list(catalog) == ["i1", "i2", "i3", "i4"]
    assert [catalog_index(catalog).render(i) for i in catalog] == [
        "<item_0>",
        "<item_1>",
        "<item_2>",
        "<item_3>",
    ]


def test_catalogue_file_read_alone_gives_the_streams_index(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item,name,category\ni2,Ball,sport\ni1,,\n", encoding="utf-8")
    catalog = read_catalog(path)
    assert list(catalog.values()) == [Item("i2", "Ball", "sport"), Item("i1")]
    assert catalog_index(catalog).render("i1") == "<item_1>"


def test_settings_a_stream_cannot_honour_are_refused(tmp_path: Path) -> None:
    path = _write_log(tmp_path / "log.csv", ROWS)
    with pytest.raises(ValueError, match="needs training events"):
        catalog_index(Catalog.from_ids(["i1"]), IndexConfig(strategy="collaborative"))
    with pytest.raises(ValueError, match="max_targets_per_user"):
        config = PromptConfig(max_targets_per_user=3)
        next(stream_sequential_examples(path, INDEX, load_templates(), config, random.Random(0)))
    with pytest.raises(ValueError, match="max_history of at least 1"):
        next(stream_sequential_pairs(path, INDEX, max_history=0))
    with pytest.raises(ValueError, match="chunk_size must be at least 1"):
        next(stream_interactions(path, chunk_size=0))

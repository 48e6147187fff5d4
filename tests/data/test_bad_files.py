"""Malformed files of every kind are refused with the file and line (issue 26); nothing is
read from them, and the good files next to each case still read."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import pytest

from lmrec.data import ColumnMap, DataFormatError, read_interactions, read_recbole, read_sequences
from lmrec.data.readers import read_catalog


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _refused(path: Path, reader=read_interactions, **kwargs) -> str:
    with pytest.raises((DataFormatError, ValueError)) as caught:
        reader(path, **kwargs)
    return str(caught.value)


# --- ratings -------------------------------------------------------------------------------------


def test_rating_outside_the_default_range_is_refused_with_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,rating\nu1,i1,5\nu1,i2,7\n")
    assert _refused(path) == (
        f"{path}:3: rating out of range: 7 is outside 1-5 (set rating_range for another scale)"
    )


def test_rating_range_reads_another_scale(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,rating\nu1,i1,0.5\nu1,i2,5\n")
    assert _refused(path).startswith(f"{path}:2: rating out of range: 0.5 is outside 1-5")
    data = read_interactions(path, rating_range=(0.5, 5.0))
    assert [x.rating for x in data.interactions] == [0.5, 5.0]
    assert [x.rating for x in read_interactions(path, rating_range=None).interactions] == [0.5, 5]


def test_rating_out_of_range_is_counted_when_not_strict(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "log.jsonl", '{"user":"u","item":"a","rating":0}\n{"user":"u","item":"b"}\n'
    )
    data = read_interactions(path, strict=False)
    assert [x.item for x in data.interactions] == ["b"]
    assert data.reports[0].dropped == {"malformed: rating out of range": 1}


def test_recbole_ratings_are_checked(tmp_path: Path) -> None:
    _write(tmp_path / "x.inter", "user_id:token\titem_id:token\trating:float\n1\t2\t6\n")
    assert _refused(tmp_path / "x", read_recbole) == (
        f"{tmp_path / 'x.inter'}:2: rating out of range: "
        "6 is outside 1-5 (set rating_range for another scale)"
    )


# --- control characters --------------------------------------------------------------------------


def test_nul_in_an_item_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"user": "u1", "item": "i1"}\n{"user": "u1", "item": "i\\u00001"}\n')
    assert _refused(path) == (
        f"{path}:2: control character in item id: U+0000 at position 1 of 'i\\x001'"
    )


def test_escape_in_a_user_id_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\nu\x1b[31m,i1\n")
    assert _refused(path) == (
        f"{path}:2: control character in user id: U+001B at position 1 of 'u\\x1b[31m'"
    )


def test_control_character_in_a_catalogue_name_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", 'item,name,name_ar\ni1,Ball,كرة\ni2,"Bat\x07",مضرب\n')
    assert _refused(path, read_catalog) == (
        f"{path}:3: control character in name: U+0007 at position 3 of 'Bat\\x07'"
    )
    other = _write(tmp_path / "other.csv", 'item,name_ar\ni1,"ك\x00رة"\n')
    assert _refused(other, read_catalog) == (
        f"{other}:2: control character in name_ar: U+0000 at position 1 of 'ك\\x00رة'"
    )


def test_control_character_in_a_sequence_name_is_refused(tmp_path: Path) -> None:
    seq = _write(tmp_path / "seq.txt", "1 10 11\n")
    names = _write(tmp_path / "names.txt", "10 red ball\n11 blue\x0bbat\n")
    assert _refused(seq, read_sequences, names_path=names) == (
        f"{names}:2: control character in name: U+000B at position 4 of 'blue\\x0bbat'"
    )


# --- encodings -----------------------------------------------------------------------------------


def test_latin1_file_is_refused_with_line_and_byte_offset(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes("user,item\nu1,i1\nu2,café\n".encode("latin-1"))
    # "user,item\n" is 10 bytes, "u1,i1\n" 6, "u2,caf" 6: the é is byte 22.
    assert _refused(path) == (
        f"{path}:3: not UTF-8: byte 0xe9 at offset 22; the file must be UTF-8"
    )


def test_utf16_file_is_refused_at_its_first_byte(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes('{"user": "u1", "item": "i1"}\n'.encode("utf-16"))
    assert _refused(path) == f"{path}:1: not UTF-8: byte 0xff at offset 0; the file must be UTF-8"


def test_bad_bytes_in_a_gzipped_sequence_file(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt.gz"
    path.write_bytes(gzip.compress(b"1 10 11\n2 12\n3 1\xff\n"))
    assert _refused(path, read_sequences) == (
        f"{path}:3: not UTF-8: byte 0xff at offset 16; the file must be UTF-8"
    )


def test_utf8_with_and_without_bom_reads(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_bytes("user,item\nu1,café\n".encode())
    bom = tmp_path / "bom.csv"
    bom.write_bytes("user,item\nu1,café\n".encode("utf-8-sig"))
    assert read_interactions(plain).interactions == read_interactions(bom).interactions
    assert read_interactions(bom).interactions[0].item == "café"


def test_bad_bytes_after_a_bom_count_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(b"\xef\xbb\xbfuser,item\n\xe9,i1\n")
    assert _refused(path) == f"{path}:2: not UTF-8: byte 0xe9 at offset 13; the file must be UTF-8"


# --- empty files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "skipped"),
    [
        ("log.csv", "user,item,rating\n", ""),
        ("log.tsv", "user\titem\n\n", " (skipped 1 blank line)"),
        ("log.jsonl", "\n\n", " (skipped 2 blank line)"),
    ],
)
def test_file_with_no_rows_is_refused_naming_its_path(
    tmp_path: Path, name: str, text: str, skipped: str
) -> None:
    path = _write(tmp_path / name, text)
    assert _refused(path) == f"{path}: no rows to read{skipped}"


def test_file_whose_rows_were_all_dropped_says_so(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item\n,i1\nu1,\n")
    assert _refused(path, strict=False) == (
        f"{path}: no rows to read (skipped 1 malformed: empty item id, 1 malformed: empty user id)"
    )


def test_empty_catalogue_and_sequence_files_are_refused(tmp_path: Path) -> None:
    items = _write(tmp_path / "items.csv", "item,name\n")
    assert _refused(items, read_catalog) == f"{items}: no rows to read"
    seq = _write(tmp_path / "seq.txt", "\n")
    assert _refused(seq, read_sequences) == f"{seq}: no rows to read (skipped 1 blank line)"


# --- sequence files ------------------------------------------------------------------------------


def test_user_on_two_lines_of_a_sequence_file_is_refused_naming_both(tmp_path: Path) -> None:
    path = _write(tmp_path / "seq.txt", "1 10 11\n2 11\n\n1 12\n")
    assert _refused(path, read_sequences) == f"{path}:4: user on two lines: '1' (also line 1)"
    data = read_sequences(path, strict=False)
    assert [(x.user, x.item) for x in data.interactions] == [("1", "10"), ("1", "11"), ("2", "11")]
    assert data.reports[0].dropped == {"blank line": 1, "malformed: user on two lines": 1}


# --- timestamp units -----------------------------------------------------------------------------


def test_milliseconds_mixed_with_seconds_are_refused_at_the_first_offender(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "log.csv",
        "user,item,timestamp\nu1,i1,1577836800\nu1,i2,1577836900\nu1,i3,1577837000000\n",
    )
    assert _refused(path) == (
        f"{path}:4: mixed timestamp units: 1577837000000 is in milliseconds but the file's "
        "first timestamp (1577836800) is in seconds: use one unit per file"
    )


def test_seconds_after_milliseconds_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "log.jsonl",
        '{"user":"u","item":"a","timestamp":1577836800000}\n'
        '{"user":"u","item":"b","timestamp":"2020-01-01"}\n',
    )
    assert _refused(path) == (
        f"{path}:2: mixed timestamp units: 1577836800 is in seconds but the file's "
        "first timestamp (1577836800000) is in milliseconds: use one unit per file"
    )


def test_a_file_in_milliseconds_is_read_as_such_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = _write(tmp_path / "log.csv", "u,i,t\nu1,i1,1577836800000\nu1,i2,\nu1,i3,1577836800500\n")
    with caplog.at_level(logging.INFO, logger="lmrec.data"):
        data = read_interactions(path, ColumnMap(user="u", item="i", timestamp="t"))
    assert [x.timestamp for x in data.interactions] == [1577836800.0, None, 1577836800.5]
    assert f"{path}: timestamps in epoch milliseconds, read as seconds" in caplog.messages


def test_small_second_counts_are_not_milliseconds(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,timestamp\nu,a,1\nu,b,1577836800\n")
    assert [x.timestamp for x in read_interactions(path).interactions] == [1.0, 1577836800.0]


# --- broken containers and ambiguous headers ------------------------------------------------------


def test_truncated_gzip_log_is_refused_naming_it(tmp_path: Path) -> None:
    whole = gzip.compress(b"user,item\n" + b"u1,i1\n" * 5000)
    path = tmp_path / "log.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    assert _refused(path) == (
        f"{path}: not a readable gzip file: EOFError: "
        "Compressed file ended before the end-of-stream marker was reached"
    )


def test_file_named_gz_that_is_not_gzip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "seq.txt.gz"
    path.write_bytes(b"1 1 2 3\n")
    message = _refused(path, read_sequences)
    assert message.startswith(f"{path}: not a readable gzip file: BadGzipFile: ")


@pytest.mark.parametrize("strict", [True, False])
def test_a_column_named_twice_is_refused(tmp_path: Path, strict: bool) -> None:
    path = _write(tmp_path / "log.csv", "user,item,user\nu1,i1,u2\n")
    assert _refused(path, strict=strict) == f"{path}: column 'user' appears twice in the header"


def test_unnamed_columns_may_repeat(tmp_path: Path) -> None:
    path = _write(tmp_path / "log.csv", "user,item,,\nu1,i1,,\nu1,i2,x,y\n")
    assert [x.item for x in read_interactions(path).interactions] == ["i1", "i2"]


def test_corrupt_parquet_page_is_refused_after_the_rows_read(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "log.parquet"
    table = pa.table({"user": ["u"] * 1000, "item": [f"i{k}" for k in range(1000)]})
    pq.write_table(table, path, row_group_size=100)
    start = pq.ParquetFile(path).metadata.row_group(1).column(0).data_page_offset
    data = bytearray(path.read_bytes())
    data[start : start + 400] = b"\x55" * 400  # the second row group's first page
    path.write_bytes(bytes(data))
    message = _refused(path)
    assert message.startswith(f"{path}: cannot be read after row 100: OSError: ")

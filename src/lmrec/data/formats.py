"""Files to rows: format detection, UTF-8 text, and the records of CSV/TSV, JSONL and Parquet.

Every row comes with its location, ``"{path}:{line}"`` (Parquet: ``"{path}:row N"``), so a
malformed row is reported where it is. :class:`DataFormatError` is the one error for a bad file:
undecodable bytes included (a ``UnicodeDecodeError`` never escapes a reader).
"""

from __future__ import annotations

import csv
import gzip
import json
import logging
import os
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeAlias

from lmrec.data.schema import LoadReport

__all__ = [
    "DataFormatError",
    "Record",
    "RowError",
    "StrPath",
    "delimited_records",
    "format_of",
    "jsonl_records",
    "open_text",
    "parquet_records",
    "reading",
    "reject_row",
    "row_records",
]

logger = logging.getLogger(__name__)

StrPath: TypeAlias = str | os.PathLike[str]
Record: TypeAlias = Mapping[str, Any]

_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
    ".parquet": "parquet",
}
_DELIMITERS = {"csv": ",", "tsv": "\t"}
_BOM = b"\xef\xbb\xbf"


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


def _open_binary(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix.lower() == ".gz" else open(path, "rb")


def undecodable_at(path: Path) -> DataFormatError | None:
    """The error for the first byte of ``path`` that is not UTF-8 (None if there is none).

    Found by a second, binary pass: a text stream's decode error knows neither the line nor
    the offset in the file. Splitting at ``\\n`` is safe, as no UTF-8 sequence holds that byte.
    """
    offset = 0
    with _open_binary(path) as handle:
        for number, raw in enumerate(handle, start=1):
            skip = len(_BOM) if number == 1 and raw.startswith(_BOM) else 0
            try:
                raw[skip:].decode("utf-8")
            except UnicodeDecodeError as error:
                byte = raw[skip + error.start]
                where = offset + skip + error.start
                detail = f"byte 0x{byte:02x} at offset {where}; the file must be UTF-8"
                return DataFormatError(f"{path}:{number}", "not UTF-8", detail)
            offset += len(raw)
    return None


@contextmanager
def reading(path: StrPath, problem: str = "cannot be read") -> Iterator[None]:
    """Whatever goes wrong in the block reading the file ``path`` (truncated, corrupt, not its
    format) as a :class:`DataFormatError` that names it; a missing file stays the
    ``FileNotFoundError`` that names it already."""
    try:
        yield
    except (FileNotFoundError, DataFormatError):
        raise
    except Exception as error:
        detail = f"{type(error).__name__}: {error}"
        raise DataFormatError(str(path), problem, detail) from error


@contextmanager
def open_text(path: Path) -> Iterator[IO[str]]:
    """Open UTF-8 text (with or without a byte-order mark), gunzipping a ``.gz`` file.

    Bytes that are not UTF-8 (a Latin-1 or UTF-16 file) raise :class:`DataFormatError` with the
    line and byte offset of the first of them.
    """
    if path.suffix.lower() == ".gz":
        handle: IO[str] = gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    else:
        handle = open(path, encoding="utf-8-sig", newline="")
    try:
        with handle:
            yield handle
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:  # a truncated or corrupt .gz
        detail = f"{type(error).__name__}: {error}"
        raise DataFormatError(str(path), "not a readable gzip file", detail) from None
    except UnicodeDecodeError as error:
        located = undecodable_at(path)
        if located is None:  # cannot happen for a file that stays put; say what we know
            located = DataFormatError(str(path), "not UTF-8", f"{error}; the file must be UTF-8")
        raise located from None


def row_records(
    path: Path, required: Iterable[str], report: LoadReport, strict: bool
) -> Iterator[tuple[str, Record]]:
    """The rows of a table file as ``(location, record)`` pairs, in file order."""
    fmt = format_of(path)
    if fmt == "parquet":
        return parquet_records(path, required)
    if fmt == "jsonl":
        return jsonl_records(path, report, strict)
    return delimited_records(path, _DELIMITERS[fmt], required, report, strict)


def check_columns(path: Path, present: list[str], required: Iterable[str]) -> None:
    """ValueError naming the first ``required`` column that is not ``present``."""
    for column in required:
        if column not in present:
            raise ValueError(
                f"{path}: missing required column {column!r} "
                f"(columns: {', '.join(present) or 'none'})"
            )


def check_unique_columns(path: Path, header: list[str]) -> None:
    """ValueError naming the first non-empty column name the header repeats: which of the two
    a row's value would be read from is anyone's guess."""
    seen: set[str] = set()
    for column in header:
        if column and column in seen:
            raise ValueError(f"{path}: column {column!r} appears twice in the header")
        seen.add(column)


def delimited_records(
    path: Path,
    delimiter: str,
    required: Iterable[str],
    report: LoadReport,
    strict: bool,
    rename: Callable[[str], str] = str.strip,
    quoting: int = csv.QUOTE_MINIMAL,
) -> Iterator[tuple[str, Record]]:
    """CSV/TSV rows keyed by header name. The header is line 1; a quoted field may span lines."""
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=delimiter, quoting=quoting)
        raw_header = next(reader, None)
        if raw_header is None:
            raise ValueError(f"{path}: empty file (expected a header row)")
        header = [rename(h) for h in raw_header]
        check_columns(path, header, required)
        check_unique_columns(path, header)
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


def jsonl_records(path: Path, report: LoadReport, strict: bool) -> Iterator[tuple[str, Record]]:
    """One JSON object per line. Required fields are checked per record, as there is no header."""
    with open_text(path) as handle:
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
) -> Iterator[tuple[str, Record]]:
    """Parquet rows, ``batch_size`` rows decoded at a time; the location is ``path:row N``
    (N counts from 1)."""
    # Imported here: pyarrow takes a while to import and only Parquet files need it.
    import pyarrow.parquet as pq

    with reading(path):
        parquet = pq.ParquetFile(path)
    check_columns(path, list(parquet.schema_arrow.names), required)
    check_unique_columns(path, list(parquet.schema_arrow.names))
    number = 0
    batches = _parquet_batches(parquet, batch_size)
    while True:
        with reading(path, f"cannot be read after row {number}"):  # a corrupt page
            batch = next(batches, None)
        if batch is None:
            return
        for record in batch.to_pylist():
            number += 1
            yield f"{path}:row {number}", record


def _parquet_batches(parquet: Any, batch_size: int) -> Iterator[Any]:
    """``parquet``'s record batches, one row group at a time."""
    # One reader per row group: a single iter_batches over the whole file holds on to arrow
    # memory as it goes (pyarrow 26: +90 MB over 10M rows in 100 row groups; flat this way).
    for group in range(parquet.num_row_groups):
        yield from parquet.iter_batches(batch_size=batch_size, row_groups=[group])


def reject_row(location: str, error: RowError, report: LoadReport, strict: bool) -> None:
    """Raise a malformed row's error, or (``strict=False``) count it as a drop."""
    failure = DataFormatError(location, error.problem, error.detail)
    if strict:
        raise failure
    reason = f"malformed: {error.problem}"
    if reason not in report.dropped:
        logger.warning("dropping rows like %s", failure)
    report.drop(reason)

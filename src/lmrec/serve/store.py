"""The event store: a small interface and its SQLite implementation.

Durability contract: when :meth:`EventStore.add` returns, the batch is on disk (SQLite in WAL
mode with ``synchronous=FULL`` fsyncs the log at every commit). A batch is one transaction: all
its events are stored or none. Idempotency ids are UNIQUE and inserted with
``ON CONFLICT (event_id) DO NOTHING``, so a client that retries a batch it got no answer for
never stores an event twice.

Another backend (PostgreSQL: ``INSERT ... ON CONFLICT (event_id) DO NOTHING``) only has to
implement the methods of :class:`EventStore`.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = ["AddResult", "EventStore", "SQLiteEventStore", "StoredEvent"]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One event as stored. ``id`` is the client's idempotency id."""

    id: str
    user: str
    item: str
    type: str
    timestamp: float
    rating: float | None = None
    review: str | None = None


@dataclass(frozen=True, slots=True)
class AddResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


class EventStore(Protocol):
    """What the service needs from an event store."""

    def add(self, events: Sequence[StoredEvent]) -> AddResult:
        """Store a batch atomically and durably; already-known ids are skipped."""
        ...

    def history(self, user: str, limit: int | None = None) -> list[StoredEvent]:
        """The user's most recent ``limit`` events, oldest first (ties: arrival order)."""
        ...

    def users(self, offset: int = 0, limit: int = 100) -> list[tuple[str, int]]:
        """(user, event count), most recently active first."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    user_id  TEXT NOT NULL,
    item_id  TEXT NOT NULL,
    type     TEXT NOT NULL CHECK (type IN ('view', 'bookmark', 'cart', 'purchase')),
    ts       REAL NOT NULL,
    rating   REAL,
    review   TEXT
);
CREATE INDEX IF NOT EXISTS events_by_user ON events (user_id, ts, seq);
"""

_COLUMNS = "event_id, user_id, item_id, type, ts, rating, review"
# Not ``INSERT OR IGNORE``: that would also skip rows breaking NOT NULL or CHECK constraints,
# silently. ``ON CONFLICT (event_id) DO NOTHING`` skips only resent ids (same SQL in PostgreSQL).
_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO NOTHING"
)


class SQLiteEventStore:
    """The default store: one SQLite file. Safe to share between threads.

    Writes go through one connection under a lock (SQLite has one writer at a time anyway);
    each reading thread gets its own connection, and WAL lets reads run during a write.
    """

    def __init__(self, path: str | Path, busy_timeout_ms: int = 30_000) -> None:
        self.path = str(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer = self._connect()
        self._writer.execute("PRAGMA journal_mode=WAL")
        self._writer.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per batch.
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout={int(self._busy_timeout_ms)}")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def add(self, events: Sequence[StoredEvent]) -> AddResult:
        rows = [(e.id, e.user, e.item, e.type, e.timestamp, e.rating, e.review) for e in events]
        with self._write_lock:
            conn = self._writer
            before = conn.total_changes
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            stored = conn.total_changes - before
        return AddResult(received=len(rows), stored=stored)

    def history(self, user: str, limit: int | None = None) -> list[StoredEvent]:
        rows = (
            self._reader()
            .execute(
                f"SELECT {_COLUMNS} FROM events WHERE user_id = ? "
                "ORDER BY ts DESC, seq DESC LIMIT ?",
                (user, -1 if limit is None else limit),
            )
            .fetchall()
        )
        return [StoredEvent(*row) for row in reversed(rows)]

    def users(self, offset: int = 0, limit: int = 100) -> list[tuple[str, int]]:
        rows = (
            self._reader()
            .execute(
                "SELECT user_id, COUNT(*) FROM events GROUP BY user_id "
                "ORDER BY MAX(seq) DESC LIMIT ? OFFSET ?",
                (limit, offset),
            )
            .fetchall()
        )
        return [(u, n) for u, n in rows]

    def count(self) -> int:
        return self._reader().execute("SELECT COUNT(*) FROM events").fetchone()[0]

    def all_ids(self) -> list[str]:
        """Every stored idempotency id, in arrival order (for checks and tests)."""
        rows = self._reader().execute("SELECT event_id FROM events ORDER BY seq").fetchall()
        return [r[0] for r in rows]

    def close(self) -> None:
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        with self._write_lock:
            self._writer.close()

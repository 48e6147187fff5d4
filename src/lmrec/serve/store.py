"""The event store: a small interface and its SQLite implementation.

Durability contract: when :meth:`EventStore.add` returns, the batch is on disk (SQLite in WAL
mode with ``synchronous=FULL`` fsyncs the log at every commit). A batch is one transaction: all
its events are stored or none. Idempotency ids are UNIQUE and inserted with
``ON CONFLICT (event_id) DO NOTHING``, so a client that retries a batch it got no answer for
never stores an event twice; an id resent with a *different* payload is a client bug, and its
batch is refused whole (:class:`EventConflict`) rather than half-ignored.

Erasure (:meth:`EventStore.delete_user`) removes a user's events and served recommendations in
one transaction and keeps only a SHA-256 of each erased event id, so a late retry of an erased
event is a duplicate (not a resurrection), and no id the client chose stays readable.

Every recommendation served is recorded (user, items, model, time) so a model can be judged
online against what users then did.

Another backend (PostgreSQL: ``INSERT ... ON CONFLICT (event_id) DO NOTHING``) only has to
implement the methods of :class:`EventStore`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

__all__ = [
    "AddResult",
    "EventConflict",
    "EventStore",
    "SQLiteEventStore",
    "ServedRecommendation",
    "StoredEvent",
]


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
class ServedRecommendation:
    """One recommendation list as served. ``user`` is None for an anonymous history."""

    user: str | None
    items: list[str]
    model: str
    model_loaded_at: float
    timestamp: float


class EventConflict(Exception):
    """A batch reuses an event id with a different payload: nothing of it was stored."""

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event id {event_id!r} is already stored with a different payload")
        self.event_id = event_id


@dataclass(frozen=True, slots=True)
class AddResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


class EventStore(Protocol):
    """What the service needs from an event store."""

    def add(
        self, events: Sequence[StoredEvent], server_timestamps: Collection[str] = frozenset()
    ) -> AddResult:
        """Store a batch atomically and durably; already-known ids are skipped, and an id known
        with another payload raises :class:`EventConflict` (``server_timestamps``: ids whose
        timestamp the server chose, left out of that comparison)."""
        ...

    def delete_user(self, user: str) -> int:
        """Erase the user's events and served recommendations; the number of events erased."""
        ...

    def record_served(self, served: ServedRecommendation) -> None:
        """Record one recommendation list as served."""
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
CREATE TABLE IF NOT EXISTS erased (id_hash TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS served (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         TEXT,
    items           TEXT NOT NULL,
    model           TEXT NOT NULL,
    model_loaded_at REAL NOT NULL,
    ts              REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS served_by_user ON served (user_id, seq);
"""

_COLUMNS = "event_id, user_id, item_id, type, ts, rating, review"
# Not ``INSERT OR IGNORE``: that would also skip rows breaking NOT NULL or CHECK constraints,
# silently. ``ON CONFLICT (event_id) DO NOTHING`` skips only resent ids (same SQL in PostgreSQL).
_INSERT = (
    f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (event_id) DO NOTHING"
)


_SERVED = "user_id, items, model, model_loaded_at, ts"
# Well under SQLite's limit on bound variables in one statement (32766 since 3.32).
_IN_CHUNK = 500


def _row(e: StoredEvent) -> tuple:
    return (e.id, e.user, e.item, e.type, e.timestamp, e.rating, e.review)


def _id_hash(event_id: str) -> str:
    return hashlib.sha256(event_id.encode("utf-8", "surrogatepass")).hexdigest()


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def _erased(conn: sqlite3.Connection, ids: list[str]) -> set[str]:
    """The hashes of ``ids`` that belong to erased events."""
    found: set[str] = set()
    for chunk in _chunks(sorted({_id_hash(i) for i in ids})):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT id_hash FROM erased WHERE id_hash IN ({marks})"
        found.update(row[0] for row in conn.execute(query, chunk))
    return found


def _check_conflicts(
    conn: sqlite3.Connection, events: Sequence[StoredEvent], server_timestamps: Collection[str]
) -> None:
    """Raise :class:`EventConflict` for the first id the batch or the store holds with another
    payload. A timestamp the server chose is not part of the payload: a client resending a
    batch without timestamps gets a new one each time."""

    def payload(row: tuple) -> tuple:
        return row[1:4] + row[5:] if row[0] in server_timestamps else row[1:]

    mine: dict[str, tuple] = {}
    for event in events:
        row = _row(event)
        if mine.setdefault(event.id, payload(row)) != payload(row):
            raise EventConflict(event.id)
    for chunk in _chunks(list(mine)):
        marks = ", ".join("?" * len(chunk))
        query = f"SELECT {_COLUMNS} FROM events WHERE event_id IN ({marks})"
        for row in conn.execute(query, chunk):
            if payload(row) != mine[row[0]]:
                raise EventConflict(row[0])


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

    def add(
        self, events: Sequence[StoredEvent], server_timestamps: Collection[str] = frozenset()
    ) -> AddResult:
        rows = [_row(e) for e in events]
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Checked inside the transaction: no other writer can store an id in between.
                _check_conflicts(conn, events, server_timestamps)
                erased = _erased(conn, [e.id for e in events])
                before = conn.total_changes
                conn.executemany(_INSERT, [r for r in rows if _id_hash(r[0]) not in erased])
                stored = conn.total_changes - before
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return AddResult(received=len(rows), stored=stored)

    def delete_user(self, user: str) -> int:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                ids = conn.execute("SELECT event_id FROM events WHERE user_id = ?", (user,))
                hashes = [(_id_hash(row[0]),) for row in ids.fetchall()]
                conn.executemany("INSERT OR IGNORE INTO erased (id_hash) VALUES (?)", hashes)
                deleted = conn.execute("DELETE FROM events WHERE user_id = ?", (user,)).rowcount
                conn.execute("DELETE FROM served WHERE user_id = ?", (user,))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return deleted

    def record_served(self, served: ServedRecommendation) -> None:
        row = (
            served.user,
            json.dumps(served.items, ensure_ascii=False),
            served.model,
            served.model_loaded_at,
            served.timestamp,
        )
        with self._write_lock:
            self._writer.execute(
                "INSERT INTO served (user_id, items, model, model_loaded_at, ts) "
                "VALUES (?, ?, ?, ?, ?)",
                row,
            )

    def served(self, user: str | None = None) -> list[ServedRecommendation]:
        """Recommendations served (to ``user``, else to anyone), oldest first."""
        query = f"SELECT {_SERVED} FROM served ORDER BY seq"
        args: tuple = ()
        if user is not None:
            query = f"SELECT {_SERVED} FROM served WHERE user_id = ? ORDER BY seq"
            args = (user,)
        rows = self._reader().execute(query, args).fetchall()
        return [ServedRecommendation(u, json.loads(i), m, at, ts) for u, i, m, at, ts in rows]

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

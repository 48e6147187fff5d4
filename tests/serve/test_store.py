"""The SQLite event store: durable settings, idempotency, atomic batches, time order."""

from __future__ import annotations

import hashlib
import sqlite3
import threading

import pytest

from lmrec.serve.store import SQLiteEventStore, StoredEvent


def _event(n: int, user: str = "u1", ts: float | None = None, item: str = "SOC-01"):
    return StoredEvent(f"e{n}", user, item, "view", float(n) if ts is None else ts)


def test_wal_and_full_sync(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    conn = store._reader()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store._writer.execute("PRAGMA synchronous").fetchone()[0] == 2
    store.close()


def test_resent_ids_are_stored_once(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    first = store.add([_event(1), _event(2)])
    again = store.add([_event(2), _event(3), _event(3)])
    assert (first.stored, first.duplicates) == (2, 0)
    assert (again.received, again.stored, again.duplicates) == (3, 1, 2)
    assert store.all_ids() == ["e1", "e2", "e3"]
    store.close()
    reopened = SQLiteEventStore(tmp_path / "events.sqlite")
    assert reopened.count() == 3
    reopened.close()


def test_a_failing_batch_stores_nothing(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    bad = StoredEvent("e9", "u1", "SOC-01", "teleport", 1.0)  # violates the CHECK constraint
    with pytest.raises(sqlite3.IntegrityError):
        store.add([_event(1), bad])
    assert store.count() == 0
    store.add([_event(1)])
    assert store.count() == 1
    store.close()


def test_history_is_in_time_order_with_ties_in_arrival_order(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    store.add([_event(1, ts=5.0, item="B"), _event(2, ts=1.0, item="A")])
    store.add([_event(3, ts=5.0, item="C"), _event(4, user="u2", ts=0.0)])
    assert [e.item for e in store.history("u1")] == ["A", "B", "C"]
    assert [e.item for e in store.history("u1", limit=2)] == ["B", "C"]
    assert store.history("nobody") == []
    assert store.users() == [("u2", 1), ("u1", 3)]
    store.close()


def test_concurrent_writers_lose_nothing(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")

    def write(client: int) -> None:
        for b in range(20):
            batch = [_event(client * 10_000 + b * 10 + i) for i in range(10)]
            store.add(batch + batch[:3])  # duplicates inside a batch too

    threads = [threading.Thread(target=write, args=(c,)) for c in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = store.all_ids()
    assert len(ids) == len(set(ids)) == 8 * 20 * 10
    store.close()


def test_an_id_stored_with_another_payload_refuses_the_batch(tmp_path):
    from lmrec.serve.store import EventConflict

    store = SQLiteEventStore(tmp_path / "events.sqlite")
    store.add([_event(1), _event(2)])
    with pytest.raises(EventConflict) as caught:
        store.add([_event(3), _event(2, item="SOC-02")])
    assert str(caught.value) == "event id 'e2' is already stored with a different payload"
    assert store.all_ids() == ["e1", "e2"]
    # A server-chosen timestamp is not part of the payload.
    assert store.add([_event(1, ts=99.0)], server_timestamps={"e1"}).duplicates == 1
    with pytest.raises(EventConflict):
        store.add([_event(1, ts=99.0)])
    store.close()


def test_delete_user_is_one_transaction_and_erased_ids_stay_duplicates(tmp_path):
    from lmrec.serve.store import ServedRecommendation

    store = SQLiteEventStore(tmp_path / "events.sqlite")
    store.add([_event(1), _event(2), _event(3, user="u2")])
    store.record_served(ServedRecommendation("u1", ["SOC-03"], "m", 1.0, 2.0))
    store.record_served(ServedRecommendation(None, ["SOC-04"], "m", 1.0, 3.0))
    assert store.delete_user("u1") == 2
    assert store.all_ids() == ["e3"]
    assert store.served() == [ServedRecommendation(None, ["SOC-04"], "m", 1.0, 3.0)]
    assert store.add([_event(1), _event(4)]).stored == 1
    assert store.all_ids() == ["e3", "e4"]
    # Only hashes of erased ids are kept: no id the client chose stays readable.
    erased = store._reader().execute("SELECT id_hash FROM erased").fetchall()
    expected = sorted(hashlib.sha256(i.encode()).hexdigest() for i in ("e1", "e2"))
    assert sorted(h for (h,) in erased) == expected
    store.close()

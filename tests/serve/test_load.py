"""A real ``lmrec serve`` process under concurrent load, killed with SIGKILL mid-load and
restarted: every acknowledged event is stored exactly once. (Reduced sizes; the full run is
``benchmarks/serve_load.py``.)"""

from __future__ import annotations

import signal
import threading
import time

import httpx
import pytest
from conftest import API_KEY

from lmrec.serve.loadtest import LoadResult, ServerProcess, measure_latency, send_events
from lmrec.serve.store import SQLiteEventStore

CLIENTS, EVENTS_EACH, BATCH = 20, 2000, 100
ERASED_USERS = 10
KEY = {"X-API-Key": API_KEY}
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("load") / "events.sqlite"
    with ServerProcess(model_dir, db, API_KEY) as proc:
        yield proc


def _stored_ids(db_path) -> list[str]:
    store = SQLiteEventStore(db_path)
    try:
        return store.all_ids()
    finally:
        store.close()


def test_concurrent_clients_store_every_event_once(server, catalog):
    result = send_events(server.url, API_KEY, CLIENTS, EVENTS_EACH, list(catalog), BATCH)
    assert result.errors == []
    assert result.acked == CLIENTS * EVENTS_EACH
    ids = _stored_ids(server.db_path)
    assert len(ids) == len(set(ids))
    assert set(ids) == result.acked_ids
    print(f"\n{result.acked} events in {result.seconds:.1f}s: {result.events_per_second:.0f}/s")


def _erase(url: str, users: list[str], erased: dict[str, int], pause: float) -> None:
    """DELETE each user, retrying through the crash until a 2xx; ``erased`` gets the counts."""
    with httpx.Client(base_url=url, headers={"X-API-Key": API_KEY}, timeout=30.0) as http:
        for user in users:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                try:
                    response = http.delete(f"/users/{user}")
                    if response.status_code == 200:
                        erased[user] = response.json()["deleted"]
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.05)
            time.sleep(pause)


def test_sigkill_mid_load_loses_nothing(model_dir, tmp_path, catalog):
    proc = ServerProcess(model_dir, tmp_path / "crash.sqlite", API_KEY).start()
    total = CLIENTS * EVENTS_EACH
    # Users to erase while the load runs: their events go in first, under other ids.
    doomed = [f"erase-{n}" for n in range(ERASED_USERS)]
    before = [
        {"id": f"x{n}", "user": doomed[n % ERASED_USERS], "item": "SOC-01", "type": "view"}
        for n in range(ERASED_USERS * 10)
    ]
    assert httpx.post(proc.url + "/events", json={"events": before}, headers=KEY).is_success
    result = LoadResult(CLIENTS, total, BATCH)
    erased: dict[str, int] = {}
    sender = threading.Thread(
        target=send_events,
        args=(proc.url, API_KEY, CLIENTS, EVENTS_EACH, list(catalog), BATCH),
        kwargs={"give_up_after": 90.0, "result": result},
    )
    eraser = threading.Thread(target=_erase, args=(proc.url, doomed, erased, 0.1))
    try:
        sender.start()
        deadline = time.monotonic() + 60
        while result.acked < total // 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        eraser.start()
        while result.acked < total // 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        acked_before_kill = set(result.acked_ids)
        erased_before_kill = set(erased)
        proc.kill()
        assert 0 < len(acked_before_kill) < total, "the kill must land mid-load"
        time.sleep(0.5)  # clients now meet a refused connection and retry
        proc.start()
        sender.join(timeout=120)
        eraser.join(timeout=120)
        assert not sender.is_alive() and not eraser.is_alive()
    finally:
        proc.stop()
    assert result.errors == []
    assert result.retries > 0
    ids = _stored_ids(proc.db_path)
    assert len(ids) == len(set(ids)), "an event was stored twice"
    assert acked_before_kill <= set(ids), "an acknowledged event was lost in the crash"
    assert set(ids) == result.acked_ids and len(ids) == total
    # Every erasure was acknowledged and held through the crash; none erased twice.
    assert set(erased) == set(doomed) and erased_before_kill <= set(erased)
    assert sum(erased.values()) <= len(before)
    print(f"\n{len(erased_before_kill)} of {ERASED_USERS} users erased before the kill")


def test_start_up_access_and_reload_lines_in_the_server_log(server):
    httpx.get(server.url + "/users?offset=-1")
    assert httpx.post(server.url + "/admin/reload", headers=KEY).status_code == 200
    time.sleep(0.2)  # the access line is written after the answer is sent
    log = server.log_path.read_text(encoding="utf-8").splitlines()
    assert (
        f"lmrec serve on http://127.0.0.1:{server.port}/: "
        + (
            "reads are OPEN to anyone who can reach the port (set LMREC_READ_KEY to close them); "
            "writes need the API key in X-API-Key"
        )
        in log
    )
    assert any(
        line.startswith("INFO lmrec.serve.access: 127.0.0.1 GET /users 422 ") for line in log
    )
    assert any(
        line.startswith(f"INFO lmrec.serve.models: model reloaded from {server.model_dir} in ")
        for line in log
    )
    assert not any(API_KEY in line for line in log)


def test_recommendation_latency_under_write_load(server, catalog):
    writers = threading.Thread(
        target=send_events,
        args=(server.url, API_KEY, 5, 1000, list(catalog), BATCH),
        kwargs={"users_per_client": 5},
    )
    writers.start()
    users = [f"load-{c:03d}-{u}" for c in range(5) for u in range(5)]
    latency = measure_latency(server.url, users, clients=5, requests_per_client=10)
    writers.join()
    summary = latency.summary()
    print(f"\nrecommendation latency under load: {summary}")
    assert latency.errors == 0 and summary["requests"] == 50
    assert summary["p99_ms"] < 20_000


def test_sighup_reloads_without_failing_requests(server):
    before = httpx.get(server.url + "/health").json()["reloads"]
    server.send_signal(signal.SIGHUP)
    statuses = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        statuses.append(httpx.get(server.url + "/users/load-000-0/recommendations?k=5").status_code)
        if httpx.get(server.url + "/health").json()["reloads"] == before + 1:
            break
    assert httpx.get(server.url + "/health").json()["reloads"] == before + 1
    assert set(statuses) == {200}

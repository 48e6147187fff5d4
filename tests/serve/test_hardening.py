"""Issue 26 on the service, in-process: bounded parameters, strict types, conflicting resends,
look-alike user ids, erasure, metrics, the access log and the record of what was served."""

from __future__ import annotations

import logging
from urllib.parse import quote

import pytest
from conftest import API_KEY
from fastapi.testclient import TestClient

from lmrec.serve import ServeConfig, create_app
from lmrec.serve.store import SQLiteEventStore

KEY = {"X-API-Key": API_KEY}


@pytest.fixture
def client(model_dir, tmp_path):
    config = ServeConfig(str(model_dir), str(tmp_path / "events.sqlite"), api_key=API_KEY)
    with TestClient(create_app(config), raise_server_exceptions=False) as c:
        yield c


def _event(n: int, user: str = "u1", item: str = "SOC-01", **changes) -> dict:
    return {"id": f"e{n}", "user": user, "item": item, "type": "view", "timestamp": n, **changes}


def _post(client, *events):
    return client.post("/events", headers=KEY, json={"events": list(events)})


def _error(response, status: int) -> str:
    assert response.status_code == status, response.text
    return response.json()["error"]


def _events_stored(client) -> int:
    return client.get("/health").json()["events"]


# --- bounded query parameters, strict bodies, messages that fit --------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/users?offset=99999999999999999999", "less than or equal to 1000000000"),
        ("/items?offset=99999999999999999999", "less than or equal to 1000000000"),
        ("/users?offset=-1", "greater than or equal to 0"),
        ("/users?limit=99999999999999999999", "less than or equal to 1000"),
        ("/items?limit=0", "greater than or equal to 1"),
        ("/users/u1/recommendations?k=99999999999999999999", "less than or equal to 100"),
    ],
)
def test_every_integer_query_parameter_is_bounded(client, path, message):
    name = path.split("?")[1].split("=")[0]
    assert _error(client.get(path), 422) == f"query.{name}: Input should be {message}"


def test_largest_offset_answers_an_empty_page(client):
    assert client.get("/users?offset=1000000000").json() == {"users": []}
    assert client.get("/items?offset=1000000000").json()["items"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"k": True}, "k: Input should be a valid integer"),
        ({"k": "5"}, "k: Input should be a valid integer"),
        ({"k": 5.5}, "k: Input should be a valid integer"),
        ({"exclude_seen": "yes"}, "exclude_seen: Input should be a valid boolean"),
        ({"exclude_seen": 1}, "exclude_seen: Input should be a valid boolean"),
    ],
)
def test_recommend_body_types_are_strict(client, body, message):
    assert _error(client.post("/recommend", json=body), 422) == message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"timestamp": "5"},
            "events.0.timestamp: Input should be a number (epoch seconds) or an ISO-8601 date, "
            "not '5'",
        ),
        ({"timestamp": True}, "events.0.timestamp: Input should be a valid number"),
        ({"rating": "5"}, "events.0.rating: Input should be a valid number"),
    ],
)
def test_event_numbers_are_strict(client, change, message):
    assert _error(_post(client, _event(1, **change)), 422) == message
    assert _events_stored(client) == 0


def test_unknown_item_messages_fit_the_endpoint(client):
    recommend = _error(client.post("/recommend", json={"history": ["NOPE"]}), 422)
    assert recommend == "unknown item(s) not in the model's catalogue: 'NOPE'"
    events = _error(_post(client, _event(1), _event(2, item="NOPE")), 422)
    assert events == "unknown item(s) not in the model's catalogue: 'NOPE'; nothing stored"
    assert _events_stored(client) == 0


# --- resent ids ----------------------------------------------------------------------------------


def test_an_id_resent_with_another_payload_refuses_the_whole_batch(client):
    assert _post(client, _event(1), _event(2)).json()["stored"] == 2
    conflict = _post(client, _event(3), _event(2, item="SOC-02"))
    assert _error(conflict, 409) == (
        "event id 'e2' is already stored with a different payload; "
        "nothing stored (a new event needs a new id)"
    )
    assert _events_stored(client) == 2  # e3 was not stored either
    identical = _post(client, _event(1), _event(2))
    assert identical.json() == {"received": 2, "stored": 0, "duplicates": 2}


def test_an_id_twice_in_one_batch_with_two_payloads_is_a_conflict(client):
    response = _post(client, _event(1), _event(1, type="purchase"))
    assert _error(response, 409).startswith("event id 'e1' is already stored")
    assert _events_stored(client) == 0


def test_a_resend_without_timestamps_stays_a_duplicate(client):
    event = {"id": "n1", "user": "u1", "item": "SOC-01", "type": "cart"}
    assert _post(client, event).json()["stored"] == 1
    assert _post(client, event).json() == {"received": 1, "stored": 0, "duplicates": 1}
    assert _error(_post(client, {**event, "type": "view"}), 409).startswith("event id 'n1'")


# --- user ids ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("u\u202e1", "invisible U+202E (RIGHT-TO-LEFT OVERRIDE) at position 1"),
        ("u\u2066x\u2069", "invisible U+2066 (LEFT-TO-RIGHT ISOLATE) at position 1"),
        ("u\u200b1", "invisible U+200B (ZERO WIDTH SPACE) at position 1"),
        ("\ufeffu1", "invisible U+FEFF (ZERO WIDTH NO-BREAK SPACE) at position 0"),
        (" u1", "surrounding whitespace"),
        ("u1\u00a0", "surrounding whitespace"),
        ("u\x1b1", "control character U+001B at position 1"),
    ],
)
def test_look_alike_user_ids_are_refused(client, user, message):
    assert _error(_post(client, _event(1, user=user)), 422) == f"events.0.user: {message}"
    path = f"/users/{quote(user)}"
    assert _error(client.get(f"{path}/recommendations"), 422) == f"user: {message}"
    assert _error(client.delete(path, headers=KEY), 422) == f"user: {message}"
    assert _events_stored(client) == 0


def test_user_ids_are_nfc_normalised(client):
    decomposed, composed = "Jose\u0301", "Jos\u00e9"
    assert _post(client, _event(1, user=decomposed), _event(2, user=composed)).status_code == 200
    assert client.get("/users").json() == {"users": [{"user": composed, "events": 2}]}
    history = client.get(f"/users/{decomposed}/recommendations").json()["history"]
    assert len(history) == 2


# --- erasure -------------------------------------------------------------------------------------


def test_delete_needs_the_write_key(client):
    assert _post(client, _event(1)).status_code == 200
    assert _error(client.delete("/users/u1"), 401) == (
        "missing API key: send it in the X-API-Key header"
    )
    bad = client.delete("/users/u1", headers={"X-API-Key": "nope"})
    assert _error(bad, 403) == "wrong API key in the X-API-Key header"
    assert _events_stored(client) == 1


def test_delete_erases_a_users_events_and_served_lists_and_says_how_many(client, tmp_path):
    assert _post(client, _event(1), _event(2), _event(3, user="u2")).status_code == 200
    assert client.get("/users/u1/recommendations?k=3").status_code == 200
    assert client.get("/users/u2/recommendations?k=3").status_code == 200
    response = client.delete("/users/u1", headers=KEY)
    assert response.status_code == 200 and response.json() == {"user": "u1", "deleted": 2}
    assert client.get("/users").json() == {"users": [{"user": "u2", "events": 1}]}
    assert client.get("/users/u1/recommendations").json()["history"] == []
    assert client.delete("/users/u1", headers=KEY).json() == {"user": "u1", "deleted": 0}
    # A late retry of an erased event is a duplicate: erasure sticks.
    assert _post(client, _event(1)).json() == {"received": 1, "stored": 0, "duplicates": 1}
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    try:
        assert store.all_ids() == ["e3"]
        # u1's list served after the first erasure went with the second.
        assert [s.user for s in store.served()] == ["u2"]
    finally:
        store.close()


# --- what was served, metrics, logs --------------------------------------------------------------


def test_every_recommendation_served_is_recorded(client, model_dir, tmp_path):
    assert _post(client, _event(1)).status_code == 200
    mine = client.get("/users/u1/recommendations?k=4").json()["recommendations"]
    anonymous = client.post("/recommend", json={"history": ["SOC-02"], "k": 2}).json()
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    try:
        served = store.served()
    finally:
        store.close()
    assert [(s.user, s.items, s.model) for s in served] == [
        ("u1", [r["item"] for r in mine], model_dir.name),
        (None, [r["item"] for r in anonymous["recommendations"]], model_dir.name),
    ]
    loaded_at = client.get("/health").json()["loaded_at"]
    assert all(s.model_loaded_at == loaded_at and s.timestamp >= loaded_at for s in served)


def test_metrics_in_prometheus_text_format(client):
    _post(client, _event(1), _event(2))
    _post(client, _event(1))
    client.get("/users/u1/recommendations?k=2")
    client.delete("/users/u1", headers=KEY)
    client.get("/users?offset=-1")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    lines = response.text.splitlines()
    for line in [
        'lmrec_requests_total{method="POST",route="/events",status="200"} 2',
        'lmrec_requests_total{method="GET",route="/users/{user}/recommendations",status="200"} 1',
        'lmrec_requests_total{method="DELETE",route="/users/{user}",status="200"} 1',
        'lmrec_requests_total{method="GET",route="/users",status="422"} 1',
        'lmrec_request_duration_seconds_count{route="/events"} 2',
        'lmrec_request_duration_seconds_bucket{route="/events",le="+Inf"} 2',
        "# TYPE lmrec_request_duration_seconds histogram",
        "lmrec_events_stored_total 2",
        "lmrec_events_duplicate_total 1",
        "lmrec_events_erased_total 2",
        "lmrec_recommendations_served_total 1",
        "lmrec_events 0",
        "lmrec_model_reloads 0",
    ]:
        assert line in lines, line
    client.post("/admin/reload", headers=KEY)
    assert "lmrec_model_reloads 1" in client.get("/metrics").text.splitlines()


def test_access_log_and_reload_log_lines(client, caplog, model_dir):
    with caplog.at_level(logging.INFO, logger="lmrec.serve"):
        client.get("/users/u%0aforged/recommendations")
        client.post("/admin/reload", headers=KEY)
    access = [r.getMessage() for r in caplog.records if r.name == "lmrec.serve.access"]
    assert access[0].startswith("testclient GET /users/u\\nforged/recommendations 422 ")
    assert access[1].startswith("testclient POST /admin/reload 200 ")
    assert access[0].endswith("ms") and len(access) == 2
    reload_lines = [r.getMessage() for r in caplog.records if r.name == "lmrec.serve.models"]
    assert len(reload_lines) == 1
    assert reload_lines[0].startswith(f"model reloaded from {model_dir} in ")

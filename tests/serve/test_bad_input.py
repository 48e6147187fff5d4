"""Malformed, hostile and unauthorised requests: each gets the right 4xx and a clear JSON
message, never a 500 or a traceback, and nothing half-stored."""

from __future__ import annotations

import json

import pytest
from conftest import API_KEY
from fastapi.testclient import TestClient

from lmrec.serve import ServeConfig, create_app

KEY = {"X-API-Key": API_KEY}
JSON_KEY = {**KEY, "Content-Type": "application/json"}
GOOD = {"id": "ok-1", "user": "u1", "item": "SOC-01", "type": "view", "timestamp": 1.0}


def _events(**changes):
    return {"events": [{**GOOD, **changes}]}


# (name, method, path, request kwargs, status, words the error message must contain)
CASES = [
    ("missing key", "post", "/events", {"json": _events()}, 401, "missing API key"),
    (
        "wrong key",
        "post",
        "/events",
        {"json": _events(), "headers": {"X-API-Key": "x"}},
        403,
        "wrong API key",
    ),
    ("reload without key", "post", "/admin/reload", {}, 401, "missing API key"),
    (
        "wrong type of type",
        "post",
        "/events",
        {"json": _events(type=3), "headers": KEY},
        422,
        "events.0.type",
    ),
    (
        "unknown event type",
        "post",
        "/events",
        {"json": _events(type="teleport"), "headers": KEY},
        422,
        "'view', 'bookmark', 'cart' or 'purchase'",
    ),
    (
        "timestamp not a number",
        "post",
        "/events",
        {"json": _events(timestamp="yesterday"), "headers": KEY},
        422,
        "events.0.timestamp",
    ),
    (
        "negative timestamp",
        "post",
        "/events",
        {"json": _events(timestamp=-5), "headers": KEY},
        422,
        "greater than or equal to 0",
    ),
    (
        "infinite timestamp",
        "post",
        "/events",
        {"content": json.dumps(_events()).replace("1.0", "Infinity"), "headers": JSON_KEY},
        422,
        "timestamp",
    ),
    (
        "rating out of range",
        "post",
        "/events",
        {"json": _events(rating=9), "headers": KEY},
        422,
        "events.0.rating",
    ),
    (
        "missing user",
        "post",
        "/events",
        {"json": {"events": [{k: v for k, v in GOOD.items() if k != "user"}]}, "headers": KEY},
        422,
        "events.0.user: Field required",
    ),
    (
        "unexpected field",
        "post",
        "/events",
        {"json": _events(path="/etc/passwd"), "headers": KEY},
        422,
        "events.0.path",
    ),
    (
        "events not a list",
        "post",
        "/events",
        {"json": {"events": "SOC-01"}, "headers": KEY},
        422,
        "events",
    ),
    ("empty batch", "post", "/events", {"json": {"events": []}, "headers": KEY}, 422, "events"),
    (
        "batch too big",
        "post",
        "/events",
        {"json": {"events": [{**GOOD, "id": f"b{n}"} for n in range(1001)]}, "headers": KEY},
        422,
        "at most 1000",
    ),
    (
        "unknown item",
        "post",
        "/events",
        {"json": {"events": [GOOD, {**GOOD, "id": "ok-2", "item": "NOPE-1"}]}, "headers": KEY},
        422,
        "'NOPE-1'",
    ),
    (
        "control character in user",
        "post",
        "/events",
        {"json": _events(user="u\x07"), "headers": KEY},
        422,
        "control character U+0007",
    ),
    (
        "NUL in review",
        "post",
        "/events",
        {"json": _events(review="ok\x00"), "headers": KEY},
        422,
        "control character U+0000",
    ),
    (
        "lone surrogate",
        "post",
        "/events",
        {
            "content": '{"events": [{"id": "s", "user": "\\ud800", "item": "SOC-01", '
            '"type": "view"}]}',
            "headers": JSON_KEY,
        },
        422,
        "events.0.user: Input should be a valid string",
    ),
    (
        "review too long",
        "post",
        "/events",
        {"json": _events(review="ب" * 2001), "headers": KEY},
        422,
        "at most 2000 characters",
    ),
    (
        "id too long",
        "post",
        "/events",
        {"json": _events(id="x" * 129), "headers": KEY},
        422,
        "at most 128 characters",
    ),
    (
        "invalid UTF-8",
        "post",
        "/events",
        {"content": b'{"events": "\xff\xfe"}', "headers": JSON_KEY},
        400,
        "not valid UTF-8",
    ),
    (
        "invalid JSON",
        "post",
        "/events",
        {"content": b'{"events": [', "headers": JSON_KEY},
        400,
        "not valid JSON",
    ),
    (
        "deeply nested JSON",
        "post",
        "/events",
        {"content": b"[" * 200_000 + b"]" * 200_000, "headers": JSON_KEY},
        400,
        "parsing the body",
    ),
    (
        "not JSON",
        "post",
        "/events",
        {
            "content": b"user=u1",
            "headers": {**KEY, "Content-Type": "application/x-www-form-urlencoded"},
        },
        415,
        "application/json",
    ),
    (
        "huge body",
        "post",
        "/events",
        {"content": b" " * (2 << 20), "headers": JSON_KEY},
        413,
        "larger than 1048576 bytes",
    ),
    ("k zero", "get", "/users/u1/recommendations?k=0", {}, 422, "query.k"),
    ("k too big", "get", "/users/u1/recommendations?k=101", {}, 422, "query.k"),
    ("k not a number", "get", "/users/u1/recommendations?k=ten", {}, 422, "query.k"),
    (
        "control character in path",
        "get",
        "/users/u%01/recommendations",
        {},
        422,
        "control character",
    ),
    ("invalid UTF-8 in path", "get", "/users/%FF%FE/recommendations", {}, 422, "invalid UTF-8"),
    ("bad language", "get", "/items?lang=../../etc", {}, 422, "query.lang"),
    (
        "history too long",
        "post",
        "/recommend",
        {"json": {"history": ["SOC-01"] * 201}},
        422,
        "at most 200",
    ),
    (
        "history unknown item",
        "post",
        "/recommend",
        {"json": {"history": ["SOC-01", "ZZZ"]}},
        422,
        "'ZZZ'",
    ),
    ("history wrong type", "post", "/recommend", {"json": {"history": "SOC-01"}}, 422, "history"),
    (
        "recommend k too big",
        "post",
        "/recommend",
        {"json": {"history": [], "k": 1000}},
        422,
        "k: Input should be less than or equal to 100",
    ),
    ("rate unknown item", "post", "/rate", {"json": {"item": "ZZZ"}}, 422, "'ZZZ'"),
    (
        "explain lacks task",
        "post",
        "/explain",
        {"json": {"item": "SOC-01"}},
        501,
        "this model was not trained for explanation",
    ),
    ("unknown route", "get", "/etc/passwd", {}, 404, "Not Found"),
    ("wrong method", "delete", "/events", {}, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "kwargs", "status", "words"), CASES, ids=[c[0] for c in CASES]
)
def test_refused_with_a_clear_message(service_client, name, method, path, kwargs, status, words):
    response = service_client.request(method.upper(), path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert words in body["error"]
    assert "Traceback" not in body["error"]
    assert service_client.get("/health").json()["events"] == 0  # nothing half-stored


def test_arabic_text_is_accepted_and_returned_intact(service_client):
    review = "حذاء ممتاز للجري\tخفيف\nومريح 👟"
    user = "مستخدم-١"
    response = service_client.post(
        "/events", headers=KEY, json=_events(id="rtl", user=user, review=review, rating=4)
    )
    assert response.status_code == 200, response.text
    body = service_client.get(f"/users/{user}/recommendations", params={"lang": "ar", "k": 3})
    assert body.status_code == 200
    assert body.headers["content-type"].startswith("application/json")
    data = json.loads(body.content.decode("utf-8"))
    assert data["user"] == user
    assert data["history"][0]["name"] == "كرة قدم"


def test_review_round_trips_through_the_store(model_dir, tmp_path):
    from lmrec.serve.store import SQLiteEventStore

    db = tmp_path / "e.sqlite"
    review = "حذاء ممتاز\u200f للجري"
    with TestClient(create_app(ServeConfig(str(model_dir), str(db), api_key=API_KEY))) as c:
        assert c.post("/events", headers=KEY, json=_events(review=review)).status_code == 200
    stored = SQLiteEventStore(db).history("u1")
    assert stored[0].review == review

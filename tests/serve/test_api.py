"""The service in-process: endpoints, names in Arabic, seen items, reload, task plug-ins."""

from __future__ import annotations

import threading

import pytest
from conftest import API_KEY, READ_KEY
from fastapi.testclient import TestClient

from lmrec.recommenders.lm import LMRecommender
from lmrec.serve import ModelHolder, ServeConfig, create_app, supported_tasks

WRITE = {"X-API-Key": API_KEY}


@pytest.fixture(scope="module")
def client(model_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("api") / "events.sqlite"
    with TestClient(create_app(ServeConfig(str(model_dir), str(db), api_key=API_KEY))) as c:
        yield c


def _post_events(client, events):
    response = client.post("/events", json={"events": events}, headers=WRITE)
    assert response.status_code == 200, response.text
    return response.json()


def test_health_and_openapi(client):
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["items"] == 72
    assert health["tasks"] == ["sequential"]
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/events",
        "/users/{user}/recommendations",
        "/recommend",
        "/rate",
        "/explain",
        "/items",
        "/health",
        "/admin/reload",
    ):
        assert path in paths
    assert "422" in paths["/events"]["post"]["responses"]


def test_items_paginated_in_arabic(client, catalog):
    page = client.get("/items", params={"lang": "ar", "offset": 2, "limit": 3}).json()
    assert page["total"] == 72 and len(page["items"]) == 3
    first = page["items"][0]
    assert first["name"] == catalog[first["id"]].names["ar"]
    assert any("\u0600" <= ch <= "\u06ff" for ch in first["name"])
    english = client.get("/items", params={"offset": 2, "limit": 1}).json()["items"][0]
    assert english["name"] == catalog[first["id"]].name


def test_user_recommendations_follow_the_stored_history(client, catalog):
    items = list(catalog)
    stored = _post_events(
        client,
        [
            {"id": "api-1", "user": "alice", "item": items[3], "type": "view", "timestamp": 20.0},
            {
                "id": "api-2",
                "user": "alice",
                "item": items[1],
                "type": "purchase",
                "timestamp": 10.0,
                "rating": 5,
                "review": "ممتاز جدا، أنصح به",
            },
        ],
    )
    assert stored == {"received": 2, "stored": 2, "duplicates": 0}
    body = client.get("/users/alice/recommendations", params={"k": 70, "lang": "ar"}).json()
    assert [e["item"] for e in body["history"]] == [items[1], items[3]]  # time order
    recommended = [r["item"] for r in body["recommendations"]]
    assert len(recommended) == 70 == len(set(recommended))
    assert not {items[1], items[3]} & set(recommended)  # seen items excluded
    top = body["recommendations"][0]
    assert top["name"] == catalog[top["item"]].names["ar"]
    # a new event changes what is excluded
    _post_events(
        client,
        [
            {
                "id": "api-3",
                "user": "alice",
                "item": recommended[0],
                "type": "cart",
                "timestamp": 30.0,
            }
        ],
    )
    again = client.get("/users/alice/recommendations", params={"k": 70}).json()
    assert recommended[0] not in [r["item"] for r in again["recommendations"]]
    assert again["history"][-1]["item"] == recommended[0]


def test_resending_a_batch_stores_it_once(client, catalog):
    batch = [
        {"id": f"dup-{n}", "user": "bob", "item": next(iter(catalog)), "type": "view"}
        for n in range(3)
    ]
    assert _post_events(client, batch)["stored"] == 3
    assert _post_events(client, batch) == {"received": 3, "stored": 0, "duplicates": 3}
    assert len(client.get("/users/bob/recommendations").json()["history"]) == 3


def test_anonymous_history_matches_the_model(client, model_dir, catalog):
    history = list(catalog)[:3]
    body = client.post("/recommend", json={"history": history, "k": 5}).json()
    expected = LMRecommender.load(model_dir).recommend([history], k=5)[0]
    assert [r["item"] for r in body["recommendations"]] == [s.item for s in expected]
    assert body["recommendations"][0]["score"] == pytest.approx(expected[0].score, abs=1e-4)


@pytest.mark.parametrize("path", ["/rate", "/explain"])
def test_tasks_the_model_lacks_answer_501(client, catalog, path):
    response = client.post(path, json={"user": "u0001", "item": next(iter(catalog))})
    assert response.status_code == 501
    assert "this model was not trained for" in response.json()["error"]


class _RatingLM:
    """A stand-in for a future model trained for rating too."""

    def __init__(self, inner):
        self.inner, self.catalog = inner, inner.catalog

    def recommend(self, *args, **kwargs):
        return self.inner.recommend(*args, **kwargs)

    def rate(self, users, items):
        return [4.5 for _ in items]


def test_a_rating_model_plugs_in(model_dir, tmp_path, catalog):
    holder = ModelHolder(model_dir, loader=lambda p: _RatingLM(LMRecommender.load(p)))
    assert supported_tasks(_RatingLM(LMRecommender.load(model_dir))) == ["sequential", "rating"]
    app = create_app(ServeConfig(str(model_dir), str(tmp_path / "e.sqlite")), holder=holder)
    with TestClient(app) as c:
        item = next(iter(catalog))
        answer = c.post("/rate", json={"user": "u0001", "item": item}).json()
        assert answer == {"item": item, "rating": 4.5}
        assert c.post("/explain", json={"item": item}).status_code == 501
        assert c.get("/health").json()["tasks"] == ["sequential", "rating"]


def test_read_key(model_dir, tmp_path):
    config = ServeConfig(
        str(model_dir), str(tmp_path / "e.sqlite"), api_key=API_KEY, read_key=READ_KEY
    )
    with TestClient(create_app(config)) as c:
        assert c.get("/items").status_code == 401
        assert c.get("/items", headers={"X-API-Key": "nope"}).status_code == 403
        assert c.get("/items", headers={"X-API-Key": READ_KEY}).status_code == 200
        assert c.get("/items", headers=WRITE).status_code == 200
        denied = c.post(
            "/events",
            headers={"X-API-Key": READ_KEY},
            json={"events": [{"id": "x", "user": "u", "item": "SOC-01", "type": "view"}]},
        )
        assert denied.status_code == 403
        assert c.get("/health").status_code == 200


def test_reload_keeps_serving(client, catalog):
    """Requests running while the model is swapped all succeed."""
    statuses: list[int] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            statuses.append(client.get("/users/alice/recommendations?k=5").status_code)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    before = client.get("/health").json()["reloads"]
    for _ in range(3):
        response = client.post("/admin/reload", headers=WRITE)
        assert response.status_code == 200, response.text
    stop.set()
    for t in threads:
        t.join()
    assert statuses and set(statuses) == {200}
    assert client.get("/health").json()["reloads"] == before + 3
    assert client.post("/admin/reload").status_code == 401


def test_page_is_self_contained(client):
    html = client.get("/").text
    assert "<script>" in html and 'id="recs"' in html
    assert "http://" not in html and "https://" not in html  # no CDN

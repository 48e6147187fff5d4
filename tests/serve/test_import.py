"""A log in the service: imported idempotently, read as files are read (ISO times, event
aliases, type optional), cold starts flagged, and /docs served with no CDN."""

from __future__ import annotations

import re

import pytest
from conftest import API_KEY
from fastapi.testclient import TestClient

from lmrec.cli import main
from lmrec.data import Catalog, Dataset, EventType, Interaction, Item
from lmrec.serve import ServeConfig, SQLiteEventStore, create_app
from lmrec.serve.importer import IMPORT_ID_PREFIX, import_dataset, imported_events

WRITE = {"X-API-Key": API_KEY}


def _dataset(*rows: tuple) -> Dataset:
    events = [Interaction(u, i, t, EventType(e), position=n) for n, (u, i, t, e) in enumerate(rows)]
    return Dataset(events, Catalog(Item(i) for i in ("A", "B", "C")), name="log")


def test_imported_ids_come_from_the_content(tmp_path):
    rows = [
        ("u1", "A", 5.0, "view"),
        ("u1", "A", 5.0, "view"),
        ("u2", "B", 7.0, "cart"),
        ("u3", "C", None, "cart"),
    ]
    events = list(imported_events(_dataset(*rows).interactions))
    assert [e.id.startswith(IMPORT_ID_PREFIX) for e in events] == [True] * 4
    assert len({e.id for e in events}) == 4  # identical rows differ by their occurrence
    assert events[3].timestamp == 3.0  # no timestamp: the log position keeps the order
    # The same rows in another order (another export of one log) get the same ids.
    again = list(imported_events(_dataset(rows[2], rows[1], rows[0], rows[3]).interactions))
    assert {e.id for e in again} == {e.id for e in events}


def test_a_second_import_stores_nothing(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    try:
        data = _dataset(("u1", "A", 5.0, "view"), ("u1", "B", 6.0, "purchase"))
        first = import_dataset(store, data)
        assert (first.read, first.stored, first.duplicates) == (2, 2, 0)
        second = import_dataset(store, data)
        assert (second.read, second.stored, second.duplicates) == (2, 0, 2)
        assert second.describe() == "2 events read, 0 stored, 2 already stored"
        assert [(e.item, e.type) for e in store.history("u1")] == [("A", "view"), ("B", "purchase")]
    finally:
        store.close()


def test_items_outside_the_model_are_refused_or_skipped(tmp_path):
    store = SQLiteEventStore(tmp_path / "events.sqlite")
    try:
        data = _dataset(
            ("u1", "A", 5.0, "view"), ("u1", "C", 6.0, "view"), ("u2", "C", 7.0, "cart")
        )
        with pytest.raises(ValueError) as caught:
            import_dataset(store, data, known_items={"A", "B"})
        assert str(caught.value) == (
            "log: 2 event(s) of 1 item(s) not in the model's catalogue (e.g. 'C'); "
            "skip_unknown (--skip-unknown) skips them; nothing stored"
        )
        assert store.count() == 0
        result = import_dataset(store, data, known_items={"A", "B"}, skip_unknown=True)
        assert (result.read, result.stored, result.skipped_unknown) == (3, 1, 2)
        assert result.describe().endswith("2 skipped (item not in the model's catalogue)")
    finally:
        store.close()


def test_import_command_with_mappings(tmp_path, capsys):
    log = tmp_path / "log.csv"
    log.write_text(
        "customer_id,sku,ts,event_type\n"
        "c1,S1,2024-01-02T10:00:00Z,view_item\n"
        "c1,S2,1704189700,begin_checkout\n"
        "c2,S9,1704189800,purchase\n",
        encoding="utf-8",
    )
    items = tmp_path / "items.csv"
    items.write_text("sku,title\nS1,Ball\nS2,Bat\n", encoding="utf-8")
    db = tmp_path / "events.sqlite"
    args = [
        "import", "--db", str(db), "--data", str(log), "--catalog", str(items),
        "--columns", "user=customer_id,item=sku,timestamp=ts,event=event_type",
        "--catalog-columns", "item=sku,name=title", "--event-map", "begin_checkout=cart",
    ]  # fmt: skip
    assert main(args) == 2
    assert "not in the catalogue" in capsys.readouterr().err
    assert main([*args, "--skip-unknown"]) == 0
    assert capsys.readouterr().out.strip() == (
        f"imported {log} into {db}: 2 events read, 2 stored, 0 already stored"
    )
    assert main([*args, "--skip-unknown"]) == 0
    assert capsys.readouterr().out.strip().endswith("2 events read, 0 stored, 2 already stored")
    store = SQLiteEventStore(db)
    try:
        history = [(e.item, e.type, e.timestamp) for e in store.history("c1")]
    finally:
        store.close()
    assert history == [("S1", "view", 1704189600.0), ("S2", "cart", 1704189700.0)]


@pytest.fixture(scope="module")
def client(model_dir, tmp_path_factory):
    db = tmp_path_factory.mktemp("import_api") / "events.sqlite"
    config = ServeConfig(str(model_dir), str(db), api_key=API_KEY, event_map=("checkout=cart",))
    with TestClient(create_app(config)) as c:
        yield c


def test_the_api_reads_events_as_files_are_read(client):
    events = [
        {"id": "f1", "user": "fileish", "item": "SOC-01", "type": "add_to_cart",
         "timestamp": "2024-01-02T10:00:00"},
        {"id": "f2", "user": "fileish", "item": "SOC-02", "timestamp": "2024-01-02T11:00:00+01:00"},
        {"id": "f3", "user": "fileish", "item": "RUN-01", "type": "CHECKOUT", "timestamp": 1.7e9},
        {"id": "f4", "user": "fileish", "item": "RUN-02", "type": "Purchases", "timestamp": 1.8e9},
    ]  # fmt: skip
    response = client.post("/events", json={"events": events}, headers=WRITE)
    assert response.status_code == 200, response.text
    history = client.get("/users/fileish/recommendations").json()["history"]
    assert [(h["item"], h["type"], h["timestamp"]) for h in history] == [
        ("RUN-01", "cart", 1.7e9),
        ("SOC-01", "cart", 1704189600.0),
        ("SOC-02", "purchase", 1704189600.0),
        ("RUN-02", "purchase", 1.8e9),
    ]


def test_an_unknown_event_name_is_refused_with_its_place(client):
    events = [{"id": "g1", "user": "u", "item": "SOC-01", "type": "teleport", "timestamp": 1.0}]
    response = client.post("/events", json={"events": events}, headers=WRITE)
    assert response.status_code == 422
    assert response.json()["error"] == (
        "events.0.type: unknown event type 'teleport': expected 'view', 'bookmark', 'cart' or "
        "'purchase', an alias such as add_to_cart, or a name of the server's event map"
    )


def test_cold_start_is_flagged(client):
    cold = client.get("/users/nobody-yet/recommendations").json()
    assert cold["cold_start"] is True and cold["history"] == []
    events = [{"id": "h1", "user": "somebody", "item": "SOC-01", "type": "view"}]
    assert client.post("/events", json={"events": events}, headers=WRITE).status_code == 200
    assert client.get("/users/somebody/recommendations").json()["cold_start"] is False


def test_docs_page_uses_only_local_assets(client):
    page = client.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href|url)\s*[=:]\s*['"]([^'"]+)['"]""", page.text)
    assert len(urls) >= 4 and not [u for u in urls if "//" in u]
    for url in urls:
        assert client.get(url).status_code == 200, url
    assert "swagger-ui-bundle.js" in page.text and "://" not in page.text
    assert '"validatorUrl": null' in page.text and client.get("/redoc").status_code == 404


def test_serve_help_names_the_import_options(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = capsys.readouterr().out
    for flag in ("--import", "--catalog-columns", "--event-map", "--skip-unknown"):
        assert flag in text

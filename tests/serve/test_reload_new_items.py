"""A running service takes items added by ``lmrec add-items`` on ``POST /admin/reload``: the
new item is in the catalogue, recommendable, and accepted in histories and events; until the
reload the service keeps the model it loaded, and it keeps it when the reload fails."""

from __future__ import annotations

import shutil

import httpx
import pytest
from conftest import API_KEY
from fastapi.testclient import TestClient
from lm_fixtures import train_text_model_with_cli
from thread_server import serve_in_thread

from lmrec.cli import main
from lmrec.serve import ServeConfig, create_app

pytestmark = pytest.mark.usefixtures("one_thread")
WRITE = {"X-API-Key": API_KEY}


def test_reload_serves_the_items_add_items_added(tmp_path):
    model = train_text_model_with_cli(tmp_path / "model")
    new = tmp_path / "new.csv"
    new.write_text("item,name,category\nNEW-1,Pro Match Soccer Ball,soccer\n", encoding="utf-8")
    app = create_app(ServeConfig(str(model), str(tmp_path / "events.sqlite"), api_key=API_KEY))
    event = {"events": [{"id": "e-1", "user": "u1", "item": "NEW-1", "type": "purchase"}]}
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        size = http.get("/health").json()["items"]
        assert http.post("/recommend", json={"history": ["NEW-1"]}).status_code == 422

        assert main(["--quiet", "add-items", "--model", str(model), "--catalog", str(new)]) == 0
        # Not before the reload: requests keep the model the service loaded.
        assert http.post("/recommend", json={"history": ["NEW-1"]}).status_code == 422
        assert http.post("/admin/reload").status_code == 401  # the write key is needed
        reloaded = http.post("/admin/reload", headers=WRITE)
        assert reloaded.status_code == 200 and reloaded.json()["items"] == size + 1
        assert http.get("/health").json()["items"] == size + 1

        every = {"history": ["NEW-1"], "k": size + 1, "exclude_seen": False}
        answer = http.post("/recommend", json=every)
        assert answer.status_code == 200
        assert "NEW-1" in {r["item"] for r in answer.json()["recommendations"]}
        listed = http.get("/items", params={"limit": size + 1}).json()["items"]
        assert "Pro Match Soccer Ball" in {i["name"] for i in listed}

        stored = http.post("/events", json=event, headers=WRITE)
        assert stored.status_code == 200 and stored.json()["stored"] == 1
        mine = http.get("/users/u1/recommendations", params={"k": 3}).json()
        assert [e["item"] for e in mine["history"]] == ["NEW-1"] and not mine["cold_start"]
        assert len(mine["recommendations"]) == 3


def test_a_broken_model_directory_is_refused_and_the_old_model_keeps_serving(model_dir, tmp_path):
    model = shutil.copytree(model_dir, tmp_path / "model")
    app = create_app(ServeConfig(str(model), str(tmp_path / "events.sqlite"), api_key=API_KEY))
    with TestClient(app, raise_server_exceptions=False) as client:
        before = client.post("/recommend", json={"history": ["SOC-01"], "k": 3}).json()
        weights = model / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])  # a copy cut short
        answer = client.post("/admin/reload", headers=WRITE)
        assert answer.status_code == 503
        said = answer.json()["error"]
        assert said.startswith("reload failed, still serving the previous model: ")
        assert f"{model}: not a readable lmrec model directory" in said
        assert "transformers model (config.json, weights) cannot be read" in said
        again = client.post("/recommend", json={"history": ["SOC-01"], "k": 3})
        assert again.status_code == 200 and again.json() == before
        assert client.get("/health").json()["reloads"] == 0

"""A shop's log to the service, through the CLI: foreign column and event names, ISO and unix
times, a catalogue keyed by ``sku``; train with mappings, then ``serve --import`` the log (a
real server process) and get a personalised answer for a known customer; a second import
stores nothing. (Issue 25; the tiny model keeps it to seconds.)"""

from __future__ import annotations

import csv
import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from lm_fixtures import train_tiny_with_cli

from lmrec.cli import main
from lmrec.data import make_sportshop
from lmrec.serve.loadtest import ServerProcess

# A real server process and two trainings: the whole module is in the slow lane.
pytestmark = pytest.mark.slow

API_KEY = "shop-story-key"
# GA4 names for most events; the shop's own "begin_checkout" for some carts, mapped below.
EVENT_NAMES = {"view": "view_item", "bookmark": "add_to_wishlist", "purchase": "purchase"}
MAPPINGS = [
    "--columns", "user=customer_id,item=sku,timestamp=ts,event=event_type",
    "--catalog-columns", "item=sku,name=title",
    "--event-map", "begin_checkout=cart",
]  # fmt: skip


@pytest.fixture(scope="module")
def shop(tmp_path_factory) -> Path:
    """customer_id,sku,ts,event_type: every other time in ISO-8601, the rest unix seconds."""
    root = tmp_path_factory.mktemp("shop_story")
    data = make_sportshop(n_users=30, seed=5)
    with open(root / "log.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "sku", "ts", "event_type"])
        for n, x in enumerate(data.interactions):
            ts = int(x.timestamp)
            when = datetime.fromtimestamp(ts, UTC).isoformat() if n % 2 else str(ts)
            cart = "add_to_cart" if n % 3 else "begin_checkout"
            w.writerow([x.user, x.item, when, EVENT_NAMES.get(x.event.value, cart)])
    with open(root / "items.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["sku", "title", "name_ar"])
        for item in data.catalog.values():
            w.writerow([item.id, item.name, item.names["ar"]])
    return root


def _data_flags(shop: Path, flag: str = "--data") -> list[str]:
    return [flag, str(shop / "log.csv"), "--catalog", str(shop / "items.csv"), *MAPPINGS]


@pytest.fixture(scope="module")
def model(shop) -> Path:
    return train_tiny_with_cli(shop / "model", *_data_flags(shop), "--first-only")


def test_train_then_serve_the_imported_log(shop, model, capsys):
    db = shop / "events.sqlite"
    extra = _data_flags(shop, "--import")
    with ServerProcess(model, db, API_KEY, extra_args=extra) as server:
        answer = httpx.get(f"{server.url}/users/u0003/recommendations", params={"k": 5}).json()
        cold = httpx.get(f"{server.url}/users/nobody/recommendations", params={"k": 5}).json()
        # A second import, beside the running service, stores nothing.
        assert main(["import", "--db", str(db), "--model", str(model), *_data_flags(shop)]) == 0
    assert answer["cold_start"] is False and answer["history"]
    assert len(answer["recommendations"]) == 5
    assert {r["item"] for r in answer["recommendations"]}.isdisjoint(
        h["item"] for h in answer["history"]
    )
    assert cold["cold_start"] is True
    events = sum(1 for _ in open(shop / "log.csv", encoding="utf-8")) - 1
    log = server.log()
    assert f"{events} events read, {events} stored, 0 already stored" in log
    assert "Traceback" not in log
    # Stopped by SIGTERM: uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert server.process is not None and server.process.returncode in (0, -signal.SIGTERM)
    second = capsys.readouterr().out
    assert f"{events} events read, 0 stored, {events} already stored" in second


def test_unknown_items_in_a_history_are_skipped_and_counted(model, capsys):
    history = ["recommend", "--model", str(model), "--history", "SOC-01,NOPE,RUN-01", "--json"]
    with pytest.raises(SystemExit, match=r"unknown item\(s\) \['NOPE'\].*--skip-unknown"):
        main(history)
    assert main([*history, "--skip-unknown"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().endswith(
        "warning: --history: skipped 1 item(s) not in the model's catalogue (NOPE)"
    )
    assert json.loads(captured.out)[0]["history"] == ["SOC-01", "RUN-01"]


def test_stream_training_refuses_the_mappings_it_cannot_read(shop, tmp_path):
    args = ["train", "--stream", "--data", str(shop / "log.csv"), "--out", str(tmp_path / "m")]
    with pytest.raises(SystemExit, match="--stream takes no --event-map"):
        main([*args, "--event-map", "begin_checkout=cart"])


def test_import_reads_the_log_with_the_mappings_the_model_recorded(shop, model, capsys):
    """No mapping flags: the model directory's recorded columns, catalogue columns and event
    map read the log; its --first-only filter is not applied, the store keeps every event."""
    db = shop / "recorded.sqlite"
    log = str(shop / "log.csv")
    assert main(["import", "--db", str(db), "--model", str(model), "--data", log]) == 0
    events = sum(1 for _ in open(log, encoding="utf-8")) - 1
    assert f"{events} events read, {events} stored, 0 already stored" in capsys.readouterr().out


def test_the_whole_story_recommend_export_refit_and_serve(shop, model, capsys, tmp_path):
    """Issue 25's story in one run, each step an exit-0 CLI call: a known customer's answer
    with no data flags; every customer's top-k to Parquet; a refit on every event; the refit
    model served with the log imported by the mappings it recorded (no mapping flags)."""
    import pandas as pd

    assert main(["recommend", "--model", str(model), "--user", "u0003", "-k", "3", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["recommendations"]) == 3

    recs = tmp_path / "recs.parquet"
    assert main(["--quiet", "export", "--model", str(model), "--out", str(recs), "-k", "4"]) == 0
    frame = pd.read_parquet(recs)
    customers = {row["customer_id"] for row in csv.DictReader(open(shop / "log.csv"))}
    assert len(frame) == 4 * len(customers) and set(frame["user"]) == customers
    assert frame["name"].notna().all() and (frame["name"] != "").all()

    deployed = tmp_path / "deployed"
    refit = ["--quiet", "train", *_data_flags(shop), "--first-only", "--refit"]
    refit += ["--model", "scratch:tiny", "--epochs", "1", "--batch-size", "16"]
    assert main([*refit, "--out", str(deployed)]) == 0
    assert json.loads((deployed / "lmrec.json").read_text())["refit"]["epochs"] == 1

    db = tmp_path / "events.sqlite"
    extra = ["--import", str(shop / "log.csv")]
    with ServerProcess(deployed, db, API_KEY, extra_args=extra) as server:
        answer = httpx.get(f"{server.url}/users/u0003/recommendations", params={"k": 5}).json()
    assert answer["cold_start"] is False and len(answer["recommendations"]) == 5
    assert "Traceback" not in server.log()

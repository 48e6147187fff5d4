"""The web page in headless Chromium: it shows a user's history and recommendations, and an
event added through its form changes them."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import httpx
import pytest
from conftest import API_KEY
from thread_server import serve_in_thread

from lmrec.serve import ServeConfig, create_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs headless Chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


SHOWN_ITEMS = "[...document.querySelectorAll('#recs tr')].map(r => r.dataset.item)"


@pytest.fixture(scope="module")
def base_url(model_dir, tmp_path_factory):
    """The app under uvicorn in a thread of this process (no second model-loading process)."""
    db = tmp_path_factory.mktemp("page") / "events.sqlite"
    app = create_app(ServeConfig(str(model_dir), str(db), api_key=API_KEY))
    events = [
        {"id": f"page-{n}", "user": "u0001", "item": item, "type": "purchase",
         "timestamp": 1_700_000_000.0 + n}
        for n, item in enumerate(["SOC-01", "SOC-02", "RUN-01"])
    ]  # fmt: skip
    with serve_in_thread(app) as url:
        headers = {"X-API-Key": API_KEY}
        assert httpx.post(url + "/events", json={"events": events}, headers=headers).is_success
        yield url


def _recommendations(url: str, lang: str = "en") -> list[dict]:
    params = {"k": 10, "lang": lang}
    return httpx.get(url + "/users/u0001/recommendations", params=params).json()["recommendations"]


@pytest.mark.slow
def test_dump_dom_shows_history_and_recommendations(base_url, tmp_path):
    dom = subprocess.run(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--virtual-time-budget=15000", "--dump-dom", f"{base_url}/?user=u0001&lang=ar"],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    assert 'data-state="ready"' in dom, dom[-2000:]
    for rec in _recommendations(base_url, "ar"):
        assert rec["name"] in dom and rec["item"] in dom  # Arabic names rendered intact
    assert "كرة قدم" in dom  # SOC-01 in the history, in Arabic


class _DevTools:
    """The smallest Chrome DevTools protocol client we need: send a command, await its reply."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str):
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        raise TimeoutError(f"page never satisfied: {expression}")


@pytest.mark.slow
def test_adding_an_event_in_the_page_updates_recommendations(base_url, tmp_path):
    pytest.importorskip("websockets")
    profile = tmp_path / "profile"
    browser = subprocess.Popen(
        [str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=1280,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        from websockets.sync.client import connect

        with connect(page["webSocketDebuggerUrl"], max_size=None, open_timeout=30) as ws:
            _drive_page(_DevTools(ws), base_url, tmp_path)
    finally:
        browser.terminate()
        try:
            browser.wait(timeout=10)
        except subprocess.TimeoutExpired:
            browser.kill()
        shutil.rmtree(profile, ignore_errors=True)


def _drive_page(tools: _DevTools, base_url: str, tmp_path: Path) -> None:
    """Show u0001, add the top recommendation as a cart event through the form, check."""
    tools.call("Page.enable")
    tools.call("Page.navigate", url=f"{base_url}/?user=u0001")
    tools.wait_for("document.body.dataset.state === 'ready'")
    shown = tools.evaluate(SHOWN_ITEMS)
    before = [r["item"] for r in _recommendations(base_url)]
    assert shown == before
    top = before[0]
    tools.evaluate(
        f"document.getElementById('key').value = {json.dumps(API_KEY)};"
        f"document.getElementById('item').value = {json.dumps(top)};"
        "document.getElementById('type').value = 'cart';"
        "document.body.dataset.state = 'adding';"
        "document.getElementById('add').click(); true"
    )
    tools.wait_for("document.body.dataset.state === 'ready'")
    status = tools.evaluate("document.getElementById('status').textContent")
    assert "stored 1 event" in status
    history = tools.evaluate(
        "[...document.querySelectorAll('#history tr')].map(r => r.cells[0].textContent)"
    )
    assert history[-1] == top
    after = tools.evaluate(SHOWN_ITEMS)
    assert top not in after and after == [r["item"] for r in _recommendations(base_url)]
    shot = tools.call("Page.captureScreenshot", format="png")
    (tmp_path / "serve.png").write_bytes(base64.b64decode(shot["data"]))

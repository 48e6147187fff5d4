"""Load and crash testing against a real ``lmrec serve`` process over loopback.

Used by ``tests/serve`` (small sizes) and ``benchmarks/serve_load.py`` (full size). Clients
resend a batch they got no 2xx for with the same idempotency ids, so after any crash the store
must hold every event exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Self

import httpx

__all__ = [
    "LatencyResult",
    "LoadResult",
    "ServerProcess",
    "event_id",
    "free_port",
    "measure_latency",
    "percentile",
    "send_events",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """``python -m lmrec.cli serve`` in a subprocess on 127.0.0.1, one PyTorch thread."""

    def __init__(
        self,
        model_dir: str | Path,
        db_path: str | Path,
        api_key: str,
        port: int | None = None,
        log_path: str | Path | None = None,
        extra_args: Sequence[str] = (),
    ) -> None:
        self.model_dir = str(model_dir)
        self.db_path = str(db_path)
        self.api_key = api_key
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else Path(self.db_path).with_suffix(".log")
        self.extra_args = list(extra_args)
        self.process: subprocess.Popen | None = None
        self._log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> Self:
        command = [
            sys.executable, "-m", "lmrec.cli", "--threads", "1", "serve",
            "--model", self.model_dir, "--db", self.db_path,
            "--host", "127.0.0.1", "--port", str(self.port), *self.extra_args,
        ]  # fmt: skip
        # The key goes in the environment, as the README advises: argv is visible in ``ps``.
        env = {
            **os.environ,
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "LMREC_API_KEY": self.api_key,
        }
        self._log = open(self.log_path, "ab")  # closed in stop() / kill()
        self.process = subprocess.Popen(command, stdout=self._log, stderr=self._log, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"server not healthy after {timeout}s: {self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def send_signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut of the process."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self._close_log()

    def stop(self, timeout: float = 20.0) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close_log()

    def _close_log(self) -> None:
        if self._log:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        return self.start() if self.process is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def event_id(client: int, number: int) -> str:
    return f"c{client:03d}-{number:07d}"


def _client_events(
    client: int, count: int, items: Sequence[str], users_per_client: int
) -> list[dict]:
    kinds = ("view", "view", "bookmark", "cart", "purchase")
    base = 1_704_067_200.0 + client * 10_000.0
    return [
        {
            "id": event_id(client, n),
            "user": f"load-{client:03d}-{n % users_per_client}",
            "item": items[(client * 7 + n) % len(items)],
            "type": kinds[n % len(kinds)],
            "timestamp": base + n,
        }
        for n in range(count)
    ]


@dataclass
class LoadResult:
    """What the clients sent and what the server acknowledged with 2xx."""

    clients: int
    events: int
    batch_size: int
    acked_ids: set[str] = field(default_factory=set)
    batches: int = 0
    retries: int = 0
    duplicates_reported: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def acked(self) -> int:
        return len(self.acked_ids)

    @property
    def events_per_second(self) -> float:
        return self.acked / self.seconds if self.seconds else 0.0


def _run_clients(worker: Callable[[int], None], clients: int) -> float:
    """``worker(client)`` in ``clients`` threads at once; the wall seconds until all have ended."""
    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(c,), daemon=True) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started


def send_events(
    url: str,
    api_key: str,
    clients: int,
    events_per_client: int,
    items: Sequence[str],
    batch_size: int = 100,
    users_per_client: int = 20,
    give_up_after: float = 120.0,
    result: LoadResult | None = None,
) -> LoadResult:
    """``clients`` threads each send ``events_per_client`` events in batches; a batch without a
    2xx answer (connection refused or reset, timeout, 5xx) is resent with the same ids until
    acknowledged or ``give_up_after`` seconds pass. Pass ``result`` to watch progress."""
    result = result or LoadResult(clients, clients * events_per_client, batch_size)
    lock = threading.Lock()
    headers = {"X-API-Key": api_key}

    def worker(client: int) -> None:
        events = _client_events(client, events_per_client, items, users_per_client)
        with httpx.Client(base_url=url, headers=headers, timeout=30.0) as http:
            for start in range(0, len(events), batch_size):
                batch = events[start : start + batch_size]
                deadline = time.monotonic() + give_up_after
                while True:
                    try:
                        response = http.post("/events", json={"events": batch})
                        if response.status_code < 300:
                            body = response.json()
                            with lock:
                                result.acked_ids.update(e["id"] for e in batch)
                                result.batches += 1
                                result.duplicates_reported += body["duplicates"]
                            break
                        if response.status_code < 500:
                            with lock:
                                result.errors.append(f"{response.status_code} {response.text}")
                            return
                    except httpx.TransportError:
                        pass
                    if time.monotonic() > deadline:
                        with lock:
                            result.errors.append(f"client {client}: gave up on a batch")
                        return
                    with lock:
                        result.retries += 1
                    time.sleep(0.05)

    result.seconds = _run_clients(worker, clients)
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass
class LatencyResult:
    clients: int
    seconds_each: list[float]
    errors: int
    wall_seconds: float

    def summary(self) -> dict[str, float]:
        ms = [s * 1000 for s in self.seconds_each]
        return {
            "requests": len(ms),
            "errors": self.errors,
            "p50_ms": round(percentile(ms, 50), 1),
            "p95_ms": round(percentile(ms, 95), 1),
            "p99_ms": round(percentile(ms, 99), 1),
            "max_ms": round(max(ms), 1) if ms else float("nan"),
            "requests_per_second": round(len(ms) / self.wall_seconds, 1),
        }


def measure_latency(
    url: str, users: Sequence[str], clients: int, requests_per_client: int, k: int = 10
) -> LatencyResult:
    """``clients`` threads each ask ``GET /users/{id}/recommendations`` in a loop."""
    times: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(client: int) -> None:
        nonlocal errors
        with httpx.Client(base_url=url, timeout=60.0) as http:
            for n in range(requests_per_client):
                user = users[(client * 31 + n) % len(users)]
                started = time.perf_counter()
                try:
                    ok = http.get(f"/users/{user}/recommendations", params={"k": k}).is_success
                except httpx.TransportError:
                    ok = False
                elapsed = time.perf_counter() - started
                with lock:
                    if ok:
                        times.append(elapsed)
                    else:
                        errors += 1

    wall_seconds = _run_clients(worker, clients)
    return LatencyResult(clients, times, errors, wall_seconds)

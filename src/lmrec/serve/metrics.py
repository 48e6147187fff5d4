"""Operational visibility: request counts and latencies in Prometheus text format, and an
access log line per request.

Written by hand (the text format is a few lines) rather than adding ``prometheus_client``.
Requests are labelled by route template (``/users/{user}/recommendations``), never by the path
a client sent: a label per user id would grow without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lmrec.text.display import for_terminal

__all__ = ["LATENCY_BUCKETS", "AccessLog", "Metrics"]

access_logger = logging.getLogger("lmrec.serve.access")

# Seconds; a decode on a small CPU model takes tens of milliseconds, a busy one seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_COUNTERS = {
    "events_stored": "events newly stored",
    "events_duplicate": "events resent with an id already stored",
    "events_erased": "events erased by DELETE /users/{user}",
    "recommendations_served": "recommendation lists served",
}


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """Counters and a latency histogram, safe to update from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, int], int] = {}
        self._latency: dict[str, list[float]] = {}  # route -> bucket counts, then sum, count
        self._counters = dict.fromkeys(_COUNTERS, 0)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, status)
            self._requests[key] = self._requests.get(key, 0) + 1
            counts = self._latency.setdefault(route, [0.0] * (len(LATENCY_BUCKETS) + 2))
            bucket = bisect_left(LATENCY_BUCKETS, seconds)
            if bucket < len(LATENCY_BUCKETS):
                counts[bucket] += 1
            counts[-2] += seconds
            counts[-1] += 1

    def add(self, counter: str, amount: int = 1) -> None:
        with self._lock:
            self._counters[counter] += amount

    def value(self, counter: str) -> int:
        with self._lock:
            return self._counters[counter]

    def render(self, gauges: Iterable[tuple[str, str, float]] = ()) -> str:
        """The Prometheus text exposition format (version 0.0.4); ``gauges`` are
        ``(name, help, value)`` read at scrape time (events stored, model reloads)."""
        with self._lock:
            requests = sorted(self._requests.items())
            latency = {route: list(c) for route, c in sorted(self._latency.items())}
            counters = dict(self._counters)
        lines = [
            "# HELP lmrec_requests_total HTTP requests answered",
            "# TYPE lmrec_requests_total counter",
        ]
        for (method, route, status), n in requests:
            labels = f'method="{method}",route="{_label(route)}",status="{status}"'
            lines.append(f"lmrec_requests_total{{{labels}}} {n}")
        lines += _histogram(latency)
        for name, text in _COUNTERS.items():
            lines += [f"# HELP lmrec_{name}_total {text}", f"# TYPE lmrec_{name}_total counter"]
            lines.append(f"lmrec_{name}_total {counters[name]}")
        for name, text, value in gauges:
            lines += [f"# HELP lmrec_{name} {text}", f"# TYPE lmrec_{name} gauge"]
            lines.append(f"lmrec_{name} {value:g}")
        return "\n".join(lines) + "\n"


def _histogram(latency: dict[str, list[float]]) -> list[str]:
    name = "lmrec_request_duration_seconds"
    lines = [f"# HELP {name} time to answer a request", f"# TYPE {name} histogram"]
    for route, counts in latency.items():
        running = 0.0
        for bound, n in zip(LATENCY_BUCKETS, counts, strict=False):
            running += n
            lines.append(f'{name}_bucket{{route="{_label(route)}",le="{bound:g}"}} {running:g}')
        lines.append(f'{name}_bucket{{route="{_label(route)}",le="+Inf"}} {counts[-1]:g}')
        lines.append(f'{name}_sum{{route="{_label(route)}"}} {counts[-2]:.6f}')
        lines.append(f'{name}_count{{route="{_label(route)}"}} {counts[-1]:g}')
    return lines


class AccessLog:
    """ASGI middleware (outermost): one log line and one metrics observation per request,
    refusals by the body guard included. The path is escaped for the log: a client must not
    write a forged line into it."""

    def __init__(
        self, app: ASGIApp, metrics: Metrics, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status = 500  # if the app fails before it answers

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = self.clock() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, status, seconds)
            client = scope.get("client") or ("-", 0)
            path = for_terminal(scope.get("path", ""), 200)
            access_logger.info(
                "%s %s %s %d %.1fms", client[0], scope["method"], path, status, seconds * 1000
            )

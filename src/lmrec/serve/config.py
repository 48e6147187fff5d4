"""Settings of the recommendation service: one frozen dataclass, built by the CLI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServeConfig:
    """Everything ``lmrec serve`` can be told.

    model_dir: the trained model directory (``lmrec train`` / ``lmrec demo`` output). Reloads
        (``POST /admin/reload``, SIGHUP) read this same directory; clients never name a path.
    db_path: the SQLite event store file (created if missing).
    api_key: key required in ``key_header`` for writes (events, reload). ``None`` disables writes.
    read_key: if set, reads need it (or ``api_key``) in ``key_header`` too; if ``None``, reads are
        open.
    key_header: the request header that carries a key.
    max_body_bytes: larger request bodies are refused with 413 before they are parsed.
    max_batch: most events in one ``POST /events``.
    max_request_history: most items in an anonymous history (``POST /recommend``); a
        limit on requests, unlike ``PromptConfig.max_history``, the items a prompt keeps.
    max_k: the largest ``k`` a client may ask for.
    max_page: most items in one ``GET /items`` page.
    history_limit: most recent stored events read for a user's recommendations.
    event_map: event names ``POST /events`` reads beyond the built-in aliases, as name=type
        (the data options' ``--event-map``, so the API reads what an imported log read).
    """

    model_dir: str
    db_path: str
    api_key: str | None = None
    read_key: str | None = None
    key_header: str = "X-API-Key"
    max_body_bytes: int = 1 << 20
    max_batch: int = 1000
    max_request_history: int = 200
    max_k: int = 100
    max_page: int = 500
    history_limit: int = 1000
    event_map: tuple[str, ...] = ()

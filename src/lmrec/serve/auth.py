"""The service's keys: a write key for events, erasure and reloads, and an optional read key.

Keys are compared in constant time (``hmac.compare_digest``). (No ``from __future__ import
annotations``: FastAPI reads the dependencies' annotations, which close over the header, at
runtime.)
"""

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyHeader

from lmrec.serve.config import ServeConfig
from lmrec.serve.errors import ApiError

__all__ = ["key_checks", "reads_open_line"]


def _matches(given: str | None, *keys: str | None) -> bool:
    return given is not None and any(
        k is not None and hmac.compare_digest(given.encode(), k.encode()) for k in keys
    )


def key_checks(config: ServeConfig) -> tuple[Callable[..., None], Callable[..., None]]:
    """FastAPI dependencies ``(require_read, require_write)`` for ``config``'s keys."""
    key_header = APIKeyHeader(name=config.key_header, auto_error=False)

    def require_read(key: Annotated[str | None, Depends(key_header)]) -> None:
        if config.read_key is None:
            return
        if key is None:
            raise ApiError(401, f"missing read key: send it in the {config.key_header} header")
        if not _matches(key, config.read_key, config.api_key):
            raise ApiError(403, f"wrong key in the {config.key_header} header")

    def require_write(key: Annotated[str | None, Depends(key_header)]) -> None:
        if config.api_key is None:
            raise ApiError(403, "writes are disabled: the server was started without an API key")
        if key is None:
            raise ApiError(401, f"missing API key: send it in the {config.key_header} header")
        if not _matches(key, config.api_key):
            raise ApiError(403, f"wrong API key in the {config.key_header} header")

    return require_read, require_write


def reads_open_line(config: ServeConfig) -> str:
    """What the start-up line says about access: who may read, who may write."""
    if config.read_key is None:
        reads = "reads are OPEN to anyone who can reach the port (set LMREC_READ_KEY to close them)"
    else:
        reads = f"reads need the read key (or the API key) in {config.key_header}"
    if config.api_key is None:
        writes = "writes are disabled (no LMREC_API_KEY)"
    else:
        writes = f"writes need the API key in {config.key_header}"
    return f"{reads}; {writes}"

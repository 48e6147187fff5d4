"""Errors as JSON ``{"error": "..."}`` with the right status, and the request-body guard.

No request ever gets a traceback: validation errors become one readable line, unexpected
exceptions a logged 500 with a generic message.
"""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ApiError", "BodyGuard", "install_error_handlers"]

logger = logging.getLogger(__name__)


class ApiError(Exception):
    """A refusal with a status code and a message for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _location(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return ".".join(parts) or "body"


def describe_validation(exc: RequestValidationError) -> tuple[int, str]:
    """(status, message) for a validation failure: 400 for unreadable JSON, else 422."""
    errors = exc.errors()
    for err in errors:
        if err.get("type") == "json_invalid":
            ctx = err.get("ctx") or {}
            return 400, f"request body is not valid JSON: {ctx.get('error', 'parse error')}"
    lines = []
    for err in errors[:5]:
        message = str(err.get("msg", "invalid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        lines.append(f"{_location(tuple(err.get('loc', ())))}: {message}")
    if len(errors) > 5:
        lines.append(f"... and {len(errors) - 5} more")
    return 422, "; ".join(lines)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = describe_validation(exc)
        return _error(status, message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return _error(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal server error (logged on the server)")


class BodyGuard:
    """ASGI middleware: reads at most ``max_bytes`` of a request body before the app sees it.

    Larger bodies (by Content-Length, or counted while streaming) get 413, other media types
    than JSON 415, bodies that are not UTF-8 400. Nothing is parsed before these checks pass.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        too_big = f"request body larger than {self.max_bytes} bytes"
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await _error(400, "invalid Content-Length header")(scope, receive, send)
                    return
                if declared > self.max_bytes:
                    await _error(413, too_big, {"Connection": "close"})(scope, receive, send)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _error(413, too_big, {"Connection": "close"})(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
        media_type = content_type.split(b";")[0].strip().lower()
        if body and media_type != b"application/json":
            shown = media_type.decode("latin-1") or "none"
            message = f"send a JSON body with Content-Type: application/json (got {shown})"
            await _error(415, message)(scope, receive, send)
            return
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as err:
            message = f"request body is not valid UTF-8 (byte {err.start})"
            await _error(400, message)(scope, receive, send)
            return

        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

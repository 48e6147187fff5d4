"""The FastAPI application: :func:`create_app` wires keys, the body guard, the access log and
metrics, the model and the event store around the routes of :mod:`lmrec.serve.routes`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import swagger_ui_bundle
from fastapi import Depends, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from lmrec.serve.auth import key_checks
from lmrec.serve.config import ServeConfig
from lmrec.serve.errors import BodyGuard, install_error_handlers
from lmrec.serve.metrics import AccessLog, Metrics
from lmrec.serve.models import ModelHolder
from lmrec.serve.routes import (
    ServiceContext,
    add_catalogue_routes,
    add_event_routes,
    add_recommendation_routes,
    add_service_routes,
    add_task_routes,
)
from lmrec.serve.store import EventStore, SQLiteEventStore

__all__ = ["DOCS_ASSETS", "create_app"]

DOCS_ASSETS = "/docs-assets"
"""Where the Swagger UI files of ``/docs`` are served from (the swagger-ui-bundle package)."""


def create_app(
    config: ServeConfig,
    holder: ModelHolder | None = None,
    store: EventStore | None = None,
) -> FastAPI:
    """The service. ``holder``/``store`` default to loading ``config.model_dir`` and opening
    ``config.db_path`` at startup; tests may pass their own."""
    require_read, require_write = key_checks(config)
    service = ServiceContext(
        config=config,
        holder=holder or ModelHolder(config.model_dir),
        metrics=Metrics(),
        read=[Depends(require_read)],
        write=[Depends(require_write)],
    )
    if store is not None:
        service.state["store"] = store

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        service.holder.ensure_loaded()
        if "store" not in service.state:
            service.state["store"] = SQLiteEventStore(config.db_path)
        try:
            yield
        finally:
            service.state.pop("store").close()

    app = FastAPI(
        title="lmrec",
        version="0.1.0",
        description="Recommendations from a language model (P5), with a durable event store.",
        lifespan=lifespan,
        # /docs is ours, below: FastAPI's loads Swagger UI from a CDN, blank offline. ReDoc
        # has no packaged assets, so it is off rather than blank.
        docs_url=None,
        redoc_url=None,
    )
    _add_offline_docs(app)
    app.state.holder = service.holder
    app.state.metrics = service.metrics
    install_error_handlers(app)
    app.add_middleware(BodyGuard, max_bytes=config.max_body_bytes)
    app.add_middleware(AccessLog, metrics=service.metrics)  # added last: runs first
    for add_routes in (
        add_service_routes,
        add_catalogue_routes,
        add_event_routes,
        add_recommendation_routes,
        add_task_routes,
    ):
        add_routes(app, service)
    return app


def _add_offline_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the files of the swagger-ui-bundle package, so the page
    works with no internet access."""
    app.mount(
        DOCS_ASSETS, StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets"
    )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
            # Swagger UI would otherwise fetch a badge from validator.swagger.io.
            swagger_ui_parameters={"validatorUrl": None},
        )

"""The FastAPI application: routes, keys and validation around the model and the event store.

(No ``from __future__ import annotations`` here: FastAPI reads the annotations of the route
functions, which close over ``config``, at runtime.)
"""

import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query
from fastapi.responses import HTMLResponse
from fastapi.security import APIKeyHeader

from lmrec.serve.config import ServeConfig
from lmrec.serve.errors import ApiError, BodyGuard, install_error_handlers
from lmrec.serve.models import LoadedModel, ModelHolder, TaskNotSupported
from lmrec.serve.page import PAGE_HTML
from lmrec.serve.schemas import (
    MAX_ID_LENGTH,
    ErrorResponse,
    EventBatch,
    EventsStored,
    ExplainRequest,
    Explanation,
    Health,
    HistoryEntry,
    ItemOut,
    ItemsPage,
    Language,
    RateRequest,
    Rating,
    Recommendations,
    RecommendRequest,
    Reloaded,
    ScoredItem,
    UserRecommendations,
    UsersPage,
    UserSummary,
    check_text,
)
from lmrec.serve.store import EventStore, SQLiteEventStore, StoredEvent

__all__ = ["create_app"]

_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 413, 415, 422)}
LangQuery = Annotated[
    Language | None, Query(description="language of item names, e.g. 'ar' (default: main name)")
]


def _distinct_in_order(items: list[str]) -> list[str]:
    """Each item once, at its first contact: the order the demo model was trained on."""
    return list(dict.fromkeys(items))


def _scored(loaded: LoadedModel, ranked, lang: str | None) -> list[ScoredItem]:
    name = loaded.catalog.name
    return [ScoredItem(item=s.item, name=name(s.item, lang), score=s.score) for s in ranked]


def _check_known(loaded: LoadedModel, items: list[str]) -> None:
    unknown = _distinct_in_order([i for i in items if i not in loaded.catalog])
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        raise ApiError(
            422, f"unknown item(s) not in the model's catalogue: {shown}{more}; nothing stored"
        )


def create_app(
    config: ServeConfig,
    holder: ModelHolder | None = None,
    store: EventStore | None = None,
) -> FastAPI:
    """The service. ``holder``/``store`` default to loading ``config.model_dir`` and opening
    ``config.db_path`` at startup; tests may pass their own."""
    holder = holder or ModelHolder(config.model_dir)
    state: dict[str, EventStore] = {}
    if store is not None:
        state["store"] = store

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        holder.ensure_loaded()
        if "store" not in state:
            state["store"] = SQLiteEventStore(config.db_path)
        try:
            yield
        finally:
            state.pop("store").close()

    app = FastAPI(
        title="lmrec",
        version="0.1.0",
        description="Recommendations from a language model (P5), with a durable event store.",
        lifespan=lifespan,
    )
    app.state.holder = holder
    install_error_handlers(app)
    app.add_middleware(BodyGuard, max_bytes=config.max_body_bytes)

    key_header = APIKeyHeader(name=config.key_header, auto_error=False)

    def _matches(given: str | None, *keys: str | None) -> bool:
        return given is not None and any(
            k is not None and hmac.compare_digest(given.encode(), k.encode()) for k in keys
        )

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

    def event_store() -> EventStore:
        return state["store"]

    read = [Depends(require_read)]
    write = [Depends(require_write)]

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE_HTML)

    @app.get("/health", response_model=Health, tags=["service"])
    def health() -> Health:
        loaded = holder.current
        return Health(
            status="ok",
            model=loaded.name,
            items=len(loaded.catalog),
            tasks=loaded.tasks,
            events=event_store().count(),
            loaded_at=loaded.loaded_at,
            reloads=holder.reloads,
        )

    @app.get(
        "/items", response_model=ItemsPage, dependencies=read, responses=_ERRORS, tags=["catalogue"]
    )
    def items(
        lang: LangQuery = None,
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=config.max_page)] = 50,
    ) -> ItemsPage:
        catalog = holder.current.catalog
        ids = list(catalog)[offset : offset + limit]
        page_items = [
            ItemOut(id=i, name=catalog[i].name_in(lang), category=catalog[i].category) for i in ids
        ]
        return ItemsPage(items=page_items, total=len(catalog), offset=offset, limit=limit)

    @app.post(
        "/events",
        response_model=EventsStored,
        dependencies=write,
        responses=_ERRORS,
        tags=["events"],
    )
    def add_events(batch: EventBatch) -> EventsStored:
        if len(batch.events) > config.max_batch:
            raise ApiError(
                422, f"batch of {len(batch.events)} events; at most {config.max_batch} allowed"
            )
        _check_known(holder.current, [e.item for e in batch.events])
        now = time.time()
        rows = [
            StoredEvent(
                id=e.id,
                user=e.user,
                item=e.item,
                type=e.type.value,
                timestamp=e.timestamp if e.timestamp is not None else now,
                rating=e.rating,
                review=e.review,
            )
            for e in batch.events
        ]
        result = event_store().add(rows)
        return EventsStored(
            received=result.received, stored=result.stored, duplicates=result.duplicates
        )

    @app.get(
        "/users", response_model=UsersPage, dependencies=read, responses=_ERRORS, tags=["events"]
    )
    def users(
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> UsersPage:
        rows = event_store().users(offset, limit)
        return UsersPage(users=[UserSummary(user=u, events=n) for u, n in rows])

    @app.get(
        "/users/{user}/recommendations",
        response_model=UserRecommendations,
        dependencies=read,
        responses=_ERRORS,
        tags=["recommendations"],
    )
    def user_recommendations(
        user: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
        k: Annotated[int, Query(ge=1, le=config.max_k)] = 10,
        lang: LangQuery = None,
    ) -> UserRecommendations:
        try:
            check_text(user)
        except ValueError as err:
            raise ApiError(422, f"user: {err}") from None
        loaded = holder.current
        events = event_store().history(user, config.history_limit)
        history = _distinct_in_order([e.item for e in events if e.item in loaded.catalog])
        ranked = holder.recommend(loaded, history, k, exclude_seen=True)
        name = loaded.catalog.name
        return UserRecommendations(
            user=user,
            history=[
                HistoryEntry(
                    item=e.item, name=name(e.item, lang), type=e.type, timestamp=e.timestamp
                )
                for e in events
            ],
            recommendations=_scored(loaded, ranked, lang),
        )

    @app.post(
        "/recommend",
        response_model=Recommendations,
        dependencies=read,
        responses=_ERRORS,
        tags=["recommendations"],
    )
    def recommend(request: RecommendRequest, lang: LangQuery = None) -> Recommendations:
        limit = config.max_request_history
        if len(request.history) > limit:
            raise ApiError(422, f"history of {len(request.history)} items; at most {limit}")
        if request.k > config.max_k:
            raise ApiError(422, f"k: at most {config.max_k}")
        loaded = holder.current
        _check_known(loaded, request.history)
        ranked = holder.recommend(loaded, request.history, request.k, request.exclude_seen)
        return Recommendations(recommendations=_scored(loaded, ranked, lang))

    not_trained = {501: {"model": ErrorResponse, "description": "model not trained for this"}}

    @app.post(
        "/rate",
        response_model=Rating,
        dependencies=read,
        responses={**_ERRORS, **not_trained},
        tags=["other tasks"],
    )
    def rate(request: RateRequest) -> Rating:
        loaded = holder.current
        _check_known(loaded, [request.item])
        try:
            value = holder.rate(loaded, request.user, request.item)
        except TaskNotSupported as err:
            raise ApiError(501, str(err)) from None
        return Rating(item=request.item, rating=value)

    @app.post(
        "/explain",
        response_model=Explanation,
        dependencies=read,
        responses={**_ERRORS, **not_trained},
        tags=["other tasks"],
    )
    def explain(request: ExplainRequest) -> Explanation:
        loaded = holder.current
        _check_known(loaded, [request.item])
        try:
            text = holder.explain(loaded, request.user, request.item, request.feature)
        except TaskNotSupported as err:
            raise ApiError(501, str(err)) from None
        return Explanation(item=request.item, explanation=text)

    @app.post(
        "/admin/reload",
        response_model=Reloaded,
        dependencies=write,
        responses=_ERRORS,
        tags=["service"],
    )
    def reload() -> Reloaded:
        try:
            loaded = holder.reload()
        except Exception as err:  # a broken model directory must not take the service down
            raise ApiError(503, f"reload failed, still serving the previous model: {err}") from None
        return Reloaded(
            model=loaded.name,
            items=len(loaded.catalog),
            loaded_at=loaded.loaded_at,
            seconds=loaded.seconds,
        )

    return app

"""The service's routes, by group (service, catalogue, events, recommendations, other tasks):
each ``add_*_routes`` function adds one group to an app, closing over one :class:`ServiceContext`.

(No ``from __future__ import annotations`` here: FastAPI reads the annotations of the route
functions at runtime.)
"""

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, FastAPI, Path, Query
from fastapi.responses import HTMLResponse, PlainTextResponse

from lmrec.data.schema import EventType, parse_event_map
from lmrec.serve.config import ServeConfig
from lmrec.serve.errors import ApiError
from lmrec.serve.metrics import Metrics
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
    UserDeleted,
    UserRecommendations,
    UsersPage,
    UserSummary,
    check_user_id,
)
from lmrec.serve.store import (
    EventConflict,
    EventStore,
    ServedRecommendation,
    StoredEvent,
)

__all__ = [
    "MAX_OFFSET",
    "ServiceContext",
    "add_catalogue_routes",
    "add_event_routes",
    "add_recommendation_routes",
    "add_service_routes",
    "add_task_routes",
]

logger = logging.getLogger(__name__)

# Offsets past this are refused with 422, not handed to SQLite (which overflows past 2**63).
MAX_OFFSET = 1_000_000_000
_ERRORS = {code: {"model": ErrorResponse} for code in (400, 401, 403, 404, 409, 413, 415, 422)}
_NOT_TRAINED = {501: {"model": ErrorResponse, "description": "model not trained for this"}}
LangQuery = Annotated[
    Language | None, Query(description="language of item names, e.g. 'ar' (default: main name)")
]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
UserPath = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]
T = TypeVar("T")


@dataclass
class ServiceContext:
    """What the routes share: settings, the model, the store (opened at start-up), metrics."""

    config: ServeConfig
    holder: ModelHolder
    metrics: Metrics
    read: list[Any]
    write: list[Any]
    state: dict[str, EventStore] = field(default_factory=dict)
    event_types: dict[str, EventType] = field(init=False)

    def __post_init__(self) -> None:
        self.event_types = parse_event_map(self.config.event_map)

    def event_type(self, value: str | None, index: int) -> str:
        """An event's type read as log files read it (aliases, the event map, empty =
        purchase), or 422 naming the event."""
        try:
            return EventType.parse(value, self.event_types).value
        except ValueError:
            raise ApiError(
                422,
                f"events.{index}.type: unknown event type {value!r}: expected 'view', "
                "'bookmark', 'cart' or 'purchase', an alias such as add_to_cart, or a name "
                "of the server's event map",
            ) from None

    def store(self) -> EventStore:
        return self.state["store"]

    def record(self, user: str | None, ranked: Sequence[Any], loaded: LoadedModel) -> None:
        """Keep what was recommended to whom, by which model, so it can be judged online."""
        items = [s.item for s in ranked]
        served = ServedRecommendation(user, items, loaded.name, loaded.loaded_at, time.time())
        self.store().record_served(served)
        self.metrics.add("recommendations_served")


def _distinct_in_order(items: list[str]) -> list[str]:
    """Each item once, at its first contact: the order the demo model was trained on."""
    return list(dict.fromkeys(items))


def _scored(loaded: LoadedModel, ranked, lang: str | None) -> list[ScoredItem]:
    name = loaded.catalog.name
    return [ScoredItem(item=s.item, name=name(s.item, lang), score=s.score) for s in ranked]


def _check_known(loaded: LoadedModel, items: list[str], storing: bool = False) -> None:
    unknown = _distinct_in_order([i for i in items if i not in loaded.catalog])
    if unknown:
        shown = ", ".join(repr(i) for i in unknown[:20])
        more = f" and {len(unknown) - 20} more" if len(unknown) > 20 else ""
        outcome = "; nothing stored" if storing else ""
        raise ApiError(422, f"unknown item(s) not in the model's catalogue: {shown}{more}{outcome}")


def _task_answer(
    loaded: LoadedModel, item: str, task: Callable[..., T], user: str | None, *extra: Any
) -> T:
    """``task(loaded, user, item, *extra)`` for a catalogue item, or 501 where the served
    model was not trained for the task."""
    _check_known(loaded, [item])
    try:
        return task(loaded, user, item, *extra)
    except TaskNotSupported as err:
        raise ApiError(501, str(err)) from None


def _user_id(user: str) -> str:
    """A path's user id, NFC-normalised, or 422 as a body's user id would get."""
    try:
        return check_user_id(user)
    except ValueError as err:
        raise ApiError(422, f"user: {err}") from None


def add_service_routes(app: FastAPI, service: ServiceContext) -> None:
    holder = service.holder
    router = APIRouter(tags=["service"])

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE_HTML)

    @router.get("/health", response_model=Health)
    def health() -> Health:
        loaded = holder.current
        return Health(
            status="ok",
            model=loaded.name,
            items=len(loaded.catalog),
            tasks=loaded.tasks,
            events=service.store().count(),
            loaded_at=loaded.loaded_at,
            reloads=holder.reloads,
        )

    @router.get("/metrics", response_class=PlainTextResponse, dependencies=service.read)
    def metrics() -> PlainTextResponse:
        gauges = [
            ("events", "events in the store", float(service.store().count())),
            ("model_reloads", "model reloads since start", float(holder.reloads)),
            (
                "model_loaded_at",
                "when the served model was loaded (epoch seconds)",
                holder.current.loaded_at,
            ),
        ]
        text = service.metrics.render(gauges)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4")

    @router.post(
        "/admin/reload", response_model=Reloaded, dependencies=service.write, responses=_ERRORS
    )
    def reload() -> Reloaded:
        try:
            loaded = holder.reload()
        except Exception as err:  # a broken model directory must not take the service down
            logger.warning(
                "reload of %s failed, still serving the previous model: %s", holder.model_dir, err
            )
            raise ApiError(503, f"reload failed, still serving the previous model: {err}") from None
        return Reloaded(
            model=loaded.name,
            items=len(loaded.catalog),
            loaded_at=loaded.loaded_at,
            seconds=loaded.seconds,
        )

    app.include_router(router)


def add_catalogue_routes(app: FastAPI, service: ServiceContext) -> None:
    router = APIRouter(tags=["catalogue"], dependencies=service.read, responses=_ERRORS)

    @router.get("/items", response_model=ItemsPage)
    def items(
        lang: LangQuery = None,
        offset: Offset = 0,
        limit: Annotated[int, Query(ge=1, le=service.config.max_page)] = 50,
    ) -> ItemsPage:
        catalog = service.holder.current.catalog
        ids = list(catalog)[offset : offset + limit]
        page_items = [
            ItemOut(id=i, name=catalog[i].name_in(lang), category=catalog[i].category) for i in ids
        ]
        return ItemsPage(items=page_items, total=len(catalog), offset=offset, limit=limit)

    app.include_router(router)


def add_event_routes(app: FastAPI, service: ServiceContext) -> None:
    config = service.config
    router = APIRouter(tags=["events"], responses=_ERRORS)

    @router.post("/events", response_model=EventsStored, dependencies=service.write)
    def add_events(batch: EventBatch) -> EventsStored:
        if len(batch.events) > config.max_batch:
            raise ApiError(
                422, f"batch of {len(batch.events)} events; at most {config.max_batch} allowed"
            )
        types = [service.event_type(e.type, i) for i, e in enumerate(batch.events)]
        _check_known(service.holder.current, [e.item for e in batch.events], storing=True)
        now = time.time()
        rows = [
            StoredEvent(
                id=e.id,
                user=e.user,
                item=e.item,
                type=kind,
                timestamp=e.timestamp if e.timestamp is not None else now,
                rating=e.rating,
                review=e.review,
            )
            for e, kind in zip(batch.events, types, strict=True)
        ]
        server_timestamps = {e.id for e in batch.events if e.timestamp is None}
        try:
            result = service.store().add(rows, server_timestamps)
        except EventConflict as err:
            raise ApiError(409, f"{err}; nothing stored (a new event needs a new id)") from None
        service.metrics.add("events_stored", result.stored)
        service.metrics.add("events_duplicate", result.duplicates)
        return EventsStored(
            received=result.received, stored=result.stored, duplicates=result.duplicates
        )

    @router.get("/users", response_model=UsersPage, dependencies=service.read)
    def users(
        offset: Offset = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> UsersPage:
        rows = service.store().users(offset, limit)
        return UsersPage(users=[UserSummary(user=u, events=n) for u, n in rows])

    @router.delete("/users/{user}", response_model=UserDeleted, dependencies=service.write)
    def delete_user(user: UserPath) -> UserDeleted:
        """Erase a user's events and served recommendations (an erasure request)."""
        user = _user_id(user)
        deleted = service.store().delete_user(user)
        service.metrics.add("events_erased", deleted)
        logger.info("erased %d event(s) of one user on request", deleted)
        return UserDeleted(user=user, deleted=deleted)

    app.include_router(router)


def add_recommendation_routes(app: FastAPI, service: ServiceContext) -> None:
    config, holder = service.config, service.holder
    router = APIRouter(tags=["recommendations"], dependencies=service.read, responses=_ERRORS)

    @router.get("/users/{user}/recommendations", response_model=UserRecommendations)
    def user_recommendations(
        user: UserPath,
        k: Annotated[int, Query(ge=1, le=config.max_k)] = 10,
        lang: LangQuery = None,
    ) -> UserRecommendations:
        user = _user_id(user)
        loaded = holder.current
        events = service.store().history(user, config.history_limit)
        history = _distinct_in_order([e.item for e in events if e.item in loaded.catalog])
        ranked = holder.recommend(loaded, history, k, exclude_seen=True)
        service.record(user, ranked, loaded)
        name = loaded.catalog.name
        return UserRecommendations(
            user=user,
            cold_start=not history,
            history=[
                HistoryEntry(
                    item=e.item, name=name(e.item, lang), type=e.type, timestamp=e.timestamp
                )
                for e in events
            ],
            recommendations=_scored(loaded, ranked, lang),
        )

    @router.post("/recommend", response_model=Recommendations)
    def recommend(request: RecommendRequest, lang: LangQuery = None) -> Recommendations:
        if len(request.history) > config.max_request_history:
            raise ApiError(
                422,
                f"history of {len(request.history)} items; at most {config.max_request_history}",
            )
        if request.k > config.max_k:
            raise ApiError(422, f"k: at most {config.max_k}")
        loaded = holder.current
        history = loaded.history_items(request.history)
        _check_known(loaded, history)
        ranked = holder.recommend(loaded, history, request.k, request.exclude_seen)
        service.record(None, ranked, loaded)
        return Recommendations(recommendations=_scored(loaded, ranked, lang))

    app.include_router(router)


def add_task_routes(app: FastAPI, service: ServiceContext) -> None:
    holder = service.holder
    router = APIRouter(
        tags=["other tasks"], dependencies=service.read, responses={**_ERRORS, **_NOT_TRAINED}
    )

    @router.post("/rate", response_model=Rating)
    def rate(request: RateRequest) -> Rating:
        value = _task_answer(holder.current, request.item, holder.rate, request.user)
        return Rating(item=request.item, rating=value)

    @router.post("/explain", response_model=Explanation)
    def explain(request: ExplainRequest) -> Explanation:
        loaded = holder.current
        text = _task_answer(loaded, request.item, holder.explain, request.user, request.feature)
        return Explanation(item=request.item, explanation=text)

    app.include_router(router)

"""The recommendation service: FastAPI app, SQLite event store, web page (``lmrec serve``)."""

from lmrec.serve.app import create_app
from lmrec.serve.config import ServeConfig
from lmrec.serve.models import (
    ExplanationModel,
    LoadedModel,
    ModelHolder,
    RatingModel,
    TaskNotSupported,
    supported_tasks,
)
from lmrec.serve.server import run_server
from lmrec.serve.store import (
    AddResult,
    EventConflict,
    EventStore,
    ServedRecommendation,
    SQLiteEventStore,
    StoredEvent,
)

__all__ = [
    "AddResult",
    "EventConflict",
    "EventStore",
    "ExplanationModel",
    "LoadedModel",
    "ModelHolder",
    "RatingModel",
    "SQLiteEventStore",
    "ServeConfig",
    "ServedRecommendation",
    "StoredEvent",
    "TaskNotSupported",
    "create_app",
    "run_server",
    "supported_tasks",
]

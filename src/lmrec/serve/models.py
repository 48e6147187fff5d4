"""The served model: loaded once, swapped whole on reload, asked only through this holder.

Tasks beyond sequential recommendation (rating, explanation) plug in by protocol: a model that
implements :class:`RatingModel` / :class:`ExplanationModel` (as ``LMRecommender`` does) and was
trained for the task (``model.tasks`` or ``model.config.tasks`` lists it) is offered through
``POST /rate`` / ``POST /explain``; any other model answers those endpoints with 501 and a
message saying it was not trained for the task.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from lmrec.recommenders.base import Scored

__all__ = [
    "ExplanationModel",
    "LoadedModel",
    "ModelHolder",
    "RatingModel",
    "TaskNotSupported",
    "supported_tasks",
]

logger = logging.getLogger(__name__)


@runtime_checkable
class RatingModel(Protocol):
    """A model that predicts each user's 1-5 rating of each item (``None``: an unknown user).
    An answer is a number or has ``.expected``
    (``lmrec.recommenders.task_answers.RatingAnswer``)."""

    def rate(self, users: Sequence[str | None], items: Sequence[str]) -> list[Any]: ...


@runtime_checkable
class ExplanationModel(Protocol):
    """A model that writes a sentence saying why each user would like each item."""

    def explain(
        self, users: Sequence[str | None], items: Sequence[str], features: Sequence[str | None]
    ) -> list[str]: ...


class TaskNotSupported(Exception):
    """The served model was not trained for a task."""

    def __init__(self, task: str, tasks: Sequence[str]) -> None:
        super().__init__(
            f"this model was not trained for {task}: it supports {', '.join(tasks)} only"
        )
        self.task = task


def supported_tasks(model: Any) -> list[str]:
    """Tasks the model can serve: those it implements (by protocol) and, where it says what
    it was trained for (``model.tasks`` or ``model.config.tasks``), was trained for."""
    declared = getattr(model, "tasks", None)
    if declared is None:
        declared = getattr(getattr(model, "config", None), "tasks", None)
    implemented = {"rating": RatingModel, "explanation": ExplanationModel}
    tasks = ["sequential"]
    for task, protocol in implemented.items():
        if isinstance(model, protocol) and (declared is None or task in declared):
            tasks.append(task)
    return tasks


@dataclass(frozen=True)
class LoadedModel:
    """One loaded model and when it was loaded. Requests hold on to one for their duration."""

    model: Any
    name: str
    loaded_at: float
    seconds: float

    @property
    def catalog(self):
        return self.model.catalog

    @property
    def tasks(self) -> list[str]:
        return supported_tasks(self.model)

    def history_items(self, history: Sequence[str]) -> list[str]:
        """A request's history as item ids. A model that reads names (``resolve``: the
        named-items one) maps each name to its item ("Shin Guards" -> "Soccer Shin Guards");
        what names no item stays as given, for the unknown-item check to name."""
        resolve = getattr(self.model, "resolve", None)
        if resolve is None:
            return list(history)
        ids = resolve(history).ids
        return [
            item if item is not None else given for given, item in zip(history, ids, strict=True)
        ]


def _load_lm(path: str):
    # A named-items directory (lmrec train --format names) is known by its own config file.
    if (Path(path) / "lmrec_named.json").is_file():
        from lmrec.recommenders.named import NamedItemsRecommender

        return NamedItemsRecommender.load(path)
    from lmrec.recommenders.lm import LMRecommender

    return LMRecommender.load(path)


class ModelHolder:
    """Holds the current model; :meth:`reload` loads a new one beside it, then swaps the
    reference under a lock, so requests already running finish on the model they started with.

    ``inference_slots`` bounds how many decodes run at once (PyTorch threads in several
    decodes at a time only fight over the cores).
    """

    def __init__(
        self,
        model_dir: str | Path,
        loader: Callable[[str], Any] = _load_lm,
        inference_slots: int = 1,
        preloaded: Any = None,
    ) -> None:
        self.model_dir = str(model_dir)
        self._loader = loader
        self._swap_lock = threading.Lock()
        self._reload_lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(inference_slots)
        self._current: LoadedModel | None = None
        self.reloads = 0
        if preloaded is not None:
            self._current = LoadedModel(preloaded, Path(self.model_dir).name, time.time(), 0.0)

    def _load(self) -> LoadedModel:
        started = time.perf_counter()
        model = self._loader(self.model_dir)
        seconds = time.perf_counter() - started
        return LoadedModel(model, Path(self.model_dir).name, time.time(), seconds)

    def ensure_loaded(self) -> LoadedModel:
        with self._reload_lock:
            if self._current is None:
                loaded = self._load()
                with self._swap_lock:
                    self._current = loaded
        return self.current

    def reload(self) -> LoadedModel:
        """Load the model directory again and swap it in; on failure the old model stays."""
        with self._reload_lock:
            loaded = self._load()
            with self._swap_lock:
                self._current = loaded
                self.reloads += 1
        logger.info("model reloaded from %s in %.1fs", self.model_dir, loaded.seconds)
        return loaded

    @property
    def current(self) -> LoadedModel:
        with self._swap_lock:
            if self._current is None:
                raise RuntimeError("no model loaded yet")
            return self._current

    def recommend(
        self, loaded: LoadedModel, history: Sequence[str], k: int, exclude_seen: bool
    ) -> list[Scored]:
        with self._slots:
            return loaded.model.recommend([list(history)], k=k, exclude_seen=exclude_seen)[0]

    def rate(self, loaded: LoadedModel, user: str | None, item: str) -> float:
        if "rating" not in loaded.tasks:
            raise TaskNotSupported("rating", loaded.tasks)
        with self._slots:
            answer = loaded.model.rate([user], [item])[0]
        return float(getattr(answer, "expected", answer))

    def explain(self, loaded: LoadedModel, user: str | None, item: str, feature: str | None) -> str:
        if "explanation" not in loaded.tasks:
            raise TaskNotSupported("explanation", loaded.tasks)
        with self._slots:
            return str(loaded.model.explain([user], [item], [feature])[0])

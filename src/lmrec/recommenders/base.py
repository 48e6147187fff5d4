"""The one contract every recommender honours: the language model and every baseline alike."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple, Self

from lmrec.data.split import Split


class Scored(NamedTuple):
    """A recommended item and its score (higher is better; scales differ between models)."""

    item: str
    score: float


class Recommender(ABC):
    """Fit on a split's training events, recommend from any item history.

    ``recommend`` takes histories (item ids, oldest first) rather than user ids, so a new user's
    history can come straight from a request. It returns, for each history, up to ``k`` distinct
    catalogue items, best first; with ``exclude_seen`` the history's items are never returned.
    """

    name: str = "recommender"

    @abstractmethod
    def fit(self, split: Split) -> Self: ...

    @abstractmethod
    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]: ...

    @abstractmethod
    def save(self, path: str | Path) -> None: ...

    @classmethod
    @abstractmethod
    def load(cls, path: str | Path) -> Self: ...

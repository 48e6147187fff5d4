"""Request and response bodies of the service (pydantic models; they make the OpenAPI schema).

Every text field a client sends is length-limited and refused when it holds control characters,
lone surrogates or U+FFFD (what a decoder leaves of invalid UTF-8). Letters of any script, Arabic
and other right-to-left text included, pass through untouched. User ids are NFC-normalised and
may not hold bidi overrides, zero-width characters or surrounding whitespace: each would make a
look-alike of another user. Numbers and booleans are strict: ``"5"`` and ``true`` are no ``k``.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from lmrec.data.rows import iso_timestamp
from lmrec.data.schema import EventType

MAX_ID_LENGTH = 128
MAX_TEXT_LENGTH = 2000
MAX_TIMESTAMP = 1e11  # year 5138: beyond it a timestamp is a unit mistake (ms instead of s)

_ALLOWED_IN_TEXT = frozenset("\n\t")


def check_text(value: str, multiline: bool = False) -> str:
    """``value`` unchanged, or ValueError naming the first character a client may not send."""
    allowed = _ALLOWED_IN_TEXT if multiline else frozenset()
    for position, char in enumerate(value):
        if char in allowed:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            raise ValueError(f"control character U+{ord(char):04X} at position {position}")
        if category == "Cs" or char == "\ufffd":
            raise ValueError(f"invalid UTF-8 / lone surrogate at position {position}")
    return value


def _check_multiline(value: str) -> str:
    return check_text(value, multiline=True)


def check_user_id(value: str) -> str:
    """``value`` in NFC, or ValueError for what would make it a look-alike of another id:
    surrounding whitespace, format characters (bidi overrides, zero-width), controls."""
    check_text(value)
    if value != value.strip():
        raise ValueError("surrounding whitespace")
    for position, char in enumerate(value):
        if unicodedata.category(char) == "Cf":
            name = unicodedata.name(char, "format character")
            raise ValueError(f"invisible U+{ord(char):04X} ({name}) at position {position}")
    return unicodedata.normalize("NFC", value)


Id = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(check_text),
]
UserId = Annotated[
    str,
    Field(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(check_user_id),
]
Text = Annotated[str, Field(max_length=MAX_TEXT_LENGTH), AfterValidator(_check_multiline)]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$")]


def _timestamp_text(value: Any) -> Any:
    """An ISO-8601 string as epoch seconds, as the file readers read it; anything else goes on
    to the strict number check. A numeric *string* is refused: JSON has numbers for that."""
    if not isinstance(value, str):
        return value
    try:
        return iso_timestamp(value)
    except ValueError:
        raise ValueError(
            f"Input should be a number (epoch seconds) or an ISO-8601 date, not {value[:40]!r}"
        ) from None


Timestamp = Annotated[float | None, BeforeValidator(_timestamp_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorResponse(BaseModel):
    """Every 4xx/5xx answer."""

    error: str = Field(description="what was wrong, in words")


class EventIn(_Strict):
    """One user-item event. ``id`` is the client's idempotency id: resending it stores nothing."""

    id: Id = Field(description="client-chosen idempotency id, unique per event")
    user: UserId = Field(description="NFC; no bidi, zero-width or surrounding space")
    item: Id = Field(description="an item id of the model's catalogue")
    type: Id | None = Field(
        None,
        description="view, bookmark, cart or purchase, or an alias the log files accept "
        "(add_to_cart, view_item, purchases, ...) or the server's --event-map names; "
        "default: purchase, as in files",
    )
    timestamp: Timestamp = Field(
        None,
        strict=True,
        ge=0,
        le=MAX_TIMESTAMP,
        allow_inf_nan=False,
        description="seconds since 1970 (UTC) or an ISO-8601 date (UTC when it has no zone); "
        "default: when the server receives it",
    )
    rating: float | None = Field(None, strict=True, ge=1, le=5, allow_inf_nan=False)
    review: Text | None = None


class EventBatch(_Strict):
    """Events stored all together or not at all."""

    events: list[EventIn] = Field(min_length=1)


class EventsStored(BaseModel):
    received: int = Field(description="events in the batch")
    stored: int = Field(description="events new to the store")
    duplicates: int = Field(description="events whose idempotency id was already stored")


class ItemOut(BaseModel):
    id: str
    name: str = Field(description="the name in the requested language (else the main name)")
    category: str | None = None


class ItemsPage(BaseModel):
    items: list[ItemOut]
    total: int
    offset: int
    limit: int


class ScoredItem(BaseModel):
    item: str
    name: str
    score: float = Field(description="the model's log-probability (higher is better)")


class HistoryEntry(BaseModel):
    item: str
    name: str
    type: EventType
    timestamp: float


class UserRecommendations(BaseModel):
    user: str
    cold_start: bool = Field(
        description="true when the store holds no event of this user on a catalogue item: "
        "the recommendations are the model's answer for an empty history, not personalised"
    )
    history: list[HistoryEntry] = Field(description="the user's stored events, oldest first")
    recommendations: list[ScoredItem]


class UserSummary(BaseModel):
    user: str
    events: int


class UsersPage(BaseModel):
    users: list[UserSummary]


class UserDeleted(BaseModel):
    user: str
    deleted: int = Field(description="events erased (0: none were stored)")


class RecommendRequest(_Strict):
    """An anonymous history, oldest item first."""

    history: list[Id] = Field(default_factory=list)
    k: int = Field(10, strict=True, ge=1, le=100)
    exclude_seen: bool = Field(True, strict=True)


class Recommendations(BaseModel):
    recommendations: list[ScoredItem]


class RateRequest(_Strict):
    user: UserId | None = Field(None, description="a user the model was trained on (else unknown)")
    item: Id


class Rating(BaseModel):
    item: str
    rating: float = Field(description="the expected 1-5 rating")


class ExplainRequest(_Strict):
    user: UserId | None = Field(None, description="a user the model was trained on (else unknown)")
    item: Id
    feature: Id | None = Field(None, description="a feature word the explanation should use")


class Explanation(BaseModel):
    item: str
    explanation: str


class Health(BaseModel):
    status: str
    model: str = Field(description="the model directory's name")
    items: int
    tasks: list[str]
    events: int
    loaded_at: float
    reloads: int


class Reloaded(BaseModel):
    model: str
    items: int
    loaded_at: float
    seconds: float

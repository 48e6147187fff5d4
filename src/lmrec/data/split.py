"""Splitting a log into training, validation and test events: leave-one-out per user, or at
one global moment (how a shop backtests: train on what was known on a date, test on what
came after it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lmrec.data.schema import Catalog, Dataset, Interaction


@dataclass
class Split:
    """A split into training events and one validation and one test target per user.

    Leave-one-out (:func:`leave_one_out_split`): for each user with at least three events, the
    last event is the test target, the one before it the validation target, the rest is
    training. Users with fewer events keep all of them in training and have no targets (counted
    in ``short_users``). A global-time split (:func:`time_split`) picks the targets around one
    moment instead; ``method`` says which, in words a protocol line can carry.
    """

    train: dict[str, list[Interaction]]
    valid: dict[str, Interaction]
    test: dict[str, Interaction]
    catalog: Catalog
    name: str = "data"
    short_users: int = 0
    info: dict[str, int] = field(default_factory=dict)
    method: str = "leave-one-out"

    def train_items(self, user: str) -> list[str]:
        return [x.item for x in self.train.get(user, [])]

    def history(self, user: str, stage: str) -> list[Interaction]:
        """What a model may see when predicting ``stage`` ("valid" or "test") for ``user``."""
        if stage == "valid":
            return list(self.train.get(user, []))
        if stage == "test":
            return [*self.train.get(user, []), self.valid[user]]
        raise ValueError(f"unknown stage {stage!r} (expected 'valid' or 'test')")

    def targets(self, stage: str) -> dict[str, Interaction]:
        if stage == "valid":
            return self.valid
        if stage == "test":
            return self.test
        raise ValueError(f"unknown stage {stage!r} (expected 'valid' or 'test')")

    def training_items(self) -> set[str]:
        """Items that occur in training events: the only items an index may be built from."""
        return {x.item for events in self.train.values() for x in events}

    def describe(self) -> str:
        n_train = sum(len(v) for v in self.train.values())
        if self.method == "leave-one-out":
            short = f"{self.short_users} with fewer than 3 events kept in training only"
        else:
            short = f"{self.short_users} without targets around the cut kept in training only"
        return (
            f"{self.name}: {self.method} split, {len(self.train)} users "
            f"({len(self.test)} with valid/test targets, {short}), {n_train} training events"
        )


def leave_one_out_split(dataset: Dataset) -> Split:
    """Split each user's time-ordered history: last = test, second-last = validation.

    Equal timestamps keep file order (see :func:`lmrec.data.schema.sort_by_time`).
    """

    def last_two(_user: str, events: list[Interaction]) -> _UserSplit:
        if len(events) < 3:
            return events, None, None
        return events[:-2], events[-2], events[-1]

    return _split_users(dataset, last_two)


# One user's part of a split: training events, then the validation and test targets (None
# for a user without targets, who keeps the training events only).
_UserSplit = tuple[list[Interaction], Interaction | None, Interaction | None]


def _split_users(
    dataset: Dataset,
    split_user: Callable[[str, list[Interaction]], _UserSplit],
    method: str = "leave-one-out",
) -> Split:
    """The split made of ``split_user(user, events)`` for each user's time-ordered events."""
    train: dict[str, list[Interaction]] = {}
    valid: dict[str, Interaction] = {}
    test: dict[str, Interaction] = {}
    short = 0
    for user, events in dataset.histories().items():
        kept, valid_target, test_target = split_user(user, events)
        if kept:
            train[user] = kept
        if valid_target is None or test_target is None:
            short += 1
            continue
        valid[user] = valid_target
        test[user] = test_target
    return Split(
        train=train,
        valid=valid,
        test=test,
        catalog=dataset.catalog,
        name=dataset.name,
        short_users=short,
        method=method,
    )


def parse_moment(text: str) -> float:
    """Epoch seconds from unix time (``1709251200``) or an ISO-8601 date or time
    (``2024-03-01``, ``2024-03-01T12:00:00+02:00``; without a zone, UTC, as the readers read)."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is neither unix time nor an ISO-8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def time_split(dataset: Dataset, test_after: float) -> Split:
    """Split at one global moment: what was known at ``test_after`` trains, what came after
    it tests.

    For each user with an event after the cut and at least two events at or before it: the
    first event after the cut is the test target (the next thing the user did), the last event
    before the cut the validation target, the earlier ones training. Events after the first
    test event are never used. Others keep their events up to the cut in training, without
    targets (``short_users``). An event exactly at the cut counts as before it. Equal
    timestamps keep file order (never broken by id). Every event needs a timestamp.
    """

    def around_cut(user: str, events: list[Interaction]) -> _UserSplit:
        if any(x.timestamp is None for x in events):
            raise ValueError(f"user {user!r} has events without a timestamp: no time split")
        before = [x for x in events if x.timestamp <= test_after]
        after = [x for x in events if x.timestamp > test_after]
        if not after or len(before) < 2:
            return before, None, None
        return before[:-1], before[-1], after[0]

    cut = datetime.fromtimestamp(test_after, UTC).isoformat().replace("+00:00", "Z")
    method = f"global time split at {cut} (first event after it is the test target)"
    return _split_users(dataset, around_cut, method)

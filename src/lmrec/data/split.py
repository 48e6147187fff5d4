"""Leave-one-out splitting by time, per user."""

from __future__ import annotations

from dataclasses import dataclass, field

from lmrec.data.schema import Catalog, Dataset, Interaction


@dataclass
class Split:
    """A leave-one-out split.

    For each user with at least three events: the last event is the test target, the one before
    it the validation target, the rest is training. Users with fewer events keep all of them in
    training and have no targets (counted in ``short_users``).
    """

    train: dict[str, list[Interaction]]
    valid: dict[str, Interaction]
    test: dict[str, Interaction]
    catalog: Catalog
    name: str = "data"
    short_users: int = 0
    info: dict[str, int] = field(default_factory=dict)

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
        return (
            f"{self.name}: leave-one-out split, {len(self.train)} users "
            f"({len(self.test)} with valid/test targets, {self.short_users} with fewer than 3 "
            f"events kept in training only), {n_train} training events"
        )


def leave_one_out_split(dataset: Dataset) -> Split:
    """Split each user's time-ordered history: last = test, second-last = validation.

    Equal timestamps keep file order (see :func:`lmrec.data.schema.sort_by_time`).
    """
    train: dict[str, list[Interaction]] = {}
    valid: dict[str, Interaction] = {}
    test: dict[str, Interaction] = {}
    short = 0
    for user, events in dataset.histories().items():
        if len(events) < 3:
            train[user] = events
            short += 1
            continue
        train[user] = events[:-2]
        valid[user] = events[-2]
        test[user] = events[-1]
    return Split(
        train=train,
        valid=valid,
        test=test,
        catalog=dataset.catalog,
        name=dataset.name,
        short_users=short,
    )

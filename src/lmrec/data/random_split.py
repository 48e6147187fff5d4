"""A seeded random 80/10/10 split by interaction, as P5 uses for rating, explanation and review
tasks (each interaction lands in train, valid or test at random, not by time)."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from lmrec.data.schema import Catalog, Dataset, Interaction
from lmrec.data.split import Split

__all__ = ["InteractionSplit", "random_interaction_split", "split_interactions"]


@dataclass
class InteractionSplit:
    """Interactions divided at random into train / valid / test lists."""

    train: list[Interaction]
    valid: list[Interaction]
    test: list[Interaction]
    catalog: Catalog
    name: str = "data"
    seed: int = 0

    def stage(self, stage: str) -> list[Interaction]:
        if stage not in ("train", "valid", "test"):
            raise ValueError(f"unknown stage {stage!r} (expected train, valid or test)")
        return getattr(self, stage)

    def describe(self) -> str:
        return (
            f"{self.name}: random split by interaction (seed {self.seed}), {len(self.train)} "
            f"train / {len(self.valid)} valid / {len(self.test)} test"
        )


def random_interaction_split(
    interactions: Iterable[Interaction],
    catalog: Catalog,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    name: str = "data",
) -> InteractionSplit:
    """Shuffle the interactions (seeded) and cut them by ``ratios``.

    Interactions are first put in a canonical order (log position, then user, item), so the
    same events give the same split whether they come from a dataset or from a leave-one-out
    split rebuilt into one list.
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-6:
        raise ValueError(f"ratios must be three non-negative shares summing to 1, got {ratios}")
    rows = sorted(interactions, key=lambda x: (x.position, x.user, x.item))
    random.Random(seed).shuffle(rows)
    n_train = round(ratios[0] * len(rows))
    n_valid = round(ratios[1] * len(rows))
    return InteractionSplit(
        train=rows[:n_train],
        valid=rows[n_train : n_train + n_valid],
        test=rows[n_train + n_valid :],
        catalog=catalog,
        name=name,
        seed=seed,
    )


def split_interactions(source: Dataset | Split, seed: int = 0) -> InteractionSplit:
    """The random 80/10/10 split of a dataset's (or a leave-one-out split's) interactions."""
    if isinstance(source, Dataset):
        rows = list(source.interactions)
    else:
        rows = [x for events in source.train.values() for x in events]
        rows += [*source.valid.values(), *source.test.values()]
    return random_interaction_split(rows, source.catalog, seed=seed, name=source.name)

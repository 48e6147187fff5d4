"""Every recommender by one name: the language model and the baselines. The CLI, the hybrid's
saved retriever and the benchmarks look classes up here, so a name is spelled one way
everywhere (the spelling is the class's ``name``, which reports print too)."""

from __future__ import annotations

from collections.abc import Callable

from lmrec.recommenders.base import Recommender


def _popularity() -> type[Recommender]:
    from lmrec.baselines import PopularityRecommender

    return PopularityRecommender


def _item_knn() -> type[Recommender]:
    from lmrec.baselines import ItemKNNRecommender

    return ItemKNNRecommender


def _als() -> type[Recommender]:
    from lmrec.baselines import ALSRecommender

    return ALSRecommender


def _sasrec() -> type[Recommender]:
    from lmrec.baselines import SASRecRecommender

    return SASRecRecommender


def _lm() -> type[Recommender]:
    # Imported on demand: the LM pulls in transformers, which a baseline run never needs.
    from lmrec.recommenders.lm import LMRecommender

    return LMRecommender


RECOMMENDERS: dict[str, Callable[[], type[Recommender]]] = {
    "popularity": _popularity,
    "item-knn": _item_knn,
    "als": _als,
    "sasrec": _sasrec,
    "lm": _lm,
}
"""Name -> the recommender class (imported when asked for)."""

BASELINES = ("popularity", "item-knn", "als", "sasrec")
"""The recommenders that fit on a split with no settings of their own (no language model)."""

ALIASES = {"itemknn": "item-knn", "item-kNN": "item-knn", "ALS": "als", "SASRec": "sasrec"}
"""Older spellings still accepted: ``itemknn`` of the CLI and of saved hybrids, and the
benchmarks' display names."""


def canonical_name(name: str) -> str:
    """The one spelling of ``name`` (an alias resolved); unknown names are a ValueError."""
    name = ALIASES.get(name, name)
    if name not in RECOMMENDERS:
        raise ValueError(f"unknown recommender {name!r} (known: {', '.join(RECOMMENDERS)})")
    return name


def recommender_class(name: str) -> type[Recommender]:
    """The class registered as ``name`` (or one of its aliases)."""
    return RECOMMENDERS[canonical_name(name)]()


def make_recommender(name: str) -> Recommender:
    """An unfitted recommender ``name`` with its default settings."""
    return recommender_class(name)()


def name_of(recommender: Recommender) -> str:
    """The registered name of ``recommender``'s class (TypeError when it has none)."""
    for name, load in RECOMMENDERS.items():
        if type(recommender) is load():
            return name
    raise TypeError(f"{type(recommender).__name__} is not a registered recommender")

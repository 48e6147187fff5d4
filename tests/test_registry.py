"""One registry of recommenders, one spelling per name."""

from __future__ import annotations

import pytest

from lmrec.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    SASRecRecommender,
)
from lmrec.recommenders.registry import (
    BASELINES,
    RECOMMENDERS,
    canonical_name,
    make_recommender,
    name_of,
    recommender_class,
)


def test_every_recommender_is_registered_under_its_own_name():
    assert list(RECOMMENDERS) == ["popularity", "item-knn", "als", "sasrec", "lm"]
    assert BASELINES == ("popularity", "item-knn", "als", "sasrec")
    for name in RECOMMENDERS:
        assert recommender_class(name).name == name


def test_old_spellings_are_aliases():
    assert canonical_name("itemknn") == "item-knn"
    assert canonical_name("item-kNN") == "item-knn"
    assert recommender_class("itemknn") is ItemKNNRecommender
    with pytest.raises(
        ValueError, match="unknown recommender 'knn' \\(known: popularity, item-knn"
    ):
        canonical_name("knn")


def test_make_and_name_of_round_trip():
    for cls in (PopularityRecommender, ItemKNNRecommender, ALSRecommender, SASRecRecommender):
        rec = make_recommender(cls.name)
        assert type(rec) is cls and name_of(rec) == cls.name
    with pytest.raises(TypeError, match="int is not a registered recommender"):
        name_of(3)

"""Rating baselines on generated data whose structure is known."""

from __future__ import annotations

import random

import pytest

from lmrec.baselines.mf import BiasedMF, MeanRating, MFConfig
from lmrec.data.schema import Interaction
from lmrec.metrics.rating import rmse


def _two_taste_ratings(seed: int = 0) -> list[Interaction]:
    """Users u0-u19 love items a* (5) and dislike b* (1); users v* the opposite."""
    rng = random.Random(seed)
    rows = []
    for prefix, likes in (("u", "a"), ("v", "b")):
        for n in range(20):
            for item in [f"a{i}" for i in range(10)] + [f"b{i}" for i in range(10)]:
                if rng.random() < 0.7:
                    rows.append(
                        Interaction(f"{prefix}{n}", item, rating=5.0 if item[0] == likes else 1.0)
                    )
    return rows


def test_means():
    rows = [
        Interaction("u", "i", rating=4.0),
        Interaction("u", "j", rating=2.0),
        Interaction("v", "i", rating=5.0),
    ]
    assert MeanRating("global").fit(rows).predict(["x"], ["y"]) == [pytest.approx(11 / 3)]
    assert MeanRating("user").fit(rows).predict(["u", "new"], ["i", "i"]) == [
        3.0,
        pytest.approx(11 / 3),
    ]
    assert MeanRating("item").fit(rows).predict(["u"], ["i"]) == [4.5]


def test_mf_learns_the_two_tastes_and_clips():
    rows = _two_taste_ratings()
    rng = random.Random(1)
    rng.shuffle(rows)
    train, test = rows[:450], rows[450:]
    mf = BiasedMF(MFConfig(factors=4, epochs=60, lr=0.05, l2=0.001)).fit(train)
    predicted = mf.predict([x.user for x in test], [x.item for x in test])
    truth = [x.rating for x in test]
    mean = MeanRating("global").fit(train).predict([x.user for x in test], [x.item for x in test])
    assert rmse(predicted, truth) < 0.5 < rmse(mean, truth)
    assert all(1.0 <= p <= 5.0 for p in predicted)
    assert 1.0 <= mf.predict(["stranger"], ["unknown"])[0] <= 5.0

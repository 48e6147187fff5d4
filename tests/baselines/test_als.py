"""ALS: group tastes on the checkerboard, parity with ``implicit`` (the shared contract test
runs in test_baselines.py, with every baseline's)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from contract import (
    COLD_ITEM,
    check_recommends_the_users_group,
    checkerboard_split,
    random_split,
)

from lmrec.baselines import ALSRecommender


def small_als(**changes: object) -> ALSRecommender:
    """Two factors: the checkerboard has two groups of tastes."""
    settings: dict[str, object] = {"factors": 2, "alpha": 10.0, "regularization": 0.1, "threads": 1}
    settings.update(changes)
    return ALSRecommender(**settings)  # type: ignore[arg-type]


def test_recommends_the_users_group() -> None:
    split = checkerboard_split()
    check_recommends_the_users_group(small_als().fit(split), split)


def test_new_user_history_of_one_group() -> None:
    model = small_als().fit(checkerboard_split())
    (recs,) = model.recommend([["A1", "A2", "A3"]], k=2)
    assert {r.item for r in recs} == {"A4", "A5"}


def test_user_factors_match_implicit_recalculate_user() -> None:
    from implicit.cpu.als import AlternatingLeastSquares

    split = random_split()
    model = small_als(binary=False).fit(split)
    histories = [["i1", "i2", "i2", "i5"], ["i7"], ["i3", "no-such-item"]]
    reference = AlternatingLeastSquares(factors=2, alpha=10.0, regularization=0.1)
    reference.item_factors = model._item_factors.astype(np.float32)
    index = {item: i for i, item in enumerate(split.catalog)}
    rows = np.zeros((len(histories), len(index)), dtype=np.float32)
    for r, history in enumerate(histories):
        for item in history:
            if item in index:
                rows[r, index[item]] += 1
    from scipy.sparse import csr_matrix

    expected = reference.recalculate_user(np.arange(len(histories)), csr_matrix(rows))
    np.testing.assert_allclose(model.user_factors(histories), expected, rtol=1e-3, atol=1e-5)


def test_untrained_item_comes_last_with_the_lowest_score() -> None:
    model = small_als().fit(checkerboard_split())
    (recs,) = model.recommend([["A1"]], k=11, exclude_seen=False)
    assert recs[-1].item == COLD_ITEM
    assert recs[-1].score == recs[-2].score


def test_empty_history_gets_popularity_order() -> None:
    model = small_als().fit(checkerboard_split())
    (recs,) = model.recommend([[]], k=3)
    assert [r.item for r in recs] == ["B3", "A3", "A4"]
    assert [r.score for r in recs] == [0.0, 0.0, 0.0]


def test_fit_is_deterministic_and_saves_json_and_npz(tmp_path: Path) -> None:
    split = random_split()
    first, second = small_als().fit(split), small_als().fit(split)
    np.testing.assert_array_equal(first._item_factors, second._item_factors)
    first.save(tmp_path / "m")
    assert sorted(p.name for p in (tmp_path / "m").iterdir()) == ["arrays.npz", "config.json"]
    assert json.loads((tmp_path / "m" / "config.json").read_text())["alpha"] == 10.0


@pytest.mark.parametrize(
    "kwargs", [{"factors": 0}, {"iterations": 0}, {"regularization": -1.0}, {"alpha": 0.0}]
)
def test_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ALSRecommender(**kwargs)  # type: ignore[arg-type]

"""Rating and yes/no metrics on hand-computed cases."""

from __future__ import annotations

import math

import pytest

from lmrec.metrics.rating import accuracy, mae, rmse, roc_auc


def test_rmse_mae():
    assert rmse([3, 5], [4, 3]) == pytest.approx(math.sqrt((1 + 4) / 2))
    assert mae([3, 5], [4, 3]) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        rmse([], [])


def test_accuracy_and_auc():
    assert accuracy([True, False, True], [True, True, True]) == pytest.approx(2 / 3)
    # positives 0.9, 0.4; negatives 0.4, 0.1: pairs win 1, 1, tie 0.5, win 1 -> 3.5 / 4
    assert roc_auc([0.9, 0.4, 0.4, 0.1], [True, True, False, False]) == pytest.approx(0.875)
    with pytest.raises(ValueError):
        roc_auc([0.5], [True])

"""Rating-prediction and yes/no metrics: small pure functions of predictions and truths."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["accuracy", "mae", "rmse", "roc_auc"]


def _check(predicted: Sequence[float], actual: Sequence[float]) -> None:
    if len(predicted) != len(actual):
        raise ValueError(f"{len(predicted)} predictions but {len(actual)} true values")
    if not predicted:
        raise ValueError("no predictions to score")


def rmse(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Root mean squared error."""
    _check(predicted, actual)
    return math.sqrt(
        sum((p - a) ** 2 for p, a in zip(predicted, actual, strict=True)) / len(actual)
    )


def mae(predicted: Sequence[float], actual: Sequence[float]) -> float:
    """Mean absolute error."""
    _check(predicted, actual)
    return sum(abs(p - a) for p, a in zip(predicted, actual, strict=True)) / len(actual)


def accuracy(predicted: Sequence[bool], actual: Sequence[bool]) -> float:
    """Share of predictions equal to the truth."""
    _check(predicted, actual)
    return sum(p == a for p, a in zip(predicted, actual, strict=True)) / len(actual)


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    _check(scores, labels)
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        raise ValueError("AUC needs at least one positive and one negative")
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))

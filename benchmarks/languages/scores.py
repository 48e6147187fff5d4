"""Scoring the languages study's rankings: HR@1/5 and collapse measures, pooling over folds, and
the Arabic/English ratios."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

from benchmarks.languages.tasks import dedupe

TARGET_RATIO = 0.9


def rank_metrics(rankings: Sequence[Sequence[str]], targets: Sequence[str]) -> dict:
    """HR@1, HR@5, distinct items at rank 1 and the entropy (bits) of rank 1."""
    n = len(targets)
    top1 = Counter(r[0] for r in rankings if r)
    entropy = -sum(c / n * math.log2(c / n) for c in top1.values()) + 0.0  # no "-0.0"
    return {
        "hr1": sum(bool(r) and r[0] == t for r, t in zip(rankings, targets, strict=True)) / n,
        "hr5": sum(t in r[:5] for r, t in zip(rankings, targets, strict=True)) / n,
        "distinct_top1": len(top1),
        "top1_entropy_bits": round(entropy, 4),
        "most_common_top1_share": round(top1.most_common(1)[0][1] / n, 4) if top1 else 0.0,
        "n": n,
    }


def pooled(parts: Sequence[dict], targets: Sequence[str], epochs: int) -> dict:
    """One model's result over all folds: metrics on the pooled test rows, summed fit time."""
    rankings = [r for part in parts for r in part["rankings"]]
    return {
        "protocol": parts[0]["protocol"],
        **rank_metrics(rankings, targets),
        "unk_rate_names": max(p["unk_rate_names"] for p in parts),
        "tokens_per_name": parts[0]["tokens_per_name"],
        "train_seconds": round(sum(p["train_seconds"] for p in parts), 1),
        "epochs": epochs,
    }


def regrouped(parts: Sequence[dict], groups: Mapping[str, str]) -> list[dict]:
    """The parts with each ranking mapped to item groups (repeats dropped, order kept)."""
    return [
        {**part, "rankings": [dedupe([groups[i] for i in r]) for r in part["rankings"]]}
        for part in parts
    ]


def compare(ar: dict, en: dict) -> dict:
    def ratio(key: str) -> float | None:
        return round(ar[key] / en[key], 3) if en[key] else None

    ratios = {key: ratio(key) for key in ("hr1", "hr5", "distinct_top1", "top1_entropy_bits")}
    checked = [ratios[k] for k in ("hr1", "hr5", "distinct_top1")]
    return {**ratios, "ar_reaches_90pct": all(r is None or r >= TARGET_RATIO for r in checked)}

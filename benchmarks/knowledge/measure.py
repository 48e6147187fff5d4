"""The main table's measurements: every test user's top 10 with the history kept and excluded,
their means, and the means over the head, torso and tail thirds of the test events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from statistics import fmean

from lmrec.data.split import Split
from lmrec.evaluation.ranking import top_k_items
from lmrec.metrics.ranking import hit_rate_at_k, ndcg_at_k
from lmrec.recommenders.base import Recommender

THIRDS = ("head", "torso", "tail")
EXCLUDED = " history excluded"
METRICS = ("NDCG@10", "HR@10", "NDCG@10" + EXCLUDED, "HR@10" + EXCLUDED)
PROTOCOL = (
    "Leave-one-out (lmrec.data.leave_one_out_split: each user's last event is the test target, "
    "the second-last the validation target, the rest training; equal timestamps keep file "
    "order, never broken by id). Test stage: the history is the training events plus the "
    "validation item; every test user; all catalogue items ranked. Headline: NDCG@10 / HR@10 "
    "with the user's history NOT excluded (a history item may be recommended); also given with "
    "the history excluded ('history excluded'), as published SASRec-CE figures are. Head / "
    "torso / tail: the test events sorted by their target's number of training events, most "
    "first (equal counts keep the split's user order), cut into thirds by position (sizes "
    "differ by at most one, the first thirds taking the extra events), so events with equal "
    "counts at a boundary may fall on either side of it; each third's count range is given. "
    "Model selection (early stopping, the hybrid's fusion weight) reads validation only: "
    "NDCG@10 over all items, history not excluded."
)


def test_cases(split: Split) -> tuple[list[str], list[list[str]], list[str]]:
    """The test users in split order, their test-stage histories and their targets."""
    targets = split.targets("test")
    users = list(targets)
    histories = [[x.item for x in split.history(u, "test")] for u in users]
    return users, histories, [targets[u].item for u in users]


def thirds(split: Split, targets: Sequence[str]) -> dict[str, dict]:
    """Head, torso and tail: the positions of the test events (``targets``, in split order) in
    each third by their target's training count (see :data:`PROTOCOL`), with each third's
    event count and count range."""
    counts = Counter(x.item for history in split.train.values() for x in history)
    order = sorted(range(len(targets)), key=lambda j: -counts[targets[j]])  # stable
    size, extra = divmod(len(targets), 3)
    groups, start = {}, 0
    for g, name in enumerate(THIRDS):
        end = start + size + (g < extra)
        positions = sorted(order[start:end])
        seen = [counts[targets[j]] for j in positions] or [0]
        groups[name] = {
            "events": len(positions),
            "most_training_events": max(seen),
            "fewest_training_events": min(seen),
            "positions": positions,
        }
        start = end
    return groups


def measure(
    rec: Recommender, histories: Sequence[Sequence[str]], targets: Sequence[str], groups: dict
) -> dict:
    """A row's metrics: the means of :data:`METRICS` over every test event, and each third's
    mean NDCG@10 (history kept and excluded)."""
    per_event: dict[str, list[float]] = {}
    for suffix, exclude in (("", False), (EXCLUDED, True)):
        ranked = top_k_items(rec, histories, 10, exclude)
        pairs = list(zip(ranked, targets, strict=True))
        per_event["NDCG@10" + suffix] = [ndcg_at_k(r, t, 10) for r, t in pairs]
        per_event["HR@10" + suffix] = [hit_rate_at_k(r, t, 10) for r, t in pairs]
    row: dict = {name: fmean(per_event[name]) for name in METRICS}
    row["thirds"] = {
        name: {
            metric: fmean([per_event[metric][j] for j in group["positions"]] or [0.0])
            for metric in ("NDCG@10", "NDCG@10" + EXCLUDED)
        }
        for name, group in groups.items()
    }
    row["test_events"] = len(targets)
    return row


def public_thirds(groups: dict) -> dict:
    """The thirds as the results file records them (without every event's position)."""
    return {name: {k: v for k, v in g.items() if k != "positions"} for name, g in groups.items()}

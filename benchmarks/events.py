"""Issue 5: do event types help predict purchases? Equal weights against typed prompts with
tuned per-type weights, on the built-in shop and on MovieLens-100K, NDCG@10 of the next purchase.

Protocol: :data:`PROTOCOL`; arms: :data:`ARMS`. Each finished data set is cached, so an
interrupted run resumes at the next one.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.events           # the full run
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.events --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from lmrec.data.schema import Dataset, EventType, Interaction
from lmrec.data.split import Split
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks.events import EventConfig, without_item

STUDY = "events"
PURCHASE = EventType.PURCHASE
PROTOCOL = """\
(purchase prediction, leave-one-out on purchases):
- Per user, events in time order (ties keep file order). The user's last purchase is the test
  target, the one before it the validation target; users with fewer than 3 purchases are
  training-only. Events after the last purchase are not used.
- Training events: everything before the validation purchase's own funnel (the unbroken run of
  events on that item just before it: its view, bookmark, cart-add), so no part of a target's
  funnel is trained on.
- A target's history: every event before it *except those on the target item itself* (its
  view/cart-add would give the answer away). All items are ranked; items of that history are
  excluded. HR@10 and NDCG@10, one target per user.
- ML-100K has no event types: a rating >= 4 is a purchase, a lower one a view. Each movie is
  rated once, so nothing is removed from its histories. Users are subsampled (seeded) to keep
  the run short on one CPU thread.
"""
ARMS = """\
Arms (scratch:tiny T5, sequential ids, the same training settings; every arm trains on pairs
whose history excludes the target item's earlier events, ``EventConfig.unseen_targets``):
- ``equal``: untyped prompts, every event a target, weight 1 (the plain sequential model).
- ``typed``: typed prompts ("viewed <item_3> bought <item_7>"), every event a target, weight 1.
- ``typed + weights``: typed prompts with each per-type weighting of ``WEIGHTINGS``.
- tuned: of the typed arms (uniform weights included), the one with the best validation
  NDCG@10; its test numbers are the "tuned" result.
- ``popularity``: items ranked by training purchases (for scale).
"""

WEIGHTINGS: dict[str, EventConfig] = {
    "purchases only as targets": EventConfig(typed=True, targets=("purchase",)),
    "view 0.2, bookmark 0.5, cart 0.5, purchase 1": EventConfig(
        typed=True, weights={"view": 0.2, "bookmark": 0.5, "cart": 0.5, "purchase": 1.0}
    ),
}
"""Per-type weightings tried for the tuned arm (all with typed prompts)."""


@dataclass
class Case:
    """One target: the user's history (target item's own events removed) and the purchase."""

    user: str
    history: list[Interaction]
    target: str


def purchase_split(dataset: Dataset) -> tuple[Split, list[Case], list[Case]]:
    """The training split (validation targets set, for early stopping) and the validation and
    test cases of the protocol above."""
    train: dict[str, list[Interaction]] = {}
    valid_targets: dict[str, Interaction] = {}
    valid, test = [], []
    for user, events in dataset.histories().items():
        bought = [t for t, x in enumerate(events) if x.event == PURCHASE]
        if len(bought) < 3:
            train[user] = events
            continue
        v, t = bought[-2], bought[-1]
        start = v
        while start > 0 and events[start - 1].item == events[v].item:
            start -= 1
        train[user] = events[:start]
        valid_targets[user] = events[v]
        valid.append(Case(user, without_item(events[:v], events[v].item), events[v].item))
        test.append(Case(user, without_item(events[:t], events[t].item), events[t].item))
    split = Split(train, valid_targets, {}, dataset.catalog, name=dataset.name)
    return split, valid, test


def ml100k_events(data_dir: Path | str, users: int, seed: int) -> Dataset:
    """ML-100K with ratings >= 4 as purchases and the rest as views, ``users`` sampled."""
    data = harness.load("ml-100k", data_dir)
    chosen = set(random.Random(seed).sample(sorted(data.users), min(users, len(data.users))))
    log = [
        replace(x, event=PURCHASE if (x.rating or 0) >= 4 else EventType.VIEW)
        for x in data.interactions
        if x.user in chosen
    ]
    return Dataset(log, data.catalog, name=f"ml-100k ({len(chosen)} users)")


def evaluate(rec, cases: list[Case], typed: bool) -> dict[str, float]:
    histories = [[x.item for x in c.history] for c in cases]
    events = [[x.event for x in c.history] for c in cases] if typed else None
    started = time.perf_counter()
    ranked = rec.recommend(histories, k=10, exclude_seen=True, events=events)
    seconds = time.perf_counter() - started
    return _metrics(harness.items_of(ranked), cases) | {"eval_seconds": seconds}


def _metrics(ranked: list[list[str]], cases: list[Case]) -> dict[str, float]:
    return harness.top10_metrics(ranked, [c.target for c in cases])


def popularity(split: Split, cases: list[Case]) -> dict[str, float]:
    counts = Counter(x.item for h in split.train.values() for x in h if x.event == PURCHASE)
    order = [i for i, _ in counts.most_common()] + [i for i in split.catalog if i not in counts]
    ranked = []
    for c in cases:
        seen = {x.item for x in c.history}
        ranked.append([i for i in order if i not in seen][:10])
    return _metrics(ranked, cases)


def run_dataset(dataset: Dataset, base: LMConfig) -> dict:
    split, valid, test = purchase_split(dataset)
    n_train = sum(len(v) for v in split.train.values())
    print(f"{dataset.describe()}; {len(test)} users with targets, {n_train} training events")
    rows = [
        {"arm": "popularity", "valid": popularity(split, valid), "test": popularity(split, test)}
    ]
    arms = {
        "equal": EventConfig(unseen_targets=True),
        "typed": EventConfig(typed=True, unseen_targets=True),
        **{f"typed + {k}": replace(v, unseen_targets=True) for k, v in WEIGHTINGS.items()},
    }
    for name, events in arms.items():
        started = time.perf_counter()
        rec = LMRecommender(replace(base, events=events)).fit(split)
        fit_seconds = time.perf_counter() - started
        r = rec.train_result
        row = {
            "arm": name,
            "events": {
                "typed": events.typed,
                "weights": dict(events.weights),
                "targets": list(events.targets),
            },
            "valid": evaluate(rec, valid, events.typed),
            "test": evaluate(rec, test, events.typed),
            "fit_seconds": fit_seconds,
            "epochs_run": r.epochs_run,
            "best_epoch": r.best_epoch,
            "examples_per_second": r.examples_per_second,
        }
        print(name, row["valid"], row["test"], f"{fit_seconds:.0f}s", flush=True)
        rows.append(row)
    # The weighting is tuned over every typed arm, the uniform one included.
    weighted = [row for row in rows if row["arm"].startswith("typed")]
    best = max(weighted, key=lambda row: row["valid"]["NDCG@10"])
    equal = next(row for row in rows if row["arm"] == "equal")
    return {
        "data": dataset.describe(),
        "users_with_targets": len(test),
        "training_events": n_train,
        "rows": rows,
        "tuned": best["arm"],
        "equal_test_ndcg10": equal["test"]["NDCG@10"],
        "tuned_test_ndcg10": best["test"]["NDCG@10"],
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="smoke run: few users, 1 epoch")
    p.add_argument("--shop-users", type=int, default=600)
    p.add_argument("--ml-users", type=int, default=400, help="ML-100K users sampled (of 943)")
    harness.add_lm_options(
        p, exposed=("epochs", "max_targets_per_user"), max_targets_per_user=8, patience=2
    )
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.shop_users, args.ml_users = 1, 100, 80
    harness.setup(args)
    base = harness.lm_config(args)
    started = time.perf_counter()
    cache = harness.RowCache.of(args)
    shop = harness.load("shop", shop_users=args.shop_users, seed=args.seed)
    results = [
        cache.row("shop", lambda: run_dataset(shop, base)),
        cache.row(
            "ml-100k",
            lambda: run_dataset(ml100k_events(args.data, args.ml_users, args.seed), base),
        ),
    ]
    result = harness.study_record(
        "OMP_NUM_THREADS=1 " + harness.command_line(STUDY, argv),
        base,
        started,
        results,
        question="purchase-prediction NDCG@10: equal weights vs typed prompts + tuned weights",
        protocol=PROTOCOL.strip(" \n"),
    )
    cache.write(result, to_markdown(result))


def to_markdown(result: dict) -> str:
    lines = [
        *harness.timed_head(
            "Event types: equal weights vs typed prompts + tuned weights (purchase prediction)",
            result,
        ),
        "Protocol: " + " ".join(result["protocol"].split()),
        "",
        "Model: scratch:tiny T5, sequential ids, max history 20, "
        f"{result['config']['prompts']['max_targets_per_user']} most recent targets per user, "
        f"at most {result['config']['train']['epochs']} epochs (best validation epoch kept).",
        "",
    ]
    for d in result["datasets"]:
        lines += [
            f"## {d['data']}",
            "",
            f"{d['users_with_targets']} users with targets, {d['training_events']} training "
            f"events. Tuned arm (best validation NDCG@10): **{d['tuned']}**; test NDCG@10 "
            f"{d['equal_test_ndcg10']:.4f} (equal) -> {d['tuned_test_ndcg10']:.4f} (tuned).",
            "",
            "| arm | valid NDCG@10 | test HR@10 | test NDCG@10 | fit s | epochs (best) |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for row in d["rows"]:
            fit = f"{row['fit_seconds']:.0f}" if "fit_seconds" in row else "-"
            epochs = f"{row['epochs_run']} ({row['best_epoch']})" if "epochs_run" in row else "-"
            lines.append(
                f"| {row['arm']} | {row['valid']['NDCG@10']:.4f} | {row['test']['HR@10']:.4f} | "
                f"{row['test']['NDCG@10']:.4f} | {fit} | {epochs} |"
            )
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()

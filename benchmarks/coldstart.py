"""Issue 5: can an item added to the catalogue after training be recommended? HR@10 on the test
events that hit items held out of training entirely, against random and popularity baselines.

Protocol: :data:`PROTOCOL`; recommenders: :data:`RECOMMENDERS`.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.coldstart           # the full run
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.coldstart --quick   # a smoke run
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from lmrec.data.schema import Catalog, Dataset
from lmrec.data.split import Split
from lmrec.indexing.semantic import minilm_available
from lmrec.recommenders.coldstart import ColdStartConfig, ColdStartRecommender, content_neighbours
from lmrec.recommenders.lm import LMConfig, LMRecommender

STUDY = "coldstart"
HELD_OUT = 0.10
PROTOCOL = """\
- Data: the built-in shop (each user's first contact with each item, so a history is distinct
  items in order) and ML-100K (all users; item text = title, genres, release year).
- 10% of the items that occur in the log (seeded sample) are held out of training entirely:
  their events are removed from every training history and they are not in the trained
  model's catalogue, so the model has no id for them. After training they are added with
  their text only (``ColdStartRecommender.add_items``).
- Leave-one-out on the full log: each user's last event is the test target and every earlier
  event is its history (held-out items included: the cold-start model reads one as its nearest
  known neighbour; the language model alone drops it). Training uses every event but each
  user's last two, minus the held-out items' events; the second-last event, when not held
  out, is the validation target for early stopping.
- All items are ranked (known and held-out together), the history excluded. HR@10 and NDCG@10
  on the test events whose target is a held-out item ("cold"), and on all test events ("all",
  so that what cold items gain is weighed against what known items lose).
"""
RECOMMENDERS = """\
- random: a seeded random order of the unseen items.
- popularity: items by training count. A held-out item has no count (no event was seen), so
  held-out items come after every known item, in random order among themselves.
- neighbour popularity: popularity where a held-out item gets the similarity-weighted count of
  its content neighbours (the same neighbours as below): the content route without the LM.
- LM: the scratch:tiny language model alone (it cannot name a held-out item).
- LM + cold start: each held-out item scored by its content neighbours' LM probabilities
  (``lmrec.recommenders.coldstart``), merged into the LM's ranking.
The content routes are run with 1 and with 5 neighbours ("nb") per held-out item.
"""

Ranker = Callable[[Sequence[Sequence[str]]], list[list[str]]]


def cold_split(dataset: Dataset, seed: int) -> tuple[Split, set[str], list[tuple[list[str], str]]]:
    """The training split (held-out items removed), the held-out items, and the test cases
    (history, target) of every user with at least three events."""
    used = sorted({x.item for x in dataset.interactions})
    rng = random.Random(seed)
    cold = set(rng.sample(used, max(1, round(HELD_OUT * len(used)))))
    train, valid, cases = {}, {}, []
    for user, events in dataset.histories().items():
        if len(events) < 3:
            continue
        train[user] = [x for x in events[:-2] if x.item not in cold]
        if events[-2].item not in cold:
            valid[user] = events[-2]
        cases.append(([x.item for x in events[:-1]], events[-1].item))
    catalog = Catalog(item for i, item in dataset.catalog.items() if i not in cold)
    split = Split(train, valid, {}, catalog, name=dataset.name)
    return split, cold, cases


def _metrics(ranked: list[list[str]], cases: list[tuple[list[str], str]]) -> dict[str, float]:
    return harness.top10_metrics(ranked, [target for _, target in cases])


def by_score(scores: dict[str, float], seed: int) -> Ranker:
    """Rank by a fixed score per item, ties in a seeded random order, history excluded."""
    items = list(scores)
    random.Random(seed).shuffle(items)
    order = sorted(items, key=lambda i: -scores[i])  # stable: ties keep the shuffled order

    def rank(histories):
        return [[i for i in order if i not in set(h)][:10] for h in histories]

    return rank


def neighbour_popularity(
    catalog: Catalog, split: Split, cold: set[str], config: ColdStartConfig
) -> dict[str, float]:
    """Each item's training count, a held-out item's the similarity-weighted count of its
    ``config.neighbours`` content neighbours among the items trained on (the content route
    without the language model)."""
    counts = Counter(x.item for h in split.train.values() for x in h)
    known = [i for i in split.catalog if counts[i] > 0] or list(split.catalog)
    neighbours = content_neighbours(catalog, known, sorted(cold), config)
    return {
        i: sum(w * counts[n] for n, w in neighbours[i]) if i in cold else float(counts[i])
        for i in catalog
    }


def run_dataset(
    dataset: Dataset,
    base: LMConfig,
    cold_config: ColdStartConfig,
    neighbour_counts: Sequence[int],
    seed: int,
) -> dict:
    split, cold, cases = cold_split(dataset, seed)
    print(f"{dataset.describe()}; {len(cold)} items held out; {len(cases)} test events", flush=True)
    hits = [c for c in cases if c[1] in cold]
    all_items = list(dataset.catalog)
    counts = Counter(x.item for h in split.train.values() for x in h)
    rng = random.Random(seed)
    rankers: dict[str, Ranker] = {
        "random": lambda hs: [
            rng.sample([i for i in all_items if i not in set(h)], 10) for h in hs
        ],
        "popularity": by_score({i: float(counts[i]) for i in all_items}, seed),
    }
    for m in neighbour_counts:
        config = replace(cold_config, neighbours=m)
        shared = neighbour_popularity(dataset.catalog, split, cold, config)
        rankers[f"neighbour popularity ({m} nb)"] = by_score(shared, seed)
    started = time.perf_counter()
    lm = LMRecommender(base).fit(split)
    fit_seconds = time.perf_counter() - started
    rankers["LM"] = lambda hs: harness.items_of(lm.recommend(hs, k=10))
    for m in neighbour_counts:
        rec = ColdStartRecommender(lm, replace(cold_config, neighbours=m))
        rec.add_items(dataset.catalog[i] for i in sorted(cold))
        rankers[f"LM + cold start ({m} nb)"] = lambda hs, rec=rec: harness.items_of(
            rec.recommend(hs, k=10)
        )
    rows = []
    for name, rank in rankers.items():
        started = time.perf_counter()
        ranked = rank([h for h, _ in cases])
        seconds = time.perf_counter() - started
        cold_ranked = [r for r, c in zip(ranked, cases, strict=True) if c[1] in cold]
        row = {
            "recommender": name,
            "cold": _metrics(cold_ranked, hits),
            "all": _metrics(ranked, cases),
            "rank_seconds": seconds,
        }
        print(name, row, flush=True)
        rows.append(row)
    return {
        "data": dataset.describe(),
        "held_out_items": len(cold),
        "test_events": len(cases),
        "cold_test_events": len(hits),
        "lm_fit_seconds": fit_seconds,
        "lm_epochs_run": lm.train_result.epochs_run,
        "rows": rows,
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="smoke run: few users, 1 epoch")
    p.add_argument("--shop-users", type=int, default=1000)
    harness.add_lm_options(
        p, exposed=("epochs", "max_targets_per_user"), max_targets_per_user=8, patience=2
    )
    p.add_argument("--neighbours", default="1,5", help="neighbour counts compared")
    p.add_argument("--embedding", default="auto", help="minilm, tfidf or auto")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs, args.shop_users = 1, 100
    harness.setup(args)
    base = harness.lm_config(args)
    counts = [int(n) for n in args.neighbours.split(",")]
    cold_config = ColdStartConfig(embedding=args.embedding)
    embedding = args.embedding
    if embedding == "auto":
        embedding = "minilm" if minilm_available() else "tfidf"
    started = time.perf_counter()
    shop = harness.load("shop", shop_users=args.shop_users, seed=args.seed)
    ml = harness.load("ml-100k", args.data)
    if args.quick:
        keep = set(sorted(ml.users)[:100])
        ml = Dataset([x for x in ml.interactions if x.user in keep], ml.catalog, name=ml.name)
    cache = harness.RowCache.of(args)
    results = [
        cache.row(
            data.name,
            lambda d=data: run_dataset(d, base, cold_config, counts, args.seed),
        )
        for data in (shop.select(first_only=True), ml)
    ]
    fields = {
        "question": "HR@10 on test events that hit items held out of training entirely",
        "protocol": " ".join(PROTOCOL.split()),
        "recommenders": " ".join(RECOMMENDERS.split()),
        "embedding": embedding,
        "neighbours": counts,
    }
    command = "OMP_NUM_THREADS=1 " + harness.command_line(STUDY, argv)
    result = harness.study_record(command, base, started, results, **fields)
    cache.write(result, to_markdown(result))


def to_markdown(result: dict) -> str:
    lines = [
        *harness.timed_head(
            "Cold-start items: recommending items held out of training entirely", result
        ),
        f"Protocol: {result['protocol']}",
        "",
        f"Recommenders: {result['recommenders']}",
        "",
        f"Content neighbours ('nb'): {result['neighbours']} per held-out item, "
        f"{result['embedding']} embeddings of name/category/description. "
        "Model: scratch:tiny T5, sequential ids, "
        f"at most {result['config']['train']['epochs']} epochs.",
        "",
    ]
    for d in result["datasets"]:
        lines += [
            f"## {d['data']}",
            "",
            f"{d['held_out_items']} items held out; {d['cold_test_events']} of "
            f"{d['test_events']} test events hit them. LM trained in {d['lm_fit_seconds']:.0f}s "
            f"({d['lm_epochs_run']} epochs).",
            "",
        ]
        header = ["recommender", "cold HR@10", "cold NDCG@10", "all HR@10", "all NDCG@10"]
        body = [
            [row["recommender"]]
            + [f"{row[part][m]:.4f}" for part in ("cold", "all") for m in ("HR@10", "NDCG@10")]
            for row in d["rows"]
        ]
        lines += [*harness.markdown_table(header, "lrrrr", body), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Issue 2's benchmark: a scratch T5 language model against popularity and item-kNN on
MovieLens-100K, in one run, on one split.

Protocol: leave-one-out by timestamp (ties keep file order), test stage, all items ranked,
the user's history excluded. Each finished model's row is cached, so an interrupted run resumes
at the next model. Writes benchmarks/results/ml100k/ml100k[-quick].{json,md}.

    .venv/bin/python -m benchmarks.ml100k            # the full run
    .venv/bin/python -m benchmarks.ml100k --quick    # a smoke run (fewer users, one epoch)
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from lmrec.backbone.model import count_parameters
from lmrec.baselines import ItemKNNRecommender, PopularityRecommender
from lmrec.data import leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.base import Recommender
from lmrec.recommenders.lm import LMRecommender

STUDY = "ml100k"
COLUMNS = ("HR@5", "HR@10", "NDCG@5", "NDCG@10")


def lm_info(rec: LMRecommender) -> dict:
    r = rec.train_result
    return {
        "train_seconds": r.seconds,
        "train_examples_per_second": r.examples_per_second,
        "train_tokens_per_second": r.tokens_per_second,
        "epochs_run": r.epochs_run,
        "best_epoch": r.best_epoch,
        "best_valid_ndcg10": r.best_valid_ndcg10,
        "parameters": count_parameters(rec.model),
    }


def measure(make: Callable[[], Recommender], split, max_users: int | None) -> dict:
    started = time.perf_counter()
    rec = make().fit(split)
    fit_seconds = time.perf_counter() - started
    report = evaluate_ranking(rec, split, stage="test", max_users=max_users, progress=False)
    print(report.format_table(), flush=True)
    return {
        **report.metrics,
        "fit_seconds": fit_seconds,
        "users_per_second": report.users_per_second,
        "protocol": report.protocol,
        **(lm_info(rec) if isinstance(rec, LMRecommender) else {}),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, threads=0, quick="smoke run: 1 epoch, 100 eval users")
    harness.add_lm_options(
        p,
        exposed=("model", "epochs", "batch_size", "lr", "max_history", "max_targets_per_user",
                 "patience"),
        model="scratch:small",
        epochs=12,
        lr=2e-3,
        patience=3,
        valid_users=300,
    )  # fmt: skip
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 1
    harness.setup(args, logging.INFO)
    split = leave_one_out_split(harness.load("ml-100k", args.data))
    print(split.describe(), flush=True)
    config = harness.lm_config(args, index=IndexConfig(strategy="sequential", style="single"))
    recommenders = {
        "popularity": PopularityRecommender,
        "item-kNN": ItemKNNRecommender,
        f"LM ({args.model}, sequential ids)": lambda: LMRecommender(config),
    }
    cache = harness.RowCache.of(args)
    max_users = 100 if args.quick else None
    rows = [
        {"recommender": label} | cache.row(label, lambda m=make: measure(m, split, max_users))
        for label, make in recommenders.items()
    ]
    result = harness.split_record(
        harness.command_line(STUDY, argv), "ml-100k", split, rows, config=config.to_dict()
    )
    cache.write(result, to_markdown(result))


def to_markdown(result: dict) -> str:
    lines = [
        f"# {result['data']}: language model vs baselines",
        "",
        f"Command: `{result['command']}`",
        f"Protocol: {result['protocol']}.",
        f"Split: {result['split']}. Machine: {result['machine']}.",
        "",
        *harness.markdown_table(
            ["recommender", *COLUMNS, "fit s", "train examples/s", "inference users/s"],
            "l" + "r" * (len(COLUMNS) + 3),
            map(_cells, result["rows"]),
        ),
    ]
    return "\n".join(lines) + "\n"


def _cells(row: dict) -> list[str]:
    eps = row.get("train_examples_per_second")
    return [
        row["recommender"],
        *(f"{row[c]:.4f}" for c in COLUMNS),
        f"{row['fit_seconds']:.1f}",
        f"{eps:.0f}" if eps else "-",
        f"{row['users_per_second']:.0f}",
    ]


if __name__ == "__main__":
    main()

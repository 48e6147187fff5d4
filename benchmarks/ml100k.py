"""Issue 2's benchmark: a scratch T5 language model against popularity and item-kNN on
MovieLens-100K, in one run, on one split.

Protocol: leave-one-out by timestamp (ties keep file order), test stage, all items ranked,
the user's history excluded. Writes benchmarks/results/ml100k.json and ml100k.md.

    .venv/bin/python benchmarks/ml100k.py            # the full run
    .venv/bin/python benchmarks/ml100k.py --quick    # a smoke run (fewer users, one epoch)
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from lmrec.backbone.model import count_parameters
from lmrec.baselines import ItemKNNRecommender, PopularityRecommender
from lmrec.data import leave_one_out_split, read_recbole
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ml-100k"
OUT = ROOT / "benchmarks" / "results"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, 100 eval users")
    p.add_argument("--model", default="scratch:small")
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--max-history", type=int, default=20)
    p.add_argument("--max-targets-per-user", type=int, default=0)
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", default="ml100k", help="output file stem")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    split = leave_one_out_split(read_recbole(args.data))
    print(split.describe(), flush=True)
    max_users = 100 if args.quick else None
    epochs = 1 if args.quick else args.epochs
    rows = []

    def run(name, make, fit_info=None):
        started = time.perf_counter()
        rec = make()
        fit_seconds = time.perf_counter() - started
        report = evaluate_ranking(rec, split, stage="test", max_users=max_users, progress=False)
        row = {
            "recommender": name,
            **report.metrics,
            "fit_seconds": fit_seconds,
            "users_per_second": report.users_per_second,
            "protocol": report.protocol,
            **(fit_info(rec) if fit_info else {}),
        }
        rows.append(row)
        print(report.format_table(), flush=True)
        return rec

    run("popularity", lambda: PopularityRecommender().fit(split))
    run("item-kNN", lambda: ItemKNNRecommender().fit(split))
    config = LMConfig(
        model=args.model,
        index=IndexConfig(strategy="sequential", style="single"),
        prompts=PromptConfig(
            max_history=args.max_history, max_targets_per_user=args.max_targets_per_user
        ),
        train=TrainConfig(
            epochs=epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            patience=args.patience,
            max_valid_users=300,
            seed=args.seed,
            progress=False,
        ),
    )

    def lm_info(rec):
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

    run(f"LM ({args.model}, sequential ids)", lambda: LMRecommender(config).fit(split), lm_info)

    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/ml100k.py", *sys.argv[1:]])
    result = {
        "command": command,
        "data": "ml-100k",
        "split": split.describe(),
        "protocol": rows[0]["protocol"],
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "config": config.to_dict(),
        "rows": rows,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    stem = args.name + ("-quick" if args.quick else "")
    (OUT / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (OUT / f"{stem}.md").write_text(to_markdown(result))
    print(to_markdown(result))


def to_markdown(result: dict) -> str:
    cols = ["HR@5", "HR@10", "NDCG@5", "NDCG@10"]
    lines = [
        f"# {result['data']}: language model vs baselines",
        "",
        f"Command: `{result['command']}`",
        f"Protocol: {result['protocol']}.",
        f"Split: {result['split']}. Machine: {result['machine']}.",
        "",
        "| recommender | " + " | ".join(cols) + " | fit s | train examples/s | inference users/s |",
        "|---|" + "---:|" * (len(cols) + 3),
    ]
    for row in result["rows"]:
        eps = row.get("train_examples_per_second")
        lines.append(
            f"| {row['recommender']} | "
            + " | ".join(f"{row[c]:.4f}" for c in cols)
            + f" | {row['fit_seconds']:.1f} | {f'{eps:.0f}' if eps else '-'} | "
            f"{row['users_per_second']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

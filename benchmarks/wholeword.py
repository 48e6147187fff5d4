"""Issue 8's whole-word ablation: does P5's whole-word embedding help a model whose item ids are
a few sub-tokens each, on MovieLens-100K?

The same scratch T5, the same sub-token ids (sequential numbering, two digit tokens per item),
the same seed, split and training examples, with and without ``LMConfig.whole_word``.
Protocol: leave-one-out by timestamp (ties keep file order), test stage, all items ranked, the
user's history excluded. Writes benchmarks/results/wholeword[-quick].{json,md}.

    .venv/bin/python benchmarks/wholeword.py            # the full run (~20 min on 1 thread)
    .venv/bin/python benchmarks/wholeword.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import logging
import platform
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from _results import write_results

from lmrec.backbone.model import count_parameters
from lmrec.data import leave_one_out_split, read_recbole
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ml-100k"
OUT = ROOT / "benchmarks" / "results"
COLUMNS = ("NDCG@5", "NDCG@10", "HR@5", "HR@10")


def base_config(args: argparse.Namespace) -> LMConfig:
    return LMConfig(
        model=args.model,
        index=IndexConfig(strategy="sequential", style="subtokens"),
        prompts=PromptConfig(
            max_history=args.max_history, max_targets_per_user=args.max_targets_per_user
        ),
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            patience=0,
            max_valid_users=args.valid_users,
            seed=args.seed,
            progress=False,
        ),
    )


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, 100 test users")
    p.add_argument("--model", default="scratch:tiny")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max-history", type=int, default=20)
    p.add_argument("--max-targets-per-user", type=int, default=10)
    p.add_argument("--valid-users", type=int, default=200)
    p.add_argument("--max-users", type=int, default=0, help="test users (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    p.add_argument("--name", default="wholeword", help="output file stem")
    args = p.parse_args()
    if args.quick:
        args.epochs, args.max_targets_per_user, args.valid_users = 1, 1, 50
        args.max_users = args.max_users or 100
    torch.set_num_threads(args.threads)

    split = leave_one_out_split(read_recbole(args.data))
    print(split.describe(), flush=True)
    base = base_config(args)
    rows = []
    for whole_word in (False, True):
        config = replace(base, whole_word=whole_word)
        started = time.perf_counter()
        rec = LMRecommender(config).fit(split)
        fit_seconds = time.perf_counter() - started
        report = evaluate_ranking(
            rec, split, stage="test", max_users=args.max_users or None, progress=False
        )
        r = rec.train_result
        code = rec.index.code(rec.index.items[0])
        row = {
            "whole_word": whole_word,
            **report.metrics,
            "parameters": count_parameters(rec.model),
            "train_examples_per_second": r.examples_per_second,
            "train_seconds": r.seconds,
            "fit_seconds": fit_seconds,
            "epochs_run": r.epochs_run,
            "best_epoch": r.best_epoch,
            "best_valid_ndcg10": r.best_valid_ndcg10,
            "inference_users_per_second": report.users_per_second,
            "tokens_per_item": len(code),
            "example_code": "".join(code),
            "protocol": report.protocol,
        }
        rows.append(row)
        print({k: v for k, v in row.items() if k != "protocol"}, flush=True)

    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/wholeword.py", *sys.argv[1:]]
    )
    result = {
        "command": command,
        "data": "ml-100k",
        "split": split.describe(),
        "protocol": rows[0]["protocol"],
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch thread(s)",
        "settings": {k: v for k, v in vars(args).items() if k != "data"},
        "config": base.to_dict(),
        "rows": rows,
    }
    write_results(OUT, args.name + ("-quick" if args.quick else ""), result, to_markdown(result))


def to_markdown(result: dict) -> str:
    s = result["settings"]
    first = result["rows"][0]
    lines = [
        f"# {result['data']}: P5 whole-word embedding on sub-token item ids (ablation)",
        "",
        f"Command: `{result['command']}`",
        f"Protocol: {result['protocol']}.",
        f"Split: {result['split']}. Machine: {result['machine']}.",
        f"Model: {s['model']} T5 from scratch; item ids `IndexConfig(strategy='sequential', "
        f"style='subtokens')`, {first['tokens_per_item']} tokens per item (e.g. "
        f"`{first['example_code']}`). Training: {s['epochs']} epochs, at most "
        f"{s['max_targets_per_user']} targets per user, batch {s['batch_size']}, lr {s['lr']}, "
        f"history of at most {s['max_history']} items, seed {s['seed']}; the only difference "
        "between the rows is `LMConfig.whole_word`. The reported model is the epoch with the "
        f"best validation NDCG@10 ({s['valid_users']} validation users).",
        "",
        "| whole-word | " + " | ".join(COLUMNS) + " | best valid NDCG@10 | parameters | "
        "train examples/s | inference users/s |",
        "|---|" + "---:|" * (len(COLUMNS) + 4),
    ]
    for r in result["rows"]:
        lines.append(
            f"| {'on' if r['whole_word'] else 'off'} | "
            + " | ".join(f"{r[c]:.4f}" for c in COLUMNS)
            + f" | {r['best_valid_ndcg10']:.4f} | {r['parameters']:,} | "
            f"{r['train_examples_per_second']:.1f} | {r['inference_users_per_second']:.0f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

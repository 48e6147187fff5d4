"""Issue 8's whole-word ablation: does P5's whole-word embedding help a model whose item ids are
a few sub-tokens each, on MovieLens-100K?

The same scratch T5, the same sub-token ids (sequential numbering, two digit tokens per item),
the same seed, split and training examples, with and without ``LMConfig.whole_word``.
Protocol: leave-one-out by timestamp (ties keep file order), test stage, all items ranked, the
user's history excluded. Writes benchmarks/results/wholeword/wholeword[-quick].{json,md}; each
finished arm's row is cached, so an interrupted run resumes at the next one.

    .venv/bin/python -m benchmarks.wholeword            # the full run (~20 min on 1 thread)
    .venv/bin/python -m benchmarks.wholeword --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from lmrec.backbone.model import count_parameters
from lmrec.data import leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender

STUDY = "wholeword"
COLUMNS = ("NDCG@5", "NDCG@10", "HR@5", "HR@10")


def measure(config: LMConfig, split, max_users: int | None) -> dict:
    """Train one arm and evaluate it: its row."""
    started = time.perf_counter()
    rec = LMRecommender(config).fit(split)
    fit_seconds = time.perf_counter() - started
    report = evaluate_ranking(rec, split, stage="test", max_users=max_users, progress=False)
    r = rec.train_result
    code = rec.index.code(rec.index.items[0])
    return {
        "whole_word": config.whole_word,
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


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="smoke run: 1 epoch, 100 test users")
    harness.add_lm_options(
        p,
        exposed=("model", "epochs", "batch_size", "lr", "max_history", "max_targets_per_user",
                 "valid_users"),
        epochs=6,
        max_targets_per_user=10,
    )  # fmt: skip
    p.add_argument("--max-users", type=int, default=0, help="test users (0 = all)")
    args = p.parse_args(argv)
    if args.quick:
        harness.quick_training(args)
    harness.setup(args)
    split = leave_one_out_split(harness.load("ml-100k", args.data))
    print(split.describe(), flush=True)
    base = harness.lm_config(args, index=IndexConfig(strategy="sequential", style="subtokens"))
    cache = harness.RowCache.of(args)
    rows = []
    for whole_word in (False, True):
        config = replace(base, whole_word=whole_word)
        row = cache.row(
            f"whole_word={whole_word}", lambda c=config: measure(c, split, args.max_users or None)
        )
        rows.append(row)
        print({k: v for k, v in row.items() if k != "protocol"}, flush=True)
    result = harness.split_record(
        harness.command_line(STUDY, argv),
        "ml-100k",
        split,
        rows,
        settings=harness.settings_of(args, "data"),
        config=base.to_dict(),
    )
    cache.write(result, to_markdown(result))


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
        *harness.markdown_table(
            ["whole-word", *COLUMNS, "best valid NDCG@10", "parameters", "train examples/s"]
            + ["inference users/s"],
            "l" + "r" * (len(COLUMNS) + 4),
            map(_cells, result["rows"]),
        ),
    ]
    return "\n".join(lines) + "\n"


def _cells(r: dict) -> list[str]:
    return [
        "on" if r["whole_word"] else "off",
        *(f"{r[c]:.4f}" for c in COLUMNS),
        f"{r['best_valid_ndcg10']:.4f}",
        f"{r['parameters']:,}",
        f"{r['train_examples_per_second']:.1f}",
        f"{r['inference_users_per_second']:.0f}",
    ]


if __name__ == "__main__":
    main()

"""Issue 8's benchmark: encoder-decoder (T5) vs decoder-only (GPT-2, LLaMA) backbones of about
the same size, each fully fine-tuned and with LoRA, on MovieLens-100K.

Protocol: leave-one-out by timestamp, test stage, all items ranked, the user's history excluded.
Every model is built from scratch (random weights; no hub here), so LoRA adapts a *random*
frozen network: its rows show what LoRA costs and saves (trainable parameters, speed, memory),
not the quality it reaches on a pretrained base. Each configuration runs in its own fresh
process (one at a time), so its peak resident memory is its own. Writes
benchmarks/results/backbones/backbones.{json,md}; each finished configuration's row is cached,
so an interrupted run resumes at the next one.

    .venv/bin/python -m benchmarks.backbones            # the run of record
    .venv/bin/python -m benchmarks.backbones --quick    # a smoke run (1 epoch, 100 users)
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import psutil
import torch

from benchmarks import harness
from lmrec.backbone.causal import is_causal
from lmrec.backbone.lora import LoraSettings, apply_lora, trainable_parameters
from lmrec.backbone.model import build_scratch_model, count_parameters
from lmrec.data import leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.recommenders.lm import LMConfig, LMRecommender

STUDY = "backbones"
PRESETS = ("scratch:small", "scratch:gpt-small", "scratch:llama-small")


def lm_config(args: argparse.Namespace, preset: str, lora: bool) -> LMConfig:
    lr = args.lr_lora if lora else args.lr
    config = harness.lm_config(argparse.Namespace(**{**vars(args), "model": preset, "lr": lr}))
    if lora:
        return replace(
            config, lora=LoraSettings(r=args.lora_r, alpha=2.0 * args.lora_r, dropout=0.05)
        )
    return config


def run_one(data: str, config: LMConfig, max_users: int | None, threads: int) -> dict:
    """Train and evaluate one configuration (in a fresh process)."""
    torch.set_num_threads(threads)
    split = leave_one_out_split(harness.load("ml-100k", data))
    baseline_mib = psutil.Process().memory_info().rss / 2**20
    started = time.perf_counter()
    rec = LMRecommender(config).fit(split)
    fit_seconds = time.perf_counter() - started
    report = evaluate_ranking(rec, split, stage="test", max_users=max_users, progress=False)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    r = rec.train_result
    return {
        "model": config.model,
        "architecture": "decoder-only" if is_causal(rec.model) else "encoder-decoder",
        "training": "LoRA" if config.lora else "full",
        **report.metrics,
        "parameters": count_parameters(rec.model),
        "trainable_parameters": trainable_count(rec),
        "train_examples_per_second": r.examples_per_second,
        "train_seconds": r.seconds,
        "fit_seconds": fit_seconds,
        "best_valid_ndcg10": r.best_valid_ndcg10,
        "inference_users_per_second": report.users_per_second,
        "peak_rss_mib": peak_mib,
        "peak_rss_over_data_mib": peak_mib - baseline_mib,
        "protocol": report.protocol,
        "split": split.describe(),
    }


def trainable_count(rec: LMRecommender) -> int:
    """Parameters training updated: all, or (LoRA) those of the same adapter put on a fresh
    copy of the base (the trained one has it merged in)."""
    if rec.config.lora is None:
        return count_parameters(rec.model)
    base = build_scratch_model(rec.config.model, rec.tokenizer, rec.config.train.seed)
    ids = rec.tokenizer.convert_tokens_to_ids(rec.index.vocabulary())
    return trainable_parameters(apply_lora(base, rec.config.lora, ids))


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="smoke run: 1 epoch, 100 eval users")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets")
    harness.add_lm_options(
        p,
        exposed=("epochs", "batch_size", "lr", "max_targets_per_user", "valid_users"),
        epochs=3,
        lr=2e-3,
        max_targets_per_user=2,
    )
    p.add_argument("--lr-lora", type=float, default=5e-3, help="learning rate, LoRA")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (alpha = 2r)")
    p.add_argument("--max-users", type=int, default=0, help="test users (0 = all)")
    args = p.parse_args(argv)
    if args.quick:
        harness.quick_training(args)
    harness.setup(args)
    configs = {
        f"{preset} {'LoRA' if lora else 'full'}": lm_config(args, preset, lora)
        for preset in args.presets.split(",")
        for lora in (False, True)
    }
    cache = harness.RowCache.of(args)
    rows = []
    for label, config in configs.items():
        row = cache.row(label, lambda c=config: in_fresh_process(args, c))
        rows.append(row)
        print({k: v for k, v in row.items() if k not in ("protocol", "split")}, flush=True)
    result = {
        "command": harness.command_line(STUDY, argv),
        "data": "ml-100k",
        "split": rows[0]["split"],
        "protocol": rows[0]["protocol"],
        "machine": harness.machine() + f"; {args.threads} torch thread(s) per run",
        "settings": harness.settings_of(args, "data"),
        "configs": [asdict(c) for c in configs.values()],
        "rows": rows,
    }
    cache.write(result, to_markdown(result))


def in_fresh_process(args: argparse.Namespace, config: LMConfig) -> dict:
    """:func:`run_one` in a fresh process: peak RSS then belongs to that run alone."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(
            run_one, args.data, config, args.max_users or None, args.threads
        ).result()


def to_markdown(result: dict) -> str:
    s = result["settings"]
    lines = [
        f"# {result['data']}: encoder-decoder vs decoder-only, full fine-tuning vs LoRA",
        "",
        f"Command: `{result['command']}`",
        f"Protocol: {result['protocol']}.",
        f"Split: {result['split']}. Machine: {result['machine']}.",
        f"Training: {s['epochs']} epochs, {s['max_targets_per_user']} targets per user, batch "
        f"{s['batch_size']}, lr {s['lr']} (full) / {s['lr_lora']} (LoRA r={s['lora_r']}, "
        f"alpha={2 * s['lora_r']}, + the item tokens' embedding rows). Models are randomly "
        "initialised: LoRA here adapts a random frozen network, so its NDCG shows cost, not the "
        "quality LoRA reaches on a pretrained checkpoint.",
        "",
        *harness.markdown_table(
            ["model", "architecture", "training", "NDCG@10", "HR@10", "parameters", "trainable"]
            + ["train examples/s", "inference users/s", "peak RSS MiB (over data)"],
            "lll" + "r" * 7,
            map(_cells, result["rows"]),
        ),
    ]
    return "\n".join(lines) + "\n"


def _cells(r: dict) -> list[str]:
    return [
        r["model"],
        r["architecture"],
        r["training"],
        f"{r['NDCG@10']:.4f}",
        f"{r['HR@10']:.4f}",
        f"{r['parameters']:,}",
        f"{r['trainable_parameters']:,}",
        f"{r['train_examples_per_second']:.1f}",
        f"{r['inference_users_per_second']:.0f}",
        f"{r['peak_rss_mib']:.0f} ({r['peak_rss_over_data_mib']:.0f})",
    ]


if __name__ == "__main__":
    main()

"""Issue 8's benchmark: encoder-decoder (T5) vs decoder-only (GPT-2, LLaMA) backbones of about
the same size, each fully fine-tuned and with LoRA, on MovieLens-100K.

Protocol: leave-one-out by timestamp, test stage, all items ranked, the user's history excluded.
Every model is built from scratch (random weights; no hub here), so LoRA adapts a *random*
frozen network: its rows show what LoRA costs and saves (trainable parameters, speed, memory),
not the quality it reaches on a pretrained base. Each configuration runs in its own fresh
process (one at a time), so its peak resident memory is its own. Writes
benchmarks/results/backbones.json and backbones.md.

    .venv/bin/python benchmarks/backbones.py            # the run of record
    .venv/bin/python benchmarks/backbones.py --quick    # a smoke run (1 epoch, 100 users)
"""

from __future__ import annotations

import argparse
import multiprocessing
import platform
import resource
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

import psutil
import torch
from _results import write_results

from lmrec.backbone.causal import is_causal
from lmrec.backbone.lora import LoraSettings, apply_lora, trainable_parameters
from lmrec.backbone.model import build_scratch_model, count_parameters
from lmrec.data import leave_one_out_split, read_recbole
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ml-100k"
OUT = ROOT / "benchmarks" / "results"
PRESETS = ("scratch:small", "scratch:gpt-small", "scratch:llama-small")


def lm_config(args: argparse.Namespace, preset: str, lora: bool) -> LMConfig:
    return LMConfig(
        model=preset,
        index=IndexConfig(strategy="sequential", style="single"),
        prompts=PromptConfig(max_history=20, max_targets_per_user=args.max_targets_per_user),
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr_lora if lora else args.lr,
            patience=0,
            max_valid_users=args.valid_users,
            seed=args.seed,
            progress=False,
        ),
        lora=LoraSettings(r=args.lora_r, alpha=2.0 * args.lora_r, dropout=0.05) if lora else None,
    )


def run_one(data: str, config: LMConfig, max_users: int | None, threads: int) -> dict:
    """Train and evaluate one configuration (in a fresh process)."""
    torch.set_num_threads(threads)
    split = leave_one_out_split(read_recbole(data))
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--quick", action="store_true", help="smoke run: 1 epoch, 100 eval users")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma-separated presets")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3, help="learning rate, full fine-tuning")
    p.add_argument("--lr-lora", type=float, default=5e-3, help="learning rate, LoRA")
    p.add_argument("--lora-r", type=int, default=8, help="LoRA rank (alpha = 2r)")
    p.add_argument("--max-targets-per-user", type=int, default=2)
    p.add_argument("--valid-users", type=int, default=200)
    p.add_argument("--max-users", type=int, default=0, help="test users (0 = all)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--name", default="backbones", help="output file stem")
    args = p.parse_args()
    if args.quick:
        args.epochs, args.max_targets_per_user, args.valid_users = 1, 1, 50
        args.max_users = args.max_users or 100

    configs = [
        lm_config(args, preset, lora)
        for preset in args.presets.split(",")
        for lora in (False, True)
    ]
    rows = []
    for config in configs:
        # A fresh process per configuration: peak RSS then belongs to that run alone.
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            row = pool.submit(
                run_one, args.data, config, args.max_users or None, args.threads
            ).result()
        rows.append(row)
        print({k: v for k, v in row.items() if k not in ("protocol", "split")}, flush=True)

    command = "python " + " ".join(
        shlex.quote(a) for a in ["benchmarks/backbones.py", *sys.argv[1:]]
    )
    result = {
        "command": command,
        "data": "ml-100k",
        "split": rows[0]["split"],
        "protocol": rows[0]["protocol"],
        "machine": f"{platform.machine()}, {args.threads} torch thread(s) per run",
        "settings": {k: v for k, v in vars(args).items() if k != "data"},
        "configs": [asdict(c) for c in configs],
        "rows": rows,
    }
    write_results(OUT, args.name + ("-quick" if args.quick else ""), result, to_markdown(result))


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
        "| model | architecture | training | NDCG@10 | HR@10 | parameters | trainable | "
        "train examples/s | inference users/s | peak RSS MiB (over data) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        trainable = r["trainable_parameters"]
        lines.append(
            f"| {r['model']} | {r['architecture']} | {r['training']} | {r['NDCG@10']:.4f} | "
            f"{r['HR@10']:.4f} | {r['parameters']:,} | "
            f"{trainable:,} | "
            f"{r['train_examples_per_second']:.1f} | {r['inference_users_per_second']:.0f} | "
            f"{r['peak_rss_mib']:.0f} ({r['peak_rss_over_data_mib']:.0f}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""Issue 4's benchmark: the language model under each item-indexing strategy beside SASRec,
ALS, item-kNN and popularity, on the standard sequential benchmarks, in one run.

Protocol: see :data:`PROTOCOL`. Each dataset's table also records training wall time, training
examples/s and tokens/s, the share of this machine's matmul peak (measured in the same run),
inference users/s for top-10 (trie beam search for the LM) and peak resident memory. Finished
models' rows are cached (``<name>.partial.json``): an interrupted run resumes at the next model.

    .venv/bin/python -m benchmarks.sequential --quick                  # ~10 min smoke run
    .venv/bin/python -m benchmarks.sequential --datasets beauty,ml100k # the full run

Writes benchmarks/results/sequential/sequential[-quick].{json,md,png}.
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import psutil
import torch

from benchmarks import harness
from lmrec.backbone.model import count_parameters
from lmrec.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    SASRecConfig,
    SASRecRecommender,
)
from lmrec.data import leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.base import Recommender
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig

STUDY = "sequential"
STRATEGIES = ("sequential", "random", "collaborative", "collaborative+unique", "semantic")
BASELINES = ("popularity", "item-kNN", "ALS", "SASRec")
PROTOCOL = (
    "leave-one-out (last item = test, second-last = validation; file order kept on ties), all "
    "items ranked, the user's history *not* excluded unless --exclude-seen (as P5, TIGER and the "
    "SASRec numbers in docs/design.md report it)"
)


def matmul_peak_gflops(size: int = 2048, repeats: int = 5) -> float:
    """Best-of-N float32 matmul throughput of this machine, measured now."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


class PeakMemory:
    """Samples this process's resident memory in a thread; ``peak`` in MiB."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak = interval, 0.0
        self._stop = threading.Event()
        self._process = psutil.Process()

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss / 2**20)
            self._stop.wait(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss / 2**20)


def lm_config_of(args: argparse.Namespace, strategy: str) -> LMConfig:
    index = IndexConfig(strategy=strategy, embedding="tfidf")
    return harness.lm_config(
        args, index=index, num_beams=args.beams, valid_exclude_seen=args.exclude_seen
    )


def sequence_config(args: argparse.Namespace, strategy: str, model: str) -> LMConfig:
    """A decoder-only model trained with the all-positions objective (``objective="sequence"``:
    item ids alone, every next-item prediction of a user's last max_history + 1 items)."""
    base = lm_config_of(args, strategy)
    return replace(
        base,
        model=model,
        prompts=PromptConfig(max_history=args.seq_max_history),
        train=replace(
            base.train,
            epochs=args.seq_epochs,
            patience=args.patience * 3 if args.seq_patience is None else args.seq_patience,
            learning_rate=args.seq_lr or args.lr,
            batch_size=args.seq_batch_size or args.batch_size,
            max_valid_users=args.seq_valid_users or args.valid_users,
            # Room for ids of up to 7 tokens + separator (batches pad to their longest only).
            max_source_length=8 * args.seq_max_history,
        ),
        objective="sequence",
        dropout=args.seq_dropout,
    )


def makers(args: argparse.Namespace) -> list[tuple[str, Callable[[], Recommender]]]:
    """The recommenders this run compares, by label, each as a function that builds it."""
    sasrec = SASRecConfig(
        epochs=args.sasrec_epochs,
        patience=args.patience * 3,
        seed=args.seed,
        valid_exclude_seen=args.exclude_seen,
        progress=False,
    )
    chosen: list[tuple[str, Callable[[], Recommender]]] = [
        ("popularity", PopularityRecommender),
        ("item-kNN", ItemKNNRecommender),
        ("ALS", lambda: ALSRecommender(seed=args.seed)),
        ("SASRec (full CE)", lambda: SASRecRecommender(sasrec)),
    ]
    keep = set(BASELINES) if args.baselines == "all" else set()
    keep |= set(harness.split_list(args.baselines)) - {"all", "none"}
    chosen = [(label, make) for label, make in chosen if label.split(" ")[0] in keep]
    for strategy in harness.split_list(args.strategies):
        config = lm_config_of(args, strategy)
        chosen.append((f"LM {strategy}", lambda c=config: LMRecommender(c)))
    for strategy in harness.split_list(args.seq_strategies):
        for model in args.seq_model.split(","):
            config = sequence_config(args, strategy, model)
            shape = model.removeprefix("scratch:")
            if args.seq_dropout is not None:
                shape += f", dropout {args.seq_dropout:g}"
            chosen.append((f"LM-seq {strategy} ({shape})", lambda c=config: LMRecommender(c)))
    return chosen


def measure(make: Callable[[], Recommender], split, args, peak_gflops: float) -> dict:
    """Fit one recommender and evaluate it: its row of the table (and the protocol)."""
    with PeakMemory() as memory:
        started = time.perf_counter()
        rec = make().fit(split)
        fit_seconds = time.perf_counter() - started
        report = evaluate_ranking(
            rec,
            split,
            stage="test",
            ks=(5, 10),
            exclude_seen=args.exclude_seen,
            max_users=args.eval_users or None,
            progress=False,
        )
    row = {
        **report.metrics,
        "fit_seconds": fit_seconds,
        "users_per_second": report.users_per_second,
        "peak_rss_mib": memory.peak,
        "protocol": report.protocol,
    }
    if isinstance(rec, LMRecommender):
        r = rec.train_result
        params = count_parameters(rec.model)
        # ~6 FLOPs per weight per token for a forward + backward pass, counting only the
        # weights a token is multiplied by: not the embedding table, which is a lookup
        # (the tied output layer's cost per answer token is left out: answers are short).
        embedding = rec.model.get_input_embeddings().weight.numel()
        achieved = 6 * (params - embedding) * r.tokens_per_second / 1e9
        row.update(
            train_seconds=r.seconds,
            examples_per_second=r.examples_per_second,
            tokens_per_second=r.tokens_per_second,
            parameters=params,
            epochs_run=r.epochs_run,
            best_epoch=r.best_epoch,
            peak_share=achieved / peak_gflops,
            code_length=len(rec.index.code(rec.index.items[0])),
            id_tokens=len(rec.index.vocabulary()),
        )
    return row


def run_dataset(
    name: str, args: argparse.Namespace, peak_gflops: float, cache: harness.RowCache
) -> dict:
    dataset = harness.load(name, args.data, seed=args.seed)
    if args.users:
        dataset = harness.subsample(dataset, args.users, args.seed)
    split = leave_one_out_split(dataset)
    logging.info("%s", split.describe())
    rows = []
    for label, make in makers(args):
        row = cache.row(f"{name}/{label}", lambda m=make: measure(m, split, args, peak_gflops))
        rows.append({"recommender": label} | {k: v for k, v in row.items() if k != "protocol"})
        logging.info("%s %s: %s", name, label, {k: row[k] for k in ("NDCG@10", "fit_seconds")})
    return {
        "data": split.name,
        "split": split.describe(),
        "protocol": row["protocol"],
        "rows": rows,
    }


def to_markdown(result: dict) -> str:
    lines = [
        "# Sequential recommendation: LM item-id strategies vs SASRec and classic baselines",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; measured float32 matmul peak "
        f"{result['matmul_peak_gflops']:.1f} GFLOP/s; wall time {result['wall_seconds']:.0f} s.",
        "",
    ]
    for ds in result["datasets"]:
        lines += [
            f"## {ds['data']}",
            "",
            f"Protocol: {ds['protocol']}. {ds['split']}.",
            "",
            "| recommender | HR@5 | HR@10 | NDCG@5 | NDCG@10 | fit s | train ex/s | "
            "tokens/s | % of peak | users/s | peak MiB |",
            "|---|" + "---:|" * 10,
        ]
        for r in ds["rows"]:
            eps = r.get("examples_per_second")
            lines.append(
                f"| {r['recommender']} | {r['HR@5']:.4f} | {r['HR@10']:.4f} | "
                f"{r['NDCG@5']:.4f} | {r['NDCG@10']:.4f} | {r['fit_seconds']:.0f} | "
                + (
                    f"{eps:.0f} | {r['tokens_per_second']:.0f} | {_percent(r.get('peak_share'))} | "
                    if eps
                    else "- | - | - | "
                )
                + f"{r['users_per_second']:.0f} | {r['peak_rss_mib']:.0f} |"
            )
        lines.append("")
    return "\n".join(lines)


def _percent(share: float | None) -> str:
    return f"{100 * share:.1f}" if share is not None else "-"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets = result["datasets"]
    fig, axes = plt.subplots(1, len(datasets), figsize=(6 * len(datasets), 4), squeeze=False)
    for ax, ds in zip(axes[0], datasets, strict=True):
        names = [r["recommender"] for r in ds["rows"]]
        values = [r["NDCG@10"] for r in ds["rows"]]
        colors = ["#4c72b0" if n.startswith("LM") else "#999999" for n in names]
        ax.barh(names, values, color=colors)
        ax.invert_yaxis()
        ax.set_xlabel("NDCG@10 (leave-one-out, all items)")
        ax.set_title(ds["data"])
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(
        p,
        STUDY,
        threads=0,
        quick="subsample: 300 users per data set, 10 targets per user, 3 LM epochs, 10 SASRec "
        "epochs (aim: under 10 minutes on 2 CPU cores)",
    )
    p.add_argument("--datasets", default="ml100k,beauty", help="ml100k, beauty, sports, shop")
    p.add_argument("--users", type=int, default=0, help="subsample this many users (0 = all)")
    p.add_argument("--strategies", default=",".join(STRATEGIES), help="LM item-id strategies")
    p.add_argument(
        "--baselines",
        default="all",
        help="all, none, or some of popularity,item-kNN,ALS,SASRec (comma-separated)",
    )
    p.add_argument(
        "--seq-strategies",
        default="",
        help="item-id strategies of decoder-only LMs trained with the all-positions objective "
        "(objective='sequence'); empty = none",
    )
    p.add_argument(
        "--seq-model", default="scratch:llama-tiny", help="LM-seq backbones, comma-separated"
    )
    p.add_argument("--seq-epochs", type=int, default=100)
    p.add_argument(
        "--seq-patience",
        type=int,
        default=None,
        help="early-stopping patience of the LM-seq models (default: SASRec's, 3 x --patience)",
    )
    p.add_argument("--seq-lr", type=float, default=None, help="LM-seq learning rate (--lr)")
    p.add_argument("--seq-batch-size", type=int, default=None, help="LM-seq batch (--batch-size)")
    p.add_argument(
        "--seq-valid-users",
        type=int,
        default=None,
        help="LM-seq validation users (--valid-users; SASRec validates on all)",
    )
    p.add_argument(
        "--seq-dropout",
        type=float,
        default=None,
        help="dropout of the LM-seq models (default: the architecture's)",
    )
    p.add_argument("--seq-max-history", type=int, default=50, help="as SASRec's max length")
    harness.add_lm_options(
        p,
        flags={"model": "--lm-model", "epochs": "--lm-epochs"},
        epochs=10,
        max_targets_per_user=20,
        patience=3,
        valid_users=500,
    )
    p.add_argument("--sasrec-epochs", type=int, default=200)
    p.add_argument("--beams", type=int, default=20, help="LM beam width for top-10")
    p.add_argument("--eval-users", type=int, default=0, help="test users sampled (0 = all)")
    p.add_argument("--exclude-seen", action="store_true", help="exclude history items")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    unknown = set(harness.split_list(args.baselines)) - set(BASELINES) - {"all", "none"}
    if unknown:
        p.error(f"unknown baselines {sorted(unknown)} (known: all, none, {', '.join(BASELINES)})")
    if args.quick:
        args.users = args.users or 300
        args.max_targets_per_user = min(args.max_targets_per_user, 10)
        args.epochs = min(args.epochs, 3)
        args.sasrec_epochs = min(args.sasrec_epochs, 10)
    harness.setup(args, logging.INFO)
    started = time.perf_counter()
    peak = matmul_peak_gflops()
    cache = harness.RowCache.of(args)
    datasets = [run_dataset(name, args, peak, cache) for name in args.datasets.split(",")]
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "matmul_peak_gflops": peak,
        "wall_seconds": time.perf_counter() - started,
        "datasets": datasets,
    }
    cache.write(result, to_markdown(result), plot)


if __name__ == "__main__":
    main()

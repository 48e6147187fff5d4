"""Issue 4's benchmark: the language model under each item-indexing strategy beside SASRec,
ALS, item-kNN and popularity, on the standard sequential benchmarks, in one run.

Protocol: leave-one-out (last item = test, second-last = validation; file order kept on ties),
all items ranked, the user's history *not* excluded unless --exclude-seen (as P5, TIGER and the
SASRec numbers in docs/design.md report it). Each dataset's table also records training wall time,
training examples/s and tokens/s, the share of this machine's matmul peak (measured in the same
run), inference users/s for top-10 (trie beam search for the LM) and peak resident memory.

    .venv/bin/python benchmarks/sequential.py --quick                 # ~10 min smoke run
    .venv/bin/python benchmarks/sequential.py --datasets beauty,ml100k # the full run

Writes benchmarks/results/sequential[-quick].{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import psutil
import torch

from lmrec.backbone.model import count_parameters
from lmrec.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    SASRecConfig,
    SASRecRecommender,
)
from lmrec.data import Dataset, leave_one_out_split, read_recbole, read_sequences
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.base import Recommender
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results"
STRATEGIES = ("sequential", "random", "collaborative", "collaborative+unique", "semantic")


def load(name: str, data_dir: Path) -> Dataset:
    """The named benchmark data set from ``data_dir`` (the repository's ../shared/data)."""
    if name == "ml100k":
        return read_recbole(data_dir / "ml-100k")
    folders = {
        "beauty": ("amazon_beauty", "Beauty.txt"),
        "sports": ("amazon_sports", "Sports_and_Outdoors.txt"),
    }
    if name not in folders:
        raise SystemExit(f"unknown dataset {name!r} (known: ml100k, beauty, sports)")
    folder, file = folders[name]
    base = data_dir / folder
    return read_sequences(
        base / file,
        names_path=base / "item_generative_indexing_phase_0.txt",
        id_map_path=base / "datamaps.json",
        name=name,
    )


def subsample(dataset: Dataset, users: int, seed: int) -> Dataset:
    """Keep a seeded random sample of users (all their events) and the whole catalogue."""
    chosen = set(random.Random(seed).sample(dataset.users, min(users, len(dataset.users))))
    kept = [x for x in dataset.interactions if x.user in chosen]
    return Dataset(kept, dataset.catalog, name=f"{dataset.name} ({len(chosen)} users)")


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


BASELINES = ("popularity", "item-kNN", "ALS", "SASRec")


def lm_config(args: argparse.Namespace, strategy: str) -> LMConfig:
    index = IndexConfig(strategy=strategy, embedding="tfidf")
    return LMConfig(
        model=args.lm_model,
        index=index,
        prompts=PromptConfig(
            max_history=args.max_history, max_targets_per_user=args.max_targets_per_user
        ),
        train=TrainConfig(
            epochs=args.lm_epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            patience=args.patience,
            max_valid_users=args.valid_users,
            seed=args.seed,
            progress=False,
        ),
        num_beams=args.beams,
        valid_exclude_seen=args.exclude_seen,
    )


def sequence_config(args: argparse.Namespace, strategy: str, model: str) -> LMConfig:
    """A decoder-only model trained with the all-positions objective (``objective="sequence"``:
    item ids alone, every next-item prediction of a user's last max_history + 1 items)."""
    base = lm_config(args, strategy)
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


def run_dataset(name: str, args: argparse.Namespace, peak_gflops: float) -> dict:
    dataset = load(name, Path(args.data))
    if args.users:
        dataset = subsample(dataset, args.users, args.seed)
    split = leave_one_out_split(dataset)
    logging.info("%s", split.describe())
    makers: list[tuple[str, Callable[[], Recommender]]] = [
        ("popularity", PopularityRecommender),
        ("item-kNN", ItemKNNRecommender),
        ("ALS", lambda: ALSRecommender(seed=args.seed)),
        (
            "SASRec (full CE)",
            lambda: SASRecRecommender(
                SASRecConfig(
                    epochs=args.sasrec_epochs,
                    patience=args.patience * 3,
                    seed=args.seed,
                    valid_exclude_seen=args.exclude_seen,
                    progress=False,
                )
            ),
        ),
    ]
    keep = set(BASELINES) if args.baselines == "all" else set()
    keep |= set(filter(None, args.baselines.split(","))) - {"all", "none"}
    makers = [(label, make) for label, make in makers if label.split(" ")[0] in keep]
    for strategy in filter(None, args.strategies.split(",")):
        config = lm_config(args, strategy)
        makers.append((f"LM {strategy}", lambda c=config: LMRecommender(c)))
    for strategy in filter(None, args.seq_strategies.split(",")):
        for model in args.seq_model.split(","):
            config = sequence_config(args, strategy, model)
            shape = model.removeprefix("scratch:")
            if args.seq_dropout is not None:
                shape += f", dropout {args.seq_dropout:g}"
            label = f"LM-seq {strategy} ({shape})"
            makers.append((label, lambda c=config: LMRecommender(c)))
    rows = []
    for label, make in makers:
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
            "recommender": label,
            **report.metrics,
            "fit_seconds": fit_seconds,
            "users_per_second": report.users_per_second,
            "peak_rss_mib": memory.peak,
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
        rows.append(row)
        logging.info("%s %s: %s", name, label, {k: row[k] for k in ("NDCG@10", "fit_seconds")})
    return {
        "data": split.name,
        "split": split.describe(),
        "protocol": report.protocol,
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="ml100k,beauty", help="ml100k, beauty, sports")
    p.add_argument("--data", default=str(DATA), help="folder holding the shared data sets")
    p.add_argument(
        "--quick",
        action="store_true",
        help="subsample: 300 users per data set, 10 targets per user, 3 LM epochs, 10 SASRec "
        "epochs (aim: under 10 minutes on 2 CPU cores)",
    )
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
    p.add_argument("--lm-model", default="scratch:tiny")
    p.add_argument("--lm-epochs", type=int, default=10)
    p.add_argument("--sasrec-epochs", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--max-history", type=int, default=20)
    p.add_argument("--max-targets-per-user", type=int, default=20)
    p.add_argument("--beams", type=int, default=20, help="LM beam width for top-10")
    p.add_argument("--patience", type=int, default=3)
    p.add_argument("--valid-users", type=int, default=500)
    p.add_argument("--eval-users", type=int, default=0, help="test users sampled (0 = all)")
    p.add_argument("--exclude-seen", action="store_true", help="exclude history items")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(OUT), help="folder for the JSON, markdown and PNG")
    p.add_argument("--name", default="sequential")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    args = p.parse_args()
    unknown = set(filter(None, args.baselines.split(","))) - set(BASELINES) - {"all", "none"}
    if unknown:
        p.error(f"unknown baselines {sorted(unknown)} (known: all, none, {', '.join(BASELINES)})")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.quick:
        args.users = args.users or 300
        args.max_targets_per_user = min(args.max_targets_per_user, 10)
        args.lm_epochs = min(args.lm_epochs, 3)
        args.sasrec_epochs = min(args.sasrec_epochs, 10)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    started = time.perf_counter()
    peak = matmul_peak_gflops()
    datasets = [run_dataset(name, args, peak) for name in args.datasets.split(",")]
    result = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in ["benchmarks/sequential.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch threads",
        "matmul_peak_gflops": peak,
        "wall_seconds": time.perf_counter() - started,
        "datasets": datasets,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = args.name + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(to_markdown(result))
    plot(result, out / f"{stem}.png")
    print(to_markdown(result))


if __name__ == "__main__":
    main()

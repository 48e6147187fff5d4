"""``lmrec export``: every known user's top-k, from the log the model directory recorded (or
--data), to one Parquet, CSV or JSON-lines file of ``user, rank, item, name, score``.

Under ``torchrun`` / ``accelerate launch`` each process scores its share of the users (every
``world``-th user from its rank, as validation shards them in training) into its own part
file, ``recs-00000-of-00002.parquet``: a user base too large for one machine spreads over
processes, GPUs or machines with the launchers PyTorch users know.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lmrec.cli.data import add_data_options, model_data, model_dir, read_data

EXPORT_FORMATS = (".parquet", ".csv", ".jsonl")
EXPORT_COLUMNS = ["user", "rank", "item", "name", "score"]


def add_export_parser(sub) -> None:
    p = sub.add_parser("export", help="every known user's top-k to a Parquet/CSV/JSONL file")
    p.add_argument(
        "--model",
        required=True,
        help="a directory written by 'lmrec train'; the data it recorded (log, columns, "
        "catalogue, filters) is the default of the data options, each of which overrides it",
    )
    p.add_argument(
        "--out",
        required=True,
        help="the file to write: .parquet, .csv or .jsonl (under torchrun, one part file per "
        "process beside it: recs-00000-of-00002.parquet, ...)",
    )
    p.add_argument("-k", type=int, default=10, help="items per user (default 10)")
    p.add_argument("--include-seen", action="store_true", help="allow items of the history")
    p.add_argument("--language", default=None, help="language of the item names (en, ar)")
    p.add_argument(
        "--batch-size", type=int, default=256, help="users per recommend call (default 256)"
    )
    add_data_options(p)
    p.set_defaults(func=cmd_export)


def part_path(out: Path, rank: int, world: int) -> Path:
    """``recs.parquet`` -> ``recs-00001-of-00002.parquet`` (the file itself when alone)."""
    if world == 1:
        return out
    return out.with_name(f"{out.stem}-{rank:05d}-of-{world:05d}{out.suffix}")


def check_export_args(args: argparse.Namespace) -> None:
    """Argument errors that need no model: said before it loads."""
    if args.k < 1:
        raise SystemExit(f"error: -k must be at least 1, got {args.k}")
    if args.batch_size < 1:
        raise SystemExit(f"error: --batch-size must be at least 1, got {args.batch_size}")
    if Path(args.out).suffix not in EXPORT_FORMATS:
        raise SystemExit(f"error: --out {args.out}: write .parquet, .csv or .jsonl")
    model_dir(args.model)


def write_frame(frame, path: Path) -> None:
    """``frame`` to ``path`` in the format its suffix names (UTF-8 text, names as they are)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False, encoding="utf-8")
    else:
        frame.to_json(path, orient="records", lines=True, force_ascii=False)


def cmd_export(args: argparse.Namespace) -> int:
    from lmrec.data.frames import recommendations_frame
    from lmrec.recommenders.lm import LMRecommender, set_threads
    from lmrec.training.loop import process_state

    check_export_args(args)
    set_threads(args.threads)
    data = model_data(args, args.model)
    if data.path is None:
        raise SystemExit("error: no data: give --data (the model directory records none)")
    histories = read_data(data).histories()
    state = process_state()
    rank, world = state.process_index, state.num_processes
    users = list(histories)[rank::world]
    rec = LMRecommender.load(args.model)
    # Each process scores on its own device (cuda:rank under torchrun on GPUs; else the CPU).
    rec.model.to(state.device)
    # Imported before the clock starts: users/s measures scoring, not a second of imports.
    import pandas  # noqa: F401
    import tqdm.auto  # noqa: F401

    started = time.perf_counter()
    frame = recommendations_frame(
        rec,
        {u: histories[u] for u in users},
        k=args.k,
        exclude_seen=not args.include_seen,
        language=args.language,
        batch_size=args.batch_size,
        progress=not args.quiet and state.is_main_process,
    )
    seconds = time.perf_counter() - started
    path = part_path(Path(args.out), rank, world)
    write_frame(frame[EXPORT_COLUMNS], path)
    speed = len(users) / seconds if seconds > 0 else float("inf")
    print(
        f"wrote {len(frame)} recommendations ({len(users)} users, top {args.k}, scores are "
        f"log-probabilities) to {path} in {seconds:.3f}s ({speed:.1f} users/s)",
        file=sys.stderr if world > 1 and rank else sys.stdout,
    )
    return 0

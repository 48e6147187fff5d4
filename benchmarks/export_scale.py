"""Batch export (issue 25): how many users/s does ``lmrec export`` score in one process, and in
two processes under ``torchrun``, each scoring its share of the users into its own part file?

    .venv/bin/python -m benchmarks.export_scale            # the built-in shop, 3,000 customers
    .venv/bin/python -m benchmarks.export_scale --quick    # 300 customers, a smoke run

Trains one model on the built-in shop (``lmrec train``, scratch:tiny), then runs ``lmrec
export`` as a user would, each run its own command: one process with one torch thread, one
process with two threads, and ``torchrun --standalone --nproc_per_node=2`` with one thread per
process. Each process reports its own scoring seconds (model loading and file writing are not
scoring); users/s is all users over the slowest process's scoring seconds, and the wall seconds
of the whole command (start-up, loading, scoring, writing) are recorded beside it. The part
files' union is checked to be the one-process export, row for row. Writes
``benchmarks/results/export_scale/export_scale[-quick].{json,md}``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness

STUDY = "export_scale"
SCORED = re.compile(r"\((\d+) users, top \d+.*? in ([\d.]+)s \(")
RUNS = (  # (label, processes, torch threads per process)
    ("1 process, 1 thread", 1, 1),
    ("1 process, 2 threads", 1, 2),
    ("2 processes (torchrun), 1 thread each", 2, 1),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(parser, STUDY, quick="300 customers, a smoke run", data=False)
    parser.add_argument("--users", type=int, default=3000, help="customers in the built-in shop")
    parser.add_argument("-k", type=int, default=10, help="recommendations per user")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs of the model")
    parser.add_argument("--workdir", default="/tmp/lmrec_export_scale", help="model and exports")
    args = parser.parse_args(argv)
    harness.setup(args)
    users = 300 if args.quick else args.users
    work = Path(args.workdir)
    shutil.rmtree(work, ignore_errors=True)
    model = work / "model"
    _lmrec(
        ["train", "--data", "builtin", "--users", str(users), "--first-only"]
        + ["--model", "scratch:tiny", "--epochs", str(args.epochs), "--out", str(model)],
        2,
    )
    rows = [
        _export(model, work / f"run{n}", processes, threads, args.k)
        for n, (_, processes, threads) in enumerate(RUNS)
    ]
    for (label, _, _), row in zip(RUNS, rows, strict=True):
        row["run"] = label
    _check_union(rows, work)
    one = rows[0]["users_per_second"]
    for row in rows:
        row["speed-up over 1 process, 1 thread"] = row["users_per_second"] / one
    result = {
        "study": STUDY,
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "data": f"the built-in shop, {users} customers (lmrec train --first-only)",
        "protocol": PROTOCOL,
        "k": args.k,
        "rows": rows,
    }
    harness.write_results(args.out, harness.stem(args), result, _markdown(result))
    return 0


PROTOCOL = (
    "every known customer's top-k with the history excluded (lmrec export's default), scratch:tiny "
    "T5, trie beam search; users/s = users / scoring seconds of the slowest process (scoring only: "
    "loading and writing are in the wall seconds); one run each, side by side on one machine"
)


def _lmrec(args: list[str], threads: int, processes: int = 1) -> subprocess.CompletedProcess:
    """One ``lmrec`` command as a user runs it (``torchrun`` for several processes)."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    command = [sys.executable, "-m", "lmrec.cli", "--quiet", "--threads", str(threads), *args]
    if processes > 1:
        torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
        command = [torchrun, "--standalone", f"--nproc_per_node={processes}", *command[1:]]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return done


def _export(model: Path, folder: Path, processes: int, threads: int, k: int) -> dict:
    folder.mkdir(parents=True)
    started = time.perf_counter()
    done = _lmrec(
        ["export", "--model", str(model), "--out", str(folder / "recs.parquet"), "-k", str(k)],
        threads,
        processes,
    )
    wall = time.perf_counter() - started
    scored = [(int(n), float(s)) for n, s in SCORED.findall(done.stdout + done.stderr)]
    if len(scored) != processes:
        raise RuntimeError(f"expected {processes} export lines, got {scored}")
    users = sum(n for n, _ in scored)
    slowest = max(s for _, s in scored)
    return {
        "processes": processes,
        "threads_per_process": threads,
        "users": users,
        "scoring_seconds": slowest,
        "users_per_second": users / slowest,
        "wall_seconds": wall,
        "files": sorted(p.name for p in folder.iterdir()),
    }


def _check_union(rows: list[dict], work: Path) -> None:
    """Every run's part files together hold exactly the one-process export's rows."""
    import pandas as pd

    def frame(n: int) -> pd.DataFrame:
        parts = sorted((work / f"run{n}").glob("*.parquet"))
        both = pd.concat([pd.read_parquet(p) for p in parts])
        return both.sort_values(["user", "rank"]).reset_index(drop=True)

    reference = frame(0)
    for n in range(1, len(rows)):
        other = frame(n)
        same = reference[["user", "rank", "item"]].equals(other[["user", "rank", "item"]])
        rows[n]["same_lists_as_one_process"] = bool(same)
    rows[0]["same_lists_as_one_process"] = True


def _markdown(result: dict) -> str:
    lines = [
        f"# Batch export: users/s in one and two processes ({result['data']})",
        "",
        f"Protocol: {result['protocol']}. k = {result['k']}.",
        "",
        "| run | users | scoring s | users/s | x 1 process, 1 thread | wall s | same lists |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['run']} | {r['users']} | {r['scoring_seconds']:.1f} | "
            f"{r['users_per_second']:.1f} | {r['speed-up over 1 process, 1 thread']:.2f} | "
            f"{r['wall_seconds']:.1f} | {'yes' if r['same_lists_as_one_process'] else 'NO'} |"
        )
    lines += ["", f"Machine: {result['machine']}.", "", f"Command: `{result['command']}`", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

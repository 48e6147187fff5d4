"""Streaming data: does memory stay flat as the interaction log grows (issue 9)?

    .venv/bin/python -m benchmarks.streaming            # 1M and 10M events (~15 minutes)
    .venv/bin/python -m benchmarks.streaming --quick    # 20k and 200k events, a smoke run

Writes synthetic logs (CSV and Parquet, chunk by chunk) under ``--workdir``, then reads each
one, making every sequential training prompt, once streamed (``lmrec.data.stream``) and once
the in-memory way (``read_interactions`` -> histories -> ``sequential_pairs`` ->
``sequential_examples``, a list as ``train_model`` takes it) for logs up to ``--eager-max``
events. Every run (the generator too) is its own subprocess, so peak RSS
(``getrusage`` max RSS) belongs to that run alone. Writes
``benchmarks/results/streaming/streaming.json`` and ``.md``.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported (by the harness)

import argparse
import json
import platform
import random
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness

STUDY = "streaming"
GENERATE_CHUNK = 500_000
ROW_GROUP = 100_000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(parser, STUDY, quick="20k and 200k events", data=False)
    parser.add_argument("--sizes", default="1000000,10000000", help="events per log")
    parser.add_argument("--users", type=int, default=50_000, help="users in every log")
    parser.add_argument("--items", type=int, default=20_000, help="items in the catalogue")
    parser.add_argument("--formats", default="csv,parquet", help="log file formats")
    parser.add_argument("--chunk-size", type=int, default=10_000, help="rows per streamed chunk")
    parser.add_argument("--max-history", type=int, default=20, help="items kept per user")
    parser.add_argument("--eager-max", type=int, default=1_000_000, help="largest eager log")
    parser.add_argument(
        "--large-formats", default="parquet", help="formats of the logs larger than --eager-max"
    )
    parser.add_argument("--workdir", default="/tmp/lmrec_streaming", help="where logs go")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # one measured run, as JSON
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return 0

    sizes = [20_000, 200_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    settings = {
        "seed": args.seed,
        "users": args.users,
        "items": args.items,
        "chunk_size": args.chunk_size,
        "max_history": args.max_history,
    }
    runs = []
    for n in sizes:
        formats = (args.formats if n <= args.eager_max else args.large_formats).split(",")
        paths = {fmt: str(workdir / f"log_{n}.{fmt}") for fmt in formats}
        runs.append(_run({"mode": "generate", "events": n, "paths": paths, **settings}))
        for fmt in formats:
            runs.append(_run({"mode": "stream", "events": n, "path": paths[fmt], **settings}))
            if n <= args.eager_max:
                runs.append(_run({"mode": "eager", "events": n, "path": paths[fmt], **settings}))
        for path in paths.values():
            Path(path).unlink()
    report = {
        "command": "OMP_NUM_THREADS=1 " + harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "python": platform.python_version(),
        "eager_max": args.eager_max,
        "large_formats": args.large_formats,
        **settings,
        "runs": runs,
    }
    harness.write_results(args.out, harness.stem(args), report, _markdown(report))
    return 0


def _run(spec: dict) -> dict:
    """One measured run in a fresh interpreter."""
    command = [sys.executable, __file__, "--child", json.dumps(spec)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{spec['mode']} run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"{result['mode']:8} {result['format']:7} {result['events']:>9} events: "
        f"{result['cpu_seconds']:7.1f} CPU s, peak RSS {result['peak_rss_mb']:7.1f} MB "
        f"({result['rss_growth_mb']:+.1f} MB over the start)",
        flush=True,
    )
    return result


# --- measured runs (in the child process) --------------------------------------------------------


def _child(spec: dict) -> dict:
    import psutil
    import pyarrow as pa
    import pyarrow.parquet  # noqa: F401  (imported before the start RSS is taken, not during)

    # One CPU thread: pyarrow would otherwise decode and write with a thread pool.
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    from lmrec.data import Catalog
    from lmrec.prompts.templates import load_templates
    from lmrec.training.stream import catalog_index

    catalog = Catalog.from_ids(f"i{k}" for k in range(spec["items"]))
    index = catalog_index(catalog)  # from the catalogue, before any event is read
    templates = load_templates()
    start_rss = psutil.Process().memory_info().rss
    start_cpu = _cpu_seconds()
    started = time.perf_counter()
    if spec["mode"] == "generate":
        counts = _generate(spec)
        fmt = "+".join(spec["paths"])
    else:
        fmt = Path(spec["path"]).suffix.lstrip(".")
        run = _stream if spec["mode"] == "stream" else _eager
        counts = run(spec, index, templates)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - start_cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    mb = 1024 * 1024
    return {
        "mode": spec["mode"],
        "format": fmt,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu, 2),
        "start_rss_mb": round(start_rss / mb, 1),
        "peak_rss_mb": round(peak / mb, 1),
        "rss_growth_mb": round((peak - start_rss) / mb, 1),
        # Per CPU second: on a shared machine wall time also counts other processes' turns.
        "events_per_second": round(spec["events"] / cpu),
        "prompts_per_second": round(counts.get("prompts", 0) / cpu),
        **counts,
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _generate(spec: dict) -> dict:
    """A time-ordered log: users uniform, items skewed (a few popular), chunk by chunk."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(spec["seed"])
    schema = pa.schema([("user", pa.string()), ("item", pa.string()), ("timestamp", pa.int64())])
    writers = {}
    for fmt, path in spec["paths"].items():
        if fmt == "csv":
            writers[fmt] = pcsv.CSVWriter(path, schema)
        elif fmt == "parquet":
            writers[fmt] = pq.ParquetWriter(path, schema)
        else:
            raise ValueError(f"the generator writes csv or parquet, not {fmt!r}")
    first = 1_600_000_000
    for start in range(0, spec["events"], GENERATE_CHUNK):
        n = min(GENERATE_CHUNK, spec["events"] - start)
        users = rng.integers(spec["users"], size=n)
        items = (spec["items"] * rng.random(n) ** 3).astype(np.int64)
        table = pa.table(
            {
                "user": pc.binary_join_element_wise("u", pc.cast(pa.array(users), pa.string()), ""),
                "item": pc.binary_join_element_wise("i", pc.cast(pa.array(items), pa.string()), ""),
                "timestamp": pa.array(first + start + np.arange(n)),
            },
            schema=schema,
        )
        for fmt, writer in writers.items():
            if fmt == "parquet":
                writer.write_table(table, row_group_size=ROW_GROUP)
            else:
                writer.write_table(table)
    for writer in writers.values():
        writer.close()
    sizes = {fmt: Path(p).stat().st_size for fmt, p in spec["paths"].items()}
    return {"events": spec["events"], "file_mb": {f: round(s / 2**20, 1) for f, s in sizes.items()}}


def _stream(spec: dict, index, templates) -> dict:
    import psutil

    from lmrec.data import LoadReport
    from lmrec.tasks import PromptConfig
    from lmrec.training.stream import stream_sequential_examples

    config = PromptConfig(max_history=spec["max_history"])
    report = LoadReport(spec["path"])  # its row count says how far the stream has read
    examples = stream_sequential_examples(
        spec["path"],
        index,
        templates,
        config,
        random.Random(0),
        chunk_size=spec["chunk_size"],
        report=report,
    )
    process = psutil.Process()
    tenth = spec["events"] // 10
    rss_by_events: list[list[float]] = []  # [events read, RSS MB] at each tenth of the log
    prompts = 0
    for _ in examples:
        prompts += 1
        if report.rows >= tenth * (len(rss_by_events) + 1):
            rss_by_events.append([report.rows, round(process.memory_info().rss / 2**20, 1)])
    rss_by_events.append([report.rows, round(process.memory_info().rss / 2**20, 1)])
    return {"events": spec["events"], "prompts": prompts, "rss_by_events": rss_by_events}


def _eager(spec: dict, index, templates) -> dict:
    from lmrec.data import read_interactions
    from lmrec.data.split import Split
    from lmrec.tasks import PromptConfig
    from lmrec.tasks.sequential import sequential_examples, sequential_pairs

    dataset = read_interactions(spec["path"])
    everything = Split(train=dataset.histories(), valid={}, test={}, catalog=dataset.catalog)
    pairs = sequential_pairs(everything)
    config = PromptConfig(max_history=spec["max_history"])
    examples = sequential_examples(pairs, index, templates, config, random.Random(0))
    return {"events": len(dataset.interactions), "prompts": len(examples)}


def _eager_note(r: dict) -> str:
    """How far the eager path's memory would go on the largest log, from its growth rate."""
    eager = [x for x in r["runs"] if x["mode"] == "eager"]
    if not eager:
        return "none was run"
    per_million = max(x["rss_growth_mb"] / (x["events"] / 1e6) for x in eager)
    largest = max(x["events"] for x in r["runs"])
    return (
        f"it grew by up to {per_million:,.0f} MB per million events, so the {largest:,}-event "
        f"log would need about {per_million * largest / 1e6 / 1024:.1f} GB"
    )


def _markdown(r: dict) -> str:
    rows = "\n".join(
        f"| {x['events']:,} | {x['format']} | {x['mode']} | {x['peak_rss_mb']} | "
        f"{x['rss_growth_mb']} | {x['cpu_seconds']} | {x['seconds']} | "
        f"{x['events_per_second']:,} | "
        + (f"{x['prompts_per_second']:,} |" if x["mode"] != "generate" else "- |")
        for x in r["runs"]
    )
    return f"""# Streaming data: memory as the log grows

Command: `{r["command"]}`
Machine: {r["machine"]}, Python {r["python"]}; one CPU thread (`OMP_NUM_THREADS=1`, pyarrow
CPU and I/O pools of 1).

Protocol: synthetic time-ordered logs of {r["users"]:,} users and {r["items"]:,} items
(users uniform, items skewed), written as CSV and Parquet 500k rows at a time (row groups of
100k). Each run is a fresh subprocess that builds the item index from the catalogue, notes its
RSS, then reads the log and makes every sequential training prompt (history of at most
{r["max_history"]} items -> next item, a seen template drawn per prompt): **stream** =
`lmrec.training.stream.stream_sequential_examples` with chunks of {r["chunk_size"]:,} rows, the
prompts counted and dropped; **eager** = `read_interactions` -> per-user histories ->
`sequential_pairs` -> `sequential_examples`, all prompts held in a list as `train_model`
takes them, run for logs up to {r["eager_max"]:,} events only ({_eager_note(r)}).

Peak RSS is the process's `getrusage` maximum; "growth" is that peak minus the RSS before
reading. Rates are per CPU second of the run (user + system time): the machine is shared, so
wall time also counts other processes' turns. Generation rows show the generator's own memory
(it writes all of a size's formats at once). Logs over {r["eager_max"]:,} events are written
and streamed as {r["large_formats"]} only, to keep the run near 15 minutes of CPU.

| events | format | run | peak RSS MB | growth MB | CPU s | wall s | events/s | prompts/s |
|---|---|---|---|---|---|---|---|---|
{rows}

RSS of each stream run as it read the log, in MB, after each tenth of its events and at the end
(the windows of {r["users"]:,} users fill up over the first million events, then nothing grows):

{_curves(r)}

The stream keeps one list of at most {r["max_history"]} item ids per user, so its memory
grows with the number of users (here fixed), not with the number of events.
"""


def _curves(r: dict) -> str:
    return "\n".join(
        f"- {x['events']:,} {x['format']}: "
        + " → ".join(f"{mb:.0f}" for _, mb in x["rss_by_events"])
        for x in r["runs"]
        if "rss_by_events" in x
    )


if __name__ == "__main__":
    sys.exit(main())

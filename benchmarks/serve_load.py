"""Load benchmark of ``lmrec serve``: event throughput with many concurrent clients (every
acknowledged event stored exactly once), and recommendation latency alone and under write load.

    .venv/bin/python -m benchmarks.serve_load --model runs/demo            # full size
    .venv/bin/python -m benchmarks.serve_load --model runs/demo --clients 20 --events 2000

Writes ``benchmarks/results/serve_load/serve_load.json`` and ``.md``. The server is a real
``lmrec --threads 1 serve`` subprocess on 127.0.0.1; the clients are threads of this process
(httpx, one connection each), so clients and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from lmrec.recommenders.lm import LMRecommender
from lmrec.serve.loadtest import ServerProcess, measure_latency, send_events
from lmrec.serve.store import SQLiteEventStore

STUDY = "serve_load"
KEY = "benchmark-key"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(
        parser, STUDY, quick="5 writers of 200 events, 4 readers of 5 requests", data=False
    )
    parser.add_argument("--model", default="runs/demo", help="model directory (lmrec demo)")
    parser.add_argument("--clients", type=int, default=50, help="concurrent event writers")
    parser.add_argument("--events", type=int, default=2000, help="events per writer")
    parser.add_argument("--batch", type=int, default=100, help="events per POST /events")
    parser.add_argument("--readers", type=int, default=16, help="concurrent recommendation clients")
    parser.add_argument("--requests", type=int, default=25, help="requests per reader")
    args = parser.parse_args(argv)
    if args.quick:
        args.clients, args.events, args.readers, args.requests = 5, 200, 4, 5
    harness.setup(args)

    items = list(LMRecommender.load(args.model).catalog)
    workdir = Path(tempfile.mkdtemp(prefix="serve_load_"))
    db = workdir / "events.sqlite"
    with ServerProcess(args.model, db, KEY) as server:
        print(f"server on {server.url}, store {db}")
        # 1. throughput: every writer at once, nothing else
        writes = send_events(server.url, KEY, args.clients, args.events, items, args.batch)
        store = SQLiteEventStore(db)
        ids = store.all_ids()
        store.close()
        exactly_once = len(ids) == len(set(ids)) and set(ids) == writes.acked_ids
        print(
            f"{writes.acked} events acknowledged in {writes.seconds:.1f}s "
            f"({writes.events_per_second:.0f}/s); stored exactly once: {exactly_once}"
        )
        users = [f"load-{c:03d}-{u}" for c in range(args.clients) for u in range(20)]
        # 2. latency, one client at a time (no queueing)
        alone = measure_latency(server.url, users, clients=1, requests_per_client=args.requests)
        # 3. latency with concurrent readers while writers keep sending
        background = threading.Thread(
            target=send_events,
            args=(server.url, KEY, 10, 1000, items, args.batch),
            kwargs={"users_per_client": 20},
        )
        background.start()
        loaded = measure_latency(server.url, users, args.readers, args.requests)
        background.join()
    report = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "model": Path(args.model).name,
        "items": len(items),
        "writes": {
            "clients": args.clients,
            "events": writes.events,
            "batch": args.batch,
            "acknowledged": writes.acked,
            "stored": len(ids),
            "exactly_once": exactly_once,
            "seconds": round(writes.seconds, 2),
            "events_per_second": round(writes.events_per_second),
            "errors": len(writes.errors),
        },
        "recommendations_alone": alone.summary(),
        "recommendations_under_load": {
            "readers": args.readers,
            "background_writers": 10,
            **loaded.summary(),
        },
    }
    harness.write_results(args.out, harness.stem(args), report, _markdown(report))
    return 0 if exactly_once and not writes.errors else 1


def _markdown(r: dict) -> str:
    w, a, b = r["writes"], r["recommendations_alone"], r["recommendations_under_load"]
    return f"""# lmrec serve under load

Command: `{r["command"]}`
Machine: {r["machine"]}; model `{r["model"]}` ({r["items"]} items); server `lmrec --threads 1
serve` (uvicorn, one process) and SQLite in WAL mode with `synchronous=FULL` (an fsync per
acknowledged batch); clients are threads of the benchmark process on the same machine,
talking HTTP/1.1 over 127.0.0.1.

Protocol: (1) {w["clients"]} clients each send {w["events"] // w["clients"]} events in batches
of {w["batch"]}, all at once, each event with its own idempotency id; afterwards the store is
read back and must hold every acknowledged event exactly once. (2) One client asks
`GET /users/{{id}}/recommendations?k=10` {a["requests"]} times in a row. (3) {b["readers"]}
clients ask concurrently while {b["background_writers"]} writers keep sending events.
Decodes run one at a time (one PyTorch thread), so latency under load includes queueing.

| events | clients | seconds | events/s | stored exactly once |
|---|---|---|---|---|
| {w["acknowledged"]} | {w["clients"]} | {w["seconds"]} | {w["events_per_second"]} | {w["exactly_once"]} |

| recommendations | requests | p50 ms | p95 ms | p99 ms | max ms | req/s | errors |
|---|---|---|---|---|---|---|---|
| alone (1 client) | {a["requests"]} | {a["p50_ms"]} | {a["p95_ms"]} | {a["p99_ms"]} | {a["max_ms"]} | {a["requests_per_second"]} | {a["errors"]} |
| {b["readers"]} clients + writers | {b["requests"]} | {b["p50_ms"]} | {b["p95_ms"]} | {b["p99_ms"]} | {b["max_ms"]} | {b["requests_per_second"]} | {b["errors"]} |
"""  # noqa: E501


if __name__ == "__main__":
    sys.exit(main())

"""``lmrec serve``: the recommendation web service. Its limits and keys are options generated
from :class:`~lmrec.serve.ServeConfig`."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace

from lmrec.cli.data import DATA_OPTIONS
from lmrec.cli.importer import import_log, recorded_mappings
from lmrec.cli.options import ConfigOptions, add_config_options, build_config

# The log to import is --import; the other data options (--columns, --catalog-columns,
# --event-map, --skip-unknown, ...) read it as they read a training log, and default to the
# ones the model directory recorded for its own training log.
IMPORT_OPTIONS = replace(
    DATA_OPTIONS,
    spellings={"path": "--import"},
    groups={"path": "import a log into the event store before serving (idempotent)"},
)


def _serve_options() -> ConfigOptions:
    from lmrec.serve import ServeConfig

    return ConfigOptions(
        cls=ServeConfig,
        dest="serve",
        # The directory and the store are --model and --db, with defaults of the CLI's own.
        skip=frozenset({"model_dir", "db_path", "event_map"}),
        groups={"api_key": "service (keys default to $LMREC_API_KEY and $LMREC_READ_KEY)"},
    )


def add_serve_parser(sub) -> None:
    p = sub.add_parser("serve", help="the recommendation web service (FastAPI + SQLite events)")
    p.add_argument("--model", default="runs/demo", help="a directory written by 'lmrec train'")
    p.add_argument("--db", default="events.sqlite", help="SQLite event store (created if missing)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--log-level", default="warning", help="uvicorn log level")
    add_config_options(p, _serve_options())
    add_config_options(p, IMPORT_OPTIONS)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import set_threads
    from lmrec.serve import run_server

    set_threads(args.threads)
    data = build_config(IMPORT_OPTIONS, args, recorded_mappings(args.model))
    base = {
        "model_dir": args.model,
        "db_path": args.db,
        "api_key": os.environ.get("LMREC_API_KEY") or None,
        "read_key": os.environ.get("LMREC_READ_KEY") or None,
        "event_map": data.event_map,
    }
    config = build_config(_serve_options(), args, base)
    if data.path is not None:
        print(import_log(data, args.db, args.model), flush=True)
    if config.api_key is None:
        print("warning: no --api-key (or LMREC_API_KEY): writes are disabled", file=sys.stderr)
    print(f"serving {args.model} on http://{args.host}:{args.port}/ (events in {args.db})")
    run_server(config, host=args.host, port=args.port, log_level=args.log_level)
    return 0

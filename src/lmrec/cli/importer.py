"""``lmrec import``: a log into the service's event store, read with the data options (column,
catalogue and event mappings), idempotently: a second import stores nothing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lmrec.cli.data import add_data_options, data_config, read_data
from lmrec.cli.runfile import read_run
from lmrec.data.schema import Catalog
from lmrec.data.source import DataConfig
from lmrec.recommenders.lm import CONFIG_FILE


def add_import_parser(sub) -> None:
    p = sub.add_parser(
        "import", help="load a log into the service's event store (a second import stores nothing)"
    )
    p.add_argument("--db", required=True, help="SQLite event store (created if missing)")
    p.add_argument(
        "--model",
        default=None,
        help="a trained model directory: refuse (or, with --skip-unknown, skip and count) "
        "events of items not in its catalogue",
    )
    add_data_options(p, required=True)
    p.set_defaults(func=cmd_import)


def import_log(config: DataConfig, db_path: str, model_dir: str | None) -> str:
    """Import the log ``config`` names into ``db_path``; a line saying what was done."""
    from lmrec.serve import SQLiteEventStore
    from lmrec.serve.importer import import_dataset

    known = None if model_dir is None else model_catalog(model_dir)
    dataset = read_data(config)
    store = SQLiteEventStore(db_path)
    try:
        result = import_dataset(store, dataset, known, skip_unknown=config.skip_unknown)
    finally:
        store.close()
    return f"imported {config.path} into {db_path}: {result.describe()}"


def model_catalog(model_dir: str) -> Catalog:
    """The catalogue a model directory serves, read without loading the model."""
    path = Path(model_dir) / "catalog.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{model_dir}: no catalog.jsonl (not an lmrec model directory?)")
    return Catalog.load_jsonl(path)


def recorded_mappings(model_dir: str | None) -> dict[str, Any]:
    """How the model's training log was read (columns, catalogue and its columns, event map:
    the ``data`` table of its ``lmrec.json``), so a log imported for that model is read the
    same way unless an option says otherwise. Not the training log's path, and not its filters
    (``events``, ``first_only``): the event store keeps every event, and a filter applies when a
    history is read from it, not when events are stored."""
    if model_dir is None or not (Path(model_dir) / CONFIG_FILE).is_file():
        return {}
    recorded = dict(read_run(model_dir).get("data") or {})
    for key in ("path", "events", "first_only"):
        recorded.pop(key, None)
    return recorded


def cmd_import(args: argparse.Namespace) -> int:
    data = data_config(args, recorded_mappings(args.model))
    print(import_log(data, args.db, args.model))
    return 0

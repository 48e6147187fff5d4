"""Run files: ``lmrec train --config run.toml`` (TOML or JSON). A run file has a ``config``
table (the :class:`~lmrec.recommenders.lm.LMConfig`) and a ``data`` table (the
:class:`~lmrec.data.source.DataConfig`); the ``lmrec.json`` of a trained model directory is one,
so a saved model can be trained again from its own record. What the directory records of its
run besides (the lmrec version, a refit, test metrics) is read back, never applied."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

from lmrec.config import ConfigError, to_dict
from lmrec.data.source import DataConfig
from lmrec.recommenders.directory import FORMAT_VERSION
from lmrec.recommenders.lm import CONFIG_FILE
from lmrec.training.records import METRICS_FILE

RUN_TABLES = ("config", "data")
# What a model directory's lmrec.json holds besides the run: read, never applied.
RECORD_KEYS = ("format_version", "lmrec_version", "train_result", "refit", "test_metrics")
TRAIN_DIR = "_train"
"""The folder of a model directory where ``lmrec train`` keeps its resumable checkpoints."""


def read_run(path: str | Path) -> dict[str, Any]:
    """The ``config`` and ``data`` tables of a run file (either may be absent). An unknown
    top-level key, or a ``format_version`` newer than this lmrec writes, is refused."""
    path = Path(path)
    if path.is_dir():
        path = path / CONFIG_FILE
    text = path.read_text(encoding="utf-8")
    try:
        run = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(
            f"{path}: not a valid {path.suffix.lstrip('.')} run file: {err}"
        ) from None
    unknown = [key for key in run if key not in RUN_TABLES + RECORD_KEYS]
    if unknown:
        raise ConfigError(
            f"{path}: unknown key {unknown[0]!r} (a run file has {', '.join(RUN_TABLES)})"
        )
    version = run.get("format_version", FORMAT_VERSION)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ConfigError(f"{path}: format_version {version!r} is newer than this lmrec reads")
    return {key: run[key] for key in RUN_TABLES if key in run}


def record_data(model_dir: str | Path, data: DataConfig) -> None:
    """Add the data a model was trained on to its directory's ``lmrec.json``, which makes the
    file a run file. (Directories written before this have no ``data`` and still load.)"""
    meta_path = Path(model_dir) / CONFIG_FILE
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    meta.setdefault("format_version", FORMAT_VERSION)
    meta["data"] = to_dict(data)
    meta_path.write_text(json.dumps(meta, indent=1), encoding="utf-8")


def record_test_metrics(model_dir: str | Path, test: dict[str, Any]) -> None:
    """Add the test metrics measured after training to the directory's ``lmrec.json``
    (``test_metrics``) and ``metrics.json`` (``test``)."""
    for name, key in ((CONFIG_FILE, "test_metrics"), (METRICS_FILE, "test")):
        path = Path(model_dir) / name
        record = json.loads(path.read_text(encoding="utf-8"))
        record[key] = test
        path.write_text(json.dumps(record, indent=1), encoding="utf-8")


def remove_checkpoints(model_dir: str | Path) -> None:
    """Delete the resumable checkpoints of a finished run (optimizer and random states: most
    of a model directory's bytes, of no use once the model is saved)."""
    shutil.rmtree(Path(model_dir) / TRAIN_DIR, ignore_errors=True)

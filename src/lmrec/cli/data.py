"""The data options every verb that reads a log shares, generated from
:class:`lmrec.data.source.DataConfig`."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lmrec.cli.options import ConfigOptions, add_config_options, build_config
from lmrec.cli.runfile import read_run
from lmrec.data.schema import Dataset
from lmrec.data.source import (
    FORMATS,
    DataConfig,
    data_format,
    load_dataset,
    parse_catalog_columns,
    parse_columns,
    parse_rating_range,
)
from lmrec.recommenders.lm import CONFIG_FILE

DATA_OPTIONS = ConfigOptions(
    cls=DataConfig,
    dest="data",
    spellings={"path": "--data"},
    parsers={
        "columns": parse_columns,
        "catalog_columns": parse_catalog_columns,
        "rating_range": parse_rating_range,
    },
    extra={"rating_range": {"metavar": "LOW-HIGH"}, "event_map": {"metavar": "NAME=TYPE,..."}},
    choices={"format": FORMATS},
    groups={"path": "data"},
)


def add_data_options(p: argparse.ArgumentParser, required: bool = False) -> None:
    add_config_options(p, DATA_OPTIONS, required=("--data",) if required else ())


def data_config(args: argparse.Namespace, base: Mapping[str, Any] | None = None) -> DataConfig:
    """The data the options (over ``base``, a run file's ``data`` table) name."""
    return build_config(DATA_OPTIONS, args, base)


def model_dir(path: str) -> Path:
    """``path`` as a trained model directory, refused in words before anything loads."""
    directory = Path(path)
    if not directory.exists():
        raise SystemExit(f"error: model directory {path} does not exist")
    if not (directory / CONFIG_FILE).is_file():
        raise SystemExit(f"error: {path} is not an lmrec model directory (no {CONFIG_FILE})")
    return directory


def model_data(args: argparse.Namespace, model: str | None) -> DataConfig:
    """The data options over the ``data`` table the model directory recorded at training (so
    ``--data``, ``--columns``, ``--catalog`` need not be repeated; any option given wins,
    field by field, as over a run file). Without a model (or a record), the options alone."""
    recorded = read_run(model).get("data") if model else None
    return data_config(args, recorded)


def read_data(config: DataConfig) -> Dataset:
    """:func:`load_dataset`, with a missing file refused before any reader starts."""
    if config.path is None:
        raise SystemExit("error: no data: give --data (or a --config file with a data table)")
    if data_format(config) != "builtin" and not Path(config.path).exists():
        raise SystemExit(f"error: data file {config.path} does not exist")
    return load_dataset(config)

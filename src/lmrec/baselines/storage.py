"""The on-disk form the classic baselines share: ``config.json`` (the model type, settings
and item ids) beside ``arrays.npz`` (numpy arrays, read back without pickle)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_FILE = "config.json"
ARRAYS_FILE = "arrays.npz"


def write_model(path: str | Path, kind: str, config: dict[str, Any], **arrays: Any) -> None:
    """Write one model directory; ``kind`` is checked again by :func:`read_config`."""
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    payload = {"type": kind, **config}
    (directory / CONFIG_FILE).write_text(json.dumps(payload, ensure_ascii=False))
    np.savez(directory / ARRAYS_FILE, **arrays)


def read_config(path: str | Path, kind: str) -> dict[str, Any]:
    """The saved config (without its type); a directory of another model type is an error."""
    directory = Path(path)
    config = json.loads((directory / CONFIG_FILE).read_text())
    if config.get("type") != kind:
        raise ValueError(f"{directory} holds a {config.get('type')!r}, not a {kind}")
    del config["type"]
    return config


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    with np.load(Path(path) / ARRAYS_FILE, allow_pickle=False) as arrays:
        return {name: arrays[name] for name in arrays.files}

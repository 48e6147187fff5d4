"""Config dataclasses as data: their documented fields, and a round trip through plain dicts.

Each config documents its fields in its docstring as ``name: text`` blocks (continuation
lines indented). Reading help from there, rather than from ``field(metadata=...)``, keeps one
place for a field's documentation that both a reader of the source and ``--help`` see.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Mapping
from dataclasses import MISSING, asdict, fields, is_dataclass
from typing import Any, TypeVar, Union, get_args, get_origin, get_type_hints

T = TypeVar("T")

_BLOCK = re.compile(r"^(\w+): (.*)$")
# Sphinx roles and literals read badly in a terminal: ``x`` -> x, :func:`a.b` -> a.b.
_LITERAL = re.compile(r"``(.*?)``")
_ROLE = re.compile(r":\w+:`~?([^`]*)`")


class ConfigError(ValueError):
    """A config dict that does not fit its dataclass (an unknown key, a wrong shape)."""


def field_docs(cls: type) -> dict[str, str]:
    """The ``name: text`` block of each documented field of ``cls``'s docstring, joined into
    one line, with reStructuredText markup removed. Fields without a block are left out."""
    names = {f.name for f in fields(cls)}
    docs: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in inspect.cleandoc(cls.__doc__ or "").splitlines():
        match = _BLOCK.match(line)
        if match and match.group(1) in names:
            current = docs.setdefault(match.group(1), [])
            current.append(match.group(2))
        elif current is not None and line.startswith(" ") and line.strip():
            current.append(line.strip())
        else:
            current = None
    return {name: _plain(" ".join(parts)) for name, parts in docs.items()}


def _plain(text: str) -> str:
    return _ROLE.sub(r"\1", _LITERAL.sub(r"\1", text))


def leaf_type(tp: Any) -> Any:
    """``X | None`` -> ``X``; any other type as it is."""
    if get_origin(tp) in (Union, types.UnionType):
        rest = [a for a in get_args(tp) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return tp


def to_dict(config: Any) -> dict:
    """A config as plain data (nested configs as dicts, tuples as lists once dumped)."""
    return asdict(config)


def from_dict(cls: type[T], data: Mapping[str, Any], where: str = "") -> T:
    """``cls`` built from ``data``, recursing into every field whose type is a config
    dataclass (optional ones too) and turning lists into tuples where a tuple is declared.
    A key ``cls`` has no field for is refused, named with its path (``train.epoch``)."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where.rstrip('.') or 'config'} must be a table, not {data!r}")
    known = {f.name for f in fields(cls) if f.init}
    unknown = [key for key in data if key not in known]
    if unknown:
        raise ConfigError(
            f"unknown key '{where}{unknown[0]}' in {cls.__name__} "
            f"(known: {', '.join(sorted(known))})"
        )
    hints = get_type_hints(cls)
    values = {key: _value(hints[key], value, f"{where}{key}") for key, value in data.items()}
    return cls(**values)


def _value(tp: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    tp = leaf_type(tp)
    if is_dataclass(tp) and isinstance(tp, type):
        return value if isinstance(value, tp) else from_dict(tp, value, f"{where}.")
    if get_origin(tp) is tuple and isinstance(value, list | tuple):
        args = get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_value(args[0], v, where) for v in value)
        return tuple(_value(a, v, where) for a, v in zip(args, value, strict=False))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def field_default(cls: type, name: str) -> Any:
    """The default of field ``name`` (its factory called), or MISSING."""
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return f.default
            if f.default_factory is not MISSING:
                return f.default_factory()
    return MISSING

"""Command-line options generated from config dataclasses, in the style of transformers'
``HfArgumentParser``: each field of a config (nested configs walked through) is one option
whose type, default and help come from the dataclass, so adding an option is one edit (the
field and its documented line) and a default lives in one place.

Options default to "not given" (``argparse.SUPPRESS``): a run file's values stand unless the
command line names them, and the dataclass supplies the rest.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, get_args, get_origin, get_type_hints

from lmrec.config import field_default, field_docs, from_dict, leaf_type

NOT_GIVEN = argparse.SUPPRESS


@dataclass(frozen=True)
class ConfigOptions:
    """How one config class becomes options.

    cls: the config dataclass.
    dest: prefix of the options' argparse destinations (two configs in one parser never
        share one).
    spellings: dotted field path -> flag, where the flag is not ``--field-name``; two paths
        with one flag make one option that sets both.
    prefixes: nested config -> flag prefix of its fields without a spelling.
    parsers: dotted path -> function reading the option's text; such a field is one option
        even when it holds a config of its own.
    skip: dotted paths that get no option (the CLI sets them itself, or only files do).
    choices: dotted path -> the values allowed.
    extra: dotted path -> more ``add_argument`` keywords (nargs, const, metavar).
    groups: first path component -> help group title (default: the first group).
    """

    cls: type
    dest: str
    spellings: Mapping[str, str] = field(default_factory=dict)
    prefixes: Mapping[str, str] = field(default_factory=dict)
    parsers: Mapping[str, Callable[[str], Any]] = field(default_factory=dict)
    skip: frozenset[str] = frozenset()
    choices: Mapping[str, tuple] = field(default_factory=dict)
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Leaf:
    path: str
    type: Any
    default: Any
    help: str


def _leaves(cls: type, spec: ConfigOptions, prefix: str = "") -> Iterator[_Leaf]:
    hints = get_type_hints(cls)
    docs = field_docs(cls)
    for f in fields(cls):
        path = prefix + f.name
        if path in spec.skip:
            continue
        tp = leaf_type(hints[f.name])
        if is_dataclass(tp) and path not in spec.parsers:
            yield from _leaves(tp, spec, path + ".")
            continue
        if f.name not in docs:
            raise TypeError(f"{cls.__name__}.{f.name} has no documented line for its --help")
        yield _Leaf(path, tp, field_default(cls, f.name), docs[f.name])


def _flag(leaf: _Leaf, spec: ConfigOptions) -> str:
    if leaf.path in spec.spellings:
        return spec.spellings[leaf.path]
    head, _, name = leaf.path.rpartition(".")
    return spec.prefixes.get(head, "--") + name.replace("_", "-")


def options_of(spec: ConfigOptions) -> dict[str, list[_Leaf]]:
    """flag -> the fields it sets, in field order."""
    by_flag: dict[str, list[_Leaf]] = {}
    for leaf in _leaves(spec.cls, spec):
        by_flag.setdefault(_flag(leaf, spec), []).append(leaf)
    return by_flag


def _dest(spec: ConfigOptions, flag: str) -> str:
    return f"{spec.dest}:{flag.lstrip('-')}"


def _reader(parse: Callable[[str], Any], name: str) -> Callable[[str], Any]:
    # argparse turns an ArgumentTypeError into "argument --x: <message>": the parser's own
    # words reach the user instead of "invalid value".
    def read(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    read.__name__ = name
    return read


def _items(kind: type) -> Callable[[str], tuple]:
    return lambda text: tuple(kind(t.strip()) for t in text.split(",") if t.strip())


def _shown(default: Any) -> str:
    if isinstance(default, tuple):
        return ",".join(str(v) for v in default)
    return str(default)


def _keywords(leaf: _Leaf, spec: ConfigOptions) -> dict[str, Any]:
    """``add_argument`` keywords for a field: how its text is read, and its help."""
    words: dict[str, Any] = {"default": NOT_GIVEN}
    shown = not (leaf.default is None or leaf.default is False or leaf.default == ())
    shown = shown and not is_dataclass(leaf.default)
    if leaf.path in spec.parsers:
        words["type"] = _reader(spec.parsers[leaf.path], leaf.path.rpartition(".")[2])
    elif leaf.type is bool:
        words["action"] = argparse.BooleanOptionalAction if leaf.default else "store_true"
        shown = False
    elif leaf.type in (int, float, str):
        words["type"] = leaf.type
    elif get_origin(leaf.type) is tuple and get_args(leaf.type)[1:] == (Ellipsis,):
        words["type"] = _reader(_items(get_args(leaf.type)[0]), "list")
    else:
        raise TypeError(f"no option type for {leaf.path} ({leaf.type}): give it a parser")
    if leaf.path in spec.choices:
        words["choices"] = spec.choices[leaf.path]
    words.update(spec.extra.get(leaf.path, {}))
    text = leaf.help.rstrip(".").replace("%", "%%")
    words["help"] = f"{text} (default: {_shown(leaf.default)})" if shown else text
    return words


def add_config_options(
    parser: argparse.ArgumentParser, spec: ConfigOptions, required: tuple[str, ...] = ()
) -> None:
    """One option per field of ``spec.cls`` (see :class:`ConfigOptions`), in help groups."""
    groups: dict[str, argparse._ArgumentGroup] = {}
    first = next(iter(spec.groups.values()), None)
    for flag, leaves in options_of(spec).items():
        title = spec.groups.get(leaves[0].path.split(".")[0], first)
        if title is None:
            target = parser
        else:
            target = groups.get(title) or groups.setdefault(title, parser.add_argument_group(title))
        # One flag for several fields (--seed) reads as the first field, with every help.
        joined = "; ".join(leaf.help.rstrip(".") for leaf in leaves)
        words = _keywords(replace(leaves[0], help=joined), spec)
        words.setdefault("metavar", flag.lstrip("-").upper().replace("-", "_"))
        if "action" in words or "choices" in words:
            del words["metavar"]
        target.add_argument(flag, dest=_dest(spec, flag), required=flag in required, **words)


def given(args: argparse.Namespace, spec: ConfigOptions) -> dict[str, Any]:
    """The options of ``spec`` given on the command line, as a nested dict of fields."""
    values: dict[str, Any] = {}
    for flag, leaves in options_of(spec).items():
        dest = _dest(spec, flag)
        if hasattr(args, dest):
            for leaf in leaves:
                set_path(values, leaf.path, getattr(args, dest))
    return values


def given_flags(args: argparse.Namespace, spec: ConfigOptions) -> list[str]:
    """The flags of ``spec`` given on the command line, in field order."""
    return [flag for flag in options_of(spec) if hasattr(args, _dest(spec, flag))]


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """``values[a][b] = value`` for ``path`` ``a.b``, making the inner dicts."""
    *heads, last = path.split(".")
    for head in heads:
        values = values.setdefault(head, {})
    values[last] = value


def merged(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over``'s values put in, nested dicts merged key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


def build_config(
    spec: ConfigOptions, args: argparse.Namespace, base: Mapping[str, Any] | None = None
) -> Any:
    """``spec.cls`` from the dataclass defaults, then ``base`` (a run file's section), then
    the options given on the command line."""
    return from_dict(spec.cls, merged(base or {}, given(args, spec)))

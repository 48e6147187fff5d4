"""Config dataclasses as data: documented fields, and from_dict over nested configs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from lmrec.config import ConfigError, field_default, field_docs, from_dict, to_dict


@dataclass(frozen=True)
class Inner:
    """inner settings.

    rate: how fast, in ``steps``; see
        :func:`somewhere.else` for more.
    names: what to call things.
    """

    rate: float = 0.5
    names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    """outer: a line that is not a field block: ignored.

    size: how many.
    inner: nested settings.
    maybe: an optional nested config.
    pairs: (name, weight) pairs.
    """

    size: int = 3
    inner: Inner = field(default_factory=Inner)
    maybe: Inner | None = None
    pairs: tuple[tuple[str, float], ...] = ()
    undocumented: str = "x"


def test_field_docs_reads_name_text_blocks_and_drops_markup():
    assert field_docs(Inner) == {
        "rate": "how fast, in steps; see somewhere.else for more.",
        "names": "what to call things.",
    }
    assert field_docs(Outer) == {
        "size": "how many.",
        "inner": "nested settings.",
        "maybe": "an optional nested config.",
        "pairs": "(name, weight) pairs.",
    }


def test_from_dict_recurses_into_nested_and_optional_configs():
    config = Outer(
        size=4, inner=Inner(1.5, ("a",)), maybe=Inner(names=("b", "c")), pairs=(("v", 2.0),)
    )
    data = json.loads(json.dumps(to_dict(config)))  # lists, as JSON gives them back
    assert from_dict(Outer, data) == config
    assert from_dict(Outer, {}) == Outer()
    assert from_dict(Outer, {"maybe": None, "inner": {"rate": 2}}).inner.rate == 2.0


def test_an_unknown_key_is_refused_with_its_path():
    with pytest.raises(
        ConfigError, match=r"unknown key 'inner\.speed' in Inner \(known: names, rate\)"
    ):
        from_dict(Outer, {"inner": {"speed": 1}})
    with pytest.raises(ConfigError, match="unknown key 'colour' in Outer"):
        from_dict(Outer, {"colour": "red"})
    with pytest.raises(ConfigError, match="inner must be a table, not 3"):
        from_dict(Outer, {"inner": 3})


def test_field_default_calls_factories():
    assert field_default(Outer, "size") == 3
    assert field_default(Outer, "inner") == Inner()

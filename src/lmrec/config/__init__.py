"""What every stage's config dataclass shares: help text read from the class docstring's
``name: text`` blocks, and a config built from a plain (JSON/TOML) dict, nested configs
included. Imports nothing of lmrec, so any stage may use it; only the CLI reads files."""

from lmrec.config.fields import (
    ConfigError,
    field_default,
    field_docs,
    from_dict,
    leaf_type,
    to_dict,
)

__all__ = ["ConfigError", "field_default", "field_docs", "from_dict", "leaf_type", "to_dict"]

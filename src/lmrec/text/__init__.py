"""Text utilities for names in any language: normalisation for matching, list parsing, and the
item-text encoders (lmrec.text.encoders)."""

from lmrec.text.arabic import has_arabic, normalize_arabic, normalize_name
from lmrec.text.encoders import ItemTextConfig, ItemTextEmbeddings, embed_catalog
from lmrec.text.names import (
    DEFAULT_CUTOFF,
    MatchResult,
    PieceMatch,
    catalog_names,
    match_names,
    parse_item_list,
)

__all__ = [
    "DEFAULT_CUTOFF",
    "ItemTextConfig",
    "ItemTextEmbeddings",
    "MatchResult",
    "PieceMatch",
    "catalog_names",
    "embed_catalog",
    "has_arabic",
    "match_names",
    "normalize_arabic",
    "normalize_name",
    "parse_item_list",
]

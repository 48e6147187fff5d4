"""Text utilities for names in any language: normalisation for matching, and list parsing."""

from lmrec.text.arabic import has_arabic, normalize_arabic, normalize_name
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
    "MatchResult",
    "PieceMatch",
    "catalog_names",
    "has_arabic",
    "match_names",
    "normalize_arabic",
    "normalize_name",
    "parse_item_list",
]

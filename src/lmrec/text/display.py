"""Text made safe to print on a terminal: names come from data files and clients, and a raw
newline forges a table row, U+202E reverses the rest of the line, an escape sequence recolours
or moves the cursor, and a 10,000-character name buries the table.

Only for text output: JSON output keeps the names exactly as stored.
"""

from __future__ import annotations

import unicodedata

__all__ = ["DEFAULT_DISPLAY_WIDTH", "ELLIPSIS", "for_terminal"]

DEFAULT_DISPLAY_WIDTH = 80
ELLIPSIS = "…"

# Bidirectional embeddings, overrides and isolates, and the implicit marks: each changes how
# the characters after it are laid out, so a name could make its row read as something else.
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escaped(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _unsafe(char: str) -> bool:
    # Cc: C0/C1 controls (newline, ESC, NUL, ...); Cs: lone surrogates; Cf other than the
    # joiners some scripts need (ZWJ, ZWNJ): zero-width and bidi format characters.
    category = unicodedata.category(char)
    if category in ("Cc", "Cs") or char in _BIDI_CONTROLS:
        return True
    return category == "Cf" and char not in ("\u200c", "\u200d")


def for_terminal(text: str, width: int | None = DEFAULT_DISPLAY_WIDTH) -> str:
    """``text`` with control, bidi and zero-width characters escaped (``\\n``, ``\\u202e``),
    cut to ``width`` characters with an ellipsis (None: not cut). Letters of every script,
    Arabic included, pass through unchanged."""
    safe = "".join(_escaped(c) if _unsafe(c) else c for c in text)
    if width is not None and len(safe) > width:
        return safe[: max(width - 1, 0)] + ELLIPSIS
    return safe

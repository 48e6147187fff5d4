"""Normalising Arabic (and mixed-script) text so that names can be matched.

Arabic writes the same word in several ways: the hamza may or may not be written on an alef,
a final taa marbuta may be typed as haa, diacritics are optional, a tatweel stretches a word for
looks, and digits come in three alphabets. Two names that a reader sees as the same must compare
equal, so matching goes through :func:`normalize_name`. The result is a matching key only: it is
never shown to a user (display always keeps the original text).
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["has_arabic", "normalize_arabic", "normalize_name"]

_ALEF = "\u0627"
_WAW = "\u0648"
_YAA = "\u064a"
_HAA = "\u0647"

# One translation table for every single-character rule, so normalising is one pass.
_CHAR_MAP: dict[int, str] = {
    # Alef with hamza above/below, with madda, wasla, wavy hamza above/below, high hamza alef.
    **{ord(c): _ALEF for c in "\u0623\u0625\u0622\u0671\u0672\u0673\u0675"},
    # Hamza on a waw / yaa carrier is folded into the plain carrier letter (the "light"
    # normalisation of Arabic search engines, e.g. Larkey et al.'s light10): spellers disagree
    # on the carrier far more often than two different item names differ only in it. The
    # standalone hamza (U+0621) is kept: dropping it would merge words such as "جزء"/"جز".
    ord("\u0624"): _WAW,
    ord("\u0626"): _YAA,
    ord("\u0629"): _HAA,  # taa marbuta, often typed as haa
    ord("\u0649"): _YAA,  # alef maqsura, often typed as (dotless) yaa
    ord("\u06cc"): _YAA,  # Farsi yeh, what Persian keyboards type for yaa
    ord("\u06a9"): "\u0643",  # keheh, what Persian keyboards type for kaf
    ord("\u060c"): ",",  # Arabic comma
    ord("\u061b"): ";",  # Arabic semicolon
    ord("\u061f"): "?",  # Arabic question mark
    **{0x0660 + d: str(d) for d in range(10)},  # Arabic-Indic digits
    **{0x06F0 + d: str(d) for d in range(10)},  # Extended Arabic-Indic (Persian/Urdu) digits
}

# Characters deleted outright: tatweel, harakat and other combining marks, Quranic annotation
# signs, and the invisible joiners / direction marks that copy-pasted Arabic text carries.
_DELETED = (
    "\u0640"  # tatweel
    "\u064b-\u065f"  # harakat (fathatan .. sukun, U+064B-U+0652) and further combining marks
    "\u0670"  # superscript (dagger) alef
    "\u0610-\u061a"  # Quranic signs above/below letters
    "\u06d6-\u06dc\u06df-\u06e8\u06ea-\u06ed"  # Quranic annotation marks
    "\u061c\u200c-\u200f\u202a-\u202e\u2066-\u2069\ufeff"  # ALM, ZWNJ/ZWJ, bidi controls, BOM
)
_DELETED_RE = re.compile(f"[{_DELETED}]")
_ARABIC_RE = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def has_arabic(text: str) -> bool:
    """Whether ``text`` contains a character of the Arabic script (any Arabic Unicode block)."""
    return _ARABIC_RE.search(text) is not None


def _collapse_spaces(text: str) -> str:
    return " ".join(text.split())


def normalize_arabic(text: str) -> str:
    """A matching key for Arabic (or mixed Arabic/Latin) text.

    Rules, in order:

    - delete tatweel, diacritics (harakat U+064B-U+0652 and the other combining marks up to
      U+065F, superscript alef U+0670, Quranic marks) and invisible joiners / bidi marks;
    - alef variants أ إ آ ٱ (and the rarer wavy-hamza forms) become ا;
    - hamza on a carrier: ؤ becomes و and ئ becomes ي (the standalone ء is kept);
    - taa marbuta ة becomes ه; alef maqsura ى (and Farsi yeh ی) becomes ي; keheh ک becomes ك;
    - Arabic-Indic digits ٠-٩ and Extended Arabic-Indic ۰-۹ become 0-9;
    - the Arabic comma ، semicolon ؛ and question mark ؟ become , ; ?;
    - Latin letters are casefolded, and runs of whitespace become one space (trimmed).

    It is idempotent: ``normalize_arabic(normalize_arabic(t)) == normalize_arabic(t)``.
    """
    text = _DELETED_RE.sub("", text)
    return _collapse_spaces(text.translate(_CHAR_MAP).casefold())


def normalize_name(text: str, language: str | None = None) -> str:
    """A matching key for an item name in any language: NFKC, casefold, Arabic rules, spaces.

    NFKC first folds compatibility forms (full-width Latin, ligatures, Arabic presentation
    forms such as ﻻ) into plain letters; then the text is casefolded, and where any Arabic-script
    character occurs the rules of :func:`normalize_arabic` apply. The rules are keyed on the
    script, not on ``language``: they only rewrite Arabic-block characters, so they are safe for
    a name in any language that uses the script (Arabic, Persian, Urdu). ``language`` is
    accepted so that call sites can pass what they know; no rule depends on it yet.
    """
    del language  # reserved for language-specific rules; see the docstring
    text = unicodedata.normalize("NFKC", text).casefold()
    if has_arabic(text):
        return normalize_arabic(text)
    return _collapse_spaces(text)

"""Names printed on a terminal: escaped, cut, and otherwise untouched."""

from __future__ import annotations

from lmrec.text.display import ELLIPSIS, for_terminal


def test_plain_names_in_any_script_are_unchanged() -> None:
    for name in ("Football", "كرة قدم", "Ballon de football – taille 5", "サッカーボール"):
        assert for_terminal(name) == name


def test_a_newline_cannot_forge_a_row() -> None:
    assert for_terminal("Ball\n  2. FAKE-01  Free gift") == "Ball\\n  2. FAKE-01  Free gift"
    assert for_terminal("a\r\tb") == "a\\r\\tb"


def test_bidi_overrides_and_zero_width_characters_are_escaped() -> None:
    assert for_terminal("abc\u202edcb") == "abc\\u202edcb"
    assert for_terminal("ad\u2067min\u2069") == "ad\\u2067min\\u2069"
    assert for_terminal("zero\u200bwidth\ufeff") == "zero\\u200bwidth\\ufeff"


def test_joiners_that_scripts_need_are_kept() -> None:
    assert for_terminal("می\u200cخواهم") == "می\u200cخواهم"


def test_escape_sequences_and_nul_are_escaped() -> None:
    assert for_terminal("\x1b[2J\x1b[31mred\x00") == "\\x1b[2J\\x1b[31mred\\x00"
    assert for_terminal("c1\x9b") == "c1\\x9b"


def test_long_names_are_cut_with_an_ellipsis() -> None:
    cut = for_terminal("x" * 10_000)
    assert cut == "x" * 79 + ELLIPSIS and len(cut) == 80
    assert for_terminal("abcdef", width=4) == "abc" + ELLIPSIS
    assert for_terminal("abcd", width=4) == "abcd"
    assert for_terminal("x" * 10_000, width=None) == "x" * 10_000


def test_the_cut_counts_the_escapes() -> None:
    assert for_terminal("\n" * 5, width=6) == "\\n\\n\\" + ELLIPSIS

"""Splitting written item lists (commas, Arabic comma, joined "و") and matching them by name."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lmrec.data.sportshop import load_catalog
from lmrec.text.names import catalog_names, match_names, parse_item_list

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
ARABIC_CSV = DATA / "sports_equipment_t5p5" / "T5P5_training_data_Arabic.csv"
needs_data = pytest.mark.skipif(
    not ARABIC_CSV.is_file(), reason=f"shared data not found at {ARABIC_CSV}"
)

# Rows of the shared Arabic file (by line number, the header being line 1) that mix "،" with a
# joined "و", and the items a reader sees in them (checked against the aligned English row).
TRICKY_ROWS = {
    # five items joined by "و" only
    3: [
        "قميص كرة السلة",
        "كرة السلة",
        "أحذية كرة السلة",
        "أكمام ذراع كرة السلة",
        "أطفو كرة السلة",
    ],
    # "وسادات" (pads) begins with و but is one word: no split
    13: ["حراس كرة القدم", "وسادات كتف كرة القدم"],
    # "، و" conjunctions after commas, next to the item "وسادات الهوكي"
    41: ["قميص الهوكي", "قرص الهوكي", "وسادات الهوكي", "زلاجات الهوكي", "عصا الهوكي"],
    42: ["قميص الهوكي", "وسادات الهوكي", "خوذة الهوكي", "زلاجات الهوكي", "عصا الهوكي"],
    73: ["قميص كرة السلة", "كرة السلة", "طوق كرة السلة", "أكمام ذراع كرة السلة"],
    # "والبيسبول" is "and" + "البيسبول" (a whole item), three times
    82: ["قميص البيسبول", "البيسبول", "مضرب البيسبول", "البيسبول كاب"],
    121: ["قميص كرة السلة", "أكمام ذراع كرة السلة", "أحذية كرة السلة"],
}


def _arabic_rows() -> list[tuple[str, str]]:
    with ARABIC_CSV.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return [(text, output) for text, output in rows[1:]]


@needs_data
@pytest.mark.parametrize("line", sorted(TRICKY_ROWS))
def test_tricky_rows_of_the_arabic_file(line: int) -> None:
    rows = _arabic_rows()
    text = rows[line - 2][0]
    outputs = {output: output for _, output in rows}
    assert parse_item_list(text) == TRICKY_ROWS[line]
    assert parse_item_list(text, outputs) == TRICKY_ROWS[line]
    assert parse_item_list(text, outputs, language="ar") == TRICKY_ROWS[line]


@needs_data
def test_latin_and_arabic_commas_mixed_in_one_list() -> None:
    # The file itself has no Latin comma inside a list, so one row is rewritten to mix all three.
    text = _arabic_rows()[42 - 2][0].replace(" ، وخوذة", ", وخوذة").replace(" ، وعصا", ",عصا")
    assert "," in text and "،" in text
    assert parse_item_list(text) == TRICKY_ROWS[42]


def test_separators() -> None:
    assert parse_item_list("Soccer Ball, Soccer Cleats,Shin Guards") == [
        "Soccer Ball",
        "Soccer Cleats",
        "Shin Guards",
    ]
    assert parse_item_list("كرة قدم،مضرب تنس ، خوذة , قفاز") == [
        "كرة قدم",
        "مضرب تنس",
        "خوذة",
        "قفاز",
    ]
    assert parse_item_list("كرة قدم و مضرب تنس") == ["كرة قدم", "مضرب تنس"]  # free-standing و
    assert parse_item_list(" ،, ، ") == []
    assert parse_item_list("") == []


def test_diacritics_on_the_conjunction_are_dropped_with_it() -> None:
    assert parse_item_list("كرة قدم وَمضرب تنس") == ["كرة قدم", "مضرب تنس"]
    assert parse_item_list("كرة قدم وَ مضرب تنس") == ["كرة قدم", "مضرب تنس"]


def test_pieces_keep_their_spelling() -> None:
    assert parse_item_list("كُرَة  قدم ، أحذيـة تنس") == ["كُرَة قدم", "أحذيـة تنس"]


def test_a_waw_initial_item_is_not_split_when_the_catalogue_knows_it() -> None:
    # "ونش" (winch) is not in the built-in word list: the heuristic alone splits it...
    assert parse_item_list("حبل قفز ونش سحب") == ["حبل قفز", "نش سحب"]
    catalog = {"حبل قفز": "rope", "ونش سحب": "winch"}
    # ...the catalogue keeps it whole, mid-list, first in a list, and alone.
    assert parse_item_list("حبل قفز ونش سحب", catalog) == ["حبل قفز", "ونش سحب"]
    assert parse_item_list("ونش سحب وحبل قفز", catalog) == ["ونش سحب", "حبل قفز"]
    assert parse_item_list("ونش سحب", catalog) == ["ونش سحب"]
    # A catalogue word is a word: "ونش" stays whole in a name the catalogue does not hold.
    assert parse_item_list("ونش كبير", catalog) == ["ونش كبير"]


def test_common_waw_initial_words_are_not_split_without_a_catalogue() -> None:
    assert parse_item_list("وسادة تأمل ، واقي الساق") == ["وسادة تأمل", "واقي الساق"]
    assert parse_item_list("قميص ووسادة") == ["قميص", "وسادة"]  # "and" + "وسادة"


def test_an_item_without_a_conjunction_before_it_is_found_by_its_name() -> None:
    catalog = {"قميص الهوكي": "jersey", "وسادات الهوكي": "pads"}
    assert parse_item_list("قميص الهوكي وسادات الهوكي", catalog) == [
        "قميص الهوكي",
        "وسادات الهوكي",
    ]


def test_a_known_name_containing_and_stays_whole() -> None:
    catalog = {"مضرب": "racket", "كرة تنس": "ball", "مضرب وكرة تنس": "set"}
    assert parse_item_list("مضرب وكرة تنس", catalog) == ["مضرب وكرة تنس"]
    assert parse_item_list("مضرب وكرة تنس") == ["مضرب", "كرة تنس"]


def test_catalogue_matching_is_through_normalised_names() -> None:
    catalog = {"كرة السلة": "b", "قميص كرة السلة": "j"}
    assert parse_item_list("قميص كرة السله وكره السلة", catalog) == [
        "قميص كرة السله",
        "كره السلة",
    ]


def test_other_languages_do_not_split_a_joined_waw() -> None:
    # Persian: "ورزشی" (sporty) begins with و; only a free-standing و separates.
    assert parse_item_list("کفش ورزشی", language="fa") == ["کفش ورزشی"]
    assert parse_item_list("کفش و توپ", language="fa") == ["کفش", "توپ"]
    assert parse_item_list("کفش ورزشی", language="ar") == ["کفش", "رزشی"]


@pytest.mark.parametrize("language", ["ar", "en"])
def test_builtin_catalogue_names_round_trip(language: str) -> None:
    names = catalog_names(load_catalog(), language)
    assert len(names) == 72
    ordered = list(names)
    separator = "، " if language == "ar" else ", "
    assert parse_item_list(separator.join(ordered), names) == ordered
    result = match_names(parse_item_list(separator.join(ordered), names), names)
    assert list(result.ids) == list(names.values())
    assert result.n_exact == 72


def test_builtin_arabic_names_round_trip_joined_by_waw() -> None:
    names = catalog_names(load_catalog(), "ar")
    ordered = list(names)
    assert parse_item_list(" و".join(ordered), names) == ordered


def test_match_names_exact_fuzzy_and_unmatched() -> None:
    catalog = {"Hockey Puck": "puck", "كرة سلة": "ball", "الهوكي قميص": "jersey"}
    result = match_names(
        ["hockey  puck", "Hocket Puck", "كرة السلة", "قميص الهوكي", "Tennis Net"], catalog
    )
    assert result.ids == ("puck", "puck", "ball", "jersey", None)
    assert [m.method for m in result.matches] == ["exact", "fuzzy", "fuzzy", "fuzzy", "none"]
    assert result.matches[1].score == pytest.approx(20 / 22)
    assert result.matches[1].name == "Hockey Puck"
    assert result.unmatched == ("Tennis Net",)
    assert (result.n_exact, result.n_fuzzy) == (1, 3)
    assert result.match_rate == pytest.approx(0.8)


def test_match_names_cutoff_and_ties() -> None:
    catalog = {"Ball A": "a", "Ball B": "b"}
    tied = match_names(["Ball C"], catalog, cutoff=0.5)
    assert tied.ids == (None,)  # equally close to two items: not guessed
    assert match_names(["Ball A"], catalog).ids == ("a",)
    assert match_names(["Hocket Puck"], {"Hockey Puck": "p"}, cutoff=0.95).ids == (None,)
    with pytest.raises(ValueError, match="cutoff"):
        match_names(["x"], catalog, cutoff=1.5)


def test_match_names_on_nothing() -> None:
    assert match_names([], {"a": "a"}).match_rate == 1.0
    empty = match_names(["a"], {})
    assert empty.ids == (None,)
    assert empty.match_rate == 0.0

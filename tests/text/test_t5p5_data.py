"""The shared English/Arabic sports set parsed into items: catalogues, match rates, alignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmrec.data.t5p5 import ARABIC_NAMES, T5P5Data, arabic_by_hand, build_name_catalog, load_t5p5
from lmrec.text.arabic import normalize_name

T5P5_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sports_equipment_t5p5"


@pytest.fixture(scope="module")
def data() -> T5P5Data:
    if not (T5P5_DIR / "T5P5_training_data_Arabic.csv").is_file():
        pytest.skip(f"shared data not found at {T5P5_DIR}")
    return load_t5p5(T5P5_DIR)


def test_rows_and_catalogues(data: T5P5Data) -> None:
    english, arabic = data.languages["en"], data.languages["ar"]
    assert len(english.rows) == len(arabic.rows) == 121
    # The 35 English outputs; "Hocket Puck" (9 rows) is a typo of one of them, not an item.
    assert len(english.catalog_names) == 35
    assert "Hocket Puck" not in english.catalog_names
    # The 33 Arabic outputs plus five frequent input names none of them matches.
    assert len(arabic.catalog_names) == 38
    assert list(arabic.catalog_names)[33:] == [
        "كرة كرة القدم",
        "مرمى كرة القدم",
        "أكمام ذراع كرة السلة",
        "وسادات كتف كرة القدم",
        "جبل ذراع كرة السلة",
    ]
    first = arabic.rows[0]
    assert first.next_item == first.next_id == "حراس كرة القدم"
    assert arabic.rows[1].history[0] == "قميص كرة السلة"


def test_every_row_parses_to_as_many_items_as_its_english_twin(data: T5P5Data) -> None:
    assert data.aligned_rows == 121
    english, arabic = data.languages["en"], data.languages["ar"]
    assert sum(len(row.history) for row in arabic.rows) == 478
    assert [len(r.history) for r in arabic.rows] == [len(r.history) for r in english.rows]


def test_match_rates(data: T5P5Data) -> None:
    english, arabic = data.languages["en"].match, data.languages["ar"].match
    assert (english.n_exact, english.n_fuzzy, len(english.matches)) == (469, 9, 478)
    assert data.languages["en"].match_rate == 1.0
    assert (arabic.n_exact, arabic.n_fuzzy, len(arabic.matches)) == (325, 142, 478)
    assert data.languages["ar"].match_rate == pytest.approx(467 / 478)
    assert sorted(set(arabic.unmatched)) == [
        "أطفو كرة السلة",  # "float": a mistranslated hoop
        "البيسبول كاب",
        "تزلج الهوكي",
        "خفافيش البيسبول",  # "bats", the animal
        "سروال كرة السلة",
        "طوق كرة السلة",
        "منصات الهوكي",
    ]


def test_arabic_items_align_with_english_ones(data: T5P5Data) -> None:
    assert data.alignment["وسادات الهوكي"] == "Hockey Pads"
    assert data.alignment["وسادات كتف كرة القدم"] == "Football Shoulder Pads"
    assert data.alignment["البيسبول"] == "Baseball"
    assert data.alignment["كرة كرة القدم"] == "Soccer Ball"
    # Three Arabic spellings of one English item.
    sleeves = [a for a, e in data.alignment.items() if e == "Basketball Arm Sleeve"]
    assert sorted(sleeves) == ["أكمام ذراع كرة السلة", "جبل ذراع كرة السلة", "دقة ذراع كرة السلة"]


def test_item_groups_join_what_the_translation_merged_or_split(data: T5P5Data) -> None:
    groups = {}
    for language in ("ar", "en"):
        members: dict[str, list[str]] = {}
        for item, label in data.item_groups[language].items():
            members.setdefault(label, []).append(item)
        assert set(data.item_groups[language]) == set(
            data.languages[language].catalog_names.values()
        )
        groups[language] = {label: sorted(m) for label, m in members.items() if len(m) > 1}
        assert len(members) == 31  # 35 English items, 38 Arabic ones
    # Arabic كرة القدم is both soccer and football: four English pairs share Arabic names.
    assert groups["en"] == {
        "Basketball / Basketball Hoop": ["Basketball", "Basketball Hoop"],
        "Football / Soccer Ball": ["Football", "Soccer Ball"],
        "Football Cleats / Soccer Cleats": ["Football Cleats", "Soccer Cleats"],
        "Football Jersey / Soccer Jersey": ["Football Jersey", "Soccer Jersey"],
    }
    # And six groups have two or three Arabic names.
    assert groups["ar"] == {
        "Basketball / Basketball Hoop": ["كرة السلة هوب", "كرة سلة"],
        "Basketball Arm Sleeve": [
            "أكمام ذراع كرة السلة",
            "جبل ذراع كرة السلة",
            "دقة ذراع كرة السلة",
        ],
        "Football / Soccer Ball": ["كرة القدم", "كرة كرة القدم"],
        "Football Jersey / Soccer Jersey": ["قميص لكرة القدم", "كرة قدم قميص"],
        "Football Shoulder Pads": ["منصات الكتف كرة القدم", "وسادات كتف كرة القدم"],
        "Soccer Goal Post": ["مرمى كرة القدم", "هدف كرة القدم"],
    }
    assert data.item_groups["ar"]["مرابط كرة القدم"] == "Football Cleats / Soccer Cleats"
    assert data.item_groups["en"]["Hockey Pads"] == data.item_groups["ar"]["وسادات الهوكي"]


def test_build_name_catalog_needs_a_piece_in_enough_rows() -> None:
    rows = [("أ ، بب وجج", "دد"), ("بب ، جج", "دد"), ("جج", "هه")]
    assert list(build_name_catalog(rows, min_rows=2)) == ["دد", "هه", "بب", "جج"]
    assert list(build_name_catalog(rows, min_rows=3)) == ["دد", "هه", "جج"]


def test_arabic_by_hand_renames_the_english_rows_and_nothing_else(data: T5P5Data) -> None:
    english = data.languages["en"]
    arabic = arabic_by_hand(english)
    assert arabic.language == "ar"
    # One distinct name per English item, distinct after normalisation too.
    assert sorted(arabic.catalog_names) == sorted(ARABIC_NAMES.values())
    assert len({normalize_name(n, "ar") for n in ARABIC_NAMES.values()}) == 35
    assert (arabic.match.n_exact, len(arabic.match.matches)) == (478, 478)
    assert [len(r.history) for r in arabic.rows] == [len(r.history) for r in english.rows]
    # Row 7 of the file (row 5 here) is "Hockey Jersey, Hocket Puck, ...": the typo maps to
    # the puck's name, not to a name of its own.
    assert english.rows[5].history[1] == "Hocket Puck"
    assert arabic.rows[5].history[:2] == ("قميص الهوكي", "قرص الهوكي")
    assert arabic.rows[5].next_id == "واقيات الهوكي"
    # Soccer and (American) football items keep apart, unlike the file's translation.
    assert ARABIC_NAMES["Soccer Jersey"] != ARABIC_NAMES["Football Jersey"]
    first = arabic.rows[0]
    assert first.history_ids == (
        "قميص كرة القدم",
        "كرة القدم",
        "حذاء كرة القدم",
        "قفازات حارس المرمى",
        "مرمى كرة القدم",
        "أقماع كرة القدم",
    )
    assert first.next_id == first.next_item == "واقي ساق كرة القدم"


def test_arabic_by_hand_refuses_a_missing_or_shared_name(data: T5P5Data) -> None:
    english = data.languages["en"]
    with pytest.raises(ValueError, match=r"no Arabic name for the English items \['Tennis Ball'\]"):
        arabic_by_hand(english, {k: v for k, v in ARABIC_NAMES.items() if k != "Tennis Ball"})
    with pytest.raises(ValueError, match="two English items have the same Arabic name"):
        arabic_by_hand(english, {**ARABIC_NAMES, "Football": ARABIC_NAMES["Soccer Ball"]})

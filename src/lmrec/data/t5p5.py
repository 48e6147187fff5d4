"""The small English/Arabic sports-equipment set of the T5-P5 repository, parsed into items.

Each file row is a purchased-item list (``Input``) and the next purchase (``Output``); the two
files are aligned row by row, the Arabic one a machine translation of the English one. Neither
file has item ids, so each language gets a catalogue of *names* built from its own file, and the
item id of a name is its first-seen spelling.

How a language's catalogue is built (no name is written by hand, nothing comes from the other
language, and the English alignment is only used afterwards, to map Arabic ids to English ones):

1. every distinct ``Output`` is a name (the targets are single items, so they need no parsing);
2. every ``Input`` is split with :func:`~lmrec.text.names.parse_item_list` against the Outputs;
3. a piece written the same way (after normalisation) in at least ``min_rows`` rows is a name
   too, unless it already matches a name (exactly or fuzzily, :func:`~lmrec.text.names.
   match_names`): then it is a spelling variant of that name ("Hocket Puck"), not a new item;
4. the Inputs are split again against this catalogue and matched to it.

The match rate this gives is a self-consistency check of the parser (the catalogue comes from the
same file), not a held-out score; :attr:`T5P5Data.aligned_rows` — the rows whose Arabic and English
lists have the same length — is the check that does not depend on the catalogue.

Apart from the file's own translation, :data:`ARABIC_NAMES` names the 35 English items in Arabic
written by hand, one distinct name each, and :func:`arabic_by_hand` renders the English rows with
them: the same interactions in both languages, so that a comparison of the two measures the
language and not the machine translation, which merges items and splits others.
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from lmrec.data.schema import Catalog, Interaction, Item
from lmrec.data.split import Split
from lmrec.text.arabic import has_arabic, normalize_name
from lmrec.text.names import MatchResult, match_names, parse_item_list

__all__ = [
    "ARABIC_NAMES",
    "T5P5Data",
    "T5P5Language",
    "T5P5Row",
    "arabic_by_hand",
    "build_name_catalog",
    "load_t5p5",
    "names_split",
    "read_names_csv",
]

_FILES = {"en": "T5P5_training_data_English.csv", "ar": "T5P5_training_data_Arabic.csv"}

ARABIC_NAMES: Mapping[str, str] = {
    "Soccer Ball": "كرة القدم",
    "Soccer Jersey": "قميص كرة القدم",
    "Soccer Shorts": "شورت كرة القدم",
    "Soccer Cleats": "حذاء كرة القدم",
    "Soccer Shin Guards": "واقي ساق كرة القدم",
    "Soccer Cones": "أقماع كرة القدم",
    "Soccer Goal Post": "مرمى كرة القدم",
    "Goalie Gloves": "قفازات حارس المرمى",
    "Basketball": "كرة السلة",
    "Basketball Jersey": "قميص كرة السلة",
    "Basketball Shorts": "شورت كرة السلة",
    "Basketball Shoes": "حذاء كرة السلة",
    "Basketball Hoop": "حلقة كرة السلة",
    "Basketball Arm Sleeve": "كم ذراع كرة السلة",
    "Football": "كرة القدم الأمريكية",
    "Football Jersey": "قميص كرة القدم الأمريكية",
    "Football Helmet": "خوذة كرة القدم الأمريكية",
    "Football Cleats": "حذاء كرة القدم الأمريكية",
    "Football Shoulder Pads": "واقيات أكتاف كرة القدم الأمريكية",
    "Baseball": "كرة البيسبول",
    "Baseball Jersey": "قميص البيسبول",
    "Baseball Cap": "قبعة البيسبول",
    "Baseball Cleats": "حذاء البيسبول",
    "Baseball Glove": "قفاز البيسبول",
    "Baseball Bat": "مضرب البيسبول",
    "Tennis Ball": "كرة التنس",
    "Tennis Shirt": "قميص التنس",
    "Tennis Shoes": "حذاء التنس",
    "Tennis Racket": "مضرب التنس",
    "Hockey Puck": "قرص الهوكي",
    "Hockey Jersey": "قميص الهوكي",
    "Hockey Skates": "زلاجات الهوكي",
    "Hockey Helmet": "خوذة الهوكي",
    "Hockey Pads": "واقيات الهوكي",
    "Hockey Stick": "عصا الهوكي",
}
"""Each English T5-P5 item's Arabic name, written by hand in Modern Standard Arabic (not taken
from the Arabic file): one name per item, the sport last as in an Arabic construct phrase, and
American football named as such (كرة القدم الأمريكية), so no two items share a name."""


@dataclass(frozen=True, slots=True)
class T5P5Row:
    """One row: the purchased items as written, their ids, and the next item."""

    history: tuple[str, ...]
    history_ids: tuple[str | None, ...]
    """Each history piece's item id (None where no catalogue name matched)."""
    next_item: str
    next_id: str


@dataclass(frozen=True, slots=True)
class T5P5Language:
    """One language's file, parsed."""

    language: str
    rows: tuple[T5P5Row, ...]
    catalog_names: Mapping[str, str]
    """Name -> item id; the ids are the names' first-seen spellings."""
    match: MatchResult
    """The matches of every history piece of every row, in file order."""

    @property
    def match_rate(self) -> float:
        """The share of history pieces mapped to a catalogue name."""
        return self.match.match_rate


@dataclass(frozen=True, slots=True)
class T5P5Data:
    """Both languages, and how the Arabic items line up with the English ones."""

    languages: Mapping[str, T5P5Language]
    alignment: Mapping[str, str]
    """Arabic item id -> the English item id it is most often aligned with (same row, same
    position, in rows whose two lists have the same length; outputs always align)."""
    aligned_rows: int
    """Rows whose Arabic and English histories parse to the same number of items."""
    item_groups: Mapping[str, Mapping[str, str]]
    """Language -> item id -> its group, the label both languages can be scored on.

    The two files do not name the same item set: the translation merges English items (Arabic
    كرة القدم is both soccer and football, so "Soccer Jersey" and "Football Jersey" share one
    Arabic name) and splits others over several names. A group joins every Arabic and English
    id that are aligned anywhere (the connected parts of the alignment graph); it is named by
    its English ids, sorted and joined with " / ". The groups are the finest items on which
    both files agree."""


def _read_rows(path: Path) -> list[tuple[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or [h.strip() for h in header] != ["Input", "Output"]:
            raise ValueError(f"{path}: expected the header 'Input,Output', got {header!r}")
        rows = []
        for number, row in enumerate(reader, start=2):
            if len(row) != 2:
                raise ValueError(f"{path}, line {number}: expected 2 fields, got {len(row)}")
            rows.append((row[0], row[1].strip()))
    return rows


def build_name_catalog(
    rows: Sequence[tuple[str, str]], language: str | None = None, *, min_rows: int = 3
) -> dict[str, str]:
    """A name -> id catalogue from (Input, Output) rows, as the module docstring describes."""
    catalog: dict[str, str] = {}
    seen: set[str] = set()
    for _, output in rows:
        key = normalize_name(output, language)
        if key not in seen:
            seen.add(key)
            catalog[output] = output
    spelling: dict[str, str] = {}
    row_counts: Counter[str] = Counter()
    for text, _ in rows:
        keys = set()
        for piece in parse_item_list(text, catalog, language):
            key = normalize_name(piece, language)
            spelling.setdefault(key, piece)
            keys.add(key)
        row_counts.update(keys)
    for key, piece in spelling.items():  # first-seen order
        if row_counts[key] < min_rows:
            continue
        if match_names([piece], catalog, language=language).match_rate == 0.0:
            catalog[piece] = piece
    return catalog


def _parse_language(rows: Sequence[tuple[str, str]], language: str) -> T5P5Language:
    catalog = build_name_catalog(rows, language)
    histories = [parse_item_list(text, catalog, language) for text, _ in rows]
    # One call for all pieces, so that each distinct misspelling is scored once.
    match = match_names([p for pieces in histories for p in pieces], catalog, language=language)
    next_ids = match_names([output for _, output in rows], catalog, language=language).ids
    parsed, offset = [], 0
    for pieces, (_, output), next_id in zip(histories, rows, next_ids, strict=True):
        assert next_id is not None  # every Output is a catalogue name
        ids = match.ids[offset : offset + len(pieces)]
        offset += len(pieces)
        parsed.append(T5P5Row(tuple(pieces), ids, output, next_id))
    return T5P5Language(language, tuple(parsed), catalog, match)


def _aligned_pairs(
    arabic: T5P5Language, english: T5P5Language
) -> tuple[dict[str, Counter[str]], int]:
    """Arabic id -> counts of the English ids aligned with it; the rows of equal length."""
    votes: dict[str, Counter[str]] = {}
    aligned_rows = 0
    for ar_row, en_row in zip(arabic.rows, english.rows, strict=True):
        pairs: list[tuple[str | None, str | None]] = [(ar_row.next_id, en_row.next_id)]
        if len(ar_row.history_ids) == len(en_row.history_ids):
            aligned_rows += 1
            pairs.extend(zip(ar_row.history_ids, en_row.history_ids, strict=True))
        for ar_id, en_id in pairs:
            if ar_id is not None and en_id is not None:
                votes.setdefault(ar_id, Counter())[en_id] += 1
    return votes, aligned_rows


def _item_groups(
    votes: Mapping[str, Counter[str]], arabic: T5P5Language, english: T5P5Language
) -> dict[str, dict[str, str]]:
    """Union-find over the aligned (Arabic, English) pairs; see :attr:`T5P5Data.item_groups`."""
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(node: tuple[str, str]) -> tuple[str, str]:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    for ar_id, counts in votes.items():
        for en_id in counts:
            parent[root(("ar", ar_id))] = root(("en", en_id))
    members: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for language, parsed in (("ar", arabic), ("en", english)):
        for item in dict.fromkeys(parsed.catalog_names.values()):
            members.setdefault(root((language, item)), []).append((language, item))
    groups: dict[str, dict[str, str]] = {"ar": {}, "en": {}}
    for nodes in members.values():
        english_ids = sorted(i for language, i in nodes if language == "en")
        label = " / ".join(english_ids) or nodes[0][1]  # an Arabic-only item names itself
        for language, item in nodes:
            groups[language][item] = label
    return groups


def arabic_by_hand(english: T5P5Language, names: Mapping[str, str] = ARABIC_NAMES) -> T5P5Language:
    """The English rows with every item named by ``names`` (English item id -> Arabic name).

    The items, histories and targets are the English file's, only renamed, so the result differs
    from ``english`` in language alone. Raises ValueError when an English item has no name or two
    items share one.
    """
    items = list(dict.fromkeys(english.catalog_names.values()))
    missing = [i for i in items if i not in names]
    if missing:
        raise ValueError(f"no Arabic name for the English items {missing}")
    catalog = {names[i]: names[i] for i in items}
    if len(catalog) != len(items):
        raise ValueError("two English items have the same Arabic name")

    def renamed(ids: Sequence[str | None]) -> tuple[str | None, ...]:
        return tuple(None if i is None else names[i] for i in ids)

    rows = tuple(
        T5P5Row(
            history=tuple(
                names[i] if i is not None else piece
                for piece, i in zip(row.history, row.history_ids, strict=True)
            ),
            history_ids=renamed(row.history_ids),
            next_item=names[row.next_id],
            next_id=names[row.next_id],
        )
        for row in english.rows
    )
    pieces = [piece for row in rows for piece in row.history]
    return T5P5Language("ar", rows, catalog, match_names(pieces, catalog, language="ar"))


def load_t5p5(path_dir: str | Path) -> T5P5Data:
    """Read and parse ``T5P5_training_data_{English,Arabic}.csv`` from ``path_dir``.

    Returns:
        The English (``"en"``) and Arabic (``"ar"``) rows with item lists parsed and matched,
        each language's name catalogue and match rate, the Arabic-to-English id alignment and
        the item groups both languages agree on.
    """
    directory = Path(path_dir)
    raw = {language: _read_rows(directory / name) for language, name in _FILES.items()}
    if len(raw["en"]) != len(raw["ar"]):
        raise ValueError(
            f"{directory}: the English and Arabic files must be aligned row by row, "
            f"got {len(raw['en'])} and {len(raw['ar'])} rows"
        )
    languages = {language: _parse_language(rows, language) for language, rows in raw.items()}
    votes, aligned_rows = _aligned_pairs(languages["ar"], languages["en"])
    alignment = {ar_id: counts.most_common(1)[0][0] for ar_id, counts in votes.items()}
    groups = _item_groups(votes, languages["ar"], languages["en"])
    return T5P5Data(languages, alignment, aligned_rows, groups)


def read_names_csv(path: str | Path, language: str | None = None) -> T5P5Language:
    """One ``Input,Output`` file of purchased-name lists and next names, in any language, parsed
    as :func:`load_t5p5` parses each of its two files: a catalogue of names built from the file
    itself, every list split and matched to it. ``language`` None is ``"ar"`` when most Outputs
    are in Arabic script, else ``"en"`` (another language must be named)."""
    path = Path(path)
    rows = _read_rows(path)
    if not rows:
        raise ValueError(f"{path}: no rows under the header 'Input,Output'")
    if language is None:
        arabic = sum(has_arabic(output) for _, output in rows)
        language = "ar" if 2 * arabic > len(rows) else "en"
    return _parse_language(rows, language)


def names_split(parsed: T5P5Language, valid_share: float = 0.1, seed: int = 0) -> Split:
    """A parsed names file as a split to train on: each row one anonymous user (``row2`` for the
    file's line 2) whose events are its matched items, each once (unmatched pieces dropped),
    then its Output. A seeded ``valid_share`` of the rows validates instead: its Output is the
    row's validation target and is never trained on (the prefixes of its list still are), so
    that validation NDCG@10 can pick the best epoch. There are no test targets.

    The catalogue's items are the file's names: each item's id is its name (first-seen
    spelling), in the file's language."""
    if not 0.0 <= valid_share < 1.0:
        raise ValueError(f"valid_share must be in [0, 1), got {valid_share}")
    language = parsed.language
    ids = list(dict.fromkeys(parsed.catalog_names.values()))
    catalog = Catalog(Item(id=i, name=i, language=language, names={language: i}) for i in ids)
    n_valid = round(valid_share * len(parsed.rows))
    valid_rows = set(random.Random(seed).sample(range(len(parsed.rows)), n_valid))
    train: dict[str, list[Interaction]] = {}
    valid: dict[str, Interaction] = {}
    for number, row in enumerate(parsed.rows):
        user = f"row{number + 2}"
        items = [i for i in dict.fromkeys(row.history_ids) if i is not None]
        if number not in valid_rows:
            items.append(row.next_id)
        else:
            valid[user] = Interaction(user, row.next_id, float(len(items)), position=len(items))
        train[user] = [Interaction(user, i, float(t), position=t) for t, i in enumerate(items)]
    return Split(train, valid, {}, catalog, name=f"names-{language}", method="rows of a names file")

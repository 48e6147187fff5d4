"""Splitting a written list of item names into items, and matching names to catalogue items.

Purchase histories written as text ("قميص كرة السلة وكرة السلة ، أحذية كرة السلة") separate
items three ways: the Latin comma ",", the Arabic comma "،", and the Arabic conjunction "و"
("and"), which is written joined to the next word. The commas are unambiguous; the "و" is not,
because many Arabic words begin with the letter و ("وسادة", cushion; "واقي", guard). So:

- with a catalogue of known names, :func:`parse_item_list` picks, by dynamic programming over
  the words, the segmentation whose pieces cover the most words with known names (comparing
  names through :func:`~lmrec.text.arabic.normalize_name`), and among equally good ones the
  fewest pieces (a known name that itself contains "و" stays whole); the heuristic below only
  breaks the remaining ties;
- without one, it follows the heuristic (see :func:`_heuristic_splits`).

:func:`match_names` then maps each piece to an item id: first by normalised exact match, then by
a fuzzy fallback (:data:`DEFAULT_CUTOFF`).

A catalogue here is a ``Mapping[str, str]`` from a *name* to an *item id*: several names
(spellings, translations) may point at one item. :func:`catalog_names` builds one from a
:class:`~lmrec.data.schema.Catalog`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from lmrec.text.arabic import has_arabic, normalize_name

if TYPE_CHECKING:
    from lmrec.data.schema import Item

__all__ = [
    "DEFAULT_CUTOFF",
    "MatchResult",
    "PieceMatch",
    "ResolvedNames",
    "catalog_names",
    "match_names",
    "parse_item_list",
    "resolve_names",
]

DEFAULT_CUTOFF = 0.85
"""Fuzzy matches need a :class:`difflib.SequenceMatcher` ratio of at least this (see
:func:`match_names`). At 0.85, "Hocket Puck" still finds "Hockey Puck" (0.91) and "أحذية التنس"
finds "أحذية تنس" (0.90), while names that differ in a whole word ("كرة كرة القدم" against
"كرة القدم", 0.82) stay apart."""

_WAW = "\u0648"
_SEPARATORS = re.compile("[,\u060c]")  # Latin comma, Arabic comma
_LEADING_MARKS = re.compile("^[\u0640\u064b-\u065f\u0670]+")  # tatweel, diacritics
_ARABIC_LANGUAGES = frozenset({"ar", "ara", "arb", "arz", "apc", "ary", "acm", "ajp"})

# Common Arabic words whose first letter, و, belongs to the word (not the conjunction), as
# normalised keys. Shop vocabulary first. Not exhaustive: a catalogue teaches more (every word of
# a known name counts, see _known_words), and is the real remedy.
_WAW_INITIAL_WORDS = frozenset(
    normalize_name(word)
    for word in (
        "وسادة وسادات وسائد واقي واقية واقيات وشاح وشاحات وعاء أوعية وزن وزنة أوزان وقاء "
        "ورق ورقة وردة ورود وجه وجبة وحدة وصلة وسيلة وتر وتد ولاعة وسام وسط وسطى وقت وقود "
        "وثاق وثيقة ودك وصفة وقاية وسيط وعاءان ولد واحد واحدة"
    ).split()
)


def _language_splits_waw(language: str | None, text: str) -> bool:
    """Whether a joined "و" may be a conjunction: Arabic, or unknown language in Arabic script.

    Persian and Urdu write "و" as a separate word, and many of their words begin with it
    ("ورزش", sport), so for them only a free-standing "و" separates items.
    """
    if language is None:
        return has_arabic(text)
    return language.lower().replace("_", "-").split("-")[0] in _ARABIC_LANGUAGES


def _strip_waw(word: str) -> str:
    """The word without its first letter (a conjunction "و") and the marks that sit on it."""
    return _LEADING_MARKS.sub("", word[1:])


def _starts_with_waw(word: str) -> bool:
    return len(word) > 1 and word[0] == _WAW


def _letters(text: str) -> int:
    return sum(1 for ch in text if ch.isalpha())


def _known_words(known: Iterable[str]) -> frozenset[str]:
    return frozenset(word for name in known for word in name.split())


def _heuristic_splits(word: str, known_words: frozenset[str]) -> bool:
    """The catalogue-free rule: is a word's leading "و" the conjunction "and"?

    Yes when what follows it has at least 2 letters (Arabic words have at least two, so "و"
    plus one letter is a word of its own) and the whole word is neither one of the common
    و-initial words in ``_WAW_INITIAL_WORDS`` nor a word of a known name ("وسادات" in the known
    name "وسادات الهوكي" is a word, not "and" + "سادات").
    """
    rest = normalize_name(_strip_waw(word))
    whole = normalize_name(word)
    if _letters(rest) < 2:
        return False
    return whole not in _WAW_INITIAL_WORDS and whole not in known_words


# A segmentation's score, compared as a tuple: words covered by known names (more is better),
# then minus the number of known pieces (fewer, longer names are better), then agreement with
# the heuristic (more is better).
_Score = tuple[int, int, int]


def _add(a: _Score, b: _Score) -> _Score:
    return (a[0] + b[0], a[1] + b[1], a[2] + b[2])


def _segment(
    words: Sequence[str], known: frozenset[str], known_words: frozenset[str], split_waw: bool
) -> list[str]:
    """Split one comma-free chunk of words into item names (see the module docstring)."""
    n = len(words)
    if not split_waw:
        return [" ".join(words)]
    candidate = [_starts_with_waw(w) for w in words]
    heuristic = [
        c and _heuristic_splits(w, known_words) for c, w in zip(candidate, words, strict=True)
    ]
    # Matching keys word by word, so that a piece's key is a join, not a new normalisation.
    keys = [normalize_name(w) for w in words]
    stripped_keys = [
        normalize_name(_strip_waw(w)) if c else "" for c, w in zip(candidate, words, strict=True)
    ]
    longest = max((len(name.split()) for name in known), default=0)
    # no_split[k]: candidates before word k that the heuristic would not split at.
    no_split = [0]
    for c, h in zip(candidate, heuristic, strict=True):
        no_split.append(no_split[-1] + (1 if c and not h else 0))

    def piece(start: int, end: int, strip: bool) -> str:
        first = _strip_waw(words[start]) if strip else words[start]
        return " ".join(w for w in [first, *words[start + 1 : end]] if w)

    def piece_score(start: int, end: int, strip: bool) -> _Score:
        is_known = False
        if end - start <= longest:
            first = stripped_keys[start] if strip else keys[start]
            is_known = " ".join(k for k in [first, *keys[start + 1 : end]] if k) in known
        # Every candidate inside the piece was not split: that agrees with a "no" heuristic.
        inside = no_split[end] - no_split[start + 1]
        return (end - start if is_known else 0, -1 if is_known else 0, inside)

    # best[(i, strip)]: best score and piece ends for words[i:], a piece starting at word i.
    best: dict[tuple[int, bool], tuple[_Score, list[tuple[int, bool]]]] = {}
    for start in range(n - 1, -1, -1):
        for strip in (False, True) if candidate[start] else (False,):
            options: list[tuple[_Score, list[tuple[int, bool]]]] = []
            for end in range(start + 1, n + 1):
                if end < n and not candidate[end]:
                    continue
                own = piece_score(start, end, strip)
                if end == n:
                    options.append((own, [(start, strip)]))
                    continue
                for next_strip in (False, True):
                    # A boundary that strips "و" agrees with a "yes" heuristic; one that keeps
                    # the word whole (a list with no conjunction) agrees with nothing.
                    agrees = 1 if next_strip and heuristic[end] else 0
                    rest_score, rest = best[(end, next_strip)]
                    total = _add(_add(own, (0, 0, agrees)), rest_score)
                    options.append((total, [(start, strip), *rest]))
            best[(start, strip)] = max(options, key=lambda option: option[0])
    starts = [(False, 1 if not heuristic[0] else 0)]
    if candidate[0]:
        starts.append((True, 1 if heuristic[0] else 0))
    _, chosen = max(
        ((_add(best[(0, s)][0], (0, 0, agree)), best[(0, s)][1]) for s, agree in starts),
        key=lambda option: option[0],
    )
    ends = [start for start, _ in chosen[1:]] + [n]
    return [piece(start, end, strip) for (start, strip), end in zip(chosen, ends, strict=True)]


def parse_item_list(
    text: str, catalog_names: Mapping[str, str] | None = None, language: str | None = None
) -> list[str]:
    """Split a written list of item names into the names, in order, as written.

    Items are separated by "," or "،", by a free-standing "و", and (in Arabic) by a "و" joined
    to the next word when it is the conjunction "and"; that last case is decided with
    ``catalog_names`` if given (a name -> item id mapping; only its names are used), else by a
    heuristic (see the module docstring). Pieces keep their original spelling (diacritics and
    all, minus the conjunction) with runs of whitespace collapsed; empty pieces are dropped.

    Args:
        text: the list, e.g. ``"قميص كرة السلة وكرة السلة ، أحذية كرة السلة"``.
        catalog_names: known names (the keys) that the pieces should preferably be.
        language: the text's language code if known; ``None`` detects Arabic by its script.

    Returns:
        The item names, e.g. ``["قميص كرة السلة", "كرة السلة", "أحذية كرة السلة"]``.
    """
    names = list(catalog_names or ())
    known = frozenset(normalize_name(name, language) for name in names)
    known_words = _known_words(known)
    split_waw = _language_splits_waw(language, text)
    pieces: list[str] = []
    for chunk in _SEPARATORS.split(text):
        words: list[str] = []
        for word in [*chunk.split(), _WAW]:  # a sentinel "و" closes the last run
            if normalize_name(word) != _WAW:
                words.append(word)
            elif words:
                pieces.extend(_segment(words, known, known_words, split_waw))
                words = []
    return [p for p in pieces if p]


@dataclass(frozen=True, slots=True)
class PieceMatch:
    """How one piece of text was matched to the catalogue."""

    piece: str
    item_id: str | None
    name: str | None
    """The catalogue name it matched (None when unmatched)."""
    method: Literal["exact", "fuzzy", "none"]
    score: float
    """1.0 for an exact match, the similarity ratio for a fuzzy one, the best ratio seen when
    unmatched (0.0 for an empty catalogue)."""


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The matches of a sequence of pieces, in order, with summary counts."""

    matches: tuple[PieceMatch, ...]

    @property
    def ids(self) -> tuple[str | None, ...]:
        """Each piece's item id, None where unmatched."""
        return tuple(m.item_id for m in self.matches)

    @property
    def unmatched(self) -> tuple[str, ...]:
        return tuple(m.piece for m in self.matches if m.item_id is None)

    @property
    def n_exact(self) -> int:
        return sum(1 for m in self.matches if m.method == "exact")

    @property
    def n_fuzzy(self) -> int:
        return sum(1 for m in self.matches if m.method == "fuzzy")

    @property
    def match_rate(self) -> float:
        """The share of pieces mapped to an item (exact or fuzzy); 1.0 when there are none."""
        if not self.matches:
            return 1.0
        return (self.n_exact + self.n_fuzzy) / len(self.matches)

    @classmethod
    def concat(cls, results: Iterable[MatchResult]) -> MatchResult:
        """One result for several (e.g. all rows of a file)."""
        return cls(tuple(m for result in results for m in result.matches))


def _fuzzy_key(key: str) -> str:
    """A normalised key without the Arabic definite article "ال" on its words (where at least
    two letters remain): "كره السله" and "كره سله" name the same ball, and a difference in the
    article must not weigh like a difference in the word that says what the item is."""
    return " ".join(
        word[2:] if word.startswith("\u0627\u0644") and len(word) >= 4 else word
        for word in key.split()
    )


def _similarity(a: str, b: str) -> float:
    """The better of the character ratio and the ratio with words sorted (so that "قميص الهوكي"
    and its machine-translated twin "الهوكي قميص" are the same name), on keys from
    :func:`_fuzzy_key`."""
    a, b = _fuzzy_key(a), _fuzzy_key(b)
    plain = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    if plain == 1.0:
        return plain
    a_sorted, b_sorted = " ".join(sorted(a.split())), " ".join(sorted(b.split()))
    return max(plain, difflib.SequenceMatcher(None, a_sorted, b_sorted, autojunk=False).ratio())


def match_names(
    pieces: Iterable[str],
    catalog: Mapping[str, str],
    *,
    cutoff: float = DEFAULT_CUTOFF,
    language: str | None = None,
) -> MatchResult:
    """Map each piece to the id of the catalogue name it means.

    First an exact match of normalised text (:func:`~lmrec.text.arabic.normalize_name`; when
    two names normalise alike, the first one in ``catalog`` wins). Failing that, the name of
    highest similarity, if it reaches ``cutoff``: similarity is difflib's
    ``SequenceMatcher.ratio`` on the normalised texts with the Arabic article "ال" dropped from
    their words, or on those with their words sorted if that is higher (translations swap word
    order). If the best names point at different items with
    the same score, the piece is left unmatched rather than guessed.

    Args:
        pieces: the texts to match, e.g. from :func:`parse_item_list`.
        catalog: name -> item id.
        cutoff: the least similarity a fuzzy match needs, in [0, 1].
        language: passed to the normaliser.
    """
    if not 0.0 <= cutoff <= 1.0:
        raise ValueError(f"cutoff must be in [0, 1], got {cutoff}")
    index: dict[str, tuple[str, str]] = {}
    for name, item_id in catalog.items():
        index.setdefault(normalize_name(name, language), (name, item_id))
    matches: list[PieceMatch] = []
    fuzzy_seen: dict[str, PieceMatch] = {}  # lists repeat names: score each key once
    for piece in pieces:
        key = normalize_name(piece, language)
        if key in index:
            name, item_id = index[key]
            matches.append(PieceMatch(piece, item_id, name, "exact", 1.0))
            continue
        if key in fuzzy_seen:
            seen = fuzzy_seen[key]
            matches.append(PieceMatch(piece, seen.item_id, seen.name, seen.method, seen.score))
            continue
        scored = sorted(
            ((_similarity(key, other), name, item_id) for other, (name, item_id) in index.items()),
            key=lambda entry: -entry[0],
        )
        top = scored[0][0] if scored else 0.0
        tied_ids = {item_id for score, _, item_id in scored if score == top}
        if scored and top >= cutoff and len(tied_ids) == 1:
            match = PieceMatch(piece, scored[0][2], scored[0][1], "fuzzy", top)
        else:
            match = PieceMatch(piece, None, None, "none", top)
        fuzzy_seen[key] = match
        matches.append(match)
    return MatchResult(tuple(matches))


@dataclass(frozen=True, slots=True)
class ResolvedNames:
    """Names written one by one, resolved (:func:`resolve_names`): each one's item id (None
    where it names no single item), the ``unknown`` names (no catalogue name matches or holds
    them), and the ``ambiguous`` ones (name -> the items whose names hold it, "Cleats")."""

    ids: tuple[str | None, ...]
    unknown: tuple[str, ...]
    ambiguous: Mapping[str, tuple[str, ...]]

    @property
    def problem(self) -> str | None:
        """The names that did not resolve, in words; None when every one did."""
        parts = []
        if self.unknown:
            parts.append("no catalogue item is named " + ", ".join(map(repr, self.unknown)))
        parts += [f"{n!r} could be any of {', '.join(ids)}" for n, ids in self.ambiguous.items()]
        return "; ".join(parts) or None


def resolve_names(
    names: Iterable[str], catalog: Mapping[str, str], language: str | None = None
) -> ResolvedNames:
    """Each name's item id: by :func:`match_names` (exact, then fuzzy), else the one item whose
    name holds every word of it ("Shin Guards" -> "Soccer Shin Guards"); never guessed among
    several such items (ambiguous)."""
    names = list(names)
    match = match_names(names, catalog, language=language)
    words = [(set(normalize_name(n, language).split()), i) for n, i in catalog.items()]
    ids: list[str | None] = []
    unknown: list[str] = []
    ambiguous: dict[str, tuple[str, ...]] = {}
    for name, item_id in zip(names, match.ids, strict=True):
        if item_id is None:
            wanted = set(normalize_name(name, language).split())
            holders = tuple(dict.fromkeys(i for w, i in words if wanted and wanted <= w))
            item_id = holders[0] if len(holders) == 1 else None
            if len(holders) > 1:
                ambiguous[name] = holders
            elif not holders:
                unknown.append(name)
        ids.append(item_id)
    return ResolvedNames(tuple(ids), tuple(dict.fromkeys(unknown)), ambiguous)


def catalog_names(items: Mapping[str, Item], language: str | None = None) -> dict[str, str]:
    """Name -> item id for a catalogue (e.g. a :class:`~lmrec.data.schema.Catalog`), using each
    item's name in ``language`` (its main name, or its id, where it has none in it)."""
    return {item.name_in(language): item_id for item_id, item in items.items()}

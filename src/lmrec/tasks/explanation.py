"""The explanation family: a user, an item and maybe a feature word -> a sentence on why.

Targets come from real reviews by one documented rule (:func:`pick_explanation`):

1. an item's *aspect words* are the content words (letters only, at least 3 long, not a stop or
   opinion word, not a word of the item's name or category) ranked by how many of the item's
   **training** reviews use them; the top ``top_aspects`` count;
2. each sentence of a review (3 to ``max_words`` words) scores the sum, over the distinct aspect
   words it contains, of their review counts; the best-scoring sentence is the explanation
   (earliest wins a tie; no sentence with an aspect word -> no target);
3. the feature word is the sentence's most frequent aspect word; feature-hint prompts name it.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from lmrec.data.schema import Catalog, Interaction
from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, TaskContext

FAMILY = "explanation"

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_WORD = re.compile(r"[a-z]+")
_STOP = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each even ever every few
    for from further get gets got had has have having he her here hers him his how i if in into
    is it its itself just me more most much my myself no nor not now of off on once one only or
    other our out over own same she should so some such than that the their them then there
    these they this those through to too under until up very was we well were what when where
    which while who whom why will with would you your yours im ive dont doesnt didnt isnt cant
    wont thats really pretty quite still way thing things lot lots bit little many make made
    makes use used using uses buy bought product item great good nice love like liked best
    better works work worked excellent perfect happy recommend price purchase amazon problem
    problems fine stars star review overall want need exactly expected definitely""".split()
)


@dataclass(frozen=True)
class ExplanationTarget:
    """A training or test case: who, which item, the sentence and its feature word."""

    user: str
    item: str
    feature: str
    sentence: str


def split_sentences(text: str, min_words: int = 3, max_words: int = 40) -> list[str]:
    """Sentences of a review (split after . ! ? or at line breaks), within a word range."""
    parts = (s.strip() for s in _SENTENCE_END.split(text or ""))
    return [s for s in parts if s and min_words <= len(s.split()) <= max_words]


def _content_words(text: str, banned: frozenset[str]) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 3 and w not in banned}


def _banned_words(catalog: Catalog, item: str) -> frozenset[str]:
    entry = catalog.get(item)
    own = " ".join(v for v in (entry.name, entry.category) if v) if entry else ""
    return _STOP | set(_WORD.findall(own.lower()))


def item_aspects(rows: Iterable[Interaction], catalog: Catalog) -> dict[str, Counter[str]]:
    """For each item, how many of its reviews (in ``rows``) use each content word."""
    counts: dict[str, Counter[str]] = {}
    for x in rows:
        if x.review:
            words = _content_words(x.review, _banned_words(catalog, x.item))
            counts.setdefault(x.item, Counter()).update(words)
    return counts


def pick_explanation(
    review: str, aspects: Counter[str], top_aspects: int = 10, max_words: int = 40
) -> tuple[str, str] | None:
    """(sentence, feature word) of a review by the rule in the module docstring, or None."""
    ranked = sorted(aspects.items(), key=lambda kv: (-kv[1], kv[0]))[:top_aspects]
    weight = dict(ranked)
    best: tuple[int, str, str] | None = None
    for sentence in split_sentences(review, max_words=max_words):
        found = [w for w in set(_WORD.findall(sentence.lower())) if w in weight]
        if not found:
            continue
        score = sum(weight[w] for w in found)
        if best is None or score > best[0]:
            feature = min(found, key=lambda w: (-weight[w], w))
            best = (score, sentence, feature)
    return (best[1], best[2]) if best else None


def explanation_targets(
    rows: Sequence[Interaction], aspects: Mapping[str, Counter[str]]
) -> list[ExplanationTarget]:
    """The explanation target of every review in ``rows`` that has one."""
    targets = []
    for x in rows:
        if not x.review or x.item not in aspects:
            continue
        picked = pick_explanation(x.review, aspects[x.item])
        if picked:
            targets.append(ExplanationTarget(x.user, x.item, picked[1], picked[0]))
    return targets


def explanation_prompt(
    user: str | None, item: str, feature: str | None, ctx: TaskContext, template: Template
) -> str:
    values = {"user": ctx.user(user), **ctx.item(item), "feature": feature or "", "explanation": ""}
    source, _ = template.render(values)
    return source


def explanation_examples(
    targets: Sequence[ExplanationTarget],
    ctx: TaskContext,
    templates: TemplateSet,
    rng: random.Random,
) -> list[Example]:
    """One example per training target whose item has an id; seen templates only (those
    with a ``{feature}`` placeholder are the feature-hint prompts)."""
    seen = templates.select(FAMILY, ctx.language, unseen=False)
    examples = []
    for t in targets:
        if t.item not in ctx.index:
            continue
        template = rng.choice(seen)
        values = {
            "user": ctx.user(t.user, rng),
            **ctx.item(t.item),
            "feature": t.feature,
            "explanation": t.sentence,
        }
        examples.append(Example(*template.render(values), FAMILY, template.id))
    return examples


def retrieval_explanation(
    item: str, feature: str | None, by_item: Mapping[str, Sequence[ExplanationTarget]]
) -> str:
    """The retrieval baseline: the item's training explanation sentence nearest the request.

    ``by_item`` groups the training targets by item. Returns the first one whose feature is
    the hinted word, else the item's first one ("" for an item without any)."""
    own = by_item.get(item, ())
    if feature:
        for t in own:
            if t.feature == feature:
                return t.sentence
    return own[0].sentence if own else ""

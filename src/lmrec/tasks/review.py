"""The review family: a review's text -> its summary, and a review's text -> its star rating."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmrec.data.schema import Interaction
from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, TaskContext, rating_text

SUMMARY_FAMILY = "review_summary"
RATING_FAMILY = "review_rating"


def review_prompt(review: str, user: str | None, ctx: TaskContext, template: Template) -> str:
    values = {"review": ctx.review(review), "user": ctx.user(user), "summary": "", "rating": ""}
    source, _ = template.render(values)
    return source


def review_examples(
    rows: Sequence[Interaction], ctx: TaskContext, templates: TemplateSet, rng: random.Random
) -> list[Example]:
    """A summary example for each review with a summary, a rating example for each rated
    review; seen templates only."""
    summary_seen = templates.select(SUMMARY_FAMILY, ctx.language, unseen=False)
    rating_seen = templates.select(RATING_FAMILY, ctx.language, unseen=False)
    examples = []
    for x in rows:
        if not x.review:
            continue
        values = {
            "review": ctx.review(x.review),
            "user": ctx.user(x.user, rng),
            "summary": x.summary or "",
            "rating": rating_text(x.rating) if x.rating is not None else "",
        }
        if x.summary:
            template = rng.choice(summary_seen)
            examples.append(Example(*template.render(values), SUMMARY_FAMILY, template.id))
        if x.rating is not None:
            template = rng.choice(rating_seen)
            examples.append(Example(*template.render(values), RATING_FAMILY, template.id))
    return examples


def lead_sentence(review: str) -> str:
    """The lead-sentence summary baseline: the review's first sentence."""
    from lmrec.tasks.explanation import split_sentences

    sentences = split_sentences(review, min_words=1, max_words=10_000)
    return sentences[0] if sentences else review.strip()

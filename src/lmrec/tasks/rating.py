"""The rating family: a user and an item (its id token, and its name if known) -> 1-5 stars."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmrec.data.schema import Interaction
from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, TaskContext, rating_text

FAMILY = "rating"


def rating_prompt(user: str | None, item: str, ctx: TaskContext, template: Template) -> str:
    source, _ = template.render({"user": ctx.user(user), **ctx.item(item), "rating": ""})
    return source


def rating_examples(
    rows: Sequence[Interaction], ctx: TaskContext, templates: TemplateSet, rng: random.Random
) -> list[Example]:
    """One example per rated training interaction whose item has an id; seen templates only."""
    seen = templates.select(FAMILY, ctx.language, unseen=False)
    examples = []
    for x in rows:
        if x.rating is None or x.item not in ctx.index:
            continue
        template = rng.choice(seen)
        values = {
            "user": ctx.user(x.user, rng),
            **ctx.item(x.item),
            "rating": rating_text(x.rating),
        }
        source, target = template.render(values)
        examples.append(Example(source, target, FAMILY, template.id))
    return examples

"""The direct family: (a) "will this user like this item?" -> yes/no; (b) a user and a list of
candidates -> the one to recommend.

Training positives are leave-one-out *training* interactions; negatives are sampled from items
outside the user's training history (no validation or test event is looked at).
"""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, TaskContext, yes_no

YESNO_FAMILY = "direct_yesno"
CHOICE_FAMILY = "direct_choice"


def sample_negatives(
    items: Sequence[str], avoid: set[str], n: int, rng: random.Random
) -> list[str]:
    """``n`` distinct items not in ``avoid`` (fewer if the catalogue runs out)."""
    pool_size = len(items) - len(avoid & set(items))
    n = min(n, max(0, pool_size))
    chosen: dict[str, None] = {}
    while len(chosen) < n:
        item = items[rng.randrange(len(items))]
        if item not in avoid:
            chosen[item] = None
    return list(chosen)


def yesno_prompt(user: str | None, item: str, ctx: TaskContext, template: Template) -> str:
    source, _ = template.render({"user": ctx.user(user), **ctx.item(item), "answer": ""})
    return source


def choice_prompt(
    user: str | None, candidates: Sequence[str], ctx: TaskContext, template: Template
) -> str:
    """Candidates are listed in the order given (shuffle them first: order must not tell)."""
    values = {"user": ctx.user(user), "candidates": _candidate_text(candidates, ctx), "target": ""}
    source, _ = template.render(values)
    return source


def _candidate_text(candidates: Sequence[str], ctx: TaskContext) -> str:
    return " , ".join(ctx.index.render(i) for i in candidates)


def direct_examples(
    positives: Sequence[tuple[str, str]],
    histories: dict[str, set[str]],
    ctx: TaskContext,
    templates: TemplateSet,
    rng: random.Random,
) -> list[Example]:
    """For each (user, item) training interaction: a "yes" example, ``direct_negatives`` "no"
    examples, and a choose-one example among ``direct_candidates`` shuffled candidates."""
    yesno = templates.select(YESNO_FAMILY, ctx.language, unseen=False)
    choice = templates.select(CHOICE_FAMILY, ctx.language, unseen=False)
    items = ctx.index.items
    cfg = ctx.config
    examples = []
    for user, item in positives:
        if item not in ctx.index:
            continue
        seen = histories.get(user, set())
        negatives = sample_negatives(items, seen | {item}, cfg.direct_negatives, rng)
        for candidate, liked in [(item, True), *((n, False) for n in negatives)]:
            template = rng.choice(yesno)
            answer = yes_no(template.language)[0 if liked else 1]
            values = {"user": ctx.user(user, rng), **ctx.item(candidate), "answer": answer}
            examples.append(Example(*template.render(values), YESNO_FAMILY, template.id))
        candidates = [item, *sample_negatives(items, seen | {item}, cfg.direct_candidates - 1, rng)]
        rng.shuffle(candidates)
        template = rng.choice(choice)
        values = {
            "user": ctx.user(user, rng),
            "candidates": _candidate_text(candidates, ctx),
            "target": ctx.index.render(item),
        }
        examples.append(Example(*template.render(values), CHOICE_FAMILY, template.id))
    return examples

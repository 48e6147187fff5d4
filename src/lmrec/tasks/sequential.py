"""The sequential family: a user's item history in time order -> the next item."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmrec.data.split import Split
from lmrec.indexing import ItemIndex
from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, PromptConfig


def history_text(items: Sequence[str], index: ItemIndex, max_history: int) -> str:
    """Item id tokens of the most recent ``max_history`` known items, oldest first."""
    known = [i for i in items if i in index]
    if max_history > 0:
        known = known[-max_history:]
    return " ".join(index.render(i) for i in known)


def sequential_prompt(
    items: Sequence[str], index: ItemIndex, template: Template, max_history: int
) -> str:
    source, _ = template.render({"history": history_text(items, index, max_history), "target": ""})
    return source


def sequential_pairs(split: Split, max_targets_per_user: int = 0) -> list[tuple[list[str], str]]:
    """(history, next item) for every position of every training history.

    Only training events are used: validation and test targets never become training answers.
    """
    pairs = []
    for events in split.train.values():
        items = [x.item for x in events]
        positions = range(1, len(items))
        if max_targets_per_user > 0:
            positions = positions[-max_targets_per_user:]
        pairs.extend((items[:t], items[t]) for t in positions)
    return pairs


def sequential_examples(
    pairs: Sequence[tuple[Sequence[str], str]],
    index: ItemIndex,
    templates: TemplateSet,
    config: PromptConfig,
    rng: random.Random,
) -> list[Example]:
    """Render pairs with seen templates only, one drawn at random per pair."""
    seen = templates.select("sequential", config.language, unseen=False)
    examples = []
    for history, target in pairs:
        template = rng.choice(seen)
        source, answer = template.render(
            {
                "history": history_text(history, index, config.max_history),
                "target": index.render(target),
            }
        )
        examples.append(Example(source, answer, "sequential", template.id))
    return examples

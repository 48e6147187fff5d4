"""The sequential family: a user's item history in time order -> the next item."""

from __future__ import annotations

import random
from collections.abc import Sequence

from lmrec.data.split import Split
from lmrec.indexing import ItemIndex
from lmrec.prompts.templates import Template, TemplateSet
from lmrec.tasks.base import Example, PromptConfig


def _recent_codes(items: Sequence[str], index: ItemIndex, max_history: int) -> list[str]:
    """Rendered ids of the most recent ``max_history`` known items (0 = all), oldest first."""
    known = [i for i in items if i in index]
    if max_history > 0:
        known = known[-max_history:]
    return [index.render(i) for i in known]


def history_text(items: Sequence[str], index: ItemIndex, max_history: int) -> str:
    """Item id tokens of the most recent ``max_history`` known items, oldest first."""
    return " ".join(_recent_codes(items, index, max_history))


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


SEQUENCE_FAMILY = "sequence"


def sequence_text(items: Sequence[str], index: ItemIndex, max_history: int, start: str) -> str:
    """A history as nothing but item ids after a ``start`` token (the end-of-sequence token,
    standing in as beginning-of-sequence, so that even an empty history is a prompt):
    ``<start> i1 i2 ... in``. The next item's id tokens follow the last id directly, so the
    model predicts it from the last item's own position, as SASRec does; the trie, not a
    separator, tells where an id ends."""
    return " ".join([start, *_recent_codes(items, index, max_history)])


def sequence_examples(
    split: Split, index: ItemIndex, max_history: int, start: str
) -> list[Example]:
    """One all-positions example per user with at least two training items: the user's last
    ``max_history + 1`` training items as ``<start> i1 i2 ... in``, every item predicted from
    the tokens before it (as SASRec trains). Only training events are used."""
    examples = []
    for events in split.train.values():
        items = [x.item for x in events if x.item in index]
        if max_history > 0:
            items = items[-(max_history + 1) :]
        if len(items) < 2:
            continue
        source = sequence_text(items[:-1], index, 0, start)
        examples.append(
            Example(
                source,
                index.render(items[-1]),
                SEQUENCE_FAMILY,
                SEQUENCE_FAMILY,
                all_positions=True,
            )
        )
    return examples

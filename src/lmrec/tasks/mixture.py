"""Multitask training data: which tasks exist, the rows each is built from, and one epoch's
weighted mixture of examples."""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from lmrec.data.random_split import InteractionSplit
from lmrec.data.schema import Interaction
from lmrec.data.split import Split
from lmrec.prompts.templates import TemplateSet
from lmrec.tasks.base import Example, PromptConfig, TaskContext
from lmrec.tasks.direct import CHOICE_FAMILY, YESNO_FAMILY, direct_examples
from lmrec.tasks.explanation import (
    ExplanationTarget,
    explanation_examples,
    explanation_targets,
    item_aspects,
)
from lmrec.tasks.rating import rating_examples
from lmrec.tasks.review import RATING_FAMILY, SUMMARY_FAMILY, review_examples
from lmrec.tasks.sequential import sequential_examples, sequential_pairs

logger = logging.getLogger(__name__)

TASK_FAMILIES: dict[str, tuple[str, ...]] = {
    "sequential": ("sequential",),
    "rating": ("rating",),
    "explanation": ("explanation",),
    "review": (SUMMARY_FAMILY, RATING_FAMILY),
    "direct": (YESNO_FAMILY, CHOICE_FAMILY),
}
"""Each task and the template families it trains."""

TASKS = tuple(TASK_FAMILIES)


def parse_tasks(text: str | Sequence[str]) -> tuple[str, ...]:
    """Task names from ``"a,b"`` or a sequence; ``all`` means every task. Unknown is an error."""
    names = [t.strip() for t in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    if names == ["all"]:
        return TASKS
    unknown = [n for n in names if n not in TASK_FAMILIES]
    if unknown or not names:
        raise ValueError(f"unknown task(s) {unknown or names} (known: {', '.join(TASKS)}, all)")
    return tuple(dict.fromkeys(names))


@dataclass
class TaskData:
    """The training rows of every task, fixed once before training.

    Sequential and direct use the leave-one-out training events. Rating, explanation and
    review use the random split's training interactions that carry a rating or a review,
    minus any event that is a leave-one-out validation or test target (so no task ever
    trains on those).
    """

    prompts: PromptConfig
    sequential: list[tuple[list[str], str]]
    rated: list[Interaction]
    explanations: list[ExplanationTarget]
    aspects: dict[str, Counter[str]]
    positives: list[tuple[str, str]]
    histories: dict[str, set[str]]

    @classmethod
    def build(cls, split: Split, interactions: InteractionSplit, prompts: PromptConfig) -> TaskData:
        held_out = {
            (x.user, x.item, x.position) for x in (*split.valid.values(), *split.test.values())
        }
        rated = [
            x
            for x in interactions.train
            if (x.rating is not None or x.review) and (x.user, x.item, x.position) not in held_out
        ]
        aspects = item_aspects(rated, split.catalog)
        return cls(
            prompts=prompts,
            sequential=sequential_pairs(split, prompts.max_targets_per_user),
            rated=rated,
            explanations=explanation_targets(rated, aspects),
            aspects=aspects,
            positives=[(u, x.item) for u, events in split.train.items() for x in events],
            histories={u: {x.item for x in events} for u, events in split.train.items()},
        )

    def validation(self, split: Split, interactions: InteractionSplit) -> TaskData:
        """The same tasks' held-out rows, to score a model by its loss on them: the random
        split's validation interactions (rating, explanation, review), minus leave-one-out test
        targets, and the leave-one-out validation targets (sequential: each user's training
        history -> validation item; direct: each validation (user, item) as a positive).
        Explanation targets are picked with the training aspects; nothing here is trained on."""
        test = {(x.user, x.item, x.position) for x in split.test.values()}
        rated = [
            x
            for x in interactions.valid
            if (x.rating is not None or x.review) and (x.user, x.item, x.position) not in test
        ]
        users = [u for u in split.valid if split.train.get(u)]
        return replace(
            self,
            sequential=[([x.item for x in split.train[u]], split.valid[u].item) for u in users],
            rated=rated,
            explanations=explanation_targets(rated, self.aspects),
            positives=[(u, split.valid[u].item) for u in users],
        )

    def corpus(self) -> list[str]:
        """Review text a scratch tokenizer should learn from (summaries, reviews). Fixed
        answers (1..5, yes/no) need no help: they are scored by their full sequence
        probability, however many pieces they take."""
        texts = [x.summary for x in self.rated if x.summary]
        texts += [x.review for x in self.rated if x.review]
        return texts


Builder = Callable[[TaskData, TaskContext, TemplateSet, random.Random, int], list[Example]]


def _sample(rows: Sequence, cap: int, rng: random.Random) -> Sequence:
    return rng.sample(list(rows), cap) if 0 < cap < len(rows) else rows


def _sequential(data, ctx, templates, rng, cap):
    pairs = _sample(data.sequential, cap, rng)
    return sequential_examples(pairs, ctx.index, templates, data.prompts, rng)


def _rating(data, ctx, templates, rng, cap):
    rated = [x for x in data.rated if x.rating is not None]
    return rating_examples(_sample(rated, cap, rng), ctx, templates, rng)


def _explanation(data, ctx, templates, rng, cap):
    return explanation_examples(_sample(data.explanations, cap, rng), ctx, templates, rng)


def _review(data, ctx, templates, rng, cap):
    reviewed = [x for x in data.rated if x.review]
    return review_examples(_sample(reviewed, cap // 2 if cap else 0, rng), ctx, templates, rng)


def _direct(data, ctx, templates, rng, cap):
    # Each positive gives 1 + direct_negatives yes/no examples and one choice example.
    per_positive = 2 + ctx.config.direct_negatives
    positives = _sample(data.positives, -(-cap // per_positive) if cap else 0, rng)
    return direct_examples(positives, data.histories, ctx, templates, rng)


BUILDERS: dict[str, Builder] = {
    "sequential": _sequential,
    "rating": _rating,
    "explanation": _explanation,
    "review": _review,
    "direct": _direct,
}


def task_rng(seed: int, epoch: int, task: str) -> random.Random:
    """Each task draws from its own seeded stream, so adding a task changes no other's data.
    Sequential keeps the stream a sequential-only model has always used."""
    if task == "sequential":
        return random.Random(seed * 7919 + epoch)
    return random.Random(f"{seed}/{epoch}/{task}")


def multitask_examples(
    data: TaskData,
    ctx: TaskContext,
    templates: TemplateSet,
    tasks: Sequence[str],
    weights: Sequence[float],
    seed: int,
    epoch: int,
    max_per_task: int = 0,
) -> list[Example]:
    """One epoch's examples: each task's (at most ``max_per_task``, drawn afresh each epoch),
    with the task's weight as every example's loss weight."""
    if len(weights) != len(tasks):
        raise ValueError(f"{len(weights)} task weights for {len(tasks)} tasks")
    out: list[Example] = []
    for task, weight in zip(tasks, weights, strict=True):
        made = BUILDERS[task](data, ctx, templates, task_rng(seed, epoch, task), max_per_task)
        if not made and epoch == 0:
            logger.warning("task %s has no training examples on this data (skipped)", task)
        out.extend(replace(e, weight=weight) if weight != 1.0 else e for e in made)
    return out

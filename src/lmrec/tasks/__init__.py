"""Task logic: one small function per task family turns data into (prompt, answer) pairs.

Families: sequential (history -> next item), rating (user, item -> 1-5), explanation (user,
item, feature -> a sentence), review (review -> summary / rating) and direct (user, item ->
yes/no; user, candidates -> one item). :mod:`lmrec.tasks.mixture` mixes them for training.
"""

from lmrec.tasks.base import (
    RATING_VALUES,
    UNKNOWN_USER,
    Example,
    PromptConfig,
    TaskConfig,
    TaskContext,
    UserIndex,
    rating_text,
)
from lmrec.tasks.mixture import TASK_FAMILIES, TASKS, TaskData, multitask_examples, parse_tasks
from lmrec.tasks.sequential import (
    history_text,
    sequential_examples,
    sequential_pairs,
    sequential_prompt,
)

__all__ = [
    "RATING_VALUES",
    "TASKS",
    "TASK_FAMILIES",
    "UNKNOWN_USER",
    "Example",
    "PromptConfig",
    "TaskConfig",
    "TaskContext",
    "TaskData",
    "UserIndex",
    "history_text",
    "multitask_examples",
    "parse_tasks",
    "rating_text",
    "sequential_examples",
    "sequential_pairs",
    "sequential_prompt",
]

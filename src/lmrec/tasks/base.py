"""What every task family shares: prompt settings, the training example, multitask settings,
user tokens and the values a prompt is filled with."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lmrec.data.schema import Catalog
from lmrec.indexing import ItemIndex

UNKNOWN_USER = "<user_unk>"
RATING_VALUES = ("1", "2", "3", "4", "5")
YES, NO = "yes", "no"
# The answers of the yes/no prompts in each template language (English where none is listed).
ANSWERS: dict[str, tuple[str, str]] = {"en": (YES, NO), "ar": ("نعم", "لا")}


def yes_no(language: str) -> tuple[str, str]:
    """The words for yes and no that a template in ``language`` expects as answers."""
    return ANSWERS.get(language, (YES, NO))


@dataclass(frozen=True)
class PromptConfig:
    """How prompts are written.

    language: language of the templates (and of item names in name-based prompts).
    max_history: most recent items kept in a prompt; older ones are cut.
    max_targets_per_user: training targets per user and epoch (the most recent positions of
        the training history); 0 uses every position.
    """

    language: str = "en"
    max_history: int = 20
    max_targets_per_user: int = 0


@dataclass(frozen=True)
class Example:
    """One training pair: prompt, answer, the family and template it came from, loss weight.

    ``all_positions`` (decoder-only models only): the example is ``source target`` read as one
    sequence, with no ``</s>`` between, and the loss covers every token of it (each predicted
    from those before it) except ``</s>`` tokens, not just the answer: a whole item sequence
    trains every next-item prediction in it at once (``objective="sequence"``). The trie, not
    the model, decides where an id ends.

    ``token_ids``: an ``all_positions`` example's tokens, tokenised once
    (:func:`lmrec.training.step.with_token_ids`) for a training run that reads the same
    examples every epoch; collating reads them instead of tokenising the text again."""

    source: str
    target: str
    family: str
    template: str
    weight: float = 1.0
    all_positions: bool = False
    token_ids: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TaskConfig:
    """Settings of the non-sequential task families (used only when they are trained).

    max_examples_per_task: examples per task and epoch, drawn afresh each epoch (0 = all).
    split_seed: seed of the random 80/10/10 interaction split for rating/explanation/review.
    user_dropout: share of training prompts whose user token is replaced by ``<user_unk>``,
        so that the model has learned an answer for users it never saw.
    direct_candidates: candidates in a training choose-one prompt (1 true + the rest sampled;
        P5 uses 100; fewer train faster, and evaluation lists any number).
    direct_negatives: sampled "no" examples per "yes" example in the yes/no prompts.
    max_review_words: review text in a prompt is cut to this many words.
    max_answer_tokens: most tokens generated for an explanation or a summary.
    """

    max_examples_per_task: int = 0
    split_seed: int = 0
    user_dropout: float = 0.05
    direct_candidates: int = 100
    direct_negatives: int = 1
    max_review_words: int = 60
    max_answer_tokens: int = 32


class UserIndex:
    """User id -> one added token ``<user_N>``, numbered by first appearance in training data.

    A user with no token (never in training) is written ``<user_unk>``; training replaces a
    share of users by it (``TaskConfig.user_dropout``), so it stands for "a typical user".
    """

    def __init__(self, tokens: Mapping[str, str]):
        self._tokens = dict(tokens)

    @classmethod
    def build(cls, users: Iterable[str]) -> UserIndex:
        return cls({u: f"<user_{n}>" for n, u in enumerate(dict.fromkeys(users), start=1)})

    def __len__(self) -> int:
        return len(self._tokens)

    def __contains__(self, user: object) -> bool:
        return user in self._tokens

    def render(self, user: str | None) -> str:
        return self._tokens.get(user, UNKNOWN_USER) if user is not None else UNKNOWN_USER

    def vocabulary(self) -> list[str]:
        return [*self._tokens.values(), UNKNOWN_USER]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self._tokens, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> UserIndex:
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class TaskContext:
    """What prompts are rendered with: item and user tokens, names, settings."""

    index: ItemIndex
    users: UserIndex
    catalog: Catalog
    config: TaskConfig
    language: str = "en"

    def user(self, user: str | None, rng: random.Random | None = None) -> str:
        """The user's token; in training (``rng`` given) sometimes ``<user_unk>``."""
        if rng is not None and rng.random() < self.config.user_dropout:
            return UNKNOWN_USER
        return self.users.render(user)

    def item(self, item: str) -> dict[str, str]:
        """``{item}`` (the id token) and ``{item_name}`` (the name, else the id token)."""
        token = self.index.render(item)
        entry = self.catalog.get(item)
        name = entry.name_in(self.language) if entry is not None and entry.name else token
        return {"item": token, "item_name": name}

    def review(self, text: str) -> str:
        return " ".join(text.split()[: self.config.max_review_words])


def rating_text(rating: float) -> str:
    """A rating as answer text: the nearest of 1..5."""
    return str(min(5, max(1, round(rating))))

"""What a multitask language model answers besides next items: ratings, yes/no, a choice
among candidates, explanations and review summaries. Mixed into :class:`LMRecommender`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from lmrec.decoding.beam import score_candidates
from lmrec.decoding.text import generate_texts, score_options
from lmrec.prompts.templates import Template
from lmrec.tasks.base import RATING_VALUES, TaskContext, UserIndex, yes_no
from lmrec.tasks.direct import CHOICE_FAMILY, YESNO_FAMILY, choice_prompt, yesno_prompt
from lmrec.tasks.explanation import FAMILY as EXPLANATION_FAMILY
from lmrec.tasks.explanation import explanation_prompt
from lmrec.tasks.rating import FAMILY as RATING_FAMILY
from lmrec.tasks.rating import rating_prompt
from lmrec.tasks.review import RATING_FAMILY as REVIEW_RATING_FAMILY
from lmrec.tasks.review import SUMMARY_FAMILY, review_prompt

TemplateChoice = str | Sequence[str] | None
"""A template id for every case, one id per case, or None for the family's first seen one."""


@dataclass(frozen=True)
class RatingAnswer:
    """A predicted rating.

    rating: the most likely of 1..5 (decoding restricted to the valid ratings).
    expected: the expectation of the rating under the model's probabilities of 1..5
        (renormalised over those five answers): a real number.
    probabilities: p(1) .. p(5), summing to 1.
    """

    rating: int
    expected: float
    probabilities: tuple[float, ...]


class TaskAnswers:
    """Methods for the rating, explanation, review and direct task families."""

    users: UserIndex | None

    def task_context(self) -> TaskContext:
        self._require_fitted()
        users = self.users if self.users is not None else UserIndex({})
        return TaskContext(
            self.index, users, self.catalog, self.config.multitask, self.config.prompts.language
        )

    def _pick(
        self, family: str, template: TemplateChoice, n: int, feature: bool | None = None
    ) -> list[Template]:
        if template is None:
            seen = self.templates.select(family, self.config.prompts.language, unseen=False)
            if feature is not None:
                seen = [t for t in seen if ("feature" in t.placeholders) == feature] or seen
            return [seen[0]] * n
        if isinstance(template, str):
            return [self.templates.get(template)] * n
        if len(template) != n:
            raise ValueError(f"{len(template)} template ids for {n} cases")
        return [self.templates.get(t) for t in template]

    def _batched(self, prompts: list[str], fn: Callable[[list[str]], list], size: int) -> list:
        out: list = []
        for start in range(0, len(prompts), size):
            out.extend(fn(prompts[start : start + size]))
        return out

    def _options(self, prompts: list[str], options: Sequence[str]) -> torch.Tensor:
        size = self.config.inference_batch_size
        parts = [
            score_options(
                self.model,
                self.tokenizer,
                prompts[s : s + size],
                options,
                self.config.train.max_source_length,
            )
            for s in range(0, len(prompts), size)
        ]
        return torch.cat(parts) if parts else torch.zeros(0, len(options))

    def _ratings(self, prompts: list[str]) -> list[RatingAnswer]:
        probs = torch.softmax(self._options(prompts, RATING_VALUES), dim=-1)
        values = torch.arange(1, 6, dtype=torch.float)
        return [
            RatingAnswer(int(p.argmax()) + 1, float((p * values).sum()), tuple(p.tolist()))
            for p in probs
        ]

    def rate(
        self, users: Sequence[str | None], items: Sequence[str], template: TemplateChoice = None
    ) -> list[RatingAnswer]:
        """The rating each user would give each item (unknown users read ``<user_unk>``)."""
        ctx = self.task_context()
        chosen = self._pick(RATING_FAMILY, template, len(items))
        prompts = [
            rating_prompt(u, i, ctx, t) for u, i, t in zip(users, items, chosen, strict=True)
        ]
        return self._ratings(prompts)

    def like(
        self, users: Sequence[str | None], items: Sequence[str], template: TemplateChoice = None
    ) -> list[float]:
        """P("yes") for "will this user like this item?", renormalised over yes/no."""
        ctx = self.task_context()
        chosen = self._pick(YESNO_FAMILY, template, len(items))
        prompts = [yesno_prompt(u, i, ctx, t) for u, i, t in zip(users, items, chosen, strict=True)]
        result = [0.0] * len(prompts)
        for language in {t.language for t in chosen}:
            rows = [r for r, t in enumerate(chosen) if t.language == language]
            scores = self._options([prompts[r] for r in rows], yes_no(language))
            for r, p in zip(rows, torch.softmax(scores, dim=-1)[:, 0].tolist(), strict=True):
                result[r] = p
        return result

    def choose(
        self,
        users: Sequence[str | None],
        candidates: Sequence[Sequence[str]],
        template: TemplateChoice = None,
    ) -> list[list[float]]:
        """Log-likelihood of each candidate (listed in the prompt, in the order given) being
        the one to recommend; rank candidates by it."""
        ctx = self.task_context()
        chosen = self._pick(CHOICE_FAMILY, template, len(candidates))
        prompts = [
            choice_prompt(u, c, ctx, t) for u, c, t in zip(users, candidates, chosen, strict=True)
        ]
        size = max(1, self.config.inference_batch_size // 4)
        out: list[list[float]] = []
        for s in range(0, len(prompts), size):
            out.extend(
                score_candidates(
                    self.model,
                    self.tokenizer,
                    self.trie,
                    prompts[s : s + size],
                    candidates[s : s + size],
                    self.config.train.max_source_length,
                )
            )
        return out

    def _generate(self, prompts: list[str], num_beams: int = 1) -> list[str]:
        banned = self.tokenizer.convert_tokens_to_ids(
            self.index.vocabulary() + (self.users.vocabulary() if self.users else [])
        )
        cfg = self.config
        return self._batched(
            prompts,
            lambda chunk: generate_texts(
                self.model,
                self.tokenizer,
                chunk,
                banned,
                cfg.multitask.max_answer_tokens,
                num_beams,
                cfg.train.max_source_length,
            ),
            cfg.inference_batch_size,
        )

    def explain(
        self,
        users: Sequence[str | None],
        items: Sequence[str],
        features: Sequence[str | None] | None = None,
        template: TemplateChoice = None,
        num_beams: int = 1,
    ) -> list[str]:
        """A sentence on why each user would like each item, about ``features`` if given."""
        ctx = self.task_context()
        feats = list(features) if features is not None else [None] * len(items)
        chosen = self._pick(EXPLANATION_FAMILY, template, len(items), feature=all(feats))
        prompts = [
            explanation_prompt(u, i, f, ctx, t)
            for u, i, f, t in zip(users, items, feats, chosen, strict=True)
        ]
        return self._generate(prompts, num_beams)

    def summarize(
        self,
        reviews: Sequence[str],
        users: Sequence[str | None] | None = None,
        template: TemplateChoice = None,
        num_beams: int = 1,
    ) -> list[str]:
        """A short summary (title) of each review."""
        ctx = self.task_context()
        who = list(users) if users is not None else [None] * len(reviews)
        chosen = self._pick(SUMMARY_FAMILY, template, len(reviews))
        prompts = [
            review_prompt(r, u, ctx, t) for r, u, t in zip(reviews, who, chosen, strict=True)
        ]
        return self._generate(prompts, num_beams)

    def rate_review(
        self, reviews: Sequence[str], template: TemplateChoice = None
    ) -> list[RatingAnswer]:
        """The star rating that goes with each review text."""
        ctx = self.task_context()
        chosen = self._pick(REVIEW_RATING_FAMILY, template, len(reviews))
        prompts = [review_prompt(r, None, ctx, t) for r, t in zip(reviews, chosen, strict=True)]
        return self._ratings(prompts)

"""Per-epoch validation pieces shared by the language-model and named-items recommenders: which
users validate, the NDCG@10 of their rankings, a recommender scoring with the weights in
training; and the held-out loss of a multitask mixture without the sequential task."""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Sequence
from typing import TypeVar

from lmrec.data.split import Split
from lmrec.metrics.ranking import ndcg_at_k
from lmrec.recommenders.base import Scored
from lmrec.tasks import TaskContext, TaskData, multitask_examples
from lmrec.training.config import TrainConfig
from lmrec.training.loop import Validator
from lmrec.training.step import evaluation_losses

__all__ = [
    "candidate_ndcg_validator",
    "loss_validator",
    "ndcg10_scores",
    "validation_users",
    "with_model",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def validation_users(split: Split, config: TrainConfig) -> list[str]:
    """Users with a validation event and a training history, in split order; at most
    ``config.max_valid_users`` of them (0 = all), sampled with ``config.seed``."""
    users = [u for u in split.valid if split.train.get(u)]
    if config.max_valid_users and len(users) > config.max_valid_users:
        users = random.Random(config.seed).sample(users, config.max_valid_users)
    return users


def ndcg10_scores(ranked: Sequence[Sequence[Scored]], targets: Sequence[str]) -> list[float]:
    """Each ranking's NDCG@10 for its one target item."""
    return [ndcg_at_k([s.item for s in r], t, 10) for r, t in zip(ranked, targets, strict=True)]


def with_model(recommender: T, model: object) -> T:
    """A shallow copy of ``recommender`` that scores with ``model`` (the weights being trained,
    which the training loop hands to its validator), leaving ``recommender`` itself as it was."""
    clone = copy.copy(recommender)
    clone.model = model
    return clone


def loss_validator(recommender, held_out: TaskData, ctx: TaskContext) -> Validator | None:
    """A mixture without the sequential task is validated by its loss on held-out examples of
    its own tasks (``held_out``, from :meth:`TaskData.validation`): one fixed set, drawn once
    (seeded), at most ``max_valid_users`` examples per task; the score is minus each example's
    mean answer-token loss. None when there is nothing held out."""
    cfg = recommender.config
    examples = multitask_examples(
        held_out,
        ctx,
        recommender.templates,
        cfg.tasks,
        (1.0,) * len(cfg.tasks),
        cfg.train.seed,
        -1,
        cfg.train.max_valid_users,
    )
    if not examples:
        return None
    logger.info("validation: loss on %d held-out examples", len(examples))

    def validate(model, shard: slice) -> list[float]:
        losses = evaluation_losses(
            model, recommender.tokenizer, examples[shard], cfg.train.max_source_length
        )
        return [-x for x in losses]

    return validate


def candidate_ndcg_validator(recommender, split: Split) -> Validator | None:
    """NDCG@10 of each validation user in a process's share, for a recommender that lists
    candidates in its prompt (the named-items one); None when no user validates."""
    cfg = recommender.config
    valid_users = validation_users(split, cfg.train)
    if not valid_users:
        return None

    def validate(model, shard: slice) -> list[float]:
        rng = random.Random(cfg.candidate_seed)
        # Candidates are drawn for every user in order, so a user's list is the same
        # whichever process scores it.
        targets = [split.valid[u].item for u in valid_users]
        candidates = [recommender.sample_candidates(rng, t) for t in targets]
        histories = [split.train_items(u) for u in valid_users[shard]]
        ranked = with_model(recommender, model).recommend(
            histories, k=10, exclude_seen=cfg.valid_exclude_seen, candidates=candidates[shard]
        )
        return ndcg10_scores(ranked, targets[shard])

    return validate

"""What ``lmrec train`` trains when no model option says otherwise: the recommended
configuration, the one measured best (``benchmarks/results/sequential``), or the P5-style model
where the user asks for something only that one does.

The recommended configuration is a LLaMA-style decoder trained from scratch on the item ids
(``scratch:llama-tiny``, ``objective="sequence"``, dropout 0.5, one-token sequential ids, the
last 50 items of a history), SASRec's training with LLaMA blocks, and, when the catalogue has
text, each item's text through the frozen sentence encoder (``item_representation="ids+text"``,
:func:`with_item_text`; on ML-100K it lifted test NDCG@10 from .0508 to .0604,
``benchmarks/results/knowledge``). It ranks the next item; it cannot answer the other P5 task
families, read typed events, train on a stream or use whole-word embeddings. Asking for one of
those (or naming a model, an objective or an index of one's own) keeps the P5-style defaults
of :class:`~lmrec.recommenders.config.LMConfig`, and :func:`training_base` says why in one
line.

Epochs and early stopping follow the size of the log (:func:`recommended_epochs`,
:func:`recommended_patience`); the epoch with the best validation NDCG@10 is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lmrec.data.schema import Catalog
from lmrec.text.additions import has_text

if TYPE_CHECKING:
    from lmrec.recommenders.config import LMConfig

__all__ = [
    "RECOMMENDED",
    "SMALL_LOG_USERS",
    "TEXT_SHARE",
    "describe_choice",
    "recommended_epochs",
    "recommended_patience",
    "with_schedule",
    "text_share",
    "training_base",
    "with_item_text",
]

RECOMMENDED: dict[str, Any] = {
    "model": "scratch:llama-tiny",
    "objective": "sequence",
    "dropout": 0.5,
    "index": {"strategy": "sequential", "style": "single"},
    "prompts": {"max_history": 50},
    "train": {
        "batch_size": 64,
        "learning_rate": 3e-3,
        "max_source_length": 400,
        # Validation on up to 5,000 sampled users (one forward pass each with one-token ids, a
        # few seconds) and patience 20: on full Beauty, 1,000 users and patience 10 stopped the
        # 70-epoch schedule at epoch 31 on noise (test NDCG@10 .0365 against .0421 run to the
        # end; NDCG@10 over 1,000 users moves by ~.005 between epochs). From SMALL_LOG_USERS
        # users no patience: recommended_patience.
        "patience": 20,
        "max_valid_users": 5000,
    },
}
"""The recommended configuration, as the nested fields of an LMConfig it sets."""

TEXT_SHARE = 0.5
"""The recommended configuration reads item text when at least this share of the catalogue's
items has some (:func:`with_item_text`)."""

SMALL_LOG_USERS = 5000
"""Logs with fewer users train for more epochs (:func:`recommended_epochs`)."""

# Options the recommended configuration cannot honour, with the words that say why not.
_P5_ONLY: dict[str, str] = {
    "model": "a model was named",
    "objective": "an objective was named",
    "tasks": "task families were asked for",
    "task_weights": "task weights were asked for",
    "multitask": "multitask settings were asked for",
    "events": "typed events were asked for",
    "whole_word": "whole-word embeddings were asked for",
    "lora": "LoRA was asked for",
    "quantization": "quantization was asked for",
    "template": "a prompt template was named",
}
# Index fields that still give one-token ids the recommended configuration reads (``--seed``
# sets index.seed too; the item text is read by text modes).
_ONE_TOKEN_INDEX = {"seed", "item_text", "embedding"}


def recommended_epochs(users: int) -> int:
    """The recommended configuration's most epochs for a log of ``users`` users: 60 under
    :data:`SMALL_LOG_USERS` (the built-in shop peaks near 60), 70 from there (full Beauty was
    still improving at 70; more would not fit a 2-core session)."""
    return 60 if users < SMALL_LOG_USERS else 70


def recommended_patience(users: int) -> int:
    """The recommended configuration's early-stopping patience for a log of ``users`` users:
    20 validations under :data:`SMALL_LOG_USERS`, where the best epoch comes early (the built-in
    shop's at 12 of 60); none from there: every planned epoch runs and the best one is kept.
    The learning rate decays to zero over the epochs and large logs peak late in that decay
    (full Beauty at epochs 56-62 of 70), after a plateau where one high validation score can
    stand for 20 epochs: with seed 1, patience 20 stopped full Beauty at epoch 43 on a score
    at epoch 23 (test NDCG@10 .0410, against .0428 run through, best epoch 62;
    ``benchmarks/results/knowledge/knowledge-beauty-seed1*.md``)."""
    return RECOMMENDED["train"]["patience"] if users < SMALL_LOG_USERS else 0


def with_schedule(config: LMConfig, users: int, asked: Mapping[str, Any]) -> LMConfig:
    """``config`` with the recommended epochs and patience for a log of ``users`` users, each
    unless ``asked`` (the options given, nested) names it."""
    train = asked.get("train", {})
    schedule = {
        "epochs": recommended_epochs(users),
        "patience": recommended_patience(users),
    }
    schedule = {name: value for name, value in schedule.items() if name not in train}
    return replace(config, train=replace(config.train, **schedule))


def training_base(asked: Mapping[str, Any], streaming: bool = False) -> tuple[dict, str | None]:
    """The fields to put under the options ``asked`` (a nested dict of the options given):
    the recommended configuration's, or none with the reason the P5-style model is kept
    (the first option that asks for it)."""
    if streaming:
        return {}, "training on a stream was asked for"
    for key, reason in _P5_ONLY.items():
        if key in asked:
            return {}, reason
    index = dict(asked.get("index", {}))
    if index.get("strategy", "sequential") in ("sequential", "random"):
        index.pop("strategy", None)
    if index.get("style", "single") == "single":
        index.pop("style", None)
    if set(index) - _ONE_TOKEN_INDEX:
        return {}, "item ids other than one token per item were asked for"
    return _copy(RECOMMENDED), None


def text_share(catalog: Catalog, template: str) -> float:
    """The share of ``catalog``'s items with text for ``template`` (a field besides the id)."""
    items = list(catalog.values())
    return sum(has_text(item, template) for item in items) / len(items) if items else 0.0


def with_item_text(config: LMConfig, catalog: Catalog, asked: Mapping[str, Any]) -> LMConfig:
    """The recommended configuration on ``catalog``: item ids plus item text
    (``item_representation="ids+text"``) when at least :data:`TEXT_SHARE` of the items have
    text and no representation was asked for; ids alone otherwise."""
    if "item_representation" in asked:
        return config
    if text_share(catalog, config.index.item_text.template) < TEXT_SHARE:
        return config
    return replace(config, item_representation="ids+text")


def describe_choice(config: LMConfig, why_not: str | None, from_file: bool = False) -> str:
    """One line that says which model a run trains: the recommended configuration, the one a
    run file gives, or the P5-style one and why."""
    epochs = config.train.epochs
    plural = "s" * (epochs != 1)
    span = f"{epochs} epoch{plural}"
    span = f"at most {span}" if config.train.patience else f"{span}, the best kept"
    model = f"{config.model}, objective {config.objective}, {span}"
    if from_file:
        return f"model: {model}, as the run file says"
    if why_not is None:
        text = "item ids + item text" if config.item_representation != "ids" else "item ids"
        return f"model: the recommended configuration ({model}, dropout {config.dropout}, {text})"
    return f"model: {model} (not the recommended configuration: {why_not})"


def _copy(fields: Mapping[str, Any]) -> dict:
    return {k: _copy(v) if isinstance(v, Mapping) else v for k, v in fields.items()}

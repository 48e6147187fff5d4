"""The two language models of the languages study: the named-items model (names in, a name out)
and the id model (language-free id tokens), each fitted on one task in one language."""

from __future__ import annotations

import time
from collections.abc import Sequence

from benchmarks.languages.tasks import Task
from lmrec.backbone.tokenizer import unknown_token_rate
from lmrec.baselines import ItemKNNRecommender
from lmrec.indexing import IndexConfig
from lmrec.recommenders.hybrid import fuse
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.recommenders.named import NamedConfig, NamedItemsRecommender
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig


def train_config(epochs: int, seed: int) -> TrainConfig:
    return TrainConfig(
        epochs=epochs,
        batch_size=16,
        learning_rate=3e-3,
        patience=0,
        max_valid_users=100,
        seed=seed,
        progress=False,
        max_source_length=512,
    )


def tokenizer_stats(tokenizer, names: Sequence[str]) -> dict:
    tokens = [len(tokenizer(n, add_special_tokens=False).input_ids) for n in names]
    return {
        "unk_rate_names": unknown_token_rate(tokenizer, names),
        "tokens_per_name": round(sum(tokens) / len(tokens), 2),
    }


def run_named(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """Fit the named-items model on one task; its rank-ordered answers per test history."""
    return fit_named(task, language, args, epochs, data)[0]


def run_named_knn(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """The named model's rows, plus 'named+item-kNN': each candidate list ranked by the named
    model's score of a name (its total log-probability, as 'named-scored') fused with item-kNN's
    similarity to the history (:func:`lmrec.recommenders.hybrid.fuse`: both standardised over the
    list,
    weight ``--fuse-weight`` on the language model, fixed, not tuned: T5-P5 has no validation
    rows). Both stages train on the same rows."""
    out, model = fit_named(task, language, args, epochs, data)
    if not task.candidates:
        return out
    started = time.perf_counter()
    knn = ItemKNNRecommender().fit(task.split)
    knn_seconds = time.perf_counter() - started
    ranked = fuse(
        task.candidates,
        knn.score(task.histories, task.candidates),
        model.score(task.histories, task.candidates),
        weight=args.fuse_weight,
        k=5,
    )
    common = {k: v for k, v in out["named"].items() if k not in ("protocol", "rankings")}
    common["train_seconds"] += knn_seconds
    out["named+item-kNN"] = {
        "protocol": "sampled candidates",
        "rankings": [[s.item for s in r] for r in ranked],
        **common,
    }
    return out


def fit_named(
    task: Task, language: str, args, epochs: int, data: str
) -> tuple[dict, NamedItemsRecommender]:
    config = NamedConfig(
        model=args.model,
        language=language,
        max_history=args.max_history,
        max_targets_per_user=args.max_targets[data],
        max_prompt_candidates=args.max_prompt_candidates,
        num_candidates=args.candidates,
        candidate_seed=args.seed,
        num_beams=args.named_beams,
        train=train_config(epochs, args.seed),
        tokenizer=args.tokenizer,
        target_word_order=args.named_word_order,
        isolate_separators=args.isolate_separators,
    )
    started = time.perf_counter()
    model = NamedItemsRecommender(config).fit(task.split)
    trained = time.perf_counter() - started
    ranked = model.recommend(
        task.histories, k=5, exclude_seen=task.exclude_seen, candidates=task.candidates
    )
    common = {
        **tokenizer_stats(model.tokenizer, list(model.names.values())),
        "train_seconds": trained,
    }
    out = {
        "named": {
            "protocol": "sampled candidates" if task.candidates else "all items ranked",
            "rankings": [[s.item for s in r] for r in ranked],
            **common,
        }
    }
    if task.candidates:
        out.update(rescored_named(model, task, common))
    return out, model


def rescored_named(model: NamedItemsRecommender, task: Task, common: dict) -> dict:
    """The named model's candidate lists scored exhaustively (each candidate's name given the
    prompt, teacher-forced): by the name's total log-probability, which beam search maximises,
    and by its log-probability per token, which does not favour names of fewer tokens."""
    totals = model.score(task.histories, task.candidates)
    out = {}
    for label, per_token in (("named-scored", False), ("named-per-token", True)):
        rankings = []
        for scores, cands in zip(totals, task.candidates, strict=True):
            keyed = [
                (s / len(model.trie.tokens(c)) if per_token else s, c)
                for s, c in zip(scores, cands, strict=True)
            ]
            rankings.append([c for _, c in sorted(keyed, key=lambda p: -p[0])][:5])
        out[label] = {"protocol": "sampled candidates", "rankings": rankings, **common}
    return out


def run_ids(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """Fit the id model on one task; its answers over all items and over the candidate lists."""
    config = LMConfig(
        model=args.model,
        index=IndexConfig(strategy="sequential"),
        prompts=PromptConfig(
            language=language,
            max_history=args.max_history,
            max_targets_per_user=args.max_targets[data],
        ),
        train=train_config(epochs, args.seed),
        tokenizer=args.tokenizer,
    )
    started = time.perf_counter()
    model = LMRecommender(config).fit(task.split)
    trained = time.perf_counter() - started
    names = [task.split.catalog.name(i, language) for i in task.split.catalog]
    ranked = model.recommend(task.histories, k=5, exclude_seen=task.exclude_seen)
    common = {**tokenizer_stats(model.tokenizer, names), "train_seconds": trained}
    out = {
        "ids": {
            "protocol": "all items ranked",
            "rankings": [[s.item for s in r] for r in ranked],
            **common,
        }
    }
    if task.candidates:
        scores = model.score(task.histories, task.candidates)
        out["ids-sampled"] = {
            "protocol": "sampled candidates",
            "rankings": [
                [c for _, c in sorted(zip(s, cands, strict=True), key=lambda p: -p[0])]
                for s, cands in zip(scores, task.candidates, strict=True)
            ],
            **common,
        }
    return out

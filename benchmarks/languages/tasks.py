"""The data of the languages study: each data set in Arabic and English under one split."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from benchmarks import harness
from lmrec.data.schema import Catalog, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.data.t5p5 import arabic_by_hand

LANGUAGES = ("ar", "en")


@dataclass
class Task:
    """One data set in one language: training split, test histories and targets."""

    split: Split
    histories: list[list[str]]
    targets: list[str]
    exclude_seen: bool
    candidates: list[list[str]] | None  # sampled candidate lists (None: all items ranked)
    groups: Mapping[str, str] | None = None  # item -> the label both languages agree on


def dedupe(items: Sequence[str | None]) -> list[str]:
    return [i for i in dict.fromkeys(items) if i is not None]


def sample_candidates(
    rng: random.Random, items: Sequence[str], history: Sequence[str], target: str, n: int
) -> list[str]:
    """1 true + n-1 items outside the history, shuffled."""
    pool = [i for i in items if i != target and i not in history]
    chosen = [target, *rng.sample(pool, min(n - 1, len(pool)))]
    rng.shuffle(chosen)
    return chosen


def t5p5_tasks(
    seed: int, folds: int, n_candidates: int, max_targets: int, hand_arabic: bool = False
) -> tuple[list[dict[str, Task]], dict]:
    """Both languages of the T5-P5 set in ``folds`` folds of rows (the same folds in both
    languages): fold f tests rows ``order[f::folds]`` of one seeded shuffle and trains on the
    rest, so every row is a test row exactly once. Each training row gives its last
    ``max_targets`` (prefix -> next item) pairs; each test row one candidate list (1 true + n-1
    items outside its history, drawn by a generator seeded by the seed and the row, so the two
    languages draw alike).

    By default the Arabic side comes from the Arabic file (its own items; scored on the shared
    item groups too); ``hand_arabic`` renames the English rows with the hand-written names of
    :data:`lmrec.data.t5p5.ARABIC_NAMES`, so both languages have the same items and rows."""
    data = harness.load("t5p5")
    parsed_languages = dict(data.languages)
    if hand_arabic:
        parsed_languages["ar"] = arabic_by_hand(data.languages["en"])
    n_rows = len(data.languages["en"].rows)
    order = list(range(n_rows))
    random.Random(seed).shuffle(order)
    fold_tasks = []
    for fold in range(folds):
        test_rows = sorted(order[fold::folds])
        train_rows = sorted(set(order) - set(test_rows))
        tasks = {}
        for language in LANGUAGES:
            parsed = parsed_languages[language]
            ids = list(dict.fromkeys(parsed.catalog_names.values()))
            catalog = Catalog(
                Item(id=i, name=i, language=language, names={language: i}) for i in ids
            )
            train: dict[str, list[Interaction]] = {}
            for r in train_rows:
                row = parsed.rows[r]
                items = [*dedupe(row.history_ids), row.next_id]
                train[f"row{r}"] = [
                    Interaction(f"row{r}", item, float(t), position=t)
                    for t, item in enumerate(items)
                ]
            split = Split(train=train, valid={}, test={}, catalog=catalog, name=f"t5p5-{language}")
            histories = [dedupe(parsed.rows[r].history_ids) for r in test_rows]
            targets = [parsed.rows[r].next_id for r in test_rows]
            candidates = [
                sample_candidates(random.Random(f"{seed}:{r}"), ids, h, t, n_candidates)
                for r, h, t in zip(test_rows, histories, targets, strict=True)
            ]
            groups = None if hand_arabic else data.item_groups[language]
            tasks[language] = Task(split, histories, targets, False, candidates, groups)
        fold_tasks.append(tasks)
    info = {
        "rows": n_rows,
        "folds": folds,
        "training_targets_per_row": max_targets,
        "items": {lang: len(fold_tasks[0][lang].split.catalog) for lang in LANGUAGES},
        "match_rate": {lang: round(parsed_languages[lang].match_rate, 4) for lang in LANGUAGES},
        "arabic_names": "written by hand (lmrec.data.t5p5.ARABIC_NAMES)" if hand_arabic else "file",
    }
    if not hand_arabic:
        info["shared_item_groups"] = len(set(data.item_groups["en"].values()))
    return fold_tasks, info


def shop_tasks(n_users: int, seed: int, n_candidates: int) -> tuple[list[dict[str, Task]], dict]:
    """The built-in shop: one leave-one-out split, named in Arabic or in English."""
    shop = harness.load("shop", shop_users=n_users, seed=seed)
    split = leave_one_out_split(shop.select(first_only=True))
    users = list(split.test)
    histories = [[x.item for x in split.history(u, "test")] for u in users]
    targets = [split.test[u].item for u in users]
    rng = random.Random(seed)
    items = list(split.catalog)
    candidates = [
        sample_candidates(rng, items, h, t, n_candidates)
        for h, t in zip(histories, targets, strict=True)
    ]
    tasks = {
        lang: Task(split, histories, targets, exclude_seen=True, candidates=candidates)
        for lang in LANGUAGES
    }
    info = {"users": n_users, "test_users": len(users), "items": len(split.catalog)}
    return [tasks], info

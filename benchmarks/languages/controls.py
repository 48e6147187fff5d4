"""The languages study's controls: item-kNN, which never reads a name; name overlap, which reads
only names; and a tokenizer that never saw Arabic."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence

from benchmarks.languages.tasks import Task
from lmrec.backbone.tokenizer import build_tokenizer, unknown_token_rate
from lmrec.baselines import ItemKNNRecommender
from lmrec.prompts.templates import load_templates
from lmrec.text.arabic import normalize_name


def run_knn(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """A control without language: item-kNN over the same rows (it never reads a name). The
    Arabic/English ratio it gets is what the data alone allows."""
    started = time.perf_counter()
    model = ItemKNNRecommender().fit(task.split)
    trained = time.perf_counter() - started
    n_items = len(task.split.catalog)
    ranked = model.recommend(task.histories, k=n_items, exclude_seen=task.exclude_seen)
    orders = [[s.item for s in r] for r in ranked]
    common = {"unk_rate_names": 0.0, "tokens_per_name": 0.0, "train_seconds": trained}
    out = {"item-kNN": {"protocol": "all items ranked", "rankings": [o[:5] for o in orders]}}
    out["item-kNN"].update(common)
    if task.candidates:
        rankings = on_candidates(orders, task.candidates)
        out["item-kNN-sampled"] = {"protocol": "sampled candidates", "rankings": rankings}
        out["item-kNN-sampled"].update(common)
    return out


def on_candidates(orders: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]]):
    """Each candidate list in the order of its row's all-item ranking (top 5; an item the
    ranking left out, such as one of the history, goes last)."""
    rankings = []
    for order, cands in zip(orders, candidates, strict=True):
        place = {item: r for r, item in enumerate(order)}
        rankings.append(sorted(cands, key=lambda c: place.get(c, len(place)))[:5])
    return rankings


def run_overlap(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """A control that reads only names, on the candidate lists: each candidate scores the
    words its name shares with the history's names (normalised,
    :func:`~lmrec.text.arabic.normalize_name`), each word weighted by its inverse document
    frequency over the catalogue's names and by how often the history names it; ties are
    broken at random (seeded by the seed and the row). No training. The Arabic/English ratio
    it gets is how much the names themselves tell in each language."""
    items = list(task.split.catalog)
    # Sorted, so that every process sums a name's weights in one order (a set's order
    # follows the string hash seed) and equal sums tie exactly.
    words = {i: sorted(set(normalize_name(task.split.catalog.name(i, language), language).split()))
             for i in items}  # fmt: skip
    counts = Counter(w for ws in words.values() for w in ws)
    idf = {w: math.log(len(items) / c) for w, c in counts.items()}
    rankings = []
    for row, (history, cands) in enumerate(zip(task.histories, task.candidates, strict=True)):
        named = Counter(w for i in history for w in words[i])
        rng = random.Random(f"{args.seed}:{row}")
        keyed = [(-sum(idf[w] * named[w] for w in words[c]), rng.random(), c) for c in cands]
        rankings.append([c for *_, c in sorted(keyed)][:5])
    return {
        "name-overlap": {
            "protocol": "sampled candidates",
            "rankings": rankings,
            "unk_rate_names": 0.0,
            "tokens_per_name": 0.0,
            "train_seconds": 0.0,
        }
    }


def english_only_tokenizer_unk(tasks: dict[str, Task]) -> float:
    """What the failed set-up had: a tokenizer that never saw Arabic, on the Arabic names."""
    templates = [t.source for t in load_templates().templates if t.language == "en"]
    en_names = [tasks["en"].split.catalog.name(i, "en") for i in tasks["en"].split.catalog]
    tokenizer = build_tokenizer(templates + en_names, 1000)
    ar_names = [tasks["ar"].split.catalog.name(i, "ar") for i in tasks["ar"].split.catalog]
    return unknown_token_rate(tokenizer, ar_names)

"""Issue 6's benchmark: does lmrec work the same in Arabic as in English, without collapse?

Data sets, each in Arabic and in English under the same split and seed:

- **t5p5**: the shared English/Arabic sports set (``../shared/data/sports_equipment_t5p5``), the
  two files aligned row by row. Rows have no user: each row is one history -> next item. The
  rows are cut into 5 folds by a seeded shuffle, the *same* folds in both languages, and each
  fold is tested once by a model trained on the other four, so all 121 rows are test rows.
  Each language has its own catalogue of names parsed from its own file (``lmrec.data.t5p5``).
  The history is not excluded (the translated Arabic rows sometimes name the target in it).
- **t5p5-hand** (``--datasets t5p5-hand``): the same folds and English rows, with the Arabic
  side the English rows renamed by hand-written Arabic names (``lmrec.data.t5p5.ARABIC_NAMES``),
  so both languages have the same items and interactions and a gap is the language's alone.
- **shop**: the built-in sports shop (``make_sportshop(n_users).select(first_only=True)``),
  leave-one-out, with each item's English and Arabic name. History excluded.

All: the named-items model lists 1 true + N-1 sampled candidates outside the history in its
prompt (drawn alike in both languages) and may only answer one of them; the id model ranks all
items ("ids") and scores the same candidate lists ("ids-sampled").

Two models: the named-items model (``lmrec.recommenders.named``: names in, a name out, decoded
through a trie
of the names) and the id model (``lmrec.recommenders.lm.LMRecommender``: language-free id tokens,
only the
template language differs). Both are scratch T5s (``scratch:tiny``) with tokenizers trained on
the data. Reported per run: HR@1, HR@5, the number of distinct items at rank 1 across the test
histories and the entropy of that rank-1 distribution (bits), and the unknown-token rate and
tokens per name of the tokenizer on the catalogue names; per pair, the Arabic/English ratios
and whether Arabic reaches 90% of English (distinct items, HR@1, HR@5).

Controls and a hybrid (``--models``): item-kNN, which never reads a name; name overlap, which
reads only names; and ``named+item-knn``, the named model's score of each candidate fused with
item-kNN's (:func:`lmrec.recommenders.hybrid.fuse`, fixed ``--fuse-weight``).

    .venv/bin/python benchmarks/languages.py            # the run of record (~45 min, 1 thread)
    .venv/bin/python benchmarks/languages.py --quick    # a smoke run

Writes benchmarks/results/languages[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from lmrec.backbone.tokenizer import build_tokenizer, unknown_token_rate
from lmrec.baselines import ItemKNNRecommender
from lmrec.data.schema import Catalog, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.data.sportshop import make_sportshop
from lmrec.data.t5p5 import arabic_by_hand, load_t5p5
from lmrec.indexing import IndexConfig
from lmrec.prompts.templates import load_templates
from lmrec.recommenders.hybrid import fuse
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.recommenders.named import WORD_ORDERS, NamedConfig, NamedItemsRecommender
from lmrec.tasks import PromptConfig
from lmrec.text.arabic import normalize_name
from lmrec.training.loop import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sports_equipment_t5p5"
OUT = ROOT / "benchmarks" / "results"
LANGUAGES = ("ar", "en")
TARGET_RATIO = 0.9


@dataclass
class Task:
    """One data set in one language: training split, test histories and targets."""

    split: Split
    histories: list[list[str]]
    targets: list[str]
    exclude_seen: bool
    candidates: list[list[str]] | None  # sampled candidate lists (None: all items ranked)
    groups: Mapping[str, str] | None = None  # item -> the label both languages agree on


# ---------------------------------------------------------------------------- data
def _dedupe(items: Sequence[str | None]) -> list[str]:
    return [i for i in dict.fromkeys(items) if i is not None]


def _sample_candidates(
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
    data = load_t5p5(DATA)
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
                items = [*_dedupe(row.history_ids), row.next_id]
                train[f"row{r}"] = [
                    Interaction(f"row{r}", item, float(t), position=t)
                    for t, item in enumerate(items)
                ]
            split = Split(train=train, valid={}, test={}, catalog=catalog, name=f"t5p5-{language}")
            histories = [_dedupe(parsed.rows[r].history_ids) for r in test_rows]
            targets = [parsed.rows[r].next_id for r in test_rows]
            candidates = [
                _sample_candidates(random.Random(f"{seed}:{r}"), ids, h, t, n_candidates)
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
    split = leave_one_out_split(make_sportshop(n_users=n_users, seed=seed).select(first_only=True))
    users = list(split.test)
    histories = [[x.item for x in split.history(u, "test")] for u in users]
    targets = [split.test[u].item for u in users]
    rng = random.Random(seed)
    items = list(split.catalog)
    candidates = [
        _sample_candidates(rng, items, h, t, n_candidates)
        for h, t in zip(histories, targets, strict=True)
    ]
    tasks = {
        lang: Task(split, histories, targets, exclude_seen=True, candidates=candidates)
        for lang in LANGUAGES
    }
    info = {"users": n_users, "test_users": len(users), "items": len(split.catalog)}
    return [tasks], info


# ---------------------------------------------------------------------------- metrics
def rank_metrics(rankings: Sequence[Sequence[str]], targets: Sequence[str]) -> dict:
    """HR@1, HR@5, distinct items at rank 1 and the entropy (bits) of rank 1."""
    n = len(targets)
    top1 = Counter(r[0] for r in rankings if r)
    entropy = -sum(c / n * math.log2(c / n) for c in top1.values()) + 0.0  # no "-0.0"
    return {
        "hr1": sum(bool(r) and r[0] == t for r, t in zip(rankings, targets, strict=True)) / n,
        "hr5": sum(t in r[:5] for r, t in zip(rankings, targets, strict=True)) / n,
        "distinct_top1": len(top1),
        "top1_entropy_bits": round(entropy, 4),
        "most_common_top1_share": round(top1.most_common(1)[0][1] / n, 4) if top1 else 0.0,
        "n": n,
    }


def tokenizer_stats(tokenizer, names: Sequence[str]) -> dict:
    tokens = [len(tokenizer(n, add_special_tokens=False).input_ids) for n in names]
    return {
        "unk_rate_names": unknown_token_rate(tokenizer, names),
        "tokens_per_name": round(sum(tokens) / len(tokens), 2),
    }


# ---------------------------------------------------------------------------- models
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


def run_named(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """Fit the named-items model on one task; its rank-ordered answers per test history."""
    return _fit_named(task, language, args, epochs, data)[0]


def run_named_knn(task: Task, language: str, args, epochs: int, data: str) -> dict:
    """The named model's rows, plus 'named+item-kNN': each candidate list ranked by the named
    model's score of a name (its total log-probability, as 'named-scored') fused with item-kNN's
    similarity to the history (:func:`lmrec.recommenders.hybrid.fuse`: both standardised over the
    list,
    weight ``--fuse-weight`` on the language model, fixed, not tuned: T5-P5 has no validation
    rows). Both stages train on the same rows."""
    out, model = _fit_named(task, language, args, epochs, data)
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


def _fit_named(
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
        rankings = _on_candidates(orders, task.candidates)
        out["item-kNN-sampled"] = {"protocol": "sampled candidates", "rankings": rankings}
        out["item-kNN-sampled"].update(common)
    return out


def _on_candidates(orders: Sequence[Sequence[str]], candidates: Sequence[Sequence[str]]):
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


RUNNERS = {
    "named": run_named,
    "named+item-knn": run_named_knn,
    "ids": run_ids,
    "item-knn": run_knn,
    "name-overlap": run_overlap,
}


def pooled(parts: Sequence[dict], targets: Sequence[str], epochs: int) -> dict:
    """One model's result over all folds: metrics on the pooled test rows, summed fit time."""
    rankings = [r for part in parts for r in part["rankings"]]
    return {
        "protocol": parts[0]["protocol"],
        **rank_metrics(rankings, targets),
        "unk_rate_names": max(p["unk_rate_names"] for p in parts),
        "tokens_per_name": parts[0]["tokens_per_name"],
        "train_seconds": round(sum(p["train_seconds"] for p in parts), 1),
        "epochs": epochs,
    }


def regrouped(parts: Sequence[dict], groups: Mapping[str, str]) -> list[dict]:
    """The parts with each ranking mapped to item groups (repeats dropped, order kept)."""
    return [
        {**part, "rankings": [_dedupe([groups[i] for i in r]) for r in part["rankings"]]}
        for part in parts
    ]


def english_only_tokenizer_unk(tasks: dict[str, Task]) -> float:
    """What the failed set-up had: a tokenizer that never saw Arabic, on the Arabic names."""
    templates = [t.source for t in load_templates().templates if t.language == "en"]
    en_names = [tasks["en"].split.catalog.name(i, "en") for i in tasks["en"].split.catalog]
    tokenizer = build_tokenizer(templates + en_names, 1000)
    ar_names = [tasks["ar"].split.catalog.name(i, "ar") for i in tasks["ar"].split.catalog]
    return unknown_token_rate(tokenizer, ar_names)


# ---------------------------------------------------------------------------- report
def compare(ar: dict, en: dict) -> dict:
    def ratio(key: str) -> float | None:
        return round(ar[key] / en[key], 3) if en[key] else None

    ratios = {key: ratio(key) for key in ("hr1", "hr5", "distinct_top1", "top1_entropy_bits")}
    checked = [ratios[k] for k in ("hr1", "hr5", "distinct_top1")]
    return {**ratios, "ar_reaches_90pct": all(r is None or r >= TARGET_RATIO for r in checked)}


def markdown(result: dict) -> str:
    lines = [
        "# Arabic and English side by side (issue 6)",
        "",
        f"Command: `{result['command']}`",
        "",
        "Protocol: " + result["protocol"],
        "",
        "| data | model | protocol | lang | HR@1 | HR@5 | distinct@1 | entropy@1 (bits) "
        "| top item share | unk rate (names) | tokens/name | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for data, models in result["runs"].items():
        for model, by_lang in models.items():
            for lang in LANGUAGES:
                r = by_lang[lang]
                lines.append(
                    f"| {data} | {model} | {r['protocol']} | {lang} | {r['hr1']:.3f} "
                    f"| {r['hr5']:.3f} | {r['distinct_top1']} / {r['n']} "
                    f"| {r['top1_entropy_bits']:.2f} | {r['most_common_top1_share']:.2f} "
                    f"| {r['unk_rate_names']:.3f} | {r['tokens_per_name']} "
                    f"| {r['train_seconds']} |"
                )
    lines += [
        "",
        "Arabic / English ratios (target: at least 0.9 for HR@1, HR@5 and distinct items):",
        "",
        "| data | model | HR@1 | HR@5 | distinct@1 | entropy@1 | Arabic reaches 90% |",
        "|---|---|---|---|---|---|---|",
    ]
    for data, models in result["ratios"].items():
        for model, r in models.items():
            lines.append(
                f"| {data} | {model} | {r['hr1']} | {r['hr5']} | {r['distinct_top1']} "
                f"| {r['top1_entropy_bits']} | {'yes' if r['ar_reaches_90pct'] else 'NO'} |"
            )
    unk = result["english_only_tokenizer_unk_rate_on_arabic_names"]
    if unk is not None:
        lines += [
            "",
            f"A tokenizer trained on English text only puts `<unk>` on {unk:.1%} of the Arabic "
            "name tokens (T5-P5 Arabic names); every data-trained tokenizer above has 0.",
        ]
    lines += [
        "",
        "## Notes",
        "",
        result["notes"],
        "",
    ]
    return "\n".join(lines)


NOTES = """\
- **A tokenizer trained on the data covers Arabic.** Every tokenizer here is trained on the
  templates and names of the data, so the unknown-token rate on the catalogue names is 0 in both
  languages; a tokenizer that never saw Arabic (English text only, last line above) turns most
  Arabic tokens into `<unk>`, and then every Arabic name looks alike to the model, which is one
  way to get the one-or-two-answers collapse of the earlier mT5/AraT5 fine-tunes.
- **Which tokenizer is trained matters more than the language.** On these small corpora the
  unigram trainer keeps ~200 pieces and splits even the most frequent words into letters
  (Arabic "كرة", ball: 3 pieces; "Soccer": 4), and more so in Arabic (7.5 tokens per T5-P5
  name against 3.7 in English). BPE (`--tokenizer bpe`) keeps frequent words whole (2.6 vs
  2.0): shorter prompts, faster training, and a smaller gap between the languages. Compare
  `languages.md` (unigram) with `languages-bpe*.md` and `languages-summary.md`.
- **Constrained decoding over names.** The named-items model can only emit a whole name from
  its candidate list (a trie over the tokenized names, each ending in `</s>`), so it never
  produces a near-miss spelling, a half name or free text, and the top-5 are 5 distinct items.
- **Language-free ids.** The id model's items are id tokens that do not depend on the language,
  and its tokenizer is trained on the templates and names of both languages, so the Arabic and
  English id models differ only in the words of the prompt template.
- The T5-P5 Arabic file is a machine translation that does not name the same items: Arabic
  كرة القدم is both soccer and (American) football, so four English pairs ("Soccer Jersey" and
  "Football Jersey", ...) share one Arabic name and every football-or-soccer item loses its
  sport; six items have two or three Arabic names; some rows name the target inside the
  history. The "(shared items)" rows score both languages on the 31 item groups the two files
  agree on, and **item-kNN**, which never reads a name, measures what the data itself allows:
  whatever it loses in Arabic is lost in the data, not in the language handling.
- With 121 test rows, one row is ~0.8 points of HR; with 397 shop users, ~0.25.
"""


def _ratio_cell(ratio: float | None, per_run: Sequence[float]) -> str:
    if ratio is None:
        return "-"
    return f"{ratio:.2f} ({min(per_run):.2f}-{max(per_run):.2f})"


def _seed(run: dict) -> int:
    """A run's seed: recorded in its JSON, or else read from its command (default 0)."""
    if "seed" in run:
        return int(run["seed"])
    found = re.search(r"--seed[ =](\d+)", run["command"])
    return int(found.group(1)) if found else 0


def _epochs(run: dict, data: str, model: str) -> int | None:
    """The training epochs behind a model's results in a run (None in files that lack them)."""
    return run["runs"][data][model]["ar"].get("epochs")


def _one_per_seed(runs: list[dict], data: str, model: str, keys: Sequence[str]) -> list[dict]:
    """The runs that measured `model` on `data`, one per seed: a later run of a seed already
    counted must have the same results on `keys` (it repeats the experiment; its timings may
    differ) and is dropped; different results under one seed mean different settings, which
    one summary must not mix."""
    kept: dict[int, dict] = {}

    def results(run: dict) -> dict:
        return {lang: {k: m[k] for k in keys} for lang, m in run["runs"][data][model].items()}

    for run in runs:
        seed = _seed(run)
        if seed not in kept:
            kept[seed] = run
        elif results(kept[seed]) != results(run):
            raise ValueError(
                f"{data} {model}: seed {seed} measured twice with different results "
                f"({kept[seed]['command']!r} and {run['command']!r}); summarize one of them"
            )
    return list(kept.values())


def summarize(paths: Sequence[Path], out: Path, stem: str) -> str:
    """Runs of several seeds side by side: each metric's mean over the runs per language, and
    the Arabic/English ratio of those means (with the lowest and highest per-run ratio)."""
    runs = [json.loads(Path(p).read_text(encoding="utf-8")) for p in paths]
    keys = ("hr1", "hr5", "distinct_top1", "top1_entropy_bits")
    lines = [
        "# Arabic and English side by side, over seeds (issue 6)",
        "",
        "Runs (one per seed; the seed draws the T5-P5 folds, the simulated shop, the candidate "
        "lists and the model's initialisation, the same for both languages):",
        "",
        *[f"- `{r['command']}`" for r in runs],
        "",
        "Protocol of each run: " + runs[0]["protocol"],
        "",
        "Mean over the runs, Arabic / English, and the ratio of the means (lowest-highest "
        "per-run ratio in brackets). Arabic reaches 90% when every ratio of means is at least "
        "0.9. A row over fewer runs than listed says how many. A model that two runs of one "
        "seed both measured (with the same results) counts once. A model trained for "
        "different numbers of epochs in different runs gets a row per number, labelled with it "
        "(the protocol above is the first run's; each command gives its own epochs).",
        "",
        "| data | model | HR@1 ar / en | HR@5 ar / en | distinct@1 ar / en | entropy@1 ar / en "
        "| ratio HR@1 | ratio HR@5 | ratio distinct | ratio entropy | Arabic reaches 90% |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    summary: dict[str, dict[str, dict]] = {}
    measured: dict[tuple[str, str, int | None], list[dict]] = {}  # (data, model, epochs)
    for r in runs:
        for d, models in r["runs"].items():
            for m in models:
                measured.setdefault((d, m, _epochs(r, d, m)), []).append(r)
    trained_for = Counter((d, m) for d, m, _ in measured)
    for (data, model, epochs), measured_runs in measured.items():
        having = _one_per_seed(measured_runs, data, model, keys)
        # One row per training length, labelled with it where a model has several.
        label = f"{model}, {epochs} epochs" if trained_for[data, model] > 1 else model
        by = {
            lang: {k: [r["runs"][data][model][lang][k] for r in having] for k in keys}
            for lang in LANGUAGES
        }
        mean = {lang: {k: sum(v) / len(v) for k, v in by[lang].items()} for lang in by}
        ratio = {k: mean["ar"][k] / mean["en"][k] if mean["en"][k] else None for k in keys}
        per_run = {
            k: [a / e for a, e in zip(by["ar"][k], by["en"][k], strict=True) if e] for k in keys
        }
        ok = all(ratio[k] is None or ratio[k] >= TARGET_RATIO for k in keys[:3])
        summary.setdefault(data, {})[label] = {
            "mean": mean,
            "ratio": ratio,
            "ok": ok,
            "runs": len(having),
        }
        count = len(having)
        runs_cell = "" if count == len(runs) else f" ({count} run{'s' if count > 1 else ''})"
        lines.append(
            f"| {data} | {label}{runs_cell} "
            + "".join(f"| {mean['ar'][k]:.3f} / {mean['en'][k]:.3f} " for k in ("hr1", "hr5"))
            + f"| {mean['ar']['distinct_top1']:.1f} / {mean['en']['distinct_top1']:.1f} "
            f"| {mean['ar']['top1_entropy_bits']:.2f} / {mean['en']['top1_entropy_bits']:.2f} "
            + "".join(f"| {_ratio_cell(ratio[k], per_run[k])} " for k in keys)
            + f"| {'yes' if ok else 'NO'} |"
        )
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.md").write_text(text, encoding="utf-8")
    (out / f"{stem}.json").write_text(
        json.dumps(
            {"runs": [str(p) for p in paths], "summary": summary}, indent=1, ensure_ascii=False
        ),
        encoding="utf-8",
    )
    return text


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="scratch:tiny")
    parser.add_argument("--users", type=int, default=400, help="built-in shop users")
    parser.add_argument("--candidates", type=int, default=10, help="sampled candidate lists")
    parser.add_argument(
        "--max-prompt-candidates",
        type=int,
        default=1,
        help="the named model lists a catalogue this small whole in its prompts (default 1: "
        "always a sampled candidate list)",
    )
    parser.add_argument("--folds", type=int, default=5, help="t5p5 folds of rows")
    parser.add_argument(
        "--named-beams",
        type=int,
        default=None,
        help="beam width of the named model (default 5, the k measured; the candidate count "
        "makes the search exhaustive)",
    )
    parser.add_argument(
        "--named-word-order",
        choices=WORD_ORDERS,
        default="natural",
        help="word order the named model's decoder writes names in (NamedConfig."
        "target_word_order), both languages",
    )
    parser.add_argument(
        "--isolate-separators",
        action="store_true",
        help="the named model's scratch tokenizer makes list separators tokens of their own "
        "(NamedConfig.isolate_separators), both languages",
    )
    parser.add_argument(
        "--fuse-weight",
        type=float,
        default=0.5,
        help="named+item-knn: the named model's share of the fused score, in [0, 1]",
    )
    parser.add_argument("--max-history", type=int, default=5)
    parser.add_argument("--targets-t5p5", type=int, default=3, help="training targets per row")
    parser.add_argument("--targets-shop", type=int, default=3, help="training targets per user")
    parser.add_argument("--epochs-t5p5", type=int, default=30)
    parser.add_argument("--epochs-shop", type=int, default=15)
    parser.add_argument(
        "--tokenizer", choices=["unigram", "bpe"], default="unigram", help="scratch tokenizers"
    )
    parser.add_argument(
        "--datasets",
        nargs="+",
        choices=["t5p5", "t5p5-hand", "shop"],
        default=["t5p5", "shop"],
        help="t5p5: the shared set, each language from its own file; t5p5-hand: its English "
        "rows, and the same rows named in hand-written Arabic (lmrec.data.t5p5.ARABIC_NAMES); "
        "shop: the built-in shop",
    )
    parser.add_argument(
        "--models",
        nargs="+",
        choices=list(RUNNERS),
        default=[m for m in RUNNERS if m != "named+item-knn"],
        help="named: the named-items LM; named+item-knn: it and its fusion with item-kNN on "
        "the candidate lists; ids: the id LM; item-knn: a control that reads no name; "
        "name-overlap: a control that reads only names (default: all but named+item-knn)",
    )
    parser.add_argument("--name", default="languages", help="output file stem")
    parser.add_argument(
        "--summarize",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="instead of running: put the results of several runs side by side (-> NAME.md)",
    )
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    if not 0 <= args.fuse_weight <= 1:
        parser.error(f"--fuse-weight must be in [0, 1], got {args.fuse_weight}")
    if args.summarize:
        print(summarize(args.summarize, args.out, args.name))
        return
    torch.set_num_threads(1)
    args.max_targets = {
        "t5p5": args.targets_t5p5,
        "t5p5-hand": args.targets_t5p5,
        "shop": args.targets_shop,
    }
    if args.quick:
        args.users, args.epochs_t5p5, args.epochs_shop, args.folds = 80, 2, 1, 2
    started = time.perf_counter()
    builders = {
        "t5p5": lambda: (
            t5p5_tasks(args.seed, args.folds, args.candidates, args.targets_t5p5),
            args.epochs_t5p5,
        ),
        "t5p5-hand": lambda: (
            t5p5_tasks(args.seed, args.folds, args.candidates, args.targets_t5p5, hand_arabic=True),
            args.epochs_t5p5,
        ),
        "shop": lambda: (shop_tasks(args.users, args.seed, args.candidates), args.epochs_shop),
    }
    datasets = {data: builders[data]() for data in args.datasets}
    runs: dict[str, dict[str, dict[str, dict]]] = {}
    for data, ((folds, _info), epochs) in datasets.items():
        runs[data] = {}
        for language in LANGUAGES:
            parts: dict[str, list[dict]] = {}
            for fold, tasks in enumerate(folds):
                for runner in (RUNNERS[m] for m in args.models):
                    for model, res in runner(tasks[language], language, args, epochs, data).items():
                        parts.setdefault(model, []).append(res)
                        seconds = round(res["train_seconds"], 1)
                        print(f"{data} {language} fold {fold} {model}: {seconds} s", flush=True)
            targets = [t for tasks in folds for t in tasks[language].targets]
            groups = folds[0][language].groups
            for model, model_parts in parts.items():
                runs[data].setdefault(model, {})[language] = pooled(model_parts, targets, epochs)
                print(data, model, language, runs[data][model][language], flush=True)
                if groups is not None:  # the same answers, scored on the shared item groups
                    runs[data].setdefault(f"{model} (shared items)", {})[language] = pooled(
                        regrouped(model_parts, groups), [groups[t] for t in targets], epochs
                    )
    ratios = {
        data: {m: compare(by_lang["ar"], by_lang["en"]) for m, by_lang in models.items()}
        for data, models in runs.items()
    }
    command = "python benchmarks/languages.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    result = {
        "command": command.strip(),
        "seed": args.seed,
        "protocol": (
            f"t5p5: each row is one history -> next item; {args.folds}-fold cross-validation "
            "over a seeded shuffle of the rows (the same folds in both languages), so every row "
            "is tested once; each training row gives "
            + (f"its last {args.targets_t5p5}" if args.targets_t5p5 else "all its")
            + " (prefix -> next item) pairs; history not excluded. "
            + (
                "t5p5-hand: the same folds, rows and candidate lists, with the Arabic rows the "
                "English ones named in hand-written Arabic (lmrec.data.t5p5.ARABIC_NAMES), so "
                "both languages have the same 35 items and interactions. "
                if "t5p5-hand" in args.datasets
                else ""
            )
            + f"shop: make_sportshop({args.users}, seed={args.seed}).select(first_only=True), "
            f"leave-one-out, history excluded, {args.targets_shop} training targets per user. "
            f"'named' and 'ids-sampled' rank 1 true + {args.candidates - 1} sampled candidates "
            "outside the history (the named model lists them in its prompt and decodes only "
            "them; the id model scores each); the lists are drawn alike in both languages. "
            "'ids' ranks all items. "
            "'(shared items)': the same answers scored on the item groups both T5-P5 files "
            "agree on (lmrec.data.t5p5 item_groups: the Arabic translation merges four pairs of "
            "English items and gives six groups several names); a ranking keeps each group's "
            "first place. "
            + (
                "'named+item-kNN': each candidate list ranked by "
                f"{args.fuse_weight} * z(named model's log-probability of the name) + "
                f"{1 - args.fuse_weight:g} * z(item-kNN similarity to the history), z over the "
                "list (weight fixed, not tuned); both trained on the same rows. "
                if "named+item-knn" in args.models
                else ""
            )
            + f"Named-model beam width {args.named_beams or 5}, target word order "
            f"{args.named_word_order}"
            + (", list separators tokens of their own. " if args.isolate_separators else ". ")
            + f"Model {args.model} with a {args.tokenizer} tokenizer trained on the data, seed "
            f"{args.seed}, max history {args.max_history}, "
            f"epochs t5p5 {args.epochs_t5p5} / shop {args.epochs_shop} (no early stopping on "
            "t5p5: it has no validation rows; shop keeps the epoch with the best validation "
            "NDCG@10), 1 CPU thread."
        ),
        "data": {data: info for data, ((_, info), _) in datasets.items()},
        "runs": runs,
        "ratios": ratios,
        "english_only_tokenizer_unk_rate_on_arabic_names": (
            english_only_tokenizer_unk(datasets["t5p5"][0][0][0]) if "t5p5" in datasets else None
        ),
        "seconds": round(time.perf_counter() - started, 1),
        "notes": NOTES,
    }
    stem = args.name + ("-quick" if args.quick else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(
        json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8"
    )
    (args.out / f"{stem}.md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()

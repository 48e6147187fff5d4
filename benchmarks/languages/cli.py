"""The languages study's command line: run the chosen models on the chosen data sets, or
summarize runs of several seeds."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import harness
from benchmarks.languages.controls import english_only_tokenizer_unk, run_knn, run_overlap
from benchmarks.languages.models import run_ids, run_named, run_named_knn
from benchmarks.languages.report import NOTES, markdown
from benchmarks.languages.scores import compare, pooled, regrouped
from benchmarks.languages.summary import summarize
from benchmarks.languages.tasks import LANGUAGES, shop_tasks, t5p5_tasks
from lmrec.recommenders.named import WORD_ORDERS

RUNNERS = {
    "named": run_named,
    "named+item-knn": run_named_knn,
    "ids": run_ids,
    "item-knn": run_knn,
    "name-overlap": run_overlap,
}


STUDY = "languages"


def parser() -> argparse.ArgumentParser:
    import benchmarks.languages as study

    parser = argparse.ArgumentParser(description=study.__doc__.split("\n")[0])
    harness.add_common_options(parser, STUDY, quick="a small smoke run", data=False)
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
    parser.add_argument(
        "--summarize",
        nargs="+",
        type=Path,
        metavar="JSON",
        help="instead of running: put the results of several runs side by side (-> NAME.md)",
    )
    return parser


def run_data(data: str, folds: list[dict], epochs: int, args, cache: harness.RowCache) -> dict:
    """Every chosen model on one data set, per language: pooled over the folds (and, where the
    two languages' items differ, scored on the shared item groups too). Each fold's answers of
    each model are cached, so an interrupted run resumes there."""
    runs: dict[str, dict[str, dict]] = {}
    for language in LANGUAGES:
        parts: dict[str, list[dict]] = {}
        for fold, tasks in enumerate(folds):
            for name in args.models:
                key = f"{data}/{language}/fold{fold}/{name}"
                out = cache.row(
                    key,
                    lambda n=name, task=tasks[language], lang=language: RUNNERS[n](
                        task, lang, args, epochs, data
                    ),
                )
                for model, res in out.items():
                    parts.setdefault(model, []).append(res)
                    seconds = round(res["train_seconds"], 1)
                    print(f"{data} {language} fold {fold} {model}: {seconds} s", flush=True)
        targets = [t for tasks in folds for t in tasks[language].targets]
        groups = folds[0][language].groups
        for model, model_parts in parts.items():
            runs.setdefault(model, {})[language] = pooled(model_parts, targets, epochs)
            print(data, model, language, runs[model][language], flush=True)
            if groups is not None:  # the same answers, scored on the shared item groups
                runs.setdefault(f"{model} (shared items)", {})[language] = pooled(
                    regrouped(model_parts, groups), [groups[t] for t in targets], epochs
                )
    return runs


def protocol(args: argparse.Namespace) -> str:
    return (
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
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = parser()
    args = p.parse_args(argv)
    if not 0 <= args.fuse_weight <= 1:
        p.error(f"--fuse-weight must be in [0, 1], got {args.fuse_weight}")
    if args.summarize:
        print(summarize(args.summarize, args.out, args.name))
        return
    harness.setup(args)
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
    cache = harness.RowCache(args.out, harness.stem(args), harness.settings_of(args))
    runs = {
        data: run_data(data, folds, epochs, args, cache)
        for data, ((folds, _info), epochs) in datasets.items()
    }
    ratios = {
        data: {m: compare(by_lang["ar"], by_lang["en"]) for m, by_lang in models.items()}
        for data, models in runs.items()
    }
    result = {
        "command": harness.command_line(STUDY, argv),
        "seed": args.seed,
        "protocol": protocol(args),
        "data": {data: info for data, ((_, info), _) in datasets.items()},
        "runs": runs,
        "ratios": ratios,
        "english_only_tokenizer_unk_rate_on_arabic_names": (
            english_only_tokenizer_unk(datasets["t5p5"][0][0][0]) if "t5p5" in datasets else None
        ),
        "seconds": round(time.perf_counter() - started, 1),
        "notes": NOTES,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))
    cache.finish()

"""The names workflow of the original T5-P5 work: ``lmrec train --format names`` trains a
names-in, name-out recommender (:class:`~lmrec.recommenders.named.NamedItemsRecommender`) on an
``Input,Output`` CSV of purchased item *names* and the next item's name, in any language; and
``lmrec recommend --history "Soccer Ball, Shin Guards"`` on its directory answers catalogue names.

Its options come from :class:`~lmrec.recommenders.config.NamedConfig`. A field whose flag the
train verb already has for ``LMConfig`` (``--model``, ``--epochs``, ``--language``, ``--seed``,
...) is that same option, read here for NamedConfig's field (both configs share the argparse
destinations); the named-only fields get options of their own in a group of their own.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from lmrec.backbone.tokenizer import TOKENIZERS
from lmrec.cli.options import (
    ConfigOptions,
    add_config_options,
    build_config,
    given,
    given_flags,
    options_of,
    set_path,
)
from lmrec.data.source import DataConfig
from lmrec.recommenders.config import WORD_ORDERS, NamedConfig
from lmrec.text.display import for_terminal

__all__ = [
    "NAMED_OPTIONS",
    "add_names_options",
    "is_named_dir",
    "recommend_names",
    "train_names",
    "unused_names_flags",
]

NAMES_GROUP = "names (--format names: an Input,Output CSV of item names)"
# The file a named-items model directory is recognised by (lmrec.recommenders.named.CONFIG_FILE,
# spelt here so that recognising a directory does not import torch).
NAMED_CONFIG_FILE = "lmrec_named.json"

NAMED_OPTIONS = ConfigOptions(
    cls=NamedConfig,
    # The LMConfig options' destinations: a flag both configs have is one option for both.
    dest="model",
    spellings={"train.seed": "--seed", "train.learning_rate": "--lr", "num_beams": "--beams"},
    skip=frozenset({"train.output_dir", "train.progress"}),
    choices={"tokenizer": TOKENIZERS, "target_word_order": WORD_ORDERS},
    groups={"model": NAMES_GROUP},
)


def _own_options(lm_options: ConfigOptions) -> ConfigOptions:
    """NAMED_OPTIONS without the fields whose flag ``lm_options`` already offers."""
    shared = options_of(lm_options)
    paths = {
        leaf.path for flag, leaves in options_of(NAMED_OPTIONS).items() if flag in shared
        for leaf in leaves
    }  # fmt: skip
    return replace(NAMED_OPTIONS, skip=NAMED_OPTIONS.skip | paths)


def add_names_options(p: argparse.ArgumentParser, lm_options: ConfigOptions) -> None:
    """The train verb's options of NamedConfig fields it has no flag for yet, and --valid-share."""
    add_config_options(p, _own_options(lm_options))
    p.add_argument(
        "--valid-share",
        type=float,
        default=0.1,
        help="--format names: share of the rows (seeded by --seed) whose Output validates "
        "(picks the best epoch) instead of training; 0 trains on every row (default: 0.1)",
    )


def unused_names_flags(args: argparse.Namespace, lm_options: ConfigOptions) -> list[str]:
    """The named-only flags given: a run of another format would silently ignore them."""
    return given_flags(args, _own_options(lm_options))


def _refuse_others(args: argparse.Namespace, data: DataConfig, lm_options: ConfigOptions) -> None:
    named = set(options_of(NAMED_OPTIONS))
    lm_only = [f for f in given_flags(args, lm_options) if f not in named]
    others = [name for name, on in [("--stream", args.stream), ("--config", args.config)] if on]
    if args.load_in_8bit or args.load_in_4bit:
        others.append("--load-in-8bit/--load-in-4bit")
    if data != DataConfig(path=data.path, format="names"):
        others.append("data options other than --data")
    if lm_only or others:
        raise SystemExit(f"error: --format names does not take {', '.join(lm_only + others)}")
    if data.path is None:
        raise SystemExit("error: --format names needs --data FILE.csv (an Input,Output CSV)")
    if not Path(data.path).is_file():
        raise SystemExit(f"error: data file {data.path} does not exist")


def named_config(args: argparse.Namespace, language: str) -> NamedConfig:
    """NamedConfig's defaults (``language`` detected from the file unless --language), then
    the options given; checkpoints go to ``--out``/_train and bars follow --quiet, as for
    ``LMConfig`` (cli/train.py)."""
    # The whole default dict as the base: a partial ``train`` table would otherwise rebuild
    # TrainConfig from its own defaults and lose NamedConfig's 512 source tokens.
    base = NamedConfig(language=language).to_dict()
    set_path(base, "train.output_dir", str(Path(args.out) / "_train"))
    set_path(base, "train.progress", not args.quiet)
    return build_config(NAMED_OPTIONS, args, base)


def train_names(args: argparse.Namespace, data: DataConfig, lm_options: ConfigOptions) -> int:
    """``lmrec train --format names``: read the names file, train, save to ``--out``."""
    from lmrec.data.t5p5 import names_split, read_names_csv
    from lmrec.recommenders.named import NamedItemsRecommender
    from lmrec.training.loop import process_state

    _refuse_others(args, data, lm_options)
    parsed = read_names_csv(data.path, given(args, NAMED_OPTIONS).get("language"))
    config = named_config(args, parsed.language)
    split = names_split(parsed, args.valid_share, config.train.seed)
    main_process = process_state().is_main_process
    if main_process:
        print(
            f"{data.path}: {len(parsed.rows)} rows in {parsed.language!r}, "
            f"{len(split.catalog)} items, {parsed.match_rate:.1%} of the listed names matched; "
            f"{len(split.valid)} rows validate, {len(split.train) - len(split.valid)} train"
        )
    rec = NamedItemsRecommender(config).fit(split)
    if not main_process:
        return 0
    rec.save(args.out)
    r = rec.train_result
    print(
        f"trained in {r.seconds:.1f}s ({r.examples_per_second:.1f} examples/s), "
        f"{r.describe_best()}; model saved to {args.out}"
    )
    return 0


def is_named_dir(path: str) -> bool:
    """Whether ``path`` is a named-items model directory (``lmrec train --format names``)."""
    return (Path(path) / NAMED_CONFIG_FILE).is_file()


def _check_recommend_args(args: argparse.Namespace) -> None:
    if args.k < 1:
        raise SystemExit(f"error: -k must be at least 1, got {args.k}")
    if args.history is None:
        raise SystemExit('error: a names model answers --history "NAME, NAME, ..." only')
    if args.user or args.history_events or args.mode != "lm":
        raise SystemExit(
            "error: a names model takes no --user, --history-events or --mode hybrid: "
            "give the purchased names with --history"
        )


def recommend_names(args: argparse.Namespace) -> int:
    """``lmrec recommend`` on a named-items model: --history is a written list of names (",",
    "،" and the Arabic "و" separate them); each must name one catalogue item, else an error
    names it; the answers are catalogue names."""
    from lmrec.recommenders.lm import set_threads
    from lmrec.recommenders.named import NamedItemsRecommender

    _check_recommend_args(args)
    set_threads(args.threads)
    rec = NamedItemsRecommender.load(args.model)
    try:
        history = rec.parse_history(args.history, strict=True)
    except ValueError as err:
        raise SystemExit(f"error: {err}") from None
    (ranked,) = rec.recommend([history], k=args.k, exclude_seen=not args.include_seen)
    name = rec.item_name
    if args.json:
        answers = [
            {"item": s.item, "name": name(s.item), "score": round(s.score, 6)} for s in ranked
        ]
        payload = {
            "user": "(history)",
            "history": history,
            "score_kind": "log-probability",
            "recommendations": answers,
        }
        print(json.dumps([payload], ensure_ascii=False, indent=1))
        return 0
    # for_terminal, as cli/recommend.py: a name must not forge or reverse a row.
    print(f"(history): {', '.join(for_terminal(name(i), 40) for i in history[-10:])}")
    print(f"  {'#':>3} {'name':<40} {'log-probability':>15}")
    for rank, s in enumerate(ranked, 1):
        print(f"  {rank:2d}. {for_terminal(name(s.item), 40):<40} {s.score:15.4f}")
    return 0

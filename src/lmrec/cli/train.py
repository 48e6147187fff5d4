"""``lmrec train``: fine-tune a language model on a log and save it to a directory. Its model,
training and task options are generated from :class:`~lmrec.recommenders.lm.LMConfig` (the
nested configs walked through); ``--config`` reads a whole run from a file first."""

from __future__ import annotations

import argparse
from pathlib import Path

from lmrec.backbone.itemtext import ITEM_REPRESENTATIONS
from lmrec.backbone.lora import LoraSettings
from lmrec.backbone.tokenizer import TOKENIZERS
from lmrec.cli.data import add_data_options, data_config, read_data
from lmrec.cli.names import add_names_options, train_names, unused_names_flags
from lmrec.cli.options import (
    ConfigOptions,
    add_config_options,
    build_config,
    given,
    merged,
    set_path,
)
from lmrec.cli.runfile import (
    TRAIN_DIR,
    read_run,
    record_data,
    record_test_metrics,
    remove_checkpoints,
)
from lmrec.data.split import leave_one_out_split
from lmrec.recommenders.config import OBJECTIVES
from lmrec.recommenders.lm import LMConfig
from lmrec.recommenders.presets import (
    describe_choice,
    training_base,
    with_item_text,
    with_schedule,
)
from lmrec.tasks.events import parse_event_weights

MODEL_OPTIONS = ConfigOptions(
    cls=LMConfig,
    dest="model",
    # Today's flag of each field whose flag is not --field-name: these spellings are the CLI's
    # public surface and never change (tests/test_cli.py lists every flag).
    spellings={
        "index.strategy": "--index",
        "index.style": "--id-style",
        "index.base": "--id-base",
        "index.seed": "--seed",
        "train.seed": "--seed",
        "train.learning_rate": "--lr",
        "num_beams": "--beams",
        "prompts.language": "--language",
        "events.typed": "--typed-history",
        "events.weights": "--event-weights",
        "events.targets": "--event-targets",
        "index.item_text.encoder": "--item-text",
        "index.item_text.template": "--item-text-template",
        "index.item_text.tags": "--item-text-tags",
    },
    prefixes={"index": "--index-"},
    parsers={"lora": LoraSettings.parse, "events.weights": parse_event_weights},
    # Set from --out, --quiet and --load-in-8bit/--load-in-4bit; index.embedding is the old
    # spelling of --item-text, still read from saved models but not offered.
    skip=frozenset({"train.output_dir", "train.progress", "quantization", "index.embedding"}),
    choices={
        "index.style": ("single", "subtokens"),
        "objective": OBJECTIVES,
        "tokenizer": TOKENIZERS,
        "item_representation": ITEM_REPRESENTATIONS,
    },
    extra={
        "lora": {
            "nargs": "?",
            "const": LoraSettings(),
            "metavar": "r=8,alpha=16,dropout=0.05,targets=q,v",
        }
    },
    groups={
        "model": "model",
        "train": "training",
        "lora": "training",
        "tasks": "tasks (P5 task families)",
        "task_weights": "tasks (P5 task families)",
        "multitask": "tasks (P5 task families)",
    },
)


def add_train_parser(sub) -> None:
    p = sub.add_parser("train", help="fine-tune a language model on a log; save it to a directory")
    p.add_argument(
        "--config",
        help="a run file (TOML or JSON) with a 'config' table (the model, training and task "
        "settings) and a 'data' table; a trained model directory's lmrec.json is one. "
        "Options given on the command line override it",
    )
    add_data_options(p)
    add_config_options(p, MODEL_OPTIONS)
    quant = p.add_argument_group("quantization").add_mutually_exclusive_group()
    quant.add_argument(
        "--load-in-8bit", action="store_true", help="load a hub checkpoint in 8 bits (CUDA only)"
    )
    quant.add_argument(
        "--load-in-4bit", action="store_true", help="load a hub checkpoint in 4 bits (CUDA only)"
    )
    add_names_options(p, MODEL_OPTIONS)
    p.add_argument("--out", required=True, help="directory for the trained model")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read a CSV/JSONL/Parquet log in chunks, sorted by time (per user at least), and "
        "make prompts on the fly: memory grows with users, not events; sequential task only, "
        "no validation; item ids from --catalog, else from a first pass over the log",
    )
    run = p.add_argument_group("run")
    run.add_argument(
        "--refit",
        action="store_true",
        help="after choosing the epoch count on the leave-one-out validation (the best epoch), "
        "train a fresh model once more on every event (validation and test targets included) "
        "for that many epochs, and save that one; lmrec.json records the refit",
    )
    run.add_argument(
        "--evaluate",
        action="store_true",
        help="after training, rank all items for each user's test target (HR/NDCG@1,5,10,20, "
        "history excluded) and record the metrics in lmrec.json and metrics.json; with "
        "--refit, the model measured is the one before the refit (the refit one saw the "
        "test targets)",
    )
    run.add_argument(
        "--keep-checkpoints",
        action="store_true",
        help=f"keep the resumable checkpoints (OUT/{TRAIN_DIR}: optimizer and random states) "
        "after a successful run; by default they are deleted once the model is saved",
    )
    p.set_defaults(func=cmd_train)


def lm_config(args: argparse.Namespace, base: dict | None = None) -> LMConfig:
    """The LMConfig of a run: defaults, then ``base`` (a run file's table), then the options;
    the checkpoint directory and progress bars always follow --out and --quiet."""
    base = dict(base or {})
    set_path(base, "train.output_dir", str(Path(args.out) / TRAIN_DIR) if args.out else None)
    set_path(base, "train.progress", not args.quiet)
    if args.load_in_8bit or args.load_in_4bit:
        base["quantization"] = "8bit" if args.load_in_8bit else "4bit"
    return build_config(MODEL_OPTIONS, args, base)


def cmd_train(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import LMRecommender, set_threads
    from lmrec.training.loop import process_state

    set_threads(args.threads)
    run = read_run(args.config) if args.config else {}
    data = data_config(args, run.get("data"))
    if data.format == "names":
        if args.refit or args.evaluate:
            raise SystemExit(
                "error: --refit and --evaluate are for the id model, not --format names"
            )
        code = train_names(args, data, MODEL_OPTIONS)
        _finish(args)
        return code
    if unused := unused_names_flags(args, MODEL_OPTIONS):
        raise SystemExit(f"error: {', '.join(unused)} go(es) with --format names")
    asked = given(args, MODEL_OPTIONS)
    recommended, why_not = ({}, None) if args.config else training_base(asked, args.stream)
    config = lm_config(args, merged(recommended, run.get("config") or {}))
    if args.stream:
        return _train_stream(args, data, config)
    # Under torchrun / accelerate launch every process runs this; only the first one talks.
    # (process_state, not a bare PartialState: on the CPU that one silently runs single.)
    main_process = process_state().is_main_process
    dataset = read_data(data)
    split = leave_one_out_split(dataset)
    if recommended:
        config = with_item_text(config, split.catalog, asked)
    if recommended:
        config = with_schedule(config, len(split.train), asked)
    if main_process:
        print(dataset.describe())
        print(split.describe())
        print(describe_choice(config, why_not, from_file=bool(args.config)))
    rec = LMRecommender(config)
    rec.fit(split)
    # Measured before any refit: the refit model trains on the test targets.
    test = _test_metrics(rec, split, args) if args.evaluate and main_process else None
    if args.refit:
        rec.refit(split)
    if not main_process:
        return 0
    rec.save(args.out)
    record_data(args.out, data)
    if test is not None:
        record_test_metrics(args.out, test)
    r = rec.train_result
    print(
        f"trained in {r.seconds:.1f}s ({r.examples_per_second:.1f} examples/s), "
        f"{r.describe_best()}{_refit_words(rec)}; model saved to {args.out}"
    )
    _finish(args)
    return 0


def _test_metrics(rec, split, args: argparse.Namespace) -> dict:
    """Evaluate ``rec`` on the split's test targets (as ``lmrec evaluate`` does by default);
    the record kept in the model directory."""
    from lmrec.evaluation.ranking import evaluate_ranking

    report = evaluate_ranking(rec, split, stage="test", progress=not args.quiet)
    print(report.format_table())
    test = {"protocol": report.protocol, "users": report.n_users, "metrics": report.metrics}
    if args.refit:
        test["before_refit"] = True
    return test


def _refit_words(rec) -> str:
    refit = rec.refit_record
    if refit is None:
        return ""
    return (
        f", refit on {refit.events} events for {refit.epochs} epochs in {refit.result.seconds:.1f}s"
    )


def _finish(args: argparse.Namespace) -> None:
    """After a successful run: the checkpoints go unless asked for (a failed or killed run
    never gets here, so it can still be resumed)."""
    if not args.keep_checkpoints:
        remove_checkpoints(args.out)


def _train_stream(args: argparse.Namespace, data, config: LMConfig) -> int:
    from lmrec.data.readers import read_catalog
    from lmrec.data.stream import stream_catalog
    from lmrec.recommenders.lm import LMRecommender

    if data.format not in ("auto", "table") or data.events or data.first_only:
        raise SystemExit("error: --stream reads a table log as it is (no --events, --first-only)")
    if data.path is None:
        raise SystemExit("error: --stream needs --data")
    if data.event_map or data.skip_unknown or data.rating_range != (1.0, 5.0):
        # The streamed reader (lmrec.data.stream) reads the built-in event names and scale only.
        raise SystemExit("error: --stream takes no --event-map, --skip-unknown or --rating-range")
    if args.refit or args.evaluate:
        raise SystemExit("error: --stream holds nothing out: no --refit or --evaluate")
    columns = data.columns
    catalog = (
        read_catalog(data.catalog, data.catalog_columns)
        if data.catalog
        else stream_catalog(data.path, columns)
    )
    rec = LMRecommender(config).fit_stream(data.path, catalog, columns)
    rec.save(args.out)
    record_data(args.out, data)
    r = rec.train_result
    print(
        f"trained on a stream of {r.examples_seen // max(1, r.epochs_run)} examples per epoch "
        f"in {r.seconds:.1f}s ({r.examples_per_second:.1f} examples/s); model saved to {args.out}"
    )
    _finish(args)
    return 0

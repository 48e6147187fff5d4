"""The command line: the only module that reads argv. It builds config dataclasses from
options and hands them to the library."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path

from lmrec.cli.ask import (
    add_ask_parser,
    add_train_task_options,
    run_task_evaluation,
    task_settings,
)
from lmrec.data.readers import (
    ColumnMap,
    read_catalog,
    read_interactions,
    read_recbole,
    read_sequences,
)
from lmrec.data.schema import Dataset, EventType
from lmrec.data.split import leave_one_out_split
from lmrec.data.sportshop import make_sportshop
from lmrec.text.display import for_terminal

logger = logging.getLogger("lmrec")

BASELINES = ("popularity", "itemknn", "als")


# ---------------------------------------------------------------------------- data options
def _add_data_options(p: argparse.ArgumentParser, required: bool = True) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        required=required,
        help="'builtin' (the sports shop), a RecBole directory or .inter file, an S3-Rec "
        "sequence file (.txt), or a CSV/TSV/JSONL/Parquet log",
    )
    g.add_argument(
        "--format",
        default="auto",
        choices=["auto", "builtin", "table", "recbole", "sequences"],
        help="how to read --data (default: guessed from the path)",
    )
    g.add_argument("--catalog", help="item catalogue file for a table log (CSV/JSONL/Parquet)")
    g.add_argument(
        "--columns",
        default="",
        help="column mapping for a table log, e.g. 'user=uid,item=sku,timestamp=ts' "
        f"(fields: {', '.join(f.name for f in fields(ColumnMap))})",
    )
    g.add_argument("--names", help="item names file ('key name' lines) for a sequence file")
    g.add_argument("--id-map", help="P5 datamaps.json mapping sequence ids to the names' keys")
    g.add_argument(
        "--events",
        default="",
        help="keep only these event types, comma-separated (view,bookmark,cart,purchase)",
    )
    g.add_argument(
        "--first-only",
        action="store_true",
        help="keep each user's first event per item only (distinct items in order of contact)",
    )
    g.add_argument("--users", type=int, default=600, help="users generated for --data builtin")
    g.add_argument("--data-seed", type=int, default=0, help="seed of the built-in generator")


def _parse_columns(text: str) -> ColumnMap:
    if not text:
        return ColumnMap()
    known = {f.name for f in fields(ColumnMap)}
    mapping = {}
    for part in text.split(","):
        if "=" not in part:
            raise SystemExit(f"error: --columns entry {part!r} is not field=column")
        key, value = (s.strip() for s in part.split("=", 1))
        if key not in known:
            raise SystemExit(f"error: --columns field {key!r} unknown (known: {sorted(known)})")
        mapping[key] = value
    return ColumnMap(**mapping)


def load_dataset(args: argparse.Namespace) -> Dataset:
    """Read the data the options name; applies --events / --first-only."""
    kind = args.format
    path = Path(args.data)
    if kind == "auto":
        if args.data == "builtin":
            kind = "builtin"
        elif path.is_dir() or path.suffix == ".inter":
            kind = "recbole"
        elif path.suffix == ".txt":
            kind = "sequences"
        else:
            kind = "table"
    if kind != "builtin" and not path.exists():
        raise SystemExit(f"error: data file {path} does not exist")
    if kind == "builtin":
        dataset = make_sportshop(n_users=args.users, seed=args.data_seed)
    elif kind == "recbole":
        dataset = read_recbole(path)
    elif kind == "sequences":
        dataset = read_sequences(path, names_path=args.names, id_map_path=args.id_map)
    else:
        dataset = read_interactions(path, _parse_columns(args.columns), catalog_path=args.catalog)
    if args.events or args.first_only:
        events = [EventType.parse(e) for e in args.events.split(",")] if args.events else None
        dataset = dataset.select(events, first_only=args.first_only)
    return dataset


# ---------------------------------------------------------------------------- commands
def _lm_config(args: argparse.Namespace):
    from lmrec.backbone.lora import LoraSettings
    from lmrec.indexing import IndexConfig
    from lmrec.recommenders.lm import LMConfig
    from lmrec.tasks import PromptConfig
    from lmrec.training.loop import TrainConfig

    return LMConfig(
        model=args.model,
        index=IndexConfig(
            strategy=args.index, style=args.id_style, base=args.id_base, seed=args.seed
        ),
        prompts=PromptConfig(
            language=args.language,
            max_history=args.max_history,
            max_targets_per_user=args.max_targets_per_user,
        ),
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            patience=args.patience,
            max_valid_users=args.max_valid_users,
            seed=args.seed,
            output_dir=str(Path(args.out) / "_train") if args.out else None,
            resume=args.resume,
            checkpoint_steps=args.checkpoint_steps,
            progress=not args.quiet,
        ),
        num_beams=args.beams,
        lora=None if args.lora is None else LoraSettings.parse(args.lora),
        quantization="8bit" if args.load_in_8bit else "4bit" if args.load_in_4bit else None,
        events=_event_config(args),
        whole_word=args.whole_word,
        objective=args.objective,
        tokenizer=args.tokenizer,
        dropout=args.dropout,
        **task_settings(args),
    )


def _event_config(args: argparse.Namespace):
    from lmrec.tasks.events import EventConfig, parse_event_weights

    targets = [t.strip() for t in (args.event_targets or "").split(",") if t.strip()]
    return EventConfig(
        typed=args.typed_history,
        weights=parse_event_weights(args.event_weights or ""),
        targets=tuple(targets),
        unseen_targets=args.unseen_targets,
    )


def cmd_train(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import LMRecommender, set_threads
    from lmrec.training.loop import process_state

    set_threads(args.threads)
    if args.stream:
        return _train_stream(args)
    # Under torchrun / accelerate launch every process runs this; only the first one talks.
    # (process_state, not a bare PartialState: on the CPU that one silently runs single.)
    main_process = process_state().is_main_process
    dataset = load_dataset(args)
    split = leave_one_out_split(dataset)
    if main_process:
        print(dataset.describe())
        print(split.describe())
    rec = LMRecommender(_lm_config(args))
    rec.fit(split)
    if not main_process:
        return 0
    rec.save(args.out)
    r = rec.train_result
    print(
        f"trained in {r.seconds:.1f}s ({r.examples_per_second:.1f} examples/s), "
        f"{r.describe_best()}; model saved to {args.out}"
    )
    return 0


def _train_stream(args: argparse.Namespace) -> int:
    from lmrec.data.stream import stream_catalog
    from lmrec.recommenders.lm import LMRecommender
    from lmrec.training.stream import fit_on_stream

    if args.format not in ("auto", "table") or args.events or args.first_only:
        raise SystemExit("error: --stream reads a table log as it is (no --events, --first-only)")
    columns = _parse_columns(args.columns)
    catalog = read_catalog(args.catalog) if args.catalog else stream_catalog(args.data, columns)
    rec = fit_on_stream(LMRecommender(_lm_config(args)), args.data, catalog, columns)
    rec.save(args.out)
    r = rec.train_result
    print(
        f"trained on a stream of {r.examples_seen // max(1, r.epochs_run)} examples per epoch "
        f"in {r.seconds:.1f}s ({r.examples_per_second:.1f} examples/s); model saved to {args.out}"
    )
    return 0


def _parse_history(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def cmd_recommend(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import LMRecommender, set_threads

    set_threads(args.threads)
    rec = LMRecommender.load(args.model)
    histories: list[list[str]] = []
    events: list[list[str]] = []
    labels: list[str] = []
    if args.history is not None:
        history = _parse_history(args.history)
        unknown = [i for i in history if i not in rec.catalog]
        if unknown:
            raise SystemExit(f"error: unknown item(s) {unknown}: not in the model's catalogue")
        given = args.history_events
        kinds = _parse_history(given) if given else ["purchase"] * len(history)
        if len(kinds) != len(history):
            raise SystemExit(
                f"error: {len(kinds)} --history-events for {len(history)} --history items"
            )
        for kind in kinds:
            try:
                EventType.parse(kind)
            except ValueError as err:
                raise SystemExit(f"error: --history-events: {err}") from None
        histories.append(history)
        events.append(kinds)
        labels.append("(history)")
    elif args.history_events:
        raise SystemExit("error: --history-events goes with --history (--user reads --data's)")
    if args.user:
        if not args.data:
            raise SystemExit("error: --user needs --data to read that user's history")
        full = load_dataset(args).histories()
        for user in args.user:
            if user not in full:
                raise SystemExit(f"error: unknown user {user!r}: not in {args.data}")
            histories.append([x.item for x in full[user]])
            events.append([str(x.event) for x in full[user]])
            labels.append(user)
    if not histories:
        raise SystemExit("error: give --history ITEM,ITEM,... or --user ID (with --data)")
    recommender = rec
    if args.mode == "hybrid":
        recommender = _hybrid(args, rec)
    # --language only picks the names shown: prompts keep the model's training language.
    # A model trained on typed histories reads each item's event type (a view, a purchase...).
    typed = args.mode != "hybrid" and rec.config.events.typed
    extra = {"events": events} if typed else {}
    results = recommender.recommend(
        histories, k=args.k, exclude_seen=not args.include_seen, **extra
    )
    lang = args.language
    if args.json:
        payload = [
            {
                "user": label,
                "history": h,
                "recommendations": [
                    {
                        "item": s.item,
                        "name": rec.catalog.name(s.item, lang),
                        "score": round(s.score, 6),
                    }
                    for s in r
                ],
            }
            for label, h, r in zip(labels, histories, results, strict=True)
        ]
        print(json.dumps(payload, ensure_ascii=False, indent=1))
        return 0
    # Names and ids go through for_terminal: a name holding a newline or U+202E must not forge
    # or reverse a row (issue 26); the JSON above keeps them exact.
    for label, h, r in zip(labels, histories, results, strict=True):
        seen = ", ".join(for_terminal(rec.catalog.name(i, lang), 40) for i in h[-10:])
        print(f"{for_terminal(label)}: history {seen}")
        for rank, s in enumerate(r, 1):
            item, name = for_terminal(s.item, 40), for_terminal(rec.catalog.name(s.item, lang), 40)
            print(f"  {rank:2d}. {item:<12} {name:<40} {s.score:9.4f}")
    return 0


def _hybrid(args: argparse.Namespace, lm):
    from lmrec.recommenders.hybrid import HybridConfig, HybridRecommender

    if not args.data:
        raise SystemExit("error: --mode hybrid needs --data: the retriever is fitted on its log")
    split = leave_one_out_split(load_dataset(args))
    retriever = _make_baseline(args.retriever).fit(split)
    config = HybridConfig(candidates=args.candidates, weight=args.weight)
    hybrid = HybridRecommender(retriever, lm, config).fit(split)
    print(
        f"hybrid: {args.retriever} top-{args.candidates} candidates, LM weight {hybrid.weight}",
        file=sys.stderr,
    )
    return hybrid


def _make_baseline(name: str):
    from lmrec.baselines import ItemKNNRecommender, PopularityRecommender

    if name == "popularity":
        return PopularityRecommender()
    if name == "itemknn":
        return ItemKNNRecommender()
    if name == "als":
        from lmrec.baselines import ALSRecommender

        return ALSRecommender()
    raise SystemExit(f"error: unknown baseline {name!r} (known: {', '.join(BASELINES)})")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lmrec.evaluation.ranking import evaluate_ranking, format_markdown
    from lmrec.recommenders.lm import LMRecommender, set_threads

    set_threads(args.threads)
    dataset = load_dataset(args)
    split = leave_one_out_split(dataset)
    print(split.describe())
    if args.tasks:
        return run_task_evaluation(args, dataset, split)
    recommenders = []
    if args.model:
        recommenders.append(("lm", LMRecommender.load(args.model)))
    for name in filter(None, args.baselines.split(",")):
        recommenders.append((name, _make_baseline(name).fit(split)))
    if not recommenders:
        raise SystemExit("error: nothing to evaluate: give --model and/or --baselines")
    reports = []
    for _name, rec in recommenders:
        report = evaluate_ranking(
            rec,
            split,
            stage=args.stage,
            exclude_seen=not args.include_seen,
            max_users=args.max_users or None,
            progress=not args.quiet,
        )
        reports.append(report)
        print(report.format_table())
    print()
    print(format_markdown(reports))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from lmrec.baselines import PopularityRecommender
    from lmrec.evaluation.ranking import evaluate_ranking, format_markdown
    from lmrec.indexing import IndexConfig
    from lmrec.recommenders.lm import LMConfig, LMRecommender, set_threads
    from lmrec.tasks import PromptConfig
    from lmrec.training.loop import TrainConfig

    set_threads(args.threads)
    started = time.perf_counter()
    dataset = make_sportshop(n_users=args.users, seed=args.seed).select(first_only=True)
    split = leave_one_out_split(dataset)
    print("Built-in sports shop (distinct items per user in order of first contact)")
    print(split.describe())
    config = LMConfig(
        model="scratch:tiny",
        index=IndexConfig(strategy="sequential", style="single"),
        prompts=PromptConfig(language="en", max_history=10),
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=16,
            learning_rate=2e-3,
            patience=0,
            max_valid_users=200,
            seed=args.seed,
            progress=not args.quiet,
        ),
    )
    lm = LMRecommender(config).fit(split)
    lm.save(args.out)
    popularity = PopularityRecommender().fit(split)
    users = list(split.test)[: args.show]
    histories = [[x.item for x in split.history(u, "test")] for u in users]
    lm_recs = lm.recommend(histories, k=5)
    pop_recs = popularity.recommend(histories, k=5)
    name = split.catalog.name
    lang = args.language
    for user, history, mine, theirs in zip(users, histories, lm_recs, pop_recs, strict=True):
        print(f"\nuser {user}, last items: {', '.join(name(i, lang) for i in history[-6:])}")
        print(f"  next item in the log (held out): {name(split.test[user].item, lang)}")
        print(f"  {'language model top-5':<44} popularity top-5")
        for a, b in zip(mine, theirs, strict=False):
            print(f"  {name(a.item, lang):<44} {name(b.item, lang)}")
    reports = [evaluate_ranking(r, split, stage="test", progress=False) for r in (lm, popularity)]
    print()
    print(format_markdown(reports))
    print(f"\nmodel saved to {args.out}; demo took {time.perf_counter() - started:.0f}s")
    print(f"try: lmrec recommend --model {args.out} --history SOC-01,SOC-02")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os

    from lmrec.recommenders.lm import set_threads
    from lmrec.serve import ServeConfig, run_server

    set_threads(args.threads)
    config = ServeConfig(
        model_dir=args.model,
        db_path=args.db,
        api_key=args.api_key or os.environ.get("LMREC_API_KEY") or None,
        read_key=args.read_key or os.environ.get("LMREC_READ_KEY") or None,
        key_header=args.key_header,
        max_body_bytes=args.max_body_bytes,
        max_batch=args.max_batch,
    )
    if config.api_key is None:
        print("warning: no --api-key (or LMREC_API_KEY): writes are disabled", file=sys.stderr)
    print(f"serving {args.model} on http://{args.host}:{args.port}/ (events in {args.db})")
    run_server(config, host=args.host, port=args.port, log_level=args.log_level)
    return 0


# ---------------------------------------------------------------------------- parser
def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model")
    g.add_argument(
        "--model",
        default="scratch:small",
        help="scratch:tiny|small|base (a T5 built from a config, tokenizer trained on "
        "the data), scratch:gpt-tiny|gpt-small|llama-tiny|llama-small (decoder-only), a hub "
        "name such as t5-small or gpt2, or a local model directory",
    )
    g.add_argument("--index", default="sequential", help="item id strategy: random, sequential")
    g.add_argument(
        "--id-style",
        default="single",
        choices=["single", "subtokens"],
        help="one token per item, or a few sub-tokens per item",
    )
    g.add_argument(
        "--id-base",
        type=int,
        default=0,
        help="codebook size per level for --id-style subtokens (0 = automatic)",
    )
    g.add_argument(
        "--whole-word",
        action="store_true",
        help="add P5's whole-word embedding (which sub-tokens form one id) to the prompt",
    )
    g.add_argument(
        "--objective",
        choices=["answer", "sequence"],
        default="answer",
        help="answer: loss on each templated prompt's answer (P5); sequence: decoder-only "
        "models read item ids alone and train every next-item prediction of a user's last "
        "max-history + 1 items at once (as SASRec)",
    )
    g.add_argument(
        "--tokenizer",
        choices=["unigram", "bpe"],
        default="unigram",
        help="algorithm of a scratch model's tokenizer, trained on the data (bpe keeps frequent "
        "words whole, unigram splits more on small data)",
    )
    g.add_argument(
        "--dropout",
        type=float,
        default=None,
        help="a scratch model's dropout rate (default: T5 and GPT-2 0.1, LLaMA 0; LLaMA only "
        "has attention dropout)",
    )
    g.add_argument("--language", default="en", help="template language (en, ar)")
    g.add_argument("--max-history", type=int, default=20, help="most recent items kept in a prompt")
    g.add_argument(
        "--max-targets-per-user",
        type=int,
        default=0,
        help="training targets per user (most recent positions; 0 = all)",
    )
    g.add_argument(
        "--typed-history",
        action="store_true",
        help="write each history event with its type ('viewed <item_3> bought <item_7>')",
    )
    g.add_argument(
        "--event-weights",
        help="loss weight by target event type, e.g. view=0.2,cart=0.5 (others 1.0)",
    )
    g.add_argument(
        "--event-targets", help="event types that become training targets, e.g. purchase"
    )
    g.add_argument(
        "--unseen-targets",
        action="store_true",
        help="drop each target item's earlier events from its training history",
    )
    g.add_argument("--beams", type=int, default=None, help="beam width (default: k)")
    t = p.add_argument_group("training")
    t.add_argument("--epochs", type=int, default=10, help="maximum epochs")
    t.add_argument("--batch-size", type=int, default=64, help="examples per step")
    t.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    t.add_argument(
        "--patience",
        type=int,
        default=3,
        help="stop after this many epochs without better validation NDCG@10 (0 = never)",
    )
    t.add_argument(
        "--max-valid-users",
        type=int,
        default=500,
        help="validation users sampled per epoch (0 = all)",
    )
    t.add_argument("--seed", type=int, default=0, help="random seed")
    t.add_argument(
        "--lora",
        nargs="?",
        const="",
        default=None,
        metavar="r=8,alpha=16,dropout=0.05,targets=q,v",
        help="train a LoRA adapter and the id tokens' embeddings instead of every weight; "
        "settings left out take these defaults, targets the architecture's attention "
        "projections (q,v for T5; c_attn for GPT-2; q_proj,v_proj for LLaMA)",
    )
    quant = t.add_mutually_exclusive_group()
    quant.add_argument(
        "--load-in-8bit", action="store_true", help="load a hub checkpoint in 8 bits (CUDA only)"
    )
    quant.add_argument(
        "--load-in-4bit", action="store_true", help="load a hub checkpoint in 4 bits (CUDA only)"
    )
    t.add_argument(
        "--checkpoint-steps",
        type=int,
        default=0,
        help="also checkpoint every N steps inside an epoch (0 = at epoch ends only)",
    )
    t.add_argument(
        "--resume",
        action="store_true",
        help="continue from the checkpoint in OUT/_train if there is one",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmrec", description="Language models as recommender systems (P5-style)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument(
        "--threads", type=int, default=None, help="PyTorch threads (default: all cores)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="fine-tune a language model on a log; save it to a directory")
    _add_data_options(p)
    _add_model_options(p)
    add_train_task_options(p)
    p.add_argument("--out", required=True, help="directory for the trained model")
    p.add_argument(
        "--stream",
        action="store_true",
        help="read a CSV/JSONL/Parquet log in chunks, sorted by time (per user at least), and "
        "make prompts on the fly: memory grows with users, not events; sequential task only, "
        "no validation; item ids from --catalog, else from a first pass over the log",
    )
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("recommend", help="top-k items for a history or for users of a log")
    p.add_argument("--model", required=True, help="a directory written by 'lmrec train'")
    p.add_argument("--history", help="comma-separated item ids, oldest first")
    p.add_argument(
        "--history-events",
        help="event type of each --history item (view,bookmark,cart,purchase; default purchase); "
        "read by models trained with --typed-history",
    )
    p.add_argument("--user", action="append", help="a user id of --data (repeatable)")
    _add_data_options(p, required=False)
    p.add_argument("-k", type=int, default=10, help="how many items (default 10)")
    p.add_argument("--include-seen", action="store_true", help="allow items of the history")
    p.add_argument("--language", default=None, help="language of item names shown (en, ar)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--mode",
        default="lm",
        choices=["lm", "hybrid"],
        help="lm: trie beam search; hybrid: a retriever's candidates re-ranked by "
        "retriever + LM scores (needs --data)",
    )
    p.add_argument(
        "--retriever",
        default="itemknn",
        choices=["itemknn", "als"],
        help="retrieval stage of --mode hybrid, fitted on --data's training split",
    )
    p.add_argument("--candidates", type=int, default=50, help="retrieved candidates (hybrid)")
    p.add_argument(
        "--weight",
        type=float,
        default=None,
        help="LM share of the fused score (hybrid; default: tuned on validation)",
    )
    p.set_defaults(func=cmd_recommend)

    p = sub.add_parser("evaluate", help="leave-one-out all-item ranking metrics")
    p.add_argument("--model", help="a directory written by 'lmrec train'")
    p.add_argument(
        "--baselines",
        default="popularity,itemknn",
        help=f"comma-separated baselines to fit and compare ({', '.join(BASELINES)})",
    )
    _add_data_options(p)
    p.add_argument("--stage", default="test", choices=["valid", "test"], help="which target")
    p.add_argument(
        "--include-seen",
        action="store_true",
        help="rank history items too (default: the user's history is excluded)",
    )
    p.add_argument("--max-users", type=int, default=0, help="evaluate a seeded sample of users")
    p.add_argument(
        "--tasks",
        default="",
        help="evaluate these task families instead (sequential,rating,explanation,review,"
        "direct or 'all'): one table per task, seen and unseen prompts, with baselines; "
        "--max-users then caps the cases of every task",
    )
    p.add_argument("--json-out", help="with --tasks: also write the reports to this JSON file")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("demo", help="train on the built-in sports shop and show recommendations")
    p.add_argument("--out", default="runs/demo", help="where the demo model is saved")
    p.add_argument("--users", type=int, default=600, help="simulated users")
    p.add_argument("--epochs", type=int, default=8, help="training epochs")
    p.add_argument("--show", type=int, default=3, help="users shown")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--language", default="en", help="language of item names shown (en, ar)")
    p.set_defaults(func=cmd_demo)

    add_ask_parser(sub)

    p = sub.add_parser("serve", help="the recommendation web service (FastAPI + SQLite events)")
    p.add_argument("--model", default="runs/demo", help="a directory written by 'lmrec train'")
    p.add_argument("--db", default="events.sqlite", help="SQLite event store (created if missing)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--api-key", help="key required for writes (default: $LMREC_API_KEY)")
    p.add_argument("--read-key", help="key required for reads (default: $LMREC_READ_KEY; none)")
    p.add_argument("--key-header", default="X-API-Key", help="header that carries the key")
    p.add_argument("--max-body-bytes", type=int, default=1 << 20, help="largest request body")
    p.add_argument("--max-batch", type=int, default=1000, help="most events per POST /events")
    p.add_argument("--log-level", default="warning", help="uvicorn log level")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, LookupError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2

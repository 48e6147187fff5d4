"""``lmrec evaluate``: all-item ranking metrics (leave-one-out, or split at a global time) of a
trained model and baselines, with beyond-accuracy measures, or (``--tasks``) one table per P5
task family. Without --data it reads the log the model directory recorded."""

from __future__ import annotations

import argparse
import json
import sys

from lmrec.cli.data import add_data_options, model_data, model_dir, read_data
from lmrec.data.split import Split, leave_one_out_split, parse_moment, time_split
from lmrec.recommenders.registry import BASELINES, canonical_name, make_recommender

SPLITS = ("leave-one-out", "time")


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="all-item ranking metrics (leave-one-out or time split)")
    p.add_argument(
        "--model",
        help="a directory written by 'lmrec train'; the data it recorded (log, columns, "
        "catalogue, filters) is the default of the data options, each of which overrides it",
    )
    p.add_argument(
        "--baselines",
        default="popularity,item-knn",
        help=f"comma-separated baselines to fit and compare ({', '.join(BASELINES)}; "
        "itemknn is accepted for item-knn)",
    )
    add_data_options(p)
    p.add_argument("--stage", default="test", choices=["valid", "test"], help="which target")
    p.add_argument(
        "--include-seen",
        action="store_true",
        help="rank history items too (default: the user's history is excluded)",
    )
    p.add_argument("--max-users", type=int, default=0, help="evaluate a seeded sample of users")
    p.add_argument("--ks", default="1,5,10,20", help="comma-separated cutoffs of HR/NDCG@k")
    p.add_argument(
        "--split",
        default="leave-one-out",
        choices=SPLITS,
        help="leave-one-out: each user's last event is the test target, the one before it "
        "validation; time: at one global moment (--test-after), each user's first event after "
        "it is the test target, the last before it validation",
    )
    p.add_argument(
        "--test-after",
        help="with --split time: the cut, an ISO-8601 date or time (UTC unless it says) or unix "
        "seconds; an event exactly at it counts as before",
    )
    p.add_argument(
        "--tasks",
        default="",
        help="evaluate these task families instead (sequential,rating,explanation,review,"
        "direct or 'all'): one table per task, seen and unseen prompts, with baselines; "
        "--max-users then caps the cases of every task",
    )
    p.add_argument("--json-out", help="also write the reports to this JSON file")
    p.set_defaults(func=cmd_evaluate)


def _baselines(text: str) -> list[str]:
    try:
        names = [canonical_name(n.strip()) for n in text.split(",") if n.strip()]
    except ValueError as err:
        raise SystemExit(f"error: --baselines: {err}") from None
    wrong = [n for n in names if n not in BASELINES]
    if wrong:
        raise SystemExit(f"error: {wrong[0]!r} is not a baseline (known: {', '.join(BASELINES)})")
    return names


def parse_ks(text: str) -> list[int]:
    """``'5,10,20'`` -> ``[5, 10, 20]``; each cutoff a whole number of at least 1."""
    try:
        ks = sorted({int(t) for t in text.split(",") if t.strip()})
    except ValueError:
        raise SystemExit(f"error: --ks {text!r}: expected whole numbers like 5,10,20") from None
    if not ks or ks[0] < 1:
        raise SystemExit(f"error: --ks {text!r}: every cutoff must be at least 1")
    return ks


def check_evaluate_args(args: argparse.Namespace) -> None:
    """Argument errors that need no data and no model: said first."""
    args.ks = parse_ks(args.ks)
    args.baseline_names = _baselines(args.baselines)
    if args.max_users < 0:
        raise SystemExit(f"error: --max-users must be 0 (all) or more, got {args.max_users}")
    if args.split == "time":
        if not args.test_after:
            raise SystemExit("error: --split time needs --test-after DATE")
        try:
            args.test_after = parse_moment(args.test_after)
        except ValueError as err:
            raise SystemExit(f"error: --test-after: {err}") from None
    elif args.test_after:
        raise SystemExit("error: --test-after goes with --split time")
    if args.model:
        model_dir(args.model)
    elif not args.baseline_names:
        raise SystemExit("error: nothing to evaluate: give --model and/or --baselines")


def make_split(args: argparse.Namespace, dataset) -> Split:
    """The split --split names."""
    if args.split == "time":
        return time_split(dataset, args.test_after)
    return leave_one_out_split(dataset)


def warn_unreachable(split: Split, stage: str, exclude_seen: bool) -> int:
    """Warn (on stderr) when targets are items already in the user's history: with the history
    excluded they can never be hit (a view, a cart-add, then the purchase of one item is three
    events of one item). Returns their count."""
    targets = split.targets(stage)
    repeats = sum(
        target.item in {x.item for x in split.history(user, stage)}
        for user, target in targets.items()
    )
    if repeats and exclude_seen:
        print(
            f"warning: {repeats} of {len(targets)} {stage} targets are items already in the "
            "user's history: with the history excluded they can never be hit. For a log of "
            "repeated events per item (view, cart, purchase) evaluate with --first-only "
            "(each user's first event per item), or rank them with --include-seen",
            file=sys.stderr,
        )
    return repeats


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lmrec.evaluation.ranking import evaluate_ranking, format_beyond, format_markdown
    from lmrec.recommenders.lm import LMRecommender, set_threads

    check_evaluate_args(args)
    set_threads(args.threads)
    data = model_data(args, args.model)
    dataset = read_data(data)
    split = make_split(args, dataset)
    print(split.describe())
    if args.tasks:
        return run_task_evaluation(args, dataset, split)
    warn_unreachable(split, args.stage, not args.include_seen)
    recommenders = []
    if args.model:
        recommenders.append(LMRecommender.load(args.model))
        if args.split == "time":
            print(
                "note: the model was trained on its own leave-one-out split of its log, which "
                "may include events after the cut",
                file=sys.stderr,
            )
    for name in args.baseline_names:
        recommenders.append(make_recommender(name).fit(split))
    reports = []
    for rec in recommenders:
        report = evaluate_ranking(
            rec,
            split,
            stage=args.stage,
            ks=args.ks,
            exclude_seen=not args.include_seen,
            max_users=args.max_users or None,
            progress=not args.quiet,
        )
        reports.append(report)
        print(report.format_table())
    print()
    print(format_markdown(reports))
    print(format_beyond(reports))
    if args.json_out:
        write_json(args.json_out, [r.to_dict() for r in reports])
    return 0


def write_json(path: str, payload) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(payload, f, indent=1, ensure_ascii=False)


def run_task_evaluation(args: argparse.Namespace, dataset, split) -> int:
    """``lmrec evaluate --tasks ...``: one table per task (seen/unseen prompts, baselines)."""
    from lmrec.data.random_split import split_interactions
    from lmrec.evaluation.tasks import evaluate_tasks
    from lmrec.recommenders.lm import LMRecommender
    from lmrec.tasks import parse_tasks

    model = LMRecommender.load(args.model) if args.model else None
    seed = model.config.multitask.split_seed if model is not None else 0
    isplit = split_interactions(dataset, seed)
    print(isplit.describe())
    reports = evaluate_tasks(model, split, isplit, parse_tasks(args.tasks), args.max_users, 0)
    for report in reports:
        print()
        print(report.format_markdown())
    if args.json_out:
        write_json(args.json_out, [r.to_dict() for r in reports])
    return 0

"""``lmrec evaluate``: leave-one-out all-item ranking metrics of a trained model and baselines,
or (``--tasks``) one table per P5 task family."""

from __future__ import annotations

import argparse
import json

from lmrec.cli.data import add_data_options, data_config, read_data
from lmrec.data.split import leave_one_out_split
from lmrec.recommenders.registry import BASELINES, canonical_name, make_recommender


def add_evaluate_parser(sub) -> None:
    p = sub.add_parser("evaluate", help="leave-one-out all-item ranking metrics")
    p.add_argument("--model", help="a directory written by 'lmrec train'")
    p.add_argument(
        "--baselines",
        default="popularity,item-knn",
        help=f"comma-separated baselines to fit and compare ({', '.join(BASELINES)}; "
        "itemknn is accepted for item-knn)",
    )
    add_data_options(p, required=True)
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


def _baselines(text: str) -> list[str]:
    try:
        names = [canonical_name(n.strip()) for n in text.split(",") if n.strip()]
    except ValueError as err:
        raise SystemExit(f"error: --baselines: {err}") from None
    wrong = [n for n in names if n not in BASELINES]
    if wrong:
        raise SystemExit(f"error: {wrong[0]!r} is not a baseline (known: {', '.join(BASELINES)})")
    return names


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lmrec.evaluation.ranking import evaluate_ranking, format_markdown
    from lmrec.recommenders.lm import LMRecommender, set_threads

    set_threads(args.threads)
    dataset = read_data(data_config(args))
    split = leave_one_out_split(dataset)
    print(split.describe())
    if args.tasks:
        return run_task_evaluation(args, dataset, split)
    recommenders = []
    if args.model:
        recommenders.append(LMRecommender.load(args.model))
    for name in _baselines(args.baselines):
        recommenders.append(make_recommender(name).fit(split))
    if not recommenders:
        raise SystemExit("error: nothing to evaluate: give --model and/or --baselines")
    reports = []
    for rec in recommenders:
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
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump([r.to_dict() for r in reports], f, indent=1)
    return 0

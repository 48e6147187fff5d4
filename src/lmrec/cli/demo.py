"""``lmrec demo``: train the recommended configuration on the built-in sports shop, show a few
users' recommendations next to popularity's, and print its test metrics beside popularity's,
item-kNN's and SASRec's. The model directory it writes is also a run
file: ``lmrec train --config runs/demo/lmrec.json --out runs/again`` trains it again."""

from __future__ import annotations

import argparse
import time

from lmrec.cli.runfile import record_data
from lmrec.data.source import BUILTIN, DataConfig, load_dataset
from lmrec.data.split import leave_one_out_split
from lmrec.recommenders.presets import describe_choice, with_item_text


def add_demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="train on the built-in sports shop and show recommendations")
    p.add_argument("--out", default="runs/demo", help="where the demo model is saved")
    p.add_argument("--users", type=int, default=600, help="simulated users")
    p.add_argument(
        "--epochs",
        type=int,
        help="most training epochs (default: the recommended configuration's rule, 60 here)",
    )
    p.add_argument("--show", type=int, default=3, help="users shown")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--language", default="en", help="language of item names shown (en, ar)")
    p.set_defaults(func=cmd_demo)


def demo_run(args: argparse.Namespace):
    """The demo's data and model settings: the recommended configuration (what ``lmrec train``
    trains by default) on the shop's distinct items per user."""
    from lmrec.cli.options import merged
    from lmrec.config import from_dict
    from lmrec.recommenders.lm import LMConfig
    from lmrec.recommenders.presets import RECOMMENDED, with_schedule

    data = DataConfig(path=BUILTIN, first_only=True, users=args.users, data_seed=args.seed)
    asked = {"train": {"epochs": args.epochs}} if args.epochs else {}
    train = {"seed": args.seed, "progress": not args.quiet} | asked.get("train", {})
    config = from_dict(LMConfig, merged(RECOMMENDED, {"train": train}))
    return data, with_schedule(config, args.users, asked)


def cmd_demo(args: argparse.Namespace) -> int:
    from lmrec.baselines import (
        ItemKNNRecommender,
        PopularityRecommender,
        SASRecConfig,
        SASRecRecommender,
    )
    from lmrec.evaluation.ranking import evaluate_ranking, format_markdown
    from lmrec.recommenders.lm import LMRecommender, set_threads

    set_threads(args.threads)
    started = time.perf_counter()
    data, config = demo_run(args)
    split = leave_one_out_split(load_dataset(data))
    config = with_item_text(config, split.catalog, {})
    print("Built-in sports shop (distinct items per user in order of first contact)")
    print(split.describe())
    print(describe_choice(config, None))
    lm = LMRecommender(config).fit(split)
    lm.save(args.out)
    record_data(args.out, data)
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
    item_knn = ItemKNNRecommender().fit(split)
    sasrec = SASRecRecommender(SASRecConfig(seed=args.seed, progress=False)).fit(split)
    models = (lm, popularity, item_knn, sasrec)
    reports = [evaluate_ranking(r, split, stage="test", progress=False) for r in models]
    print()
    print(format_markdown(reports))
    print(f"\nmodel saved to {args.out}; demo took {time.perf_counter() - started:.0f}s")
    print(f"try: lmrec recommend --model {args.out} --history SOC-01,SOC-02")
    return 0

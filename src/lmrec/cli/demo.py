"""``lmrec demo``: train on the built-in sports shop, show a few users' recommendations next to
popularity's, and print both models' test metrics. The model directory it writes is also a run
file: ``lmrec train --config runs/demo/lmrec.json --out runs/again`` trains it again."""

from __future__ import annotations

import argparse
import time

from lmrec.cli.runfile import record_data
from lmrec.data.source import BUILTIN, DataConfig, load_dataset
from lmrec.data.split import leave_one_out_split


def add_demo_parser(sub) -> None:
    p = sub.add_parser("demo", help="train on the built-in sports shop and show recommendations")
    p.add_argument("--out", default="runs/demo", help="where the demo model is saved")
    p.add_argument("--users", type=int, default=600, help="simulated users")
    p.add_argument("--epochs", type=int, default=8, help="training epochs")
    p.add_argument("--show", type=int, default=3, help="users shown")
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--language", default="en", help="language of item names shown (en, ar)")
    p.set_defaults(func=cmd_demo)


def demo_run(args: argparse.Namespace):
    """The demo's data and model settings: a tiny T5 on the shop's distinct items per user."""
    from lmrec.indexing import IndexConfig
    from lmrec.recommenders.lm import LMConfig
    from lmrec.tasks import PromptConfig
    from lmrec.training.loop import TrainConfig

    data = DataConfig(path=BUILTIN, first_only=True, users=args.users, data_seed=args.seed)
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
    return data, config


def cmd_demo(args: argparse.Namespace) -> int:
    from lmrec.baselines import PopularityRecommender
    from lmrec.evaluation.ranking import evaluate_ranking, format_markdown
    from lmrec.recommenders.lm import LMRecommender, set_threads

    set_threads(args.threads)
    started = time.perf_counter()
    data, config = demo_run(args)
    split = leave_one_out_split(load_dataset(data))
    print("Built-in sports shop (distinct items per user in order of first contact)")
    print(split.describe())
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
    reports = [evaluate_ranking(r, split, stage="test", progress=False) for r in (lm, popularity)]
    print()
    print(format_markdown(reports))
    print(f"\nmodel saved to {args.out}; demo took {time.perf_counter() - started:.0f}s")
    print(f"try: lmrec recommend --model {args.out} --history SOC-01,SOC-02")
    return 0

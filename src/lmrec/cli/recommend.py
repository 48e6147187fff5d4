"""``lmrec recommend``: top-k items for a history or for users of a log, from a trained model
alone or re-ranking a retriever's candidates (``--mode hybrid``)."""

from __future__ import annotations

import argparse
import json
import sys

from lmrec.cli.data import add_data_options, model_data, model_dir, read_data
from lmrec.cli.names import is_named_dir, recommend_names
from lmrec.cli.options import ConfigOptions, add_config_options, build_config
from lmrec.data.schema import EventType
from lmrec.data.split import leave_one_out_split
from lmrec.recommenders.hybrid import HybridConfig, HybridRecommender
from lmrec.recommenders.registry import BASELINES, canonical_name, make_recommender
from lmrec.text.display import for_terminal

HYBRID_OPTIONS = ConfigOptions(
    cls=HybridConfig,
    dest="hybrid",
    # The tuning grid and sample stay at their defaults on the command line.
    skip=frozenset({"weight_grid", "tune_users", "seed"}),
    groups={"candidates": "hybrid (--mode hybrid)"},
)


def add_recommend_parser(sub) -> None:
    p = sub.add_parser("recommend", help="top-k items for a history or for users of a log")
    p.add_argument("--model", required=True, help="a directory written by 'lmrec train'")
    p.add_argument(
        "--history",
        help="comma-separated item ids, oldest first; for a names model (train --format "
        "names), item names, separated by ',', '،' or the Arabic 'و'",
    )
    p.add_argument(
        "--history-events",
        help="event type of each --history item (view,bookmark,cart,purchase; default purchase); "
        "read by models trained with --typed-history",
    )
    p.add_argument(
        "--user",
        action="append",
        help="a user id of --data (repeatable); without --data, the log the model was "
        "trained on (recorded in its directory)",
    )
    add_data_options(p)
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
        default="item-knn",
        type=canonical_name,
        choices=BASELINES,
        help="retrieval stage of --mode hybrid, fitted on --data's training split "
        "(itemknn is accepted for item-knn)",
    )
    add_config_options(p, HYBRID_OPTIONS)
    p.set_defaults(func=cmd_recommend)


def _parse_history(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _known_only(
    history: list[str], kinds: list[str], catalog, skip: bool, label: str
) -> tuple[list[str], list[str]]:
    """``history`` (and its event types) with items the model lacks refused, or with
    --skip-unknown skipped and counted on stderr."""
    unknown = [i for i in history if i not in catalog]
    if not unknown:
        return history, kinds
    if not skip:
        raise SystemExit(
            f"error: unknown item(s) {unknown}: not in the model's catalogue "
            "(--skip-unknown skips them)"
        )
    shown = ", ".join(dict.fromkeys(unknown))
    print(
        f"warning: {label}: skipped {len(unknown)} item(s) not in the model's catalogue ({shown})",
        file=sys.stderr,
    )
    kept = [(i, k) for i, k in zip(history, kinds, strict=True) if i in catalog]
    return [i for i, _ in kept], [k for _, k in kept]


def _given_history(args: argparse.Namespace, catalog) -> tuple[list[str], list[str]]:
    """--history and its --history-events, checked against the model's catalogue."""
    history = _parse_history(args.history)
    given = args.history_events
    kinds = _parse_history(given) if given else ["purchase"] * len(history)
    if len(kinds) != len(history):
        raise SystemExit(f"error: {len(kinds)} --history-events for {len(history)} --history items")
    for kind in kinds:
        try:
            EventType.parse(kind)
        except ValueError as err:
            raise SystemExit(f"error: --history-events: {err}") from None
    skip = model_data(args, args.model).skip_unknown
    return _known_only(history, kinds, catalog, skip, "--history")


def check_recommend_args(args: argparse.Namespace) -> None:
    """Argument errors that need no model: said before seconds of model loading."""
    if args.k < 1:
        raise SystemExit(f"error: -k must be at least 1, got {args.k}")
    if args.history is None and args.history_events:
        raise SystemExit("error: --history-events goes with --history (--user reads --data's)")
    if args.history is None and not args.user:
        raise SystemExit("error: give --history ITEM,ITEM,... or --user ID (with --data)")
    model_dir(args.model)


def _histories(args: argparse.Namespace, rec) -> tuple[list[list[str]], list[list[str]], list]:
    """(histories, their event types, labels) of --history and every --user."""
    histories: list[list[str]] = []
    events: list[list[str]] = []
    labels: list[str] = []
    if args.history is not None:
        history, kinds = _given_history(args, rec.catalog)
        histories.append(history)
        events.append(kinds)
        labels.append("(history)")
    if args.user:
        data = model_data(args, args.model)
        if data.path is None:
            raise SystemExit(
                "error: --user needs --data to read that user's history (the model directory "
                "records none)"
            )
        full = read_data(data).histories()
        for user in args.user:
            if user not in full:
                raise SystemExit(f"error: unknown user {user!r}: not in {data.path}")
            items, kinds = _known_only(
                [x.item for x in full[user]],
                [str(x.event) for x in full[user]],
                rec.catalog,
                data.skip_unknown,
                f"user {user}",
            )
            histories.append(items)
            events.append(kinds)
            labels.append(user)
    return histories, events, labels


# What a score of each --mode is, for the column header and the JSON's "score_kind".
SCORE_KINDS = {
    "lm": "log-probability",
    "hybrid": "fused z-score",
}


def cmd_recommend(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import LMRecommender, set_threads

    if is_named_dir(args.model):  # names in, names out (lmrec train --format names)
        return recommend_names(args)
    check_recommend_args(args)
    hybrid_config = build_config(HYBRID_OPTIONS, args) if args.mode == "hybrid" else None
    set_threads(args.threads)
    rec = LMRecommender.load(args.model)
    histories, events, labels = _histories(args, rec)
    recommender = _hybrid(args, rec, hybrid_config) if hybrid_config else rec
    # --language only picks the names shown: prompts keep the model's training language.
    # A model trained on typed histories reads each item's event type (a view, a purchase...).
    typed = args.mode != "hybrid" and rec.config.events.typed
    extra = {"events": events} if typed else {}
    results = recommender.recommend(
        histories, k=args.k, exclude_seen=not args.include_seen, **extra
    )
    lang = args.language
    kind = SCORE_KINDS[args.mode]
    rows = zip(labels, histories, results, strict=True)
    if args.json:
        payload = [
            {
                "user": label,
                "history": h,
                "score_kind": kind,
                "recommendations": [
                    {
                        "item": s.item,
                        "name": rec.catalog.name(s.item, lang),
                        "score": round(s.score, 6),
                    }
                    for s in r
                ],
            }
            for label, h, r in rows
        ]
        print(json.dumps(payload, ensure_ascii=False, indent=1))
        return 0
    # Names and ids go through for_terminal: a name holding a newline or U+202E must not forge
    # or reverse a row (issue 26); the JSON above keeps them exact.
    for label, h, r in rows:
        seen = ", ".join(for_terminal(rec.catalog.name(i, lang), 40) for i in h[-10:])
        print(f"{for_terminal(label)}: history {seen}")
        print(f"  {'#':>3} {'item':<12} {'name':<40} {kind:>9}")
        for rank, s in enumerate(r, 1):
            item, name = for_terminal(s.item, 40), for_terminal(rec.catalog.name(s.item, lang), 40)
            print(f"  {rank:2d}. {item:<12} {name:<40} {s.score:9.4f}")
    return 0


def _hybrid(args: argparse.Namespace, lm, config: HybridConfig):
    data = model_data(args, args.model)
    if data.path is None:
        raise SystemExit("error: --mode hybrid needs --data: the retriever is fitted on its log")
    split = leave_one_out_split(read_data(data))
    retriever = make_recommender(args.retriever).fit(split)
    hybrid = HybridRecommender(retriever, lm, config).fit(split)
    print(
        f"hybrid: {args.retriever} top-{config.candidates} candidates, LM weight {hybrid.weight}",
        file=sys.stderr,
    )
    return hybrid

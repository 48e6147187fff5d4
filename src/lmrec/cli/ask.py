"""``lmrec ask``: ask a trained model one question of any P5 task family."""

from __future__ import annotations

import argparse
import json
from typing import Any

ASK_TASKS = ("next", "rating", "like", "choose", "explanation", "summary", "review-rating")


def add_ask_parser(sub) -> None:
    p = sub.add_parser("ask", help="ask a trained model one question of any task family")
    p.add_argument("--model", required=True, help="a directory written by 'lmrec train'")
    p.add_argument("--task", required=True, choices=ASK_TASKS, help="what to ask")
    p.add_argument("--user", help="user id (a user unseen in training reads as <user_unk>)")
    p.add_argument("--item", help="item id (rating, like, explanation)")
    p.add_argument("--feature", help="feature word for an explanation")
    p.add_argument("--review", help="review text (summary, review-rating)")
    p.add_argument("--history", help="comma-separated item ids, oldest first (next)")
    p.add_argument("--candidates", help="comma-separated item ids (choose)")
    p.add_argument("--template", help="template id (default: the family's first seen one)")
    p.add_argument("-k", type=int, default=5, help="items returned by next/choose")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_ask)


def _need(args: argparse.Namespace, *names: str) -> None:
    missing = [f"--{n}" for n in names if not getattr(args, n)]
    if missing:
        raise SystemExit(f"error: --task {args.task} needs {' '.join(missing)}")


def _ids(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _answer(rec, args: argparse.Namespace) -> Any:
    task, user, tpl = args.task, args.user, args.template
    if task in ("rating", "like", "explanation"):
        _need(args, "item")
        if args.item not in rec.index:
            raise SystemExit(f"error: unknown item {args.item!r}: not in the model's item index")
    if task == "next":
        _need(args, "history")
        ranked = rec.recommend([_ids(args.history)], k=args.k, template=tpl)[0]
        return [{"item": s.item, "score": round(s.score, 4)} for s in ranked]
    if task == "rating":
        a = rec.rate([user], [args.item], tpl)[0]
        return {"rating": a.rating, "expected": round(a.expected, 4)}
    if task == "like":
        return {"p_yes": round(rec.like([user], [args.item], tpl)[0], 4)}
    if task == "choose":
        _need(args, "candidates")
        cands = _ids(args.candidates)
        scores = rec.choose([user], [cands], tpl)[0]
        ranked = sorted(zip(cands, scores, strict=True), key=lambda cs: -cs[1])[: args.k]
        return [{"item": c, "score": round(s, 4)} for c, s in ranked]
    if task == "explanation":
        return rec.explain([user], [args.item], [args.feature], tpl)[0]
    _need(args, "review")
    if task == "summary":
        return rec.summarize([args.review], [user], tpl)[0]
    a = rec.rate_review([args.review], tpl)[0]
    return {"rating": a.rating, "expected": round(a.expected, 4)}


def cmd_ask(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import LMRecommender, set_threads

    set_threads(args.threads)
    rec = LMRecommender.load(args.model)
    if args.task != "next" and rec.users is None:
        print("warning: this model was trained on the sequential task only", flush=True)
    answer = _answer(rec, args)
    if args.json:
        print(json.dumps({"task": args.task, "answer": answer}, ensure_ascii=False))
    elif isinstance(answer, list):
        for row in answer:
            print(f"{row['item']:<16} {row['score']:9.4f}")
    elif isinstance(answer, dict):
        print(", ".join(f"{k} {v}" for k, v in answer.items()))
    else:
        print(answer)
    return 0

"""Issue 4's speed question for inference: how many users/s does trie-constrained beam search
decode, before and after vectorising it, for each item-id strategy?

"Before" is the Python per-beam loop of lmrec 0.1 (``benchmarks/reference_beam.py``), "after"
is :func:`lmrec.decoding.beam.constrained_beam_search`; both run side by side in one process, on the
same model, prompts and exclusions, and the script checks that they return the same items.
The model is a randomly initialised ``scratch:tiny`` T5 (decoding cost does not depend on how
well it is trained: the same number of beams walk the same trie), one torch thread.

    .venv/bin/python -m benchmarks.decoding                  # ML-100K and Beauty
    .venv/bin/python -m benchmarks.decoding --quick          # ML-100K, fewer users
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from benchmarks.reference_beam import ReferenceTrie, reference_beam_search
from lmrec.backbone.model import prepare_model
from lmrec.data import leave_one_out_split
from lmrec.decoding.beam import constrained_beam_search, score_candidates
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import IndexConfig, build_index
from lmrec.prompts.templates import load_templates
from lmrec.tasks.sequential import sequential_prompt

STUDY = "decoding"
STRATEGIES = ["sequential", "collaborative", "collaborative+unique", "semantic"]
BACKBONES = ["scratch:tiny", "scratch:gpt-tiny"]
CANDIDATES = [20, 100]


def timed(fn, batches):
    started = time.perf_counter()
    out = [r for batch in batches for r in fn(batch)]
    return out, time.perf_counter() - started


def setup_model(split, strategy: str, backbone: str, users: list[str]) -> tuple:
    """The item index, a random-initialised model and its tokenizer (seed 0), and the users'
    training histories with their sequential prompts (last 20 items)."""
    index = build_index(split, IndexConfig(strategy=strategy, embedding="tfidf"))
    templates = load_templates()
    template = templates.select("sequential", "en", unseen=False)[0]
    corpus = [t.source for t in templates.templates] + [
        i.name for i in split.catalog.values() if i.name
    ]
    model, tokenizer = prepare_model(backbone, corpus, index.vocabulary(), seed=0)
    model.eval()
    histories = [[x.item for x in split.train[u]] for u in users]
    prompts = [sequential_prompt(h, index, template, 20) for h in histories]
    return index, model, tokenizer, histories, prompts


def run_strategy(split, strategy: str, users: list[str], args) -> dict:
    index, model, tokenizer, histories, prompts = setup_model(
        split, strategy, "scratch:tiny", users
    )
    chunks = [
        (prompts[i : i + args.batch], histories[i : i + args.batch])
        for i in range(0, len(prompts), args.batch)
    ]
    build_started = time.perf_counter()
    trie = ItemTrie.from_index(index, tokenizer)
    build_new = time.perf_counter() - build_started
    build_started = time.perf_counter()
    old_trie = ReferenceTrie.from_index(index, tokenizer)
    build_old = time.perf_counter() - build_started

    def new(chunk):
        return constrained_beam_search(
            model, tokenizer, trie, chunk[0], k=10, num_beams=args.beams, exclude=chunk[1]
        )

    def old(chunk):
        return reference_beam_search(
            model, tokenizer, old_trie, chunk[0], k=10, num_beams=args.beams, exclude=chunk[1]
        )

    new(chunks[0])  # warm-up: first calls allocate
    after, t_after = timed(new, chunks)
    before, t_before = timed(old, chunks)
    same = sum([i for i, _ in a] == [i for i, _ in b] for a, b in zip(after, before, strict=True))
    codes = [len(index.code(i)) for i in index.items]
    return {
        "strategy": strategy,
        "items": len(index),
        "tokens_per_id": sum(codes) / len(codes),
        "users": len(users),
        "before_users_per_s": len(users) / t_before,
        "after_users_per_s": len(users) / t_after,
        "speedup": t_before / t_after,
        "same_top10": same / len(users),
        "trie_build_s_before": build_old,
        "trie_build_s_after": build_new,
    }


def run_scoring(split, strategy: str, backbone: str, users: list[str], args) -> dict:
    """Beam search top-10 against one-pass scoring of N given candidates (LlamaRec), users/s,
    for one backbone: the same prompts, the candidates drawn at random outside the history."""
    index, model, tokenizer, histories, prompts = setup_model(split, strategy, backbone, users)
    trie = ItemTrie.from_index(index, tokenizer)
    batches = range(0, len(prompts), args.batch)

    def beam(start):
        end = start + args.batch
        return constrained_beam_search(
            model, tokenizer, trie, prompts[start:end], k=10, num_beams=args.beams,
            exclude=histories[start:end],
        )  # fmt: skip

    beam(0)
    _, t_beam = timed(beam, batches)
    row = {"strategy": strategy, "backbone": backbone, "users": len(users)}
    row["beam_users_per_s"] = len(users) / t_beam
    rng = random.Random(0)
    for n in CANDIDATES:
        cands = []
        for h in histories:
            seen = set(h)
            pool = [
                i for i in rng.sample(index.items, min(len(index), n + len(seen))) if i not in seen
            ]
            cands.append(pool[:n])
        size = max(1, args.batch * 10 // n)

        def score(start, cands=cands, size=size):
            return [
                score_candidates(model, tokenizer, trie, prompts[s : s + size], cands[s : s + size])
                for s in range(start, min(start + args.batch, len(prompts)), size)
            ]

        _, t_score = timed(score, batches)
        row[f"score{n}_users_per_s"] = len(users) / t_score
    return row


def test_users(split, n_users: int) -> list[str]:
    return sorted(u for u in split.test if split.train.get(u))[:n_users]


def add_search_options(parser: argparse.ArgumentParser, users: int) -> None:
    """How many test users are decoded, how many prompts at a time, with how many beams."""
    parser.add_argument("--users", type=int, default=users)
    parser.add_argument("--batch", type=int, default=128, help="prompts decoded together")
    parser.add_argument("--beams", type=int, default=20)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="ML-100K only, 128 users")
    p.add_argument("--datasets", default="ml100k,beauty")
    add_search_options(p, users=512)
    args = p.parse_args(argv)
    harness.setup(args)
    datasets = ["ml100k"] if args.quick else args.datasets.split(",")
    n_users = 128 if args.quick else args.users
    rows, scoring = [], []
    for n, name in enumerate(datasets):
        split = leave_one_out_split(harness.load(name, args.data))
        users = test_users(split, n_users)
        for strategy in STRATEGIES:
            rows.append({"dataset": name, **run_strategy(split, strategy, users, args)})
            print(json.dumps(rows[-1]), flush=True)
        for strategy in ("sequential", "collaborative") if n == 0 else ():
            for backbone in BACKBONES:
                row = {"dataset": name, **run_scoring(split, strategy, backbone, users, args)}
                scoring.append(row)
                print(json.dumps(row), flush=True)
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "protocol": (
            f"top-10 of {n_users} test users' training histories (last 20 items), "
            f"{args.beams} beams, batches of {args.batch}, history excluded; random scratch:tiny"
        ),
        "rows": rows,
        "scoring": scoring,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))


def markdown(result: dict) -> str:
    lines = [
        "# Constrained decoding speed: before and after vectorising the trie search",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}  ",
        f"Protocol: {result['protocol']}. Before = the per-beam Python loop of lmrec 0.1, after ="
        " the tensorised search; both timed in this one run on the same inputs.",
        "",
        "| data | ids | items | tokens/id | users/s before | users/s after | speed-up "
        "| same top-10 | trie build s (before / after) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['items']} | {r['tokens_per_id']:.2f} "
            f"| {r['before_users_per_s']:.1f} | {r['after_users_per_s']:.1f} "
            f"| {r['speedup']:.2f}x | {r['same_top10']:.0%} "
            f"| {r['trie_build_s_before']:.3f} / {r['trie_build_s_after']:.3f} |"
        )
    lines += [
        "",
        "## Beam search vs one-pass candidate scoring (LlamaRec)",
        "",
        "Top-10 by trie beam search over the whole catalogue, against scoring N given "
        "candidates (drawn at random outside the history) by the likelihood of their ids in one "
        "teacher-forced pass. Same prompts, random scratch models (scratch:tiny T5 0.4M, "
        "scratch:gpt-tiny GPT-2), users/s.",
        "",
        "| data | ids | backbone | beam search | score 20 candidates | score 100 candidates |",
        "|---|---|---|---:|---:|---:|",
    ]
    for r in result["scoring"]:
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['backbone']} "
            f"| {r['beam_users_per_s']:.1f} | {r['score20_users_per_s']:.1f} "
            f"| {r['score100_users_per_s']:.1f} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

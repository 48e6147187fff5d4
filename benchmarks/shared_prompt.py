"""Issue 23 item 3's multi-token question: how much faster is top-10 trie beam search when the
beams of one user share the prompt's keys and values, instead of each beam holding its own copy?

"Before" is :func:`benchmarks.reference_beam.copying_steps` (the decoding steps of commit
0ee7c39: a decoder-only model's prompt cache copied to every beam and copied again at every
step's reorder; a T5's encoder states copied to every beam), "after" is
:mod:`lmrec.decoding.steps` (a decoder-only model keeps one cache row per user and a 4-D mask
gives each beam its ancestry; a T5's cross-attention keys and values are still copied once per
beam, its encoder states no longer). Both run side by side in one process on the same random
scratch models, prompts and exclusions (decoding cost does not depend on training); the script
checks that they return the same items with the same scores. One torch thread.

    .venv/bin/python -m benchmarks.shared_prompt            # ML-100K, 256 users, 2 id schemes
    .venv/bin/python -m benchmarks.shared_prompt --quick    # 64 users, collaborative ids
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import lmrec.decoding.beam as beam_module
from benchmarks import harness
from benchmarks.decoding import add_search_options, setup_model, test_users
from benchmarks.reference_beam import copying_steps
from lmrec.data import leave_one_out_split
from lmrec.decoding.beam import constrained_beam_search
from lmrec.decoding.steps import decoding_steps
from lmrec.decoding.trie import ItemTrie

STUDY = "shared_prompt"
BACKBONES = ["scratch:llama-tiny", "scratch:tiny"]
STEPS = {"before": copying_steps, "after": decoding_steps}


@contextlib.contextmanager
def steps_from(factory, held: list):
    """The beam search builds its decoding steps with ``factory``; each one built is kept in
    ``held`` (to read its cache afterwards)."""

    def make(*args, **kwargs):
        held.append(factory(*args, **kwargs))
        return held[-1]

    original = beam_module.decoding_steps
    beam_module.decoding_steps = make
    try:
        yield
    finally:
        beam_module.decoding_steps = original


def held_mb(steps) -> float:
    """Megabytes of keys, values and encoder states a finished search still holds."""
    cache = steps.cache
    caches = [cache]
    if hasattr(cache, "cross_attention_cache"):  # an encoder-decoder's
        caches = [cache.self_attention_cache, cache.cross_attention_cache]
    tensors = [t for c in caches for layer in c.layers for t in (layer.keys, layer.values)]
    tensors.append(getattr(steps, "row_hidden", None))
    return sum(t.untyped_storage().nbytes() for t in tensors if t is not None) / 1e6


def run_pair(split, strategy: str, backbone: str, users: list[str], args) -> dict:
    index, model, tokenizer, histories, prompts = setup_model(split, strategy, backbone, users)
    trie = ItemTrie.from_index(index, tokenizer)
    starts = range(0, len(prompts), args.batch)

    def search(name: str, held: list) -> tuple[list, float]:
        started = time.perf_counter()
        with steps_from(STEPS[name], held):
            ranked = [
                r
                for s in starts
                for r in constrained_beam_search(
                    model,
                    tokenizer,
                    trie,
                    prompts[s : s + args.batch],
                    k=10,
                    num_beams=args.beams,
                    exclude=histories[s : s + args.batch],
                )  # fmt: skip
            ]
        return ranked, time.perf_counter() - started

    search("after", [])  # warm-up: first calls allocate
    held = {name: [] for name in STEPS}
    ranked, seconds = {}, {name: [] for name in STEPS}
    for _ in range(args.passes):  # alternating, the best pass timed (the machine is shared)
        for name in STEPS:
            ranked[name], took = search(name, held[name])
            seconds[name].append(took)
            del held[name][1:]  # the first batch's steps only: the others' caches would pile up
    seconds = {name: min(times) for name, times in seconds.items()}
    before, after = ranked["before"], ranked["after"]
    same = sum([i for i, _ in a] == [i for i, _ in b] for a, b in zip(after, before, strict=True))
    gaps = [
        abs(x - y)
        for a, b in zip(after, before, strict=True)
        for (_, x), (_, y) in zip(a, b, strict=False)
    ]
    codes = [len(index.code(i)) for i in index.items]
    return {
        "backbone": backbone,
        "strategy": strategy,
        "items": len(index),
        "tokens_per_id": sum(codes) / len(codes),
        "trie_depth": trie.depth,
        "users": len(users),
        "before_users_per_s": len(users) / seconds["before"],
        "after_users_per_s": len(users) / seconds["after"],
        "speedup": seconds["before"] / seconds["after"],
        "same_top10": same / len(users),
        "max_score_gap": max(gaps, default=0.0),
        "before_held_mb": held_mb(held["before"][0]),
        "after_held_mb": held_mb(held["after"][0]),
    }


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="64 users, collaborative ids only")
    p.add_argument("--dataset", default="ml100k")
    add_search_options(p, users=256)
    p.add_argument("--passes", type=int, default=3, help="timed passes of each search")
    p.add_argument("--strategies", default="collaborative,semantic")
    args = p.parse_args(argv)
    harness.setup(args)
    started = time.perf_counter()
    strategies = ["collaborative"] if args.quick else harness.split_list(args.strategies)
    split = leave_one_out_split(harness.load(args.dataset, args.data))
    users = test_users(split, min(args.users, 64) if args.quick else args.users)
    rows = []
    for backbone in BACKBONES:
        for strategy in strategies:
            rows.append(
                {"dataset": args.dataset, **run_pair(split, strategy, backbone, users, args)}
            )
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "wall_seconds": time.perf_counter() - started,
        "protocol": (
            f"Top-10 of {len(users)} {args.dataset} test users' training histories (last 20 "
            f"items), {args.beams} beams, batches of {args.batch}, history excluded; random "
            f"scratch models (seed 0); users/s of the best of {args.passes} alternating passes."
        ),
        "rows": rows,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))


def markdown(result: dict) -> str:
    title = "Trie beam search: the prompt's keys and values shared by a user's beams"
    lines = harness.page_head(title, result) + [
        "Before: every beam holds a copy of its prompt's key/value cache (decoder-only: copied "
        "again at every step's reorder; T5: its encoder states copied too). After: a "
        "decoder-only model keeps one cache row per user, each step appends one slot per beam "
        "and a 4-D attention mask lets each beam see only its prompt and its own ancestors; a "
        "T5 no longer copies its encoder states (its cross-attention keys and values are still "
        "copied once per beam: T5's attention takes one batch row per query row). Held MB: "
        "keys, values and encoder states the first batch's search holds at its end.",
        "",
    ]
    header = ["backbone", "ids", "items", "depth", "users/s before", "users/s after"]
    header += ["speed-up", "same top-10", "max score gap", "held MB before / after"]
    cells = [
        [
            r["backbone"],
            r["strategy"],
            str(r["items"]),
            str(r["trie_depth"]),
            f"{r['before_users_per_s']:.1f}",
            f"{r['after_users_per_s']:.1f}",
            f"{r['speedup']:.2f}x",
            f"{r['same_top10']:.0%}",
            f"{r['max_score_gap']:.1e}",
            f"{r['before_held_mb']:.1f} / {r['after_held_mb']:.1f}",
        ]  # fmt: skip
        for r in result["rows"]
    ]
    lines += harness.markdown_table(header, "llrrrrrrrr", cells)
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

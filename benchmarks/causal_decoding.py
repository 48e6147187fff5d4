"""Issue 4's inference speed for decoder-only LMs: top-10 users/s with the output layer run on
every prompt position ("before") or on the last one only ("after", ``logits_to_keep=1``).

A decoder-only model reading a 50-item history of one-token ids (``objective="sequence"``: the
prompt is ``i1 </s> i2 </s> ... i50 </s>``, ~100 tokens) computes, without the trim, a logit
for every vocabulary entry at every prompt position, though beam search only reads the last.
Over Beauty's 12,101 id tokens that output layer costs more than the transformer itself. Both
paths run side by side in one process on the same random-initialised model (decoding cost does
not depend on training), prompts and exclusions; the script checks that they return the same
items. "Before" is the same model behind a wrapper whose ``forward`` has no ``logits_to_keep``,
which is how :mod:`lmrec.generate` treats a model that cannot trim.

    .venv/bin/python benchmarks/causal_decoding.py            # Beauty and ML-100K, 512 users
    .venv/bin/python benchmarks/causal_decoding.py --quick    # ML-100K, 128 users

Writes benchmarks/results/causal_decoding[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch
from sequential import DATA, load

from lmrec.data import leave_one_out_split
from lmrec.generate import ItemTrie, constrained_beam_search
from lmrec.indexing import IndexConfig, build_index
from lmrec.model import prepare_model
from lmrec.tasks.sequential import sequence_text

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
BACKBONES = ["scratch:llama-tiny", "scratch:gpt-tiny"]


class FullLogits(torch.nn.Module):
    """The wrapped model, without ``logits_to_keep``: logits at every position."""

    def __init__(self, model):
        super().__init__()
        self.inner = model
        self.config = model.config

    @property
    def device(self) -> torch.device:
        return self.inner.device

    def forward(self, input_ids, attention_mask, position_ids, cache, use_cache):
        return self.inner(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=use_cache,
        )


def run(split, backbone: str, users: list[str], args) -> dict:
    index = build_index(split, IndexConfig(strategy="sequential"))
    corpus = [i.name for i in split.catalog.values() if i.name] or ["item"]
    model, tokenizer = prepare_model(backbone, corpus, index.vocabulary(), seed=0)
    model.eval()
    trie = ItemTrie.from_index(index, tokenizer)
    histories = [[x.item for x in split.train[u]] for u in users]
    eos = tokenizer.eos_token
    prompts = [sequence_text(h, index, args.max_history, eos) for h in histories]
    starts = range(0, len(prompts), args.batch)

    def decode(m):
        started = time.perf_counter()
        out = []
        for s in starts:
            out += constrained_beam_search(
                m, tokenizer, trie, prompts[s : s + args.batch], k=10, num_beams=args.beams,
                exclude=histories[s : s + args.batch], max_source_length=8 * args.max_history,
            )  # fmt: skip
        return out, time.perf_counter() - started

    wrapped = FullLogits(model).eval()
    decode(model)  # warm-up: first calls allocate
    before, t_before = decode(wrapped)
    after, t_after = decode(model)
    same = sum([i for i, _ in a] == [i for i, _ in b] for a, b in zip(after, before, strict=True))
    return {
        "backbone": backbone,
        "items": len(index),
        "vocabulary": len(tokenizer),
        "users": len(users),
        "prompt_tokens_mean": sum(len(tokenizer(p).input_ids) + 1 for p in prompts) / len(prompts),
        "before_users_per_s": len(users) / t_before,
        "after_users_per_s": len(users) / t_after,
        "speedup": t_before / t_after,
        "same_top10": same / len(users),
    }


def markdown(result: dict) -> str:
    lines = [
        "# Decoder-only top-10 decoding: output layer on every prompt position vs the last only",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; wall time {result['wall_seconds']:.0f} s.",
        "",
        result["protocol"],
        "",
        "| data | backbone | items | vocabulary | prompt tokens | before users/s "
        "| after users/s | speedup | same top-10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['data']} | {r['backbone'].removeprefix('scratch:')} | {r['items']} "
            f"| {r['vocabulary']} | {r['prompt_tokens_mean']:.0f} | {r['before_users_per_s']:.0f} "
            f"| {r['after_users_per_s']:.0f} | {r['speedup']:.2f}x | {r['same_top10']:.0%} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="beauty,ml100k")
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--users", type=int, default=512)
    p.add_argument("--batch", type=int, default=128, help="prompts decoded together")
    p.add_argument("--beams", type=int, default=20)
    p.add_argument("--max-history", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="ML-100K only, 128 users")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    if args.quick:
        args.datasets, args.users = "ml100k", 128
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rows = []
    for name in args.datasets.split(","):
        split = leave_one_out_split(load(name, Path(args.data)))
        users = [u for u in split.test if split.train.get(u)][: args.users]
        for backbone in BACKBONES:
            row = {"data": name, **run(split, backbone, users, args)}
            print(row, flush=True)
            rows.append(row)
    result = {
        "command": "python "
        + " ".join(shlex.quote(a) for a in ["benchmarks/causal_decoding.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "protocol": (
            f"Leave-one-out split; the first {args.users} test users with training items; "
            f"prompt = the last {args.max_history} training items as one-token ids (sequential "
            f"index) with </s> between them, as objective='sequence' reads them; top-10 by "
            f"trie beam search, {args.beams} beams, history excluded, batches of "
            f"{args.batch}. Random-initialised models, seed 0. Before and after run side by "
            "side on the same model in one process."
        ),
        "wall_seconds": time.perf_counter() - started,
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "causal_decoding" + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

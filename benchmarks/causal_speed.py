"""Issue 4's speed for decoder-only LMs under ``objective="sequence"``, before and after the
output layer was limited to the positions that matter: training sequences/s and top-10 users/s.

Training: "before" computed logits at every position and trained the ``</s>`` separators as
labels too; "after" the separators are inputs only and logits are computed only at positions
that predict a label (``logits_to_keep`` as an index): half the output layer for one-token ids.
Both train from the same initial weights on the same batches (forward, backward, AdamW step).
Decoding: top-10 with the output layer run on every prompt position ("before") or on the last
one only ("after").

A decoder-only model reading a 50-item history of one-token ids (``objective="sequence"``: the
prompt is ``i1 </s> i2 </s> ... i50 </s>``, ~100 tokens) computes, without the trim, a logit
for every vocabulary entry at every prompt position, though beam search only reads the last.
Over Beauty's 12,101 id tokens that output layer costs more than the transformer itself. Both
paths run side by side in one process on the same random-initialised model (decoding cost does
not depend on training), prompts and exclusions; the script checks that they return the same
items. "Before" is the same model behind a wrapper whose ``forward`` has no ``logits_to_keep``,
which is how :mod:`lmrec.generate` treats a model that cannot trim.

    .venv/bin/python benchmarks/causal_speed.py            # Beauty and ML-100K, 512 users
    .venv/bin/python benchmarks/causal_speed.py --quick    # ML-100K, 128 users

Writes benchmarks/results/causal_speed[-quick].{json,md}.
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
from lmrec.tasks.sequential import sequence_examples, sequence_text
from lmrec.train import _collate, batch_loss, weighted_loss

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


def train_speed(model, tokenizer, split, index, args) -> dict:
    """Sequences/s of forward + backward + AdamW step, before and after, same batches."""
    examples = sequence_examples(split, index, args.max_history, tokenizer.eos_token)
    examples = sorted(examples, key=lambda e: len(e.source))[-args.train_batches * args.batch :]
    batches = [
        _collate(tokenizer, examples[i : i + args.batch], 8 * args.max_history, causal=True)
        for i in range(0, len(examples), args.batch)
    ]
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def before(batch):
        # Every token a label (separators too), logits at every position.
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return weighted_loss(out.logits, labels, batch["weights"], causal=True)

    def after(batch):
        return batch_loss(model, batch, causal=True, trim_logits=True)

    seconds = {}
    for name, loss_of in (("before", before), ("after", after), ("before", before)):
        model.load_state_dict(start)
        model.train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
        started = time.perf_counter()
        for batch in batches:
            loss_of(batch).backward()
            optimizer.step()
            optimizer.zero_grad()
        seconds[name] = time.perf_counter() - started  # "before" twice: the first warms up
    model.load_state_dict(start)
    n = len(examples)
    return {
        "train_sequences": n,
        "train_tokens_mean": sum(int(b["attention_mask"].sum()) for b in batches) / n,
        "train_before_seq_per_s": n / seconds["before"],
        "train_after_seq_per_s": n / seconds["after"],
        "train_speedup": seconds["before"] / seconds["after"],
    }


def run(split, backbone: str, users: list[str], args) -> dict:
    index = build_index(split, IndexConfig(strategy="sequential"))
    corpus = [i.name for i in split.catalog.values() if i.name] or ["item"]
    model, tokenizer = prepare_model(backbone, corpus, index.vocabulary(), seed=0)
    training = train_speed(model, tokenizer, split, index, args)
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
        **training,
    }


def markdown(result: dict) -> str:
    lines = [
        "# Decoder-only speed (objective='sequence'): output layer on every position vs only "
        "where it is read",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; wall time {result['wall_seconds']:.0f} s.",
        "",
        result["protocol"],
        "",
        "| data | backbone | items | vocabulary | train tokens/seq | train seq/s before "
        "| after | speedup | prompt tokens | top-10 users/s before | after | speedup "
        "| same top-10 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['data']} | {r['backbone'].removeprefix('scratch:')} | {r['items']} "
            f"| {r['vocabulary']} | {r['train_tokens_mean']:.0f} "
            f"| {r['train_before_seq_per_s']:.1f} | {r['train_after_seq_per_s']:.1f} "
            f"| {r['train_speedup']:.2f}x | {r['prompt_tokens_mean']:.0f} "
            f"| {r['before_users_per_s']:.0f} | {r['after_users_per_s']:.0f} "
            f"| {r['speedup']:.2f}x | {r['same_top10']:.0%} |"
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
    p.add_argument("--train-batches", type=int, default=8, help="training batches timed")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="ML-100K only, 128 users")
    p.add_argument("--out", default=str(OUT))
    args = p.parse_args()
    if args.quick:
        args.datasets, args.users, args.train_batches = "ml100k", 128, 2
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
        + " ".join(shlex.quote(a) for a in ["benchmarks/causal_speed.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {torch.get_num_threads()} torch threads",
        "protocol": (
            f"Leave-one-out split; the first {args.users} test users with training items; "
            f"prompt = the last {args.max_history} training items as one-token ids (sequential "
            f"index) with </s> between them, as objective='sequence' reads them; top-10 by "
            f"trie beam search, {args.beams} beams, history excluded, batches of "
            f"{args.batch}. Training: the {args.train_batches} batches of {args.batch} "
            "longest all-positions sequences (the last max-history + 1 training items of a "
            "user), forward + backward + AdamW step, from the same initial weights; 'before' "
            "is timed twice and the second run kept (the first warms up). Random-initialised "
            "models, seed 0. Before and after run side by side on the same model in one "
            "process."
        ),
        "wall_seconds": time.perf_counter() - started,
        "rows": rows,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "causal_speed" + ("-quick" if args.quick else "")
    (out / f"{stem}.json").write_text(json.dumps(result, indent=1))
    (out / f"{stem}.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

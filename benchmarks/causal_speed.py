"""Issue 4's speed for decoder-only LMs under ``objective="sequence"``, before and after this
project's changes to it: training sequences/s and top-10 users/s, side by side.

Before: ids with ``</s>`` between them (``i1 </s> i2 </s> ... in </s>``, ~2 tokens per
one-token id), every token a label (separators too), and the output layer run at every
position, in training and in decoding (where beam search reads only the last). After: ids
alone after a start token (``</s> i1 i2 ... in``), labels only on id tokens, and the output
layer run only at the positions whose prediction is read (``logits_to_keep`` as an index).
Over Beauty's 12,101 id tokens that output layer costs more than the transformer itself.

Both paths use the same random-initialised model and users (decoding and step cost do not
depend on training): training from the same initial weights on the same users' sequences
(forward, backward, AdamW step); decoding with the same exclusions. "Before" decodes with the
model behind a wrapper whose ``forward`` has no ``logits_to_keep``, which is how
:mod:`lmrec.decoding.beam` treats a model that cannot trim. The prompts differ between the two, so
the answers of a random model are not compared; that the trim itself changes no answer is
tested (``tests/test_generate.py``, ``tests/test_backbones.py``).

    .venv/bin/python -m benchmarks.causal_speed            # Beauty and ML-100K, 512 users
    .venv/bin/python -m benchmarks.causal_speed --quick    # ML-100K, 128 users

Writes benchmarks/results/causal_speed/causal_speed[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import torch

from benchmarks import harness
from lmrec.backbone.causal import answer_ids, prompt_ids
from lmrec.backbone.model import prepare_model
from lmrec.data import leave_one_out_split
from lmrec.decoding.beam import constrained_beam_search
from lmrec.decoding.trie import ItemTrie
from lmrec.indexing import IndexConfig, build_index
from lmrec.tasks import Example
from lmrec.tasks.sequential import sequence_text
from lmrec.training.step import batch_loss, collate_batch, weighted_loss

STUDY = "causal_speed"
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


def old_text(items: list[str], index, max_history: int, eos: str) -> str:
    """The sequence format before: ids with ``</s>`` between them, ``i1 </s> i2 ... in``."""
    codes = [index.render(i) for i in items if i in index][-max_history:]
    return f" {eos} ".join(codes)


def old_batch(tokenizer, pairs: list[tuple[str, str]], max_len: int) -> dict:
    """``i1 </s> ... in </s> target </s>`` per pair, every token a label, right-padded."""
    rows = [prompt_ids(tokenizer, a, max_len) + answer_ids(tokenizer, b) for a, b in pairs]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for n, r in enumerate(rows):
        ids[n, : len(r)], mask[n, : len(r)] = torch.tensor(r), 1
    return {"input_ids": ids, "attention_mask": mask, "weights": torch.ones(len(rows))}


def train_speed(model, tokenizer, split, index, args) -> dict:
    """Sequences/s of forward + backward + AdamW step, before and after, on the same users'
    sequences (the longest ``train_batches * batch``), from the same initial weights."""
    eos, max_len = tokenizer.eos_token, 8 * args.max_history
    users = sorted(split.train, key=lambda u: -len(split.train[u]))
    users = users[: args.train_batches * args.batch]
    sequences = [[x.item for x in split.train[u]][-(args.max_history + 1) :] for u in users]
    groups = [sequences[i : i + args.batch] for i in range(0, len(sequences), args.batch)]
    old = [
        old_batch(tokenizer, [(old_text(q[:-1], index, 0, eos), index.render(q[-1])) for q in g],
                  max_len)
        for g in groups
    ]  # fmt: skip
    new = [
        collate_batch(tokenizer, [Example(sequence_text(q[:-1], index, 0, eos), index.render(q[-1]),
                                     "sequence", "sequence", all_positions=True) for q in g],
                 max_len, causal=True)
        for g in groups
    ]  # fmt: skip
    start = {k: v.clone() for k, v in model.state_dict().items()}

    def before(batch):
        # Separators between ids, every token a label, logits at every position.
        labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        return weighted_loss(out.logits, labels, batch["weights"], causal=True)

    def after(batch):
        return batch_loss(model, batch, causal=True, trim_logits=True)

    seconds = {}
    for name, loss_of, batches in (
        ("before", before, old), ("after", after, new), ("before", before, old)
    ):  # fmt: skip
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
    n = len(sequences)

    def tokens(batches):
        return sum(int(b["attention_mask"].sum()) for b in batches) / n

    return {
        "train_sequences": n,
        "train_tokens_before": tokens(old),
        "train_tokens_after": tokens(new),
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
    prompts = {
        "before": [old_text(h, index, args.max_history, eos) for h in histories],
        "after": [sequence_text(h, index, args.max_history, eos) for h in histories],
    }
    starts = range(0, len(histories), args.batch)

    def decode(m, which):
        started = time.perf_counter()
        for s in starts:
            constrained_beam_search(
                m, tokenizer, trie, prompts[which][s : s + args.batch], k=10,
                num_beams=args.beams, exclude=histories[s : s + args.batch],
                max_source_length=8 * args.max_history, separator=which == "before",
            )  # fmt: skip
        return time.perf_counter() - started

    decode(model, "after")  # warm-up: first calls allocate
    t_before = decode(FullLogits(model).eval(), "before")
    t_after = decode(model, "after")

    def prompt_tokens(which):
        sep = which == "before"
        lengths = [len(prompt_ids(tokenizer, p, 8 * args.max_history, sep)) for p in prompts[which]]
        return sum(lengths) / len(lengths)

    return {
        "backbone": backbone,
        "items": len(index),
        "vocabulary": len(tokenizer),
        "users": len(users),
        "prompt_tokens_before": prompt_tokens("before"),
        "prompt_tokens_after": prompt_tokens("after"),
        "before_users_per_s": len(users) / t_before,
        "after_users_per_s": len(users) / t_after,
        "speedup": t_before / t_after,
        **training,
    }


def markdown(result: dict) -> str:
    lines = [
        *harness.page_head(
            "Decoder-only speed (objective='sequence'): output layer on every position vs only "
            "where it is read",
            result,
        ),
        "| data | backbone | items | vocabulary | train tokens/seq before / after "
        "| train seq/s before | after | speedup | prompt tokens before / after "
        "| top-10 users/s before | after | speedup |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['data']} | {r['backbone'].removeprefix('scratch:')} | {r['items']} "
            f"| {r['vocabulary']} | {r['train_tokens_before']:.0f} / {r['train_tokens_after']:.0f} "
            f"| {r['train_before_seq_per_s']:.1f} | {r['train_after_seq_per_s']:.1f} "
            f"| {r['train_speedup']:.2f}x "
            f"| {r['prompt_tokens_before']:.0f} / {r['prompt_tokens_after']:.0f} "
            f"| {r['before_users_per_s']:.0f} | {r['after_users_per_s']:.0f} "
            f"| {r['speedup']:.2f}x |"
        )
    return "\n".join(lines) + "\n"


def protocol(args: argparse.Namespace) -> str:
    return (
        f"Leave-one-out split; the first {args.users} test users with training items; "
        f"prompt = the last {args.max_history} training items as one-token ids (sequential "
        f"index), before with </s> between them, after after a start token; top-10 by "
        f"trie beam search, {args.beams} beams, history excluded, batches of "
        f"{args.batch}. Training: the {args.train_batches} batches of {args.batch} users "
        "with the longest histories (their last max-history + 1 training items), forward "
        "+ backward + AdamW step, from the same initial weights; 'before' "
        "is timed twice and the second run kept (the first warms up). Random-initialised "
        "models, seed 0. Before and after run side by side on the same model in one "
        "process."
    )


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, threads=2, quick="ML-100K only, 128 users")
    p.add_argument("--datasets", default="beauty,ml100k")
    p.add_argument("--users", type=int, default=512)
    p.add_argument("--batch", type=int, default=128, help="prompts decoded together")
    p.add_argument("--beams", type=int, default=20)
    p.add_argument("--max-history", type=int, default=50)
    p.add_argument("--train-batches", type=int, default=8, help="training batches timed")
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.users, args.train_batches = "ml100k", 128, 2
    harness.setup(args)
    started = time.perf_counter()
    rows = []
    for name in args.datasets.split(","):
        split = leave_one_out_split(harness.load(name, args.data))
        users = [u for u in split.test if split.train.get(u)][: args.users]
        for backbone in BACKBONES:
            row = {"data": name, **run(split, backbone, users, args)}
            print(row, flush=True)
            rows.append(row)
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "protocol": protocol(args),
        "wall_seconds": time.perf_counter() - started,
        "rows": rows,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))


if __name__ == "__main__":
    main()

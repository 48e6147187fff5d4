"""Issue 23 items 2 and 3: top-10 serving speed of the language model of record against SASRec
on one split, the LM ranking both by trie beam search and in one forward pass (the same model
and users; the two must give the same lists), with each model's training throughput, and the
LM's training steps alone (``--steps`` steps on fixed batches from its trained weights: their
losses, compared between two versions of the code, show the step computes the same thing).

The models are :mod:`benchmarks.time_to_quality`'s, trained the same way (a few epochs here:
the question is speed, not accuracy). Top-10 users/s is :func:`evaluate_ranking`'s (test stage,
all items ranked, history not excluded, 256 histories per call), the fastest of ``--repeats``
interleaved passes, so a burst of load on a shared machine hurts every ranker alike.

    .venv/bin/python -m benchmarks.top10_speed --quick
    .venv/bin/python -m benchmarks.top10_speed --dataset beauty --users 5000

Run against a source tree without the one-pass ranking (``PYTHONPATH=<old>/src``), the same
command measures the code before it: the LM row is then the beam search alone.
Writes benchmarks/results/top10_speed/top10-speed[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from benchmarks.time_to_quality import (
    LM,
    SASREC,
    add_pair_options,
    test_report,
    train_lm,
    train_sasrec,
)
from lmrec.data import leave_one_out_split
from lmrec.recommenders.lm import LMRecommender
from lmrec.tasks.sequential import sequence_examples
from lmrec.training.step import TrainingStep, cpu_only, make_batches

STUDY = "top10_speed"
BEAM, ONE_PASS = f"{LM}, trie beam search", f"{LM}, one forward pass"


def rankers(sasrec, lm: LMRecommender) -> dict[str, object]:
    """SASRec, the LM by beam search and (where this code has it) the LM in one pass."""
    if not hasattr(LMRecommender, "one_pass_ranking"):
        return {SASREC: sasrec, BEAM: lm}
    beam = copy.copy(lm)
    beam.one_pass_ranking = False
    return {SASREC: sasrec, BEAM: beam, ONE_PASS: lm}


def timed_top10(named: dict[str, object], split, args) -> dict[str, dict]:
    """Each ranker's best top-10 users/s over ``args.repeats`` interleaved passes, and its test
    NDCG@10 / HR@10 (the same in every pass)."""
    rows: dict[str, dict] = {}
    for _ in range(args.repeats):
        for name, rec in named.items():
            report = test_report(rec, split, args)
            row = rows.setdefault(name, {"users_per_second": 0.0, "passes": []})
            row["passes"].append(report.users_per_second)
            row["users_per_second"] = max(row["passes"])
            row["test_ndcg10"] = report.metrics["NDCG@10"]
            row["test_hr10"] = report.metrics["HR@10"]
            row["test_users"] = report.n_users
    return rows


def same_lists(named: dict[str, object], split, users: int) -> dict[str, float] | None:
    """How many of ``users`` test users get the same top-10 items from the beam search and the
    one pass, and the largest score difference; None without the one pass."""
    if ONE_PASS not in named:
        return None
    histories = [[x.item for x in split.history(u, "test")] for u in list(split.test)[:users]]
    beam = named[BEAM].recommend(histories, k=10, exclude_seen=False)
    fast = named[ONE_PASS].recommend(histories, k=10, exclude_seen=False)
    same = sum([s.item for s in a] == [s.item for s in b] for a, b in zip(beam, fast, strict=True))
    gap = max(
        (
            abs(x.score - y.score)
            for a, b in zip(beam, fast, strict=True)
            for x, y in zip(a, b, strict=True)
        ),
        default=0.0,
    )
    return {"users": len(histories), "identical_lists": same, "max_score_difference": gap}


def lm_step_rate(lm: LMRecommender, split, args) -> dict:
    """The LM's training steps alone (collate, forward, loss, backward, AdamW), ``args.steps``
    of them on batches drawn with ``args.seed``, from a copy of its trained weights."""
    import torch
    from accelerate import Accelerator

    model = copy.deepcopy(lm.model)
    start = lm.tokenizer.eos_token
    examples = sequence_examples(split, lm.index, lm.config.prompts.max_history, start)
    lengths = [len(e.source) for e in examples]
    batches = make_batches(lengths, args.batch_size, random.Random(args.seed))[: args.steps]
    torch.manual_seed(args.seed)
    step = TrainingStep(Accelerator(cpu=cpu_only()), model, lm.tokenizer, lm.config.train, 1000)
    model.train()
    started = time.perf_counter()
    losses = [step([examples[i] for i in batch])[0] for batch in batches]
    seconds = time.perf_counter() - started
    sequences = sum(len(b) for b in batches)
    return {
        "steps": len(batches),
        "sequences": sequences,
        "seconds": seconds,
        "sequences_per_second": sequences / seconds,
        "losses": losses,
    }


def markdown(result: dict) -> str:
    rows = result["models"]
    sasrec = rows[SASREC]["users_per_second"]
    lines = harness.page_head("Top-10 serving speed: SASRec vs the language model", result)
    lines += harness.markdown_table(
        [
            "model, ranking",
            "fit s",
            "training sequences/s",
            "top-10 users/s",
            "/ SASRec",
            "test NDCG@10",
        ],  # fmt: skip
        "lrrrrr",
        (
            [
                name,
                f"{r['fit_seconds']:.0f}",
                f"{r['sequences_per_second']:.0f}",
                f"{r['users_per_second']:.0f}",
                f"{r['users_per_second'] / sasrec:.2f}",
                f"{r['test_ndcg10']:.4f}",
            ]
            for name, r in rows.items()
        ),
    )
    steps = result["lm_steps"]
    lines += [
        "",
        f"LM training steps alone: {steps['steps']} steps of batch {result['batch_size']}, "
        f"{steps['sequences_per_second']:.0f} sequences/s; first and last losses "
        f"{steps['losses'][0]:.6f}, {steps['losses'][-1]:.6f}.",
    ]
    check = result["beam_vs_one_pass"]
    if check is not None:
        lines += [
            "",
            f"Beam search vs one pass on the first {check['users']} test users: "
            f"{check['identical_lists']} identical top-10 lists, largest score difference "
            f"{check['max_score_difference']:.2g}.",
        ]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, threads=1, quick="the built-in shop, 1 epoch each")
    p.set_defaults(name="top10-speed")
    add_pair_options(p, users=5000, sasrec_epochs=2, lm_epochs=2, lm_patience=0)
    p.add_argument("--repeats", type=int, default=3, help="timed top-10 passes per ranker")
    p.add_argument("--steps", type=int, default=60, help="LM training steps timed alone")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    args.sasrec_patience = 0
    if args.quick:
        args.dataset, args.epochs, args.sasrec_epochs, args.repeats = "shop", 1, 1, 1
        args.steps = 5
    harness.setup(args)
    started = time.perf_counter()
    split = leave_one_out_split(harness.load_sampled(args))
    sasrec, lm = train_sasrec(split, args), train_lm(split, args)
    named = rankers(sasrec.rec, lm.rec)
    rows = timed_top10(named, split, args)
    for name, row in rows.items():
        fitted = sasrec if name == SASREC else lm
        row |= {
            "fit_seconds": fitted.fit_seconds,
            "sequences": fitted.sequences,
            "sequences_per_second": fitted.sequences / fitted.fit_seconds,
        }
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": f"{harness.machine()}, load average {os.getloadavg()[0]:.1f} at the end",
        "data": split.name,
        "protocol": (
            f"Data: {split.describe()}. Leave-one-out. SASRec (full CE, defaults) for "
            f"{args.sasrec_epochs} epoch(s); LM of record (scratch:llama-tiny, sequence "
            f"objective, dropout 0.5, one-token sequential ids, 50 positions, batch "
            f"{args.batch_size}, lr {args.lr:g}) for {args.epochs} epoch(s); both validate on "
            "every validation user after each epoch. Fit s: wall seconds of fit(), validation "
            "included; training sequences/s = sequences / fit s (SASRec: windows of up to 50 "
            "targets; LM: each user's last 51 items). Top-10 users/s: evaluate_ranking, test "
            "stage, all items, history not excluded, "
            + (f"{args.eval_users} sampled users" if args.eval_users else "all test users")
            + f", best of {args.repeats} interleaved passes."
        ),
        "wall_seconds": time.perf_counter() - started,
        "models": rows,
        "batch_size": args.batch_size,
        "lm_steps": lm_step_rate(lm.rec, split, args),
        "beam_vs_one_pass": same_lists(named, split, 500),
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))


if __name__ == "__main__":
    main()

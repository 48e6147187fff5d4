"""Issue 23 item 1: where does a training run's time go, SASRec (full CE) beside the language
model at its best configuration (``scratch:llama-tiny``, ``objective="sequence"``, dropout 0.5,
one-token sequential ids, 50 positions), on the same split? Measured before anything is changed.

Each model is fitted twice through its public ``fit`` on the same split, for a short budget of
epochs (validation on the same users included):

1. under a stack sampler (:class:`StackSampler`): a thread that reads the training thread's
   Python stack every few milliseconds and files the wall time since the last sample under the
   first phase (:data:`PHASES`) whose function is on the stack. It attributes Python and native
   time alike and costs little, so this pass gives the table of where the time goes;
2. under ``torch.profiler`` (CPU activities): the self time of every operator, to split the
   wall time into matrix arithmetic (matmul and attention kernels), other operators
   (element-wise, copies, indexing, embeddings, the optimizer's per-tensor ops) and time spent
   outside any operator (Python, tokenising, the dispatcher between operators).

    .venv/bin/python -m benchmarks.profile_training --quick      # the built-in shop, ~30 s
    .venv/bin/python -m benchmarks.profile_training --threads 2  # full Beauty, ~10 min

Writes benchmarks/results/profile_training/profile_training[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file


from benchmarks import harness
from lmrec.baselines import SASRecConfig, SASRecRecommender
from lmrec.data import leave_one_out_split
from lmrec.recommenders.lm import LMRecommender

STUDY = "profile_training"

# (phase, [(file suffix, qualified function name or "" for any function in the file)]), in
# order of precedence: a sample goes to the first phase with a matching frame on the stack, so
# validation takes its own forward passes, and "forward" gets only what no finer phase claims.
PHASES: list[tuple[str, list[tuple[str, str]]]] = [
    (
        "validation",
        [
            ("fitting.py", "LMFitting._ndcg_validator.<locals>.validate"),
            ("sasrec.py", "SASRecRecommender._validation_ndcg"),
        ],
    ),
    (
        "optimizer (AdamW/Adam step, zero_grad, LR schedule, clipping)",
        [
            ("torch/optim/optimizer.py", ""),
            ("torch/optim/adamw.py", ""),
            ("torch/optim/adam.py", ""),
            ("torch/optim/lr_scheduler.py", ""),
            ("torch/nn/utils/clip_grad.py", ""),
            ("accelerate/accelerator.py", "Accelerator.clip_grad_norm_"),
        ],
    ),
    (
        "backward",
        [("torch/autograd/__init__.py", "backward"), ("torch/_tensor.py", "Tensor.backward")],
    ),
    ("prompt building (examples per epoch)", [("tasks/sequential.py", "sequence_examples")]),
    (
        "tokenising (in collate)",
        [
            ("transformers/tokenization_utils_base.py", ""),
            ("transformers/tokenization_utils_fast.py", ""),
            ("transformers/tokenization_python.py", ""),
            ("transformers/tokenization_utils_tokenizers.py", ""),
        ],
    ),
    ("collate (tensors from token ids)", [("training/step.py", "collate_batch")]),
    ("attention mask building", [("transformers/masking_utils.py", "")]),
    ("position/rotary tables", [("modeling_llama.py", "LlamaRotaryEmbedding.forward")]),
    (
        "forward: transformer blocks (SASRec: with its mask)",
        [
            ("modeling_llama.py", "LlamaModel.forward"),
            ("self_attention.py", "SASRecNetwork.forward"),
        ],
    ),
    (
        "forward: output layer over all items + loss",
        [
            ("training/step.py", "batch_loss"),
            ("sasrec.py", "SASRecRecommender._loss"),
            # the chunked output layer and loss (its gradients are built here, in the forward)
            ("training/fused.py", "_LinearCrossEntropy.forward"),
        ],
    ),
    (
        "set-up (index, tokenizer, model, trie, training windows)",
        [
            ("recommenders/fitting.py", "LMFitting._set_up"),
            ("indexing/", ""),
            ("sasrec.py", "SASRecRecommender._training_windows"),
            ("sasrec.py", "SASRecRecommender._validation_data"),
            ("baselines/popularity.py", ""),
        ],
    ),
    (
        "training loop: Python overhead (batching, device moves, loss.item, logging)",
        [("training/loop.py", "train_model"), ("sasrec.py", "SASRecRecommender._train")],
    ),
]
OTHER = "other (split bookkeeping, garbage collection, ...)"


class StackSampler:
    """Samples one thread's Python stack every ``interval`` seconds from a daemon thread and
    adds the wall time since the previous sample to the first :data:`PHASES` entry found on
    it. ``seconds`` maps phase to seconds; ``wall`` is the whole sampled span."""

    def __init__(self, interval: float = 0.002):
        self.interval = interval
        self.seconds: dict[str, float] = {}
        self.wall = 0.0
        self._target = threading.get_ident()
        self._stop = threading.Event()

    def __enter__(self) -> StackSampler:
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.wall = time.perf_counter() - self._started

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.wait(self.interval):
            frame = sys._current_frames().get(self._target)
            now = time.perf_counter()
            phase = classify(frame)
            self.seconds[phase] = self.seconds.get(phase, 0.0) + now - last
            last = now


def classify(frame) -> str:
    """The first phase of :data:`PHASES` with a function on ``frame``'s stack."""
    found = set()
    while frame is not None:
        code = frame.f_code
        found.add((code.co_filename.replace("\\", "/"), code.co_qualname))
        frame = frame.f_back
    for phase, patterns in PHASES:
        for suffix, name in patterns:
            if any(suffix in f and (not name or q == name) for f, q in found):
                return phase
    return OTHER


# Operators doing the model's arithmetic proper: matrix products and fused attention.
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::_scaled_dot_product")


def operator_split(fit: Callable[[], object]) -> dict:
    """Wall seconds of ``fit()`` under ``torch.profiler``, split into matrix arithmetic, other
    operators and time outside any operator; the 12 operators with the most self time."""
    from torch.profiler import ProfilerActivity, profile

    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fit()
    wall = time.perf_counter() - started
    # Only aten operators count as operator time: the self time of record_function ranges
    # (``Optimizer.step#AdamW.step``) and of the autograd engine's wrappers is Python and
    # bookkeeping between operators.
    ops = [(e.key, e.self_cpu_time_total / 1e6, e.count) for e in prof.key_averages()]
    ops = sorted((x for x in ops if x[0].startswith("aten::")), key=lambda x: -x[1])
    matmul = sum(s for k, s, _ in ops if k.startswith(MATMUL_OPS))
    in_ops = sum(s for _, s, _ in ops)
    return {
        "wall_seconds": wall,
        "matmul_attention_seconds": matmul,
        "other_operator_seconds": in_ops - matmul,
        "outside_operators_seconds": max(0.0, wall - in_ops),
        "top_operators": [{"op": k, "self_seconds": s, "calls": c} for k, s, c in ops[:12]],
    }


def sasrec_config(args: argparse.Namespace) -> SASRecConfig:
    """SASRec as in the run of record (defaults, history not excluded in validation)."""
    return SASRecConfig(
        epochs=args.sasrec_epochs, patience=0, seed=args.seed, valid_exclude_seen=False,
        progress=False,
    )  # fmt: skip


def profile_model(label: str, make: Callable[[], object], split, args) -> dict:
    """Both passes over one model: the phase table and the operator split."""
    with StackSampler(args.interval) as sampler:
        model = make().fit(split)
    row: dict = {"model": label, "wall_seconds": sampler.wall, **training_counts(model)}
    if "steps" not in row:  # SASRec: its windows of max_len targets, in batches, per epoch
        config = model.config
        windows = sum(
            -(-(len(h) - 1) // config.max_len) for h in split.train.values() if len(h) > 1
        )
        row["sequences"] = windows * row["epochs"]
        row["steps"] = -(-windows // config.batch_size) * row["epochs"]
    row["phases"] = {p: sampler.seconds.get(p, 0.0) for p, _ in PHASES}
    row["phases"][OTHER] = sampler.seconds.get(OTHER, 0.0)
    if not args.no_operators:
        row["operators"] = operator_split(lambda: make().fit(split))
    return row


def training_counts(model) -> dict:
    """Epochs run and training steps taken, from what the fitted model records."""
    if isinstance(model, LMRecommender):
        r = model.train_result
        per_epoch = r.examples_seen // max(1, r.epochs_run)
        steps = -(-per_epoch // model.config.train.batch_size) * r.epochs_run
        return {"epochs": r.epochs_run, "steps": steps, "sequences": r.examples_seen}
    return {"epochs": len(model.training_log)}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(
        p, STUDY, threads=2, quick="the built-in shop (1000 users), 1 epoch each (~30 s)"
    )
    p.add_argument("--dataset", default="beauty", help="a data set by name (harness.load)")
    p.add_argument("--users", type=int, default=0, help="subsample this many users (0 = all)")
    p.add_argument("--lm-epochs", type=int, default=1, help="LM epochs (Beauty: 350 steps each)")
    p.add_argument("--sasrec-epochs", type=int, default=2, help="SASRec epochs (~175 steps each)")
    p.add_argument("--interval", type=float, default=0.002, help="stack sampling interval (s)")
    p.add_argument("--no-operators", action="store_true", help="skip the torch.profiler pass")
    harness.add_lm_options(p, exposed=("batch_size", "lr", "valid_users"), valid_users=0)
    return p


def markdown(result: dict) -> str:
    rows = result["rows"]
    lines = [
        *harness.page_head(
            "Where training time goes: SASRec (full CE) vs the language model of record",
            result,
        ),
        "## Phases (stack sampler)",
        "",
        "| phase | " + " | ".join(f"{r['model']} s | %" for r in rows) + " |",
        "|---|" + "---:|---:|" * len(rows),
    ]
    for phase in rows[0]["phases"]:
        cells = [
            f"{r['phases'][phase]:.1f} | {100 * r['phases'][phase] / r['wall_seconds']:.1f}"
            for r in rows
        ]
        lines.append(f"| {phase} | " + " | ".join(cells) + " |")
    lines.append("| **wall (sampled)** | " + " | ".join(
        f"**{r['wall_seconds']:.1f}** | 100" for r in rows) + " |")  # fmt: skip
    lines += [
        "",
        "| | " + " | ".join(r["model"] for r in rows) + " |",
        "|---|" + "---:|" * len(rows),
    ]
    for key, name in (("epochs", "epochs"), ("steps", "training steps"),
                      ("sequences", "training sequences")):  # fmt: skip
        lines.append(f"| {name} | " + " | ".join(f"{r[key]}" for r in rows) + " |")
    if all("operators" in r for r in rows):
        lines += operator_lines(rows)
    return "\n".join(lines) + "\n"


def operator_lines(rows: list[dict]) -> list[str]:
    """The torch.profiler pass: arithmetic vs the rest, and the top operators."""
    lines = [
        "",
        "## Operators (torch.profiler, a second fit of each model)",
        "",
        "| | " + " | ".join(f"{r['model']} s | %" for r in rows) + " |",
        "|---|" + "---:|---:|" * len(rows),
    ]
    for key, name in (
        ("matmul_attention_seconds", "matrix products and fused attention"),
        ("other_operator_seconds", "other operators (element-wise, copies, indexing, ...)"),
        (
            "outside_operators_seconds",
            "outside any aten operator (Python, tokenising, autograd engine, dispatch)",
        ),
        ("wall_seconds", "wall (under the profiler)"),
    ):
        cells = [r["operators"][key] / r["operators"]["wall_seconds"] for r in rows]
        lines.append(f"| {name} | " + " | ".join(
            f"{r['operators'][key]:.1f} | {100 * c:.1f}" for r, c in zip(rows, cells, strict=True)
        ) + " |")  # fmt: skip
    for r in rows:
        lines += ["", f"Top operators by self time, {r['model']}:", "",
                  "| operator | self s | calls |", "|---|---:|---:|"]  # fmt: skip
        lines += [
            f"| `{o['op']}` | {o['self_seconds']:.2f} | {o['calls']} |"
            for o in r["operators"]["top_operators"]
        ]
    return lines


def protocol(args: argparse.Namespace, split) -> str:
    return (
        f"Data: {split.describe()}. Leave-one-out split (file order kept on ties). SASRec: "
        f"full-softmax CE, defaults (d 64, 2 blocks, 1 head, 50 positions, batch 128, Adam "
        f"1e-3), {args.sasrec_epochs} epoch(s). LM: scratch:llama-tiny (d 64, 2 blocks, 4 "
        f"heads), objective='sequence', dropout 0.5, sequential one-token ids, 50 positions, "
        f"batch {args.batch_size}, AdamW {args.lr:g}, {args.lm_epochs} epoch(s). Both validate "
        f"after every epoch on {'all' if not args.valid_users else args.valid_users} "
        "validation users (NDCG@10 over all items, history not excluded). The phases are "
        f"sampled every {1000 * args.interval:g} ms from the training thread's Python stack; "
        "a sample goes to the first phase (in the table's order) with a function on the "
        "stack. Percentages are of the sampled wall time."
    )


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.quick:
        args.dataset, args.lm_epochs, args.sasrec_epochs = "shop", 1, 1
    harness.setup(args)
    started = time.perf_counter()
    split = leave_one_out_split(harness.load_sampled(args))
    models = [
        ("SASRec (full CE)", lambda: SASRecRecommender(sasrec_config(args))),
        (
            "LM-seq llama-tiny",
            lambda: LMRecommender(harness.lm_of_record(args, epochs=args.lm_epochs, patience=0)),
        ),
    ]
    rows = []
    for label, make in models:
        rows.append(profile_model(label, make, split, args))
        print(f"{label}: {rows[-1]['wall_seconds']:.1f} s", flush=True)
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "protocol": protocol(args, split),
        "wall_seconds": time.perf_counter() - started,
        "rows": rows,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))


if __name__ == "__main__":
    main()

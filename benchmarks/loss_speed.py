"""Issue 23: the output layer and cross-entropy of one training step, forward and backward,
side by side: the plain step's way (the whole (rows, vocabulary) logits, then
``F.cross_entropy``) against :func:`lmrec.training.fused.chunked_linear_cross_entropy` in
float32, with its two gradient products in bfloat16, and with its output layer's product in
bfloat16 too (the default where the device multiplies bfloat16 natively).

The layer is a full-Beauty-sized one by default: 2,700 labelled positions (a batch of 64 long
histories) x hidden 64 x 12,202 tokens (12,101 items and the special and word tokens), random
weights at the scale a trained layer reaches (logits of a few units). The variants run
interleaved, ``--repeats`` times ``--steps`` steps each, so a burst of load hits all alike; the
table gives each one's median ms per step, its ratio to the plain way, and how far its loss and
gradients are from the float32 chunked ones (relative norms).

    .venv/bin/python -m benchmarks.loss_speed --quick
    .venv/bin/python -m benchmarks.loss_speed --threads 2

Writes benchmarks/results/loss_speed/loss-speed[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import torch
import torch.nn.functional as F

from benchmarks import harness
from lmrec.backbone.itemtext import fast_bf16
from lmrec.training.fused import chunked_linear_cross_entropy

STUDY = "loss_speed"
PLAIN = "whole logits + F.cross_entropy"
FLOAT32 = "chunked, float32"
BF16_GRADIENTS = "chunked, bfloat16 gradient products"
BF16_ALL = "chunked, bfloat16 products (default on this device)"
REFERENCE = FLOAT32


def variants(bf16: bool) -> dict[str, Callable]:
    """Each variant as ``f(hidden, weight, targets, coefficients) -> loss``."""

    def plain(hidden, weight, targets, coefficients):
        logits = hidden @ weight.T
        return (F.cross_entropy(logits, targets, reduction="none") * coefficients).sum()

    def chunked(gradients: bool, logits: bool) -> Callable:
        def loss(hidden, weight, targets, coefficients):
            return chunked_linear_cross_entropy(
                hidden, weight, None, targets, coefficients,
                bf16_gradients=gradients, bf16_logits=logits,
            )  # fmt: skip

        return loss

    named = {PLAIN: plain, FLOAT32: chunked(False, False)}
    if bf16:  # without native bfloat16 the products would be emulated: not a fair row
        named[BF16_GRADIENTS] = chunked(True, False)
        named[BF16_ALL] = chunked(True, True)
    return named


def layer(args: argparse.Namespace) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(args.seed)
    hidden = torch.randn(args.rows, args.hidden, generator=g)
    weight = torch.randn(args.vocabulary, args.hidden, generator=g) * 0.3
    targets = torch.randint(0, args.vocabulary, (args.rows,), generator=g)
    coefficients = torch.rand(args.rows, generator=g) / args.rows
    return hidden, weight, targets, coefficients


def step(loss: Callable, tensors: Sequence[torch.Tensor]) -> tuple[float, torch.Tensor, ...]:
    hidden, weight, targets, coefficients = tensors
    hidden = hidden.clone().requires_grad_()
    weight = weight.clone().requires_grad_()
    value = loss(hidden, weight, targets, coefficients)
    value.backward()
    return float(value.detach()), hidden.grad, weight.grad


def relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def measure(args: argparse.Namespace) -> dict[str, dict]:
    tensors = layer(args)
    named = variants(fast_bf16(torch.device("cpu")))
    outputs = {name: step(loss, tensors) for name, loss in named.items()}  # also a warm-up
    times: dict[str, list[float]] = {name: [] for name in named}
    for _ in range(args.repeats):
        for name, loss in named.items():
            started = time.perf_counter()
            for _ in range(args.steps):
                step(loss, tensors)
            times[name].append((time.perf_counter() - started) / args.steps * 1e3)
    plain_ms = statistics.median(times[PLAIN])
    ref_loss, ref_hidden, ref_weight = outputs[REFERENCE]
    rows = {}
    for name in named:
        loss, grad_hidden, grad_weight = outputs[name]
        ms = statistics.median(times[name])
        rows[name] = {
            "ms_per_step": ms,
            "ms_per_repeat": times[name],
            "vs_plain": ms / plain_ms,
            "loss_difference": abs(loss - ref_loss) / abs(ref_loss),
            "hidden_gradient_difference": relative(grad_hidden, ref_hidden),
            "weight_gradient_difference": relative(grad_weight, ref_weight),
        }
    return rows


def markdown(result: dict) -> str:
    lines = harness.page_head("Output layer + cross-entropy: step time", result)
    lines += harness.markdown_table(
        ["variant", "ms per step (median)", "/ plain", "loss diff.", "hidden grad diff.",
         "weight grad diff."],
        "lrrrrr",
        (
            [name, f"{r['ms_per_step']:.1f}", f"{r['vs_plain']:.2f}",
             f"{r['loss_difference']:.1e}", f"{r['hidden_gradient_difference']:.1e}",
             f"{r['weight_gradient_difference']:.1e}"]
            for name, r in result["variants"].items()
        ),
    )  # fmt: skip
    return "\n".join(lines) + "\n"


# an integer option that must be at least 1 (a layer or a run of no size measures nothing)
positive = harness.int_at_least(1, "is not a positive integer")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, threads=2, quick="a small layer, one repeat", data=False)
    p.set_defaults(name="loss-speed")
    p.add_argument("--rows", type=positive, default=2700, help="labelled positions in a step")
    p.add_argument("--hidden", type=positive, default=64, help="hidden width")
    p.add_argument("--vocabulary", type=positive, default=12202, help="output tokens")
    p.add_argument("--repeats", type=positive, default=5, help="interleaved timed repeats")
    p.add_argument("--steps", type=positive, default=5, help="steps per variant and repeat")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.quick:
        args.rows, args.vocabulary, args.repeats, args.steps = 200, 1000, 1, 2
    harness.setup(args)
    started = time.perf_counter()
    rows = measure(args)
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "protocol": (
            f"A random layer: {args.rows} labelled positions x hidden {args.hidden} x "
            f"{args.vocabulary} output tokens (weights N(0, 0.3^2), targets uniform, "
            "coefficients uniform / rows), forward and backward of the loss each step (fresh "
            f"leaf tensors); {args.repeats} interleaved repeats of {args.steps} steps per "
            "variant, the median ms per step. Differences: relative to the float32 chunked "
            "loss (|loss - ref| / |ref|, gradient norms of the difference over the reference's). "
            f"bfloat16 rows only where the CPU multiplies bfloat16 natively "
            f"({'yes' if fast_bf16(torch.device('cpu')) else 'no'} here)."
        ),
        "wall_seconds": time.perf_counter() - started,
        "layer": {"rows": args.rows, "hidden": args.hidden, "vocabulary": args.vocabulary},
        "variants": rows,
    }
    harness.write_results(args.out, harness.stem(args), result, markdown(result))


if __name__ == "__main__":
    main()

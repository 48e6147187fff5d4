"""Issue 24 item 4: a SASRec worth beating. Our SASRec (full-softmax CE) tuned on one data set's
validation NDCG@10 over a small grid: dropout x learning rate at hidden 64, then hidden 128 at
the best pair. Every point trains with early stopping on validation NDCG@10 (all items ranked,
the history not excluded, every validation user) and keeps its best epoch; the test split is
read only to report each point, never to choose one. Test numbers are given twice: with the
history not excluded (lmrec's headline protocol) and excluded (as published SASRec-CE figures).

Each point is one row of a resumable cache (``harness.RowCache``): a run that is stopped resumes
at the next point, so the grid can be run in pieces that each fit a session. ``--extra`` adds
points after the grid (``HIDDEN:DROPOUT:LR``, comma-separated), chosen by validation like the
others; a finished grid's rows are taken from its results file when it was run with the same
settings, so extra points do not train the grid again.

    .venv/bin/python -m benchmarks.sasrec_grid --quick                 # the built-in shop
    .venv/bin/python -m benchmarks.sasrec_grid --dataset beauty        # full Beauty (hours)

Writes benchmarks/results/sasrec_grid/sasrec-grid-<data>[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from lmrec.baselines import SASRecConfig, SASRecRecommender
from lmrec.data import leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking

STUDY = "sasrec_grid"
DROPOUTS = (0.2, 0.3, 0.5)
RATES = (1e-3, 3e-3)
WIDE = 128


def point_key(hidden: int, dropout: float, lr: float) -> str:
    return f"hidden={hidden} dropout={dropout:g} lr={lr:g}"


def train_point(split, args, hidden: int, dropout: float, lr: float) -> dict:
    """One grid point: fit with early stopping, then its validation and test numbers."""
    config = SASRecConfig(
        hidden=hidden,
        dropout=dropout,
        lr=lr,
        epochs=args.epochs,
        patience=args.patience,
        seed=args.seed,
        valid_exclude_seen=False,
        progress=False,
    )
    started = time.perf_counter()
    rec = SASRecRecommender(config).fit(split)
    fit_seconds = time.perf_counter() - started
    log = rec.training_log
    best = max(log, key=lambda e: e["valid_ndcg@10"])  # the first of equal bests
    row = {
        "hidden": hidden,
        "dropout": dropout,
        "lr": lr,
        "epochs_run": len(log),
        "best_epoch": int(best["epoch"]),
        "best_valid_ndcg10": best["valid_ndcg@10"],
        "fit_seconds": fit_seconds,
    }
    for label, exclude in (("kept", False), ("excluded", True)):
        report = evaluate_ranking(
            rec, split, stage="test", ks=(10,), exclude_seen=exclude, seed=args.seed, progress=False
        )
        row[f"test_ndcg10_history_{label}"] = report.metrics["NDCG@10"]
        row[f"test_hr10_history_{label}"] = report.metrics["HR@10"]
        row[f"test_protocol_history_{label}"] = report.protocol
    return row


def extra_points(text: str) -> tuple[tuple[int, float, float], ...]:
    """``HIDDEN:DROPOUT:LR,...`` as (hidden, dropout, lr) triples."""
    points = []
    for part in harness.split_list(text.replace(" ", "")):
        try:
            hidden, dropout, lr = part.split(":")
            point = (int(hidden), float(dropout), float(lr))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not HIDDEN:DROPOUT:LR (e.g. 128:0.5:0.001)"
            ) from None
        if point[0] < 1 or not 0 <= point[1] < 1 or point[2] <= 0:
            raise argparse.ArgumentTypeError(f"{part!r}: hidden >= 1, 0 <= dropout < 1, lr > 0")
        points.append(point)
    return tuple(points)


NOT_SETTINGS = ("points", "report", "extra")


def finished_rows(args: argparse.Namespace, settings: dict) -> dict[str, dict]:
    """The rows of this grid's results file, when it was run with the same settings (read
    from its command line), keyed by point; else none."""
    path = Path(args.out) / f"{harness.stem(args)}.json"
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    earlier = parse(shlex.split(saved["command"])[3:])  # after "python -m benchmarks.x"
    if harness.RowCache.comparable(harness.settings_of(earlier, *NOT_SETTINGS)) != settings:
        return {}
    return {point_key(r["hidden"], r["dropout"], r["lr"]): r for r in saved["rows"]}


def best_of(rows: Sequence[dict]) -> dict:
    """The row of highest validation NDCG@10 (the first of equal ones, in grid order)."""
    return max(rows, key=lambda r: r["best_valid_ndcg10"])


def markdown(result: dict) -> str:
    lines = harness.timed_head(
        f"SASRec (full CE) tuned on {result['data']}'s validation NDCG@10", result
    )
    lines += [result["protocol"], ""]
    header = [
        "hidden",
        "dropout",
        "lr",
        "epochs (best)",
        "valid NDCG@10",
        "test NDCG@10 (history kept)",
        "test HR@10 (kept)",
        "test NDCG@10 (history excluded)",
        "test HR@10 (excluded)",
        "fit s",
    ]
    chosen = result["best"]
    body = [
        [
            str(r["hidden"]) + (" (added)" if r.get("extra") else ""),
            f"{r['dropout']:g}",
            f"{r['lr']:g}",
            f"{r['epochs_run']} ({r['best_epoch']})",
            f"{r['best_valid_ndcg10']:.4f}" + (" **best**" if r == chosen else ""),
            f"{r['test_ndcg10_history_kept']:.4f}",
            f"{r['test_hr10_history_kept']:.4f}",
            f"{r['test_ndcg10_history_excluded']:.4f}",
            f"{r['test_hr10_history_excluded']:.4f}",
            f"{r['fit_seconds']:.0f}",
        ]
        for r in result["rows"]
    ]
    lines += harness.markdown_table(header, "rrrrrrrrrr", body)
    if result["missing"]:
        lines += ["", "Not run yet (the run was stopped): " + ", ".join(result["missing"]) + "."]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, threads=2, quick="the built-in shop, 3 epochs a point")
    p.set_defaults(name="")  # sasrec-grid-<data>
    p.add_argument("--dataset", default="beauty", help="a data set by name (harness.load)")
    p.add_argument("--users", type=int, default=0, help="subsample this many users (0 = all)")
    p.add_argument("--epochs", type=int, default=200, help="most epochs a point")
    p.add_argument("--patience", type=int, default=10, help="validations without a gain")
    p.add_argument(
        "--points", type=int, default=0, help="stop after this many new points (0 = all)"
    )
    p.add_argument(
        "--extra",
        type=extra_points,
        default=(),
        help="points after the grid: HIDDEN:DROPOUT:LR, comma-separated (e.g. 128:0.5:0.001)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="train no point: write the page of the points finished so far",
    )
    return p


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    """The options, with ``--quick``'s data set and epochs and the default result name."""
    args = parser().parse_args(argv)
    if args.quick:
        args.dataset, args.epochs = "shop", 3
    args.name = args.name or f"sasrec-grid-{args.dataset}"
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse(argv)
    harness.setup(args)
    started = time.perf_counter()
    split = leave_one_out_split(harness.load_sampled(args))
    cache = harness.RowCache(args.out, harness.stem(args), harness.settings_of(args, *NOT_SETTINGS))
    if not cache.rows:
        cache.rows = finished_rows(args, cache.settings)
    budget = 0 if args.report else (args.points or None)

    def run(hidden: int, dropout: float, lr: float) -> dict | None:
        nonlocal budget
        key = point_key(hidden, dropout, lr)
        if key not in cache.rows:
            if budget == 0:
                return None
            budget = budget - 1 if budget else None
        return cache.row(key, lambda: train_point(split, args, hidden, dropout, lr))

    narrow = [run(64, d, lr) for d in DROPOUTS for lr in RATES]
    done = [r for r in narrow if r is not None]
    keys = [point_key(64, d, lr) for d in DROPOUTS for lr in RATES]
    missing = [key for key in keys if key not in cache.rows]
    if done and not missing:
        pair = best_of(done)
        wide = run(WIDE, pair["dropout"], pair["lr"])
        if wide is None:
            missing.append(point_key(WIDE, pair["dropout"], pair["lr"]))
        else:
            done.append(wide)
            for hidden, dropout, lr in args.extra:
                key = point_key(hidden, dropout, lr)
                if any(point_key(r["hidden"], r["dropout"], r["lr"]) == key for r in done):
                    continue  # already a grid point
                extra = run(hidden, dropout, lr)
                if extra is None:
                    missing.append(key)
                else:
                    done.append(extra | {"extra": True})
    if not done:
        raise SystemExit("no grid point finished")
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "data": split.name,
        "protocol": (
            f"{split.describe()}. Validation: NDCG@10 over all items, history not excluded, every "
            f"validation user, after every epoch; early stopping after {args.patience} "
            f"validations without a gain, at most {args.epochs} epochs; each point keeps its best "
            f"epoch. Test: leave-one-out, all {len(split.catalog)} items ranked, every test user. "
            "Fixed: 2 blocks, 1 head, 50 positions, batch 128, Adam without weight decay, "
            f"seed {args.seed}."
            + (
                " Rows marked (added): points given with --extra after the grid, chosen by "
                "validation like the others."
                if any(r.get("extra") for r in done)
                else ""
            )
        ),
        "seconds": time.perf_counter() - started,
        "rows": done,
        "best": best_of(done),
        "missing": missing,
    }
    if missing:  # a partial grid: keep the cache so the next run resumes
        harness.write_results(args.out, harness.stem(args), result, markdown(result))
    else:
        cache.write(result, markdown(result))


if __name__ == "__main__":
    main()

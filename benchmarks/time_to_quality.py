"""Issue 23 item 4: time to quality. SASRec (full CE) and the language model of record
(``scratch:llama-tiny``, ``objective="sequence"``, dropout 0.5, one-token sequential ids, 50
positions) train in one run on one split, each on its own schedule, both validated after every
epoch on the same users under the same protocol. Per epoch: wall seconds since ``fit`` began
(validation and set-up included) and validation NDCG@10. Per model: how long until its
validation NDCG@10 first reaches SASRec's best, its training throughput, test NDCG@10 and top-10
users/s.

Schedules (see :func:`protocol`): SASRec, Adam at a constant learning rate; the LM, AdamW with
a linear warm-up over the first 5 % of the steps planned for ``--lm-epochs`` epochs and a linear
decay to 0 at the end of them (early stopping may end the run before). Each keeps the weights of
its best validation epoch.

Per-epoch times come from what each model records: SASRec's ``training_log`` (seconds per
epoch, validation included; the set-up before the first epoch is the rest of ``fit``'s wall
time, counted before epoch 1), and the LM's end-of-epoch record, which
:mod:`lmrec.training.loop` logs after each validation (:class:`EpochClock` notes when it is
logged).

    .venv/bin/python -m benchmarks.time_to_quality --quick      # the built-in shop, seconds
    .venv/bin/python -m benchmarks.time_to_quality              # full Beauty (hours)

Each model is one resumable row (``harness.RowCache``): ``--models sasrec`` and then
``--models lm`` run the study in two pieces, each alone on the machine (times are measured
inside each model's fit, so a piece measures what it would in one run); the results are
written once both rows exist. The SASRec piece is kept in its own file
(``time-to-quality-sasrec.partial.json``, keyed by the data and SASRec options alone:
:data:`SASREC_SETTINGS`) and not removed when results are written: every LM variant
(``--name`` with other LM options) on the same data is set beside the same SASRec run.

Writes benchmarks/results/time_to_quality/time-to-quality[-quick].{json,md,png}.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

from benchmarks import harness
from benchmarks.knowledge.models import TEMPLATES
from lmrec.backbone.itemtext import ITEM_REPRESENTATIONS
from lmrec.baselines import SASRecConfig, SASRecRecommender
from lmrec.data import leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.recommenders.lm import LMRecommender
from lmrec.recommenders.validation import validation_users
from lmrec.text.encoders import DEFAULT_TEMPLATE, ItemTextConfig, embed_catalog
from lmrec.text.vector_cache import CACHE_ENV

STUDY = "time_to_quality"
SASREC_SETTINGS = (
    "data",
    "dataset",
    "eval_users",
    "quick",
    "sasrec_epochs",
    "sasrec_patience",
    "seed",
    "threads",
    "users",
)
"""The options that decide the SASRec piece (the split, SASRec's schedule, the test users)."""
SASREC_PIECE = "time-to-quality-sasrec"
"""The SASRec piece's cache stem (``-quick`` added for a smoke run), shared by the LM variants."""
SASREC, LM = "SASRec (full CE)", "LM-seq llama-tiny"
TRAINING_LOGGER = "lmrec.training.loop"


class EpochClock(logging.Handler):
    """Notes the wall time (``time.perf_counter``) at which the training loop logs each epoch's
    record (after validation), with the record: ``marks`` is ``[(seconds, record), ...]``."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.marks: list[tuple[float, dict]] = []

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 2 and isinstance(args[1], dict) and "epoch" in args[1]:
            self.marks.append((time.perf_counter(), dict(args[1])))

    def __enter__(self) -> EpochClock:
        self._logger = logging.getLogger(TRAINING_LOGGER)
        self._level = self._logger.level
        self._logger.setLevel(logging.INFO)
        self._logger.addHandler(self)
        return self

    def __exit__(self, *exc) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)


def sasrec_config(args: argparse.Namespace) -> SASRecConfig:
    """SASRec of record: its defaults, validated with the history not excluded."""
    return SASRecConfig(
        epochs=args.sasrec_epochs,
        patience=args.sasrec_patience,
        seed=args.seed,
        valid_exclude_seen=False,
        progress=False,
    )


class Fitted(NamedTuple):
    """A fitted model, its fit seconds, its epochs (cumulative seconds, NDCG), its training
    sequences, and the seconds spent encoding its catalogue's text before ``fit`` (0 without)."""

    rec: SASRecRecommender | LMRecommender
    fit_seconds: float
    epochs: list[dict]
    sequences: int
    text_encoding_seconds: float = 0.0


def train_sasrec(split, args) -> Fitted:
    """SASRec fitted on ``split`` (:class:`Fitted`)."""
    started = time.perf_counter()
    rec = SASRecRecommender(sasrec_config(args)).fit(split)
    fit_seconds = time.perf_counter() - started
    log = rec.training_log
    elapsed = fit_seconds - sum(e["seconds"] for e in log)  # set-up (and the best weights kept)
    epochs = []
    for entry in log:
        elapsed += entry["seconds"]
        epochs.append(
            {
                "epoch": int(entry["epoch"]),
                "seconds": elapsed,
                "valid_ndcg10": entry["valid_ndcg@10"],
            }
        )
    # A history of n items gives ceil((n - 1) / max_len) training windows (one per step row).
    max_len = rec.config.max_len
    windows = sum(-(-(len(h) - 1) // max_len) for h in split.train.values() if len(h) > 1)
    return Fitted(rec, fit_seconds, epochs, windows * len(log))


def lm_config(args: argparse.Namespace):
    """The LM of record, reading items as ``--item-representation`` (text: the packaged
    MiniLM over the data set's template, as in :mod:`benchmarks.knowledge`)."""
    config = harness.lm_of_record(args)
    if args.lm_seed is not None:  # another draw of the LM beside the same SASRec piece
        config = replace(config, train=replace(config.train, seed=args.lm_seed))
    if args.item_representation == "ids":
        return config
    text = ItemTextConfig(template=TEMPLATES.get(args.dataset, DEFAULT_TEMPLATE))
    index = replace(config.index, item_text=text)
    return replace(config, item_representation=args.item_representation, index=index)


def train_lm(split, args) -> Fitted:
    """The LM fitted on ``split`` (:class:`Fitted`). With item text, the catalogue's text is
    first encoded (timed) into a fresh vector cache that ``fit`` then reads, as a refit on the
    same catalogue does."""
    config = lm_config(args)
    encoding = 0.0
    with tempfile.TemporaryDirectory() as cache, mock.patch.dict(os.environ, {CACHE_ENV: cache}):
        if config.item_representation != "ids":
            started = time.perf_counter()
            embed_catalog(split.catalog, config.index.item_text, seed=config.index.seed)
            encoding = time.perf_counter() - started
        with EpochClock() as clock:
            started = time.perf_counter()
            rec = LMRecommender(config).fit(split)
            fit_seconds = time.perf_counter() - started
    history = rec.train_result.history
    if len(clock.marks) != len(history):
        raise RuntimeError(
            f"{len(clock.marks)} epoch records logged by {TRAINING_LOGGER} for "
            f"{len(history)} epochs: its end-of-epoch log line changed"
        )
    epochs = [
        {"epoch": int(r["epoch"]), "seconds": at - started, "valid_ndcg10": r["valid_ndcg10"]}
        for at, r in clock.marks
    ]
    return Fitted(rec, fit_seconds, epochs, rec.train_result.examples_seen, encoding)


def summarize(
    epochs: list[dict], fit_seconds: float, sequences: int, target: float
) -> dict[str, object]:
    """A model's row, less its test numbers: ``target`` is SASRec's best validation NDCG@10."""
    reached = [e["seconds"] for e in epochs if e["valid_ndcg10"] >= target]
    best = max(epochs, key=lambda e: e["valid_ndcg10"])  # the first of equal bests
    return {
        "fit_seconds": fit_seconds,
        "sequences": sequences,
        "sequences_per_second": sequences / fit_seconds,
        "epochs_run": len(epochs),
        "best_epoch": best["epoch"],
        "best_valid_ndcg10": best["valid_ndcg10"],
        "seconds_to_sasrec_best_valid": reached[0] if reached else None,
        "epochs": epochs,
    }


def with_encoding(row: dict) -> dict[str, float]:
    """The one-time text encoding (0 without item text; rows cached before it was timed have
    none) and the throughput counting it: sequences / (fit seconds + encoding seconds)."""
    encoding = row.get("text_encoding_seconds", 0.0)
    return {
        "text_encoding_seconds": encoding,
        "sequences_per_second_with_encoding": row["sequences"] / (row["fit_seconds"] + encoding),
    }


def test_report(rec, split, args):
    """The test-stage ranking report at 10 (all items ranked, history not excluded, on
    ``args.eval_users`` sampled users or all)."""
    return evaluate_ranking(
        rec,
        split,
        stage="test",
        ks=(10,),
        exclude_seen=False,
        max_users=args.eval_users or None,
        seed=args.seed,
        progress=False,
    )


def held_out_row(rec, split, args) -> dict[str, float]:
    """Test NDCG@10 and top-10 users/s (all items ranked, history not excluded)."""
    report = test_report(rec, split, args)
    return {
        "test_ndcg10": report.metrics["NDCG@10"],
        "test_hr10": report.metrics["HR@10"],
        "users_per_second": report.users_per_second,
        "test_protocol": report.protocol,
    }


def protocol(args: argparse.Namespace, split, valid_users: int) -> str:
    return (
        f"Data: {split.describe()}. Leave-one-out (file order kept on ties). Both models "
        f"validate after every epoch on the same {valid_users} validation users (every user "
        "with a validation item and a training history), NDCG@10 over all items, history not "
        "excluded, history = training events; each keeps its best validation epoch. "
        f"SASRec (full-softmax CE, d 64, 2 blocks, 1 head, 50 positions, dropout 0.3, batch "
        f"128): Adam 1e-3 constant, betas (0.9, 0.98), at most {args.sasrec_epochs} epochs, "
        f"patience {args.sasrec_patience}. LM (scratch:llama-tiny, d 64, 2 blocks, 4 heads, "
        f"objective='sequence', dropout 0.5, one-token sequential ids, items read as "
        f"{args.item_representation!r}{text_note(args)}, 50 positions, batch "
        f"{args.batch_size}): AdamW peak {args.lr:g}, weight decay 0.01, gradient norm "
        f"clipped to 1, linear warm-up over the first 5 % of the steps of {args.epochs} "
        f"epochs, then linear decay to 0 at the end of epoch {args.epochs}; patience "
        f"{args.patience}; seed {args.seed if args.lm_seed is None else args.lm_seed}. "
        "Seconds are wall seconds since fit() began (set-up and validation "
        "included); sequences/s = training sequences / fit seconds (SASRec: windows of up to "
        "50 targets; LM: each user's last 51 training items). With item text, the LM's "
        "catalogue text is encoded once before fit() into a fresh text-vector cache that fit() "
        "reads (as a refit on the same catalogue does): 'text encoding s' is that one-time "
        "cost, and 'sequences/s with encoding' divides by fit seconds plus it. "
        "Test: all items ranked, "
        "history not excluded, "
        + (f"{args.eval_users} sampled users." if args.eval_users else "all test users.")
    )


def text_note(args: argparse.Namespace) -> str:
    if args.item_representation == "ids":
        return ""
    text = lm_config(args).index.item_text
    return f" (item text: encoder {text.encoder}, template {text.template!r})"


def markdown(result: dict) -> str:
    rows = result["models"]
    lines = [
        *harness.page_head(
            "Time to quality: SASRec (full CE) vs the language model of record",
            result,
        ),
        pieces_note(result),
        "",
        "| model | fit s | text encoding s | sequences/s | sequences/s with encoding "
        "| best valid NDCG@10 (epoch) | s to SASRec's best valid | test NDCG@10 "
        "| top-10 users/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        reached = r["seconds_to_sasrec_best_valid"]
        lines.append(
            f"| {name} | {r['fit_seconds']:.0f} | {r['text_encoding_seconds']:.0f} "
            f"| {r['sequences_per_second']:.0f} | {r['sequences_per_second_with_encoding']:.0f} "
            f"| {r['best_valid_ndcg10']:.4f} ({r['best_epoch']}/{r['epochs_run']}) "
            f"| {'never' if reached is None else f'{reached:.0f}'} "
            f"| {r['test_ndcg10']:.4f} | {r['users_per_second']:.0f} |"
        )
    sasrec, lm = rows[SASREC], rows[LM]
    lines += ["", "| LM / SASRec | ratio |", "|---|---:|"]
    for key in RATIOS:
        ratio = f"{lm[key] / sasrec[key]:.2f}" if lm[key] is not None and sasrec[key] else "-"
        lines.append(f"| {key} | {ratio} |")
    return "\n".join(lines) + "\n"


RATIOS = (
    "seconds_to_sasrec_best_valid",
    "fit_seconds",
    "sequences_per_second",
    "sequences_per_second_with_encoding",
    "users_per_second",
    "test_ndcg10",
)


def pieces_note(result: dict) -> str:
    """When each piece ran (each alone on the machine; the SASRec piece is shared by the LM
    variants run on the same data)."""
    finished = result.get("pieces_finished", {})
    when = "; ".join(
        f"{name} finished {at or 'at an unrecorded time'}" for name, at in finished.items()
    )
    return (
        f"Pieces, each run alone on the machine: {when}. The SASRec piece is the one every LM "
        f"variant on these data is compared with (`{SASREC_PIECE}.partial.json`)."
    )


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, row in result["models"].items():
        seconds = [e["seconds"] for e in row["epochs"]]
        ax.plot(seconds, [e["valid_ndcg10"] for e in row["epochs"]], marker=".", label=name)
    best = result["models"][SASREC]["best_valid_ndcg10"]
    ax.axhline(best, color="#999999", linestyle="--", linewidth=1, label="SASRec's best")
    ax.set_xlabel("wall seconds since fit began (validation included)")
    ax.set_ylabel("validation NDCG@10 (all items)")
    ax.set_title(result["data"])
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(
        p, STUDY, threads=2, quick="the built-in shop (1000 users), 3 LM and 5 SASRec epochs"
    )
    p.set_defaults(name="time-to-quality")
    add_pair_options(p, users=0, sasrec_epochs=200, lm_epochs=70, lm_patience=10)
    p.add_argument("--sasrec-patience", type=int, default=15, help="SASRec patience in epochs")
    p.add_argument(
        "--models",
        type=model_list,
        default=tuple(PIECES),
        help="comma-separated pieces to run: sasrec, lm (default both); the results are "
        "written once both have run",
    )
    return p


def add_pair_options(
    p: argparse.ArgumentParser, *, users: int, sasrec_epochs: int, lm_epochs: int, lm_patience: int
) -> None:
    """The data and the two models' options of a study that trains SASRec and the LM of record
    on one split (this one and :mod:`benchmarks.top10_speed`); ``lm_patience`` 0 fixes the LM's
    patience at 0 instead of offering ``--lm-patience``."""
    p.add_argument("--dataset", default="beauty", help="a data set by name (harness.load)")
    p.add_argument("--users", type=int, default=users, help="subsample this many users (0 = all)")
    p.add_argument("--sasrec-epochs", type=int, default=sasrec_epochs)
    p.add_argument("--eval-users", type=int, default=0, help="test users sampled (0 = all)")
    p.add_argument(
        "--lm-seed", type=int, help="the LM's seed (default: --seed, which also seeds SASRec)"
    )
    p.add_argument(
        "--item-representation",
        choices=ITEM_REPRESENTATIONS,
        default="ids",
        help="how the LM reads items: ids (the LM of record), text or ids+text",
    )
    patience = ("patience",) if lm_patience else ()
    harness.add_lm_options(
        p,
        exposed=("epochs", "batch_size", "lr", *patience),
        flags={"epochs": "--lm-epochs", "patience": "--lm-patience"},
        epochs=lm_epochs,
        patience=lm_patience,
        valid_users=0,
    )


def piece(train, split, args) -> dict:
    """One model's cached row: its epochs, fit seconds, sequences and test numbers."""
    started = time.perf_counter()
    fitted = train(split, args)
    row = {
        "fit_seconds": fitted.fit_seconds,
        "epochs": fitted.epochs,
        "sequences": fitted.sequences,
        "text_encoding_seconds": fitted.text_encoding_seconds,
        "held_out": held_out_row(fitted.rec, split, args),
    }
    finished = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return row | {
        "machine": harness.machine(),
        "piece_seconds": time.perf_counter() - started,
        "finished": finished,
    }


PIECES = {"sasrec": (SASREC, train_sasrec), "lm": (LM, train_lm)}


def model_list(text: str) -> tuple[str, ...]:
    names = tuple(harness.split_list(text.replace(" ", "")))
    unknown = sorted(set(names) - set(PIECES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown model(s) {unknown or [text]}: choose from {', '.join(PIECES)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.quick:
        args.dataset, args.epochs, args.sasrec_epochs = "shop", 3, 5
    harness.setup(args)
    started = time.perf_counter()
    split = leave_one_out_split(harness.load_sampled(args))
    lm_valid = validation_users(split, harness.lm_of_record(args).train)
    sasrec_valid = [u for u in split.valid if split.valid[u].item in split.catalog]
    if set(lm_valid) != set(sasrec_valid):
        raise SystemExit("the two models would validate on different users")
    caches = piece_caches(args)
    computed = [key for key in args.models if key not in caches[key].rows]
    for key in args.models:
        caches[key].row(key, lambda train=PIECES[key][1]: piece(train, split, args))
    done = [key for key in PIECES if key in caches[key].rows]
    missing = [key for key in PIECES if key not in done]
    if missing:
        print(f"finished: {', '.join(done) or 'none'}; to run: --models {','.join(missing)}")
        return
    rows = {name: caches[key].rows[key] for key, (name, _) in PIECES.items()}
    target = max(e["valid_ndcg10"] for e in rows[SASREC]["epochs"])
    models = {
        name: summarize(row["epochs"], row["fit_seconds"], row["sequences"], target)
        | with_encoding(row)
        | row["held_out"]
        for name, row in rows.items()
    }
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "machines": {name: row["machine"] for name, row in rows.items()},
        "pieces_finished": {name: row.get("finished") for name, row in rows.items()},
        "data": split.name,
        "protocol": protocol(args, split, len(lm_valid)),
        # this run's own time plus the wall time of each piece it read back from a cache
        "wall_seconds": time.perf_counter()
        - started
        + sum(caches[k].rows[k]["piece_seconds"] for k in PIECES if k not in computed),
        "models": models,
    }
    caches["lm"].write(result, markdown(result), plot)  # the SASRec piece stays for reuse


def piece_caches(args: argparse.Namespace) -> dict[str, harness.RowCache]:
    """Each piece's cache: the LM's keyed by every option (one per variant, removed once the
    results are written), SASRec's by :data:`SASREC_SETTINGS` alone, shared by the variants."""
    settings = harness.settings_of(args, "models")
    sasrec = {k: v for k, v in settings.items() if k in SASREC_SETTINGS}
    quick = "-quick" if args.quick else ""
    return {
        "sasrec": harness.RowCache(args.out, SASREC_PIECE + quick, sasrec),
        "lm": harness.RowCache(args.out, harness.stem(args), settings),
    }


if __name__ == "__main__":
    main()

"""The study's options and its run: every model one resumable row, results after each run.

A full data set in pieces of under about two hours on 2 cores (each piece resumes the cache
of the ones before; the last one writes the finished page and removes the cache)::

    python -m benchmarks.knowledge --dataset beauty --models popularity,item-knn,als,sasrec
    python -m benchmarks.knowledge --dataset beauty --models lm-ids --lm-checkpoints
    python -m benchmarks.knowledge --dataset beauty --models lm-text --lm-checkpoints
    python -m benchmarks.knowledge --dataset beauty --models lm-ids+text --lm-checkpoints
    python -m benchmarks.knowledge --dataset beauty --part coldstart --rows 1 --lm-checkpoints
    # ... the last line again until no row is missing (3 seeds x 3 routes; the
    # neighbour-popularity rows take seconds)

``--lm-checkpoints``: an LM row killed at the time limit resumes at its last finished epoch.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict

from benchmarks import harness
from benchmarks.coldstart import HELD_OUT
from benchmarks.knowledge import coldstart, models
from benchmarks.knowledge.measure import PROTOCOL, measure, public_thirds, test_cases, thirds
from benchmarks.knowledge.page import markdown
from benchmarks.sasrec_grid import point_key
from lmrec.backbone.model import is_scratch, scratch_preset
from lmrec.data import leave_one_out_split
from lmrec.recommenders.presets import RECOMMENDED

STUDY = "knowledge"
PARTS = ("all", "main", "coldstart")
# Options that choose which rows run, not what a row measures: a cache outlives them. SASRec's
# settings are in its row's key instead, so a grid that finishes between pieces keeps the rest.
NOT_SETTINGS = ("models", "rows", "part", "hybrid", "cold_seeds", "cold_representations")
NOT_SETTINGS += ("sasrec_hidden", "sasrec_dropout", "sasrec_lr", "lm_checkpoints")


non_negative = harness.int_at_least(0, "is negative")  # an integer option of 0 or more


def lm_model(text: str) -> str:
    """A model name for the LM rows: a scratch preset must be a known one (checked before any
    row trains; hub names and directories are read when the row trains)."""
    if is_scratch(text):
        try:
            scratch_preset(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(
        p, STUDY, threads=2, quick="the built-in shop, 2 LM epochs and 3 SASRec epochs"
    )
    p.set_defaults(name="")  # knowledge-<data>
    p.add_argument("--dataset", default="beauty", help="beauty, sports, ml-100k or shop")
    p.add_argument("--users", type=int, default=0, help="subsample this many users (0 = all)")
    p.add_argument(
        "--part", choices=PARTS, default="all", help="the main table, cold start or both"
    )
    p.add_argument(
        "--models",
        default="",
        help="comma-separated rows to run (default: every row of --part): "
        + ", ".join(models.MAIN)
        + ", cold-lm-<representation>, cold-neighbours, cold-neighbour-popularity",
    )
    p.add_argument("--rows", type=int, default=0, help="stop after this many new rows (0 = all)")
    p.add_argument("--hybrid", action="store_true", help="add the hybrid row (item-kNN + LM)")
    p.add_argument("--item-text", default="minilm", help="item-text encoder: minilm, tfidf, a dir")
    p.add_argument("--item-text-template", default="", help="default: the data set's (TEMPLATES)")
    p.add_argument(
        "--item-tags",
        action="store_true",
        help="the category field as tags beside the text (ItemTextConfig.tags); the Amazon sets "
        "read their S3-Rec attribute ids (categories and brand) into it",
    )
    p.add_argument("--lm-epochs", type=int, default=0, help="0 = presets.recommended_epochs")
    p.add_argument(
        "--lm-patience",
        type=non_negative,
        help="the LM rows' early-stopping patience in validations (0 = run every epoch and keep "
        "the best; default: the recommended configuration's)",
    )
    p.add_argument(
        "--lm-model",
        type=lm_model,
        default="",
        help="the LM rows' model (default: the recommended one, presets.RECOMMENDED), e.g. "
        "scratch:llama-wide",
    )
    p.add_argument(
        "--lm-checkpoints",
        action="store_true",
        help="checkpoint each LM every epoch and resume a stopped one mid-training",
    )
    p.add_argument("--sasrec-hidden", type=int, help="default: the SASRec grid's best, else 64")
    p.add_argument("--sasrec-dropout", type=float, help="default: the grid's best, else 0.3")
    p.add_argument("--sasrec-lr", type=float, help="default: the grid's best, else 1e-3")
    p.add_argument("--sasrec-epochs", type=int, default=200)
    p.add_argument("--sasrec-patience", type=int, default=10)
    p.add_argument("--cold-seeds", type=int, default=3, help="held-out item samples")
    p.add_argument(
        "--cold-representations", default="ids+text", help="text modes of the cold LM route(s)"
    )
    p.add_argument("--neighbours", type=int, default=5, help="content neighbours per new item")
    return p


def plan(
    args: argparse.Namespace,
) -> tuple[dict[str, str], dict[str, str], list[int], set[str]]:
    """The main rows and cold-start routes (name: label), the cold seeds, and the names this
    run may compute (``--part`` and ``--models``)."""
    main = {n: label for n, label in models.MAIN.items() if n != "hybrid" or args.hybrid}
    routes = coldstart.route_names(harness.split_list(args.cold_representations))
    seeds = [args.seed + s for s in range(args.cold_seeds)]
    wanted = set(main) if args.part != "coldstart" else set()
    wanted |= set(routes) if args.part != "main" else set()
    if args.models:
        asked = set(harness.split_list(args.models))
        if unknown := asked - set(main) - set(routes):
            raise SystemExit(f"unknown --models {sorted(unknown)} (known: {[*main, *routes]})")
        wanted &= asked
    return main, routes, seeds, wanted


def cache_settings(args: argparse.Namespace, users: int) -> dict:
    """The options a cached row was computed under, for a log of ``users`` training users. The
    LM rows train the recommended configuration: rows cached under another one are stale; so
    are rows cached under another patience (``--lm-patience``, or the recommended one for the
    log's size where it is not the configuration's own). Options left unset that did not exist
    when earlier caches were written are left out, so those caches still resume."""
    settings = harness.settings_of(args, *NOT_SETTINGS) | {"recommended": RECOMMENDED}
    patience = models.lm_patience(args, users)
    settings["lm_patience"] = None if patience == RECOMMENDED["train"]["patience"] else patience
    for option in ("item_tags", "lm_model", "lm_patience"):
        if settings[option] is None or settings[option] is False or settings[option] == "":
            del settings[option]
    return settings


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.quick:
        args.dataset, args.lm_epochs, args.sasrec_epochs = "shop", args.lm_epochs or 2, 3
    args.name = args.name or f"knowledge-{args.dataset}"
    sasrec_source = models.sasrec_settings(args)
    harness.setup(args)
    started = time.perf_counter()
    dataset = harness.load_sampled(args)
    split = leave_one_out_split(dataset)
    main_rows, routes, seeds, wanted = plan(args)
    cache = harness.RowCache(args.out, harness.stem(args), cache_settings(args, len(split.train)))
    budget = args.rows or None

    def run(key: str, name: str, compute: Callable[[], dict]) -> None:
        nonlocal budget
        if key not in cache.rows:
            if name not in wanted or budget == 0:
                return
            budget = budget - 1 if budget else None
        cache.row(key, compute)

    users, histories, targets = test_cases(split)
    groups = thirds(split, targets)
    fitted: dict = {}
    makers = models.makers(args, split, fitted)
    sasrec_key = "sasrec " + point_key(args.sasrec_hidden, args.sasrec_dropout, args.sasrec_lr)
    main_keys = {name: sasrec_key if name == "sasrec" else name for name in main_rows}

    def main_row(name: str) -> dict:
        rec, seconds = models.timed_fit(makers[name])
        row = {"recommender": main_rows[name], "model": name}
        row |= measure(rec, histories, targets, groups) | {"fit_seconds": seconds}
        return row | models.training_facts(rec)

    for name, key in main_keys.items():
        run(key, name, lambda name=name: main_row(name))
    cold_keys = {}
    for seed in seeds:
        for route, label in routes.items():
            key = coldstart.row_key(seed, route)
            cold_keys[key] = route
            run(
                key,
                route,
                lambda r=route, x=label, s=seed: coldstart.cold_row(r, x, args, dataset, s),
            )
    # every row finished so far, this run's or an earlier piece's, in the study's order
    rows = [cache.rows[k] for k in main_keys.values() if k in cache.rows]
    cold_rows = [cache.rows[k] for k in cold_keys if k in cache.rows]
    missing = [k for k in [*main_keys.values(), *cold_keys] if k not in cache.rows]
    record = {
        "data": split.name,
        "split": split.describe(),
        "protocol": PROTOCOL,
        "test_events": len(users),
        "thirds": public_thirds(groups),
        "rows": rows,
        "coldstart": {
            "protocol": coldstart.PROTOCOL,
            "held_out_share": HELD_OUT,
            "seeds": seeds,
            "routes": routes,
            "rows": cold_rows,
            "means": coldstart.means(cold_rows, seeds, routes),
        },
        "missing": missing,
    }
    sasrec = {k: getattr(args, f"sasrec_{k}") for k in models.SASREC_TUNED}
    result = harness.study_record(
        harness.command_line(STUDY, argv),
        models.lm_config(args, "ids+text", len(split.train)),
        started,
        [record],
        question="what item text adds to the recommended LM: ids vs text vs ids+text, by "
        "popularity third, and for items held out of training",
        protocol=PROTOCOL,
        item_text=asdict(models.item_text(args)),
        item_text_source=models.TEXT_SOURCES.get(args.dataset, "the catalogue's fields"),
        sasrec=sasrec | {"source": sasrec_source},
    )
    if missing:  # a piece: keep the cache so that the next piece resumes
        harness.write_results(args.out, harness.stem(args), result, markdown(result))
    else:
        cache.write(result, markdown(result))

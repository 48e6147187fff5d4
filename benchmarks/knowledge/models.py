"""The models the study compares, each built from the run's options: the baselines, SASRec at
the tuned settings (or its defaults), and the recommended language model with each item
representation."""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import fields, replace
from pathlib import Path
from typing import TypeVar

from benchmarks import harness
from lmrec.baselines import (
    ALSRecommender,
    ItemKNNRecommender,
    PopularityRecommender,
    SASRecConfig,
    SASRecRecommender,
)
from lmrec.config import from_dict
from lmrec.data.split import Split
from lmrec.recommenders.base import Recommender
from lmrec.recommenders.coldstart import ColdStartConfig
from lmrec.recommenders.config import LMConfig
from lmrec.recommenders.hybrid import HybridConfig, HybridRecommender
from lmrec.recommenders.lm import LMRecommender
from lmrec.recommenders.presets import recommended_epochs, recommended_patience, training_base
from lmrec.text.encoders import DEFAULT_TEMPLATE, ItemTextConfig

REPRESENTATIONS = {"lm-ids": "ids", "lm-text": "text", "lm-ids+text": "ids+text"}
MAIN = {  # --models name: the row's label
    "popularity": "popularity",
    "item-knn": "item-kNN",
    "als": "ALS",
    "sasrec": "SASRec (full CE)",
    "lm-ids": "LM ids",
    "lm-text": "LM text",
    "lm-ids+text": "LM ids+text",
    "hybrid": "hybrid (item-kNN 50 + LM ids+text)",
}
HYBRID_LM = "lm-ids+text"
# How each data set's catalogue fields are joined into an item's text (harness.load's readers:
# the Amazon sets have a name only; ML-100K's description is "released <year>", its category
# the genres).
TEMPLATES = {
    "beauty": "{name}",
    "sports": "{name}",
    "ml-100k": "{name}, {description}. {category}",
}
_PHASE_0 = (
    "the short name from IDGenRec's item_generative_indexing_phase_0.txt (generated from item "
    "text by an off-the-shelf tag generator before any training on interactions, by IDGenRec's "
    "code; the shipped file's provenance is not documented beyond that: see "
    "benchmarks/knowledge/__init__.py)"
)
TEXT_SOURCES = {
    "beauty": _PHASE_0,
    "sports": _PHASE_0,
    "ml-100k": "title, release year and genres (ml-100k.item)",
    "shop": "name ; category ; description of the built-in catalogue",
}
SASREC_TUNED = ("hidden", "dropout", "lr")
T = TypeVar("T")


def item_text(args: argparse.Namespace) -> ItemTextConfig:
    """The item-text encoder (``--item-text``) and the data set's template."""
    template = args.item_text_template or TEMPLATES.get(args.dataset, DEFAULT_TEMPLATE)
    return ItemTextConfig(encoder=args.item_text, template=template, tags=args.item_tags)


def cold_config(args: argparse.Namespace) -> ColdStartConfig:
    """The content-neighbour settings of the cold-start routes."""
    return ColdStartConfig(neighbours=args.neighbours, item_text=item_text(args))


def sasrec_settings(args: argparse.Namespace, results: Path = harness.RESULTS) -> str:
    """Fill the ``--sasrec-*`` options left unset: from the data set's finished SASRec grid
    (its best validation point) when there is one, else SASRecConfig's defaults. Returns where
    the values came from, in words."""
    grid = results / "sasrec_grid" / f"sasrec-grid-{args.dataset}.json"
    best = None
    if grid.exists():
        saved = json.loads(grid.read_text(encoding="utf-8"))
        best = None if saved.get("missing") else saved["best"]
    defaults = {f.name: f.default for f in fields(SASRecConfig)}
    unset = [name for name in SASREC_TUNED if getattr(args, f"sasrec_{name}") is None]
    for name in unset:
        setattr(args, f"sasrec_{name}", (best or defaults)[name])
    if not unset:
        return "the --sasrec-* options"
    source = f"the best validation point of {grid.relative_to(results.parents[1])}" if best else ""
    source = source or "SASRecConfig's defaults (no finished SASRec grid for this data set)"
    given = sorted(set(SASREC_TUNED) - set(unset))
    return source + (f"; {', '.join(given)} from the options" if given else "")


def sasrec(args: argparse.Namespace) -> SASRecRecommender:
    """SASRec at the run's settings, validated with the history not excluded."""
    tuned = {name: getattr(args, f"sasrec_{name}") for name in SASREC_TUNED}
    fixed = {"epochs": args.sasrec_epochs, "patience": args.sasrec_patience, "seed": args.seed}
    config = SASRecConfig(**tuned, **fixed, valid_exclude_seen=False, progress=False)
    return SASRecRecommender(config)


def lm_config(args: argparse.Namespace, representation: str, users: int) -> LMConfig:
    """The recommended configuration (``lmrec train``'s default) reading items as
    ``representation``, validated with the history not excluded; its epochs and patience follow
    the log's size (``presets.recommended_epochs``, ``recommended_patience``) unless
    ``--lm-epochs`` or ``--lm-patience`` say otherwise."""
    base, _ = training_base({})
    base["item_representation"] = representation
    base["model"] = args.lm_model or base["model"]
    base["valid_exclude_seen"] = False
    text = item_text(args)
    base["index"] |= {"seed": args.seed, "item_text": {"encoder": text.encoder,
                                                       "template": text.template,
                                                       "tags": text.tags}}  # fmt: skip
    base["train"] |= {
        "epochs": args.lm_epochs or recommended_epochs(users),
        "seed": args.seed,
        "progress": False,
    }
    base["train"]["patience"] = lm_patience(args, users)
    return from_dict(LMConfig, base)


def lm_patience(args: argparse.Namespace, users: int) -> int:
    """The LM rows' patience: ``--lm-patience``, else the recommended one for the log's size
    (``presets.recommended_patience``)."""
    return recommended_patience(users) if args.lm_patience is None else args.lm_patience


def fit_lm(args: argparse.Namespace, representation: str, split: Split, key: str) -> LMRecommender:
    """The LM of ``representation`` fitted on ``split``. With ``--lm-checkpoints`` it writes a
    checkpoint after every epoch under ``<out>/<stem>.checkpoints/<key>`` and resumes from one
    left there by a stopped run (removed once the fit is done), so that one row longer than a
    piece of the run still finishes across pieces (its ``fit_seconds`` then count only the
    part after the resume)."""
    config = lm_config(args, representation, len(split.train))
    folder = None
    if args.lm_checkpoints:
        name = re.sub(r"[^A-Za-z0-9+.-]+", "_", key)
        folder = Path(args.out) / f"{harness.stem(args)}.checkpoints" / name
        config = replace(config, train=replace(config.train, output_dir=str(folder), resume=True))
    rec = LMRecommender(config).fit(split)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
        with contextlib.suppress(OSError):  # the run's checkpoint folder, once it is empty
            folder.parent.rmdir()
    return rec


def makers(
    args: argparse.Namespace, split: Split, fitted: dict[str, Recommender]
) -> dict[str, Callable[[], Recommender]]:
    """Each main model by ``--models`` name, as a function that fits it on ``split``. Fitted
    LMs are kept in ``fitted`` so that the hybrid reuses the LM of this run when there is one
    (a resumed run trains it again)."""

    def lm(name: str) -> Callable[[], Recommender]:
        def fit() -> Recommender:
            fitted[name] = fit_lm(args, REPRESENTATIONS[name], split, name)
            return fitted[name]

        return fit

    def hybrid() -> Recommender:
        model = fitted.get(HYBRID_LM) or lm(HYBRID_LM)()
        retriever = ItemKNNRecommender().fit(split)
        return HybridRecommender(retriever, model, HybridConfig(seed=args.seed)).fit(split)

    return {
        "popularity": lambda: PopularityRecommender().fit(split),
        "item-knn": lambda: ItemKNNRecommender().fit(split),
        "als": lambda: ALSRecommender(seed=args.seed).fit(split),
        "sasrec": lambda: sasrec(args).fit(split),
        **{name: lm(name) for name in REPRESENTATIONS},
        "hybrid": hybrid,
    }


def training_facts(rec: Recommender) -> dict:
    """What a fitted model's training says about itself: epochs run, the best one and its
    validation NDCG@10 (the LM's over its sampled validation users, SASRec's over all), the
    hybrid's fusion weight."""
    if isinstance(rec, HybridRecommender):
        return {"fusion_weight": rec.weight}
    if isinstance(rec, SASRecRecommender):
        log = rec.training_log
        best = max(log, key=lambda e: e["valid_ndcg@10"])
        return {
            "epochs_run": len(log),
            "best_epoch": int(best["epoch"]),
            "best_valid_ndcg10": float(best["valid_ndcg@10"]),
        }
    if isinstance(rec, LMRecommender):
        result = rec.train_result
        return {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "best_valid_ndcg10": result.best_valid_ndcg10,
        }
    return {}


def timed_fit(make: Callable[[], T]) -> tuple[T, float]:
    """What ``make`` returns, and the seconds it took."""
    started = time.perf_counter()
    rec = make()
    return rec, time.perf_counter() - started

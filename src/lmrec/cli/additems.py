"""``lmrec add-items``: new catalogue items for a trained model, without retraining. A model
trained with item text (``--item-representation text`` or ``ids+text``) gives each new item a
vector of its own from its text (:meth:`~lmrec.recommenders.lm.LMRecommender.add_items`), so
the item is recommendable and readable in histories at once; the model directory is then saved
again, in place or to ``--out``.

Nothing is written until every new item is accepted (a malformed row, an id the model already
has, an item without text are refused first), and the directory is written beside its target
and swapped in whole at the end, so a failed save or a service reloading meanwhile
(``POST /admin/reload``, SIGHUP) never sees half a model."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from dataclasses import fields, replace
from pathlib import Path

from lmrec.cli.data import DATA_OPTIONS, model_dir
from lmrec.cli.names import is_named_dir
from lmrec.cli.options import add_config_options, build_config
from lmrec.cli.runfile import read_run
from lmrec.data.readers import read_catalog
from lmrec.data.source import DataConfig
from lmrec.recommenders.lm import CONFIG_FILE
from lmrec.training.records import METRICS_FILE

# The catalogue's column options (--catalog-columns), read as for training and defaulting to
# the ones the model directory recorded; --catalog itself is this verb's own, required option.
CATALOG_OPTIONS = replace(
    DATA_OPTIONS,
    skip=frozenset(f.name for f in fields(DataConfig)) - {"catalog_columns"},
    groups={"catalog_columns": "the new items' catalogue"},
)


def add_add_items_parser(sub) -> None:
    p = sub.add_parser(
        "add-items",
        help="add new items to a trained model from their text, without retraining",
    )
    p.add_argument(
        "--model",
        required=True,
        help="a directory written by 'lmrec train' with --item-representation text or ids+text",
    )
    p.add_argument(
        "--catalog",
        required=True,
        help="the new items: a catalogue file (CSV/TSV/JSONL/Parquet) with an id and text "
        "(name, category, description, ...) per item, read as training reads --catalog",
    )
    p.add_argument(
        "--out",
        help="write the updated model here (a new or empty directory) instead of over --model",
    )
    add_config_options(p, CATALOG_OPTIONS)
    p.set_defaults(func=cmd_add_items)


def check_add_items_args(args: argparse.Namespace) -> tuple[Path, Path]:
    """(model directory, where to write it): argument errors said before the model loads."""
    if is_named_dir(args.model):
        raise SystemExit(
            f"error: {args.model} is a names model (train --format names): it reads item "
            "names, so a new item needs no adding; retrain it with the new items' purchases"
        )
    model = model_dir(args.model)
    catalog = Path(args.catalog)
    if not catalog.is_file():
        said = "is not a file" if catalog.exists() else "does not exist"
        raise SystemExit(f"error: catalogue file {args.catalog} {said}")
    out = Path(args.out) if args.out else model
    if model.resolve() in out.resolve().parents:
        raise SystemExit(
            f"error: --out {out} is inside --model {model}: name a directory outside it, or "
            "leave --out out to update --model in place"
        )
    if out.exists() and not out.is_dir():
        raise SystemExit(f"error: --out {out} exists and is not a directory")
    if out.resolve() != model.resolve() and out.exists() and any(out.iterdir()):
        raise SystemExit(
            f"error: --out {out} exists and is not empty: name a new directory, or leave "
            "--out out to update --model in place"
        )
    return model, out


def cmd_add_items(args: argparse.Namespace) -> int:
    from lmrec.recommenders.lm import LMRecommender, set_threads

    model, out = check_add_items_args(args)
    set_threads(args.threads)
    columns = build_config(CATALOG_OPTIONS, args, read_run(model).get("data")).catalog_columns
    items = list(read_catalog(args.catalog, columns).values())
    rec = LMRecommender.load(model)
    if rec.config.item_representation == "ids":
        raise SystemExit(
            f"error: {model} was trained without item text (item representation 'ids'), so it "
            "has no way to give a new item a vector: train it with --item-representation "
            "ids+text (or text) to add items without retraining"
        )
    before = len(rec.catalog)
    try:
        rec.add_items(items)
    except ValueError as err:  # a known id, one given twice, an item without text
        raise SystemExit(f"error: {args.catalog}: {err}; nothing was written") from None
    save_over(rec, out, model)
    where = "in place" if out.resolve() == model.resolve() else f"to {out}"
    print(
        f"added {len(items)} item(s) from {args.catalog}: the catalogue now holds "
        f"{len(rec.catalog)} items (was {before}); model saved {where}"
    )
    return 0


def save_over(rec, target: Path, source: Path) -> None:
    """Save ``rec`` as ``target`` through a directory beside it, swapped in at the end (the old
    ``target``, if any, is removed only once the new one is in its place). The run record of
    ``source`` (the data it was trained on, test metrics: what ``lmrec train`` adds to
    ``lmrec.json`` and ``metrics.json`` beyond the model's own save) is kept, and so, when
    ``target`` is ``source``, is every file the save does not write."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.adding-", dir=target.parent))
    retired = staging.with_name(staging.name.replace(".adding-", ".replaced-"))
    try:
        rec.save(staging)
        for name in (CONFIG_FILE, METRICS_FILE):
            _keep_record(source / name, staging / name)
        in_place = target == source.resolve()
        if in_place:
            for entry in target.iterdir():
                kept = staging / entry.name
                if kept.exists():
                    continue
                if entry.is_dir():
                    shutil.copytree(entry, kept)
                else:
                    shutil.copy2(entry, kept)
        mode = (target if target.exists() else target.parent).stat().st_mode & 0o777
        staging.chmod(mode)  # mkdtemp's is 0o700
        if target.exists():
            os.rename(target, retired)
        try:
            os.rename(staging, target)
        except OSError:
            if retired.exists():
                os.rename(retired, target)
            raise
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _keep_record(old: Path, new: Path) -> None:
    """The keys of JSON file ``old`` that the new ``new`` lacks, put into it."""
    if not old.is_file() or not new.is_file():
        return
    before = json.loads(old.read_text(encoding="utf-8"))
    after = json.loads(new.read_text(encoding="utf-8"))
    missing = {key: value for key, value in before.items() if key not in after}
    if missing:
        new.write_text(json.dumps({**after, **missing}, indent=1), encoding="utf-8")

"""How a new item's vector is made, compared on one trained model: the cold-start part of
:mod:`benchmarks.knowledge` (10 % of the items held out of training, one seed), with the fitted
LM saved so that each way of adding the held-out items is scored on the same weights without
training again.

    python -m benchmarks.knowledge.variants --dataset beauty --representation ids+text --item-tags

Ways (rows): ``add_items`` with the new item's id row made of its 0 (none: its text alone), 1
or 10 nearest known items by text (``ids+text``; a ``text`` model has no id rows: one row);
``neighbours``, :class:`~lmrec.recommenders.coldstart.ColdStartRecommender` on the same model
(each new item scored by its content neighbours' probabilities). The model is saved under
``--model-dir`` (default ``runs/cold-variants/<data>-<representation>[-tags]-seed<seed>``) and
read back from there by a later run; its training checkpoints every epoch beside it, so a
stopped run resumes. Results: ``benchmarks/results/knowledge/cold-variants-<...>.{json,md}``,
rows added to the ones a run with the same model wrote before.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

from benchmarks import harness
from benchmarks.coldstart import cold_split
from benchmarks.knowledge import cli, models
from benchmarks.knowledge.coldstart import PROTOCOL, cold_scores
from lmrec.recommenders.coldstart import ColdStartRecommender
from lmrec.recommenders.lm import LMRecommender
from lmrec.text.additions import has_text

STUDY = "knowledge"
ID_NEIGHBOURS = (0, 1, 10)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="beauty")
    p.add_argument("--representation", default="ids+text", choices=("text", "ids+text"))
    p.add_argument("--item-tags", action="store_true", help="the category field as tags")
    p.add_argument("--cold-seed", type=int, default=0, help="which held-out sample")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lm-epochs", type=int, default=0, help="0 = presets.recommended_epochs")
    p.add_argument("--model-dir", type=Path, help="where the fitted model is kept")
    p.add_argument("--out", type=Path, default=harness.RESULTS / STUDY)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    # The knowledge study's own options, so that the LM and the neighbours are its cold routes'.
    study = ["--dataset", args.dataset, "--threads", str(args.threads)]
    study += ["--lm-epochs", str(args.lm_epochs)] + (["--item-tags"] if args.item_tags else [])
    kargs = cli.parser().parse_args(study)
    harness.setup(kargs)
    started = time.perf_counter()
    tags = "-tags" if args.item_tags else ""
    stem = f"{args.dataset}-{args.representation}{tags}-seed{args.cold_seed}"
    folder = args.model_dir or Path("runs/cold-variants") / stem
    dataset = harness.load_sampled(kargs)
    split, cold, cases = cold_split(dataset, args.cold_seed)
    if (folder / "model").exists():
        fit_seconds = None
    else:
        config = models.lm_config(kargs, args.representation, len(split.train))
        checkpoints = str(folder / "checkpoints")
        config = replace(config, train=replace(config.train, output_dir=checkpoints, resume=True))
        rec, fit_seconds = models.timed_fit(lambda: LMRecommender(config).fit(split))
        rec.save(folder / "model")
    template = models.item_text(kargs).template
    new = [dataset.catalog[i] for i in sorted(cold) if has_text(dataset.catalog[i], template)]
    hits = [(h, t) for h, t in cases if t in cold]
    ways: dict[str, int | None] = {"neighbours": None}  # way: id-row neighbours of add_items
    if args.representation == "ids+text":
        ways |= {f"add_items, id row of {k} nearest": k for k in ID_NEIGHBOURS}
    else:
        ways["add_items"] = 0
    path = args.out / f"cold-variants-{stem}.json"
    saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"rows": {}}
    for name, k in ways.items():
        rec = LMRecommender.load(folder / "model")
        if k is None:  # the neighbour route reads every held-out item, with text or not
            all_new = [dataset.catalog[i] for i in sorted(cold)]
            rec = ColdStartRecommender(rec, models.cold_config(kargs)).add_items(all_new)
        else:
            rec.add_items(new, neighbours=k)
        ranked = harness.items_of(rec.recommend([h for h, _ in hits], k=10))
        row = cold_scores(ranked, hits)
        saved["rows"][name] = row | {"cold_test_events": len(hits)}
        print(f"{name}: {row['hits']} hits of {len(hits)}", flush=True)
    saved |= {
        "command": harness.command_line("knowledge.variants", argv),
        "protocol": PROTOCOL,
        "data": split.name,
        "representation": args.representation,
        "item_tags": args.item_tags,
        "cold_seed": args.cold_seed,
        "held_out_items": len(cold),
        "machine": harness.machine(),
        "seconds": time.perf_counter() - started,
    }
    saved["model_read_back"] = fit_seconds is None
    if fit_seconds is not None:  # a model read back keeps the fit time of the run that made it
        saved["fit_seconds"] = fit_seconds
    lines = [
        f"# Ways to add held-out items: {stem}",
        "",
        f"Command: `{saved['command']}`.",
        "",
        f"Protocol: {PROTOCOL}",
        "",
        "| way | HR@10 | NDCG@10 | hits / events |",
        "|---|---:|---:|---:|",
    ]
    for name, row in saved["rows"].items():
        lines.append(
            f"| {name} | {row['HR@10']:.4f} | {row['NDCG@10']:.4f} | "
            f"{row['hits']} / {row['cold_test_events']} |"
        )
    harness.write_results(args.out, f"cold-variants-{stem}", saved, "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

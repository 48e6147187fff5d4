"""What every benchmark shares, so that a script is only the question it asks: the shared data
sets by name, the common options (``--quick``, ``--seed``, ``--threads``, ``--out``,
``--name``), language-model configs built from options in one place, protocol text as
constants, the results writer, and a cache of finished rows that lets an interrupted run resume.

A script declares its options with :func:`add_common_options` (and :func:`add_lm_options`
where it trains the language model), calls :func:`setup` on the parsed options, and ends with
:func:`write_results`; its results go to ``benchmarks/results/<study>/<name>[-quick].*``.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from lmrec.data import ColumnMap, Dataset, read_interactions, read_recbole, read_sequences
from lmrec.data.sportshop import make_sportshop
from lmrec.data.t5p5 import T5P5Data, load_t5p5
from lmrec.metrics.ranking import hit_rate_at_k, ndcg_at_k

# torch and the language model are imported where they are used: streaming.py's measured child
# processes import this module, and their memory must not start with transformers loaded.
if TYPE_CHECKING:
    from lmrec.indexing import IndexConfig
    from lmrec.recommenders.lm import LMConfig
    from lmrec.tasks import PromptConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"

# ---------------------------------------------------------------------------- protocol text
LEAVE_ONE_OUT = "leave-one-out by timestamp (ties keep file order), test stage, all items ranked"
HISTORY_EXCLUDED = "the user's history excluded"
SAMPLED_CANDIDATES = "1 true + N-1 sampled candidates outside the history (never mixed with "
SAMPLED_CANDIDATES += "all-item numbers)"
FROM_SCRATCH = (
    "Every model is built from scratch (random weights, tokenizers trained on the data; no hub "
    "here)"
)

# ---------------------------------------------------------------------------- data sets
MUSICAL_INSTRUMENTS_COLUMNS = ColumnMap(
    user="reviewerID",
    item="asin",
    timestamp="unixReviewTime",
    rating="overall",
    review="reviewText",
    summary="summary",
)
AMAZON_SEQUENCES = {  # name: (folder, file)
    "beauty": ("amazon_beauty", "Beauty.txt"),
    "sports": ("amazon_sports", "Sports_and_Outdoors.txt"),
}
DATASETS = ("ml-100k", "beauty", "sports", "musical-instruments", "t5p5", "shop")
# Spellings older commands use for the same data sets (``--datasets ml100k``).
ALIASES = {"ml100k": "ml-100k"}


def load(
    name: str,
    data: Path | str = DATA,
    *,
    shop_users: int = 1000,
    seed: int = 0,
    attributes: bool = False,
) -> Dataset | T5P5Data:
    """A data set by name: the shared ones from ``data`` (the repository's ../shared/data) or
    the built-in ``shop`` (``shop_users`` simulated users, ``seed``). ``t5p5`` is the aligned
    English/Arabic sports set, parsed (:class:`lmrec.data.t5p5.T5P5Data`), not an event log.
    ``attributes``: the Amazon sets' S3-Rec attribute ids as each item's category tags."""
    name = ALIASES.get(name, name)
    data = Path(data)
    if name == "ml-100k":
        return read_recbole(data / "ml-100k")
    if name in AMAZON_SEQUENCES:
        folder, file = AMAZON_SEQUENCES[name]
        base = data / folder
        return read_sequences(
            base / file,
            names_path=base / "item_generative_indexing_phase_0.txt",
            id_map_path=base / "datamaps.json",
            name=name,
            attributes_path=base / f"{Path(file).stem}_item2attributes.json"
            if attributes
            else None,
        )
    if name == "musical-instruments":
        folder = data / "amazon_musical_instruments_reviews"
        return read_interactions(
            folder / "reviews_Musical_Instruments_5.json.gz", MUSICAL_INSTRUMENTS_COLUMNS
        )
    if name == "t5p5":
        return load_t5p5(data / "sports_equipment_t5p5")
    if name == "shop":
        return make_sportshop(shop_users, seed=seed)
    known = ", ".join([*DATASETS, *ALIASES])
    raise SystemExit(f"unknown data set {name!r} (known: {known})")


def subsample(dataset: Dataset, users: int, seed: int) -> Dataset:
    """Keep a seeded random sample of users (all their events) and the whole catalogue."""
    chosen = set(random.Random(seed).sample(dataset.users, min(users, len(dataset.users))))
    kept = [x for x in dataset.interactions if x.user in chosen]
    return Dataset(kept, dataset.catalog, name=f"{dataset.name} ({len(chosen)} users)")


def load_sampled(args: argparse.Namespace) -> Dataset:
    """The data set ``--dataset`` names, with ``--users`` (0 = all) sampled by ``--seed``."""
    attributes = getattr(args, "item_tags", False)
    dataset = load(args.dataset, args.data, seed=args.seed, attributes=attributes)
    return subsample(dataset, args.users, args.seed) if args.users else dataset


# ---------------------------------------------------------------------------- options
def int_at_least(minimum: int, refusal: str) -> Callable[[str], int]:
    """An argparse type for a whole number of at least ``minimum``; a smaller one is refused
    as ``"<value> <refusal>"``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} {refusal}")
        return value

    return parse


def add_common_options(
    parser: argparse.ArgumentParser,
    study: str,
    *,
    threads: int = 1,
    quick: str = "a smoke run of the same code path",
    data: bool = True,
) -> None:
    """``--quick``, ``--seed``, ``--threads``, ``--out`` and ``--name`` (and ``--data`` where the
    script reads shared data), with the study's folder and name as defaults."""
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=threads, help="torch threads (0 = all cores)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS / study, help="folder for the result files"
    )
    parser.add_argument(
        "--name", default=study, help="result file stem (a -quick suffix marks --quick runs)"
    )
    if data:
        parser.add_argument("--data", default=str(DATA), help="folder of the shared data sets")


# dest: (flag, type, help); the defaults are each script's own (add_lm_options' keywords).
LM_OPTIONS: dict[str, tuple[str, type, str]] = {
    "model": ("--model", str, "backbone: a scratch preset or a model directory"),
    "epochs": ("--epochs", int, "training epochs (the best validation epoch is kept)"),
    "batch_size": ("--batch-size", int, "training batch size"),
    "lr": ("--lr", float, "learning rate"),
    "max_history": ("--max-history", int, "most recent items in a prompt"),
    "max_targets_per_user": ("--max-targets-per-user", int, "training targets per user (0 = all)"),
    "patience": ("--patience", int, "early-stopping patience in epochs (0 = none)"),
    "valid_users": ("--valid-users", int, "validation users sampled for early stopping"),
}
LM_DEFAULTS = {
    "model": "scratch:tiny",
    "epochs": 4,
    "batch_size": 64,
    "lr": 3e-3,
    "max_history": 20,
    "max_targets_per_user": 0,
    "patience": 0,
    "valid_users": 200,
}


def add_lm_options(
    parser: argparse.ArgumentParser,
    exposed: Iterable[str] = tuple(LM_OPTIONS),
    flags: dict[str, str] | None = None,
    **defaults: Any,
) -> None:
    """The language model's training options a script exposes (``exposed``, by dest name), with
    its defaults; the options it does not expose still reach :func:`lm_config` as fixed values.
    ``flags`` keeps a script's own spelling of an option (``{"model": "--lm-model"}``)."""
    unknown = set(defaults) - set(LM_OPTIONS)
    if unknown:
        raise ValueError(f"unknown language-model options {sorted(unknown)}")
    values = LM_DEFAULTS | defaults
    exposed = set(exposed)
    for dest, (flag, kind, help_text) in LM_OPTIONS.items():
        if dest in exposed:
            flag = (flags or {}).get(dest, flag)
            parser.add_argument(flag, dest=dest, type=kind, default=values[dest], help=help_text)
    parser.set_defaults(**{k: v for k, v in values.items() if k not in exposed})


def lm_config(
    args: argparse.Namespace,
    index: IndexConfig | None = None,
    prompts: PromptConfig | None = None,
    **fields: Any,
) -> LMConfig:
    """The :class:`LMConfig` of the options of :func:`add_lm_options` (and ``--seed``): sequential
    one-token ids unless ``index`` says otherwise; ``fields`` are further LMConfig fields."""
    from lmrec.indexing import IndexConfig
    from lmrec.recommenders.lm import LMConfig
    from lmrec.tasks import PromptConfig
    from lmrec.training.loop import TrainConfig

    return LMConfig(
        model=args.model,
        index=IndexConfig(strategy="sequential", style="single") if index is None else index,
        prompts=prompts
        or PromptConfig(
            max_history=args.max_history, max_targets_per_user=args.max_targets_per_user
        ),
        train=TrainConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.lr,
            patience=args.patience,
            max_valid_users=args.valid_users,
            seed=args.seed,
            progress=False,
        ),
        **fields,
    )


def lm_of_record(args: argparse.Namespace, **train: Any) -> LMConfig:
    """The language model of record (results/sequential/sequential-beauty-full-dropout0.5.md):
    LLaMA-style ``scratch:llama-tiny``, sequence objective, dropout 0.5, sequential one-token
    ids, 50 history items, validated with the history not excluded; ``train`` are TrainConfig
    changes over the options' (e.g. ``epochs``)."""
    from dataclasses import replace

    from lmrec.indexing import IndexConfig
    from lmrec.tasks import PromptConfig

    base = lm_config(
        args, index=IndexConfig(strategy="sequential", embedding="tfidf"), valid_exclude_seen=False
    )
    return replace(
        base,
        model="scratch:llama-tiny",
        prompts=PromptConfig(max_history=50),
        train=replace(base.train, max_source_length=400, **train),
        objective="sequence",
        dropout=0.5,
    )


def quick_training(args: argparse.Namespace) -> None:
    """``--quick`` for a study that trains the language model on all of a data set: 1 epoch, 1
    target per user, 50 validation users, at most 100 test users (``--max-users``)."""
    args.epochs, args.max_targets_per_user, args.valid_users = 1, 1, 50
    args.max_users = args.max_users or 100


def setup(args: argparse.Namespace, level: int = logging.WARNING) -> None:
    """Torch threads (``--threads``; 0 keeps all cores) and logging, before any work."""
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")


def split_list(text: str) -> list[str]:
    """A comma-separated option as a list (empty items dropped: '' is no item)."""
    return [x for x in text.split(",") if x]


# ---------------------------------------------------------------------------- results
def command_line(study: str, argv: Sequence[str] | None = None) -> str:
    """The command that reproduces this run, in its module spelling."""
    argv = sys.argv[1:] if argv is None else argv
    return shlex.join([".venv/bin/python", "-m", f"benchmarks.{study}", *argv])


def machine() -> str:
    import torch

    return (
        f"{platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{torch.get_num_threads()} torch thread(s)"
    )


def stem(args: argparse.Namespace) -> str:
    """The result file stem: ``--name``, with ``-quick`` for a smoke run."""
    return args.name + ("-quick" if args.quick else "")


def write_results(
    folder: Path | str,
    name: str,
    result: dict,
    markdown: str,
    figure: Callable[[dict, Path], None] | None = None,
) -> None:
    """``<name>.json`` and ``<name>.md`` (and ``<name>.png`` from ``figure``) in ``folder``;
    the markdown is echoed to the terminal."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    (folder / f"{name}.json").write_text(text, encoding="utf-8")
    (folder / f"{name}.md").write_text(markdown, encoding="utf-8")
    if figure is not None:
        figure(result, folder / f"{name}.png")
    print(markdown)


def page_head(title: str, result: dict) -> list[str]:
    """The first lines of a results page: its title, the command that reproduces it, the
    machine and wall time, and the protocol paragraph."""
    return [
        f"# {title}",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; wall time {result['wall_seconds']:.0f} s.",
        "",
        result["protocol"],
        "",
    ]


def study_record(
    command: str, base: LMConfig, started: float, datasets: list, **fields: Any
) -> dict:
    """What a study over several data sets records: its command, its own ``fields`` (question,
    protocol, ...), the machine, the language model's config, the wall seconds since
    ``started`` and each data set's results."""
    return {
        "command": command,
        **fields,
        "machine": machine(),
        "config": base.to_dict(),
        "seconds": time.perf_counter() - started,
        "datasets": datasets,
    }


def split_record(command: str, data: str, split: Any, rows: list[dict], **fields: Any) -> dict:
    """What a study of one data set's split records: its command, the data set, the split,
    the protocol of its first row, the machine, the study's own ``fields`` (settings,
    config, ...) and its rows."""
    return {
        "command": command,
        "data": data,
        "split": split.describe(),
        "protocol": rows[0]["protocol"],
        "machine": machine(),
        **fields,
        "rows": rows,
    }


def timed_head(title: str, result: dict) -> list[str]:
    """The first lines of a :func:`study_record` page: its title, then the command with the
    run's minutes and machine."""
    minutes = result["seconds"] / 60
    command = f"Command: `{result['command']}` ({minutes:.1f} min, {result['machine']})."
    return [f"# {title}", "", command, ""]


def markdown_table(header: Sequence[str], aligns: str, rows: Iterable[Sequence[str]]) -> list[str]:
    """A markdown table's lines: ``header`` cells, one alignment letter per column in
    ``aligns`` (``l`` left, ``r`` right), then each row's already formatted cells."""
    rule = {"l": "---", "r": "---:"}
    lines = ["| " + " | ".join(header) + " |", "|" + "".join(rule[a] + "|" for a in aligns)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


class RowCache:
    """Finished rows of a run that trains several models, kept in ``<name>.partial.json`` beside
    the results, so that an interrupted run resumes at the next model instead of starting over.

    A cache written under other settings (``settings``: the run's options) is not reused: its
    rows would measure something else. Pieces may run at once (one per core): each keeps the
    rows the others saved when it saves its own. :meth:`finish` removes the file once the
    results are written."""

    def __init__(self, folder: Path | str, name: str, settings: dict):
        self.folder, self.name = Path(folder), name
        self.path = self.folder / f"{name}.partial.json"
        self.settings = self.comparable(settings)
        self.rows: dict[str, Any] = self._saved()
        if self.rows:
            logging.getLogger(__name__).warning(
                "resuming: %d finished row(s) from %s", len(self.rows), self.path
            )

    @staticmethod
    def comparable(settings: dict) -> dict:
        """``settings`` as the cache keeps and compares them (as JSON reads them back)."""
        return json.loads(json.dumps(settings, default=str))

    def _saved(self) -> dict[str, Any]:
        """The rows in the file, when it was written under this run's settings."""
        if not self.path.exists():
            return {}
        saved = json.loads(self.path.read_text(encoding="utf-8"))
        return saved["rows"] if saved.get("settings") == self.settings else {}

    @classmethod
    def of(cls, args: argparse.Namespace) -> RowCache:
        """The cache of a run with the common options: in ``--out``, named by its stem, keyed
        by the options that decide its rows."""
        return cls(args.out, stem(args), settings_of(args))

    def row(self, key: str, compute: Callable[[], Any]) -> Any:
        """The cached row of ``key``, or ``compute()``'s, saved at once."""
        if key not in self.rows:
            value = compute()
            # Rows another piece of the run (another process) saved meanwhile are kept.
            self.rows = self._saved() | self.rows
            self.rows[key] = value
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps({"settings": self.settings, "rows": self.rows}, ensure_ascii=False)
            self.path.write_text(text, encoding="utf-8")
        return self.rows[key]

    def finish(self) -> None:
        self.path.unlink(missing_ok=True)

    def write(
        self, result: dict, markdown: str, figure: Callable[[dict, Path], None] | None = None
    ) -> None:
        """The run's results (:func:`write_results`, beside the cache), then :meth:`finish`."""
        write_results(self.folder, self.name, result, markdown, figure)
        self.finish()


def settings_of(args: argparse.Namespace, *leave_out: str) -> dict:
    """The options that decide a run's rows (not where its files go)."""
    skip = {"out", "name", *leave_out}
    return {k: v for k, v in sorted(vars(args).items()) if k not in skip}


# ---------------------------------------------------------------------------- metrics
def top10_metrics(ranked: Sequence[Sequence[str]], targets: Sequence[str]) -> dict[str, float]:
    """Mean HR@10 and NDCG@10 of ranked item lists against one target each (0 for no cases)."""
    n = max(1, len(targets))
    pairs = list(zip(ranked, targets, strict=True))
    return {
        "HR@10": sum(hit_rate_at_k(r, t, 10) for r, t in pairs) / n,
        "NDCG@10": sum(ndcg_at_k(r, t, 10) for r, t in pairs) / n,
    }


def items_of(ranked: Iterable[Iterable[Any]]) -> list[list[str]]:
    """Ranked lists of scored items as lists of item ids."""
    return [[s.item for s in r] for r in ranked]

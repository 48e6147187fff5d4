"""Evaluate a recommender on a split: all-item top-K ranking of each user's held-out item."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm.auto import tqdm

from lmrec.config.progress import show_progress
from lmrec.data.split import Split
from lmrec.metrics.beyond import (
    catalog_coverage,
    category_distance,
    intra_list_diversity,
    mean_popularity_rank,
    popularity_ranks,
)
from lmrec.metrics.ranking import ranking_metrics
from lmrec.recommenders.base import Recommender

__all__ = [
    "RankingReport",
    "beyond_accuracy",
    "evaluate_ranking",
    "format_beyond",
    "format_markdown",
    "top_k_items",
]


@dataclass(frozen=True)
class RankingReport:
    """Ranking metrics of one recommender on one split, and how they were measured.

    ``protocol`` states the protocol in words so that a table is never read without it;
    numbers from different protocols (e.g. 1-of-100 sampled candidates) must not be mixed.
    """

    recommender: str
    metrics: dict[str, float]
    n_users: int
    stage: str
    protocol: str
    data: str
    seconds: float
    users_per_second: float
    targets_in_history: int = 0
    """Users whose target item is already in their history (unreachable when it is excluded)."""
    settings: dict[str, Any] = field(default_factory=dict)
    """The arguments of :func:`evaluate_ranking`, for the record."""
    beyond: dict[str, float] = field(default_factory=dict)
    """Beyond accuracy, over the top-``max(ks)`` lists (see :func:`beyond_accuracy`)."""

    def format_table(self) -> str:
        """A small aligned text table headed by recommender, data and protocol."""
        header = f"{self.recommender} on {self.data} ({self.protocol})"
        rows = [(name, f"{value:.4f}") for name, value in self.metrics.items()]
        rows += [
            ("users", str(self.n_users)),
            ("seconds", f"{self.seconds:.2f}"),
            ("users/s", f"{self.users_per_second:.1f}"),
        ]
        name_width = max(len(name) for name, _ in rows)
        value_width = max(len(value) for _, value in rows)
        lines = [header, "-" * len(header)]
        lines += [f"{name:<{name_width}}  {value:>{value_width}}" for name, value in rows]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary of every field."""
        return asdict(self)


def evaluate_ranking(
    recommender: Recommender,
    split: Split,
    stage: str = "test",
    ks: Iterable[int] = (1, 5, 10, 20),
    exclude_seen: bool = True,
    max_users: int | None = None,
    seed: int = 0,
    batch_size: int = 1024,
    progress: bool = True,
) -> RankingReport:
    """Rank all catalogue items for every user with a ``stage`` target and score the target.

    The history a user's list is recommended from is ``split.history(user, stage)``: training
    events for "valid", training events plus the validation item for "test". Each list holds
    ``max(ks)`` items, so HR/NDCG@k are over the whole catalogue, not a sampled candidate set.

    Args:
        recommender: a fitted recommender.
        split: the leave-one-out split it was fitted on.
        stage: "valid" or "test".
        ks: the cutoffs to report.
        exclude_seen: never recommend items of the user's history (and say so in the protocol).
        max_users: evaluate a random sample of this many users (reproducible with ``seed``).
        seed: seed for the user sample.
        batch_size: histories per ``recommend`` call.
        progress: show a tqdm progress bar.
    """
    cutoffs = _checked_cutoffs(ks, batch_size, max_users)
    targets = split.targets(stage)
    users = list(targets)
    if not users:
        raise ValueError(f"{split.name}: no user has a {stage} target to evaluate")
    n_all = len(users)
    if max_users is not None and max_users < n_all:
        chosen = set(random.Random(seed).sample(users, max_users))
        users = [u for u in users if u in chosen]  # keep split order: results read the same

    histories = [[x.item for x in split.history(user, stage)] for user in users]
    wanted = [targets[user].item for user in users]

    started = time.perf_counter()
    rankings = top_k_items(recommender, histories, cutoffs[-1], exclude_seen, batch_size, progress)
    metrics = ranking_metrics(rankings, wanted, ks=cutoffs)
    seconds = time.perf_counter() - started

    protocol = _protocol(split, stage, exclude_seen, len(users), n_all, seed)
    beyond = beyond_accuracy(rankings, split)
    return RankingReport(
        recommender=recommender.name,
        metrics=metrics,
        n_users=len(users),
        stage=stage,
        protocol=protocol,
        data=split.name,
        seconds=seconds,
        users_per_second=len(users) / seconds if seconds > 0 else float("inf"),
        targets_in_history=sum(t in h for t, h in zip(wanted, histories, strict=True)),
        settings={
            "ks": cutoffs,
            "exclude_seen": exclude_seen,
            "max_users": max_users,
            "seed": seed,
            "batch_size": batch_size,
        },
        beyond=beyond,
    )


def _checked_cutoffs(ks: Iterable[int], batch_size: int, max_users: int | None) -> list[int]:
    """The sorted distinct cutoffs, after refusing what :func:`evaluate_ranking` cannot use."""
    cutoffs = sorted(set(ks))
    if not cutoffs or not all(isinstance(k, int) and not isinstance(k, bool) for k in cutoffs):
        raise ValueError(f"ks must be a non-empty collection of integers, got {cutoffs!r}")
    if cutoffs[0] < 1:
        raise ValueError(f"every k in ks must be >= 1, got {cutoffs!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if max_users is not None and max_users < 1:
        raise ValueError(f"max_users must be >= 1 or None, got {max_users}")
    return cutoffs


def top_k_items(
    recommender: Recommender,
    histories: Sequence[Sequence[str]],
    k: int,
    exclude_seen: bool,
    batch_size: int = 1024,
    progress: bool = False,
) -> list[list[str]]:
    """Each history's top-``k`` item ids, ``batch_size`` histories per ``recommend`` call."""
    rankings: list[list[str]] = []
    with tqdm(
        total=len(histories),
        desc=f"evaluate {recommender.name}",
        unit="user",
        disable=not show_progress(progress),
    ) as bar:
        for start in range(0, len(histories), batch_size):
            batch = histories[start : start + batch_size]
            results = recommender.recommend(batch, k=k, exclude_seen=exclude_seen)
            if len(results) != len(batch):
                raise RuntimeError(
                    f"{recommender.name} returned {len(results)} lists for {len(batch)} histories"
                )
            rankings.extend([r.item for r in recs] for recs in results)
            bar.update(len(batch))
    return rankings


def beyond_accuracy(rankings: Sequence[Sequence[str]], split: Split) -> dict[str, float]:
    """How much of the catalogue the lists use (``coverage``), how varied each list is
    (``diversity``: mean share of item pairs of different categories; only when the catalogue
    has categories), and how popular the items are (``popularity_rank``: mean rank of the
    recommended items by training count, 1 = most popular; never-trained items rank last)."""
    counts: dict[str, int] = {}
    for events in split.train.values():
        for x in events:
            counts[x.item] = counts.get(x.item, 0) + 1
    out = {"coverage": catalog_coverage(rankings, len(split.catalog))}
    categories = {item.id: item.category for item in split.catalog.values()}
    if any(c is not None for c in categories.values()):
        out["diversity"] = intra_list_diversity(rankings, category_distance(categories))
    ranks = popularity_ranks(counts)
    out["popularity_rank"] = mean_popularity_rank(rankings, ranks, len(split.catalog))
    return out


def format_beyond(reports: Sequence[RankingReport]) -> str:
    """A markdown table of each report's beyond-accuracy measures, a row per recommender."""
    names = list(dict.fromkeys(name for report in reports for name in report.beyond))
    k = max((max(r.settings.get("ks", [0])) for r in reports), default=0)
    lines = [
        f"Beyond accuracy of the top-{k} lists: coverage = share of the catalogue recommended "
        "to anyone, diversity = share of item pairs of different categories, popularity_rank "
        "= mean training-popularity rank of the items (1 = most popular).",
        "",
        "| " + " | ".join(["recommender", *names]) + " |",
        "|---|" + "---:|" * len(names),
    ]
    for report in reports:
        cells = [f"{report.beyond[n]:.4f}" if n in report.beyond else "-" for n in names]
        lines.append("| " + " | ".join([report.recommender, *cells]) + " |")
    return "\n".join(lines) + "\n"


def format_markdown(reports: Sequence[RankingReport]) -> str:
    """One markdown table, a row per recommender, under a line stating data and protocol.

    All reports must share data and protocol: numbers measured differently never share a table.
    """
    if not reports:
        raise ValueError("no reports to tabulate")
    first = reports[0]
    for report in reports[1:]:
        if (report.data, report.protocol) != (first.data, first.protocol):
            raise ValueError(
                "reports measured differently cannot share a table: "
                f"{first.data!r} ({first.protocol}) vs {report.data!r} ({report.protocol})"
            )
    names = list(dict.fromkeys(name for report in reports for name in report.metrics))
    header = ["recommender", *names, "users", "users/s"]
    lines = [
        f"Data: {first.data}. Protocol: {first.protocol}.",
        "",
        "| " + " | ".join(header) + " |",
        "|---|" + "---:|" * (len(header) - 1),
    ]
    for report in reports:
        values = [
            f"{report.metrics[name]:.4f}" if name in report.metrics else "-" for name in names
        ]
        cells = [report.recommender, *values, str(report.n_users), f"{report.users_per_second:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _protocol(
    split: Split, stage: str, exclude_seen: bool, n_users: int, n_all: int, seed: int
) -> str:
    parts = [
        split.method,
        f"{stage} stage",
        f"all {len(split.catalog)} items ranked",
        "user history excluded" if exclude_seen else "user history not excluded",
    ]
    if n_users < n_all:
        parts.append(f"{n_users} of {n_all} users sampled (seed {seed})")
    return ", ".join(parts)

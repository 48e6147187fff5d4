"""Issue 5's benchmark: collaborative retrieval alone, the language model alone (trie beam
search), and the two-stage hybrid (retriever top-50, LM scores in one pass, fusion weight tuned
on validation NDCG@10), with accuracy, speed and look-alike measures beside each other; and the
accuracy / diversity trade-off of MMR re-ranking on the hybrid's candidates.

Protocol: leave-one-out by timestamp, test stage, all items ranked, the user's history
excluded; a seeded sample of test users (``--eval-users``). Look-alike measures over the same
top-10 lists: catalogue coverage, intra-list diversity (mean pairwise 1 - cosine of the items'
TF-IDF name vectors) and mean popularity rank (1 = most popular training item).

    .venv/bin/python -m benchmarks.hybrid                      # ML-100K and Beauty
    .venv/bin/python -m benchmarks.hybrid --datasets ml100k    # one data set
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # also run as a file

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from benchmarks import harness
from lmrec.baselines import ALSRecommender, ItemKNNRecommender
from lmrec.data import leave_one_out_split
from lmrec.indexing import IndexConfig
from lmrec.metrics.beyond import (
    catalog_coverage,
    intra_list_diversity,
    mean_popularity_rank,
    popularity_ranks,
)
from lmrec.recommenders.hybrid import HybridConfig, HybridRecommender
from lmrec.recommenders.lm import LMRecommender
from lmrec.recommenders.rerank import mmr_rerank

STUDY = "hybrid"
DIVERSITY = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)


def text_similarity(catalog, items):
    """Cosine similarity of the items' TF-IDF name vectors, looked up by item id."""
    texts = [(catalog[i].name or "") + " " + (catalog[i].category or "") for i in items]
    vectors = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4)).fit_transform(texts)
    row = {item: r for r, item in enumerate(items)}
    cache: dict[tuple[str, str], float] = {}

    def similarity(a: str, b: str) -> float:
        key = (a, b) if a < b else (b, a)
        if key not in cache:
            cache[key] = float(vectors[row[a]].multiply(vectors[row[b]]).sum())
        return cache[key]

    return similarity


def fit_models(split, args: argparse.Namespace, name: str) -> tuple[dict, dict]:
    """The retrievers, the LM and the two hybrids, fitted, with their fit seconds."""
    # The LM's index is IndexConfig's default, as in the committed runs.
    lm_config = harness.lm_config(args, index=IndexConfig())
    models = {}
    fit_seconds = {}
    for label, make in [
        ("item-kNN", lambda: ItemKNNRecommender().fit(split)),
        ("ALS", lambda: ALSRecommender().fit(split)),
        ("LM (beam search)", lambda: LMRecommender(lm_config).fit(split)),
    ]:
        started = time.perf_counter()
        models[label] = make()
        fit_seconds[label] = time.perf_counter() - started
        print(f"{name}: fitted {label} in {fit_seconds[label]:.0f} s", flush=True)
    lm = models["LM (beam search)"]
    for retriever in ("item-kNN", "ALS"):
        label = f"hybrid ({retriever} top-{args.candidates} + LM)"
        started = time.perf_counter()
        hybrid = HybridRecommender(models[retriever], lm, HybridConfig(candidates=args.candidates))
        models[label] = hybrid.fit(split)
        fit_seconds[label] = time.perf_counter() - started
        print(f"{name}: {label} weight {hybrid.weight} (validation {hybrid.tuning})", flush=True)

    return models, fit_seconds


def recommend_all(model, histories: list[list[str]], k: int) -> list:
    """Top-k of every history, history excluded, in batches of 128."""
    ranked = []
    for start in range(0, len(histories), 128):
        ranked.extend(model.recommend(histories[start : start + 128], k=k, exclude_seen=True))
    return ranked


def look_alike(top: list[list[str]], n_items: int, distance, ranks: dict) -> dict:
    """Catalogue coverage, intra-list diversity and mean popularity rank of top-10 lists."""
    return {
        "coverage": catalog_coverage(top, n_items),
        "ILD": intra_list_diversity(top, distance),
        "popularity_rank": mean_popularity_rank(top, ranks, len(ranks) + 1),
    }


def run_dataset(name: str, args) -> dict:
    dataset = harness.load(name, args.data, seed=args.seed)
    users = args.users_ml if name == "ml100k" else args.users_other
    if users:
        dataset = harness.subsample(dataset, users, args.seed)
    split = leave_one_out_split(dataset)
    print(split.describe(), flush=True)
    items = list(split.catalog)
    similarity = text_similarity(split.catalog, items)

    def distance(a, b):
        return 1.0 - similarity(a, b)

    counts = Counter(x.item for events in split.train.values() for x in events)
    ranks = popularity_ranks(counts)
    test_users = [u for u in split.test if split.train.get(u)]
    rng = np.random.default_rng(args.seed)
    if args.eval_users and len(test_users) > args.eval_users:
        picked = sorted(rng.choice(len(test_users), args.eval_users, replace=False))
        test_users = [test_users[i] for i in picked]
    histories = [[x.item for x in split.history(u, "test")] for u in test_users]
    targets = [split.test[u].item for u in test_users]

    models, fit_seconds = fit_models(split, args, name)

    rows = []
    for label, model in models.items():
        started = time.perf_counter()
        top = harness.items_of(recommend_all(model, histories, 10))
        seconds = time.perf_counter() - started
        rows.append(
            {
                "recommender": label,
                **harness.top10_metrics(top, targets),
                "users_per_s": len(top) / seconds,
                **look_alike(top, len(items), distance, ranks),
                "fit_s": fit_seconds[label],
                "weight": getattr(model, "weight", None),
            }
        )
        print(json.dumps(rows[-1]), flush=True)

    curve = []
    best = max(
        (r for r in rows if r["recommender"].startswith("hybrid")), key=lambda r: r["NDCG@10"]
    )
    chosen = models[best["recommender"]]
    wide = recommend_all(chosen, histories, args.candidates)
    for diversity in DIVERSITY:
        top = [[x.item for x in mmr_rerank(r, similarity, 10, diversity)] for r in wide]
        curve.append(
            {
                "diversity": diversity,
                "NDCG@10": harness.top10_metrics(top, targets)["NDCG@10"],
                **look_alike(top, len(items), distance, ranks),
            }
        )
    return {
        "data": split.name,
        "describe": split.describe(),
        "eval_users": len(test_users),
        "rows": rows,
        "mmr_on": best["recommender"],
        "mmr": curve,
    }


def to_markdown(result: dict) -> str:
    lines = [
        "# Retrieval vs language model vs hybrid, with look-alike measures",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}; wall time {result['wall_seconds']:.0f} s.  ",
        "Protocol: leave-one-out, test stage, all items ranked, history excluded, top-10; "
        "a seeded sample of test users. Coverage = share of the catalogue in any list; ILD = "
        "mean pairwise (1 - cosine) of item-name TF-IDF vectors; popularity rank = mean "
        "training-popularity rank of recommended items (1 = most popular). The hybrid's "
        "retriever proposes 50 candidates, the LM scores them in one pass, the fusion weight "
        "(LM share) is tuned on validation NDCG@10.",
    ]
    for ds in result["datasets"]:
        lines += [
            "",
            f"## {ds['data']} ({ds['eval_users']} test users)",
            "",
            ds["describe"],
            "",
            "| recommender | NDCG@10 | HR@10 | users/s | coverage | ILD | popularity rank "
            "| fit s | LM weight |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in ds["rows"]:
            weight = "-" if r["weight"] is None else f"{r['weight']:.1f}"
            lines.append(
                f"| {r['recommender']} | {r['NDCG@10']:.4f} | {r['HR@10']:.4f} "
                f"| {r['users_per_s']:.0f} | {r['coverage']:.3f} | {r['ILD']:.3f} "
                f"| {r['popularity_rank']:.0f} | {r['fit_s']:.0f} | {weight} |"
            )
        lines += [
            "",
            f"MMR re-ranking of {ds['mmr_on']}'s 50 candidates (diversity 0 = its own order):",
            "",
            "| diversity | NDCG@10 | ILD | coverage | popularity rank |",
            "|---:|---:|---:|---:|---:|",
        ]
        for c in ds["mmr"]:
            lines.append(
                f"| {c['diversity']:.1f} | {c['NDCG@10']:.4f} | {c['ILD']:.3f} "
                f"| {c['coverage']:.3f} | {c['popularity_rank']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(result["datasets"]), figsize=(5 * len(result["datasets"]), 4))
    axes = np.atleast_1d(axes)
    for ax, ds in zip(axes, result["datasets"], strict=True):
        xs = [c["ILD"] for c in ds["mmr"]]
        ys = [c["NDCG@10"] for c in ds["mmr"]]
        ax.plot(xs, ys, marker="o", label=f"MMR on {ds['mmr_on']}")
        for c in ds["mmr"]:
            ax.annotate(f"{c['diversity']:.1f}", (c["ILD"], c["NDCG@10"]), fontsize=7)
        for r in ds["rows"]:
            ax.scatter([r["ILD"]], [r["NDCG@10"]], marker="x")
            ax.annotate(r["recommender"].split(" (")[0], (r["ILD"], r["NDCG@10"]), fontsize=7)
        ax.set_xlabel("intra-list diversity (1 - TF-IDF cosine)")
        ax.set_ylabel("NDCG@10")
        ax.set_title(ds["data"])
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    harness.add_common_options(p, STUDY, quick="ML-100K only, 200 test users, 1 LM epoch")
    p.add_argument("--datasets", default="ml100k,beauty")
    p.add_argument("--users-ml", type=int, default=0, help="subsample ML-100K users (0 = all)")
    p.add_argument("--users-other", type=int, default=5000, help="subsample Amazon users")
    p.add_argument("--eval-users", type=int, default=500)
    p.add_argument("--candidates", type=int, default=50)
    harness.add_lm_options(
        p,
        exposed=("model", "epochs", "lr", "max_targets_per_user"),
        flags={"model": "--lm-model", "epochs": "--lm-epochs"},
        max_targets_per_user=10,
        patience=2,
        valid_users=300,
    )
    args = p.parse_args(argv)
    if args.quick:
        args.datasets, args.eval_users, args.epochs = "ml100k", 200, 1
    harness.setup(args)
    started = time.perf_counter()
    datasets = [run_dataset(name, args) for name in args.datasets.split(",")]
    result = {
        "command": harness.command_line(STUDY, argv),
        "machine": harness.machine(),
        "wall_seconds": time.perf_counter() - started,
        "datasets": datasets,
    }
    harness.write_results(args.out, harness.stem(args), result, to_markdown(result), plot)


if __name__ == "__main__":
    main()

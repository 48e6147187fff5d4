"""The cold-start part: 10 % of the items held out of training entirely, per seed, and three ways
to still recommend them. The split and the neighbour routes are :mod:`benchmarks.coldstart`'s."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from statistics import fmean

from benchmarks import harness
from benchmarks.coldstart import HELD_OUT, by_score, cold_split, neighbour_popularity
from benchmarks.knowledge.models import cold_config, fit_lm, timed_fit
from lmrec.data.schema import Dataset
from lmrec.data.split import Split
from lmrec.recommenders.coldstart import ColdStartRecommender
from lmrec.text.additions import has_text

TEXT_ROUTE = "cold-lm-"  # + a text representation: cold-lm-ids+text, cold-lm-text
NEIGHBOURS = "cold-neighbours"
NEIGHBOUR_POPULARITY = "cold-neighbour-popularity"
PROTOCOL = (
    f"Cold start (benchmarks.coldstart.cold_split): per seed, {HELD_OUT:.0%} of the items that "
    "occur in the log (a seeded sample) are held out of training entirely: their events are "
    "removed from every training history (and from validation) and they are not in the "
    "trained model's catalogue. Leave-one-out on the full log: each user's last event is the "
    "test target, every earlier event its history (held-out items included), users with at "
    "least three events. Scored: the test events whose target is a held-out item; all items "
    "(known and held-out) ranked, the history excluded (as in benchmarks/coldstart.py). "
    "Routes: 'LM <repr> + add_items', the recommended LM trained with item text on the known "
    "items, then LMRecommender.add_items gives each held-out item its own vector from its text; "
    "'LM ids + neighbours', today's route: the recommended LM on ids "
    "(ColdStartRecommender), each held-out item scored by its content neighbours' LM "
    "probabilities; 'neighbour popularity', a held-out item gets the similarity-weighted "
    "training count of its content neighbours, known items their own count. A held-out item "
    "without text (one Beauty item has no name) cannot be added to the text route: a miss "
    "there ('held_out_without_text')."
)


def route_names(representations: list[str]) -> dict[str, str]:
    """Each cold-start route by ``--models`` name: its label."""
    routes = {f"{TEXT_ROUTE}{r}": f"LM {r} + add_items" for r in representations}
    return routes | {
        NEIGHBOURS: "LM ids + neighbours",
        NEIGHBOUR_POPULARITY: "neighbour popularity",
    }


def row_key(seed: int, route: str) -> str:
    return f"cold-start seed {seed}: {route}"


def route_ranker(
    route: str, args: argparse.Namespace, dataset: Dataset, split: Split, cold: set[str], seed: int
) -> Callable[[list[list[str]]], list[list[str]]]:
    """A function from test histories to top-10 item lists, fitted for ``route``."""
    key = row_key(seed, route)
    new = [dataset.catalog[i] for i in sorted(cold)]
    if route == NEIGHBOUR_POPULARITY:
        return by_score(neighbour_popularity(dataset.catalog, split, cold, cold_config(args)), seed)
    if route == NEIGHBOURS:
        rec = ColdStartRecommender(fit_lm(args, "ids", split, key), cold_config(args)).add_items(
            new
        )
    else:  # an item without text cannot be added: it stays a miss for this route
        template = cold_config(args).item_text.template
        new = [item for item in new if has_text(item, template)]
        rec = fit_lm(args, route.removeprefix(TEXT_ROUTE), split, key).add_items(new)
    return lambda histories: harness.items_of(rec.recommend(histories, k=10))


def cold_scores(ranked: list[list[str]], hits: list[tuple[list[str], str]]) -> dict:
    """HR@10, NDCG@10 and the number of hits of top-10 lists on held-out (history, target)
    cases."""
    scores = harness.top10_metrics(ranked, [t for _, t in hits])
    return scores | {"hits": sum(t in r for r, (_, t) in zip(ranked, hits, strict=True))}


def cold_row(route: str, label: str, args: argparse.Namespace, dataset: Dataset, seed: int) -> dict:
    """One route on one seed's held-out items."""
    split, cold, cases = cold_split(dataset, seed)
    template = cold_config(args).item_text.template
    hits = [(h, t) for h, t in cases if t in cold]
    rank, fit_seconds = timed_fit(lambda: route_ranker(route, args, dataset, split, cold, seed))
    ranked = rank([h for h, _ in hits]) if hits else []
    return {
        "recommender": label,
        "route": route,
        "seed": seed,
        **cold_scores(ranked, hits),
        "held_out_items": len(cold),
        "held_out_without_text": sum(not has_text(dataset.catalog[i], template) for i in cold),
        "cold_test_events": len(hits),
        "test_events": len(cases),
        "fit_seconds": fit_seconds,
    }


def means(rows: list[dict], seeds: list[int], routes: dict[str, str]) -> list[dict]:
    """Per route with every seed done: mean HR@10, NDCG@10 and hits over the seeds."""
    out = []
    for route, label in routes.items():
        done = [r for r in rows if r["route"] == route]
        if len(done) == len(seeds):
            out.append(
                {
                    "recommender": label,
                    "route": route,
                    "seeds": len(done),
                    **{m: fmean(r[m] for r in done) for m in ("HR@10", "NDCG@10", "hits")},
                }
            )
    return out

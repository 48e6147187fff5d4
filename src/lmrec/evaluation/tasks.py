"""Evaluate the P5 task families beside their baselines: one :class:`TaskReport` per task,
rows for seen and unseen prompts kept apart, every table stating its data and protocol.

Seen prompts: each case gets one of the family's training templates at random (seeded);
unseen prompts: the held-out template(s). Sequential uses the first seen template.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from lmrec.baselines.mf import BiasedMF, MeanRating
from lmrec.baselines.popularity import PopularityRecommender
from lmrec.data.random_split import InteractionSplit
from lmrec.data.split import Split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.metrics.ranking import ranking_metrics
from lmrec.metrics.rating import accuracy, mae, rmse, roc_auc
from lmrec.metrics.text import text_metrics
from lmrec.recommenders.lm import LMRecommender
from lmrec.tasks import PromptConfig, TaskData
from lmrec.tasks.direct import CHOICE_FAMILY, YESNO_FAMILY, sample_negatives
from lmrec.tasks.explanation import FAMILY as EXPLANATION_FAMILY
from lmrec.tasks.explanation import explanation_targets, retrieval_explanation
from lmrec.tasks.rating import FAMILY as RATING_FAMILY
from lmrec.tasks.review import RATING_FAMILY as REVIEW_RATING_FAMILY
from lmrec.tasks.review import SUMMARY_FAMILY, lead_sentence

__all__ = ["TaskReport", "evaluate_tasks"]

PROMPT_SETS = ("seen", "unseen")
T = TypeVar("T")


@dataclass
class TaskReport:
    """One task's table: a row per system (and prompt set), under its data and protocol."""

    task: str
    data: str
    protocol: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, system: str, prompts: str, n: int, metrics: dict[str, float]) -> None:
        self.rows.append({"system": system, "prompts": prompts, "n": n, **metrics})

    def format_markdown(self) -> str:
        names = list(
            dict.fromkeys(k for r in self.rows for k in r if k not in ("system", "prompts", "n"))
        )
        lines = [
            f"**{self.task}** — data: {self.data}. Protocol: {self.protocol}.",
            "",
            "| system | prompts | " + " | ".join(names) + " | n |",
            "|---|---|" + "---:|" * (len(names) + 1),
        ]
        for r in self.rows:
            cells = [f"{r[k]:.4f}" if k in r else "-" for k in names]
            lines.append(
                f"| {r['system']} | {r['prompts']} | " + " | ".join(cells) + f" | {r['n']} |"
            )
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _templates(model: LMRecommender, family: str, prompts: str, n: int, seed: int) -> list[str]:
    pool = model.templates.select(family, model.config.prompts.language, unseen=prompts == "unseen")
    rng = random.Random(f"{seed}/{family}/{prompts}")
    return [rng.choice(pool).id for _ in range(n)]


def _per_prompt_set(
    model: LMRecommender, family: str, seed: int, task: Callable[..., T], *columns: Sequence[Any]
) -> Iterator[tuple[str, T]]:
    """``(prompts, task(*columns, templates))`` for the seen, then the unseen prompt set: one
    template per case, drawn from the family's templates of that set."""
    n = len(columns[0])
    for prompts in PROMPT_SETS:
        yield prompts, task(*columns, _templates(model, family, prompts, n, seed))


def _sample(rows: list, max_cases: int, seed: int) -> list:
    return random.Random(seed).sample(rows, max_cases) if 0 < max_cases < len(rows) else rows


def _rating_metrics(predicted: Sequence[float], actual: Sequence[float]) -> dict[str, float]:
    return {"RMSE": rmse(predicted, actual), "MAE": mae(predicted, actual)}


def _add_lm_ratings(
    report: TaskReport, prompts: str, answers: Sequence[Any], truth: Sequence[float]
) -> None:
    """The LM's two rows for rating answers: the decoded 1-5 value and the expectation."""
    for system, predicted in (
        ("LM, decoding 1-5", [a.rating for a in answers]),
        ("LM, expectation", [a.expected for a in answers]),
    ):
        report.add(system, prompts, len(truth), _rating_metrics(predicted, truth))


def evaluate_rating(
    model: LMRecommender | None, isplit: InteractionSplit, max_cases: int = 0, seed: int = 0
) -> TaskReport:
    """RMSE/MAE on rated test interactions: the LM (restricted decoding and expectation) and
    the global/user/item mean and biased MF fitted on the same training interactions."""
    cases = [x for x in isplit.test if x.rating is not None]
    if model is not None:
        cases = [x for x in cases if x.item in model.index]
    cases = _sample(cases, max_cases, seed)
    report = TaskReport(
        "rating", isplit.name, f"{isplit.describe()}; {len(cases)} rated test interactions"
    )
    if not cases:
        return report
    users, items = [x.user for x in cases], [x.item for x in cases]
    truth = [x.rating for x in cases]
    if model is not None:
        for prompts, answers in _per_prompt_set(
            model, RATING_FAMILY, seed, model.rate, users, items
        ):
            _add_lm_ratings(report, prompts, answers, truth)
    for baseline in (BiasedMF(), MeanRating("user"), MeanRating("item"), MeanRating("global")):
        predicted = baseline.fit(isplit.train).predict(users, items)
        report.add(baseline.name, "-", len(cases), _rating_metrics(predicted, truth))
    return report


def evaluate_explanation(
    model: LMRecommender | None,
    data: TaskData,
    isplit: InteractionSplit,
    max_cases: int = 0,
    seed: int = 0,
) -> TaskReport:
    """BLEU-4 / ROUGE of generated explanations against the test reviews' target sentences
    (feature word given to feature-hint prompts), beside the retrieval baseline."""
    cases = explanation_targets(isplit.test, data.aspects)
    if model is not None:
        cases = [t for t in cases if t.item in model.index]
    cases = _sample(cases, max_cases, seed)
    report = TaskReport(
        "explanation",
        isplit.name,
        f"{isplit.describe()}; targets: the test review sentence richest in the item's "
        f"training aspect words; {len(cases)} test reviews; greedy decoding",
    )
    if not cases:
        return report
    truth = [t.sentence for t in cases]
    if model is not None:
        columns = [t.user for t in cases], [t.item for t in cases], [t.feature for t in cases]
        for prompts, texts in _per_prompt_set(
            model, EXPLANATION_FAMILY, seed, model.explain, *columns
        ):
            report.add("LM", prompts, len(cases), text_metrics(texts, truth))
    by_item: dict[str, list] = {}
    for t in data.explanations:
        by_item.setdefault(t.item, []).append(t)
    retrieved = [retrieval_explanation(t.item, t.feature, by_item) for t in cases]
    report.add(
        "retrieval (item's training sentence)", "-", len(cases), text_metrics(retrieved, truth)
    )
    return report


def evaluate_review(
    model: LMRecommender | None, isplit: InteractionSplit, max_cases: int = 0, seed: int = 0
) -> list[TaskReport]:
    """Review -> summary (ROUGE, vs the lead sentence) and review -> rating (RMSE/MAE)."""
    reviewed = _sample([x for x in isplit.test if x.review], max_cases, seed)
    summ = [x for x in reviewed if x.summary]
    rated = [x for x in reviewed if x.rating is not None]
    base = f"{isplit.describe()}; review text cut to the first words"
    summary = TaskReport(
        "review summarization", isplit.name, f"{base}; {len(summ)} test reviews; greedy decoding"
    )
    rating = TaskReport("review rating", isplit.name, f"{base}; {len(rated)} test reviews")
    if summ:
        truth = [x.summary for x in summ]
        if model is not None:
            columns = [x.review for x in summ], [x.user for x in summ]
            for prompts, texts in _per_prompt_set(
                model, SUMMARY_FAMILY, seed, model.summarize, *columns
            ):
                summary.add("LM", prompts, len(summ), text_metrics(texts, truth))
        summary.add(
            "lead sentence",
            "-",
            len(summ),
            text_metrics([lead_sentence(x.review) for x in summ], truth),
        )
    if rated:
        truth = [x.rating for x in rated]
        if model is not None:
            for prompts, answers in _per_prompt_set(
                model, REVIEW_RATING_FAMILY, seed, model.rate_review, [x.review for x in rated]
            ):
                _add_lm_ratings(rating, prompts, answers, truth)
        mean = MeanRating("global").fit(isplit.train)
        rating.add(
            "global mean",
            "-",
            len(rated),
            _rating_metrics(mean.predict([x.user for x in rated], [x.item for x in rated]), truth),
        )
    return [summary, rating]


def _ranking(candidates: Sequence[str], scores: Sequence[float]) -> list[str]:
    order = sorted(range(len(candidates)), key=lambda j: -scores[j])  # stable: ties keep order
    return [candidates[j] for j in order]


def evaluate_direct(
    model: LMRecommender | None,
    split: Split,
    n_candidates: int = 100,
    max_users: int = 0,
    seed: int = 0,
) -> list[TaskReport]:
    """Direct recommendation on the leave-one-out test targets, sampled protocol: the target
    and ``n_candidates - 1`` items not in the user's history, shuffled, ranked by the model's
    likelihood (and by training popularity); plus yes/no on the target and one negative."""
    items = model.index.items if model is not None else list(split.catalog)
    known = set(items)
    users = [u for u, x in split.test.items() if x.item in known]
    users = _sample(users, max_users, seed)
    rng = random.Random(seed)
    candidates, negatives = [], []
    for u in users:
        history = {x.item for x in split.history(u, "test")} | {split.test[u].item}
        sampled = sample_negatives(items, history, n_candidates - 1, rng)
        row = [split.test[u].item, *sampled]
        rng.shuffle(row)
        candidates.append(row)
        negatives.append(sampled[0])
    targets = [split.test[u].item for u in users]
    shortest = min((len(c) for c in candidates), default=n_candidates)
    short = (
        f" (at least {shortest - 1} where the catalogue runs short)"
        if shortest < n_candidates
        else ""
    )
    protocol = (
        f"SAMPLED protocol, not comparable with all-item numbers: leave-one-out test item + "
        f"{n_candidates - 1} sampled items not in the user's history{short}; {len(users)} users"
    )
    choice = TaskReport("direct recommendation (choose 1 of candidates)", split.name, protocol)
    yesno = TaskReport(
        "direct recommendation (yes/no)",
        split.name,
        f"leave-one-out test item (yes) and one sampled unseen item (no) per user; "
        f"{len(users)} users",
    )
    if not users:
        return [choice, yesno]
    ks = (1, 5, 10)
    wanted = ("HR@1", "HR@5", "HR@10", "NDCG@5", "NDCG@10")

    def add_ranking(system: str, prompts: str, scores: list[list[float]]) -> None:
        rankings = [_ranking(c, s) for c, s in zip(candidates, scores, strict=True)]
        metrics = ranking_metrics(rankings, targets, ks=ks)
        choice.add(system, prompts, len(users), {k: metrics[k] for k in wanted})

    popularity = Counter(x.item for events in split.train.values() for x in events)
    if model is not None:
        for prompts, scores in _per_prompt_set(
            model, CHOICE_FAMILY, seed, model.choose, users, candidates
        ):
            add_ranking("LM", prompts, scores)
    add_ranking("popularity", "-", [[popularity[i] for i in c] for c in candidates])
    pairs_u = users + users
    pairs_i = targets + negatives
    labels = [True] * len(users) + [False] * len(users)
    if model is not None:
        for prompts, p in _per_prompt_set(model, YESNO_FAMILY, seed, model.like, pairs_u, pairs_i):
            yesno.add(
                "LM",
                prompts,
                len(pairs_u),
                {"accuracy": accuracy([v > 0.5 for v in p], labels), "AUC": roc_auc(p, labels)},
            )
    pop = [float(popularity[i]) for i in pairs_i]
    yesno.add("popularity", "-", len(pairs_u), {"AUC": roc_auc(pop, labels)})
    return [choice, yesno]


def evaluate_sequential(
    model: LMRecommender | None, split: Split, max_users: int = 0, seed: int = 0
) -> TaskReport:
    """Leave-one-out all-item ranking (the existing protocol), seen and unseen templates."""
    report = TaskReport("sequential", split.name, "")
    runs = []
    if model is not None:
        lang = model.config.prompts.language
        seen = model.templates.select("sequential", lang, unseen=False)[0]
        unseen = model.templates.select("sequential", lang, unseen=True)[0]
        runs += [
            ("LM", "seen", model.with_config(template=seen.id)),
            ("LM", "unseen", model.with_config(template=unseen.id)),
        ]
    runs.append(("popularity", "-", PopularityRecommender().fit(split)))
    for system, prompts, rec in runs:
        r = evaluate_ranking(
            rec, split, ks=(5, 10), max_users=max_users or None, seed=seed, progress=False
        )
        report.protocol = r.protocol
        report.add(system, prompts, r.n_users, {k: v for k, v in r.metrics.items() if k != "MRR"})
    return report


def evaluate_tasks(
    model: LMRecommender | None,
    split: Split,
    isplit: InteractionSplit,
    tasks: Sequence[str],
    max_cases: int = 0,
    seed: int = 0,
    n_candidates: int = 100,
) -> list[TaskReport]:
    """Every report of ``tasks`` (names as in ``lmrec.tasks.TASKS``). ``max_cases`` caps the
    test cases (users for sequential/direct) of each task; ``n_candidates`` is the sampled
    direct protocol's list size (1 true + the rest sampled; P5 uses 100)."""
    data = TaskData.build(split, isplit, PromptConfig())
    run = {
        "sequential": lambda: [evaluate_sequential(model, split, max_cases, seed)],
        "rating": lambda: [evaluate_rating(model, isplit, max_cases, seed)],
        "explanation": lambda: [evaluate_explanation(model, data, isplit, max_cases, seed)],
        "review": lambda: evaluate_review(model, isplit, max_cases, seed),
        "direct": lambda: evaluate_direct(model, split, n_candidates, max_cases, seed),
    }
    unknown = [t for t in tasks if t not in run]
    if unknown:
        raise ValueError(f"unknown task(s) {unknown} (known: {', '.join(run)})")
    return [report for task in tasks for report in run[task]()]

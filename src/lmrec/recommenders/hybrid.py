"""Two-stage recommendation: a collaborative retriever proposes candidates, the language model
scores every candidate's id in one batched pass (no beam search), and a tunable weight fuses
the two scores.

Scores of the two stages live on different scales (a similarity sum, a log-likelihood), so
each is standardised per user over the candidate list before mixing:
``fused = weight * z(lm) + (1 - weight) * z(retrieval)``. ``weight = 0`` is the retriever
alone, ``weight = 1`` the language model re-ranking the retriever's candidates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np

from lmrec.config import from_dict
from lmrec.data.split import Split
from lmrec.metrics.ranking import ndcg_at_k
from lmrec.recommenders.base import Recommender, Scored
from lmrec.recommenders.registry import name_of, recommender_class

HYBRID_FILE = "hybrid.json"


@dataclass(frozen=True)
class HybridConfig:
    """candidates: how many items the retriever proposes per user (N).
    weight: share of the language model's standardised score in the fused score; None means
        tune it on validation users when fitting (over ``weight_grid``).
    weight_grid: weights tried when tuning.
    tune_users: validation users used for tuning (seeded sample; 0 = all).
    seed: seed of that sample.
    """

    candidates: int = 50
    weight: float | None = None
    weight_grid: tuple[float, ...] = (0.0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0)
    tune_users: int = 300
    seed: int = 0


def _standardise(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)


def fuse(
    candidates: Sequence[Sequence[str]],
    retrieval: Sequence[Sequence[float]],
    lm_scores: Sequence[Sequence[float]],
    weight: float,
    k: int,
) -> list[list[Scored]]:
    """Each candidate list's top ``k`` by ``weight * z(lm) + (1 - weight) * z(retrieval)``,
    both scores standardised over the list; equal fused scores keep the list's order."""
    results = []
    for items, r, m in zip(candidates, retrieval, lm_scores, strict=True):
        if not items:
            results.append([])
            continue
        r_, m_ = np.asarray(r, dtype=float), np.asarray(m, dtype=float)
        fused = weight * _standardise(m_) + (1 - weight) * _standardise(r_)
        order = np.argsort(-fused, kind="stable")[:k]
        results.append([Scored(items[i], float(fused[i])) for i in order])
    return results


class HybridRecommender(Recommender):
    """Retriever candidates re-ranked by a fused retriever + language-model score.

    ``retriever`` is any fitted :class:`Recommender` (ALS, item-kNN, ...); ``lm`` a fitted
    recommender with a ``score(histories, candidates)`` method, such as
    :class:`lmrec.recommenders.lm.LMRecommender`. ``fit`` only tunes the fusion weight: both stages
    must
    already be trained on the same split.
    """

    name = "hybrid"

    def __init__(self, retriever: Recommender, lm, config: HybridConfig | None = None):
        self.retriever = retriever
        self.lm = lm
        self.config = config or HybridConfig()
        self.weight = self.config.weight
        self.tuning: dict[float, float] = {}

    def _stages(
        self, histories: Sequence[Sequence[str]], exclude_seen: bool
    ) -> tuple[list[list[str]], list[np.ndarray], list[np.ndarray]]:
        proposed = self.retriever.recommend(
            histories, k=self.config.candidates, exclude_seen=exclude_seen
        )
        candidates = [[s.item for s in row] for row in proposed]
        retrieval = [np.array([s.score for s in row], dtype=float) for row in proposed]
        lm_scores = [np.array(row, dtype=float) for row in self.lm.score(histories, candidates)]
        return candidates, retrieval, lm_scores

    def fit(self, split: Split) -> Self:
        """Choose the fusion weight that maximises validation NDCG@10 (unless one is set)."""
        if self.config.weight is not None:
            self.weight = self.config.weight
            return self
        users = [u for u in split.valid if split.train.get(u)]
        if self.config.tune_users and len(users) > self.config.tune_users:
            rng = np.random.default_rng(self.config.seed)
            users = [
                users[i]
                for i in sorted(rng.choice(len(users), self.config.tune_users, replace=False))
            ]
        if not users:
            self.weight = 0.5
            return self
        histories = [split.train_items(u) for u in users]
        stages = self._stages(histories, exclude_seen=True)
        for weight in self.config.weight_grid:
            ranked = fuse(*stages, weight=weight, k=10)
            self.tuning[weight] = float(
                np.mean(
                    [
                        ndcg_at_k([s.item for s in row], split.valid[u].item, 10)
                        for u, row in zip(users, ranked, strict=True)
                    ]
                )
            )
        self.weight = max(self.tuning, key=lambda w: (self.tuning[w], -abs(w - 0.5)))
        return self

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]:
        """Top-k of the retriever's candidates by fused score; never an item outside them."""
        if k < 1:
            raise ValueError("k must be at least 1")
        if self.weight is None:
            raise RuntimeError("the hybrid's fusion weight is not set: call fit(split) first")
        return fuse(*self._stages(histories, exclude_seen), weight=self.weight, k=k)

    def save(self, path: str | Path) -> None:
        """One directory: the fusion settings plus both stages in ``retriever/`` and ``lm/``."""
        out = Path(path)
        out.mkdir(parents=True, exist_ok=True)
        try:
            kind = name_of(self.retriever)
        except TypeError:
            raise TypeError(
                f"cannot save a hybrid with a {type(self.retriever).__name__} stage"
            ) from None
        self.retriever.save(out / "retriever")
        self.lm.save(out / "lm")
        payload = {
            "config": asdict(self.config),
            "weight": self.weight,
            "retriever": kind,
            "tuning": {str(w): v for w, v in self.tuning.items()},
        }
        (out / HYBRID_FILE).write_text(json.dumps(payload, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        from lmrec.recommenders.lm import LMRecommender

        src = Path(path)
        payload = json.loads((src / HYBRID_FILE).read_text())
        # Files saved before the registry name the item-kNN stage "itemknn": an alias of it.
        retriever = recommender_class(payload["retriever"]).load(src / "retriever")
        hybrid = cls(
            retriever, LMRecommender.load(src / "lm"), from_dict(HybridConfig, payload["config"])
        )
        hybrid.weight = payload["weight"]
        hybrid.tuning = {float(w): v for w, v in payload["tuning"].items()}
        return hybrid

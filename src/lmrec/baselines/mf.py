"""Rating-prediction baselines: global / user / item means and biased matrix factorisation
(Koren et al. 2009: ``r = mu + b_u + b_i + p_u . q_i``), trained with minibatch Adam and L2.
Unknown users or items fall back to the parts that are known."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from lmrec.data.schema import Interaction

__all__ = ["BiasedMF", "MFConfig", "MeanRating"]


def _clip(values: Sequence[float]) -> list[float]:
    return [min(5.0, max(1.0, float(v))) for v in values]


class MeanRating:
    """Predicts the global, the user's or the item's mean training rating (``by``)."""

    def __init__(self, by: str = "global"):
        if by not in ("global", "user", "item"):
            raise ValueError(f"by must be global, user or item, not {by!r}")
        self.by = by
        self.name = f"{by} mean"
        self.mean = 0.0
        self.means: dict[str, float] = {}

    def fit(self, rows: Sequence[Interaction]) -> MeanRating:
        rated = [x for x in rows if x.rating is not None]
        if not rated:
            raise ValueError("no rated interactions to fit on")
        self.mean = sum(x.rating for x in rated) / len(rated)
        if self.by != "global":
            sums: dict[str, list[float]] = {}
            for x in rated:
                key = x.user if self.by == "user" else x.item
                sums.setdefault(key, []).append(x.rating)
            self.means = {k: sum(v) / len(v) for k, v in sums.items()}
        return self

    def predict(self, users: Sequence[str], items: Sequence[str]) -> list[float]:
        keys = users if self.by == "user" else items
        return [self.means.get(k, self.mean) for k in keys]


@dataclass(frozen=True)
class MFConfig:
    """factors: latent dimensions; l2: weight decay on factors and biases; epochs: passes;
    lr: Adam learning rate; batch_size: ratings per step; seed: initialisation and order."""

    factors: int = 32
    l2: float = 0.1
    epochs: int = 20
    lr: float = 0.01
    batch_size: int = 1024
    seed: int = 0


class BiasedMF:
    """Biased matrix factorisation for explicit ratings."""

    name = "biased MF"

    def __init__(self, config: MFConfig | None = None):
        self.config = config or MFConfig()
        self.users: dict[str, int] = {}
        self.items: dict[str, int] = {}
        self.mean = 0.0

    def fit(self, rows: Sequence[Interaction]) -> BiasedMF:
        cfg = self.config
        rated = [x for x in rows if x.rating is not None]
        if not rated:
            raise ValueError("no rated interactions to fit on")
        self.users = {u: n for n, u in enumerate(dict.fromkeys(x.user for x in rated))}
        self.items = {i: n for n, i in enumerate(dict.fromkeys(x.item for x in rated))}
        u = torch.tensor([self.users[x.user] for x in rated])
        i = torch.tensor([self.items[x.item] for x in rated])
        r = torch.tensor([x.rating for x in rated], dtype=torch.float)
        self.mean = float(r.mean())
        gen = torch.Generator().manual_seed(cfg.seed)
        self.p = torch.nn.Parameter(0.01 * torch.randn(len(self.users), cfg.factors, generator=gen))
        self.q = torch.nn.Parameter(0.01 * torch.randn(len(self.items), cfg.factors, generator=gen))
        self.bu = torch.nn.Parameter(torch.zeros(len(self.users)))
        self.bi = torch.nn.Parameter(torch.zeros(len(self.items)))
        params = [self.p, self.q, self.bu, self.bi]
        optimizer = torch.optim.Adam(params, lr=cfg.lr)
        for _ in range(cfg.epochs):
            order = torch.randperm(len(r), generator=gen)
            for start in range(0, len(r), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                bu, bi = u[idx], i[idx]
                pred = self.mean + self.bu[bu] + self.bi[bi] + (self.p[bu] * self.q[bi]).sum(-1)
                reg = (self.p[bu] ** 2).sum(-1) + (self.q[bi] ** 2).sum(-1)
                reg = reg + self.bu[bu] ** 2 + self.bi[bi] ** 2
                loss = ((pred - r[idx]) ** 2 + cfg.l2 * reg).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return self

    @torch.no_grad()
    def predict(self, users: Sequence[str], items: Sequence[str]) -> list[float]:
        """Predicted ratings, clipped to 1..5."""
        out = []
        for user, item in zip(users, items, strict=True):
            value = self.mean
            un, it = self.users.get(user), self.items.get(item)
            if un is not None:
                value += float(self.bu[un])
            if it is not None:
                value += float(self.bi[it])
            if un is not None and it is not None:
                value += float(self.p[un] @ self.q[it])
            out.append(value)
        return _clip(out)

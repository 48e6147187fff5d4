"""Implicit-feedback matrix factorisation by alternating least squares (Hu, Koren & Volinsky,
2008), fitted with the ``implicit`` library."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import scipy.sparse as sp

from lmrec.baselines.popularity import FittedItems
from lmrec.data.split import Split
from lmrec.recommenders.base import Recommender, Scored

__all__ = ["ALSRecommender"]


class ALSRecommender(FittedItems, Recommender):
    """Weighted matrix factorisation of the user x item training matrix (implicit feedback).

    Fitting runs ``implicit.cpu.als.AlternatingLeastSquares`` on the matrix of training events
    (1 per user-item pair with ``binary``, else the event count ``r``). As in ``implicit``, an
    observed pair has confidence ``c = alpha * r`` and preference 1, every other pair
    confidence 1 and preference 0; item factors ``Y`` minimise the weighted squared error plus
    ``regularization`` times the squared norms. Only the item factors are kept.

    ``recommend`` computes the factor of each history's user itself, by the exact ALS user step
    (the same solution as ``implicit``'s ``recalculate_user``, in float64)::

        x = (Y'Y + regularization * I + sum_i (c_i - 1) y_i y_i')^-1  sum_i c_i y_i

    over the history's catalogue items ``i`` (unknown items are ignored), so any history, a new
    user's included, is scored ``x . y`` without refitting. Items with no training event come
    after all others (their factors carry no information), and equal scores (e.g. an empty
    history, where ``x = 0``) are broken by training popularity, so ``k`` items are returned
    whenever the catalogue has them.
    """

    name = "als"

    def __init__(
        self,
        *,
        factors: int = 64,
        regularization: float = 0.01,
        alpha: float = 1.0,
        iterations: int = 15,
        binary: bool = True,
        use_cg: bool = False,
        seed: int = 0,
        threads: int | None = None,
        progress: bool = False,
    ) -> None:
        """Configure the model.

        Args:
            factors: latent dimensions.
            regularization: L2 penalty on the factors.
            alpha: confidence of an observed event (``implicit`` scales the matrix by it).
            iterations: ALS sweeps (each solves all users, then all items).
            binary: count a user-item pair once; ``False`` uses the number of events.
            use_cg: fit with ``implicit``'s conjugate-gradient solver (faster, approximate)
                instead of the exact Cholesky one.
            seed: seeds the random initial factors.
            threads: ``implicit``'s fitting threads; ``None`` uses every core.
            progress: show ``implicit``'s progress bar.
        """
        for name, value in (("factors", factors), ("iterations", iterations)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if regularization < 0:
            raise ValueError(f"regularization must be >= 0, got {regularization!r}")
        if alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {alpha!r}")
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads!r}")
        self.factors = factors
        self.regularization = float(regularization)
        self.alpha = float(alpha)
        self.iterations = iterations
        self.binary = binary
        self.use_cg = use_cg
        self.seed = seed
        self.threads = threads
        self.progress = progress
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._item_factors = np.zeros((0, factors), dtype=np.float64)
        self._gram = np.zeros((factors, factors), dtype=np.float64)
        self._counts = np.zeros(0, dtype=np.float64)
        self._order = np.zeros(0, dtype=np.int64)
        self._popularity_rank = np.zeros(0, dtype=np.int64)
        self._fitted = False

    def fit(self, split: Split) -> Self:
        """Factorise the training matrix of ``split.train``."""
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        self._set_items(split.catalog)
        items = self._items
        user_items = _interaction_matrix(
            [[x.item for x in events] for events in split.train.values()],
            self._index,
            self.binary,
        )
        # implicit parallelises over users itself; a threaded BLAS underneath only slows it.
        with threadpool_limits(limits=1, user_api="blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=self.alpha,
                iterations=self.iterations,
                use_cg=self.use_cg,
                num_threads=self.threads or 0,
                random_state=self.seed,
            )
            model.fit(user_items, show_progress=self.progress)
        self._set_item_factors(np.asarray(model.item_factors, dtype=np.float64))
        self._fit_items(split, items)
        return self

    def user_factors(self, histories: Sequence[Sequence[str]]) -> np.ndarray:
        """The ALS user factor of each history, ``(len(histories), factors)``, by exact solve."""
        from threadpoolctl import threadpool_limits

        self._check_ready(1)
        matrix = _interaction_matrix(histories, self._index, self.binary)
        y = self._item_factors
        systems = np.broadcast_to(
            self._gram + self.regularization * np.eye(self.factors),
            (len(histories), self.factors, self.factors),
        ).copy()
        targets = np.zeros((len(histories), self.factors))
        for r in range(len(histories)):
            start, end = matrix.indptr[r], matrix.indptr[r + 1]
            known = y[matrix.indices[start:end]]
            confidence = self.alpha * matrix.data[start:end]
            if np.any(confidence != 1.0):
                systems[r] += (known.T * (confidence - 1.0)) @ known
            targets[r] = known.T @ confidence
        # Many tiny solves: a threaded BLAS only adds overhead (and stalls on a busy machine).
        with threadpool_limits(limits=1, user_api="blas"):
            return np.linalg.solve(systems, targets[:, :, None])[:, :, 0]

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]:
        """The ``k`` items with the highest ``x . y`` for each history, best first."""
        self._check_ready(k)
        scores = self.user_factors(histories) @ self._item_factors.T
        trained = self._counts > 0
        untrained_order = self._order[~trained[self._order]]
        results: list[list[Scored]] = []
        for row, history in zip(scores, histories, strict=True):
            seen = [i for i in map(self._index.get, history) if i is not None]
            allowed = trained.copy()
            if exclude_seen:
                allowed[seen] = False
            candidates = np.flatnonzero(allowed)
            if len(candidates) > k:
                # Keep everything tied with the k-th best, so ties are broken by popularity.
                kth_best = -np.partition(-row[candidates], k - 1)[k - 1]
                candidates = candidates[row[candidates] >= kth_best]
            order = np.lexsort((self._popularity_rank[candidates], -row[candidates]))
            recs = [Scored(self._items[i], float(row[i])) for i in candidates[order][:k]]
            if len(recs) < k:
                # Untrained items last, sharing the lowest score shown so scores never rise.
                floor = recs[-1].score if recs else 0.0
                excluded = set(seen) if exclude_seen else set()
                fill = [i for i in untrained_order.tolist() if i not in excluded]
                recs += [Scored(self._items[i], floor) for i in fill[: k - len(recs)]]
            results.append(recs)
        return results

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (settings, item ids) and ``arrays.npz`` (factors, counts)."""
        settings = {
            "factors": self.factors,
            "regularization": self.regularization,
            "alpha": self.alpha,
            "iterations": self.iterations,
            "binary": self.binary,
            "use_cg": self.use_cg,
            "seed": self.seed,
            "threads": self.threads,
        }
        self._write(path, settings, item_factors=self._item_factors)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save` (``implicit`` is not needed to recommend)."""
        model, arrays = cls._read(path)
        model._set_item_factors(arrays["item_factors"])
        return model

    def _set_item_factors(self, item_factors: np.ndarray) -> None:
        self._item_factors = item_factors
        self._gram = item_factors.T @ item_factors


def _interaction_matrix(
    histories: Sequence[Sequence[str]], index: dict[str, int], binary: bool
) -> sp.csr_matrix:
    """History x item matrix of event counts (1s with ``binary``); unknown items dropped."""
    rows: list[int] = []
    columns: list[int] = []
    for r, history in enumerate(histories):
        for i in map(index.get, history):
            if i is not None:
                rows.append(r)
                columns.append(i)
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows, columns)), shape=(len(histories), len(index))
    )
    matrix.sum_duplicates()
    if binary:
        matrix.data[:] = 1.0
    matrix.sort_indices()
    return matrix

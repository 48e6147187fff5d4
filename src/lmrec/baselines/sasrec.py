"""SASRec: a causal self-attention model of item sequences (Kang & McAuley, ICDM 2018), trained
with a full-softmax cross-entropy loss (Xu et al., 2024) or the original one-negative BCE."""

from __future__ import annotations

import copy
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, Self

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm

from lmrec.baselines.popularity import popularity_ranking
from lmrec.baselines.self_attention import PAD, SASRecNetwork
from lmrec.config.progress import show_progress
from lmrec.data.split import Split
from lmrec.metrics.ranking import check_k
from lmrec.recommenders.base import Recommender, Scored

__all__ = ["SASRecConfig", "SASRecRecommender"]

_CONFIG_FILE = "config.json"
_WEIGHTS_FILE = "model.safetensors"
_POPULARITY_PREFIX = "popularity."


@dataclass(frozen=True)
class SASRecConfig:
    """Settings of a :class:`SASRecRecommender`.

    hidden: embedding and hidden size (item embeddings are shared by input and output).
    num_blocks: transformer blocks.
    num_heads: attention heads; must divide ``hidden``.
    max_len: most recent items of a history the model reads.
    dropout: dropout rate on embeddings, attention weights and feed-forward layers.
    loss: "ce", softmax cross-entropy over all catalogue items at every position (Xu et al.,
        2024), or "bce", binary cross-entropy of the positive and one uniformly sampled
        negative item per position (the 2018 paper).
    lr: Adam learning rate.
    weight_decay: Adam L2 penalty.
    batch_size: training sequences per step.
    epochs: most training epochs.
    eval_every: epochs between validation measurements (NDCG@10 over all items).
    patience: measurements without improvement before stopping; 0 never stops early.
    valid_exclude_seen: exclude history items when measuring validation NDCG@10.
    inference_batch_size: histories scored together by ``recommend`` and validation.
    seed: seeds initialisation, shuffling, dropout and negative sampling.
    device: "auto" (CUDA if available, else CPU), "cpu", "cuda", "cuda:1", ...
    threads: ``torch.set_num_threads`` for fitting (process-wide); ``None`` leaves it.
    progress: show a tqdm bar over epochs.
    """

    hidden: int = 64
    num_blocks: int = 2
    num_heads: int = 1
    max_len: int = 50
    dropout: float = 0.3
    loss: Literal["ce", "bce"] = "ce"
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 200
    eval_every: int = 1
    patience: int = 10
    valid_exclude_seen: bool = True
    inference_batch_size: int = 1024
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        positive = ("hidden", "num_blocks", "num_heads", "max_len", "batch_size", "eval_every")
        for name in (*positive, "inference_batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.hidden % self.num_heads:
            raise ValueError(f"num_heads ({self.num_heads}) must divide hidden ({self.hidden})")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}")
        if self.loss not in ("ce", "bce"):
            raise ValueError(f"loss must be 'ce' or 'bce', got {self.loss!r}")
        if self.epochs < 0 or self.patience < 0:
            raise ValueError("epochs and patience must be >= 0")
        if self.lr <= 0 or self.weight_decay < 0:
            raise ValueError("lr must be > 0 and weight_decay >= 0")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {self.threads!r}")


class SASRecRecommender(Recommender):
    """Self-attentive sequential recommendation (Kang & McAuley, 2018).

    Items are embedded (learned positional embeddings added), read by ``num_blocks`` causal
    transformer blocks, and the hidden state at each position scores every catalogue item by a
    dot product with its embedding. Each training history (``split.train`` only, catalogue
    items only) gives inputs ``items[:-1]`` and targets ``items[1:]``; a history longer than
    ``max_len + 1`` is cut, from its end, into windows of ``max_len`` targets, so every
    position is trained on.

    The default loss (``loss="ce"``) is the softmax cross-entropy over all catalogue items,
    averaged over all target positions: ``-log softmax(h_t . E)[target_t]``. Xu et al. (2024,
    "Understanding the Role of Cross-Entropy Loss in Fairly Evaluating Large Language
    Model-based Recommendation") show it makes SASRec far stronger than the 2018 loss, which is
    ``loss="bce"``: ``-log sigmoid(h_t . e_pos) - log(1 - sigmoid(h_t . e_neg))`` with one
    negative drawn uniformly per position. Adam; every ``eval_every`` epochs the model ranks all
    items for each validation target (history = training events) and the weights with the best
    NDCG@10 are kept; training stops after ``patience`` measurements without improvement.

    ``recommend`` scores all catalogue items from the hidden state at the last position of the
    history's ``max_len`` most recent catalogue items (unknown items are ignored). Items never
    seen in training keep their (trained-down) embeddings and stay rankable. A history with no
    catalogue item gets the training popularity ranking instead, scored by event counts.
    Fitting is seeded and deterministic on CPU.
    """

    name = "sasrec"

    def __init__(self, config: SASRecConfig | None = None) -> None:
        self.config = config or SASRecConfig()
        self.training_log: list[dict[str, float]] = []
        """Per epoch: epoch, loss, seconds, and valid_ndcg@10 where measured."""
        self.best_epoch = 0
        self._items: list[str] = []
        self._index: dict[str, int] = {}
        self._model: SASRecNetwork | None = None
        self._device = torch.device("cpu")
        self._counts = np.zeros(0, dtype=np.float64)
        self._order = np.zeros(0, dtype=np.int64)

    def fit(self, split: Split) -> Self:
        """Train on ``split.train``; early-stop on NDCG@10 of ``split.valid``."""
        config = self.config
        if config.threads is not None:
            torch.set_num_threads(config.threads)
        self._items = list(split.catalog)
        self._index = {item: i + 1 for i, item in enumerate(self._items)}
        self._counts, self._order = popularity_ranking(split, self._items)
        self._device = _resolve_device(config.device)
        devices = [self._device] if self._device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(config.seed)
            model = SASRecNetwork(len(self._items), config).to(self._device)
            self._model = model
            self._train(model, split)
        return self

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]:
        """The ``k`` items with the highest scores after each history, best first."""
        model = self._ready(k)
        results: list[list[Scored]] = []
        step = self.config.inference_batch_size
        for start in range(0, len(histories), step):
            encoded = [self._encode(h) for h in histories[start : start + step]]
            scores = self._score(model, encoded, exclude_seen)
            top = scores.topk(min(k, len(self._items)), dim=1)
            values, indices = top.values.cpu().tolist(), top.indices.cpu().tolist()
            for known, row_values, row_indices in zip(encoded, values, indices, strict=True):
                if not known:
                    results.append(self._popular(k))
                    continue
                results.append(
                    [
                        Scored(self._items[i], float(s))
                        for s, i in zip(row_values, row_indices, strict=True)
                        if s != -math.inf
                    ]
                )
        return results

    def save(self, path: str | Path) -> None:
        """Write ``config.json`` (settings, item ids, training log) and ``model.safetensors``."""
        model = self._ready(1)
        directory = Path(path)
        directory.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "type": type(self).__name__,
            "config": asdict(self.config),
            "items": self._items,
            "best_epoch": self.best_epoch,
            "training_log": self.training_log,
        }
        (directory / _CONFIG_FILE).write_text(json.dumps(config, ensure_ascii=False))
        tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
        tensors[_POPULARITY_PREFIX + "counts"] = torch.from_numpy(self._counts)
        tensors[_POPULARITY_PREFIX + "order"] = torch.from_numpy(self._order)
        save_file(tensors, directory / _WEIGHTS_FILE)

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save` (onto the device its config asks for)."""
        directory = Path(path)
        saved = json.loads((directory / _CONFIG_FILE).read_text())
        if saved.get("type") != cls.__name__:
            raise ValueError(f"{directory} holds a {saved.get('type')!r}, not a {cls.__name__}")
        recommender = cls(SASRecConfig(**saved["config"]))
        recommender._items = list(saved["items"])
        recommender._index = {item: i + 1 for i, item in enumerate(recommender._items)}
        recommender.best_epoch = saved["best_epoch"]
        recommender.training_log = saved["training_log"]
        tensors = load_file(directory / _WEIGHTS_FILE)
        recommender._counts = tensors.pop(_POPULARITY_PREFIX + "counts").numpy()
        recommender._order = tensors.pop(_POPULARITY_PREFIX + "order").numpy()
        recommender._device = _resolve_device(recommender.config.device)
        model = SASRecNetwork(len(recommender._items), recommender.config)
        model.load_state_dict(tensors)
        recommender._model = model.to(recommender._device).eval()
        return recommender

    def _train(self, model: SASRecNetwork, split: Split) -> None:
        config = self.config
        inputs, targets = self._training_windows(split)
        lengths = (inputs != PAD).sum(1)
        valid_histories, valid_targets = self._validation_data(split)
        # foreach, as the language model's AdamW: same weights, one multi-tensor update.
        optimizer = torch.optim.Adam(
            model.parameters(),
            lr=config.lr,
            betas=(0.9, 0.98),
            weight_decay=config.weight_decay,
            foreach=True,
        )
        generator = torch.Generator().manual_seed(config.seed)
        best_ndcg, best_state, stale = -1.0, None, 0
        self.training_log, self.best_epoch = [], 0
        bar = tqdm(
            range(1, config.epochs + 1),
            desc="fit sasrec",
            disable=not show_progress(config.progress),
        )
        for epoch in bar:
            started = time.perf_counter()
            model.train()
            order = torch.randperm(len(inputs), generator=generator)
            total, count = 0.0, 0
            for start in range(0, len(order), config.batch_size):
                rows = order[start : start + config.batch_size]
                # Drop all-padding columns: positions count from the right, so real positions
                # get the same embeddings and the same attention as at full width.
                width = int(lengths[rows].max())
                batch_inputs = inputs[rows, -width:].to(self._device)
                batch_targets = targets[rows, -width:].to(self._device)
                loss = self._loss(model, batch_inputs, batch_targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(rows)
                count += len(rows)
            entry = {"epoch": float(epoch), "loss": total / max(count, 1)}
            measured = valid_targets.numel() > 0 and (
                epoch % config.eval_every == 0 or epoch == config.epochs
            )
            if measured:
                ndcg = self._validation_ndcg(model, valid_histories, valid_targets)
                entry["valid_ndcg@10"] = ndcg
                if ndcg > best_ndcg:
                    best_ndcg, self.best_epoch, stale = ndcg, epoch, 0
                    best_state = copy.deepcopy(model.state_dict())
                else:
                    stale += 1
            entry["seconds"] = time.perf_counter() - started
            self.training_log.append(entry)
            bar.set_postfix(loss=f"{entry['loss']:.4f}", best_ndcg10=f"{max(best_ndcg, 0):.4f}")
            if measured and config.patience and stale >= config.patience:
                break
        bar.close()
        if best_state is not None:
            model.load_state_dict(best_state)
        elif self.training_log:
            self.best_epoch = len(self.training_log)
        model.eval()

    def _loss(
        self, model: SASRecNetwork, inputs: torch.Tensor, targets: torch.Tensor
    ) -> torch.Tensor:
        hidden = model(inputs)
        real = targets != PAD
        states, wanted = hidden[real], targets[real]
        if self.config.loss == "ce":
            return F.cross_entropy(model.item_scores(states), wanted - 1)
        negatives = torch.randint(1, len(self._items) + 1, wanted.shape, device=wanted.device)
        embeddings = model.items.weight
        positive = (states * embeddings[wanted]).sum(-1)
        negative = (states * embeddings[negatives]).sum(-1)
        return F.binary_cross_entropy_with_logits(
            positive, torch.ones_like(positive)
        ) + F.binary_cross_entropy_with_logits(negative, torch.zeros_like(negative))

    def _training_windows(self, split: Split) -> tuple[torch.Tensor, torch.Tensor]:
        """Left-padded (inputs, targets) windows of every training history."""
        max_len = self.config.max_len
        inputs: list[list[int]] = []
        targets: list[list[int]] = []
        for events in split.train.values():
            sequence = [i for i in (self._index.get(e.item) for e in events) if i is not None]
            for end in range(len(sequence), 1, -max_len):
                window = sequence[max(0, end - max_len - 1) : end]
                inputs.append(_left_pad(window[:-1], max_len))
                targets.append(_left_pad(window[1:], max_len))
        if not inputs:
            raise ValueError(f"{split.name}: no training history has two catalogue items")
        return torch.tensor(inputs), torch.tensor(targets)

    def _validation_data(self, split: Split) -> tuple[list[list[int]], torch.Tensor]:
        histories: list[list[int]] = []
        targets: list[int] = []
        for user, target in split.valid.items():
            index = self._index.get(target.item)
            if index is not None:
                histories.append(self._encode(x.item for x in split.history(user, "valid")))
                targets.append(index - 1)
        return histories, torch.tensor(targets, dtype=torch.long)

    @torch.no_grad()
    def _validation_ndcg(
        self, model: SASRecNetwork, histories: list[list[int]], targets: torch.Tensor
    ) -> float:
        """Mean NDCG@10 of the targets in the all-item ranking (ties: lower index first)."""
        model.eval()
        step = self.config.inference_batch_size
        total = 0.0
        for start in range(0, len(histories), step):
            scores = self._score(
                model, histories[start : start + step], self.config.valid_exclude_seen
            )
            wanted = targets[start : start + step].to(scores.device)
            target_scores = scores.gather(1, wanted[:, None])
            positions = torch.arange(scores.shape[1], device=scores.device)
            ahead = (scores > target_scores) | (
                (scores == target_scores) & (positions[None, :] < wanted[:, None])
            )
            rank = ahead.sum(1).float()
            gains = torch.where(
                (rank < 10) & (target_scores[:, 0] > -math.inf),
                1.0 / torch.log2(rank + 2.0),
                torch.zeros_like(rank),
            )
            total += gains.sum().item()
        return total / max(len(histories), 1)

    @torch.no_grad()
    def _score(
        self, model: SASRecNetwork, encoded: list[list[int]], exclude_seen: bool
    ) -> torch.Tensor:
        """All-item scores ``(len(encoded), n_items)``; history items -inf if excluded."""
        width = max(1, min(self.config.max_len, max(map(len, encoded), default=1)))
        sequences = torch.tensor([_left_pad(h[-width:], width) for h in encoded])
        sequences = sequences.to(self._device)
        scores = model.item_scores(model(sequences)[:, -1])
        if exclude_seen:
            rows = [r for r, h in enumerate(encoded) for _ in h]
            columns = [i - 1 for h in encoded for i in h]
            scores[rows, columns] = -math.inf
        return scores

    def _encode(self, history: Sequence[str] | Any) -> list[int]:
        return [i for i in (self._index.get(item) for item in history) if i is not None]

    def _popular(self, k: int) -> list[Scored]:
        return [Scored(self._items[i], float(self._counts[i])) for i in self._order[:k]]

    def _ready(self, k: int) -> SASRecNetwork:
        if self._model is None:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(split) first")
        check_k(k)
        self._model.eval()
        return self._model


def _left_pad(indices: Sequence[int], length: int) -> list[int]:
    return [PAD] * (length - len(indices)) + list(indices)


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)

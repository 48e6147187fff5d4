"""Item text in the language model's item representation: each item token's vector (its input
embedding and its output, softmax, embedding alike) is a learned projection of a frozen text
vector of the item, alone (``"text"``) or added to the token's learned id embedding
(``"ids+text"``). ``"ids"`` (the default) installs nothing: the id embedding alone, as always.

The model keeps its own embedding and output layer; :func:`install_item_text` wraps them so
that both read an *effective table*: the layer's weight with every item token's row replaced by
``proj(text)`` or ``id row + proj(text)``. The model's forward is unchanged, so training,
beam search, candidate scoring and serving need no change. For saving,
:func:`without_item_text` puts the effective rows into the plain layers for the duration: the
saved weights load in plain transformers and score exactly as the wrapped model does; the
projection and the id rows themselves are saved beside them (:func:`save_item_text`).

One token per item only: a multi-token id has no single row to give the item's text.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel

from lmrec.data.formats import reading

__all__ = [
    "ITEM_REPRESENTATIONS",
    "ITEM_TEXT_FILE",
    "ItemTextEmbedding",
    "ItemTextHead",
    "ItemTextTable",
    "check_item_representation",
    "fast_bf16",
    "install_item_text",
    "item_text_of",
    "load_item_text",
    "remove_item_text",
    "save_item_text",
    "without_item_text",
]

ITEM_REPRESENTATIONS = ("ids", "text", "ids+text")
ITEM_TEXT_FILE = "item_text_projection.safetensors"


def check_item_representation(value: str) -> None:
    if value not in ITEM_REPRESENTATIONS:
        known = ", ".join(ITEM_REPRESENTATIONS)
        raise ValueError(f"unknown item_representation {value!r} (known: {known})")


class ItemTextTable(nn.Module):
    """The item rows of the effective table: ``proj(text)``, plus the id row with ``keep_ids``.

    text: one frozen text vector per item (rows of unit length), a buffer.
    token_ids: the id token of each text row.
    std: the spread of the model's embedding rows. The projection starts with weights of this
        standard deviation, so a unit text vector projects to a row of the id rows' size: the
        text term neither drowns the id embedding nor vanishes beside it.
    tag_columns: how many trailing columns of ``text`` are one-hot tags
        (:attr:`lmrec.text.encoders.ItemTextEmbeddings.tag_columns`). They are projected as a
        sparse matrix when the whole catalogue is: hundreds of tag columns cost what their few
        ones per item cost, not a dense product each step.
    """

    def __init__(
        self,
        text: torch.Tensor,
        token_ids: torch.Tensor,
        d_model: int,
        keep_ids: bool,
        std: float,
        seed: int = 0,
        tag_columns: int = 0,
    ):
        super().__init__()
        if text.shape[0] != token_ids.shape[0]:
            raise ValueError(f"{text.shape[0]} text vectors for {token_ids.shape[0]} item tokens")
        if not 0 <= tag_columns <= text.shape[1]:
            raise ValueError(f"{tag_columns} tag columns in text vectors of {text.shape[1]}")
        self.keep_ids = keep_ids
        self.dense_columns = text.shape[1] - tag_columns
        self.proj = nn.Linear(text.shape[1], d_model, bias=False)
        weight = torch.empty_like(self.proj.weight)
        nn.init.normal_(weight, std=std, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            self.proj.weight.copy_(weight)
        # Rebuilt from the saved text cache and index on load: not in the state dict.
        self.register_buffer("text", text, persistent=False)
        self.register_buffer("token_ids", token_ids.long(), persistent=False)
        # token id -> text row (-1: not an item token), up to the highest item token
        rows = torch.full((int(token_ids.max()) + 1 if len(token_ids) else 1,), -1)
        rows[token_ids.long()] = torch.arange(len(token_ids))
        self.register_buffer("row_of_token", rows, persistent=False)
        # The tag columns' non-zero entries (dense buffers: what DDP broadcasts and .to moves).
        tag_part = text[:, self.dense_columns :]
        where = tag_part.nonzero().T
        self.register_buffer("tag_where", where, persistent=False)
        self.register_buffer("tag_values", tag_part[where[0], where[1]], persistent=False)
        self._tables: dict[int, tuple[tuple, torch.Tensor]] = {}
        # None: bfloat16 where the device multiplies it natively (see project_all)
        self.bf16_training: bool | None = None
        self._text_bf16: tuple[tuple, torch.Tensor] | None = None

    def project_all(self) -> torch.Tensor:
        """``proj(text)`` of every item, the tag columns as a sparse product.

        While training (train mode, gradients on, float32 weights), the dense product runs in
        bfloat16 where the device multiplies it natively (:func:`fast_bf16`; ``bf16_training`` False
        turns it off): the whole catalogue's projection and its gradient were 15 % of a full
        Beauty training step in float32, about half that in bfloat16. Its rows then carry
        bfloat16 rounding (~0.4 %) during training only; ranking and the saved weights use the
        float32 product."""
        weight = self.proj.weight
        d = self.dense_columns
        dense = self._dense_product(weight[:, :d])
        if d == self.text.shape[1]:
            return dense
        shape = (self.text.shape[0], self.text.shape[1] - d)
        values = self.tag_values.to(weight.dtype)
        # nonzero() gave the indices sorted and unique: coalesced, nothing to check
        tags = torch.sparse_coo_tensor(
            self.tag_where, values, shape, check_invariants=False, is_coalesced=True
        )
        return dense + torch.sparse.mm(tags, weight[:, d:].T)

    def _dense_product(self, weight: torch.Tensor) -> torch.Tensor:
        text = self.text[:, : self.dense_columns]
        low = self.bf16_training
        if low is None:
            low = fast_bf16(weight.device)
        training = self.training and torch.is_grad_enabled()
        if not (low and training and weight.dtype == torch.float32):
            return F.linear(text.to(weight.dtype), weight)
        key = (self.text.data_ptr(), self.text.device, self.dense_columns)
        if self._text_bf16 is None or self._text_bf16[0] != key:
            self._text_bf16 = (key, text.to(torch.bfloat16))
        return F.linear(self._text_bf16[1], weight.to(torch.bfloat16)).float()

    def rows(self, weight: torch.Tensor) -> torch.Tensor:
        """Each item's effective row, given the layer's weight (whose item rows are id rows)."""
        projected = self.project_all()
        if self.keep_ids:
            return weight.index_select(0, self.token_ids) + projected
        return projected.to(weight.dtype)

    def table(self, weight: torch.Tensor) -> torch.Tensor:
        """``weight`` with every item row replaced by its effective row (differentiable).

        Without gradients (ranking, serving) the table is built once and kept while neither
        ``weight`` nor the projection changes (their version counters, which every in-place
        update such as an optimizer step or a load bumps), instead of on every forward."""
        if torch.is_grad_enabled() or torch.is_inference(weight):
            return weight.index_copy(0, self.token_ids, self.rows(weight))
        key = (
            weight._version,
            weight.dtype,
            weight.device,
            weight.shape,
            self.proj.weight.data_ptr(),
            self.proj.weight._version,
            self.text.data_ptr(),
            self.token_ids.data_ptr(),
        )
        kept = self._tables.get(weight.data_ptr())
        if kept is None or kept[0] != key:
            kept = (key, weight.index_copy(0, self.token_ids, self.rows(weight)))
            self._tables[weight.data_ptr()] = kept  # one per layer weight: tied layers share
        return kept[1]

    def embed(
        self, input_ids: torch.Tensor, weight: torch.Tensor, padding_idx: int | None
    ) -> torch.Tensor:
        """The effective rows of ``input_ids`` alone: the projection of the text of the item
        tokens among them, not of the whole catalogue (what training reads; the same rows as
        ``F.embedding(input_ids, table(weight))`` up to rounding)."""
        last = len(self.row_of_token) - 1
        row = self.row_of_token[input_ids.clamp_max(last)].masked_fill(input_ids > last, -1)
        is_item = (row >= 0).unsqueeze(-1)
        base = F.embedding(input_ids, weight, padding_idx)
        text = self.proj(self.text[row.clamp_min(0)].to(self.proj.weight.dtype))
        if self.keep_ids:
            return base + text * is_item
        return torch.where(is_item, text.to(base.dtype), base)


@functools.cache
def _cpu_has_bf16() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def fast_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices natively (a CUDA device that supports it,
    or a CPU with AVX512-BF16 or AMX): elsewhere bfloat16 is emulated and slower."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and _cpu_has_bf16()


class ItemTextEmbedding(nn.Module):
    """The model's input embedding reading the effective table."""

    def __init__(self, embedding: nn.Embedding, items: ItemTextTable):
        super().__init__()
        self.embedding = embedding
        self.items = items

    @property
    def weight(self) -> torch.Tensor:
        """The effective table (code that reads ``get_input_embeddings().weight`` sees it)."""
        return self.items.table(self.embedding.weight)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        padding = self.embedding.padding_idx
        if self.training:  # only the batch's rows: the whole table costs a projection per step
            return self.items.embed(input_ids, self.embedding.weight, padding)
        return F.embedding(input_ids, self.weight, padding)  # exactly the saved table's rows


class ItemTextHead(nn.Module):
    """The model's output layer scoring against the effective table."""

    def __init__(self, head: nn.Linear, items: ItemTextTable):
        super().__init__()
        self.head = head
        self.items = items

    @property
    def weight(self) -> torch.Tensor:
        """The effective table (a fast path that reads the output layer's rows sees it)."""
        return self.items.table(self.head.weight)

    @property
    def bias(self) -> torch.Tensor | None:
        return self.head.bias

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return F.linear(hidden, self.weight, self.head.bias)


def item_text_of(model: PreTrainedModel) -> ItemTextTable | None:
    """The installed item-text table, if any."""
    embedding = model.get_input_embeddings()
    return embedding.items if isinstance(embedding, ItemTextEmbedding) else None


def install_item_text(
    model: PreTrainedModel,
    text: np.ndarray | torch.Tensor,
    token_ids: Sequence[int],
    keep_ids: bool,
    seed: int = 0,
    projection: torch.Tensor | None = None,
    tag_columns: int = 0,
) -> ItemTextTable:
    """Wrap the model's input embedding and output layer (in place) so that the item tokens
    ``token_ids`` read ``proj(text)`` (``keep_ids``: plus their id rows). Tied layers stay
    tied: both wrap the same weight. ``projection``: the projection's weight (default: drawn
    with ``seed``, see :class:`ItemTextTable`). ``tag_columns``: trailing one-hot tag columns of
    ``text``. Returns the table, whose ``proj`` is trained."""
    if item_text_of(model) is not None:
        raise ValueError("the model already has item text installed")
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    if not isinstance(embedding, nn.Embedding) or not isinstance(head, nn.Linear):
        raise ValueError(
            f"item text needs a plain embedding and linear output layer; {type(model).__name__} "
            f"has {type(embedding).__name__} and {type(head).__name__}"
        )
    weight = embedding.weight
    vectors = torch.as_tensor(np.asarray(text), dtype=torch.float32, device=weight.device)
    ids = torch.tensor(list(token_ids), dtype=torch.long, device=weight.device)
    std = float(weight.detach().float().std())
    table = ItemTextTable(vectors, ids, weight.shape[1], keep_ids, std, seed, tag_columns)
    table.to(device=weight.device, dtype=weight.dtype)
    if projection is not None:
        with torch.no_grad():
            table.proj.weight.copy_(projection)
    # the new layers take the model's mode (a module starts in train mode)
    model.set_input_embeddings(ItemTextEmbedding(embedding, table).train(model.training))
    model.set_output_embeddings(ItemTextHead(head, table).train(model.training))
    return table


def _wrapped_layers(model: PreTrainedModel) -> tuple[ItemTextEmbedding, ItemTextHead]:
    embedding, head = model.get_input_embeddings(), model.get_output_embeddings()
    if not isinstance(embedding, ItemTextEmbedding) or not isinstance(head, ItemTextHead):
        raise ValueError("the model has no item text installed")
    return embedding, head


@contextmanager
def without_item_text(model: PreTrainedModel) -> Iterator[None]:
    """The plain model for the duration, its item rows holding the effective rows: weights to
    save that plain transformers loads and scores exactly as the wrapped model. A model without
    item text is left as it is."""
    if item_text_of(model) is None:
        yield
        return
    wrapped_in, wrapped_out = _wrapped_layers(model)
    table, ids = wrapped_in.items, wrapped_in.items.token_ids
    layers = [wrapped_in.embedding.weight]
    if wrapped_out.head.weight is not wrapped_in.embedding.weight:
        layers.append(wrapped_out.head.weight)
    with torch.no_grad():
        # Every effective row from the id rows first: tied layers share one weight.
        rows = [table.rows(w) for w in layers]
        kept = [w.index_select(0, ids).clone() for w in layers]
        for w, r in zip(layers, rows, strict=True):
            w.index_copy_(0, ids, r)
    model.set_input_embeddings(wrapped_in.embedding)
    model.set_output_embeddings(wrapped_out.head)
    try:
        yield
    finally:
        with torch.no_grad():
            for w, k in zip(layers, kept, strict=True):
                w.index_copy_(0, ids, k)
        model.set_input_embeddings(wrapped_in)
        model.set_output_embeddings(wrapped_out)


def remove_item_text(model: PreTrainedModel) -> ItemTextTable:
    """Give the model its plain layers back (their item rows are the id rows); returns the
    table that was installed (to install again over a resized vocabulary)."""
    wrapped_in, wrapped_out = _wrapped_layers(model)
    model.set_input_embeddings(wrapped_in.embedding)
    model.set_output_embeddings(wrapped_out.head)
    return wrapped_in.items


def save_item_text(model: PreTrainedModel, path: str | Path) -> None:
    """The projection and the items' id rows (input, and output where untied): with the saved
    text vectors, what re-installs the exact wrapped model (:func:`load_item_text`)."""
    wrapped_in, wrapped_out = _wrapped_layers(model)
    table = wrapped_in.items
    tensors = {
        "proj.weight": table.proj.weight,
        "id_rows.input": wrapped_in.embedding.weight.index_select(0, table.token_ids),
    }
    if wrapped_out.head.weight is not wrapped_in.embedding.weight:
        tensors["id_rows.output"] = wrapped_out.head.weight.index_select(0, table.token_ids)
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(path))


def load_item_text(model: PreTrainedModel, path: str | Path) -> None:
    """Put back what :func:`save_item_text` wrote into a model with item text installed (the
    saved layers hold the effective rows; their id rows come back from the file)."""
    wrapped_in, wrapped_out = _wrapped_layers(model)
    table = wrapped_in.items
    with reading(path):
        tensors = load_file(str(path))
    with torch.no_grad():
        table.proj.weight.copy_(tensors["proj.weight"])
        ids = table.token_ids
        wrapped_in.embedding.weight.index_copy_(0, ids, tensors["id_rows.input"].to(ids.device))
        if "id_rows.output" in tensors:
            rows = tensors["id_rows.output"].to(ids.device)
            wrapped_out.head.weight.index_copy_(0, ids, rows)

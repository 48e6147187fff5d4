"""P5's whole-word embedding: each input token also gets a learned embedding of the number of
the word (or item id) it belongs to in the prompt, so ``<a_3> <b_7>`` reads as one item and not
as two (Geng et al. 2022, section 3.2).

The word numbers come from the input ids alone: a token starts a new word when it starts with a
word-start marker (SentencePiece's "▁", byte-level BPE's "Ġ") or is an added token (an item,
user or marker token) other than a later sub-token of an item id. Training, beam search,
candidate scoring and serving therefore need no change: the wrapper sits where the encoder (or a
decoder-only model) embeds its input ids, and ``model.get_encoder()`` goes through it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lmrec.backbone.causal import is_causal

WHOLE_WORD_FILE = "whole_word.safetensors"
WORD_MARKERS = ("▁", "Ġ")
# P5's table: word numbers 1..511, 0 for padding and special tokens.
NUM_WORDS = 512

__all__ = [
    "NUM_WORDS",
    "WHOLE_WORD_FILE",
    "WholeWordEmbedding",
    "install_whole_word",
    "load_whole_word",
    "save_whole_word",
    "whole_word_of",
    "without_whole_word",
    "word_starts",
]


def word_starts(
    tokenizer: PreTrainedTokenizerBase, codes: Iterable[tuple[str, ...]], size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Two boolean tables over token ids (``size`` rows, at least the vocabulary): which tokens
    start a word, and which are special (padding, end of sequence: word number 0).

    ``codes``: every item's id tokens; all but the first token of a code continue the word."""
    continuing = {t for code in codes for t in code[1:]}
    added = set(tokenizer.get_added_vocab())
    starts = torch.zeros(size, dtype=torch.bool)
    for token, token_id in tokenizer.get_vocab().items():
        if token_id >= size:
            continue
        if token.startswith(WORD_MARKERS) or (token in added and token not in continuing):
            starts[token_id] = True
    continuing_first = {code[0] for code in codes} & continuing
    if continuing_first:
        raise ValueError(f"tokens {sorted(continuing_first)[:3]} both start and continue ids")
    special = torch.zeros(size, dtype=torch.bool)
    special[[i for i in tokenizer.all_special_ids if i < size]] = True
    starts &= ~special
    return starts, special


class WholeWordEmbedding(nn.Module):
    """A token embedding plus a learned embedding of each token's word number.

    embedding: the model's own token embedding (kept as is, so weight tying still holds).
    starts, special: from :func:`word_starts`.
    """

    def __init__(
        self,
        embedding: nn.Embedding,
        starts: torch.Tensor,
        special: torch.Tensor,
        num_words: int = NUM_WORDS,
        seed: int = 0,
    ):
        super().__init__()
        self.embedding = embedding
        weight = embedding.weight
        # Small, so that an untrained table barely moves the model it is added to.
        table = torch.empty(num_words, weight.shape[1])
        nn.init.normal_(table, std=0.02, generator=torch.Generator().manual_seed(seed))
        self.whole_word = nn.Embedding(num_words, weight.shape[1], padding_idx=0)
        with torch.no_grad():
            table[0] = 0
            self.whole_word.weight.copy_(table)
        self.whole_word.to(device=weight.device, dtype=weight.dtype)
        # Derived from the tokenizer and index, which are saved anyway: not in the state dict.
        self.register_buffer("starts", starts.to(weight.device), persistent=False)
        self.register_buffer("special", special.to(weight.device), persistent=False)

    def word_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """The word number of every position: 1 for the first word of a row, counting up,
        capped at the table's last row; 0 for padding and special tokens."""
        words = torch.cumsum(self.starts[input_ids].long(), dim=-1)
        words = words.clamp(1, self.whole_word.num_embeddings - 1)
        return words.masked_fill(self.special[input_ids], 0)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(input_ids) + self.whole_word(self.word_ids(input_ids))


def _host(model: PreTrainedModel) -> nn.Module:
    """The module that embeds the prompt: the encoder, or a decoder-only model itself."""
    return model if is_causal(model) else model.get_encoder()


def whole_word_of(model: PreTrainedModel) -> WholeWordEmbedding | None:
    """The installed whole-word wrapper, if any."""
    embedding = _host(model).get_input_embeddings()
    return embedding if isinstance(embedding, WholeWordEmbedding) else None


def install_whole_word(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    codes: Iterable[tuple[str, ...]],
    seed: int = 0,
) -> WholeWordEmbedding:
    """Wrap the prompt's input embedding in a :class:`WholeWordEmbedding` (in place)."""
    host = _host(model)
    embedding = host.get_input_embeddings()
    if isinstance(embedding, WholeWordEmbedding):
        raise ValueError("the model already has a whole-word embedding")
    starts, special = word_starts(tokenizer, list(codes), embedding.num_embeddings)
    wrapper = WholeWordEmbedding(embedding, starts, special, seed=seed)
    host.set_input_embeddings(wrapper)
    return wrapper


@contextmanager
def without_whole_word(model: PreTrainedModel) -> Iterator[None]:
    """The plain model for the duration (to save weights that plain transformers loads)."""
    wrapper = whole_word_of(model)
    if wrapper is None:
        yield
        return
    host = _host(model)
    host.set_input_embeddings(wrapper.embedding)
    try:
        yield
    finally:
        host.set_input_embeddings(wrapper)


def save_whole_word(model: PreTrainedModel, path: str | Path) -> None:
    wrapper = whole_word_of(model)
    if wrapper is None:
        raise ValueError("the model has no whole-word embedding to save")
    save_file({"whole_word.weight": wrapper.whole_word.weight.detach().cpu().contiguous()}, path)


def load_whole_word(model: PreTrainedModel, path: str | Path) -> None:
    wrapper = whole_word_of(model)
    if wrapper is None:
        raise ValueError("install the whole-word embedding before loading its weights")
    table = load_file(str(path))["whole_word.weight"]
    with torch.no_grad():
        wrapper.whole_word.weight.copy_(table)

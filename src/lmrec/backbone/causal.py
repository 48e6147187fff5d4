"""How a prompt and its answer become one token sequence for a decoder-only (causal) model.

An encoder-decoder reads the prompt with its encoder and writes the answer with its decoder. A
decoder-only model reads ``prompt </s> answer </s>`` left to right; training puts the loss on
the answer tokens only, and generation feeds ``prompt </s>`` and continues from there. Training
(:mod:`lmrec.training.loop`) and decoding (:mod:`lmrec.decoding.beam`) both use these functions, so
the two
always agree on where the prompt ends.
"""

from __future__ import annotations

import functools
import inspect

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase


def is_causal(model: PreTrainedModel) -> bool:
    """True for a decoder-only model (GPT-2, LLaMA, ...), False for an encoder-decoder."""
    return not getattr(model.config, "is_encoder_decoder", False)


def takes_logits_to_keep(model: torch.nn.Module) -> bool:
    """Whether the model's forward can compute logits at chosen positions only
    (``logits_to_keep``); a peft wrapper is looked through to its base model."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


@functools.cache
def keeps_logits_by_mask() -> bool:
    """Whether this transformers' ``logits_to_keep`` takes a boolean (batch, positions) mask
    and returns the kept positions flattened (5.25 does: ``slice_logits_to_keep``)."""
    try:
        from transformers.modeling_utils import slice_logits_to_keep
    except ImportError:
        return False
    hidden = torch.arange(6.0).view(2, 3, 1)
    keep = torch.tensor([[True, False, True], [False, False, True]])
    try:
        kept = slice_logits_to_keep(hidden, keep)
    except (IndexError, RuntimeError, TypeError):
        return False
    return kept.flatten().tolist() == [0.0, 2.0, 5.0]


def separator_id(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token that ends the prompt and each answer: the tokenizer's end-of-sequence."""
    if tokenizer.eos_token_id is None:
        raise ValueError("a decoder-only model needs a tokenizer with an end-of-sequence token")
    return tokenizer.eos_token_id


def prompt_ids(
    tokenizer: PreTrainedTokenizerBase, prompt: str, max_len: int, separator: bool = True
) -> list[int]:
    """``prompt </s>`` (``prompt`` alone without ``separator``, for the sequence objective,
    whose answer simply continues the id sequence): at most ``max_len`` tokens, the prompt's
    start cut if it is too long (the end of a history is the part that matters most)."""
    ids = tokenizer(prompt, add_special_tokens=False).input_ids
    keep = max(max_len - 1, 0) if separator else max(max_len, 1)
    ids = ids[len(ids) - keep :] if len(ids) > keep else ids
    return [*ids, separator_id(tokenizer)] if separator else ids


def answer_ids(tokenizer: PreTrainedTokenizerBase, answer: str, max_len: int = 64) -> list[int]:
    """``answer </s>``: the tokens that carry the loss."""
    ids = tokenizer(answer, add_special_tokens=False).input_ids[: max(max_len - 1, 0)]
    return [*ids, separator_id(tokenizer)]

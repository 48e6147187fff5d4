"""Text answers: scoring a fixed set of answers (ratings, yes/no) and free generation
(explanations, summaries) that never emits an item or user id token."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import BaseModelOutput

from lmrec.generate import _encode


@torch.no_grad()
def score_options(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    options: Sequence[str],
    max_source_length: int = 512,
) -> torch.Tensor:
    """Log-likelihood (end-of-sequence included) of every option for every prompt, shape
    ``(len(prompts), len(options))``. The argmax is decoding restricted to the options."""
    if not prompts:
        return torch.zeros(0, len(options))
    model.eval()
    hidden_out, mask = _encode(model, tokenizer, prompts, max_source_length)
    hidden = hidden_out.last_hidden_state
    labels = tokenizer(list(options), padding=True, return_tensors="pt").input_ids
    labels[labels == tokenizer.pad_token_id] = -100
    n, m = len(prompts), len(options)
    start = model.config.decoder_start_token_id
    decoder_in = torch.full_like(labels, model.config.pad_token_id)
    decoder_in[:, 0] = start
    decoder_in[:, 1:] = labels[:, :-1].clamp(min=0)
    out = model(
        encoder_outputs=BaseModelOutput(last_hidden_state=hidden.repeat_interleave(m, dim=0)),
        attention_mask=mask.repeat_interleave(m, dim=0),
        decoder_input_ids=decoder_in.repeat(n, 1).to(hidden.device),
        use_cache=False,
    )
    logp = torch.log_softmax(out.logits.float(), dim=-1).cpu()
    tiled = labels.repeat(n, 1)
    token_logp = logp.gather(-1, tiled.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (token_logp * (tiled >= 0)).sum(-1).reshape(n, m)


@torch.no_grad()
def generate_texts(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str],
    banned_tokens: Sequence[int] = (),
    max_new_tokens: int = 32,
    num_beams: int = 1,
    max_source_length: int = 512,
) -> list[str]:
    """Free text for each prompt (greedy, or beam search with ``num_beams``); the ids in
    ``banned_tokens`` (item and user tokens) are never generated."""
    if not prompts:
        return []
    model.eval()
    enc = tokenizer(
        list(prompts),
        padding=True,
        truncation=True,
        max_length=max_source_length,
        return_tensors="pt",
    ).to(model.device)
    out = model.generate(
        input_ids=enc.input_ids,
        attention_mask=enc.attention_mask,
        max_new_tokens=max_new_tokens,
        num_beams=num_beams,
        do_sample=False,
        suppress_tokens=list(banned_tokens) or None,
    )
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]

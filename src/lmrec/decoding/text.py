"""Text answers: scoring a fixed set of answers (ratings, yes/no) and free generation
(explanations, summaries) that never emits an item or user id token."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lmrec.backbone.causal import answer_ids, is_causal, prompt_ids
from lmrec.decoding.steps import decoding_steps


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
    if is_causal(model):
        seqs = [answer_ids(tokenizer, o) for o in options]
    else:
        seqs = [tokenizer(o).input_ids for o in options]
    labels = torch.full((len(seqs), max(len(s) for s in seqs)), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        labels[i, : len(s)] = torch.tensor(s)
    n, m = len(prompts), len(options)
    steps = decoding_steps(model, tokenizer, prompts, max_source_length)
    tiled = labels.repeat(n, 1)
    token_logp = steps.sequence_logprobs(torch.arange(n).repeat_interleave(m), tiled)
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
    if is_causal(model):
        # Left-padded ``prompt </s>``; the answer is what comes after the prompt.
        ids = [prompt_ids(tokenizer, p, max_source_length) for p in prompts]
        width = max(len(i) for i in ids)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
        mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids])
    else:
        enc = tokenizer(
            list(prompts),
            padding=True,
            truncation=True,
            max_length=max_source_length,
            return_tensors="pt",
        )
        input_ids, mask = enc.input_ids, enc.attention_mask
    out = model.generate(
        input_ids=input_ids.to(model.device),
        attention_mask=mask.to(model.device),
        max_new_tokens=max_new_tokens,
        num_beams=num_beams,
        do_sample=False,
        suppress_tokens=list(banned_tokens) or None,
    )
    if is_causal(model):
        out = out[:, input_ids.shape[1] :]
    return [t.strip() for t in tokenizer.batch_decode(out, skip_special_tokens=True)]

"""One decoding step at a time, for encoder-decoder (T5) and decoder-only (GPT-2, LLaMA) models
alike: the first step's log-probabilities from the prompts, each next step from the chosen
parents and tokens (key/value caches kept, not recomputed), and teacher-forced scores of
whole answers. :mod:`lmrec.backbone.causal` says how a decoder-only model sees the prompt."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers.modeling_outputs import BaseModelOutput

from lmrec.backbone.causal import is_causal, prompt_ids, takes_logits_to_keep


class _Seq2SeqSteps:
    """Next-token log-probabilities of an encoder-decoder, one decoder step at a time.

    The prompt is encoded once; the decoder keeps a key/value cache, so each step feeds only
    the newest token. The cross-attention keys and values are computed once per prompt and
    copied to its beams when they first fan out; after that, beams only move within their own
    prompt, so only the self-attention cache is reordered. The encoder states themselves are
    not copied to the beams: once the cross-attention keys and values are cached the decoder
    reads them for their shape only (:meth:`_rows_of`).
    """

    def __init__(self, model, tokenizer, prompts: Sequence[str], max_len: int):
        device = model.device
        enc = tokenizer(
            list(prompts), padding=True, truncation=True, max_length=max_len, return_tensors="pt"
        )
        self.model = model
        self.mask = enc.attention_mask.to(device)
        encoder = model.get_encoder()
        self.hidden = encoder(input_ids=enc.input_ids.to(device), attention_mask=self.mask)
        self.hidden = self.hidden.last_hidden_state
        self.start = model.config.decoder_start_token_id
        self.cache = None
        self.rows = torch.arange(len(prompts))
        self.row_hidden, self.row_mask = self.hidden, self.mask

    def _rows_of(self, rows: torch.Tensor) -> torch.Tensor:
        """Encoder states in the shape of ``rows``, for a decoder whose cross-attention keys and
        values are cached already: a zero-stride view, not a copy per beam (a decoder that read
        them would see zeros, and the tests, which score against plain passes, would fail)."""
        return self.hidden.new_zeros(()).expand(len(rows), *self.hidden.shape[1:])

    def _decode(self, tokens: torch.Tensor) -> torch.Tensor:
        out = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=self.row_hidden),
            attention_mask=self.row_mask,
            decoder_input_ids=tokens.unsqueeze(1).to(self.hidden.device),
            cache=self.cache,
            use_cache=True,
        )
        self.cache = out.cache
        return torch.log_softmax(out.logits[:, -1, :].float(), dim=-1).cpu()

    def first(self) -> torch.Tensor:
        """Log-probabilities of the first answer token, one row per prompt."""
        return self._decode(torch.full((len(self.rows),), self.start, dtype=torch.long))

    def next(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Extend row ``parents[i]`` of the previous step by ``tokens[i]``; log-probabilities
        of the token after each extended row."""
        rows = self.rows[parents]
        beam_idx = parents.to(self.hidden.device)
        if torch.equal(rows, self.rows):
            self.cache.self_attention_cache.reorder_cache(beam_idx)
        else:
            self.cache.reorder_cache(beam_idx)
            self.row_hidden = self._rows_of(rows)
            self.row_mask = self.mask.index_select(0, rows.to(self.hidden.device))
        self.rows = rows
        return self._decode(tokens)

    def sequence_logprobs(self, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-token log-probability of each target row (padded with -100) after its prompt
        ``rows[i]``, teacher-forced: the first token from one cached step per prompt, the rest
        in one pass over all rows that reuses each prompt's cross-attention keys and values."""
        # the first tokens' log-probabilities alone: not a vocabulary-wide row per target
        out = self.first()[rows, targets[:, 0].clamp(min=0)].unsqueeze(1)
        if targets.shape[1] == 1:
            return out
        self.cache.reorder_cache(rows.to(self.hidden.device))
        result = self.model(
            encoder_outputs=BaseModelOutput(last_hidden_state=self._rows_of(rows)),
            attention_mask=self.mask.index_select(0, rows.to(self.hidden.device)),
            decoder_input_ids=targets[:, :-1].clamp(min=0).to(self.hidden.device),
            cache=self.cache,
            use_cache=True,
        )
        self.cache = None
        logp = torch.log_softmax(result.logits.float(), dim=-1).cpu()
        rest = logp.gather(-1, targets[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return torch.cat([out, rest], dim=1)


class _CausalSteps:
    """Next-token log-probabilities of a decoder-only model reading ``prompt </s> prefix``.

    Prompts are left-padded (explicit position ids keep every prompt starting at position 0)
    and read once. Where only the next token matters, the output layer runs on the last
    position alone (``logits_to_keep``): over a large id vocabulary it costs more than the rest
    of the model, once per prompt token.

    Beam steps keep one cache row per prompt: each step appends one slot per beam to its
    prompt's row, and a 4-D attention mask lets each beam see its prompt and its own ancestors
    only (a token tree). So the prompt's keys and values are held once, not copied to every
    beam and re-copied when beams are reordered at every step; the beam's view is the same as
    with a cache row of its own, so are its log-probabilities (to float rounding).
    Teacher-forced scoring (:meth:`sequence_logprobs`) copies each prompt's cache to its
    candidates instead: the candidates of a prompt differ in number.
    """

    def __init__(
        self, model, tokenizer, prompts: Sequence[str], max_len: int, separator: bool = True
    ):
        self.model = model
        self.last_only = takes_logits_to_keep(model)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        ids = [prompt_ids(tokenizer, p, max_len, separator) for p in prompts]
        width = max(len(i) for i in ids)
        self.input_ids = torch.tensor([[pad] * (width - len(i)) + i for i in ids])
        self.prompt_mask = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i in ids])
        self.cache = None
        self.mask = self.prompt_mask
        self.next_position = self.prompt_mask.sum(1)

    def _run(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        mask: torch.Tensor,
        last: bool = False,
    ) -> torch.Tensor:
        """Logits of every fed position, or of the last one only (``last``)."""
        device = self.model.device
        keep = {}
        if last and self.last_only:
            # An index, not the count 1: indexing copies the last hidden states into a
            # contiguous block, and the output layer then gives bit-for-bit the logits of the
            # full pass (a strided slice can take another matmul path, equal only to rounding).
            keep["logits_to_keep"] = torch.tensor([input_ids.shape[1] - 1], device=device)
        out = self.model(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            cache=self.cache,
            use_cache=True,
            **keep,
        )
        self.cache = out.cache
        return out.logits[:, -1:].float().cpu() if last else out.logits.float().cpu()

    def first(self) -> torch.Tensor:
        """Log-probabilities of the first answer token, one row per prompt."""
        self.cache = None
        self.mask = self.prompt_mask
        self.next_position = self.prompt_mask.sum(1)
        # The beam rows (one per prompt at first): the cache slots each one sees.
        self.sees = self.prompt_mask.bool()
        positions = (self.prompt_mask.cumsum(1) - 1).clamp(min=0)
        logits = self._run(self.input_ids, positions, self.mask, last=True)
        return torch.log_softmax(logits[:, -1], dim=-1)

    def _extend(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Move the cache to rows ``parents`` and feed ``tokens`` (one row each) after them."""
        self.cache.reorder_cache(parents.to(self.model.device))
        start = self.next_position[parents]
        steps = tokens.shape[1]
        self.mask = torch.cat([self.mask[parents], torch.ones(len(parents), steps).long()], 1)
        self.next_position = start + steps
        return self._run(tokens, start.unsqueeze(1) + torch.arange(steps), self.mask)

    def next(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Extend row ``parents[i]`` of the previous step by ``tokens[i]``; log-probabilities
        of the token after each extended row. ``parents`` come grouped by prompt, the same
        number per prompt, each within its own prompt (as the beam search gives them)."""
        prompts = len(self.input_ids)
        beams = len(parents) // prompts
        per_row = len(self.sees) // prompts
        if beams * prompts != len(parents) or not torch.equal(
            parents // per_row, torch.arange(prompts).repeat_interleave(beams)
        ):
            raise ValueError("the parents of a step must be grouped by prompt, equally many")
        attention = getattr(self.model.config, "_attn_implementation", None)
        if attention not in (None, "sdpa", "eager"):
            # Other kernels (flash attention) take no 4-D mask: every beam would see the tree.
            raise ValueError(f"beam search needs sdpa or eager attention, not {attention!r}")
        # Each new beam sees what its parent saw and its own new slot.
        own = torch.eye(beams, dtype=torch.bool).repeat(prompts, 1)
        self.sees = torch.cat([self.sees[parents], own], 1)
        dtype = self.model.dtype
        unseen = torch.full(self.sees.shape, torch.finfo(dtype).min, dtype=dtype)
        mask = unseen.masked_fill(self.sees, 0.0).view(prompts, 1, beams, -1)
        positions = self.next_position[parents]
        self.next_position = positions + 1
        logits = self._run(tokens.view(prompts, beams), positions.view(prompts, beams), mask)
        return torch.log_softmax(logits.reshape(len(parents), -1), dim=-1)

    def sequence_logprobs(self, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-token log-probability of each target row (padded with -100) after its prompt:
        the prompts are read once, then every target in one pass over the copied cache."""
        # the first tokens' log-probabilities alone: not a vocabulary-wide row per target
        out = self.first()[rows, targets[:, 0].clamp(min=0)].unsqueeze(1)
        if targets.shape[1] == 1:
            return out
        logits = self._extend(rows, targets[:, :-1].clamp(min=0))
        logp = torch.log_softmax(logits, dim=-1)
        rest = logp.gather(-1, targets[:, 1:].clamp(min=0).unsqueeze(-1)).squeeze(-1)
        return torch.cat([out, rest], dim=1)


def decoding_steps(model, tokenizer, prompts: Sequence[str], max_len: int, separator: bool = True):
    if is_causal(model):
        return _CausalSteps(model, tokenizer, prompts, max_len, separator)
    return _Seq2SeqSteps(model, tokenizer, prompts, max_len)

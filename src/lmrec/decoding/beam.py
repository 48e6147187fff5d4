"""Generation that can only produce real catalogue items.

:class:`ItemTrie` holds the token-id sequence of every item; :func:`constrained_beam_search`
walks it, so every beam is a prefix of a real item and every answer is a real item, top-K
without duplicates, the user's seen items excluded on request. :func:`score_candidates` ranks a
given candidate list by the model's likelihood of each candidate in one batched pass.

The trie (:mod:`lmrec.decoding.trie`) is walked with tensor operations only, one step at a time
(:mod:`lmrec.decoding.steps`); both encoder-decoder (T5) and decoder-only (GPT-2, LLaMA) models
decode through it.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from lmrec.decoding.steps import decoding_steps
from lmrec.decoding.trie import ItemTrie


@torch.no_grad()
def constrained_beam_search(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    trie: ItemTrie,
    prompts: Sequence[str],
    k: int = 10,
    num_beams: int | None = None,
    exclude: Sequence[Sequence[str]] | None = None,
    max_source_length: int = 512,
    separator: bool = True,
) -> list[list[tuple[str, float]]]:
    """Top-``k`` distinct items per prompt with their log-probabilities, best first.

    Beams only ever follow the trie, so every answer is a real item. ``exclude`` gives, per
    prompt, items that may not be returned (the user's history). With one-token ids the search
    is exact: one decoder step scores every item. ``separator=False``: a decoder-only model's
    answer continues the prompt directly, without ``</s>`` between (the sequence objective).
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    width = max(num_beams or k, k)
    batch = len(prompts)
    if batch == 0:
        return []
    model.eval()
    steps = decoding_steps(model, tokenizer, prompts, max_source_length, separator)
    blocked = trie.blocked_nodes(exclude) if exclude else torch.zeros(0, dtype=torch.long)
    # Each blocked node as (example, the node it hangs from, the token that leads to it).
    blocked_example = blocked // max(trie.num_nodes, 1)
    blocked_parent = trie.parent_of[blocked % max(trie.num_nodes, 1)]
    blocked_token = trie.token_of[blocked % max(trie.num_nodes, 1)]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    # Each example starts with one live beam at the trie root.
    nodes = torch.zeros(batch, 1, dtype=torch.long)
    scores = torch.zeros(batch, 1)
    parents = chosen = None
    for step in range(trie.depth):
        beams = nodes.shape[1]
        flat = nodes.reshape(-1)
        logp = steps.first() if step == 0 else steps.next(parents, chosen.reshape(-1))
        vocab = logp.shape[-1]
        done = (flat >= 0) & (trie.item_of[flat.clamp(min=0)] >= 0)
        # The tokens each distinct node allows, built once per node and copied to its beams.
        walking = torch.where(done, -1, flat)
        distinct, which = walking.unique(return_inverse=True)
        owner, tokens, _ = trie.expand(distinct)
        per_node = torch.full((len(distinct), vocab), float("-inf"))
        per_node[owner, tokens] = 0.0
        allowed = per_node[which]
        # A beam whose item is complete (codes of unequal length) carries on unchanged.
        logp[done, pad] = 0.0
        allowed[done, pad] = 0.0
        if len(blocked):
            # No beam may step into a node whose every item its example excludes.
            hit = nodes[blocked_example] == blocked_parent.unsqueeze(1)
            entry, beam = hit.nonzero(as_tuple=True)
            allowed[blocked_example[entry] * beams + beam, blocked_token[entry]] = float("-inf")
        total = (scores.reshape(-1, 1) + logp + allowed).reshape(batch, beams * vocab)
        keep = min(width, beams * vocab)
        top_scores, top_idx = total.topk(keep, dim=-1)
        beam_idx = top_idx // vocab
        chosen = top_idx % vocab
        parent_nodes = nodes.gather(1, beam_idx)
        parent_done = (parent_nodes >= 0) & (trie.item_of[parent_nodes.clamp(min=0)] >= 0)
        nodes = torch.where(parent_done, parent_nodes, trie.child(parent_nodes, chosen))
        nodes = torch.where(torch.isfinite(top_scores) & (parent_nodes >= 0), nodes, -1)
        scores = top_scores
        parents = (torch.arange(batch).unsqueeze(1) * beams + beam_idx).reshape(-1)

    items = torch.where(nodes >= 0, trie.item_of[nodes.clamp(min=0)], -1).tolist()
    values = scores.tolist()
    return [
        [(trie.items[i], v) for i, v in zip(row, vals, strict=True) if i >= 0][:k]
        for row, vals in zip(items, values, strict=True)
    ]


@torch.no_grad()
def score_candidates(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    trie: ItemTrie,
    prompts: Sequence[str],
    candidates: Sequence[Sequence[str]],
    max_source_length: int = 512,
    separator: bool = True,
) -> list[list[float]]:
    """Log-likelihood of each candidate's id tokens given its prompt, all in one batched
    teacher-forced pass (no beam search). Unknown candidates are a clear error.
    ``separator`` as in :func:`constrained_beam_search`."""
    if len(prompts) != len(candidates):
        raise ValueError("one candidate list per prompt is needed")
    rows, seqs = [], []
    for b, cands in enumerate(candidates):
        for item in cands:
            seqs.append(trie.tokens(item))
            rows.append(b)
    if not seqs:
        return [[] for _ in prompts]
    model.eval()
    steps = decoding_steps(model, tokenizer, prompts, max_source_length, separator)
    depth = max(len(s) for s in seqs)
    targets = torch.full((len(seqs), depth), -100, dtype=torch.long)
    for i, s in enumerate(seqs):
        targets[i, : len(s)] = torch.tensor(s)
    token_logp = steps.sequence_logprobs(torch.tensor(rows), targets)
    totals = (token_logp * (targets >= 0)).sum(-1).tolist()
    result: list[list[float]] = [[] for _ in prompts]
    for b, value in zip(rows, totals, strict=True):
        result[b].append(value)
    return result

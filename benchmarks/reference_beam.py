"""The constrained beam search as it was before vectorisation (lmrec 0.1, commit 612bacd): the
trie as Python dictionaries, walked per beam in a Python loop. Kept only as the "before" of
``benchmarks/decoding.py``; lmrec itself uses :mod:`lmrec.decoding.beam`.
:func:`copying_steps` keeps the decoding steps as they were before the beams shared their
prompt's keys and values.

Original description:

:class:`ItemTrie` holds the token-id sequence of every item; :func:`constrained_beam_search`
walks it, so every beam is a prefix of a real item and every answer is a real item, top-K
without duplicates, the user's seen items excluded on request. :func:`score_candidates` ranks a
given candidate list by the model's likelihood of each candidate in one batched pass.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import BaseModelOutput

from lmrec.backbone.causal import is_causal
from lmrec.decoding.steps import decoding_steps
from lmrec.indexing import ItemIndex


class ReferenceTrie:
    """A prefix tree over the token ids of every item in an index."""

    def __init__(self, sequences: dict[str, Sequence[int]]):
        self.children: list[dict[int, int]] = [{}]
        self.item_at: list[str | None] = [None]
        self.leaves: list[int] = [0]
        self.paths: dict[str, list[int]] = {}
        self.tokens: dict[str, list[int]] = {}
        for item, tokens in sequences.items():
            self.tokens[item] = list(tokens)
            node = 0
            path = [0]
            for token in tokens:
                nxt = self.children[node].get(token)
                if nxt is None:
                    nxt = len(self.children)
                    self.children[node][token] = nxt
                    self.children.append({})
                    self.item_at.append(None)
                    self.leaves.append(0)
                node = nxt
                path.append(node)
            if self.item_at[node] is not None or self.children[node]:
                raise ValueError(f"item {item!r}: its code is a prefix of another item's code")
            self.item_at[node] = item
            for n in path:
                self.leaves[n] += 1
            self.paths[item] = path
        for node, kids in enumerate(self.children):
            if kids and self.item_at[node] is not None:
                raise ValueError("an item code is a prefix of another item's code")
        self._allowed = [torch.tensor(list(kids), dtype=torch.long) for kids in self.children]
        self.depth = max((len(p) - 1 for p in self.paths.values()), default=0)

    @classmethod
    def from_index(cls, index: ItemIndex, tokenizer: PreTrainedTokenizerBase) -> ReferenceTrie:
        ids = {}
        for item in index.items:
            code = index.code(item)
            token_ids = tokenizer.convert_tokens_to_ids(list(code))
            if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in token_ids:
                raise ValueError(f"item {item!r}: id tokens {code} are not in the tokenizer")
            ids[item] = token_ids
        return cls(ids)

    def __len__(self) -> int:
        return self.leaves[0]

    def allowed(self, node: int, excluded: dict[int, int] | None = None) -> torch.Tensor:
        """Token ids that continue ``node`` towards at least one item not excluded."""
        if not excluded:
            return self._allowed[node]
        kids = self.children[node]
        return torch.tensor(
            [t for t, child in kids.items() if excluded.get(child, 0) < self.leaves[child]],
            dtype=torch.long,
        )

    def exclusion_counts(self, items: Sequence[str]) -> dict[int, int]:
        """For each node, how many of its items are excluded (unknown items are ignored)."""
        counts: dict[int, int] = {}
        for item in set(items):
            for node in self.paths.get(item, ()):
                counts[node] = counts.get(node, 0) + 1
        return counts


def _encode(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str], max_len: int
) -> tuple[BaseModelOutput, torch.Tensor]:
    device = model.device
    enc = tokenizer(
        list(prompts), padding=True, truncation=True, max_length=max_len, return_tensors="pt"
    )
    mask = enc.attention_mask.to(device)
    hidden = model.get_encoder()(input_ids=enc.input_ids.to(device), attention_mask=mask)
    return hidden, mask


def _decoder_logprobs(
    model: PreTrainedModel,
    hidden: torch.Tensor,
    mask: torch.Tensor,
    decoder_input_ids: torch.Tensor,
) -> torch.Tensor:
    out = model(
        encoder_outputs=BaseModelOutput(last_hidden_state=hidden),
        attention_mask=mask,
        decoder_input_ids=decoder_input_ids,
        use_cache=False,
    )
    return torch.log_softmax(out.logits[:, -1, :].float(), dim=-1)


@torch.no_grad()
def reference_beam_search(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    trie: ReferenceTrie,
    prompts: Sequence[str],
    k: int = 10,
    num_beams: int | None = None,
    exclude: Sequence[Sequence[str]] | None = None,
    max_source_length: int = 512,
) -> list[list[tuple[str, float]]]:
    """Top-``k`` distinct items per prompt with their log-probabilities, best first.

    Beams only ever follow the trie, so every answer is a real item. ``exclude`` gives, per
    prompt, items that may not be returned (the user's history). With one-token ids the search
    is exact: one decoder step scores every item.
    """
    if k < 1:
        raise ValueError("k must be at least 1")
    width = max(num_beams or k, k)
    batch = len(prompts)
    if batch == 0:
        return []
    excluded = [trie.exclusion_counts(e) for e in exclude] if exclude else [{}] * batch
    model.eval()
    hidden_out, mask = _encode(model, tokenizer, prompts, max_source_length)
    hidden = hidden_out.last_hidden_state
    start = model.config.decoder_start_token_id
    pad = model.config.pad_token_id
    device = hidden.device

    # Each example starts with one live beam at the trie root.
    nodes = [[0] for _ in range(batch)]
    scores = torch.zeros(batch, 1, device=device)
    prefixes = torch.full((batch, 1, 1), start, dtype=torch.long, device=device)
    for _step in range(trie.depth):
        beams = prefixes.shape[1]
        flat_prefix = prefixes.reshape(batch * beams, -1)
        logp = _decoder_logprobs(
            model,
            hidden.repeat_interleave(beams, dim=0),
            mask.repeat_interleave(beams, dim=0),
            flat_prefix,
        )
        vocab = logp.shape[-1]
        allowed_mask = torch.full_like(logp, float("-inf"))
        for row in range(batch * beams):
            b, w = divmod(row, beams)
            node = nodes[b][w]
            if node < 0:
                continue  # dead beam
            if trie.item_at[node] is not None:  # finished early (codes of unequal length)
                allowed_mask[row, pad] = 0.0
                logp[row, pad] = 0.0
                continue
            allowed = trie.allowed(node, excluded[b])
            if allowed.numel():
                allowed_mask[row, allowed.to(device)] = 0.0
        total = (scores.reshape(-1, 1) + logp + allowed_mask).reshape(batch, beams * vocab)
        keep = min(width, beams * vocab)
        top_scores, top_idx = total.topk(keep, dim=-1)
        beam_idx = top_idx // vocab
        tokens = top_idx % vocab
        new_nodes = []
        for b in range(batch):
            row_nodes = []
            for j in range(keep):
                parent = nodes[b][int(beam_idx[b, j])]
                if not torch.isfinite(top_scores[b, j]) or parent < 0:
                    row_nodes.append(-1)
                elif trie.item_at[parent] is not None:
                    row_nodes.append(parent)
                else:
                    row_nodes.append(trie.children[parent][int(tokens[b, j])])
            new_nodes.append(row_nodes)
        nodes = new_nodes
        scores = top_scores
        gathered = torch.gather(
            prefixes, 1, beam_idx.unsqueeze(-1).expand(-1, -1, prefixes.shape[-1])
        )
        prefixes = torch.cat([gathered, tokens.unsqueeze(-1)], dim=-1)

    results = []
    for b in range(batch):
        ranked = []
        for j, node in enumerate(nodes[b]):
            if node >= 0 and trie.item_at[node] is not None:
                ranked.append((trie.item_at[node], float(scores[b, j])))
        results.append(ranked[:k])
    return results


def copying_steps(model, tokenizer, prompts: Sequence[str], max_len: int, separator: bool = True):
    """:func:`lmrec.decoding.steps.decoding_steps` as it was before the beams of a prompt
    shared its keys and values (commit 0ee7c39): a decoder-only model's prompt cache copied to
    every beam and copied again at each step's reorder; a T5's encoder states copied to every
    beam at fan-out. The "before" of ``benchmarks/shared_prompt.py``."""
    steps = decoding_steps(model, tokenizer, prompts, max_len, separator)
    if not is_causal(model):
        steps._rows_of = lambda rows: steps.hidden.index_select(0, rows.to(steps.hidden.device))
        return steps

    def copy_and_step(parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        logits = steps._extend(parents, tokens.unsqueeze(1))
        return torch.log_softmax(logits[:, -1], dim=-1)

    steps.next = copy_and_step
    return steps

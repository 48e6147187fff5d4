"""Generation that can only produce real catalogue items.

:class:`ItemTrie` holds the token-id sequence of every item; :func:`constrained_beam_search`
walks it, so every beam is a prefix of a real item and every answer is a real item, top-K
without duplicates, the user's seen items excluded on request. :func:`score_candidates` ranks a
given candidate list by the model's likelihood of each candidate in one batched pass.

The trie is stored as flat arrays (compressed sparse rows: each node's outgoing edges sorted by
token), built with numpy in O(items x depth) and walked with tensor operations only, so a
decoding step costs the same Python work for 10 beams as for 10,000 and a million-item
catalogue is a few arrays, not millions of dictionaries. Both encoder-decoder (T5) and
decoder-only (GPT-2, LLaMA) models decode through it; :mod:`lmrec.backbone.causal` says how a
decoder-only model sees the prompt.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase
from transformers.modeling_outputs import BaseModelOutput

from lmrec.backbone.causal import is_causal, prompt_ids, takes_logits_to_keep
from lmrec.indexing import ItemIndex


class ItemTrie:
    """A prefix tree over the token ids of every item in an index.

    Node 0 is the root; nodes are numbered level by level. ``edge_token[ptr[n]:ptr[n+1]]`` are
    the tokens that continue node ``n`` (sorted) and ``edge_child`` the nodes they lead to;
    ``item_of[n]`` is the item (row in ``items``) that ends at ``n``, or -1; ``leaves[n]``
    counts the items below ``n``.
    """

    def __init__(self, sequences: dict[str, Sequence[int]]):
        self.items: list[str] = list(sequences)
        self.row_of: dict[str, int] = {item: r for r, item in enumerate(self.items)}
        n = len(self.items)
        lengths = np.fromiter((len(s) for s in sequences.values()), dtype=np.int64, count=n)
        if n and lengths.min() < 1:
            empty = self.items[int(np.argmin(lengths))]
            raise ValueError(f"item {empty!r} has an empty code")
        self.depth = int(lengths.max()) if n else 0
        codes = np.full((n, self.depth), -1, dtype=np.int64)
        for r, seq in enumerate(sequences.values()):
            codes[r, : len(seq)] = seq
        if n and codes.min(initial=0) < -1:
            raise ValueError("token ids must be non-negative")
        self.codes = codes
        self.lengths = lengths
        self._build(codes, lengths)

    def _build(self, codes: np.ndarray, lengths: np.ndarray) -> None:
        n, depth = codes.shape
        order = np.lexsort(codes.T[::-1]) if n else np.zeros(0, dtype=np.int64)
        sorted_codes = codes[order]
        valid = sorted_codes >= 0
        # new[i, d]: row i starts a new prefix of length d + 1 (differs from row i - 1).
        differs = np.ones_like(valid)
        if n > 1:
            differs[1:] = sorted_codes[1:] != sorted_codes[:-1]
        new = np.logical_or.accumulate(differs, axis=1) & valid
        node_of = np.full((n, depth), -1, dtype=np.int64)
        edge_parent, edge_token, edge_child = [], [], []
        count = 1  # the root
        parent = np.zeros(n, dtype=np.int64)
        for d in range(depth):
            ids = count + np.cumsum(new[:, d]) - 1
            node_of[:, d] = np.where(valid[:, d], ids, -1)
            rows = np.flatnonzero(new[:, d])
            edge_parent.append(parent[rows])
            edge_token.append(sorted_codes[rows, d])
            edge_child.append(node_of[rows, d])
            count += len(rows)
            parent = np.where(valid[:, d], node_of[:, d], parent)
        self.num_nodes = count
        e_parent = np.concatenate(edge_parent) if depth else np.zeros(0, dtype=np.int64)
        e_token = np.concatenate(edge_token) if depth else np.zeros(0, dtype=np.int64)
        e_child = np.concatenate(edge_child) if depth else np.zeros(0, dtype=np.int64)
        leaf = node_of[np.arange(n), lengths[order] - 1] if n else np.zeros(0, dtype=np.int64)
        if len(np.unique(leaf)) != n:
            dup = np.flatnonzero(np.bincount(leaf) > 1)[0]
            twins = [self.items[order[i]] for i in np.flatnonzero(leaf == dup)]
            raise ValueError(f"items {twins[0]!r} and {twins[1]!r} have the same code")
        ptr = np.zeros(count + 1, dtype=np.int64)
        np.add.at(ptr, e_parent + 1, 1)
        ptr = np.cumsum(ptr)
        has_children = ptr[1:] > ptr[:-1]
        if n and has_children[leaf].any():
            bad = self.items[order[int(np.flatnonzero(has_children[leaf])[0])]]
            raise ValueError(f"item {bad!r}: its code is a prefix of another item's code")
        item_of = np.full(count, -1, dtype=np.int64)
        item_of[leaf] = order
        leaves = np.zeros(count, dtype=np.int64)
        leaves[0] = n
        flat = node_of[node_of >= 0]
        np.add.at(leaves, flat, 1)
        paths = np.full((n, depth), -1, dtype=np.int64)
        paths[order] = node_of
        self.vocab_bound = int(e_token.max()) + 1 if len(e_token) else 1
        self.ptr = torch.from_numpy(ptr)
        self.edge_token = torch.from_numpy(e_token)
        self.edge_child = torch.from_numpy(e_child)
        self.edge_key = torch.from_numpy(e_parent * self.vocab_bound + e_token)
        parent_of = np.full(count, -1, dtype=np.int64)
        parent_of[e_child] = e_parent
        token_of = np.full(count, -1, dtype=np.int64)
        token_of[e_child] = e_token
        self.parent_of = torch.from_numpy(parent_of)
        self.token_of = torch.from_numpy(token_of)
        self.item_of = torch.from_numpy(item_of)
        self.leaves = torch.from_numpy(leaves)
        self.paths = torch.from_numpy(paths)

    @classmethod
    def from_index(cls, index: ItemIndex, tokenizer: PreTrainedTokenizerBase) -> ItemTrie:
        ids = {}
        for item in index.items:
            code = index.code(item)
            token_ids = tokenizer.convert_tokens_to_ids(list(code))
            if tokenizer.unk_token_id is not None and tokenizer.unk_token_id in token_ids:
                raise ValueError(f"item {item!r}: id tokens {code} are not in the tokenizer")
            ids[item] = token_ids
        return cls(ids)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, item: object) -> bool:
        return item in self.row_of

    def tokens(self, item: str) -> list[int]:
        """The token ids of ``item``'s code; an unknown item is a clear error."""
        row = self.row_of.get(item)
        if row is None:
            raise KeyError(f"unknown item {item!r}: not in the model's item index")
        return self.codes[row, : self.lengths[row]].tolist()

    def nbytes(self) -> int:
        """Memory held by the trie's arrays (the item-name list and dict not counted)."""
        arrays = [self.codes, self.lengths]
        tensors = [self.ptr, self.edge_token, self.edge_child, self.edge_key, self.item_of]
        tensors += [self.leaves, self.paths, self.parent_of, self.token_of]
        return sum(a.nbytes for a in arrays) + sum(t.numel() * t.element_size() for t in tensors)

    def blocked_nodes(self, exclude: Sequence[Sequence[str]]) -> torch.Tensor:
        """Sorted keys ``example * num_nodes + node`` of the nodes whose every item is
        excluded for that example (unknown items are ignored)."""
        rows, examples = [], []
        for b, items in enumerate(exclude):
            known = {self.row_of[i] for i in items if i in self.row_of}
            rows.extend(known)
            examples.extend([b] * len(known))
        if not rows:
            return torch.zeros(0, dtype=torch.long)
        nodes = self.paths[torch.tensor(rows)]
        keys = torch.tensor(examples).unsqueeze(1) * self.num_nodes + nodes
        keys = keys[nodes >= 0]
        unique, counts = keys.unique(return_counts=True)
        full = counts == self.leaves[unique % self.num_nodes]
        return unique[full]

    def expand(self, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every outgoing edge of ``nodes`` (a 1-d tensor, -1 for none): for each edge, the
        position in ``nodes`` it belongs to, its token and its child node."""
        live = nodes >= 0
        safe = nodes.clamp(min=0)
        starts = self.ptr[safe]
        counts = torch.where(live, self.ptr[safe + 1] - starts, 0)
        owner = torch.repeat_interleave(torch.arange(len(nodes)), counts)
        first = torch.cumsum(counts, 0) - counts
        edge = starts[owner] + torch.arange(len(owner)) - first[owner]
        return owner, self.edge_token[edge], self.edge_child[edge]

    def child(self, nodes: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The child of each node along each token, -1 where there is no such edge."""
        if len(self.edge_key) == 0:
            return torch.full_like(nodes, -1)
        keys = nodes * self.vocab_bound + tokens
        pos = torch.searchsorted(self.edge_key, keys).clamp(max=len(self.edge_key) - 1)
        ok = (self.edge_key[pos] == keys) & (nodes >= 0) & (tokens < self.vocab_bound)
        return torch.where(ok, self.edge_child[pos], -1)


class _Seq2SeqSteps:
    """Next-token log-probabilities of an encoder-decoder, one decoder step at a time.

    The prompt is encoded once; the decoder keeps a key/value cache, so each step feeds only
    the newest token. The cross-attention keys and values are computed once per prompt and
    copied to its beams when they first fan out; after that, beams only move within their own
    prompt, so only the self-attention cache is reordered.
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
            device_rows = rows.to(self.hidden.device)
            self.row_hidden = self.hidden.index_select(0, device_rows)
            self.row_mask = self.mask.index_select(0, device_rows)
        self.rows = rows
        return self._decode(tokens)

    def sequence_logprobs(self, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-token log-probability of each target row (padded with -100) after its prompt
        ``rows[i]``, teacher-forced: the first token from one cached step per prompt, the rest
        in one pass over all rows that reuses each prompt's cross-attention keys and values."""
        first = self.first()[rows]
        out = first.gather(-1, targets[:, :1].clamp(min=0))
        if targets.shape[1] == 1:
            return out
        self.cache.reorder_cache(rows.to(self.hidden.device))
        device_rows = rows.to(self.hidden.device)
        result = self.model(
            encoder_outputs=BaseModelOutput(
                last_hidden_state=self.hidden.index_select(0, device_rows)
            ),
            attention_mask=self.mask.index_select(0, device_rows),
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
    and read once; the key/value cache is copied to the beams when they fan out, and each
    step feeds only the newest token. Where only the next token matters, the output layer runs
    on the last position alone (``logits_to_keep``): over a large id vocabulary it costs more
    than the rest of the model, once per prompt token.
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
        self, input_ids: torch.Tensor, positions: torch.Tensor, last: bool = False
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
            attention_mask=self.mask.to(device),
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
        positions = (self.prompt_mask.cumsum(1) - 1).clamp(min=0)
        logits = self._run(self.input_ids, positions, last=True)
        return torch.log_softmax(logits[:, -1], dim=-1)

    def _extend(
        self, parents: torch.Tensor, tokens: torch.Tensor, last: bool = False
    ) -> torch.Tensor:
        """Move the cache to rows ``parents`` and feed ``tokens`` (one row each) after them."""
        self.cache.reorder_cache(parents.to(self.model.device))
        start = self.next_position[parents]
        steps = tokens.shape[1]
        self.mask = torch.cat([self.mask[parents], torch.ones(len(parents), steps).long()], 1)
        self.next_position = start + steps
        return self._run(tokens, start.unsqueeze(1) + torch.arange(steps), last)

    def next(self, parents: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """Extend row ``parents[i]`` of the previous step by ``tokens[i]``; log-probabilities
        of the token after each extended row."""
        logits = self._extend(parents, tokens.unsqueeze(1), last=True)
        return torch.log_softmax(logits[:, -1], dim=-1)

    def sequence_logprobs(self, rows: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per-token log-probability of each target row (padded with -100) after its prompt:
        the prompts are read once, then every target in one pass over the copied cache."""
        first = self.first()[rows]
        out = first.gather(-1, targets[:, :1].clamp(min=0))
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

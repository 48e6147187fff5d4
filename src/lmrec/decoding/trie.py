"""The item trie: the token ids of every catalogue item as a prefix tree in flat arrays
(compressed sparse rows: each node's outgoing edges sorted by token), built with numpy in
O(items x depth) and walked with tensor operations only, so a decoding step costs the same Python
work for 10 beams as for 10,000 and a million-item catalogue is a few arrays, not millions of
dictionaries."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

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

    def row(self, item: str) -> int:
        """``item``'s row (in :attr:`items`, :attr:`codes`); an unknown item is a clear error."""
        row = self.row_of.get(item)
        if row is None:
            raise KeyError(f"unknown item {item!r}: not in the model's item index")
        return row

    def tokens(self, item: str) -> list[int]:
        """The token ids of ``item``'s code; an unknown item is a clear error."""
        row = self.row(item)
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

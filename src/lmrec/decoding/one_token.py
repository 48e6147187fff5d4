"""Top-k items in one forward pass, for a decoder-only model whose item ids are one token each
and whose answer continues the prompt directly (the ``sequence`` objective).

There the trie beam search (:func:`~lmrec.decoding.beam.constrained_beam_search`) takes a
single step: its scores are the log-softmax of the last position's logits, read at the item
tokens. :func:`rank_one_token_items` computes exactly that without the text: token ids built
from the trie (:func:`one_token_sequences`), the model's trunk on right-padded rows (so plain
causal attention, no padding mask: a real position never sees the padding after it), the
output layer on each row's last real position only, one masked top-k. Same items and scores
(to float rounding) as the beam search. :func:`score_one_token_candidates` reads candidates'
log-probabilities from the same pass (what teacher-forced candidate scoring gives).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import torch
from transformers import PreTrainedModel

from lmrec.backbone.causal import is_causal
from lmrec.decoding.trie import ItemTrie

__all__ = [
    "item_logits",
    "item_logprobs",
    "length_groups",
    "one_token_sequences",
    "rank_one_token_items",
    "ranks_in_one_pass",
    "score_one_token_candidates",
]


def ranks_in_one_pass(model: PreTrainedModel, trie: ItemTrie) -> bool:
    """Whether :func:`rank_one_token_items` applies: a decoder-only model with a plain output
    head (no logit soft-capping after it) and one token per item."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return (
        trie.depth == 1
        and len(trie) > 0
        and is_causal(base)
        and base.get_output_embeddings() is not None
        and getattr(base.config, "final_logit_softcapping", None) is None
    )


def one_token_sequences(
    histories: Sequence[Sequence[str]],
    trie: ItemTrie,
    start: int,
    max_history: int,
    max_len: int,
) -> list[list[int]]:
    """``<start> i1 ... in`` as token ids, straight from the trie: what tokenising
    :func:`~lmrec.tasks.sequential.sequence_text` gives (the most recent ``max_history`` known
    items, 0 = all; at most ``max_len`` tokens, the start cut first, as
    :func:`~lmrec.backbone.causal.prompt_ids` cuts)."""
    row_of, tokens = trie.row_of, trie.codes[:, 0].tolist()
    keep = max(max_len, 1)
    sequences = []
    for items in histories:
        known = [tokens[row_of[i]] for i in items if i in row_of]
        if max_history > 0:
            known = known[-max_history:]
        ids = [start, *known]
        sequences.append(ids[len(ids) - keep :] if len(ids) > keep else ids)
    return sequences


def length_groups(
    rows: Sequence[int], lengths: Sequence[int], batch_size: int, growth: float = 2.0
) -> list[list[int]]:
    """``rows`` (sorted by their ``lengths``, shortest first) cut into forward batches of at most
    ``batch_size`` rows, a batch ending where the next row is longer than ``growth`` times its
    first row: a batch pads its rows to its longest, so short histories sharing a batch with long
    ones would cost the long ones' positions (a sample of Beauty histories runs from 4 to 50
    items, most under 10). At most half of a batch's positions are padding."""
    groups: list[list[int]] = []
    first = 0  # the current batch's first (shortest) length
    for row, length in zip(rows, lengths, strict=True):
        if groups and len(groups[-1]) < batch_size and length <= growth * first:
            groups[-1].append(row)
        else:
            groups.append([row])
            first = length
    return groups


def item_logits(
    model: PreTrainedModel,
    trie: ItemTrie,
    sequences: Sequence[Sequence[int]],
    pad: int = 0,
    batch_size: int = 128,
) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """``(rows, logits, norm)`` per forward batch: the indices of the batch's ``sequences``;
    for each, the logit of every item (columns in trie row order) after its last token, a
    tensor of its own that the caller may change; and the log of the softmax's normaliser over
    the whole vocabulary, so that ``logits - norm[:, None]`` are the items' log-probabilities.
    Ranking needs no log-softmax over the vocabulary: a top-k of the logits, then the
    normaliser subtracted from k values (a seventh of a Beauty ranking pass was that
    log-softmax's vocabulary-wide output).

    Rows are batched by length (:func:`length_groups`), right-padded (so plain causal
    attention, no padding mask: a real position never sees the padding after it); the output
    layer runs on each row's last real position only."""
    model.eval()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    trunk, head = base.base_model, base.get_output_embeddings()
    device = base.device
    item_tokens = torch.as_tensor(trie.codes[:, 0])
    first = int(item_tokens[0]) if len(item_tokens) else 0
    contiguous = torch.equal(item_tokens, torch.arange(first, first + len(item_tokens)))
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    for rows in length_groups(order, [len(sequences[i]) for i in order], batch_size):
        lengths = torch.tensor([len(sequences[i]) for i in rows])
        width = int(lengths.max())
        input_ids = torch.tensor(
            [[*sequences[i], *[pad] * (width - len(sequences[i]))] for i in rows]
        )
        with torch.no_grad():
            hidden = trunk(input_ids=input_ids.to(device), use_cache=False).last_hidden_state
            last = hidden[torch.arange(len(rows), device=device), (lengths - 1).to(device)]
            logits = head(last).float().cpu()
            norm = torch.logsumexp(logits, dim=-1)
        items = (
            logits[:, first : first + len(item_tokens)] if contiguous else logits[:, item_tokens]
        )
        yield rows, items, norm


def item_logprobs(
    model: PreTrainedModel,
    trie: ItemTrie,
    sequences: Sequence[Sequence[int]],
    pad: int = 0,
    batch_size: int = 128,
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """``(rows, logp)`` per forward batch: the indices of the batch's ``sequences`` and, for
    each, the log-probability of every item (columns in trie row order) after its last token
    (:func:`item_logits`)."""
    for rows, logits, norm in item_logits(model, trie, sequences, pad, batch_size):
        yield rows, logits - norm[:, None]


def rank_one_token_items(
    model: PreTrainedModel,
    trie: ItemTrie,
    sequences: Sequence[Sequence[int]],
    k: int,
    exclude: Sequence[Sequence[str]] | None = None,
    pad: int = 0,
    batch_size: int = 128,
) -> list[list[tuple[str, float]]]:
    """Top-``k`` items after each token sequence with their log-probabilities, best first
    (items whose every row is excluded, or fewer than ``k`` left, give shorter lists), from
    :func:`item_logprobs`; ``exclude`` gives, per sequence, items that may not be returned."""
    if k < 1:
        raise ValueError("k must be at least 1")
    k = min(k, len(trie))
    results: list[list[tuple[str, float]]] = [[] for _ in sequences]
    for rows, scores, norm in item_logits(model, trie, sequences, pad, batch_size):
        if exclude is not None:
            seen = [
                (r, trie.row_of[x])
                for r, i in enumerate(rows)
                for x in exclude[i]
                if x in trie.row_of
            ]
            if seen:
                scores[tuple(torch.tensor(seen).T)] = -math.inf
        top_scores, top_rows = scores.topk(k, dim=-1)
        top_scores = top_scores - norm[:, None]  # log-probabilities (-inf stays -inf)
        for r, values, items in zip(rows, top_scores.tolist(), top_rows.tolist(), strict=True):
            results[r] = [
                (trie.items[j], v) for j, v in zip(items, values, strict=True) if v != -math.inf
            ]
    return results


def score_one_token_candidates(
    model: PreTrainedModel,
    trie: ItemTrie,
    sequences: Sequence[Sequence[int]],
    candidates: Sequence[Sequence[str]],
    pad: int = 0,
    batch_size: int = 128,
) -> list[list[float]]:
    """The log-probability of each sequence's candidates (what
    :func:`~lmrec.decoding.beam.score_candidates` gives for one-token ids, to float rounding),
    read from :func:`item_logprobs`: one forward pass per history, however many candidates.
    An unknown candidate is a clear error."""
    if len(sequences) != len(candidates):
        raise ValueError("one candidate list per prompt is needed")
    columns = [[trie.row(item) for item in cands] for cands in candidates]
    result: list[list[float]] = [[] for _ in sequences]
    wanted = [i for i, cols in enumerate(columns) if cols]
    for rows, logp in item_logprobs(model, trie, [sequences[i] for i in wanted], pad, batch_size):
        for r, i in enumerate(rows):
            index = wanted[i]
            result[index] = logp[r, columns[index]].tolist()
    return result

"""The network of SASRec (Kang & McAuley 2018): item and position embeddings, causal
self-attention blocks, and item scores as dot products with the (tied) item embeddings."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from lmrec.baselines.sasrec import SASRecConfig

PAD = 0  # index 0 is padding; catalogue item i has index i + 1


class SelfAttentionBlock(nn.Module):
    """Pre-norm causal self-attention and a point-wise feed-forward layer, as in SASRec."""

    def __init__(self, hidden: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.dropout = dropout
        self.attention_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.query = nn.Linear(hidden, hidden)
        self.key_value = nn.Linear(hidden, 2 * hidden)
        self.out = nn.Linear(hidden, hidden)
        self.feed_forward_norm = nn.LayerNorm(hidden, eps=1e-8)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden, hidden),
            nn.Dropout(dropout),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.Dropout(dropout),
        )

    def forward(self, x: torch.Tensor, attend: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        normed = self.attention_norm(x)
        # As in the reference code, queries come from the normalised input, keys and values
        # from the raw one, and the residual adds the normalised input.
        k, v = self.key_value(x).split(hidden, dim=-1)
        q = self.query(normed)
        heads = [t.view(batch, length, self.num_heads, -1).transpose(1, 2) for t in (q, k, v)]
        attended = F.scaled_dot_product_attention(
            *heads, attn_mask=attend, dropout_p=self.dropout if self.training else 0.0
        )
        attended = attended.transpose(1, 2).reshape(batch, length, hidden)
        x = normed + self.out(attended)
        x = self.feed_forward_norm(x)
        return x + self.feed_forward(x)


class SASRecNetwork(nn.Module):
    """Item + position embeddings, causal blocks, a final norm: one hidden state per position."""

    def __init__(self, n_items: int, config: SASRecConfig) -> None:
        super().__init__()
        self.hidden = config.hidden
        self.items = nn.Embedding(n_items + 1, config.hidden, padding_idx=PAD)
        self.positions = nn.Embedding(config.max_len, config.hidden)
        self.embedding_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            SelfAttentionBlock(config.hidden, config.num_heads, config.dropout)
            for _ in range(config.num_blocks)
        )
        self.final_norm = nn.LayerNorm(config.hidden, eps=1e-8)
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1:
                nn.init.xavier_normal_(parameter)
            elif name.endswith("bias"):
                nn.init.zeros_(parameter)
        with torch.no_grad():
            self.items.weight[PAD].zero_()

    def forward(self, sequences: torch.Tensor) -> torch.Tensor:
        """Hidden states ``(batch, length, hidden)`` of left-padded index ``sequences``."""
        length = sequences.shape[1]
        real = (sequences != PAD).unsqueeze(-1)
        x = self.items(sequences) * math.sqrt(self.hidden)
        x = x + self.positions.weight[-length:]
        x = self.embedding_dropout(x) * real
        # Causal attention to real items only; a padding position attends to itself so that no
        # row of the mask is empty (its output is zeroed anyway).
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).tril()
        eye = torch.eye(length, dtype=torch.bool, device=x.device)
        attend = (causal & real.transpose(1, 2)) | eye
        attend = attend.unsqueeze(1)
        for block in self.blocks:
            x = block(x, attend) * real
        return self.final_norm(x)

    def item_scores(self, hidden: torch.Tensor) -> torch.Tensor:
        """Dot products of hidden states with every catalogue item (padding excluded)."""
        return hidden @ self.items.weight[1:].T

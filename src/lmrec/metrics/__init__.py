"""Evaluation metrics as small pure functions of ranked lists and relevant sets."""

from lmrec.metrics.ranking import hit_rate_at_k, mrr, ndcg_at_k, ranking_metrics, recall_at_k

__all__ = [
    "hit_rate_at_k",
    "mrr",
    "ndcg_at_k",
    "ranking_metrics",
    "recall_at_k",
]

"""Text-generation metrics: corpus BLEU-4 and ROUGE-1/2/L as small pure functions.

Both tokenise like ``rouge-score`` (lowercase, every run of non-alphanumeric characters is a
separator), so the numbers do not depend on a model's tokenizer. BLEU follows ``sacrebleu``'s
corpus BLEU with its default ``exp`` smoothing (one reference per hypothesis); ROUGE gives the
F-measure of ``rouge-score``'s ``rouge1``/``rouge2``/``rougeL`` (sentence-level LCS), averaged
over pairs. Scores are on a 0-100 scale, as P5 reports them. Parity with both reference
libraries is tested in ``tests/metrics/test_text.py``.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

__all__ = ["bleu4", "rouge_l", "rouge_n", "text_metrics", "tokenize"]

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def tokenize(text: str) -> list[str]:
    """Lowercased alphanumeric tokens (``rouge-score``'s tokenizer without stemming)."""
    return [t for t in _NON_ALNUM.sub(" ", text.lower()).split() if t]


def _ngrams(tokens: Sequence[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def _check_pairs(hypotheses: Sequence[str], references: Sequence[str]) -> None:
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not hypotheses:
        raise ValueError("no texts to score")


def bleu4(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU-4 (0-100): clipped n-gram precisions pooled over the corpus, geometric
    mean with exponential smoothing of zero counts, times the brevity penalty."""
    _check_pairs(hypotheses, references)
    correct = [0] * 4
    total = [0] * 4
    sys_len = ref_len = 0
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, r = tokenize(hyp), tokenize(ref)
        sys_len += len(h)
        ref_len += len(r)
        for n in range(1, 5):
            hc, rc = _ngrams(h, n), _ngrams(r, n)
            correct[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(0, len(h) - n + 1)
    if not any(correct):
        return 0.0
    penalty = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len else 0.0)
    logs = []
    smooth = 1.0
    for c, t in zip(correct, total, strict=True):
        if t == 0:
            logs.append(float("-inf"))  # sacrebleu stops here: precision 0, BLEU 0
            break
        if c == 0:
            smooth *= 2
            logs.append(math.log(100.0 / (smooth * t)))
        else:
            logs.append(math.log(100.0 * c / t))
    logs += [float("-inf")] * (4 - len(logs))
    if any(v == float("-inf") for v in logs):
        return 0.0
    return penalty * math.exp(sum(logs) / 4)


def _f1(overlap: int, hyp_count: int, ref_count: int) -> float:
    if overlap == 0 or hyp_count == 0 or ref_count == 0:
        return 0.0
    precision, recall = overlap / hyp_count, overlap / ref_count
    return 2 * precision * recall / (precision + recall)


def rouge_n(hypotheses: Sequence[str], references: Sequence[str], n: int) -> float:
    """Mean ROUGE-N F-measure (0-100) over hypothesis/reference pairs."""
    _check_pairs(hypotheses, references)
    scores = []
    for hyp, ref in zip(hypotheses, references, strict=True):
        hc, rc = _ngrams(tokenize(hyp), n), _ngrams(tokenize(ref), n)
        overlap = sum(min(c, rc[g]) for g, c in hc.items())
        scores.append(_f1(overlap, sum(hc.values()), sum(rc.values())))
    return 100.0 * sum(scores) / len(scores)


def _lcs(a: Sequence[str], b: Sequence[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def rouge_l(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Mean ROUGE-L F-measure (0-100): longest common subsequence of tokens, per pair."""
    _check_pairs(hypotheses, references)
    scores = []
    for hyp, ref in zip(hypotheses, references, strict=True):
        h, r = tokenize(hyp), tokenize(ref)
        scores.append(_f1(_lcs(h, r), len(h), len(r)))
    return 100.0 * sum(scores) / len(scores)


def text_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """BLEU-4 and ROUGE-1/2/L of generated texts against one reference each."""
    return {
        "BLEU-4": bleu4(hypotheses, references),
        "ROUGE-1": rouge_n(hypotheses, references, 1),
        "ROUGE-2": rouge_n(hypotheses, references, 2),
        "ROUGE-L": rouge_l(hypotheses, references),
    }

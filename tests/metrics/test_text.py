"""BLEU-4 and ROUGE against sacrebleu and rouge-score on fixed text, and hand-computed cases."""

from __future__ import annotations

import pytest
import sacrebleu
from rouge_score import rouge_scorer

from lmrec.metrics.text import bleu4, rouge_l, rouge_n, text_metrics, tokenize

HYPOTHESES = [
    "The strap is comfortable and the leather feels sturdy.",
    "great tuner, easy to read on stage",
    "It works",
    "Cheap cable; it broke after two weeks!",
    "the sound is warm and clear",
]
REFERENCES = [
    "The leather strap is very comfortable.",
    "Easy to read tuner, great for the stage.",
    "works well for the price",
    "The cable broke after two weeks of use.",
    "Warm, clear sound with little noise.",
]


def _joined(texts):
    return [" ".join(tokenize(t)) for t in texts]


def test_bleu_matches_sacrebleu():
    expected = sacrebleu.corpus_bleu(
        _joined(HYPOTHESES), [_joined(REFERENCES)], tokenize="none"
    ).score
    assert bleu4(HYPOTHESES, REFERENCES) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("n", [1, 2])
def test_rouge_n_matches_rouge_score(n):
    scorer = rouge_scorer.RougeScorer([f"rouge{n}"])
    scores = [
        scorer.score(r, h)[f"rouge{n}"].fmeasure
        for h, r in zip(HYPOTHESES, REFERENCES, strict=True)
    ]
    assert rouge_n(HYPOTHESES, REFERENCES, n) == pytest.approx(100 * sum(scores) / len(scores))


def test_rouge_l_matches_rouge_score():
    scorer = rouge_scorer.RougeScorer(["rougeL"])
    scores = [
        scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(HYPOTHESES, REFERENCES, strict=True)
    ]
    assert rouge_l(HYPOTHESES, REFERENCES) == pytest.approx(100 * sum(scores) / len(scores))


def test_hand_computed_cases():
    assert bleu4(["a b c d"], ["a b c d"]) == pytest.approx(100.0)
    assert bleu4(["x y"], ["a b c d"]) == 0.0
    assert bleu4([""], ["a b"]) == 0.0
    # ROUGE-1: overlap 2 of 3 hypothesis / 4 reference tokens: F = 2*(2/3)(1/2)/(2/3+1/2)
    assert rouge_n(["a b z"], ["a b c d"], 1) == pytest.approx(100 * 4 / 7)
    # LCS of "a c b" and "a b c" is 2: same F as above with 3 and 3 tokens: 2/3
    assert rouge_l(["a c b"], ["a b c"]) == pytest.approx(100 * 2 / 3)
    assert set(text_metrics(["a"], ["a"])) == {"BLEU-4", "ROUGE-1", "ROUGE-2", "ROUGE-L"}


def test_mismatched_or_empty_inputs_fail():
    with pytest.raises(ValueError):
        bleu4(["a"], [])
    with pytest.raises(ValueError):
        rouge_l([], [])

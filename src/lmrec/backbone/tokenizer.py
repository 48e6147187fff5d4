"""A tokenizer trained on the data's own text for models built from a config (unigram or BPE,
same normalisation and word splitting), item id tokens added whole, and the unknown-token rate
that shows whether a tokenizer covers a catalogue's script."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Sequence

from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

# Characters every built tokenizer knows, so punctuation and digits never become <unk>
# even when the training corpus lacks them. Arabic letters come from the corpus itself.
_BASE_ALPHABET = list(string.ascii_letters + string.digits + string.punctuation) + [
    "،",  # Arabic comma
    "؛",
    "؟",
]


# Separators of the lists prompts are made of (item names joined by ", " or the Arabic "، ").
LIST_SEPARATORS = ",،;؛"


TOKENIZERS = ("unigram", "bpe")
"""Algorithms of a tokenizer trained on the data (scratch models)."""


def check_tokenizer_algorithm(algorithm: str) -> None:
    """A clear error for an algorithm that is not in :data:`TOKENIZERS`."""
    if algorithm not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer {algorithm!r} (known: {', '.join(TOKENIZERS)})")


def build_tokenizer(
    corpus: Iterable[str],
    vocab_size: int = 2000,
    algorithm: str = "unigram",
    *,
    isolate_separators: bool = False,
) -> PreTrainedTokenizerFast:
    """Train a tokenizer on the data's own text: SentencePiece-style ``"unigram"`` (like T5's)
    or byte-pair ``"bpe"`` (same normalisation and word splitting).

    The corpus should hold every template and every item name/description, in every language
    the model will see, so that no script of the catalogue falls to ``<unk>``. On a small
    corpus the unigram trainer keeps few pieces (~200 of a 1,000 asked for on the T5-P5 sports
    prompts) and splits even the most frequent words into letters (Arabic "كرة", ball: 3
    pieces; "Soccer": 4); BPE merges every frequent word whole (Arabic names 2.6 tokens each
    instead of 7.5, English 2.0 instead of 3.7).

    By default a list separator is glued to the word before it, so a name listed in a prompt
    ends in another token than the same name alone (``▁Jersey,`` / ``▁Jersey``; Arabic names
    end with their sport word: ``▁القدم،`` / ``▁القدم``). ``isolate_separators`` makes each of
    :data:`LIST_SEPARATORS` a token of its own, so a name tokenizes alike in a list, alone and
    as a decoder writes it. Measured with the named model (``python -m benchmarks.languages``), it
    raises HR@1 on the T5-P5 sports lists in both languages but lowers it on the built-in
    shop, hence off by default.

    An empty corpus (a model that reads id tokens alone, added afterwards) gives the special
    tokens and the base alphabet's characters only.
    """
    check_tokenizer_algorithm(algorithm)
    special = ["<pad>", "</s>", "<unk>"]
    if algorithm == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            initial_alphabet=_BASE_ALPHABET,
            show_progress=False,
        )
    else:
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size,
            special_tokens=special,
            unk_token="<unk>",
            initial_alphabet=_BASE_ALPHABET,
            show_progress=False,
        )
    tok.normalizer = normalizers.NFKC()
    pre_tokenizer = pre_tokenizers.Metaspace()
    if isolate_separators:
        isolated = pre_tokenizers.Split(Regex(f"[{LIST_SEPARATORS}]"), behavior="isolated")
        pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizer, isolated])
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.Metaspace()
    texts = list(corpus)
    if not texts and algorithm == "unigram":
        texts = [" ".join(_BASE_ALPHABET)]  # the unigram trainer fails on no text at all
    tok.train_from_iterator(texts, trainer)
    if algorithm == "unigram":
        tok = _canonical_order(tok)
    eos = tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A $B </s>", special_tokens=[("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


def _canonical_order(tok: Tokenizer) -> Tokenizer:
    """The unigram trainer returns the same pieces in a run-dependent order (it is
    multi-threaded); sort them so the same data always gives the same token ids."""
    spec = json.loads(tok.to_str())
    vocab = spec["model"]["vocab"]
    special, rest = vocab[:3], vocab[3:]
    # Scores also wobble in the last digits between runs: round them, order pieces by text.
    rest = sorted([piece, round(score, 6)] for piece, score in rest)
    spec["model"]["vocab"] = special + rest
    return Tokenizer.from_str(json.dumps(spec))


def add_id_tokens(tokenizer: PreTrainedTokenizerFast, tokens: Sequence[str]) -> int:
    """Add item id tokens as whole tokens; surrounding spaces are absorbed, so a history
    ``<item_1> <item_2>`` costs two tokens. Returns how many were new."""
    added = [AddedToken(t, lstrip=True, rstrip=True, normalized=False) for t in tokens]
    return tokenizer.add_tokens(added)


def unknown_token_rate(tokenizer: PreTrainedTokenizerFast, texts: Iterable[str]) -> float:
    """Share of produced tokens that are ``<unk>``: how badly a tokenizer covers some text."""
    unk = tokenizer.unk_token_id
    total = hits = 0
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False).input_ids
        total += len(ids)
        hits += sum(1 for i in ids if i == unk)
    return hits / total if total else 0.0

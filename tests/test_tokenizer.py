"""Tokenizers trained on the data: both algorithms cover Arabic and English, are deterministic,
and BPE keeps frequent words whole where the unigram trainer splits them on small corpora."""

from __future__ import annotations

import pytest

from lmrec.backbone.tokenizer import build_tokenizer, unknown_token_rate

CORPUS = [
    "اشترى المستخدم قميص كرة القدم، كرة القدم، مرابط كرة القدم . اختر المنتج التالي",
    "اشترى المستخدم قميص كرة السلة، كرة السلة، حذاء كرة السلة . اختر المنتج التالي",
    "The user bought Soccer Jersey, Soccer Ball, Soccer Cleats . Choose the next item",
    "The user bought Basketball Jersey, Basketball, Basketball Shoes . Choose the next item",
] * 40


def _pieces(tokenizer, text: str) -> list[str]:
    return tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False).input_ids)


def test_bpe_keeps_frequent_words_whole_in_both_scripts():
    tokenizer = build_tokenizer(CORPUS, vocab_size=500, algorithm="bpe")
    assert _pieces(tokenizer, "كرة القدم") == ["▁كرة", "▁القدم"]
    assert _pieces(tokenizer, "Soccer Cleats") == ["▁Soccer", "▁Cleats"]
    assert tokenizer("كرة").input_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(tokenizer("مرابط كرة القدم").input_ids, skip_special_tokens=True) == (
        "مرابط كرة القدم"
    )


def test_by_default_a_list_separator_is_glued_to_the_name_before_it():
    tokenizer = build_tokenizer(CORPUS, vocab_size=500, algorithm="bpe")
    assert _pieces(tokenizer, "قميص كرة القدم، كرة القدم") == [
        "▁قميص",
        "▁كرة",
        "▁القدم،",
        "▁كرة",
        "▁القدم",
    ]
    assert _pieces(tokenizer, "Soccer Jersey, Soccer Cleats") == [
        "▁Soccer",
        "▁Jersey,",
        "▁Soccer",
        "▁Cleats",
    ]


@pytest.mark.parametrize("algorithm", ["unigram", "bpe"])
def test_isolated_separators_make_a_listed_name_tokenize_as_it_does_alone(algorithm):
    # The comma stands alone (it is not glued to the name's last word), in both scripts, and
    # decoding gives the text back as written.
    tokenizer = build_tokenizer(
        CORPUS, vocab_size=500, algorithm=algorithm, isolate_separators=True
    )
    for names, separator in (
        (["قميص كرة القدم", "كرة القدم", "مرابط كرة القدم"], "، "),
        (["Soccer Jersey", "Soccer Ball", "Soccer Cleats"], ", "),
    ):
        listed = _pieces(tokenizer, separator.join(names))
        expected = []
        for name in names:
            expected += [*_pieces(tokenizer, name), separator.strip()]
        assert listed == expected[:-1]
        ids = tokenizer(separator.join(names)).input_ids
        assert tokenizer.decode(ids, skip_special_tokens=True) == separator.join(names)
    semicolons = [*_pieces(tokenizer, "القدم"), "؛", *_pieces(tokenizer, "Jersey"), ";"]
    assert _pieces(tokenizer, "القدم؛ Jersey;") == semicolons
    if algorithm == "bpe":
        assert _pieces(tokenizer, "كرة القدم، كرة") == ["▁كرة", "▁القدم", "،", "▁كرة"]


@pytest.mark.parametrize("algorithm", ["unigram", "bpe"])
def test_both_algorithms_cover_the_corpus_and_are_deterministic(algorithm):
    first = build_tokenizer(CORPUS, vocab_size=500, algorithm=algorithm)
    again = build_tokenizer(list(reversed(CORPUS)), vocab_size=500, algorithm=algorithm)
    assert unknown_token_rate(first, CORPUS) == 0.0
    # The same pieces with the same ids every time (the unigram trainer is multi-threaded).
    assert first.get_vocab() == build_tokenizer(CORPUS, 500, algorithm).get_vocab()
    assert unknown_token_rate(again, ["كرة القدم Soccer"]) == 0.0


@pytest.mark.parametrize(("algorithm", "size"), [("unigram", 101), ("bpe", 100)])
def test_an_empty_corpus_gives_the_special_tokens_and_the_alphabet(algorithm, size):
    tokenizer = build_tokenizer([], vocab_size=500, algorithm=algorithm)
    assert len(tokenizer) == size  # <pad>, </s>, <unk> and the base alphabet's characters
    assert tokenizer.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "</s>", "<unk>"]
    assert (
        tokenizer.convert_ids_to_tokens(tokenizer("a", add_special_tokens=False).input_ids)[-1]
        == "a"
    )


def test_unknown_algorithm_is_refused():
    with pytest.raises(ValueError, match="unknown tokenizer 'wordpiece'"):
        build_tokenizer(CORPUS, algorithm="wordpiece")


def test_models_build_their_tokenizer_with_the_configured_algorithm():
    from dataclasses import replace

    from lm_fixtures import cycle_split, tiny_config

    from lmrec.recommenders.lm import LMConfig, LMRecommender
    from lmrec.recommenders.named import NamedConfig

    split = cycle_split(n_users=10)
    rec = LMRecommender(replace(tiny_config(), tokenizer="bpe")).fit(split)
    assert type(rec.tokenizer.backend_tokenizer.model).__name__ == "BPE"
    assert len(rec.recommend([["i1", "i2"]], k=3)[0]) == 3
    assert LMConfig.from_dict(rec.config.to_dict()).tokenizer == "bpe"
    assert NamedConfig.from_dict(NamedConfig(tokenizer="bpe").to_dict()).tokenizer == "bpe"
    for make in (LMConfig, NamedConfig):
        with pytest.raises(ValueError, match="unknown tokenizer"):
            make(tokenizer="sentencepiece")

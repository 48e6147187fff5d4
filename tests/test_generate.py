"""The item trie and the searches over it, checked against exhaustive scoring.

With at least as many beams as items, beam search never prunes, so its top-k must be exactly
the items ranked by their teacher-forced log-likelihood (``score_candidates``). That holds for
encoder-decoder and decoder-only models, for codes of unequal length and with exclusions.
"""

from __future__ import annotations

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, T5Config, T5ForConditionalGeneration

from lmrec.backbone.causal import prompt_ids
from lmrec.backbone.tokenizer import build_tokenizer
from lmrec.decoding.beam import constrained_beam_search, score_candidates
from lmrec.decoding.steps import decoding_steps
from lmrec.decoding.trie import ItemTrie

CODES = {
    "a": [7, 3],
    "b": [7, 4],
    "c": [9],
    "d": [5, 3, 8],
    "e": [5, 3, 6],
    "f": [5, 4],
}
PROMPTS = ["the user bought a and then b", "c", "a user who likes d and e a lot"]


def test_trie_arrays_are_exact():
    trie = ItemTrie(CODES)
    # Level 1: 5, 7, 9; level 2: (5,3), (5,4), (7,3), (7,4); level 3: (5,3,6), (5,3,8).
    assert trie.num_nodes == 10
    assert trie.ptr.tolist() == [0, 3, 5, 7, 7, 9, 9, 9, 9, 9, 9]
    assert trie.edge_token.tolist() == [5, 7, 9, 3, 4, 3, 4, 6, 8]
    assert trie.edge_child.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert [trie.items[i] if i >= 0 else None for i in trie.item_of.tolist()] == [
        None, None, None, "c", None, "f", "a", "b", "e", "d",
    ]  # fmt: skip
    assert trie.leaves.tolist() == [6, 3, 2, 1, 2, 1, 1, 1, 1, 1]
    assert trie.paths[trie.row_of["d"]].tolist() == [1, 4, 9]
    assert trie.tokens("e") == [5, 3, 6]
    assert trie.child(torch.tensor([0, 0, 4, 4, -1]), torch.tensor([5, 6, 8, 99, 5])).tolist() == [
        1, -1, 9, -1, -1,
    ]  # fmt: skip
    owner, tokens, children = trie.expand(torch.tensor([4, -1, 0, 3]))
    assert owner.tolist() == [0, 0, 2, 2, 2]
    assert tokens.tolist() == [6, 8, 5, 7, 9]
    assert children.tolist() == [8, 9, 1, 2, 3]


def test_blocked_nodes_are_those_with_every_item_excluded():
    trie = ItemTrie(CODES)
    blocked = trie.blocked_nodes([["d", "e", "zzz"], ["a"], []])
    n = trie.num_nodes
    # Example 0: d, e exclude nodes 8, 9 and their parent 4 (both its items), not node 1.
    # Example 1: a excludes node 6 only.
    assert blocked.tolist() == [4, 8, 9, n + 6]


@pytest.mark.parametrize(
    "codes, message",
    [
        ({"x": [1, 2], "y": [1]}, "prefix"),
        ({"x": [1, 2], "y": [1, 2]}, "same code"),
        ({"x": []}, "empty code"),
    ],
)
def test_bad_codes_are_clear_errors(codes, message):
    with pytest.raises(ValueError, match=message):
        ItemTrie(codes)


def test_unknown_item_is_a_clear_error():
    with pytest.raises(KeyError, match="unknown item 'zzz'"):
        ItemTrie(CODES).tokens("zzz")


def _tokenizer():
    return build_tokenizer(PROMPTS * 3, vocab_size=150)


def _t5(vocab: int, tokenizer):
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=vocab, d_model=32, d_ff=64, d_kv=8, num_layers=1, num_heads=4,
        decoder_start_token_id=tokenizer.pad_token_id, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return T5ForConditionalGeneration(config).eval()


def _decoder(config_class, model_class, vocab: int, tokenizer, **sizes):
    """A one-layer decoder-only model, initialised with seed 0, using the tokenizer's pad and
    end-of-sequence ids (the end also begins, as in GPT-2)."""
    torch.manual_seed(0)
    config = config_class(
        vocab_size=vocab, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id, bos_token_id=tokenizer.eos_token_id, **sizes,
    )  # fmt: skip
    return model_class(config).eval()


def _gpt(vocab: int, tokenizer):
    sizes = {"n_embd": 32, "n_layer": 1, "n_head": 4, "n_positions": 128}
    return _decoder(GPT2Config, GPT2LMHeadModel, vocab, tokenizer, **sizes)


@pytest.mark.parametrize("build", [_t5, _gpt], ids=["t5", "gpt2"])
def test_wide_beam_search_equals_exhaustive_scoring(build):
    tokenizer = _tokenizer()
    model = build(len(tokenizer), tokenizer)
    trie = ItemTrie(CODES)
    items = sorted(CODES)
    exclude = [["a"], [], ["d", "e", "f"]]
    scores = score_candidates(model, tokenizer, trie, PROMPTS, [items] * len(PROMPTS))
    ranked = constrained_beam_search(
        model, tokenizer, trie, PROMPTS, k=4, num_beams=len(items), exclude=exclude
    )
    for row, (found, allowed) in enumerate(zip(ranked, exclude, strict=True)):
        expected = sorted(
            ((i, s) for i, s in zip(items, scores[row], strict=True) if i not in allowed),
            key=lambda pair: -pair[1],
        )[:4]
        assert [i for i, _ in found] == [i for i, _ in expected]
        for (_, got), (_, want) in zip(found, expected, strict=True):
            assert got == pytest.approx(want, abs=1e-4)


def test_everything_excluded_gives_nothing():
    tokenizer = _tokenizer()
    model = _t5(len(tokenizer), tokenizer)
    ranked = constrained_beam_search(
        model, tokenizer, ItemTrie(CODES), PROMPTS[:1], k=3, exclude=[sorted(CODES)]
    )
    assert ranked == [[]]


def test_causal_prompt_keeps_the_end_of_a_long_prompt():
    tokenizer = _tokenizer()
    full = prompt_ids(tokenizer, PROMPTS[0], 512)
    assert full[-1] == tokenizer.eos_token_id
    assert prompt_ids(tokenizer, PROMPTS[0], 4) == full[-4:]


def test_candidate_scores_equal_a_plain_teacher_forced_pass():
    tokenizer = _tokenizer()
    model = _t5(len(tokenizer), tokenizer)
    trie = ItemTrie(CODES)
    got = score_candidates(model, tokenizer, trie, PROMPTS[:2], [["d", "c"], ["a"]])
    expected = []
    for prompt, items in zip(PROMPTS[:2], [["d", "c"], ["a"]], strict=True):
        enc = tokenizer([prompt], return_tensors="pt")
        row = []
        for item in items:
            code = CODES[item]
            decoder_in = torch.tensor([[tokenizer.pad_token_id, *code[:-1]]])
            with torch.no_grad():
                logits = model(**enc, decoder_input_ids=decoder_in).logits[0]
            logp = torch.log_softmax(logits, dim=-1)
            row.append(float(sum(logp[t, token] for t, token in enumerate(code))))
        expected.append(row)
    assert got == [pytest.approx(r, abs=1e-5) for r in expected]


def _llama(vocab: int, tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    sizes = {
        "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 128,
    }  # fmt: skip
    return _decoder(LlamaConfig, LlamaForCausalLM, vocab, tokenizer, **sizes)


@pytest.mark.parametrize("build", [_gpt, _llama], ids=["gpt2", "llama"])
def test_decoder_only_scores_equal_one_unpadded_pass_per_candidate(build):
    """Left padding, position ids and the copied cache change nothing: each candidate's score
    equals reading ``prompt </s> code`` alone, unpadded, without a cache."""
    tokenizer = _tokenizer()
    model = build(len(tokenizer), tokenizer)
    trie = ItemTrie(CODES)
    cands = [["d", "c"], ["a", "f"], ["e"]]
    got = score_candidates(model, tokenizer, trie, PROMPTS, cands)
    for prompt, items, scores in zip(PROMPTS, cands, got, strict=True):
        head = prompt_ids(tokenizer, prompt, 512)
        for item, score in zip(items, scores, strict=True):
            code = CODES[item]
            with torch.no_grad():
                logits = model(input_ids=torch.tensor([head + code])).logits[0]
            logp = torch.log_softmax(logits, dim=-1)
            want = sum(float(logp[len(head) - 1 + t, tok]) for t, tok in enumerate(code))
            assert score == pytest.approx(want, abs=1e-4)


def test_llama_wide_beam_search_equals_exhaustive_scoring():
    test_wide_beam_search_equals_exhaustive_scoring(_llama)


@pytest.mark.parametrize("build", [_gpt, _llama], ids=["gpt2", "llama"])
def test_decoder_only_beam_steps_equal_one_unpadded_pass_per_beam(build):
    """The beams of a prompt share its cache row (a token tree under a 4-D mask): each beam's
    next-token log-probabilities still equal reading ``prompt </s> beam`` alone, without a
    cache, after beams are reordered, duplicated and dropped from step to step."""
    tokenizer = _tokenizer()
    model = build(len(tokenizer), tokenizer)
    steps = decoding_steps(model, tokenizer, PROMPTS, 512)
    first = steps.first()
    # Step 1: three beams per prompt from its one row; step 2: parents reordered, one twice.
    parents1 = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2])
    tokens1 = torch.tensor([7, 5, 9, 9, 7, 3, 5, 5, 8])
    parents2 = torch.tensor([2, 0, 2, 3, 4, 5, 8, 8, 6])
    tokens2 = torch.tensor([4, 3, 6, 3, 4, 8, 3, 6, 4])
    logp1 = steps.next(parents1, tokens1)
    logp2 = steps.next(parents2, tokens2)
    beams = [[t] for t in tokens1.tolist()]
    beams2 = [[*beams[p], t] for p, t in zip(parents2.tolist(), tokens2.tolist(), strict=True)]
    rows = [*zip([[]] * 3, first, strict=True), *zip(beams, logp1, strict=True)]
    rows += zip(beams2, logp2, strict=True)
    prompt_of = [0, 1, 2] + [0, 0, 0, 1, 1, 1, 2, 2, 2] * 2
    for (prefix, got), prompt in zip(rows, prompt_of, strict=True):
        head = prompt_ids(tokenizer, PROMPTS[prompt], 512)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([head + prefix])).logits[0, -1]
        assert torch.allclose(got, torch.log_softmax(logits, dim=-1), atol=1e-5)
    with pytest.raises(ValueError, match="grouped by prompt"):
        steps.next(torch.tensor([0, 1, 2]), torch.tensor([3, 3, 3]))


@pytest.mark.parametrize("build", [_t5, _gpt, _llama], ids=["t5", "gpt2", "llama"])
@pytest.mark.parametrize("exclude", [None, [["a"], [], ["d", "e", "f"]]], ids=["all", "unseen"])
def test_narrow_beam_scores_equal_teacher_forced_scores(build, exclude):
    """With fewer beams than items, each found item's score is still its teacher-forced
    log-likelihood (scored with a cache copied per candidate, not shared by the beams)."""
    tokenizer = _tokenizer()
    model = build(len(tokenizer), tokenizer)
    trie = ItemTrie(CODES)
    ranked = constrained_beam_search(
        model, tokenizer, trie, PROMPTS, k=2, num_beams=2, exclude=exclude
    )
    found = [[i for i, _ in r] for r in ranked]
    scores = score_candidates(model, tokenizer, trie, PROMPTS, found)
    for row, (items, want) in enumerate(zip(ranked, scores, strict=True)):
        assert len(items) == 2
        assert not set(found[row]) & set(exclude[row] if exclude else [])
        assert [s for _, s in items] == pytest.approx(want, abs=1e-5)

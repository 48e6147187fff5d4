"""P5's whole-word embedding (lmrec.backbone.wholeword) on a tiny T5 and a tiny GPT-2."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from lm_fixtures import cycle_split, tiny_config
from transformers import AutoModelForSeq2SeqLM

from lmrec.backbone.wholeword import NUM_WORDS, WholeWordEmbedding, whole_word_of
from lmrec.recommenders.lm import LMConfig, LMRecommender


def _config(epochs: int = 0, whole_word: bool = True, **changes) -> LMConfig:
    return replace(tiny_config(epochs=epochs, style="subtokens"), whole_word=whole_word, **changes)


@pytest.fixture(scope="module")
def untrained():
    return LMRecommender(_config()).fit(cycle_split(n_items=12))


def _ids(rec: LMRecommender, tokens: list[str]) -> torch.Tensor:
    ids = rec.tokenizer.convert_tokens_to_ids(tokens)
    assert rec.tokenizer.unk_token_id not in ids
    return torch.tensor([ids])


def test_word_numbers_of_a_hand_made_sequence(untrained):
    wrapper = whole_word_of(untrained.model)
    assert isinstance(wrapper, WholeWordEmbedding)
    assert untrained.model.get_encoder().embed_tokens is wrapper
    tokens = ["er", "▁H", "er", "<a_0>", "<b_2>", "<c_2>", "<a_1>", "<b_0>", "<c_0>"]
    tokens += ["▁", ".", "</s>", "<pad>"]
    words = wrapper.word_ids(_ids(untrained, tokens))
    # A leading continuation piece joins the first word; </s> and padding are 0.
    assert words.tolist() == [[1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 0, 0]]


def test_word_numbers_stop_at_the_table_size(untrained):
    wrapper = whole_word_of(untrained.model)
    words = wrapper.word_ids(_ids(untrained, ["<a_0>", "<b_1>", "<c_1>"] * 600))
    assert words[0, :3].tolist() == [1, 1, 1]
    assert words[0, -1].item() == NUM_WORDS - 1


def _encoder_inputs(rec: LMRecommender, prompt: str) -> tuple[torch.Tensor, list[str]]:
    enc = rec.tokenizer(prompt, return_tensors="pt")
    tokens = rec.tokenizer.convert_ids_to_tokens(enc.input_ids[0])
    with torch.no_grad():
        return rec.model.get_encoder().embed_tokens(enc.input_ids)[0], tokens


@pytest.mark.parametrize("whole_word", [True, False])
def test_grouping_changes_encoder_inputs_only_with_the_option(untrained, whole_word):
    rec = untrained if whole_word else LMRecommender(_config(whole_word=False))
    if not whole_word:
        rec.fit(cycle_split(n_items=12))
    # The same id <a_1><b_0><c_0> and text after it, preceded by one id or by two.
    one, one_tokens = _encoder_inputs(rec, "History : <a_0><b_2><c_2> <a_1><b_0><c_0> . Next")
    two, two_tokens = _encoder_inputs(
        rec, "History : <a_0><b_2><c_2> <a_0><b_0><c_1> <a_1><b_0><c_0> . Next"
    )
    tail = ["<a_1>", "<b_0>", "<c_0>", "▁", ".", "▁", "N", "e", "x", "t", "</s>"]
    assert one_tokens[-11:] == two_tokens[-11:] == tail
    # Identical inputs there unless the whole-word numbers (3 and 4, </s> 0) are added.
    assert torch.equal(one[-11:-1], two[-11:-1]) is not whole_word
    assert torch.equal(one[-1], two[-1])
    # Within a prompt, the repeated <b_0> in two ids differs only with the option.
    b0 = rec.tokenizer.convert_tokens_to_ids("<b_0>")
    rows = [i for i, t in enumerate(rec.tokenizer.convert_tokens_to_ids(two_tokens)) if t == b0]
    assert len(rows) == 2
    assert torch.equal(two[rows[0]], two[rows[1]]) is not whole_word


def test_table_gets_gradients_and_changes_in_training():
    split = cycle_split(n_items=12, n_users=40)
    before = whole_word_of(LMRecommender(_config()).fit(split).model).whole_word.weight.clone()
    wrapper = whole_word_of(LMRecommender(_config()).fit(split).model)
    assert torch.equal(wrapper.whole_word.weight, before)  # same seed, same initial table
    ids = torch.tensor([[5, 6, 7, 8, 1, 0]])
    wrapper(ids).sum().backward()
    grad = wrapper.whole_word.weight.grad
    used = sorted(set(wrapper.word_ids(ids)[0].tolist()) - {0})
    assert all(grad[w].abs().sum() > 0 for w in used)
    assert grad[0].abs().sum() == 0  # padding row
    trained = whole_word_of(LMRecommender(_config(epochs=1)).fit(split).model)
    assert not torch.equal(trained.whole_word.weight, before)


def test_save_load_keeps_the_table(tmp_path):
    split = cycle_split(n_items=12, n_users=40)
    rec = LMRecommender(_config(epochs=1)).fit(split)
    rec.save(tmp_path / "m")
    loaded = LMRecommender.load(tmp_path / "m")
    assert loaded.config.whole_word
    assert torch.equal(
        whole_word_of(loaded.model).whole_word.weight, whole_word_of(rec.model).whole_word.weight
    )
    histories = [["i1", "i2"], ["i7"], []]
    assert loaded.recommend(histories, k=5) == rec.recommend(histories, k=5)
    assert loaded.score(histories, [["i3", "i8"]] * 3) == rec.score(histories, [["i3", "i8"]] * 3)
    # Beam search and scoring read the prompt through the wrapper (model.get_encoder()).
    with torch.no_grad():
        whole_word_of(loaded.model).whole_word.weight.zero_()
    assert loaded.score(histories, [["i3", "i8"]] * 3) != rec.score(histories, [["i3", "i8"]] * 3)
    # Plain transformers loads the same directory, without the whole-word table.
    plain = AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "m")
    assert isinstance(plain.get_encoder().embed_tokens, torch.nn.Embedding)


def test_old_configs_load_without_the_key():
    data = tiny_config().to_dict()
    assert data.pop("whole_word") is False
    assert LMConfig.from_dict(data).whole_word is False


def test_decoder_only_model_wraps_its_input_embedding():
    split = cycle_split(n_items=12, n_users=40)
    rec = LMRecommender(_config(model="scratch:gpt-tiny")).fit(split)
    assert isinstance(rec.model.transformer.wte, WholeWordEmbedding)
    # Weight tying holds: the output layer still shares the token embedding.
    assert rec.model.lm_head.weight is rec.model.transformer.wte.embedding.weight
    (ranked,) = rec.recommend([["i1", "i2"]], k=4)
    assert len({s.item for s in ranked}) == 4


def test_not_with_lora():
    from lmrec.backbone.lora import LoraSettings

    with pytest.raises(ValueError, match="not supported with LoRA"):
        _config(lora=LoraSettings())


def test_cli_train_whole_word(tmp_path):
    from lmrec.cli import main

    out = tmp_path / "model"
    args = ["--quiet", "train", "--data", "builtin", "--users", "30", "--model", "scratch:tiny"]
    args += ["--id-style", "subtokens", "--whole-word", "--epochs", "1", "--out", str(out)]
    assert main(args) == 0
    assert (out / "whole_word.safetensors").exists()
    rec = LMRecommender.load(out)
    assert rec.config.whole_word
    assert isinstance(whole_word_of(rec.model), WholeWordEmbedding)

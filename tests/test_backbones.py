"""Decoder-only backbones and LoRA: the causal token layout and loss, parameter counts, the
LoRA settings parser, and tiny random models trained end to end on the built-in data."""

from __future__ import annotations

import math

import pytest
import torch
from peft import PeftModel
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    AutoModelForCausalLM,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from lmrec.backbone.causal import is_causal
from lmrec.backbone.lora import LoraSettings, apply_lora, trainable_parameters
from lmrec.backbone.model import build_scratch_model, count_parameters, load_pretrained
from lmrec.cli import main
from lmrec.data.split import leave_one_out_split
from lmrec.data.sportshop import make_sportshop
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import Example, PromptConfig
from lmrec.training.loop import TrainConfig
from lmrec.training.step import batch_loss, collate_batch, weighted_loss

WORDS = ["<pad>", "</s>", "<unk>", "user", "bought", "<item_1>", "<item_2>", "<item_3>"]


def word_tokenizer() -> PreTrainedTokenizerFast:
    """Whitespace words with fixed ids (the index in WORDS), so expected ids are plain to see."""
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(WORDS)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )


# ---------------------------------------------------------------- token layout and loss
def test_causal_collate_puts_prompt_then_answer_with_loss_on_the_answer_only():
    examples = [
        Example("user bought <item_1> <item_2>", "<item_3>", "sequential", "t", 1.0),
        Example("bought <item_1>", "<item_2> <item_3>", "sequential", "t", 2.0),
    ]
    batch = collate_batch(word_tokenizer(), examples, max_len=16, causal=True)
    # prompt </s> answer </s>, right-padded with <pad> (0)
    assert batch["input_ids"].tolist() == [[3, 4, 5, 6, 1, 7, 1], [4, 5, 1, 6, 7, 1, 0]]
    assert batch["labels"].tolist() == [
        [-100, -100, -100, -100, -100, 7, 1],
        [-100, -100, -100, 6, 7, 1, -100],
    ]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 0]]
    assert batch["weights"].tolist() == [1.0, 2.0]


def test_causal_collate_cuts_the_start_of_a_long_prompt():
    examples = [Example("user bought <item_1> <item_2>", "<item_3>", "sequential", "t")]
    batch = collate_batch(word_tokenizer(), examples, max_len=3, causal=True)
    assert batch["input_ids"].tolist() == [[5, 6, 1, 7, 1]]
    assert batch["labels"].tolist() == [[-100, -100, -100, 7, 1]]


def test_causal_loss_scores_each_position_against_the_next_label():
    big = 50.0  # rows that must not count: position 0 predicts a prompt token, 3 is the last
    logits = torch.tensor(
        [
            [[big, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, math.log(3), 0.0], [0.0, 0.0, big]],
            [[0.0, 0.0, big], [0.0, 0.0, 0.0], [big, 0.0, 0.0], [big, big, 0.0]],
        ]
    )
    labels = torch.tensor([[-100, -100, 2, 1], [-100, 0, -100, -100]])
    weights = torch.tensor([1.0, 3.0])
    # example 0: logits[1] = uniform predicts label 2 -> log 3; logits[2] = softmax (1,3,1)/5
    # predicts label 1 -> log(5/3); mean log(5)/2. Example 1: logits[0] predicts label 0 ->
    # -log softmax(0,0,50)[0] = log(2 + e^50).
    one = math.log(5) / 2
    two = math.log(2 + math.exp(big))
    got = weighted_loss(logits, labels, weights, causal=True)
    assert got.item() == pytest.approx((1 * one + 3 * two) / 4, rel=1e-6)


def test_causal_loss_equals_the_models_own_loss():
    tok = word_tokenizer()
    model = build_scratch_model("scratch:gpt-tiny", tok, seed=0).eval()
    batch = collate_batch(tok, [Example("user bought <item_1>", "<item_2>", "s", "t")], 16, True)
    with torch.no_grad():
        out = model(input_ids=batch["input_ids"], labels=batch["labels"])
        ours = weighted_loss(out.logits, batch["labels"], batch["weights"], causal=True)
    assert ours.item() == pytest.approx(out.loss.item(), rel=1e-6)


@pytest.mark.parametrize("spec", ["scratch:gpt-tiny", "scratch:llama-tiny"])
def test_causal_loss_from_trimmed_logits_equals_the_full_computation(spec):
    tok = word_tokenizer()
    model = build_scratch_model(spec, tok, seed=0).eval()
    examples = [
        Example("user bought <item_1> <item_2> <item_1>", "<item_3>", "s", "t", 1.0),
        Example("bought <item_1>", "<item_2> <item_3>", "s", "t", 0.5),
    ]
    batch = collate_batch(tok, examples, 16, causal=True)
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        full = weighted_loss(logits, batch["labels"], batch["weights"], causal=True)
        trimmed = batch_loss(model, batch, causal=True, trim_logits=True)
        untrimmed = batch_loss(model, batch, causal=True, trim_logits=False)
    assert untrimmed.item() == full.item()
    assert trimmed.item() == pytest.approx(full.item(), abs=1e-6)


def test_scratch_dropout_sets_each_architectures_rates():
    tok = word_tokenizer()
    gpt = build_scratch_model("scratch:gpt-tiny", tok, dropout=0.3).config
    assert (gpt.resid_pdrop, gpt.embd_pdrop, gpt.attn_pdrop) == (0.3, 0.3, 0.3)
    assert build_scratch_model("scratch:gpt-tiny", tok).config.resid_pdrop == 0.1
    assert build_scratch_model("scratch:tiny", tok, dropout=0.25).config.dropout_rate == 0.25
    assert build_scratch_model("scratch:tiny", tok).config.dropout_rate == 0.1
    assert (
        build_scratch_model("scratch:llama-tiny", tok, dropout=0.2).config.attention_dropout == 0.2
    )
    assert build_scratch_model("scratch:llama-tiny", tok).config.attention_dropout == 0.0
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        build_scratch_model("scratch:gpt-tiny", tok, dropout=1.0)
    with pytest.raises(ValueError, match="checkpoint 't5-small' keeps its own"):
        LMConfig(model="t5-small", dropout=0.2)
    config = LMConfig(model="scratch:gpt-tiny", dropout=0.3)
    assert LMConfig.from_dict(config.to_dict()).dropout == 0.3


def test_cli_dropout_reaches_the_saved_model_and_is_refused_for_checkpoints(tmp_path, capsys):
    common = ["--quiet", "train", "--data", "builtin", "--users", "20", "--epochs", "1"]
    out = tmp_path / "m"
    assert (
        main([*common, "--model", "scratch:gpt-tiny", "--dropout", "0.3", "--out", str(out)]) == 0
    )
    assert LMRecommender.load(out).model.config.resid_pdrop == 0.3
    code = main([*common, "--model", "t5-small", "--dropout", "0.2", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "the checkpoint 't5-small' keeps its own" in capsys.readouterr().err


@pytest.mark.parametrize("spec", ["scratch:gpt-tiny", "scratch:llama-tiny"])
def test_dropout_is_used_in_training_and_off_in_evaluation(spec):
    tok = word_tokenizer()
    model = build_scratch_model(spec, tok, dropout=0.5)
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    model.train()
    torch.manual_seed(0)
    noisy = model(input_ids=ids).logits
    assert not torch.equal(noisy, model(input_ids=ids).logits)
    model.eval()
    assert torch.equal(model(input_ids=ids).logits, model(input_ids=ids).logits)


def test_llama_hidden_dropout_drops_the_input_and_both_residual_branches():
    """LLaMA only has attention dropout; the hooks add SASRec's other three places. With the
    attention dropout set to 0 the remaining noise comes from the hooks alone, and with the
    hooks' rate at 0 too a training-mode pass equals the evaluation-mode one exactly."""
    tok = word_tokenizer()
    ids = torch.tensor([[3, 4, 5, 6, 7]])
    model = build_scratch_model("scratch:llama-tiny", tok, seed=0, dropout=0.5)
    layers = model.model.layers
    assert len(layers[0]._forward_pre_hooks) == 1
    assert all(len(x.self_attn._forward_hooks) == len(x.mlp._forward_hooks) == 1 for x in layers)
    assert all(len(x._forward_pre_hooks) == 0 for x in layers[1:])
    model.config.attention_dropout = 0.0
    for layer in layers:
        layer.self_attn.attention_dropout = 0.0
    model.eval()
    clean = model(input_ids=ids).logits
    model.train()
    assert not torch.equal(model(input_ids=ids).logits, clean)
    plain = build_scratch_model("scratch:llama-tiny", tok, seed=0)
    assert not plain.model.layers[0]._forward_pre_hooks
    plain.train()
    assert torch.equal(plain(input_ids=ids).logits, clean)


# ---------------------------------------------------------------- LoRA
def test_lora_settings_parse():
    assert LoraSettings.parse("r=8,alpha=16,dropout=0.05,targets=q,v") == LoraSettings(
        r=8, alpha=16.0, dropout=0.05, targets=("q", "v")
    )
    assert LoraSettings.parse("") == LoraSettings()
    assert LoraSettings.parse("r=4") == LoraSettings(r=4)
    for bad, message in [
        ("r=eight", "not a int"),
        ("rank=4", "unknown LoRA setting 'rank'"),
        ("targets=q,r=4", "must come last"),
        ("q,v", "not key=value"),
        ("r=0", "at least 1"),
        ("dropout=1", "in \\[0, 1\\)"),
        ("r=4,r=8", "given twice"),
    ]:
        with pytest.raises(ValueError, match=message):
            LoraSettings.parse(bad)


@pytest.mark.parametrize(
    ("spec", "per_layer"),
    [
        # GPT-2's fused c_attn: d_model 64 in, 3 * 64 out; r * (64 + 192) per layer
        ("scratch:gpt-tiny", 8 * (64 + 192)),
        # T5 q and v (64 -> 4 heads * 16): 2 * r * (64 + 64) per attention block
        ("scratch:tiny", None),
    ],
)
def test_lora_trains_fewer_parameters_as_peft_counts(spec, per_layer):
    tok = word_tokenizer()
    model = build_scratch_model(spec, tok, seed=0)
    full = count_parameters(model)
    lora = apply_lora(model, LoraSettings(r=8), token_ids=[5, 6, 7])
    trainable, total = lora.get_nb_trainable_parameters()
    assert trainable_parameters(lora) == trainable
    assert total == full + trainable  # peft counts the adapter's new weights in the total
    assert trainable < full
    rows = 3 * 64  # the three id tokens' embedding rows
    if per_layer is not None:
        assert trainable == 2 * per_layer + rows
    else:
        # encoder: 2 blocks x self-attention; decoder: 2 blocks x (self + cross) attention
        assert trainable == 6 * 2 * 8 * (64 + 64) + rows


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without CUDA")
def test_quantised_loading_is_refused_without_a_gpu(tmp_path, capsys):
    with pytest.raises(ValueError, match="--load-in-8bit needs a CUDA GPU"):
        load_pretrained("t5-small", quantization="8bit")
    code = main(
        ["--quiet", "train", "--data", "builtin", "--users", "20", "--model", "t5-small"]
        + ["--load-in-4bit", "--lora", "--out", str(tmp_path / "m")]
    )
    assert code == 2
    assert "--load-in-4bit needs a CUDA GPU" in capsys.readouterr().err


# ---------------------------------------------------------------- end to end
@pytest.fixture(scope="module")
def shop():
    return leave_one_out_split(make_sportshop(n_users=80, seed=0))


def _config(spec: str, lora: LoraSettings | None) -> LMConfig:
    return LMConfig(
        model=spec,
        index=IndexConfig(strategy="sequential"),
        prompts=PromptConfig(max_history=8, max_targets_per_user=2),
        train=TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3, patience=0, progress=False),
        lora=lora,
    )


@pytest.mark.parametrize("lora", [None, LoraSettings(r=4, alpha=8.0, dropout=0.0)])
@pytest.mark.parametrize("spec", ["scratch:tiny", "scratch:gpt-tiny", "scratch:llama-tiny"])
def test_train_evaluate_save_load(shop, spec, lora, tmp_path):
    rec = LMRecommender(_config(spec, lora)).fit(shop)
    assert is_causal(rec.model) == (spec != "scratch:tiny")
    assert not isinstance(rec.model, PeftModel)  # LoRA is merged in after training
    report = evaluate_ranking(rec, shop, ks=(10,), progress=False)
    assert 0.0 <= report.metrics["NDCG@10"] <= 1.0
    histories = [shop.train_items(u) for u in list(shop.test)[:20]]
    before = rec.recommend(histories, k=5)
    assert all(s.item in shop.catalog for r in before for s in r)
    rec.save(tmp_path / "m")
    assert (tmp_path / "m" / "adapter" / "adapter_config.json").exists() == (lora is not None)
    loaded = LMRecommender.load(tmp_path / "m")
    assert type(loaded.model) is type(rec.model)
    assert loaded.recommend(histories, k=5) == before


def test_lora_keeps_frozen_weights_and_its_adapter_rebuilds_the_model(shop, tmp_path):
    """The saved adapter, put on the base model it names (rebuilt from its preset and seed),
    gives the saved (merged) model back; the weights LoRA does not target never moved."""
    rec = LMRecommender(_config("scratch:gpt-tiny", LoraSettings(r=4, alpha=8.0))).fit(shop)
    rec.save(tmp_path / "m")
    loaded = LMRecommender.load(tmp_path / "m")
    base = build_scratch_model("scratch:gpt-tiny", loaded.tokenizer, seed=0)
    frozen = "transformer.h.0.mlp.c_fc.weight"
    assert torch.equal(loaded.model.state_dict()[frozen], base.state_dict()[frozen])
    adapted = "transformer.h.0.attn.c_attn.weight"
    assert not torch.equal(loaded.model.state_dict()[adapted], base.state_dict()[adapted])
    assert rec.adapter.config.base_model_name_or_path == "scratch:gpt-tiny"
    rebuilt = PeftModel.from_pretrained(base, tmp_path / "m" / "adapter").merge_and_unload()
    ids = torch.tensor([[5, 6, 7, 1, 8, 1]])
    with torch.no_grad():
        want = loaded.model.eval()(input_ids=ids).logits
        got = rebuilt.eval()(input_ids=ids).logits
    torch.testing.assert_close(got, want, rtol=0, atol=1e-5)


def test_saved_decoder_only_model_loads_in_plain_transformers(shop, tmp_path):
    untrained = TrainConfig(epochs=0, progress=False)
    rec = LMRecommender(LMConfig(model="scratch:gpt-tiny", train=untrained)).fit(shop)
    rec.save(tmp_path / "m")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert model.config.model_type == "gpt2"
    assert model.config.pad_token_id == rec.tokenizer.pad_token_id


def test_lora_trains_the_output_rows_of_id_tokens_when_embeddings_are_untied():
    config = LlamaConfig(
        vocab_size=len(WORDS),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    lora = apply_lora(LlamaForCausalLM(config), LoraSettings(r=2), token_ids=[5, 6, 7])
    # q_proj and v_proj: r * (32 + 32) each; the 3 id rows in the input and output embeddings
    assert trainable_parameters(lora) == 2 * 2 * (32 + 32) + 2 * 3 * 32
    ids = torch.tensor([[3, 4, 5, 1, 6]])
    lora(input_ids=ids).logits[0, -1, 7].backward()
    optimizer = torch.optim.SGD([p for p in lora.parameters() if p.requires_grad], lr=1.0)
    before = lora.get_base_model().lm_head(torch.ones(32)).detach()
    optimizer.step()
    merged = lora.merge_and_unload()
    after = merged.lm_head(torch.ones(32)).detach()
    changed = (after != before).nonzero().flatten().tolist()
    assert changed == [7]  # only the trained id token's output row moved (others had no grad)


def test_a_local_decoder_only_checkpoint_without_pad_token_fine_tunes_with_lora(tmp_path):
    """A checkpoint directory like GPT-2's (its tokenizer has no padding token) goes through
    the same path as a hub name: loaded by its config's class, id tokens added, LoRA, saved."""
    base = tmp_path / "base"
    tok = word_tokenizer()
    tok.pad_token = None
    tok.add_tokens([w for w in "a b c thing user bought".split()])
    build_scratch_model("scratch:gpt-tiny", tok, seed=0).save_pretrained(base)
    tok.save_pretrained(base)
    out = tmp_path / "m"
    code = main(
        ["--quiet", "train", "--data", "builtin", "--users", "30", "--model", str(base)]
        + ["--epochs", "1", "--max-targets-per-user", "1", "--lora", "r=2,targets=c_attn"]
        + ["--out", str(out)]
    )
    assert code == 0
    rec = LMRecommender.load(out)
    assert rec.config.lora == LoraSettings(r=2, targets=("c_attn",))
    assert rec.tokenizer.pad_token_id == rec.tokenizer.eos_token_id
    assert rec.adapter.config.base_model_name_or_path == str(base)
    (ranked,) = rec.recommend([list(rec.catalog)[:3]], k=4)
    assert len(ranked) == 4 and all(s.item in rec.catalog for s in ranked)

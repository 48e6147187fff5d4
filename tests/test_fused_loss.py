"""The chunked output layer and cross-entropy (lmrec.training.fused) give the plain step's loss
and gradients, for LLaMA and GPT-2, with and without item text, over several chunks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from lm_fixtures import cycle_split
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from lmrec.backbone import itemtext
from lmrec.backbone.itemtext import install_item_text, item_text_of
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.text.encoders import ItemTextConfig
from lmrec.training import fused
from lmrec.training.config import TrainConfig
from lmrec.training.fused import chunked_linear_cross_entropy, fused_head_loss, fuses_head
from lmrec.training.step import batch_loss, trims_logits

VOCAB = 40


def llama() -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=32,
        tie_word_embeddings=True,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def gpt2() -> GPT2LMHeadModel:
    return GPT2LMHeadModel(
        GPT2Config(vocab_size=VOCAB, n_embd=16, n_layer=1, n_head=2, n_positions=32)
    )


def batch(seed: int = 0) -> dict[str, torch.Tensor]:
    """Three right-padded rows of different lengths; the first tokens of a row are not labels
    (a prompt), padding is not; unequal example weights."""
    g = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, VOCAB, (3, 9), generator=g)
    attention_mask = torch.ones(3, 9, dtype=torch.long)
    attention_mask[1, 6:] = 0
    attention_mask[2, 4:] = 0
    labels = input_ids.clone()
    labels[attention_mask == 0] = -100
    labels[:, :2] = -100
    input_ids[attention_mask == 0] = 0
    weights = torch.tensor([1.0, 2.5, 0.5])
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "labels": labels,
        "weights": weights,
    }


def gradients(model: torch.nn.Module, loss: torch.Tensor) -> dict[str, torch.Tensor]:
    model.zero_grad(set_to_none=True)
    loss.backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("make", [llama, gpt2])
@pytest.mark.parametrize("text", [False, True])
@pytest.mark.parametrize("chunk_elements", [VOCAB * 2, 1 << 20])
def test_fused_loss_and_gradients_equal_the_plain_step(make, text, chunk_elements, monkeypatch):
    monkeypatch.setattr(fused, "CHUNK_ELEMENTS", chunk_elements)  # 2 rows a chunk, or one chunk
    torch.manual_seed(0)
    model = make().eval()  # no dropout: both passes see the same network
    if text:
        vectors = torch.nn.functional.normalize(torch.randn(10, 6), dim=1)
        install_item_text(model, vectors, list(range(30, 40)), keep_ids=True)
        item_text_of(model).bf16_training = False  # exact float32 on both sides
    assert trims_logits(model) and fuses_head(model)
    data = batch()
    plain_loss = batch_loss(model, data, causal=True, trim_logits=True)
    plain = gradients(model, plain_loss)
    fused_loss = fused_head_loss(model, data, bf16_gradients=False)
    ours = gradients(model, fused_loss)
    assert fused_loss.item() == pytest.approx(plain_loss.item(), rel=1e-5)
    assert plain.keys() == ours.keys() and len(ours) > 3
    for name, grad in plain.items():
        torch.testing.assert_close(ours[name], grad, rtol=1e-4, atol=1e-6, msg=name)


def test_chunked_cross_entropy_equals_the_weighted_sum_of_cross_entropies_with_a_bias():
    g = torch.Generator().manual_seed(1)
    hidden = torch.randn(7, 5, generator=g, requires_grad=True)
    weight = torch.randn(11, 5, generator=g, requires_grad=True)
    bias = torch.randn(11, generator=g, requires_grad=True)
    targets = torch.tensor([0, 3, 10, 3, 5, 7, 1])
    c = torch.rand(7, generator=g)
    ours = chunked_linear_cross_entropy(
        hidden, weight, bias, targets, c, chunk=3, bf16_gradients=False
    )
    mine = torch.autograd.grad(ours * 2.0, (hidden, weight, bias))
    reference = (F.cross_entropy(hidden @ weight.T + bias, targets, reduction="none") * c).sum()
    theirs = torch.autograd.grad(reference * 2.0, (hidden, weight, bias))
    assert ours.item() == pytest.approx(reference.item(), rel=1e-6)
    for a, b in zip(mine, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


class Wrapper(torch.nn.Module):
    """What a DDP wrapper is to the step: a module holding the model, with no config."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.module = module


def test_wrapped_or_capped_models_keep_the_plain_step():
    model = llama()
    assert fuses_head(model)
    assert not fuses_head(Wrapper(model))
    model.config.final_logit_softcapping = 30.0
    assert not fuses_head(model)


def test_the_catalogue_projection_runs_in_bfloat16_in_training_only():
    """Train mode with gradients: bfloat16 product (where the CPU has it), rows within its
    rounding of the float32 ones; eval mode, or no gradients: the float32 product exactly."""
    from lmrec.backbone.itemtext import ItemTextTable, fast_bf16

    g = torch.Generator().manual_seed(2)
    text = torch.nn.functional.normalize(torch.randn(30, 12, generator=g), dim=1)
    table = ItemTextTable(text, torch.arange(30) + 5, 8, keep_ids=False, std=0.5, seed=0)
    exact = torch.nn.functional.linear(text, table.proj.weight).detach()
    trained = table.project_all()
    assert trained.dtype == torch.float32 and trained.requires_grad
    if fast_bf16(torch.device("cpu")):
        assert not torch.equal(trained.detach(), exact)
    torch.testing.assert_close(trained.detach(), exact, rtol=2e-2, atol=2e-2)
    with torch.no_grad():
        assert torch.equal(table.project_all(), exact)
    table.eval()
    assert torch.equal(table.project_all().detach(), exact)
    table.train()
    table.bf16_training = False
    assert torch.equal(table.project_all().detach(), exact)


def test_bfloat16_gradient_products_stay_within_its_rounding_and_keep_the_loss_exact():
    g = torch.Generator().manual_seed(3)
    hidden = torch.randn(50, 16, generator=g, requires_grad=True)
    weight = torch.randn(300, 16, generator=g, requires_grad=True)
    targets = torch.randint(0, 300, (50,), generator=g)
    c = torch.rand(50, generator=g)
    exact = chunked_linear_cross_entropy(hidden, weight, None, targets, c, 7, bf16_gradients=False)
    low = chunked_linear_cross_entropy(
        hidden, weight, None, targets, c, 7, bf16_gradients=True, bf16_logits=False
    )
    assert low.item() == exact.item()  # float32 logits: the loss is the same
    exact_grads = torch.autograd.grad(exact, (hidden, weight))
    low_grads = torch.autograd.grad(low, (hidden, weight))
    for a, b in zip(low_grads, exact_grads, strict=True):
        assert not torch.equal(a, b)
        assert float((a - b).norm() / b.norm()) < 1e-2  # bfloat16 keeps 8 bits: ~0.4 % a value


def test_bfloat16_logits_move_the_loss_and_gradients_by_bfloat16_rounding_only():
    g = torch.Generator().manual_seed(4)
    hidden = torch.randn(60, 16, generator=g, requires_grad=True)
    weight = torch.randn(400, 16, generator=g, requires_grad=True)
    targets = torch.randint(0, 400, (60,), generator=g)
    c = torch.rand(60, generator=g) / 60
    exact = chunked_linear_cross_entropy(
        hidden, weight, None, targets, c, 9, bf16_gradients=False, bf16_logits=False
    )
    low = chunked_linear_cross_entropy(
        hidden, weight, None, targets, c, 9, bf16_gradients=True, bf16_logits=True
    )
    reference = (F.cross_entropy(hidden @ weight.T, targets, reduction="none") * c).sum()
    assert exact.item() == pytest.approx(reference.item(), rel=1e-6)
    assert low.item() != exact.item()
    assert low.item() == pytest.approx(exact.item(), rel=1e-3)
    exact_grads = torch.autograd.grad(exact, (hidden, weight))
    low_grads = torch.autograd.grad(low, (hidden, weight))
    for a, b in zip(low_grads, exact_grads, strict=True):
        assert float((a - b).norm() / b.norm()) < 1e-2


def _fitted_weights(monkeypatch, native_bf16: bool, float32: bool) -> dict[str, torch.Tensor]:
    """The weights of an ids+text LLaMA fitted on a small cycle log, as if the machine did (or
    did not) multiply bfloat16 natively, with or without ``TrainConfig.float32``."""
    monkeypatch.setattr(itemtext, "fast_bf16", lambda device: native_bf16)
    monkeypatch.setattr(fused, "fast_bf16", lambda device: native_bf16)
    train = TrainConfig(epochs=2, batch_size=16, learning_rate=3e-3, patience=0, progress=False)
    config = LMConfig(
        model="scratch:llama-tiny",
        index=IndexConfig(item_text=ItemTextConfig(encoder="tfidf")),
        prompts=PromptConfig(max_history=4),
        train=replace(train, float32=float32),
        objective="sequence",
        item_representation="ids+text",
    )
    rec = LMRecommender(config).fit(cycle_split(n_items=8, n_users=40, length=6))
    return {n: p.detach().clone() for n, p in rec.model.named_parameters()}


@pytest.mark.usefixtures("one_thread")
def test_float32_training_does_not_depend_on_the_machines_bfloat16(monkeypatch):
    """``TrainConfig.float32`` trains, on a machine that multiplies bfloat16 natively, the
    weights a machine without it trains; without the option the two machines differ (the
    output layer and the item-text projection read bfloat16 on the first)."""
    without_native = _fitted_weights(monkeypatch, native_bf16=False, float32=False)
    asked = _fitted_weights(monkeypatch, native_bf16=True, float32=True)
    default = _fitted_weights(monkeypatch, native_bf16=True, float32=False)
    assert asked.keys() == without_native.keys() and len(asked) > 5
    for name, weight in without_native.items():
        assert torch.equal(asked[name], weight), name
    assert any(not torch.equal(default[n], w) for n, w in without_native.items())

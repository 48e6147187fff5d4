"""The all-positions "sequence" objective for decoder-only models: items alone, every next-item
prediction of a user's sequence trained at once (as SASRec trains)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from lm_fixtures import cycle_split
from test_backbones import word_tokenizer

from lmrec.backbone.model import build_scratch_model
from lmrec.data.schema import Catalog, Interaction, Item
from lmrec.data.split import Split
from lmrec.evaluation.ranking import evaluate_ranking
from lmrec.indexing import IndexConfig, build_index
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import Example, PromptConfig
from lmrec.tasks.sequential import sequence_examples, sequence_text
from lmrec.training.loop import TrainConfig
from lmrec.training.step import (
    batch_loss,
    collate_batch,
    example_losses,
    labelled_logits,
    trims_logits,
    weighted_loss,
    with_token_ids,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _config(**changes) -> LMConfig:
    config = LMConfig(
        model="scratch:llama-tiny",  # rotary positions: no absolute-position trap
        index=IndexConfig(strategy="sequential"),
        prompts=PromptConfig(max_history=4),
        train=TrainConfig(epochs=15, batch_size=16, learning_rate=3e-3, patience=0, progress=False),
        objective="sequence",
        valid_exclude_seen=False,  # validate as the test below measures
    )
    return replace(config, **changes)


def _split() -> Split:
    events = {
        "u1": ["a", "b", "c", "d"],
        "u2": ["c"],  # too short to give an example
        "u3": ["b", "a"],
    }
    catalog = Catalog(Item(i) for i in "abcd")
    train = {
        u: [Interaction(u, item, float(t), position=t) for t, item in enumerate(items)]
        for u, items in events.items()
    }
    return Split(train=train, valid={}, test={}, catalog=catalog, name="toy")


def test_sequence_examples_hold_each_users_last_items_and_train_every_position():
    split = _split()
    index = build_index(split, IndexConfig(strategy="sequential"))
    code = {i: index.render(i) for i in "abcd"}
    examples = sequence_examples(split, index, max_history=2, start="</s>")
    assert [(e.source, e.target) for e in examples] == [
        (f"</s> {code['b']} {code['c']}", code["d"]),  # the last max_history + 1 items
        (f"</s> {code['b']}", code["a"]),
    ]
    assert all(e.all_positions for e in examples)
    expected = f"</s> {code['b']} {code['c']}"
    assert sequence_text(["a", "zzz", "b", "c"], index, 2, "</s>") == expected
    assert sequence_text([], index, 2, "</s>") == "</s>"  # an empty history is still a prompt


def test_all_positions_collate_reads_one_sequence_and_labels_every_id_token():
    examples = [
        Example("</s> <item_1> <item_2>", "<item_3>", "sequence", "sequence", all_positions=True),
        Example("bought <item_1>", "<item_2>", "sequential", "t"),
    ]
    batch = collate_batch(word_tokenizer(), examples, max_len=16, causal=True)
    assert batch["input_ids"].tolist() == [[1, 5, 6, 7, 0], [4, 5, 1, 6, 1]]
    assert batch["labels"].tolist() == [
        [-100, 5, 6, 7, -100],  # the start token is an input only
        [-100, -100, -100, 6, 1],  # an answer example keeps its separator and closing </s>
    ]


def test_tokens_computed_once_collate_to_the_same_batch():
    long_history = " ".join(f"<item_{i % 3 + 1}>" for i in range(12))
    examples = [
        Example("</s> <item_1> <item_2>", "<item_3>", "sequence", "sequence", all_positions=True),
        Example(f"</s> {long_history}", "<item_2>", "sequence", "sequence", all_positions=True),
        Example("bought <item_1>", "<item_2>", "sequential", "t"),
    ]
    tok = word_tokenizer()
    ready = with_token_ids(tok, examples, max_len=6)
    # the history is cut to its last 6 tokens, as collating the text cuts it
    assert [e.token_ids for e in ready] == [(1, 5, 6, 7), (5, 6, 7, 5, 6, 7, 6), None]
    tokenised = collate_batch(tok, examples, max_len=6, causal=True)
    read = collate_batch(tok, ready, max_len=6, causal=True)
    assert tokenised.keys() == read.keys()
    for key, value in tokenised.items():
        assert torch.equal(value, read[key]), key


@pytest.mark.parametrize("spec", ["scratch:gpt-tiny", "scratch:llama-tiny"])
def test_trimmed_logits_give_the_full_loss_at_the_labelled_positions_only(spec):
    tok = word_tokenizer()
    model = build_scratch_model(spec, tok, seed=0).eval()
    examples = [
        Example("</s> <item_1> <item_2>", "<item_3>", "sequence", "sequence", all_positions=True),
        Example("bought <item_1>", "<item_2>", "sequential", "t"),
    ]
    batch = collate_batch(tok, examples, max_len=16, causal=True)
    assert trims_logits(model)
    with torch.no_grad():
        full = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        expected = weighted_loss(full, batch["labels"], batch["weights"], causal=True)
        logits, labels, labelled = labelled_logits(model, batch)
        trimmed = batch_loss(model, batch, causal=True, trim_logits=True)
    # Rows: </s> <item_1> <item_2> <item_3> pad and bought <item_1> </s> <item_2> </s>.
    # Row 0's positions 0-2 predict a label, row 1's positions 2-3; nothing else is computed.
    assert labelled.tolist() == [[True, True, True, False], [False, False, True, True]]
    assert labels.tolist() == [5, 6, 7, 6, 1]
    assert torch.allclose(logits, full[:, :4][labelled], atol=1e-6)
    assert trimmed.item() == pytest.approx(expected.item(), abs=1e-6)


def test_sequence_objective_learns_a_cycle_and_saves():
    split = cycle_split()
    rec = LMRecommender(_config()).fit(split)
    report = evaluate_ranking(rec, split, ks=(1,), exclude_seen=False, progress=False)
    assert report.metrics["HR@1"] == 1.0
    # ids alone: no word pieces, just the special tokens, the alphabet and one token per item
    assert len(rec.tokenizer) == 101 + len(rec.index)
    assert rec.model.get_output_embeddings().weight.shape[0] == len(rec.tokenizer)
    assert rec.prompts([["i1", "i2"]], rec.template_for()) == [
        f"</s> {rec.index.render('i1')} {rec.index.render('i2')}"
    ]
    # The answer continues the ids directly: the same top item as scoring the continuation.
    top = rec.recommend([["i1", "i2"]], k=1, exclude_seen=False)[0][0]
    scores = rec.score([["i1", "i2"]], [[f"i{j}" for j in range(5)]])[0]
    assert top.item == f"i{max(range(5), key=lambda j: scores[j])}"
    assert top.score == pytest.approx(max(scores), abs=1e-5)


def test_sequence_objective_round_trips(tmp_path):
    split = cycle_split(n_users=30)
    rec = LMRecommender(_config(train=replace(_config().train, epochs=1))).fit(split)
    rec.save(tmp_path / "m")
    loaded = LMRecommender.load(tmp_path / "m")
    assert loaded.config.objective == "sequence"
    histories = [["i3", "i4"], ["i0"]]
    assert loaded.recommend(histories, k=3) == rec.recommend(histories, k=3)


def test_sequence_objective_is_refused_where_it_does_not_apply():
    with pytest.raises(ValueError, match="unknown objective"):
        LMConfig(objective="sequences")
    with pytest.raises(ValueError, match="sequential task alone"):
        LMConfig(objective="sequence", tasks=("sequential", "rating"))
    with pytest.raises(ValueError, match="decoder-only"):
        LMRecommender(_config(model="scratch:tiny")).fit(cycle_split(n_users=10))


def _transposed_example_losses(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The per-example loss as it was computed before, over every position."""
    token_loss = torch.nn.functional.cross_entropy(
        logits.float().transpose(1, 2), labels, ignore_index=-100, reduction="none"
    )
    mask = (labels != -100).float()
    return (token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1)


@pytest.mark.parametrize("causal", [False, True])
def test_loss_over_labelled_positions_alone_equals_the_loss_over_all(causal):
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 7, 300, generator=generator)
    labels = torch.randint(0, 300, (5, 7), generator=generator)
    labels[torch.arange(7) >= torch.tensor([[7], [5], [2], [1], [0]])] = -100  # padding
    labels[1, 1] = -100  # a prompt token
    weights = torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0])
    expected_logits = logits.clone().requires_grad_()
    shifted = (expected_logits[:, :-1], labels[:, 1:]) if causal else (expected_logits, labels)
    per_example = _transposed_example_losses(*shifted)
    expected = (per_example * weights).sum() / weights.sum()
    expected.backward()
    got_logits = logits.clone().requires_grad_()
    got = weighted_loss(got_logits, labels, weights, causal=causal)
    got.backward()
    assert got.item() == pytest.approx(expected.item(), abs=1e-6)
    assert torch.allclose(got_logits.grad, expected_logits.grad, atol=1e-7)
    assert example_losses(logits, labels, causal)[-1].item() == 0.0  # nothing labelled

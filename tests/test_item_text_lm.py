"""Item text in the language model's item representation (``LMConfig.item_representation``):
the item tokens' vectors from frozen catalogue text, saved as plain weights, and new items
added after training from their text alone."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from lm_fixtures import cycle_split
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from lmrec.backbone.itemtext import (
    ITEM_TEXT_FILE,
    install_item_text,
    item_text_of,
    without_item_text,
)
from lmrec.backbone.lora import LoraSettings
from lmrec.data.schema import Catalog, Item
from lmrec.data.split import Split
from lmrec.indexing import INDEX_STRATEGIES, IndexConfig, ItemIndex
from lmrec.recommenders.itemtext import text_neighbour_weights
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.text.encoders import ItemTextConfig, embed_catalog
from lmrec.training.loop import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")

TFIDF = ItemTextConfig(encoder="tfidf")
HISTORIES = [["i1", "i2"], ["i5", "i6", "i7"], ["i0"]]


def _config(mode: str = "text", model: str = "scratch:llama-tiny", epochs: int = 6) -> LMConfig:
    return LMConfig(
        model=model,
        index=IndexConfig(item_text=TFIDF),
        prompts=PromptConfig(max_history=4),
        train=TrainConfig(
            epochs=epochs, batch_size=16, learning_rate=3e-3, patience=0, progress=False
        ),
        objective="answer" if model == "scratch:tiny" else "sequence",
        item_representation=mode,
    )


def _split() -> Split:
    return cycle_split(n_items=8, n_users=60, length=6)


def _ranked(rec, histories=HISTORIES, k: int = 10):
    return [[(s.item, s.score) for s in row] for row in rec.recommend(histories, k=k)]


def _items(ranked):
    return [[item for item, _ in row] for row in ranked]


@pytest.fixture(scope="module")
def text_model():
    return LMRecommender(_config("text")).fit(_split())


# ---------------------------------------------------------------- the options
def test_ids_is_the_default_and_installs_nothing(tmp_path):
    """ "ids" is today's model: the same recommendations as a config that never names the
    field, nothing wrapped, no item-text files saved."""
    split = _split()
    plain = replace(_config(), item_representation="ids")
    default = LMConfig(
        **{k: getattr(plain, k) for k in ("model", "index", "prompts", "train")},
        objective="sequence",
    )
    assert default.item_representation == "ids" and default == plain
    a, b = LMRecommender(plain).fit(split), LMRecommender(default).fit(split)
    assert _ranked(a) == _ranked(b)
    assert item_text_of(a.model) is None and a.item_text is None
    a.save(tmp_path)
    assert not (tmp_path / ITEM_TEXT_FILE).exists() and not (tmp_path / "item_text.npz").exists()
    assert LMConfig.from_dict({"model": "scratch:tiny"}).item_representation == "ids"


@pytest.mark.parametrize(
    "index",
    [
        IndexConfig(style="subtokens"),
        IndexConfig(strategy="semantic"),
        IndexConfig(strategy="collaborative+unique"),
    ],
)
def test_multi_token_ids_are_refused_with_the_fix(index):
    with pytest.raises(ValueError, match="one token per item.*--id-style single"):
        LMConfig(index=index, item_representation="text")


def test_unknown_mode_lora_and_whole_word_are_refused():
    with pytest.raises(ValueError, match="unknown item_representation 'words'"):
        LMConfig(item_representation="words")
    with pytest.raises(ValueError, match="LoRA or whole-word"):
        LMConfig(item_representation="ids+text", lora=LoraSettings())
    with pytest.raises(ValueError, match="LoRA or whole-word"):
        LMConfig(item_representation="text", whole_word=True)


def test_an_index_that_writes_several_tokens_is_refused_at_fit(monkeypatch):
    """A strategy the config cannot see through (a registered one) is checked on the index."""

    def two_tokens(split, config):
        return ItemIndex({item: (f"<a_{n}>", "<b_0>") for n, item in enumerate(split.catalog)})

    monkeypatch.setitem(INDEX_STRATEGIES, "random", two_tokens)
    config = replace(_config(epochs=0), index=IndexConfig(strategy="random", item_text=TFIDF))
    with pytest.raises(ValueError, match="item 'i0' has code \\('<a_0>', '<b_0>'\\)"):
        LMRecommender(config).fit(_split())


# ---------------------------------------------------------------- what the vectors are
def test_text_vectors_come_from_the_catalogue_alone():
    """The same vector per item whatever the interactions: with or without validation and test
    events, and from other training histories; and it is the catalogue's text vector."""
    split = _split()
    bare = Split(train=split.train, valid={}, test={}, catalog=split.catalog, name="bare")
    other = cycle_split(n_items=8, n_users=30, length=5, seed=7)
    expected = embed_catalog(split.catalog, TFIDF).rows([f"i{n}" for n in range(8)])
    for data in (split, bare, other):
        rec = LMRecommender(_config(epochs=0)).fit(data)
        table = item_text_of(rec.model)
        by_item = dict(zip(rec.index.items, table.text.numpy(), strict=True))
        assert np.array_equal(
            np.stack([by_item[f"i{n}"] for n in range(8)]), expected.astype(np.float32)
        )
        assert table.token_ids.tolist() == [rec.trie.tokens(i)[0] for i in rec.index.items]


@pytest.mark.parametrize("mode", ["text", "ids+text"])
def test_text_mode_reads_no_id_row(mode):
    """ "text": changing the item tokens' id rows changes nothing; "ids+text": it does."""
    rec = LMRecommender(_config(mode, epochs=0)).fit(_split())
    before = _ranked(rec)
    table = item_text_of(rec.model)
    with torch.no_grad():
        rec.model.get_input_embeddings().embedding.weight[table.token_ids] += 1.0
    assert (_ranked(rec) == before) == (mode == "text")


def test_the_text_term_starts_at_the_size_of_an_id_row():
    rec = LMRecommender(_config("ids+text", epochs=0)).fit(_split())
    table = item_text_of(rec.model)
    weight = rec.model.get_input_embeddings().embedding.weight
    with torch.no_grad():
        ids_norm = weight[table.token_ids].norm(dim=1).mean()
        text_norm = table.proj(table.text).norm(dim=1).mean()
    assert 0.5 < float(text_norm / ids_norm) < 2.0


def test_install_and_materialise_on_a_bare_model():
    """The effective rows in place of the item rows while saving; everything restored after."""
    rec = LMRecommender(_config("ids", epochs=0)).fit(_split())
    model = rec.model
    weight = model.get_input_embeddings().weight
    original = weight.detach().clone()
    ids = [rec.trie.tokens(i)[0] for i in rec.index.items]
    table = install_item_text(model, np.eye(8), ids, keep_ids=True, seed=3)
    assert model.get_output_embeddings().head.weight is weight  # still tied
    effective = original.clone()
    effective[ids] = original[ids] + table.proj.weight.detach().T
    assert torch.allclose(model.get_input_embeddings().weight, effective)
    with without_item_text(model):
        assert model.get_input_embeddings().weight is weight
        assert torch.allclose(weight, effective)
    assert torch.equal(weight, original) and item_text_of(model) is table


@pytest.mark.parametrize("mode", ["text", "ids+text"])
def test_training_embeds_the_batch_rows_as_the_table_does(mode):
    """In training the input embedding projects only the batch's items' text; its rows and
    their gradients are the whole table's (which evaluation and saving read)."""
    rec = LMRecommender(_config(mode, epochs=0)).fit(_split())
    layer = rec.model.get_input_embeddings()
    table = item_text_of(rec.model)
    ids = torch.tensor([[table.token_ids[0], 0, table.token_ids[3]], [1, table.token_ids[3], 2]])
    grads = []
    for training in (True, False):
        layer.train(training)
        rec.model.zero_grad()
        rows = layer(ids)
        (rows * torch.arange(rows.numel()).view_as(rows)).sum().backward()
        grads.append((rows.detach(), table.proj.weight.grad.clone(), layer.embedding.weight.grad))
    (batch, proj_b, id_b), (whole, proj_w, id_w) = grads
    assert torch.allclose(batch, whole, atol=1e-6)
    assert torch.allclose(proj_b, proj_w, atol=1e-4) and torch.allclose(id_b, id_w, atol=1e-4)
    assert proj_b.abs().sum() > 0 and (mode == "text") == bool(id_b[table.token_ids].eq(0).all())


def test_ranking_builds_the_table_once_until_a_weight_changes():
    """Without gradients the effective table is kept between forwards (one projection of the
    catalogue per ranking, not per batch) and rebuilt as soon as the id rows or the projection
    change in place (an optimizer step, a load)."""
    rec = LMRecommender(_config("ids+text", epochs=0)).fit(_split())
    head, table = rec.model.get_output_embeddings(), item_text_of(rec.model)
    item = table.token_ids[0]
    with torch.no_grad():
        first = head.weight
        assert head.weight is first  # kept
        table.proj.weight.mul_(2.0)
        second = head.weight
        head.head.weight[item] += 1.0
        third = head.weight
    with torch.enable_grad():
        fresh = head.weight  # built afresh, differentiable
    assert second is not first and not torch.equal(second, first)
    assert third is not second and torch.allclose(third[item], second[item] + 1.0, atol=1e-6)
    assert fresh.requires_grad and torch.equal(fresh.detach(), third)


# ---------------------------------------------------------------- saving
@pytest.mark.parametrize("model", ["scratch:llama-tiny", "scratch:tiny"])
def test_saved_model_loads_back_and_in_plain_transformers(model, tmp_path):
    rec = LMRecommender(_config("ids+text", model=model, epochs=3)).fit(_split())
    ranked = _ranked(rec)
    rec.save(tmp_path)
    again = LMRecommender.load(tmp_path)
    assert item_text_of(again.model) is not None
    assert _ranked(again) == ranked
    auto = AutoModelForSeq2SeqLM if model == "scratch:tiny" else AutoModelForCausalLM
    plain = auto.from_pretrained(tmp_path).eval()
    ids = torch.tensor([rec.trie.tokens(i) for i in ("i1", "i2", "i3")]).T
    extra = {"decoder_input_ids": ids} if model == "scratch:tiny" else {}
    with torch.no_grad():
        assert torch.equal(
            plain(input_ids=ids, **extra).logits, rec.model(input_ids=ids, **extra).logits
        )
    swapped = rec.with_config()
    swapped.model = plain
    assert _items(_ranked(swapped)) == _items(ranked)


# ---------------------------------------------------------------- new items
def test_a_new_item_is_recommended_and_read_from_its_text(text_model, tmp_path):
    """In "text" mode a new item with i3's text is i3 to the model: the same score, and a
    history ending in it is read as one ending in i3."""
    rec = LMRecommender.load(_saved(text_model, tmp_path / "before"))
    rec.add_items([Item("i3-again", name="thing 3")])
    assert "i3-again" in rec.index and "i3-again" in rec.catalog and "i3-again" in rec.trie
    scores = dict(rec.recommend([["i0", "i1"]], k=9)[0])
    assert set(scores) == {*(f"i{n}" for n in range(2, 8)), "i3-again"}
    assert scores["i3-again"] == pytest.approx(scores["i3"], abs=1e-4)
    (via_new,), (via_old,) = (
        rec.score([h], [["i5", "i0"]]) for h in (["i1", "i3-again"], ["i1", "i3"])
    )
    assert via_new == pytest.approx(via_old, abs=1e-4)
    rec.save(tmp_path / "after")
    again = LMRecommender.load(tmp_path / "after")
    assert _ranked(again, [["i0", "i1"]], 9) == _ranked(rec, [["i0", "i1"]], 9)
    assert again.item_text.items[-1] == "i3-again" and again.item_text.fitted == 8


def _saved(rec, path):
    rec.save(path)
    return path


def test_add_items_keeps_the_known_items_and_refuses_what_it_cannot_embed(text_model):
    rec = text_model.with_config()
    before = _ranked(rec)
    with pytest.raises(ValueError, match="'i1' is already in the catalogue"):
        rec.add_items([Item("i1", name="thing 1")])
    with pytest.raises(ValueError, match="'twin' is already in the catalogue"):
        rec.add_items([Item("twin", name="a"), Item("twin", name="b")])
    with pytest.raises(ValueError, match="'blank' has no text to embed"):
        rec.add_items([Item("blank")])
    assert len(rec.index) == 8 and _ranked(rec) == before
    ids_only = LMRecommender(_config("ids", epochs=0)).fit(_split())
    with pytest.raises(ValueError, match="ids-only model .* ColdStartRecommender"):
        ids_only.add_items([Item("new", name="thing 9")])


def test_a_catalogue_item_without_training_events_has_an_id_and_a_vector_from_its_text():
    split = _split()
    cold = Item("i99", name="thing 3 again")
    split = replace(split, catalog=split.catalog.with_items([cold]))
    rec = LMRecommender(_config("text")).fit(split)
    assert "i99" in rec.index and "i99" in rec.trie  # numbered after the items of the histories
    (scores,) = rec.score([["i1", "i2"]], [["i99"]])
    assert math.isfinite(scores[0])
    with pytest.raises(ValueError, match="already in the catalogue"):
        rec.add_items([cold])


def test_a_new_items_id_row_is_made_of_its_text_neighbours():
    known = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    weights = text_neighbour_weights(np.array([[2.0, 0.0]]), known, k=2)
    # cosines 1, 0, 1/sqrt(2): the two nearest, in proportion
    expected = torch.tensor([[1 / (1 + 2**-0.5), 0.0, 2**-0.5 / (1 + 2**-0.5)]])
    torch.testing.assert_close(weights, expected)
    # none similar: the k nearest weigh alike
    opposite = text_neighbour_weights(np.array([[-1.0, -1.0]]), known[:2], k=2)
    torch.testing.assert_close(opposite, torch.tensor([[0.5, 0.5]]))


def test_a_model_with_tags_saves_loads_and_adds_items_with_their_tags(tmp_path):
    split = _split()
    tagged = [
        replace(i, category="odd" if int(i.id[1:]) % 2 else "even|small")
        for i in split.catalog.values()
    ]
    split = replace(split, catalog=Catalog(tagged))
    config = replace(
        _config("ids+text", epochs=2),
        index=IndexConfig(item_text=ItemTextConfig(encoder="tfidf", tags=True)),
    )
    rec = LMRecommender(config).fit(split)
    assert rec.item_text.tags == ("even", "small", "odd")
    table = item_text_of(rec.model)
    assert table.dense_columns == rec.item_text.vectors.shape[1] - 3
    assert len(table.tag_values) == 4 * 2 + 4  # four even items with two tags, four odd with one
    ranked = _ranked(rec)
    rec.save(tmp_path)
    again = LMRecommender.load(tmp_path)
    assert again.item_text.tags == rec.item_text.tags and _ranked(again) == ranked
    again.add_items([Item("i3-odd", name="thing 3", category="odd|new tag")])
    assert again.item_text.rows(["i3-odd"])[0, -3:] == pytest.approx([0, 0, 2**-0.5])
    assert "i3-odd" in {s.item for s in again.recommend([["i1", "i2"]], k=9)[0]}


def test_add_items_id_row_from_k_neighbours_or_none():
    rec = LMRecommender(_config("ids+text", epochs=1)).fit(_split())
    with pytest.raises(ValueError, match="neighbours must be 0 or more, not -1"):
        rec.add_items([Item("new", name="thing 3")], neighbours=-1)
    assert "new" not in rec.index
    rec.add_items([Item("like-i3", name="thing 3")], neighbours=1)
    rec.add_items([Item("alone", name="thing 3")], neighbours=0)
    embedding = rec.model.get_input_embeddings()
    rows = {
        i: embedding.embedding.weight[rec.trie.tokens(i)[0]] for i in ("alone", "like-i3", "i3")
    }
    assert not rows["alone"].any()  # no id row: the text alone
    torch.testing.assert_close(rows["like-i3"], rows["i3"])  # the nearest text is i3's own

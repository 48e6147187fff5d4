"""The category field as tags beside the item text (``ItemTextConfig.tags``): one-hot columns
from the catalogue's own tags, kept through the cache and through items added later, projected
sparsely by the LM's item-text table; and S3-Rec attribute files read into that field."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from lmrec.backbone.itemtext import ItemTextTable
from lmrec.data.formats import DataFormatError
from lmrec.data.readers import read_sequences
from lmrec.data.schema import Catalog, Item
from lmrec.text.additions import extend_embeddings
from lmrec.text.encoders import ItemTextConfig, ItemTextEmbeddings, embed_catalog
from lmrec.text.tags import item_tags

CATALOG = Catalog(
    [
        Item("p1", name="red running shoe", category="Shoes | Brand A"),
        Item("p2", name="blue swimming cap", category="swimming,brand b"),
        Item("p3", name="tennis racket"),
        Item("p4", name="tennis balls", category="Sport > Tennis; brand a"),
    ]
)
TAGGED = ItemTextConfig(encoder="tfidf", template="{name}", tags=True)


def test_tags_split_at_any_separator_lower_cased_once_each():
    assert item_tags(CATALOG["p1"]) == ["shoes", "brand a"]
    assert item_tags(CATALOG["p4"]) == ["sport", "tennis", "brand a"]
    assert item_tags(Item("x", category=" | ,, ")) == [] == item_tags(CATALOG["p3"])
    assert item_tags(Item("x", category="A|a|A")) == ["a"]


def test_tag_columns_follow_the_text_and_both_parts_weigh_alike():
    plain = embed_catalog(CATALOG, ItemTextConfig(encoder="tfidf", template="{name}"))
    tagged = embed_catalog(CATALOG, TAGGED)
    assert plain.tags is None and plain.tag_columns == 0
    assert tagged.tags == ("shoes", "brand a", "swimming", "brand b", "sport", "tennis")
    text_dims = plain.vectors.shape[1]
    assert tagged.vectors.shape == (4, text_dims + 6)
    np.testing.assert_allclose(np.linalg.norm(tagged.vectors, axis=1), 1.0)
    half = 1 / math.sqrt(2)
    # p1: its text at half weight, then "shoes" and "brand a" sharing the other half
    np.testing.assert_allclose(tagged.vectors[0, :text_dims], plain.vectors[0] * half)
    np.testing.assert_allclose(tagged.vectors[0, text_dims:], [0.5, 0.5, 0, 0, 0, 0])
    # p3 has no tags: its text alone, at full length
    np.testing.assert_allclose(tagged.vectors[2, :text_dims], plain.vectors[2])
    assert not tagged.vectors[2, text_dims:].any()
    # the tags bring p1 and p4 (brand a) closer than their names do
    assert tagged.vectors[0] @ tagged.vectors[3] > plain.vectors[0] @ plain.vectors[3] * half**2
    # the cache tells tagged vectors from plain ones, and keeps the vocabulary
    assert tagged.text_hash != plain.text_hash
    assert embed_catalog(CATALOG, TAGGED, reuse=plain) is not plain
    assert embed_catalog(CATALOG, TAGGED, reuse=tagged) is tagged


def test_tagged_vectors_round_trip_and_new_items_use_the_known_tags_only(tmp_path):
    tagged = embed_catalog(CATALOG, TAGGED)
    tagged.save(tmp_path)
    loaded = ItemTextEmbeddings.load(tmp_path)
    assert loaded.tags == tagged.tags and np.array_equal(loaded.vectors, tagged.vectors)
    assert embed_catalog(CATALOG, TAGGED, cache_dir=tmp_path).tags == tagged.tags
    new = Catalog([Item("p5", name="golf glove", category="Brand A|golf"), Item("p6", name="x")])
    grown = extend_embeddings(loaded, CATALOG, new)
    assert grown.tags == tagged.tags and grown.items[-2:] == ("p5", "p6")
    tags = grown.vectors[4, -6:]
    np.testing.assert_allclose(tags, [0, 1 / math.sqrt(2), 0, 0, 0, 0])  # "golf" has no column
    np.testing.assert_allclose(grown.vectors[:4], tagged.vectors)
    # the catalogue the vectors were made from, tags included, is checked
    retagged = Catalog([Item("p1", name="red running shoe"), *list(CATALOG.values())[1:]])
    with pytest.raises(ValueError, match="not the ones these text vectors were made from"):
        extend_embeddings(loaded, retagged, new)


def test_the_tag_columns_project_sparsely_as_a_dense_product_would():
    generator = torch.Generator().manual_seed(0)
    text = torch.cat(
        [torch.randn(40, 8, generator=generator), (torch.rand(40, 25, generator=generator) < 0.1)],
        dim=1,
    ).float()
    ids = torch.arange(40) + 3
    sparse = ItemTextTable(text, ids, 16, keep_ids=True, std=0.02, seed=1, tag_columns=25)
    dense = ItemTextTable(text, ids, 16, keep_ids=True, std=0.02, seed=1)
    sparse.bf16_training = dense.bf16_training = False  # float32 both: exact comparison
    weight = torch.randn(50, 16, generator=generator)
    torch.testing.assert_close(sparse.rows(weight), dense.rows(weight))
    (sparse.rows(weight) ** 2).sum().backward()
    (dense.rows(weight) ** 2).sum().backward()
    torch.testing.assert_close(sparse.proj.weight.grad, dense.proj.weight.grad)
    with pytest.raises(ValueError, match="34 tag columns in text vectors of 33"):
        ItemTextTable(text, ids, 16, True, 0.02, tag_columns=34)


def _sequences(tmp_path, attributes: str):
    (tmp_path / "seq.txt").write_text("1 1 2 3\n2 2 3 4\n", encoding="utf-8")
    (tmp_path / "names.txt").write_text("1 one\n2 two\n3 three\n4 four\n", encoding="utf-8")
    (tmp_path / "attrs.json").write_text(attributes, encoding="utf-8")
    return read_sequences(
        tmp_path / "seq.txt", tmp_path / "names.txt", attributes_path=tmp_path / "attrs.json"
    )


def test_s3rec_attribute_ids_become_category_tags(tmp_path):
    data = _sequences(tmp_path, json.dumps({"1": [5, 7, 5], "2": [7], "3": []}))
    assert [data.catalog[i].category for i in "1234"] == [
        "attribute 5|attribute 7",
        "attribute 7",
        None,
        None,
    ]
    assert item_tags(data.catalog["1"]) == ["attribute 5", "attribute 7"]


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ('{"1": [5,', DataFormatError, r"attrs\.json:1.*invalid JSON"),
        ("[1, 2]", ValueError, r"attrs\.json: expected a JSON object"),
        ('{"1": [5, "x"]}', ValueError, r"attrs\.json: item '1': expected a list of whole-number"),
        ('{"1": 5}', ValueError, r"attrs\.json: item '1'"),
        ('{"1": [true]}', ValueError, r"attrs\.json: item '1'"),
    ],
)
def test_a_malformed_attribute_file_names_itself_and_the_item(tmp_path, text, error, message):
    with pytest.raises(error, match=message):
        _sequences(tmp_path, text)

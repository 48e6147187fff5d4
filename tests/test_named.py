"""The named-items recommender: the Recommender contract, in English and in Arabic, and
decoding that only ever produces catalogue names."""

from __future__ import annotations

import pytest
import torch
from contract import check_recommender_contract, checkerboard_split

from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import leave_one_out_split
from lmrec.recommenders.named import NamedConfig, NamedItemsRecommender
from lmrec.training.loop import TrainConfig

torch.set_num_threads(1)


def tiny_named(language: str = "en", epochs: int = 0, **changes) -> NamedConfig:
    """A tiny scratch T5; ``epochs=0`` gives an untrained (random) model in a second."""
    train = TrainConfig(
        epochs=epochs,
        batch_size=16,
        learning_rate=3e-3,
        patience=0,
        progress=False,
        max_source_length=512,
    )
    return NamedConfig(model="scratch:tiny", language=language, train=train, **changes)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_contract_untrained(language, tmp_path):
    check_recommender_contract(
        lambda: NamedItemsRecommender(tiny_named(language)),
        checkerboard_split(),
        tmp_path,
        score_tolerance=1e-4,
    )


def _bilingual_split(n_items: int = 50):
    """A cycle over items with English and Arabic names (more than 40: candidates sampled)."""
    catalog = Catalog(
        Item(f"i{j}", name=f"thing {j}", names={"en": f"thing {j}", "ar": f"غرض رقم {j}"})
        for j in range(n_items)
    )
    events = [
        Interaction(f"u{u}", f"i{(u + t) % n_items}", float(t), position=5 * u + t)
        for u in range(n_items)
        for t in range(5)
    ]
    return leave_one_out_split(Dataset(events, catalog, name="bilingual"))


@pytest.mark.parametrize("language", ["en", "ar"])
def test_outputs_are_catalogue_items_and_names(language):
    split = _bilingual_split()
    model = NamedItemsRecommender(tiny_named(language, num_candidates=12)).fit(split)
    assert not model.lists_whole_catalog
    assert model.unknown_token_rate() == 0.0
    names = {item.name_in(language) for item in split.catalog.values()}
    histories = [split.train_items(u) for u in list(split.train)[:12]]
    # Default candidates: a seeded sample of 12; answers come from it, none from the history.
    ranked = model.recommend(histories, k=5)
    for history, recs in zip(histories, ranked, strict=True):
        sample = set(model._inference_candidates(history))
        assert len(recs) == min(5, len(sample - set(history)))
        assert {r.item for r in recs} <= sample - set(history)
    # Caller-given candidates restrict the answers to them.
    cands = [["i1", "i2", "i3"]] * len(histories)
    for recs in model.recommend(histories, k=5, exclude_seen=False, candidates=cands):
        assert [r.item for r in recs] and {r.item for r in recs} <= {"i1", "i2", "i3"}
    # Scoring the same lists exhaustively gives the beam's scores (3 candidates, 5 beams).
    scored = model.score(histories, cands)
    for recs, scores in zip(model.recommend(histories, k=3, exclude_seen=False, candidates=cands),
                            scored, strict=True):  # fmt: skip
        by_item = dict(zip(cands[0], scores, strict=True))
        assert [r.item for r in recs] == sorted(cands[0], key=lambda c: -by_item[c])
        assert [r.score for r in recs] == pytest.approx([by_item[r.item] for r in recs], abs=1e-4)
    with pytest.raises(ValueError, match="one candidate list per history"):
        model.score(histories, cands[:1])
    with pytest.raises(KeyError, match="unknown item 'nope'"):
        model.score(histories[:1], [["i1", "nope"]])
    # Names in, names out: every answer is a catalogue name, spelled exactly.
    history_names = [split.catalog[i].name_in(language) for i in histories[0]]
    answers = model.recommend_names(history_names, k=3, candidates=None)
    assert answers and all(a.name in names for a in answers)
    assert all(a.name == split.catalog[a.item].name_in(language) for a in answers)


def test_candidate_sampling_and_prompt_length():
    split = _bilingual_split()
    model = NamedItemsRecommender(tiny_named("ar", num_candidates=12)).fit(split)
    examples = model.examples([(["i1", "i2"], "i3")] * 20, epoch=0)
    for example in examples:
        assert example.target == "غرض رقم 3"
        assert "غرض رقم 3" in example.source.split(":", 2)[-1]  # the target is a candidate
        assert example.template.startswith("named-ar-")
    with pytest.raises(ValueError, match="max_source_length"):
        tight = TrainConfig(epochs=0, progress=False, max_source_length=32)
        NamedItemsRecommender(NamedConfig(model="scratch:tiny", train=tight)).fit(split)


def test_same_names_are_refused():
    catalog = Catalog([Item("a", name="ball"), Item("b", name="ball"), Item("c", name="bat")])
    events = [Interaction("u", i, float(t), position=t) for t, i in enumerate("abc")]
    split = leave_one_out_split(Dataset(events, catalog))
    with pytest.raises(ValueError, match="same name"):
        NamedItemsRecommender(tiny_named()).fit(split)


def test_reversed_target_word_order(tmp_path):
    """The decoder writes names last word first; prompts and answers keep the catalogue's
    spelling, and the setting survives save/load."""
    split = _bilingual_split()
    model = NamedItemsRecommender(
        tiny_named("ar", num_candidates=12, target_word_order="reversed")
    ).fit(split)
    (example,) = model.examples([(["i1", "i2"], "i3")], epoch=0)
    assert example.target == "3 رقم غرض"
    assert "غرض رقم 1، غرض رقم 2" in example.source  # the history as spelt
    assert "غرض رقم 3" in example.source.split(":", 2)[-1]
    reversed_ids = model.tokenizer("3 رقم غرض").input_ids
    assert model.trie.tokens("i3") == reversed_ids
    assert model.trie.tokens("i3") != model.tokenizer("غرض رقم 3").input_ids
    histories = [split.train_items(u) for u in list(split.train)[:4]]
    cands = [["i1", "i2", "i3"]] * len(histories)
    answers = model.recommend(histories, k=3, exclude_seen=False, candidates=cands)
    assert [sorted(r.item for r in recs) for recs in answers] == [["i1", "i2", "i3"]] * 4
    (named,) = model.recommend_names("غرض رقم 5، غرض رقم 6", k=1)
    assert named.name == split.catalog[named.item].name_in("ar")
    model.save(tmp_path / "m")
    loaded = NamedItemsRecommender.load(tmp_path / "m")
    assert loaded.config.target_word_order == "reversed"
    assert loaded.trie.tokens("i3") == reversed_ids
    before = [s for row in model.score(histories, cands) for s in row]
    assert [s for row in loaded.score(histories, cands) for s in row] == pytest.approx(before)
    with pytest.raises(ValueError, match="target_word_order"):
        tiny_named(target_word_order="backwards")


def test_isolated_separators(tmp_path):
    """With isolate_separators a history's names end in the tokens the decoder writes, in the
    prompt and after save/load; a pretrained checkpoint keeps its tokenizer, so it is refused."""
    split = _bilingual_split()
    model = NamedItemsRecommender(
        tiny_named("ar", num_candidates=12, tokenizer="bpe", isolate_separators=True)
    ).fit(split)
    (example,) = model.examples([(["i1", "i2"], "i3")], epoch=0)
    assert "غرض رقم 1، غرض رقم 2" in example.source
    pieces = model.tokenizer.convert_ids_to_tokens(model.tokenizer(example.source).input_ids)
    name = model.tokenizer.convert_ids_to_tokens(model.trie.tokens("i1")[:-1])  # no </s>
    at = pieces.index(name[0])
    assert pieces[at : at + len(name) + 1] == [*name, "،"]
    glued = NamedItemsRecommender(tiny_named("ar", num_candidates=12, tokenizer="bpe")).fit(split)
    glued_pieces = glued.tokenizer.convert_ids_to_tokens(glued.tokenizer(example.source).input_ids)
    assert "،" not in glued_pieces
    model.save(tmp_path / "m")
    loaded = NamedItemsRecommender.load(tmp_path / "m")
    assert loaded.config.isolate_separators is True
    assert loaded.tokenizer(example.source).input_ids == model.tokenizer(example.source).input_ids
    with pytest.raises(ValueError, match="isolate_separators is for scratch tokenizers"):
        NamedConfig(model="/models/t5-small", isolate_separators=True)

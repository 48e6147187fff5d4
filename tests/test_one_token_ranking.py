"""Ranking one-token ids in one forward pass (:mod:`lmrec.decoding.one_token`) gives the trie
beam search's items and scores, and is used only where it does."""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest
from lm_fixtures import cycle_split

from lmrec.backbone.causal import prompt_ids
from lmrec.decoding.one_token import length_groups
from lmrec.indexing import IndexConfig
from lmrec.recommenders.lm import LMConfig, LMRecommender
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def _config(epochs: int = 3, **changes) -> LMConfig:
    config = LMConfig(
        model="scratch:llama-tiny",
        index=IndexConfig(strategy="sequential", style="single"),
        prompts=PromptConfig(max_history=4),
        train=TrainConfig(
            epochs=epochs, batch_size=16, learning_rate=3e-3, patience=0, progress=False
        ),
        objective="sequence",
        valid_exclude_seen=False,
    )
    return replace(config, **changes)


@pytest.fixture(scope="module")
def trained() -> LMRecommender:
    return LMRecommender(_config()).fit(cycle_split(n_users=40))


def _beam(rec: LMRecommender) -> LMRecommender:
    slow = copy.copy(rec)
    slow.one_pass_ranking = False
    return slow


HISTORIES = [
    ["i3", "i4"],
    [f"i{j % 12}" for j in range(9)],  # longer than max_history (4)
    ["i1", "unknown", "i2", "i1"],  # an item the index does not know; a repeat
    [],  # an empty history is still a prompt (the start token alone)
    ["unknown"],
    ["i7"],
]


def _same(fast, beam) -> None:
    assert [[s.item for s in r] for r in fast] == [[s.item for s in r] for r in beam]
    for r, s in zip(fast, beam, strict=True):
        assert [x.score for x in r] == pytest.approx([x.score for x in s], abs=1e-5)


@pytest.mark.parametrize("exclude_seen", [False, True])
@pytest.mark.parametrize("k", [1, 5, 12, 50])
def test_one_pass_gives_the_beam_search_items_and_scores(trained, exclude_seen, k):
    assert trained.ranks_in_one_pass()
    fast = trained.recommend(HISTORIES, k=k, exclude_seen=exclude_seen)
    beam = _beam(trained).recommend(HISTORIES, k=k, exclude_seen=exclude_seen)
    _same(fast, beam)
    assert len(fast[0]) == (min(k, 10) if exclude_seen else min(k, 12))
    if exclude_seen:
        assert not {"i3", "i4"} & {s.item for s in fast[0]}


def test_one_pass_cuts_long_prompts_as_the_tokenizer_path_does(trained):
    short = trained.with_config(train=replace(trained.config.train, max_source_length=3))
    (text,) = short.prompts([HISTORIES[1]], short.template_for())
    assert short._sequence_ids([HISTORIES[1]])[0] == prompt_ids(short.tokenizer, text, 3, False)
    _same(short.recommend(HISTORIES, k=5), _beam(short).recommend(HISTORIES, k=5))


def test_one_pass_batches_by_length_without_changing_results(trained):
    one_by_one = trained.with_config(inference_batch_size=1)
    _same(one_by_one.recommend(HISTORIES, k=5), trained.recommend(HISTORIES, k=5))


def test_candidates_are_scored_from_one_pass_as_teacher_forcing_scores_them(trained):
    candidates = [["i5", "i3"], ["i0"], [], ["i11", "i2", "i2"], ["i1"], ["i9", "i7"]]
    fast = trained.score(HISTORIES, candidates)
    slow = _beam(trained).score(HISTORIES, candidates)
    assert [len(c) for c in fast] == [2, 1, 0, 3, 1, 2]
    for f, s in zip(fast, slow, strict=True):
        assert f == pytest.approx(s, abs=1e-5)
    # the scores are the ranking's: a history's top item scores what the ranking says
    (top,) = trained.recommend([HISTORIES[0]], k=1, exclude_seen=False)
    assert trained.score([HISTORIES[0]], [[top[0].item]])[0][0] == pytest.approx(top[0].score)
    with pytest.raises(KeyError, match="unknown item 'nope'"):
        trained.score(HISTORIES[:1], [["i1", "nope"]])


def test_validation_ranks_in_one_pass_with_the_same_scores():
    split = cycle_split(n_users=40)
    fast = LMRecommender(_config(epochs=2)).fit(split)
    beam = LMRecommender(_config(epochs=2))
    beam.one_pass_ranking = False
    beam.fit(split)
    valid = [r["valid_ndcg10"] for r in fast.train_result.history]
    assert valid == pytest.approx([r["valid_ndcg10"] for r in beam.train_result.history])


def test_multi_token_ids_keep_the_beam_search():
    config = _config(epochs=1, index=IndexConfig(strategy="sequential", style="subtokens", base=3))
    rec = LMRecommender(config).fit(cycle_split(n_users=20))
    assert rec.trie.depth > 1
    assert not rec.ranks_in_one_pass()
    assert len(rec.recommend([["i1", "i2"]], k=3)[0]) == 3


@pytest.mark.parametrize("histories", [HISTORIES, []])
@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_k_other_than_a_whole_number_from_1_is_refused_by_both_paths(trained, histories, k):
    for rec in (trained, _beam(trained)):
        with pytest.raises(ValueError, match="k must be an integer >= 1"):
            rec.recommend(histories, k=k)


def test_length_groups_cut_a_batch_where_a_row_is_over_twice_its_first_or_it_is_full():
    """Forward batches of the sorted rows: short histories are not padded to long ones."""
    lengths = [2, 3, 5, 5, 9, 11, 30, 50, 70]
    rows = [10, 11, 12, 13, 14, 15, 16, 17, 18]
    assert length_groups(rows, lengths, batch_size=3) == [
        [10, 11],  # 5 > 2 x 2
        [12, 13, 14],  # full
        [15],  # 30 > 2 x 11
        [16, 17],  # 70 > 2 x 30
        [18],
    ]
    assert length_groups(rows, lengths, batch_size=100, growth=100.0) == [rows]
    assert length_groups([], [], batch_size=4) == []

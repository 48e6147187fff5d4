"""What ``lmrec train`` trains by default: the recommended configuration, or the P5-style model
with the reason, when the options ask for what only that one does."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from lmrec.cli import main
from lmrec.config import from_dict
from lmrec.data.schema import Catalog, Item
from lmrec.recommenders.config import LMConfig
from lmrec.recommenders.presets import (
    RECOMMENDED,
    SMALL_LOG_USERS,
    describe_choice,
    recommended_epochs,
    recommended_patience,
    text_share,
    training_base,
    with_item_text,
    with_schedule,
)


def test_no_options_give_the_recommended_configuration_as_a_copy():
    base, why_not = training_base({})
    assert why_not is None and base == RECOMMENDED
    base["train"]["patience"] = 0
    assert RECOMMENDED["train"]["patience"] == 20


@pytest.mark.parametrize(
    ("asked", "streaming", "reason"),
    [
        ({"tasks": ("sequential", "rating")}, False, "task families were asked for"),
        ({"events": {"typed": True}}, False, "typed events were asked for"),
        ({"whole_word": True}, False, "whole-word embeddings were asked for"),
        ({"model": "scratch:tiny"}, False, "a model was named"),
        ({"objective": "answer"}, False, "an objective was named"),
        ({}, True, "training on a stream was asked for"),
        ({"index": {"style": "subtokens"}}, False, "item ids other than one token per item"),
        ({"index": {"strategy": "semantic"}}, False, "item ids other than one token per item"),
    ],
)
def test_what_only_the_p5_model_does_keeps_it_and_says_why(asked, streaming, reason):
    base, why_not = training_base(asked, streaming)
    assert base == {} and why_not.startswith(reason)


@pytest.mark.parametrize(
    "asked",
    [
        {"index": {"seed": 3}, "train": {"seed": 3}},  # --seed sets both
        {"index": {"strategy": "random"}},
        {"index": {"item_text": {"encoder": "tfidf"}}},
        {"train": {"epochs": 5, "learning_rate": 1e-3}, "prompts": {"max_history": 20}},
    ],
)
def test_options_the_recommended_configuration_reads_keep_it(asked):
    assert training_base(asked) == (RECOMMENDED, None)


def test_epochs_follow_the_size_of_the_log():
    assert recommended_epochs(SMALL_LOG_USERS - 1) == 60
    assert recommended_epochs(SMALL_LOG_USERS) == 70


def test_large_logs_run_every_epoch_and_keep_the_best():
    """Patience 20 under SMALL_LOG_USERS, none from there; an option given keeps the value the
    config has from it."""
    assert recommended_patience(SMALL_LOG_USERS - 1) == 20
    assert recommended_patience(SMALL_LOG_USERS) == 0
    config = from_dict(LMConfig, training_base({})[0])
    large = with_schedule(config, SMALL_LOG_USERS, {})
    assert (large.train.epochs, large.train.patience) == (70, 0)
    small = with_schedule(config, SMALL_LOG_USERS - 1, {})
    assert (small.train.epochs, small.train.patience) == (60, 20)
    given = replace(config, train=replace(config.train, epochs=3, patience=5))
    asked = with_schedule(given, SMALL_LOG_USERS, {"train": {"patience": 5}})
    assert (asked.train.epochs, asked.train.patience) == (70, 5)
    asked = with_schedule(given, SMALL_LOG_USERS, {"train": {"epochs": 3}})
    assert (asked.train.epochs, asked.train.patience) == (3, 0)
    assert "70 epochs, the best kept, dropout" in describe_choice(large, None)
    assert "at most 60 epochs, dropout" in describe_choice(small, None)


def _train(tmp_path, *flags):
    out = tmp_path / "model"
    argv = ["--quiet", "train", "--data", "builtin", "--first-only", "--users", "60"]
    assert main([*argv, "--out", str(out), *flags]) == 0
    return json.loads((out / "lmrec.json").read_text())["config"]


def test_train_without_model_options_trains_the_recommended_configuration(tmp_path, capsys):
    config = _train(tmp_path, "--epochs", "1")
    assert (config["model"], config["objective"], config["dropout"]) == (
        "scratch:llama-tiny",
        "sequence",
        0.5,
    )
    assert config["prompts"]["max_history"] == 50 and config["train"]["epochs"] == 1
    assert config["train"]["patience"] == 20 and config["valid_exclude_seen"] is True
    assert config["train"]["max_valid_users"] == 5000
    assert config["item_representation"] == "ids+text"  # the shop's items have names
    out = capsys.readouterr().out
    assert "model: the recommended configuration (scratch:llama-tiny" in out
    assert "item ids + item text)" in out


def test_the_epoch_rule_applies_when_epochs_are_not_given(tmp_path):
    # 60 users: a small log, so 60 epochs at most (patience 0 would run them all: not run here).
    config = _train(tmp_path, "--patience", "1")
    assert config["train"]["epochs"] == recommended_epochs(60) == 60


def test_a_p5_option_keeps_the_p5_model_and_says_why(tmp_path, capsys):
    config = _train(tmp_path, "--model", "scratch:tiny", "--epochs", "1")
    assert (config["model"], config["objective"], config["dropout"]) == (
        "scratch:tiny",
        "answer",
        None,
    )
    assert config["prompts"]["max_history"] == 20  # LMConfig's own default, not the preset's
    out = capsys.readouterr().out
    assert "(not the recommended configuration: a model was named)" in out


def test_a_run_file_is_trained_as_written(tmp_path, capsys):
    first = _train(tmp_path, "--model", "scratch:tiny", "--epochs", "1")
    again = tmp_path / "again"
    argv = ["--quiet", "train", "--config", str(tmp_path / "model" / "lmrec.json")]
    assert main([*argv, "--out", str(again)]) == 0
    config = json.loads((again / "lmrec.json").read_text())["config"]
    assert config["model"] == first["model"] == "scratch:tiny"
    assert "model: scratch:tiny, objective answer, at most 1 epoch, as the run file says" in (
        capsys.readouterr().out
    )


def _catalog(named: int, bare: int) -> Catalog:
    items = [Item(f"n{i}", name=f"thing {i}") for i in range(named)]
    return Catalog(items + [Item(f"b{i}") for i in range(bare)])


def test_text_is_read_when_half_the_catalogue_has_some():
    config = from_dict(LMConfig, RECOMMENDED)
    assert with_item_text(config, _catalog(5, 5), {}).item_representation == "ids+text"
    assert with_item_text(config, _catalog(4, 5), {}).item_representation == "ids"
    assert with_item_text(config, Catalog([]), {}).item_representation == "ids"
    assert text_share(_catalog(1, 3), config.index.item_text.template) == 0.25


def test_a_representation_asked_for_is_kept():
    config = replace(from_dict(LMConfig, RECOMMENDED), item_representation="text")
    asked = {"item_representation": "text"}
    assert with_item_text(config, _catalog(5, 0), asked).item_representation == "text"
    ids = replace(config, item_representation="ids")
    assert with_item_text(ids, _catalog(5, 0), {"item_representation": "ids"}) == ids

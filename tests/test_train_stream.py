"""Training from a stream: the same steps as ``train_model`` on the same batches, on a tiny
randomly initialised T5 fed by a streamed log."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from lm_fixtures import tiny_config

from lmrec.backbone.model import prepare_model
from lmrec.cli import main
from lmrec.data import Catalog
from lmrec.prompts.templates import load_templates
from lmrec.recommenders.lm import LMRecommender, catalog_corpus
from lmrec.tasks import PromptConfig
from lmrec.training.loop import TrainConfig, train_model
from lmrec.training.stream import (
    catalog_index,
    stream_sequential_examples,
    train_on_stream,
)


def _cycle_log(path: Path, users: int = 8, length: int = 5, items: int = 6) -> Path:
    """Each user walks a cycle of items from their own start: users * (length - 1) pairs."""
    lines = ["user,item,timestamp"]
    for t in range(length):  # in time order, users interleaved
        lines.extend(f"u{u},i{(u + t) % items},{t}" for u in range(users))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _setup(tmp_path: Path):
    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    index = catalog_index(catalog)
    templates = load_templates()
    model, tokenizer = prepare_model(
        "scratch:tiny", catalog_corpus(catalog, templates), index.vocabulary(), seed=0
    )
    log = _cycle_log(tmp_path / "log.csv")

    def examples(epoch: int):
        rng = random.Random(epoch)
        return stream_sequential_examples(log, index, templates, PromptConfig(), rng, chunk_size=5)

    return model, tokenizer, examples


def test_stream_training_equals_train_model_on_the_same_batches(tmp_path: Path) -> None:
    """With a buffer holding the whole epoch, the batches are train_model's: same weights."""
    config = TrainConfig(epochs=2, batch_size=16, patience=0, progress=False, max_valid_users=0)
    model, tokenizer, examples = _setup(tmp_path)
    reference = type(model)(model.config)
    reference.load_state_dict(model.state_dict())

    streamed = train_on_stream(
        model, tokenizer, examples, config, examples_per_epoch=32, shuffle_buffer=32
    )
    listed = train_model(reference, tokenizer, lambda e: list(examples(e)), None, config)

    assert streamed.examples_seen == listed.examples_seen == 64
    assert streamed.epochs_run == listed.epochs_run == 2
    assert [round(h["loss"], 4) for h in streamed.history] == [
        round(h["loss"], 4) for h in listed.history
    ]
    for (name, ours), theirs in zip(
        model.state_dict().items(), reference.state_dict().values(), strict=True
    ):
        torch.testing.assert_close(ours, theirs, msg=name)


def test_small_buffer_sees_every_example_once_per_epoch(tmp_path: Path) -> None:
    config = TrainConfig(epochs=1, batch_size=4, progress=False)
    model, tokenizer, examples = _setup(tmp_path)
    before = model.shared.weight.detach().clone()
    result = train_on_stream(model, tokenizer, examples, config, 32, shuffle_buffer=10)
    assert result.examples_seen == 32
    assert not torch.equal(before, model.shared.weight)
    with pytest.raises(ValueError, match="must hold at least one batch"):
        train_on_stream(model, tokenizer, examples, config, 32, shuffle_buffer=3)


def test_fit_stream_trains_a_recommender_that_saves_and_loads(tmp_path: Path) -> None:
    log = _cycle_log(tmp_path / "log.csv")
    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    rec = LMRecommender(tiny_config(epochs=1)).fit_stream(log, catalog, chunk_size=3)
    assert rec.train_result.examples_seen == 32
    assert [rec.index.render(i) for i in catalog] == [f"<item_{k}>" for k in range(6)]
    ranked = rec.recommend([["i0", "i1"]], k=3)[0]
    assert len(ranked) == 3 and {s.item for s in ranked} <= set(catalog)
    rec.save(tmp_path / "model")
    again = LMRecommender.load(tmp_path / "model").recommend([["i0", "i1"]], k=3)[0]
    assert [s.item for s in again] == [s.item for s in ranked]


def test_fit_stream_refuses_what_a_stream_cannot_train(tmp_path: Path) -> None:
    log = _cycle_log(tmp_path / "log.csv")
    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    config = replace(tiny_config(), tasks=("sequential", "rating"))
    with pytest.raises(ValueError, match="sequential task only"):
        LMRecommender(config).fit_stream(log, catalog)
    config = replace(tiny_config(), model="scratch:gpt-tiny", objective="sequence")
    with pytest.raises(ValueError, match="answer objective only"):
        LMRecommender(config).fit_stream(log, catalog)


def test_cli_trains_from_a_stream_and_the_model_recommends(tmp_path: Path, capsys) -> None:
    log = _cycle_log(tmp_path / "log.csv")
    out = tmp_path / "model"
    command = ["--quiet", "train", "--stream", "--data", str(log), "--model", "scratch:tiny"]
    assert main([*command, "--epochs", "1", "--batch-size", "8", "--out", str(out)]) == 0
    assert "trained on a stream of 32 examples per epoch" in capsys.readouterr().out
    assert main(["recommend", "--model", str(out), "--history", "i0,i1", "--json", "-k", "3"]) == 0
    (shown,) = json.loads(capsys.readouterr().out)
    items = [r["item"] for r in shown["recommendations"]]
    assert len(items) == 3 and set(items) <= {"i2", "i3", "i4", "i5"}  # history excluded


def test_cli_stream_stops_at_time_going_backwards(tmp_path: Path, capsys) -> None:
    log = _cycle_log(tmp_path / "log.csv")
    with log.open("a", encoding="utf-8") as f:
        f.write("u0,i1,2\n")  # u0's last event was at 4
    command = ["train", "--stream", "--data", str(log), "--model", "scratch:tiny"]
    assert main([*command, "--out", str(tmp_path / "m")]) == 2
    assert f"{log}:42: timestamp goes backwards" in capsys.readouterr().err


@pytest.mark.slow
def test_fit_stream_learns_the_cycle(tmp_path: Path) -> None:
    """Every user walks the same cycle of six items: the next item is the successor."""
    log = _cycle_log(tmp_path / "log.csv", users=24, length=6)
    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    rec = LMRecommender(tiny_config(epochs=20)).fit_stream(log, catalog, chunk_size=7)
    histories = [[f"i{(start + t) % 6}" for t in range(3)] for start in range(6)]
    top = [r[0].item for r in rec.recommend(histories, k=1)]
    assert top == ["i3", "i4", "i5", "i0", "i1", "i2"]


def test_fit_stream_with_whole_word_saves_a_model_that_loads(tmp_path: Path) -> None:
    """The streamed path installs and saves the whole-word table as eager training does."""
    log = _cycle_log(tmp_path / "log.csv")
    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    config = replace(tiny_config(epochs=1, style="subtokens"), whole_word=True)
    rec = LMRecommender(config).fit_stream(log, catalog, chunk_size=3)
    ranked = rec.recommend([["i0", "i1"]], k=3)[0]
    rec.save(tmp_path / "model")
    assert (tmp_path / "model" / "whole_word.safetensors").exists()
    again = LMRecommender.load(tmp_path / "model").recommend([["i0", "i1"]], k=3)[0]
    assert [s.item for s in again] == [s.item for s in ranked]
    assert [s.score for s in again] == pytest.approx([s.score for s in ranked], abs=1e-4)


@pytest.mark.parametrize("backbone", ["scratch:gpt-tiny", "scratch:llama-tiny"])
def test_fit_stream_trains_a_decoder_only_model(tmp_path: Path, backbone: str) -> None:
    """A decoder-only model is collated the causal way, through the shared training step."""
    log = _cycle_log(tmp_path / "log.csv")
    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    rec = LMRecommender(replace(tiny_config(epochs=1), model=backbone)).fit_stream(log, catalog)
    assert rec.train_result.examples_seen == 32
    ranked = rec.recommend([["i0", "i1"]], k=3)[0]
    assert len(ranked) == 3 and {s.item for s in ranked} <= set(catalog) - {"i0", "i1"}

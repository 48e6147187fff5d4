"""What a run leaves behind (issue 25 items 3 and 7): TensorBoard scalars that TensorBoard
itself reads back, metrics.json and training.png in every trained model directory, the lmrec
version and test metrics in lmrec.json, checkpoints deleted unless kept, and the refit on
every event for the epoch count validation chose."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from lm_fixtures import tiny_config
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import lmrec
from lmrec.cli import main
from lmrec.cli.runfile import read_run
from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.source import DataConfig, load_dataset
from lmrec.data.split import leave_one_out_split
from lmrec.recommenders.fitting import whole_split
from lmrec.recommenders.lm import LMRecommender
from lmrec.tasks import sequential_pairs
from lmrec.training.records import ScalarLog, plot_history

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
DATA = ["--data", "builtin", "--users", "30", "--first-only"]
TINY = ["--model", "scratch:tiny", "--batch-size", "16", "--patience", "0"]


def scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    """Every scalar series of a TensorBoard log, read by TensorBoard's own reader."""
    events = EventAccumulator(str(log_dir))
    events.Reload()
    return {
        tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]
    }


def float32(value: float) -> float:
    # TensorBoard stores a scalar as a 32-bit float: that is the exact value to read back.
    return float(np.float32(value))


# ------------------------------------------------------------------------------ pieces
def test_scalar_log_reads_back_exactly_in_tensorboard(tmp_path):
    log = ScalarLog(tmp_path)
    log.epoch({"epoch": 1, "loss": 2.5, "valid_ndcg10": 1 / 3})
    log.epoch({"epoch": 2, "loss": 0.1, "valid_ndcg10": 0.4})
    log.close()
    assert scalars(tmp_path) == {
        "train/loss": [(1, 2.5), (2, float32(0.1))],
        "valid/ndcg10": [(1, float32(1 / 3)), (2, float32(0.4))],
    }


def test_scalar_log_without_a_directory_or_off_writes_nothing(tmp_path):
    for log in (ScalarLog(None), ScalarLog(tmp_path / "other", enabled=False)):
        log.epoch({"epoch": 1, "loss": 1.0})
        log.close()
    assert not (tmp_path / "other").exists()


def test_plot_without_validation_is_still_a_picture(tmp_path):
    plot_history([{"epoch": 1, "loss": 3.0}, {"epoch": 2, "loss": 2.0}], tmp_path / "t.png")
    assert (tmp_path / "t.png").read_bytes()[:8] == PNG_MAGIC


# ------------------------------------------------------------------------------- refit
def test_whole_split_trains_on_every_event_in_time_order():
    split = leave_one_out_split(_dataset_with_a_test_only_item())
    whole = whole_split(split)
    assert whole.valid == {} and whole.test == {}
    for user, events in split.train.items():
        assert whole.train[user] == [*events, split.valid[user], split.test[user]]
    assert sum(len(v) for v in whole.train.values()) == 24 * 5


def test_refit_trains_on_the_test_targets_for_the_best_epoch_count():
    split = leave_one_out_split(_dataset_with_a_test_only_item())
    rec = LMRecommender(tiny_config(epochs=3)).fit(split)
    chosen = rec.train_result
    # Sequential ids number items by first appearance in training; catalogue-only items come
    # after. "new" is only a test target: last for the first run, fifth once trained on.
    assert rec.index.items.index("new") == 8
    assert chosen.examples_seen == 3 * 24 * 2
    rec.refit(split)
    assert rec.train_result is chosen  # the record of the validation that chose the epochs
    refit = rec.refit_record
    assert refit.epochs == chosen.best_epoch >= 1
    assert refit.events == 24 * 5
    assert rec.index.items.index("new") == 4
    pairs = sequential_pairs(whole_split(split))
    assert (["i0", "i1", "i2", "i3"], "new") in pairs
    assert len(pairs) == 24 * 4
    assert refit.result.examples_seen == refit.epochs * len(pairs)
    assert [r["epoch"] for r in refit.result.history] == list(range(1, refit.epochs + 1))
    assert all("valid_ndcg10" not in r for r in refit.result.history)
    assert rec.config.train.epochs == 3  # the config saved is the run's own
    assert rec.recommend([["i0", "i1"]], k=3)[0]  # the refit model answers


def _dataset_with_a_test_only_item() -> Dataset:
    """24 users walking a cycle of 8 items, 5 events each; user u0's last event (its test
    target) is an item no one else has."""
    rows = []
    for u in range(24):
        for t in range(5):
            item = "new" if (u, t) == (0, 4) else f"i{(u + t) % 8}"
            rows.append(Interaction(f"u{u}", item, float(t), position=len(rows)))
    catalog = Catalog(Item(i, name=f"thing {i}") for i in [*(f"i{n}" for n in range(8)), "new"])
    return Dataset(rows, catalog, name="cycle")


# ------------------------------------------------------------------------------ the CLI
@pytest.fixture(scope="module")
def refit_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("records")
    argv = ["--quiet", "--threads", "1", "train", *DATA, *TINY, "--epochs", "3"]
    argv += ["--log-dir", str(root / "tb"), "--refit", "--evaluate", "--out", str(root / "m")]
    assert main(argv) == 0
    return root


def test_a_trained_directory_holds_its_record_and_no_checkpoint(refit_run):
    model = refit_run / "m"
    assert not (model / "_train").exists()
    assert (model / "training.png").read_bytes()[:8] == PNG_MAGIC
    meta = json.loads((model / "lmrec.json").read_text())
    metrics = json.loads((model / "metrics.json").read_text())
    assert meta["lmrec_version"] == lmrec.__version__
    assert meta["data"]["path"] == "builtin" and meta["data"]["users"] == 30
    assert [r["epoch"] for r in metrics["history"]] == [1, 2, 3]
    assert all({"loss", "valid_ndcg10"} <= r.keys() for r in metrics["history"])
    best = max(metrics["history"], key=lambda r: r["valid_ndcg10"])
    assert metrics["best_epoch"] == meta["train_result"]["best_epoch"] == best["epoch"]
    assert metrics["best_valid"] == best["valid_ndcg10"]
    # The test metrics of the run before the refit, in both files.
    assert metrics["test"] == meta["test_metrics"]
    assert metrics["test"]["before_refit"] is True
    assert metrics["test"]["users"] == 30
    assert {"HR@10", "NDCG@10"} <= metrics["test"]["metrics"].keys()
    assert "all 72 items ranked" in metrics["test"]["protocol"]


def test_the_refit_is_recorded_with_the_best_epoch_and_every_event(refit_run):
    meta = json.loads((refit_run / "m" / "lmrec.json").read_text())
    metrics = json.loads((refit_run / "m" / "metrics.json").read_text())
    everything = load_dataset(DataConfig(path="builtin", users=30, first_only=True))
    assert meta["refit"]["epochs"] == meta["train_result"]["best_epoch"]
    assert meta["refit"]["events"] == len(everything.interactions)
    assert metrics["refit"]["epochs"] == meta["refit"]["epochs"]
    assert len(metrics["refit"]["history"]) == meta["refit"]["epochs"]
    # The record is a run file still: the new keys are read and never applied.
    assert set(read_run(refit_run / "m")) == {"config", "data"}


def test_tensorboard_holds_each_epochs_loss_and_validation(refit_run):
    metrics = json.loads((refit_run / "m" / "metrics.json").read_text())
    history = metrics["history"]
    logged = scalars(refit_run / "tb")
    assert logged == {
        "train/loss": [(r["epoch"], float32(r["loss"])) for r in history],
        "valid/ndcg10": [(r["epoch"], float32(r["valid_ndcg10"])) for r in history],
    }
    refit = metrics["refit"]["history"]
    assert scalars(refit_run / "tb" / "refit") == {
        "train/loss": [(r["epoch"], float32(r["loss"])) for r in refit]
    }


def test_a_loaded_model_saved_again_keeps_its_record(refit_run, tmp_path):
    rec = LMRecommender.load(refit_run / "m")
    assert rec.refit_record.epochs == rec.train_result.best_epoch
    rec.save(tmp_path / "again")
    before = json.loads((refit_run / "m" / "metrics.json").read_text())
    after = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert after["history"] == before["history"]
    assert after["refit"]["history"] == before["refit"]["history"]


def test_keep_checkpoints_keeps_them(tmp_path):
    argv = ["--quiet", "--threads", "1", "train", *DATA, *TINY, "--epochs", "1"]
    assert main([*argv, "--keep-checkpoints", "--out", str(tmp_path / "m")]) == 0
    assert (tmp_path / "m" / "_train" / "checkpoint" / "progress.json").exists()
    assert (tmp_path / "m" / "metrics.json").exists()


def test_stream_refuses_refit(tmp_path):
    argv = ["train", "--data", "builtin", "--stream", "--refit", "--out", str(tmp_path / "m")]
    with pytest.raises(SystemExit, match="no --refit or --evaluate"):
        main(argv)


def test_refit_of_an_unfitted_recommender_fits_first():
    split = leave_one_out_split(_dataset_with_a_test_only_item())
    rec = LMRecommender(tiny_config(epochs=0)).refit(split)
    # Zero epochs chosen: the refit trains none, and says so.
    assert rec.train_result.epochs_run == 0
    assert (rec.refit_record.epochs, rec.refit_record.events) == (0, 24 * 5)


# ----------------------------------------------------------------------- resume and stop
def test_a_run_resumed_after_it_stopped_early_trains_no_more(tmp_path):
    """The refit's resume needs this: the first run's finished checkpoint, resumed, must give
    back the same record and weights, not one epoch more."""
    import random
    from dataclasses import replace

    from lmrec.backbone.model import prepare_model
    from lmrec.data import Catalog
    from lmrec.prompts.templates import load_templates
    from lmrec.recommenders.lm import catalog_corpus
    from lmrec.tasks import PromptConfig
    from lmrec.training.loop import TrainConfig, train_model
    from lmrec.training.stream import catalog_index, stream_sequential_examples

    catalog = Catalog.from_ids(f"i{k}" for k in range(6))
    index, templates = catalog_index(catalog), load_templates()
    log = tmp_path / "log.csv"
    rows = [f"u{u},i{(u + t) % 6},{t}" for t in range(4) for u in range(6)]
    log.write_text("user,item,timestamp\n" + "\n".join(rows) + "\n", encoding="utf-8")

    def examples(epoch: int):
        rng = random.Random(epoch)
        return list(stream_sequential_examples(log, index, templates, PromptConfig(), rng))

    scores = iter([[0.5], [0.4], [0.3], [0.2], [0.1]])  # best at epoch 1, then worse

    def validate(model, shard):
        return next(scores)

    run = str(tmp_path / "run")
    config = TrainConfig(epochs=5, batch_size=4, patience=2, progress=False, output_dir=run)
    runs = []
    for resume in (False, True):
        model, tokenizer = prepare_model(
            "scratch:tiny", catalog_corpus(catalog, templates), index.vocabulary(), seed=0
        )
        runs.append(
            train_model(model, tokenizer, examples, validate, replace(config, resume=resume))
        )
    first, resumed = runs
    assert (first.epochs_run, first.best_epoch) == (3, 1)
    assert (resumed.epochs_run, resumed.best_epoch, resumed.best_valid) == (3, 1, 0.5)
    assert resumed.history == first.history
    assert next(scores) == [0.2]  # the resumed run validated nothing


def test_checkpoints_of_a_tied_model_log_no_shared_tensor_warning(tmp_path, caplog):
    # The recommended configuration (no model options) ties input and output embeddings.
    # Not --quiet, which silences accelerate altogether.
    argv = ["--threads", "1", "train", "--data", "builtin", "--first-only"]
    argv += ["--users", "60", "--epochs", "2", "--keep-checkpoints", "--out", str(tmp_path / "m")]
    with caplog.at_level(logging.WARNING):
        assert main(argv) == 0
    assert (tmp_path / "m" / "_train" / "checkpoint" / "progress.json").exists()
    assert not [r for r in caplog.records if "Removed shared tensor" in r.getMessage()]

"""SASRec: the shared contract, a sequence it must learn, deterministic fitting, save/load."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from contract import COLD_ITEM, check_recommender_contract, checkerboard_split, random_split

from lmrec.baselines import SASRecConfig, SASRecRecommender
from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.evaluation.ranking import evaluate_ranking

TINY = SASRecConfig(
    hidden=16,
    num_blocks=1,
    max_len=8,
    dropout=0.1,
    lr=3e-3,
    batch_size=32,
    epochs=3,
    patience=0,
    device="cpu",
    progress=False,
)
"""A model that fits the tiny test data in well under a second."""


def cycle_split(n_items: int = 10, n_users: int = 120, length: int = 7, seed: int = 0) -> Split:
    """Users walk a cycle i0 -> i1 -> ... -> i0 from a random start (as in lm_fixtures, which
    imports transformers): the next item is always the successor of the last one."""
    rng = random.Random(seed)
    interactions = []
    for u in range(n_users):
        start = rng.randrange(n_items)
        for t in range(length):
            item = f"i{(start + t) % n_items}"
            interactions.append(Interaction(f"u{u}", item, float(t), position=len(interactions)))
    catalog = Catalog(Item(f"i{i}") for i in range(n_items))
    return leave_one_out_split(Dataset(interactions, catalog, name="cycle"))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():  # noqa: ANN202
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("loss", ["ce", "bce"])
@pytest.mark.parametrize("make_split", [checkerboard_split, random_split])
def test_contract(make_split, loss: str, tmp_path: Path) -> None:  # noqa: ANN001
    config = replace(TINY, loss=loss)
    check_recommender_contract(lambda: SASRecRecommender(config), make_split(), tmp_path)


def test_learns_a_cycle() -> None:
    split = cycle_split()
    config = replace(TINY, hidden=32, epochs=30, patience=3)
    model = SASRecRecommender(config).fit(split)
    report = evaluate_ranking(model, split, stage="test", ks=(1,), progress=False)
    assert report.metrics["HR@1"] >= 0.9
    (recs,) = model.recommend([["i3", "i4", "i5"]], k=1)
    assert recs[0].item == "i6"


def test_early_stopping_keeps_the_best_epoch() -> None:
    split = cycle_split()
    model = SASRecRecommender(replace(TINY, epochs=8, eval_every=2, patience=2)).fit(split)
    log = model.training_log
    measured = [e for e in log if "valid_ndcg@10" in e]
    assert [e["epoch"] for e in measured] == [e["epoch"] for e in log if e["epoch"] % 2 == 0]
    best = max(measured, key=lambda e: e["valid_ndcg@10"])
    assert model.best_epoch == best["epoch"]
    assert log[0]["loss"] > log[-1]["loss"]


def test_fit_is_deterministic() -> None:
    split = random_split()
    first = SASRecRecommender(TINY).fit(split)
    second = SASRecRecommender(TINY).fit(split)
    history = [["i1", "i4", "i2"]]
    assert first.recommend(history, k=5) == second.recommend(history, k=5)
    assert first.training_log[-1]["loss"] == second.training_log[-1]["loss"]


def test_unknown_items_are_ignored_and_cold_items_rankable() -> None:
    model = SASRecRecommender(TINY).fit(checkerboard_split())
    with_unknown, plain = model.recommend([["nope", "A1", "nope", "A2"], ["A1", "A2"]], k=11)
    assert with_unknown == plain
    assert COLD_ITEM in {r.item for r in model.recommend([[]], k=11)[0]}
    assert COLD_ITEM in {r.item for r in plain}


def test_empty_history_gets_popularity() -> None:
    model = SASRecRecommender(TINY).fit(checkerboard_split())
    (recs,) = model.recommend([["not-an-item"]], k=3)
    assert [(r.item, r.score) for r in recs] == [("B3", 3.0), ("A3", 3.0), ("A4", 3.0)]


def test_saves_json_and_safetensors(tmp_path: Path) -> None:
    model = SASRecRecommender(TINY).fit(checkerboard_split())
    model.save(tmp_path / "m")
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["config.json", "model.safetensors"]
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["config"]["hidden"] == 16
    assert saved["items"][-1] == COLD_ITEM
    loaded = SASRecRecommender.load(tmp_path / "m")
    assert loaded.config == TINY
    assert loaded.training_log == model.training_log


@pytest.mark.parametrize(
    "changes",
    [{"hidden": 10, "num_heads": 3}, {"dropout": 1.0}, {"loss": "bpr"}, {"max_len": 0}],
)
def test_config_rejects_bad_settings(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(TINY, **changes)


def test_unfitted_model_says_so() -> None:
    with pytest.raises(RuntimeError, match="not fitted"):
        SASRecRecommender(TINY).recommend([["A1"]], k=1)

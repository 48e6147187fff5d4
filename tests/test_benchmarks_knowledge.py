"""The studies of issue 24: the SASRec grid runs in pieces and picks by validation; the
knowledge study resumes, fills every table, cuts thirds by training count and takes SASRec's
settings from a finished grid only."""

from __future__ import annotations

import json

import pytest
from bench_fixtures import quick_run

from benchmarks import sasrec_grid
from benchmarks.knowledge import measure as knowledge_measure
from benchmarks.knowledge import models as knowledge_models


@pytest.mark.slow
def test_sasrec_grid_runs_in_pieces_and_picks_by_validation(tmp_path):
    first = quick_run("sasrec_grid", tmp_path, "--points", "2")
    assert [(r["dropout"], r["lr"]) for r in first["rows"]] == [(0.2, 1e-3), (0.2, 3e-3)]
    assert len(first["missing"]) == 4  # the other narrow points; the wide one is not chosen yet
    assert (tmp_path / "smoke-quick.partial.json").exists()
    report = quick_run("sasrec_grid", tmp_path, "--report")  # trains nothing
    assert report["rows"] == first["rows"] and report["missing"] == first["missing"]
    done = quick_run("sasrec_grid", tmp_path)
    assert done["missing"] == []
    assert not (tmp_path / "smoke-quick.partial.json").exists()
    rows = done["rows"]
    assert rows[:2] == first["rows"]  # resumed, not trained again
    narrow, wide = rows[:6], rows[6]
    assert [(r["hidden"], r["dropout"], r["lr"]) for r in narrow] == [
        (64, d, lr) for d in sasrec_grid.DROPOUTS for lr in sasrec_grid.RATES
    ]
    pair = max(narrow, key=lambda r: r["best_valid_ndcg10"])
    assert (wide["hidden"], wide["dropout"], wide["lr"]) == (128, pair["dropout"], pair["lr"])
    assert done["best"] == max(rows, key=lambda r: r["best_valid_ndcg10"])
    for row in rows:
        assert row["epochs_run"] == 3 and 1 <= row["best_epoch"] <= 3
        assert "user history not excluded" in row["test_protocol_history_kept"]
        assert "user history excluded" in row["test_protocol_history_excluded"]
    # --extra: the finished grid's rows come from its results file, the added point trains
    added = quick_run(
        "sasrec_grid", tmp_path, "--extra", f"32:0.1:0.002,128:{pair['dropout']}:{pair['lr']}"
    )
    assert added["rows"][:7] == rows and added["missing"] == []
    (extra,) = added["rows"][7:]  # the second point is the grid's wide one: not trained again
    assert (extra["hidden"], extra["dropout"], extra["lr"], extra["extra"]) == (
        32,
        0.1,
        0.002,
        True,
    )
    assert added["best"] == max(added["rows"], key=lambda r: r["best_valid_ndcg10"])
    assert "(added)" in (tmp_path / "smoke-quick.md").read_text()


@pytest.mark.parametrize("text", ["128:0.5", "a:0.5:0.001", "128:1.5:0.001", "128:0.5:0"])
def test_sasrec_grid_refuses_a_malformed_extra_point(text):
    with pytest.raises(SystemExit):
        sasrec_grid.parser().parse_args(["--extra", text])


KNOWLEDGE_ROW_KEYS = {"recommender", "model", "thirds", "test_events", "fit_seconds"}
KNOWLEDGE_ROW_KEYS |= set(knowledge_measure.METRICS)


@pytest.mark.slow
def test_knowledge_quick_path_resumes_and_fills_every_table(tmp_path):
    """The knowledge study on 300 shop users: a piece with popularity alone keeps its cache;
    the full run reuses that row, measures every other one (head / torso / tail thirds that
    partition the test events, most-trained targets first) and cold start on 3 seeds."""
    first = quick_run("knowledge", tmp_path, "--models", "popularity")
    (piece,) = first["datasets"]
    assert [r["model"] for r in piece["rows"]] == ["popularity"] and piece["missing"]
    assert (tmp_path / "smoke-quick.partial.json").exists()
    result = quick_run("knowledge", tmp_path, "--hybrid")
    assert not (tmp_path / "smoke-quick.partial.json").exists()
    (data,) = result["datasets"]
    assert data["missing"] == [] and data["test_events"] == 300
    assert [r["model"] for r in data["rows"]] == list(knowledge_models.MAIN)
    assert data["rows"][0] == piece["rows"][0]  # resumed (fit_seconds too), not fitted again
    thirds = [data["thirds"][t] for t in knowledge_measure.THIRDS]
    assert [t["events"] for t in thirds] == [100, 100, 100]
    for upper, lower in zip(thirds[:-1], thirds[1:], strict=True):
        assert upper["fewest_training_events"] >= lower["most_training_events"]
    for row in data["rows"]:
        assert KNOWLEDGE_ROW_KEYS <= set(row), row["model"]
        assert row["test_events"] == 300
        for kept in ("", knowledge_measure.EXCLUDED):
            assert 0.0 <= row["NDCG@10" + kept] <= row["HR@10" + kept] <= 1.0
            # the thirds are equal in size: their mean is the row's NDCG@10
            by_third = [row["thirds"][t]["NDCG@10" + kept] for t in knowledge_measure.THIRDS]
            assert sum(by_third) / 3 == pytest.approx(row["NDCG@10" + kept])
    assert "history NOT excluded" in result["protocol"]
    sasrec = next(r for r in data["rows"] if r["model"] == "sasrec")
    assert sasrec["epochs_run"] == 3 and result["sasrec"]["hidden"] == 64
    lms = [r for r in data["rows"] if r["model"].startswith("lm-")]
    assert [r["epochs_run"] for r in lms] == [2, 2, 2]
    assert result["config"]["item_representation"] == "ids+text"
    cold = data["coldstart"]
    assert cold["seeds"] == [0, 1, 2]
    assert {(r["route"], r["seed"]) for r in cold["rows"]} == {
        (route, seed) for route in cold["routes"] for seed in (0, 1, 2)
    }
    for row in cold["rows"]:
        assert row["held_out_items"] == 7 and 0 < row["cold_test_events"] < row["test_events"]
        assert row["hits"] == round(row["HR@10"] * row["cold_test_events"])
    assert [m["seeds"] for m in cold["means"]] == [3, 3, 3]
    page = (tmp_path / "smoke-quick.md").read_text()
    assert page.startswith("# Language knowledge in the recommender")
    assert "## Cold start" in page and "NDCG@10 / SASRec" in page


def test_knowledge_thirds_sort_by_training_count_and_cut_by_position():
    """Seven test events whose targets were trained on 0, 3, 2, 3, 2, 1 and 0 times (split
    order): thirds of 3, 2 and 2 events, most-trained first; equal counts keep split order, so
    the two events of count 2 straddle the head / torso boundary."""
    from lmrec.data import Catalog, Dataset, Interaction, Item, leave_one_out_split

    first = [*"aaabbbccd", "y", "e"]  # u0 trains on a, b, c, d; validates y; is tested on e
    events = [Interaction("u0", item, float(t)) for t, item in enumerate(first)]
    for u, target in enumerate("acbcdf", start=1):
        events += [
            Interaction(f"u{u}", item, float(t)) for t, item in enumerate(["x", "y", target])
        ]
    split = leave_one_out_split(Dataset(events, Catalog(Item(i) for i in "abcdefxy")))
    _, _, targets = knowledge_measure.test_cases(split)
    assert targets == list("eacbcdf")
    groups = knowledge_measure.thirds(split, targets)
    assert {n: g["positions"] for n, g in groups.items()} == {
        "head": [1, 2, 3],
        "torso": [4, 5],
        "tail": [0, 6],
    }
    ranges = [(g["most_training_events"], g["fewest_training_events"]) for g in groups.values()]
    assert ranges == [(3, 2), (2, 1), (0, 0)]


def test_knowledge_sasrec_defaults_come_from_a_finished_grid_only(tmp_path):
    """--sasrec-* left unset take the finished grid's best point; a grid with missing points is
    not used (SASRecConfig's defaults); an option given keeps its value."""
    from argparse import Namespace

    args = Namespace(dataset="beauty", sasrec_hidden=None, sasrec_dropout=None, sasrec_lr=3e-3)
    grid = tmp_path / "sasrec_grid" / "sasrec-grid-beauty.json"
    grid.parent.mkdir()
    best = {"hidden": 128, "dropout": 0.5, "lr": 1e-3}
    grid.write_text(json.dumps({"best": best, "missing": ["hidden=128 dropout=0.5 lr=0.001"]}))
    source = knowledge_models.sasrec_settings(args, tmp_path)
    assert (args.sasrec_hidden, args.sasrec_dropout, args.sasrec_lr) == (64, 0.3, 3e-3)
    assert source.startswith("SASRecConfig's defaults") and source.endswith("lr from the options")
    grid.write_text(json.dumps({"best": best, "missing": []}))
    args.sasrec_hidden = args.sasrec_dropout = None
    source = knowledge_models.sasrec_settings(args, tmp_path)
    assert (args.sasrec_hidden, args.sasrec_dropout, args.sasrec_lr) == (128, 0.5, 3e-3)
    assert "sasrec-grid-beauty.json" in source


@pytest.mark.slow
def test_cold_variants_score_every_way_on_one_saved_model(tmp_path):
    from benchmarks.knowledge import variants

    argv = ["--dataset", "shop", "--lm-epochs", "1", "--item-tags"]
    argv += ["--model-dir", str(tmp_path / "model"), "--out", str(tmp_path)]
    variants.main(argv)
    first = json.loads((tmp_path / "cold-variants-shop-ids+text-tags-seed0.json").read_text())
    assert set(first["rows"]) == {
        "neighbours",
        "add_items, id row of 0 nearest",
        "add_items, id row of 1 nearest",
        "add_items, id row of 10 nearest",
    }
    events = {row["cold_test_events"] for row in first["rows"].values()}
    assert len(events) == 1 and events.pop() > 0 and not first["model_read_back"]
    for row in first["rows"].values():
        assert row["HR@10"] == pytest.approx(row["hits"] / row["cold_test_events"])
    variants.main(argv)  # the saved model is read back: nothing trained, the same scores
    again = json.loads((tmp_path / "cold-variants-shop-ids+text-tags-seed0.json").read_text())
    assert again["model_read_back"] and again["rows"] == first["rows"]
    assert again["fit_seconds"] == first["fit_seconds"]


def test_knowledge_lm_options_change_the_lm_rows_only_when_given():
    """--lm-model trains the LM rows on another model, --lm-patience with another patience
    (0 too); unset, the rows train the recommended configuration, with its patience for the
    log's size, and the options stay out of the cache's settings where the rows are those
    caches written before them hold (the small-log patience)."""
    from benchmarks.knowledge import cli as knowledge_cli
    from lmrec.recommenders.presets import RECOMMENDED, SMALL_LOG_USERS

    small, large = SMALL_LOG_USERS - 1, SMALL_LOG_USERS
    given = knowledge_cli.parser().parse_args(["--lm-model", "scratch:llama-wide"])
    unset = knowledge_cli.parser().parse_args([])
    assert knowledge_models.lm_config(given, "ids+text", 100).model == "scratch:llama-wide"
    assert knowledge_models.lm_config(unset, "ids", 100).model == RECOMMENDED["model"]
    assert knowledge_cli.cache_settings(given, small)["lm_model"] == "scratch:llama-wide"
    for option in ("lm_model", "item_tags", "lm_patience"):
        assert option not in knowledge_cli.cache_settings(unset, small)
    assert knowledge_models.lm_config(unset, "ids+text", small).train.patience == 20
    assert knowledge_models.lm_config(unset, "ids+text", large).train.patience == 0
    assert knowledge_cli.cache_settings(unset, large)["lm_patience"] == 0
    stopped = knowledge_cli.parser().parse_args(["--lm-patience", "0"])
    assert knowledge_models.lm_config(stopped, "ids+text", small).train.patience == 0
    assert knowledge_cli.cache_settings(stopped, small)["lm_patience"] == 0
    settings = knowledge_cli.cache_settings
    assert settings(stopped, large) == settings(unset, large)


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--lm-patience", "-1"], "-1 is negative"),
        (["--lm-patience", "x"], "'x' is not an integer"),
        (["--lm-model", "scratch:llama-huge"], "unknown scratch preset 'scratch:llama-huge'"),
    ],
)
def test_knowledge_refuses_a_bad_lm_option_before_any_row(flags, words, capsys):
    from benchmarks.knowledge import cli as knowledge_cli

    with pytest.raises(SystemExit) as exit_:
        knowledge_cli.parser().parse_args(flags)
    assert exit_.value.code == 2 and words in capsys.readouterr().err

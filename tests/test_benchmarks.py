"""The benchmarks: their smoke paths run end to end on a tiny subsample, the harness resumes an
interrupted run, and the studies' pieces compute what they say."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from bench_fixtures import quick_run

from benchmarks import (
    harness,
    loss_speed,
    profile_training,
    sequential,
    time_to_quality,
    top10_speed,
)
from benchmarks.languages import controls, models, scores, tasks
from benchmarks.languages.summary import summarize
from lmrec.backbone.itemtext import fast_bf16

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "ml-100k").exists(), reason="needs ../shared/data/ml-100k")
def test_sequential_benchmark_quick_path(tmp_path):
    command = [
        sys.executable,
        "-m",
        "benchmarks.sequential",
        "--quick",
        "--datasets",
        "ml100k",
        "--users",
        "40",
        "--lm-epochs",
        "1",
        "--sasrec-epochs",
        "1",
        "--strategies",
        "sequential,collaborative+unique",
        "--seq-strategies",
        "collaborative",
        "--seq-epochs",
        "1",
        "--valid-users",
        "20",
        "--out",
        str(tmp_path),
        "--name",
        "smoke",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "smoke-quick.json").read_text())
    (dataset,) = result["datasets"]
    names = [row["recommender"] for row in dataset["rows"]]
    assert names == [
        "popularity",
        "item-kNN",
        "ALS",
        "SASRec (full CE)",
        "LM sequential",
        "LM collaborative+unique",
        "LM-seq collaborative (llama-tiny)",
    ]
    assert "all 1682 items ranked" in dataset["protocol"]
    assert "user history not excluded" in dataset["protocol"]
    for row in dataset["rows"]:
        assert 0.0 <= row["NDCG@10"] <= row["HR@10"] <= 1.0
    for lm in dataset["rows"][-3:]:
        assert lm["examples_per_second"] > 0 and 0 < lm["peak_share"] < 1
    assert result["matmul_peak_gflops"] > 0
    assert (tmp_path / "smoke-quick.md").read_text().startswith("# Sequential recommendation")
    assert (tmp_path / "smoke-quick.png").stat().st_size > 1000


TIME_TO_QUALITY_KEYS = {
    "fit_seconds",
    "sequences",
    "sequences_per_second",
    "text_encoding_seconds",
    "sequences_per_second_with_encoding",
    "epochs_run",
    "best_epoch",
    "best_valid_ndcg10",
    "seconds_to_sasrec_best_valid",
    "epochs",
    "test_ndcg10",
    "test_hr10",
    "users_per_second",
    "test_protocol",
}


@pytest.mark.slow
def test_time_to_quality_lm_seed_draws_another_lm_beside_the_same_sasrec_piece(tmp_path):
    args = time_to_quality.parser().parse_args(["--seed", "3", "--out", str(tmp_path)])
    assert time_to_quality.lm_config(args).train.seed == 3
    other = time_to_quality.parser().parse_args(
        ["--seed", "3", "--lm-seed", "7", "--out", str(tmp_path)]
    )
    assert time_to_quality.lm_config(other).train.seed == 7
    caches = time_to_quality.piece_caches(args), time_to_quality.piece_caches(other)
    assert caches[0]["sasrec"].path == caches[1]["sasrec"].path
    assert caches[0]["sasrec"].settings == caches[1]["sasrec"].settings


def test_time_to_quality_quick_path_records_consistent_times(tmp_path):
    # In two pieces: SASRec alone writes no results (the LM is missing) but keeps its row.
    assert quick_run("time_to_quality", tmp_path, "--models", "sasrec") is None
    shared = tmp_path / "time-to-quality-sasrec-quick.partial.json"
    piece = json.loads(shared.read_text())["rows"]
    assert list(piece) == ["sasrec"]
    # The LM reads item text: its catalogue is encoded once before fit (timed) and fit reads it.
    result = quick_run(
        "time_to_quality", tmp_path, "--models", "lm", "--item-representation", "ids+text"
    )
    assert not (tmp_path / "smoke-quick.partial.json").exists()
    assert json.loads(shared.read_text())["rows"] == piece  # kept for other LM variants
    assert set(result["pieces_finished"]) == {time_to_quality.SASREC, time_to_quality.LM}
    models = result["models"]
    assert models[time_to_quality.SASREC]["epochs"] == piece["sasrec"]["epochs"]  # not rerun
    assert result["wall_seconds"] > piece["sasrec"]["piece_seconds"]
    assert list(models) == [time_to_quality.SASREC, time_to_quality.LM]
    sasrec = models[time_to_quality.SASREC]
    target = sasrec["best_valid_ndcg10"]
    for name, row in models.items():
        assert set(row) == TIME_TO_QUALITY_KEYS, name
        epochs = row["epochs"]
        assert [e["epoch"] for e in epochs] == list(range(1, row["epochs_run"] + 1))
        seconds = [e["seconds"] for e in epochs]
        assert 0 < seconds[0] and seconds == sorted(seconds) and seconds[-1] <= row["fit_seconds"]
        valid = [e["valid_ndcg10"] for e in epochs]
        assert row["best_valid_ndcg10"] == max(valid)
        assert row["best_epoch"] == valid.index(max(valid)) + 1
        reached = [e["seconds"] for e in epochs if e["valid_ndcg10"] >= target]
        assert row["seconds_to_sasrec_best_valid"] == (reached[0] if reached else None)
        assert row["sequences_per_second"] * row["fit_seconds"] == pytest.approx(row["sequences"])
        with_encoding = row["fit_seconds"] + row["text_encoding_seconds"]
        assert row["sequences_per_second_with_encoding"] * with_encoding == pytest.approx(
            row["sequences"]
        )
        assert (row["text_encoding_seconds"] > 0) == (name == time_to_quality.LM)
        assert 0.0 <= row["test_ndcg10"] <= row["test_hr10"] <= 1.0
        assert row["users_per_second"] > 0
        assert "user history not excluded" in row["test_protocol"]
    # SASRec reaches its own best at its best epoch, by definition.
    best = sasrec["epochs"][sasrec["best_epoch"] - 1]
    assert sasrec["seconds_to_sasrec_best_valid"] == best["seconds"]
    # 300 users of the shop: 5 SASRec epochs (patience 15 does not stop it), 3 LM epochs.
    assert (sasrec["epochs_run"], models[time_to_quality.LM]["epochs_run"]) == (5, 3)
    assert "the same 300 validation users" in result["protocol"]
    text = (tmp_path / "smoke-quick.md").read_text()
    assert text.startswith("# Time to quality")
    assert (tmp_path / "smoke-quick.png").stat().st_size > 1000


@pytest.mark.slow
def test_top10_speed_quick_path_ranks_alike_by_beam_and_in_one_pass(tmp_path):
    result = quick_run("top10_speed", tmp_path)
    rows = result["models"]
    assert list(rows) == [top10_speed.SASREC, top10_speed.BEAM, top10_speed.ONE_PASS]
    beam, fast = rows[top10_speed.BEAM], rows[top10_speed.ONE_PASS]
    assert fast["test_ndcg10"] == beam["test_ndcg10"]
    assert all(r["users_per_second"] > 0 for r in rows.values())
    check = result["beam_vs_one_pass"]
    assert check["identical_lists"] == check["users"] == 300
    assert result["lm_steps"]["steps"] == len(result["lm_steps"]["losses"]) == 5  # --quick
    assert (tmp_path / "smoke-quick.md").read_text().startswith("# Top-10 serving speed")


@pytest.mark.slow
def test_loss_speed_quick_path_times_every_variant_against_the_float32_loss(tmp_path):
    loss_speed.main(["--quick", "--threads", "1", "--out", str(tmp_path), "--name", "smoke"])
    result = json.loads((tmp_path / "smoke-quick.json").read_text())
    rows = result["variants"]
    expected = [loss_speed.PLAIN, loss_speed.FLOAT32]
    if fast_bf16(torch.device("cpu")):
        expected += [loss_speed.BF16_GRADIENTS, loss_speed.BF16_ALL]
    assert list(rows) == expected
    assert rows[loss_speed.FLOAT32]["loss_difference"] == 0.0
    assert rows[loss_speed.FLOAT32]["weight_gradient_difference"] == 0.0
    # the plain way computes the same loss in float32: rounding apart
    assert rows[loss_speed.PLAIN]["loss_difference"] < 1e-5
    assert rows[loss_speed.PLAIN]["hidden_gradient_difference"] < 1e-4
    for name, row in rows.items():
        assert len(row["ms_per_repeat"]) == 1 and row["ms_per_step"] > 0, name
        assert row["hidden_gradient_difference"] < 1e-2, name  # bfloat16 rounding at most
    assert rows[loss_speed.PLAIN]["vs_plain"] == 1.0
    assert (tmp_path / "smoke-quick.md").read_text().startswith("# Output layer + cross-entropy")


@pytest.mark.parametrize("value", ["0", "-3", "2.5", "many"])
def test_loss_speed_refuses_sizes_that_are_not_positive_integers(value, capsys):
    with pytest.raises(SystemExit) as stopped:
        loss_speed.parser().parse_args(["--rows", value])
    assert stopped.value.code == 2
    assert "argument --rows:" in capsys.readouterr().err


def test_profile_training_quick_path_accounts_for_the_wall_time(tmp_path):
    result = quick_run("profile_training", tmp_path)
    sasrec, lm = result["rows"]
    assert (sasrec["model"], lm["model"]) == ("SASRec (full CE)", "LM-seq llama-tiny")
    # 300 shop users, one epoch each: SASRec's windows in batches of 128, the LM's users in 64s.
    assert (sasrec["sequences"], sasrec["steps"]) == (310, 3)
    assert (lm["sequences"], lm["steps"]) == (300, 5)
    for row in (sasrec, lm):
        phases = row["phases"]
        assert list(phases) == [p for p, _ in profile_training.PHASES] + [profile_training.OTHER]
        # Samples cover the sampled span up to the last interval.
        assert sum(phases.values()) == pytest.approx(row["wall_seconds"], rel=0.05)
        for phase in ("validation", "backward"):
            assert phases[phase] > 0, (row["model"], phase)
        ops = row["operators"]
        parts = ("matmul_attention_seconds", "other_operator_seconds", "outside_operators_seconds")
        assert sum(ops[k] for k in parts) == pytest.approx(ops["wall_seconds"])
        assert ops["matmul_attention_seconds"] > 0
    assert sasrec["phases"]["tokenising (in collate)"] == 0
    assert (tmp_path / "smoke-quick.md").read_text().startswith("# Where training time goes")


def test_row_cache_keeps_rows_only_for_the_same_settings(tmp_path):
    """A finished row is saved at once and read back by a run with the same settings; a run
    with other settings starts over; finish() removes the file."""
    first = harness.RowCache(tmp_path, "run", {"epochs": 3})
    assert first.row("a", lambda: {"NDCG@10": 0.25}) == {"NDCG@10": 0.25}
    again = harness.RowCache(tmp_path, "run", {"epochs": 3})
    assert again.row("a", lambda: pytest.fail("a finished row was computed again")) == {
        "NDCG@10": 0.25
    }
    other = harness.RowCache(tmp_path, "run", {"epochs": 4})
    assert other.row("a", lambda: {"NDCG@10": 0.5}) == {"NDCG@10": 0.5}
    other.finish()
    assert not (tmp_path / "run.partial.json").exists()


def test_row_cache_pieces_running_at_once_keep_each_others_rows(tmp_path):
    """Two pieces of one run opened together (two processes): each saves its row without
    dropping the one the other saved meanwhile; rows of other settings are not taken."""
    one = harness.RowCache(tmp_path, "run", {"epochs": 3})
    two = harness.RowCache(tmp_path, "run", {"epochs": 3})
    one.row("a", lambda: 1)
    two.row("b", lambda: 2)
    assert two.rows == {"a": 1, "b": 2}
    one.row("c", lambda: 3)
    assert one.rows == {"a": 1, "b": 2, "c": 3}
    assert harness.RowCache(tmp_path, "run", {"epochs": 3}).rows == {"a": 1, "b": 2, "c": 3}
    other = harness.RowCache(tmp_path, "run", {"epochs": 4})
    other.row("d", lambda: 4)
    assert other.rows == {"d": 4}


def test_interrupted_sequential_run_resumes_at_the_next_model(tmp_path):
    """sequential.py with popularity's row cached (as a run stopped after it leaves it) does not
    fit popularity again: its row is the cached one, item-kNN's is measured, the cache is
    removed once the results are written."""
    argv = ["--datasets", "shop", "--baselines", "popularity,item-kNN", "--strategies", ""]
    argv += ["--threads", "1", "--out", str(tmp_path), "--name", "resume"]
    args = sequential.parser().parse_args(argv)
    cache = harness.RowCache(tmp_path, "resume", harness.settings_of(args))
    metrics = {"HR@5": 0.5, "HR@10": 0.75, "NDCG@5": 0.25, "NDCG@10": 0.375, "MRR": 0.125}
    cached = metrics | {"fit_seconds": 1.0, "users_per_second": 2.0, "peak_rss_mib": 3.0}
    cache.row("shop/popularity", lambda: cached | {"protocol": "as cached"})
    sequential.main(argv)
    result = json.loads((tmp_path / "resume.json").read_text())
    (dataset,) = result["datasets"]
    popularity, knn = dataset["rows"]
    assert popularity == {"recommender": "popularity"} | cached
    # item-kNN on the built-in shop (1000 users, seed 0), measured in this run.
    assert knn["recommender"] == "item-kNN"
    assert knn["NDCG@10"] == pytest.approx(0.3832999714569281)
    assert knn["HR@10"] == 0.791
    assert dataset["protocol"].startswith("leave-one-out, test stage, all 72 items ranked")
    assert not (tmp_path / "resume.partial.json").exists()


def test_name_overlap_control_ranks_candidates_by_shared_name_words():
    """The languages study's name-reading control: IDF-weighted words shared with the history's
    names, after normalisation (كره = كرة), on the given candidate lists."""
    from argparse import Namespace

    from lmrec.data.schema import Catalog, Item
    from lmrec.data.split import Split

    names = {"a": "red ball", "b": "red bat", "c": "blue cap", "d": "blue ball"}
    names |= {"x": "قميص كرة السلة", "y": "كره السله هوب", "z": "قميص التنس"}
    catalog = Catalog(Item(id=i, name=n) for i, n in names.items())
    split = Split(train={}, valid={}, test={}, catalog=catalog, name="toy")
    task = tasks.Task(
        split,
        histories=[["a", "b"], ["x"]],
        targets=["b", "y"],
        exclude_seen=False,
        candidates=[["c", "d", "b"], ["z", "y"]],
    )
    out = controls.run_overlap(task, "en", Namespace(seed=0), epochs=0, data="toy")
    # b shares red (twice named) and bat; d shares ball; c shares nothing. y shares two
    # words with the history only once normalised, z one word as written.
    assert out["name-overlap"]["rankings"] == [["b", "d", "c"], ["y", "z"]]
    assert scores.rank_metrics(out["name-overlap"]["rankings"], task.targets)["hr1"] == 1.0


@pytest.mark.parametrize("weight", [0.0, 1.0])
def test_named_knn_fusion_ends_at_each_stage(weight):
    """The languages study's 'named+item-kNN': at weight 0 each candidate list is in item-kNN's
    order of similarity to the history, at weight 1 in the named model's ('named-scored')."""
    from argparse import Namespace

    from contract import checkerboard_split

    from lmrec.baselines import ItemKNNRecommender

    split = checkerboard_split()
    task = tasks.Task(
        split,
        histories=[["A1", "A2"], ["B2"], ["A4", "B1"]],
        targets=["A3", "B3", "A5"],
        exclude_seen=False,
        candidates=[["B1", "A5", "A3", "B4"], ["A1", "B5", "B3"], ["B2", "A5", "A2"]],
    )
    args = Namespace(
        model="scratch:tiny",
        max_history=5,
        max_targets={"toy": 3},
        max_prompt_candidates=1,
        candidates=3,
        seed=0,
        named_beams=None,
        tokenizer="bpe",
        named_word_order="natural",
        isolate_separators=False,
        fuse_weight=weight,
    )
    out = models.run_named_knn(task, "en", args, epochs=0, data="toy")
    assert set(out) == {"named", "named-scored", "named-per-token", "named+item-kNN"}
    fused = out["named+item-kNN"]["rankings"]
    if weight == 1.0:
        assert fused == out["named-scored"]["rankings"]
    else:
        scores = ItemKNNRecommender().fit(split).score(task.histories, task.candidates)
        # Cosines of checkerboard_split's training users. Row 1: A3 1/sqrt(6) + 2/sqrt(6),
        # A5 0.5 + 0, the B items 0 (list order). Row 2: B3 2/sqrt(6), then A1 and B5 at 0.
        # Row 3: A5 2/sqrt(6) (to A4), B2 1/sqrt(2) (to B1), A2 1/sqrt(6).
        assert fused == [["A3", "A5", "B1", "B4"], ["B3", "A1", "B5"], ["A5", "B2", "A2"]]
        for row, cands, s in zip(fused, task.candidates, scores, strict=True):
            assert row == [c for _, c in sorted(zip(s, cands, strict=True), key=lambda p: -p[0])]


def test_languages_summary_counts_a_model_once_per_seed(tmp_path):
    """The languages study's --summarize: a model that two runs of one seed both measured counts
    once (means over seeds, not over files; timings may differ); the same seed with different
    results is refused."""
    import json

    def metrics(ar_hr1, en_hr1, seconds=1.0):
        return {
            lang: {
                "hr1": hr1,
                "hr5": 0.8,
                "distinct_top1": 10,
                "top1_entropy_bits": 3.0,
                "train_seconds": seconds,
            }
            for lang, hr1 in (("ar", ar_hr1), ("en", en_hr1))
        }

    def write(name, command, runs):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"command": command, "protocol": "p", "runs": runs}))
        return path

    base = write("base", "languages.py", {"t5p5": {"named": metrics(0.3, 0.5)}})
    again = write(
        "fused",
        "languages.py --models named+item-knn --seed 0",
        {"t5p5": {"named": metrics(0.3, 0.5, seconds=9.0), "named+item-kNN": metrics(0.6, 0.8)}},
    )
    seed1 = write("seed1", "languages.py --seed 1", {"t5p5": {"named": metrics(0.5, 0.5)}})
    text = summarize([base, again, seed1], tmp_path, "summary")
    summary = json.loads((tmp_path / "summary.json").read_text())["summary"]["t5p5"]
    assert summary["named"]["runs"] == 2  # seeds 0 and 1, not three files
    assert summary["named"]["mean"]["ar"]["hr1"] == pytest.approx(0.4)
    assert summary["named"]["ratio"]["hr1"] == pytest.approx(0.8)
    assert summary["named+item-kNN"]["runs"] == 1
    assert "| t5p5 | named (2 runs) | 0.400 / 0.500 |" in text

    other = write("other", "languages.py --seed 0", {"t5p5": {"named": metrics(0.2, 0.5)}})
    with pytest.raises(ValueError, match="seed 0 measured twice with different results"):
        summarize([base, other], tmp_path, "bad")


def test_languages_summary_gives_each_training_length_its_own_row(tmp_path):
    """The languages study's --summarize: one seed trained for 30 and for 300 epochs is two
    settings, not a conflicting repeat: a row per length, labelled with it; a model trained for one
    length only keeps its plain label."""
    import json

    def metrics(ar_hr1, en_hr1, epochs):
        return {
            lang: {"hr1": hr1, "hr5": 0.8, "distinct_top1": 10, "top1_entropy_bits": 3.0}
            | {"epochs": epochs}
            for lang, hr1 in (("ar", ar_hr1), ("en", en_hr1))
        }

    paths = []
    for name, seed, epochs, named in (
        ("short0", 0, 30, (0.3, 0.5)),
        ("short1", 1, 30, (0.4, 0.5)),
        ("long0", 0, 300, (0.6, 0.7)),
    ):
        path = tmp_path / f"{name}.json"
        runs = {"t5p5": {"named": metrics(*named, epochs)}}
        if epochs == 30:
            runs["t5p5"]["item-kNN"] = metrics(0.5, 0.5, epochs)
        command = f"languages.py --seed {seed} --epochs-t5p5 {epochs}"
        path.write_text(json.dumps({"command": command, "protocol": "p", "runs": runs}))
        paths.append(path)
    text = summarize(paths, tmp_path, "summary")
    summary = json.loads((tmp_path / "summary.json").read_text())["summary"]["t5p5"]
    assert sorted(summary) == ["item-kNN", "named, 30 epochs", "named, 300 epochs"]
    assert summary["named, 30 epochs"]["runs"] == 2
    assert summary["named, 30 epochs"]["mean"]["ar"]["hr1"] == pytest.approx(0.35)
    assert summary["named, 300 epochs"]["runs"] == 1
    assert summary["named, 300 epochs"]["ratio"]["hr1"] == pytest.approx(0.6 / 0.7)
    assert "| t5p5 | named, 300 epochs (1 run) | 0.600 / 0.700 |" in text
    assert "| t5p5 | item-kNN (2 runs) | 0.500 / 0.500 |" in text


@pytest.mark.skipif(
    not (DATA / "sports_equipment_t5p5").exists(),
    reason="needs ../shared/data/sports_equipment_t5p5",
)
def test_t5p5_hand_tasks_are_the_english_tasks_renamed():
    """The languages study's 't5p5-hand': the Arabic side is the English side with every item
    renamed by ARABIC_NAMES (same folds, rows, candidate lists); 't5p5' keeps the Arabic file's
    items."""
    from lmrec.data.t5p5 import ARABIC_NAMES

    hand, info = tasks.t5p5_tasks(0, 5, 10, 3, hand_arabic=True)
    file_based, file_info = tasks.t5p5_tasks(0, 5, 10, 3)
    assert info["items"] == {"ar": 35, "en": 35} and "shared_item_groups" not in info
    assert file_info["items"] == {"ar": 38, "en": 35} and file_info["shared_item_groups"] == 31
    assert sum(len(f["en"].targets) for f in hand) == 121
    for fold, other in zip(hand, file_based, strict=True):
        ar, en = fold["ar"], fold["en"]
        assert ar.groups is None and other["ar"].groups is not None
        assert en.targets == other["en"].targets and en.candidates == other["en"].candidates
        assert ar.targets == [ARABIC_NAMES[t] for t in en.targets]
        assert ar.histories == [[ARABIC_NAMES[i] for i in h] for h in en.histories]
        assert ar.candidates == [[ARABIC_NAMES[i] for i in c] for c in en.candidates]
        assert {
            u: [ARABIC_NAMES[x.item] for x in events] for u, events in en.split.train.items()
        } == {u: [x.item for x in events] for u, events in ar.split.train.items()}


@pytest.mark.slow
def test_export_scale_quick_path_checks_the_part_files(tmp_path):
    """The export study's smoke run: one model, three exports (one process with one and two
    threads, two processes under torchrun), every run's lists equal to the one-process export."""
    from benchmarks import export_scale

    out = tmp_path / "results"
    code = export_scale.main(["--quick", "--out", str(out), "--workdir", str(tmp_path / "work")])
    assert code == 0
    result = json.loads((out / "export_scale-quick.json").read_text())
    rows = result["rows"]
    assert [(r["processes"], r["threads_per_process"]) for r in rows] == [(1, 1), (1, 2), (2, 1)]
    assert all(r["users"] == 300 and r["same_lists_as_one_process"] for r in rows)
    assert rows[2]["files"] == ["recs-00000-of-00002.parquet", "recs-00001-of-00002.parquet"]
    assert rows[0]["files"] == ["recs.parquet"]

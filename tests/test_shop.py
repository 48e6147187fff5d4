"""A shop's log to production through the CLI (issue 25): the model directory remembers its
data, export, the evaluation warnings and time split, quiet logs, and DataFrames in and out.

The generated log is shop-like: its own column names (customer_id, sku, ts, event_type), ISO
times, and half the customers end with the purchase of an item they viewed and carted before,
so exactly those test targets are already in the history.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lm_fixtures import train_tiny_with_cli

from lmrec.cli import main

N_CUSTOMERS = 24
SKUS = [f"SKU-{n:02d}" for n in range(12)]
START = datetime(2024, 3, 1, tzinfo=UTC)
COLUMNS = "user=customer_id,item=sku,timestamp=ts,event=event_type"
SRC = Path(__file__).resolve().parents[1] / "src"


def shop_events(customer: int) -> list[tuple[str, str]]:
    """(sku, event) in time order: two views, then either view -> cart -> purchase of one
    item (even customers: the purchase repeats history) or the purchase of a new item."""
    a, b, c = (SKUS[(customer + j * 5) % len(SKUS)] for j in range(3))
    if customer % 2 == 0:
        return [(a, "view"), (b, "view"), (c, "view"), (c, "cart"), (c, "purchase")]
    return [(a, "view"), (b, "view"), (c, "purchase")]


def customer_rows() -> list[tuple[str, str, str, str]]:
    """Customer n's k-th event at day n, hour k: customers interleave in time."""
    rows = []
    for n in range(N_CUSTOMERS):
        for hour, (sku, event) in enumerate(shop_events(n)):
            moment = START + timedelta(days=n % 6, hours=hour)
            rows.append((f"c{n:03d}", sku, moment.isoformat(), event))
    return rows


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("shoplog")
    with open(root / "log.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "sku", "ts", "event_type"])
        w.writerows(customer_rows())
    with open(root / "items.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item", "name"])
        w.writerows((sku, f"Product {sku[-2:]}") for sku in SKUS)
    return root


@pytest.fixture(scope="module")
def model(shop):
    data = ["--data", str(shop / "log.csv"), "--columns", COLUMNS]
    return train_tiny_with_cli(shop / "model", *data, "--catalog", str(shop / "items.csv"))


def test_recommend_for_a_known_user_needs_no_data_flags(model, capsys):
    assert main(["recommend", "--model", str(model), "--user", "c003", "-k", "3", "--json"]) == 0
    [answer] = json.loads(capsys.readouterr().out)
    assert answer["user"] == "c003" and answer["score_kind"] == "log-probability"
    # c003's history, read from the recorded log with its recorded column mapping.
    assert answer["history"] == [sku for sku, _ in shop_events(3)]
    assert len(answer["recommendations"]) == 3


def test_a_flag_overrides_the_recorded_data(model, shop):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["recommend", "--model", str(model), "--user", "c003", "--data", "elsewhere.csv"])


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_export_writes_every_users_top_k(model, shop, tmp_path, suffix):
    import pandas as pd

    out = tmp_path / f"recs{suffix}"
    assert main(["--quiet", "export", "--model", str(model), "--out", str(out), "-k", "4"]) == 0
    read = {".parquet": pd.read_parquet, ".csv": pd.read_csv}.get(
        suffix, lambda p: pd.read_json(p, lines=True)
    )
    recs = read(out)
    assert list(recs.columns) == ["user", "rank", "item", "name", "score"]
    assert len(recs) == N_CUSTOMERS * 4
    assert recs.groupby("user")["rank"].apply(list).tolist() == [[1, 2, 3, 4]] * N_CUSTOMERS
    assert recs["name"].str.startswith("Product ").all()
    assert set(recs["item"]) <= set(SKUS)


def test_export_refuses_an_unknown_format_before_loading(model, tmp_path):
    with pytest.raises(SystemExit, match="write .parquet, .csv or .jsonl"):
        main(["export", "--model", str(model), "--out", str(tmp_path / "recs.xlsx")])


def test_evaluate_warns_of_targets_already_in_the_history(model, capsys):
    code = main(["--quiet", "evaluate", "--model", str(model), "--ks", "5,10"])
    assert code == 0
    captured = capsys.readouterr()
    # Every even customer's test target (the purchase) is an item viewed and carted before.
    assert (
        f"warning: {N_CUSTOMERS // 2} of {N_CUSTOMERS} test targets are items already in the "
        "user's history" in captured.err
    )
    assert "--first-only" in captured.err
    assert "| recommender | HR@5 | HR@10 | NDCG@5 | NDCG@10 | MRR |" in captured.out


def test_evaluate_first_only_has_nothing_to_warn_of(model, capsys):
    code = main(["--quiet", "evaluate", "--model", str(model), "--first-only", "--ks", "5"])
    assert code == 0
    assert "warning" not in capsys.readouterr().err


def test_time_split_says_so_in_the_protocol_line(shop, capsys):
    # Cut at day 3, hour 1: customers of day 3 have had two views, the rest of their
    # events come after it; customers of days 0-2 have none after it, 4-5 none before.
    code = main(
        [
            "--quiet",
            "evaluate",
            "--data",
            str(shop / "log.csv"),
            "--columns",
            COLUMNS,
            "--baselines",
            "popularity",
            "--split",
            "time",
            "--test-after",
            "2024-03-04T01:00:00",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert (
        "Protocol: global time split at 2024-03-04T01:00:00Z (first event after it is the test "
        "target), test stage, all 12 items ranked, user history excluded." in out
    )
    # Days 0..5 take customers n % 6: four customers a day, so four have targets.
    assert "log: global time split at" in out and "(4 with valid/test targets" in out


def test_time_split_needs_its_date(shop):
    with pytest.raises(SystemExit, match="--split time needs --test-after"):
        main(["evaluate", "--data", str(shop / "log.csv"), "--split", "time"])
    with pytest.raises(SystemExit, match="neither unix time nor an ISO-8601 date"):
        main(["evaluate", "--data", "x.csv", "--split", "time", "--test-after", "soon"])


def test_evaluate_json_out_without_tasks_writes_the_ranking_reports(model, tmp_path):
    out = tmp_path / "reports.json"
    assert main(["--quiet", "evaluate", "--model", str(model), "--json-out", str(out)]) == 0
    reports = json.loads(out.read_text())
    assert [r["recommender"] for r in reports] == ["lm", "popularity", "item-knn"]
    assert set(reports[0]["beyond"]) == {"coverage", "popularity_rank"}  # no categories


def test_a_missing_model_directory_is_named(tmp_path):
    with pytest.raises(SystemExit, match=f"model directory {tmp_path}/nope does not exist"):
        main(["recommend", "--model", str(tmp_path / "nope"), "--history", "SKU-01"])


def test_argument_errors_come_before_the_model_loads(tmp_path):
    # A directory that would fail to load: the argument error must be said first.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "lmrec.json").write_text("{}")
    with pytest.raises(SystemExit, match="-k must be at least 1"):
        main(["recommend", "--model", str(broken), "--history", "SKU-01", "-k", "0"])
    with pytest.raises(SystemExit, match="-k must be at least 1"):
        main(["export", "--model", str(broken), "--out", str(tmp_path / "r.csv"), "-k", "0"])
    with pytest.raises(SystemExit, match="--ks '5,0'"):
        main(["evaluate", "--model", str(broken), "--ks", "5,0"])


def test_training_on_a_pipe_leaves_no_progress_bar_noise(shop, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(SRC))
    log = tmp_path / "log"
    with open(log, "w", encoding="utf-8") as err:
        done = subprocess.run(
            [sys.executable, "-m", "lmrec.cli", "train", "--data", str(shop / "log.csv")]
            + ["--columns", COLUMNS, "--model", "scratch:tiny", "--epochs", "2"]
            + ["--out", str(tmp_path / "m")],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            timeout=300,
        )
    text = log.read_text(encoding="utf-8")
    assert done.returncode == 0, text[-3000:]
    assert "\r" not in text
    assert "Loading weights" not in text and "Writing model shards" not in text


# ------------------------------------------------------------------------------- DataFrames
def test_a_dataframe_round_trip_equals_the_file_path(shop, model, tmp_path):
    """Fit from DataFrames with a column mapping, recommend to a DataFrame: the same
    recommendations as the model trained by the CLI on the files."""
    import pandas as pd

    from lmrec.data.frames import dataset_from_frame, recommendations_frame
    from lmrec.data.readers import ColumnMap
    from lmrec.data.split import leave_one_out_split
    from lmrec.recommenders.lm import LMConfig, LMRecommender

    columns = ColumnMap(user="customer_id", item="sku", timestamp="ts", event="event_type")
    events = pd.read_csv(shop / "log.csv")
    dataset = dataset_from_frame(events, columns, catalog=pd.read_csv(shop / "items.csv"))
    saved = json.loads((model / "lmrec.json").read_text())
    from_files = LMRecommender.load(model)
    config = LMConfig.from_dict(saved["config"])
    # The same run, its checkpoints kept out of the CLI's model directory.
    config = replace(config, train=replace(config.train, output_dir=str(tmp_path / "ckpt")))
    from_frame = LMRecommender(config)
    from_frame.fit(leave_one_out_split(dataset))
    ours = recommendations_frame(from_frame, dataset, k=3)
    theirs = recommendations_frame(from_files, dataset, k=3)
    assert list(ours.columns) == ["user", "rank", "item", "score", "name"]
    assert len(ours) == N_CUSTOMERS * 3
    pd.testing.assert_frame_equal(ours, theirs, atol=1e-5)


def test_a_bad_dataframe_row_is_named_as_a_file_row_would_be():
    import pandas as pd

    from lmrec.data.frames import dataset_from_frame

    frame = pd.DataFrame(
        {"user": ["a", "a", "b"], "item": ["x", "y", "x"], "timestamp": [1, 2, "soon"]}
    )
    with pytest.raises(ValueError, match="events frame:row 3: bad timestamp: 'soon'"):
        dataset_from_frame(frame)
    with pytest.raises(ValueError, match="missing required column 'user'"):
        dataset_from_frame(frame.rename(columns={"user": "customer"}))


def test_a_dataframe_reads_as_its_csv_does(shop):
    import pandas as pd

    from lmrec.data.frames import dataset_from_frame
    from lmrec.data.readers import ColumnMap, read_interactions

    columns = ColumnMap(user="customer_id", item="sku", timestamp="ts", event="event_type")
    from_file = read_interactions(shop / "log.csv", columns)
    from_frame = dataset_from_frame(pd.read_csv(shop / "log.csv"), columns)
    assert from_frame.interactions == from_file.interactions


# ------------------------------------------------------------------------------- torchrun
@pytest.mark.slow
def test_export_under_torchrun_writes_part_files_whose_union_is_the_export(model, tmp_path):
    import shutil

    import pandas as pd

    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun, "torchrun comes with torch"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(SRC))
    env.pop("CUDA_VISIBLE_DEVICES", None)
    args = ["-m", "lmrec.cli", "--quiet", "export", "--model", str(model), "-k", "3"]
    two = subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node=2",
            *args,
            "--out",
            str(tmp_path / "recs.parquet"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "recs-00000-of-00002.parquet",
        "recs-00001-of-00002.parquet",
    ]
    assert (
        main(
            [
                "--quiet",
                "export",
                "--model",
                str(model),
                "-k",
                "3",
                "--out",
                str(tmp_path / "one.parquet"),
            ]
        )
        == 0
    )
    parts = [pd.read_parquet(tmp_path / f"recs-0000{r}-of-00002.parquet") for r in (0, 1)]
    # Each process scored every second user: disjoint halves.
    assert set(parts[0]["user"]).isdisjoint(parts[1]["user"])
    assert [len(p) for p in parts] == [N_CUSTOMERS // 2 * 3] * 2
    union = pd.concat(parts).sort_values(["user", "rank"]).reset_index(drop=True)
    alone = pd.read_parquet(tmp_path / "one.parquet").sort_values(["user", "rank"])
    pd.testing.assert_frame_equal(union, alone.reset_index(drop=True), atol=1e-5)

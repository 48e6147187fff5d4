"""The command line, run in-process on small files."""

from __future__ import annotations

import csv
import json

import pytest

from lmrec.cli import build_parser, main


@pytest.fixture(scope="module")
def shop_files(tmp_path_factory):
    """A small log and catalogue in CSV, from the built-in shop."""
    from lmrec.data import make_sportshop

    root = tmp_path_factory.mktemp("shop")
    data = make_sportshop(n_users=40, seed=3).select(first_only=True)
    with open(root / "events.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["user", "item", "timestamp", "event"])
        for x in data.interactions:
            w.writerow([x.user, x.item, x.timestamp, x.event.value])
    with open(root / "items.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["item", "name", "name_ar", "category"])
        for item in data.catalog.values():
            w.writerow([item.id, item.name, item.names["ar"], item.category])
    return root


@pytest.fixture(scope="module")
def trained(shop_files):
    out = shop_files / "model"
    code = main(
        [
            "--quiet",
            "train",
            "--data",
            str(shop_files / "events.csv"),
            "--catalog",
            str(shop_files / "items.csv"),
            "--model",
            "scratch:tiny",
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def test_train_writes_one_model_directory(trained):
    names = {p.name for p in trained.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "item_index.json",
        "templates.json",
        "catalog.jsonl",
        "lmrec.json",
    } <= names
    meta = json.loads((trained / "lmrec.json").read_text())
    assert meta["config"]["model"] == "scratch:tiny"
    assert meta["train_result"]["epochs_run"] == 1


def test_recommend_history_json(trained, capsys):
    assert (
        main(
            [
                "recommend",
                "--model",
                str(trained),
                "--history",
                "SOC-01,SOC-02",
                "-k",
                "4",
                "--json",
                "--language",
                "ar",
            ]
        )
        == 0
    )
    payload = json.loads(capsys.readouterr().out)
    recs = payload[0]["recommendations"]
    assert len(recs) == 4
    assert not {r["item"] for r in recs} & {"SOC-01", "SOC-02"}
    # Arabic names come back intact, in Arabic script.
    assert all(any("\u0600" <= ch <= "\u06ff" for ch in r["name"]) for r in recs)


def test_recommend_known_user(trained, shop_files, capsys):
    assert (
        main(
            [
                "recommend",
                "--model",
                str(trained),
                "--data",
                str(shop_files / "events.csv"),
                "--catalog",
                str(shop_files / "items.csv"),
                "--user",
                "u0001",
                "-k",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("u0001: history ")
    ranks = [line.split()[0] for line in out.splitlines()[1:]]
    assert ranks == ["1.", "2.", "3."]


def test_recommend_unknown_item_and_user_are_clear_errors(trained, shop_files, capsys):
    with pytest.raises(SystemExit, match="unknown item"):
        main(["recommend", "--model", str(trained), "--history", "SOC-01,NOPE"])
    with pytest.raises(SystemExit, match="unknown user 'ghost'"):
        main(
            [
                "recommend",
                "--model",
                str(trained),
                "--data",
                str(shop_files / "events.csv"),
                "--user",
                "ghost",
            ]
        )


def test_evaluate_prints_protocol_and_all_recommenders(trained, shop_files, capsys):
    assert (
        main(
            [
                "--quiet",
                "evaluate",
                "--model",
                str(trained),
                "--data",
                str(shop_files / "events.csv"),
                "--catalog",
                str(shop_files / "items.csv"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "leave-one-out, test stage, all 72 items ranked, user history excluded" in out
    table = [line for line in out.splitlines() if line.startswith("| ")]
    assert [row.split("|")[1].strip() for row in table[1:]] == ["lm", "popularity", "item-knn"]


def test_malformed_data_file_reports_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item,timestamp\nu1,i1,5\nu1,i2,not-a-time\n")
    code = main(
        ["train", "--data", str(bad), "--model", "scratch:tiny", "--out", str(tmp_path / "m")]
    )
    assert code == 2
    assert f"{bad}:3:" in capsys.readouterr().err


def test_missing_data_file_is_a_clear_error(tmp_path):
    with pytest.raises(SystemExit, match="does not exist"):
        main(["train", "--data", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "m")])


@pytest.mark.parametrize("command", ["train", "recommend", "evaluate", "demo"])
def test_every_option_has_help(command):
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    for action in sub._actions:
        if action.dest != "help":
            assert action.help, f"{command} {action.option_strings} has no help text"


def test_demo_runs_small(tmp_path, capsys):
    assert (
        main(
            [
                "--quiet",
                "demo",
                "--users",
                "40",
                "--epochs",
                "1",
                "--show",
                "1",
                "--out",
                str(tmp_path / "demo"),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "language model top-5" in out and "popularity top-5" in out
    assert "| lm |" in out and "| popularity |" in out


def test_recommend_hybrid_mode(trained, shop_files, capsys):
    code = main(
        [
            "recommend",
            "--model",
            str(trained),
            "--mode",
            "hybrid",
            "--data",
            str(shop_files / "events.csv"),
            "--catalog",
            str(shop_files / "items.csv"),
            "--candidates",
            "5",
            "--weight",
            "0.5",
            "--history",
            "SOC-01",
            "-k",
            "3",
            "--json",
        ]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "LM weight 0.5" in captured.err
    recs = json.loads(captured.out)[0]["recommendations"]
    assert len(recs) == 3 and "SOC-01" not in {r["item"] for r in recs}


def test_hybrid_mode_needs_data(trained):
    with pytest.raises(SystemExit, match="--mode hybrid needs --data"):
        main(["recommend", "--model", str(trained), "--mode", "hybrid", "--history", "SOC-01"])

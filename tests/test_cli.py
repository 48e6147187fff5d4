"""The command line, run in-process on small files."""

from __future__ import annotations

import csv
import json

import pytest
from lm_fixtures import train_tiny_with_cli

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
def shop_data(shop_files) -> list[str]:
    """The options that read the shop's files: ``--data`` and ``--catalog``."""
    return ["--data", str(shop_files / "events.csv"), "--catalog", str(shop_files / "items.csv")]


@pytest.fixture(scope="module")
def trained(shop_files, shop_data):
    return train_tiny_with_cli(shop_files / "model", *shop_data)


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


def test_recommend_known_user(trained, shop_data, capsys):
    argv = ["recommend", "--model", str(trained), *shop_data, "--user", "u0001", "-k", "3"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("u0001: history ")
    # The score column says what a score is.
    assert out.splitlines()[1].split() == ["#", "item", "name", "log-probability"]
    ranks = [line.split()[0] for line in out.splitlines()[2:]]
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


def test_evaluate_prints_protocol_and_all_recommenders(trained, shop_data, capsys):
    assert main(["--quiet", "evaluate", "--model", str(trained), *shop_data]) == 0
    out = capsys.readouterr().out
    assert "leave-one-out, test stage, all 72 items ranked, user history excluded" in out
    tables = [line.split("|")[1:-1] for line in out.splitlines() if line.startswith("| ")]
    ranking, beyond = tables[:4], tables[4:]
    assert [row[0].strip() for row in ranking[1:]] == ["lm", "popularity", "item-knn"]
    # Beyond accuracy, a row per recommender.
    assert [c.strip() for c in beyond[0]] == [
        "recommender",
        "coverage",
        "diversity",
        "popularity_rank",
    ]
    assert [row[0].strip() for row in beyond[1:]] == ["lm", "popularity", "item-knn"]


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


@pytest.mark.parametrize("command", ["train", "recommend", "evaluate", "export", "demo"])
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


def test_recommend_hybrid_mode(trained, shop_data, capsys):
    code = main(
        [
            "recommend",
            "--model",
            str(trained),
            "--mode",
            "hybrid",
            *shop_data,
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
    """A directory that recorded no data (written before the data table) needs --data."""
    meta_path = trained / "lmrec.json"
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "data"}))
    try:
        with pytest.raises(SystemExit, match="--mode hybrid needs --data"):
            main(["recommend", "--model", str(trained), "--mode", "hybrid", "--history", "SOC-01"])
    finally:
        meta_path.write_text(json.dumps(meta))


# ---------------------------------------------------------------------------- options from configs
# Every flag each verb had before its options were generated from the config dataclasses; the
# generated parser must keep each one, spelled the same.
FLAGS_BEFORE = {
    "train": "--batch-size --beams --catalog --checkpoint-steps --columns --data --data-seed "
    "--direct-candidates --dropout --epochs --event-targets --event-weights --events "
    "--first-only --format --help --id-base --id-map --id-style --index --language "
    "--load-in-4bit --load-in-8bit --lora --lr --max-examples-per-task --max-history "
    "--max-targets-per-user --max-valid-users --model --names --objective --out --patience "
    "--resume --seed --split-seed --stream --task-weights --tasks --tokenizer --typed-history "
    "--unseen-targets --users --whole-word -h",
    "recommend": "--candidates --catalog --columns --data --data-seed --events --first-only "
    "--format --help --history --history-events --id-map --include-seen --json --language "
    "--mode --model --names --retriever --user --users --weight -h -k",
    "evaluate": "--baselines --catalog --columns --data --data-seed --events --first-only "
    "--format --help --id-map --include-seen --json-out --max-users --model --names --stage "
    "--tasks --users -h",
    "demo": "--epochs --help --language --out --seed --show --users -h",
    "ask": "--candidates --feature --help --history --item --json --model --review --task "
    "--template --user -h -k",
    "serve": "--api-key --db --help --host --key-header --log-level --max-batch "
    "--max-body-bytes --model --port --read-key -h",
}
# Fields that had no flag before: generated now, as every config field is.
FLAGS_ADDED = {
    "train": "--config --direct-negatives --index-clusters --index-levels "
    "--index-max-leaf --index-window --inference-batch-size --item-text --item-text-template "
    "--max-answer-tokens "
    "--max-review-words --max-source-length --no-valid-exclude-seen --template --user-dropout "
    "--valid-exclude-seen --warmup-ratio --weight-decay "
    # --format names (NamedConfig's own fields; the rest share the flags above)
    "--candidate-seed --isolate-separators --max-prompt-candidates --num-candidates "
    "--target-word-order --valid-share "
    # Issue 25: the run's record and the refit.
    "--evaluate --keep-checkpoints --log-dir --refit "
    # Issue 24: item text in the LM's item representation, and the category field as tags.
    "--item-representation --item-text-tags "
    # Issue 23: every training product in float32 (TrainConfig.float32).
    "--float32",
    "serve": "--history-limit --max-k --max-page --max-request-history",
    "evaluate": "--ks --split --test-after",
}

# Issue 25 (mappings, the log in the service): the data options' new fields, and serve's
# --import with the data options that read the log it imports.
_MAPPING_FLAGS = "--catalog-columns --event-map --rating-range --skip-unknown"
FLAGS_ADDED_FOR_MAPPINGS = {
    "train": _MAPPING_FLAGS,
    "recommend": _MAPPING_FLAGS,
    "evaluate": _MAPPING_FLAGS,
    "serve": f"--import --format --catalog --columns --names --id-map --events --first-only "
    f"--users --data-seed {_MAPPING_FLAGS}",
}


# Verbs added after the options were generated: every flag of each, as spelled today.
FLAGS_OF_NEWER_VERBS = {
    # Issue 24: new items for a trained text-mode model.
    "add-items": "--catalog --catalog-columns --help --model --out -h",
}


def _sub(command):
    return build_parser()._subparsers._group_actions[0].choices[command]


@pytest.mark.parametrize("command", sorted({**FLAGS_BEFORE, **FLAGS_OF_NEWER_VERBS}))
def test_every_flag_keeps_its_spelling(command):
    flags = sorted(s for a in _sub(command)._actions for s in a.option_strings)
    expected = {**FLAGS_BEFORE, **FLAGS_OF_NEWER_VERBS}[command].split()
    expected += FLAGS_ADDED.get(command, "").split()
    expected += FLAGS_ADDED_FOR_MAPPINGS.get(command, "").split()
    assert flags == sorted(expected)


def test_a_config_fields_help_and_default_appear_in_help(capsys):
    from lmrec.config import field_docs
    from lmrec.training.loop import TrainConfig

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    # TrainConfig's documented line for warmup_ratio, and its default, both from the dataclass.
    assert field_docs(TrainConfig)["warmup_ratio"] == "share of steps spent warming up."
    assert "--warmup-ratio WARMUP_RATIO share of steps spent warming up (default: 0.05)" in out
    assert "--lr LR peak AdamW learning rate" in out


def test_options_are_the_configs_defaults():
    from dataclasses import replace

    from lmrec.cli.train import lm_config
    from lmrec.recommenders.lm import LMConfig

    args = build_parser().parse_args(["--quiet", "train", "--data", "builtin", "--out", "o"])
    plain = LMConfig()
    train = replace(plain.train, output_dir="o/_train", progress=False)
    assert lm_config(args) == replace(plain, train=train)


def test_options_set_nested_fields():
    from lmrec.cli.train import lm_config

    argv = "train --data builtin --out o --seed 4 --lr 0.01 --id-style subtokens --tasks all "
    argv += "--lora r=4 --task-weights 1,1,1,1,2 --no-valid-exclude-seen"
    config = lm_config(build_parser().parse_args(argv.split()))
    assert (config.index.seed, config.train.seed) == (4, 4)
    assert config.train.learning_rate == 0.01
    assert config.index.style == "subtokens"
    assert config.tasks == ("sequential", "rating", "explanation", "review", "direct")
    assert config.task_weights == (1.0, 1.0, 1.0, 1.0, 2.0)
    assert (config.lora.r, config.lora.alpha) == (4, 16.0)
    assert config.valid_exclude_seen is False
    argv = "train --data builtin --out o --event-weights view=0.5,cart=0.2 --event-targets purchase"
    config = lm_config(build_parser().parse_args([*argv.split(), "--lora"]))
    assert config.events.weights == (("view", 0.5), ("cart", 0.2))
    assert config.events.targets == ("purchase",)
    assert config.lora.r == 8


def test_a_bad_option_value_names_the_option(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--data", "builtin", "--out", "o", "--columns", "user"])
    assert "argument --columns: columns entry 'user' is not field=column" in capsys.readouterr().err


# ---------------------------------------------------------------------------- run files
def _run_file(tmp_path, text, suffix=".toml"):
    path = tmp_path / f"run{suffix}"
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_key_in_a_run_file_is_refused_by_name(tmp_path, capsys):
    run = _run_file(tmp_path, '[config]\nmodel = "scratch:tiny"\n[config.train]\nepoch = 3\n')
    assert main(["train", "--config", str(run), "--out", str(tmp_path / "m")]) == 2
    assert "unknown key 'train.epoch' in TrainConfig" in capsys.readouterr().err
    run = _run_file(tmp_path, '{"config": {}, "dataset": {}}', ".json")
    assert main(["train", "--config", str(run), "--out", str(tmp_path / "m")]) == 2
    assert "unknown key 'dataset'" in capsys.readouterr().err


def test_command_line_options_override_the_run_file(tmp_path):
    from lmrec.cli.data import data_config
    from lmrec.cli.runfile import read_run
    from lmrec.cli.train import lm_config

    run = _run_file(
        tmp_path,
        '[data]\npath = "builtin"\nusers = 50\nevents = ["purchase"]\n'
        '[config]\nmodel = "scratch:tiny"\n'
        "[config.train]\nepochs = 3\nlearning_rate = 0.002\n"
        '[config.index]\nstrategy = "random"\n',
    )
    argv = ["train", "--config", str(run), "--out", "o", "--epochs", "5", "--users", "70"]
    args = build_parser().parse_args(argv)
    tables = read_run(args.config)
    config, data = lm_config(args, tables["config"]), data_config(args, tables["data"])
    assert (config.train.epochs, config.train.learning_rate) == (5, 0.002)
    assert (config.model, config.index.strategy) == ("scratch:tiny", "random")
    assert (data.path, data.users, data.events) == ("builtin", 70, ("purchase",))


def test_train_needs_data_from_options_or_file(tmp_path):
    with pytest.raises(SystemExit, match="no data: give --data"):
        main(["train", "--out", str(tmp_path / "m")])


def test_training_again_from_a_model_directory_reproduces_it(tmp_path, capsys):
    """`lmrec train --config DEMO/lmrec.json` trains the demo's model again: same data, same
    settings, the same validation NDCG@10."""
    demo, again = tmp_path / "demo", tmp_path / "again"
    argv = ["--quiet", "demo", "--users", "40", "--epochs", "1", "--show", "1"]
    assert main([*argv, "--seed", "1", "--out", str(demo)]) == 0
    saved = json.loads((demo / "lmrec.json").read_text())
    assert saved["format_version"] == 1
    assert saved["data"]["path"] == "builtin"
    assert (saved["data"]["users"], saved["data"]["data_seed"]) == (40, 1)
    assert saved["data"]["first_only"] is True
    code = main(["--quiet", "train", "--config", str(demo / "lmrec.json"), "--out", str(again)])
    assert code == 0
    redone = json.loads((again / "lmrec.json").read_text())
    assert redone["data"] == saved["data"]
    assert redone["config"]["train"].pop("output_dir") == str(again / "_train")
    assert saved["config"]["train"].pop("output_dir") is None
    assert redone["config"] == saved["config"]
    first, second = saved["train_result"], redone["train_result"]
    assert second["best_valid_ndcg10"] == first["best_valid_ndcg10"]
    assert 0 < first["best_valid_ndcg10"] < 1


def test_a_model_directory_without_a_data_table_still_loads(trained):
    """Directories written before the data table (and files without format_version) load."""
    from lmrec.cli.runfile import read_run
    from lmrec.recommenders.lm import LMRecommender

    meta_path = trained / "lmrec.json"
    meta = json.loads(meta_path.read_text())
    old = {k: v for k, v in meta.items() if k not in ("data", "format_version")}
    meta_path.write_text(json.dumps(old))
    try:
        assert LMRecommender.load(trained).config.model == "scratch:tiny"
        assert set(read_run(trained)) == {"config"}
    finally:
        meta_path.write_text(json.dumps(meta))


def test_the_command_refuses_bad_input_with_status_2(tmp_path, capsys):
    """``lmrec`` (the console script, :func:`lmrec.cli.run`): a command's own check, a library
    error and a usage error all print one line and exit 2; in-process ``main`` still raises
    the command's SystemExit."""
    from lmrec.cli import run

    missing = str(tmp_path / "nowhere")
    assert run(["recommend", "--model", missing, "--history", "a"]) == 2
    assert capsys.readouterr().err == f"error: model directory {missing} does not exist\n"
    with pytest.raises(SystemExit, match="does not exist"):
        main(["recommend", "--model", missing, "--history", "a"])
    (tmp_path / "bad.csv").write_text("user,item\nu1\n", encoding="utf-8")
    status = run(["evaluate", "--data", str(tmp_path / "bad.csv"), "--baselines", "popularity"])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and "bad.csv" in err
    with pytest.raises(SystemExit) as usage:
        run(["recommend"])  # argparse: --model is required
    assert usage.value.code == 2

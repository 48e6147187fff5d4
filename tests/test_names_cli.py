"""The names workflow of the original T5-P5 work, end to end: ``lmrec train --format names`` on
the shared English and Arabic ``Input,Output`` CSVs, then catalogue names back from ``lmrec
recommend`` and from a real server (uvicorn on a port) of the same model directory."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from thread_server import serve_in_thread

from lmrec.cli import main
from lmrec.data.source import DataConfig, load_dataset
from lmrec.data.t5p5 import names_split, read_names_csv
from lmrec.serve import ServeConfig, create_app

T5P5_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sports_equipment_t5p5"
FILES = {"en": "T5P5_training_data_English.csv", "ar": "T5P5_training_data_Arabic.csv"}
# Per language: a written history, its names one by one, and the items they name. The Arabic
# list mixes the Arabic comma and a joined "و"; "Shin Guards" is the one item whose name holds
# both words; "قميص كرة القدم" is the file's "كرة قدم قميص" (its words sorted alike).
HISTORIES = {
    "en": ("Soccer Ball, Shin Guards", ["Soccer Ball", "Shin Guards"]),
    "ar": (
        "قميص كرة القدم ، كرة كرة القدم ومرابط كرة القدم",
        ["قميص كرة القدم", "كرة كرة القدم", "مرابط كرة القدم"],
    ),
}
ITEMS = {
    "en": ["Soccer Ball", "Soccer Shin Guards"],
    "ar": ["كرة قدم قميص", "كرة كرة القدم", "مرابط كرة القدم"],
}


def _csv(language: str) -> Path:
    path = T5P5_DIR / FILES[language]
    if not path.is_file():
        pytest.skip(f"shared data not found at {T5P5_DIR}")
    return path


def _catalogue(language: str) -> set[str]:
    return set(read_names_csv(_csv(language)).catalog_names.values())


@pytest.fixture(scope="module", params=["en", "ar"])
def trained(request, tmp_path_factory) -> tuple[str, Path]:
    """(language, model directory): one epoch on each row's last pair, seconds on a CPU."""
    language = request.param
    out = tmp_path_factory.mktemp(f"names_{language}")
    argv = ["--quiet", "--threads", "1", "train", "--format", "names", "--data"]
    argv += [str(_csv(language)), "--out", str(out), "--model", "scratch:tiny"]
    assert main([*argv, "--epochs", "1", "--max-targets-per-user", "1", "--batch-size", "16"]) == 0
    return language, out


@pytest.mark.slow
def test_cli_recommend_answers_catalogue_names(trained, capsys) -> None:
    language, model = trained
    saved = json.loads((model / "lmrec_named.json").read_text(encoding="utf-8"))
    assert saved["config"]["language"] == language  # detected from the file's script
    assert saved["config"]["train"]["max_source_length"] == 512  # NamedConfig's, not 256
    text, history = HISTORIES[language][0], ITEMS[language]
    capsys.readouterr()
    assert main(["recommend", "--model", str(model), "--history", text, "-k", "5", "--json"]) == 0
    (answer,) = json.loads(capsys.readouterr().out)
    assert answer["history"] == history
    assert answer["score_kind"] == "log-probability"
    names = [r["name"] for r in answer["recommendations"]]
    assert len(names) == len(set(names)) == 5
    assert set(names) <= _catalogue(language)
    assert not set(names) & set(history)  # seen items excluded by default
    assert all(r["item"] == r["name"] for r in answer["recommendations"])  # ids are the names
    # The table shows the same names, in the same order.
    assert main(["recommend", "--model", str(model), "--history", text, "-k", "5"]) == 0
    rows = capsys.readouterr().out.splitlines()
    assert [row.split(". ", 1)[1].rsplit(None, 1)[0].strip() for row in rows[2:]] == names


@pytest.mark.slow
def test_cli_names_an_unknown_or_ambiguous_name(trained) -> None:
    language, model = trained
    if language != "en":
        pytest.skip("one language is enough for the error")
    argv = ["recommend", "--model", str(model), "--history"]
    with pytest.raises(SystemExit) as caught:
        main([*argv, "Soccer Ball, Frisbee, Cleats"])
    assert str(caught.value) == (
        "error: history: no catalogue item is named 'Frisbee'; 'Cleats' could be any of "
        "Soccer Cleats, Football Cleats, Baseball Cleats"
    )
    with pytest.raises(SystemExit, match="takes no --user"):
        main([*argv, "Soccer Ball", "--user", "row2"])


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    """The service of the trained directory under uvicorn in a thread of this process."""
    language, model = trained
    db = tmp_path_factory.mktemp(f"names_db_{language}") / "events.sqlite"
    with serve_in_thread(create_app(ServeConfig(str(model), str(db)))) as url:
        yield language, url


@pytest.mark.slow
def test_service_answers_catalogue_names(server) -> None:
    language, url = server
    written, history = HISTORIES[language][1], ITEMS[language]
    health = httpx.get(url + "/health").json()
    assert health["items"] == len(_catalogue(language))
    assert health["tasks"] == ["sequential"]
    # Names as written, one per history entry: the short "Shin Guards" finds its item too.
    reply = httpx.post(url + "/recommend", json={"history": written, "k": 5}, timeout=60)
    assert reply.status_code == 200, reply.text
    names = [r["name"] for r in reply.json()["recommendations"]]
    assert len(names) == 5 and set(names) <= _catalogue(language)
    assert not set(names) & set(history)
    unknown = httpx.post(url + "/recommend", json={"history": ["Frisbee"], "k": 5}, timeout=60)
    assert unknown.status_code == 422
    assert "'Frisbee'" in unknown.json()["error"]


def test_names_split_rows_and_validation(tmp_path) -> None:
    path = tmp_path / "purchases.csv"
    rows = ['"Ball, Net",Racket', '"Net, Racket",Ball', '"Ball, Shoes",Net', '"Racket",Shoes']
    path.write_text("Input,Output\n" + "\n".join(rows) + "\n", encoding="utf-8")
    parsed = read_names_csv(path)
    assert parsed.language == "en"
    split = names_split(parsed, valid_share=0.5, seed=0)
    assert list(split.catalog) == ["Racket", "Ball", "Net", "Shoes"]
    assert sorted(split.valid) == ["row3", "row5"]  # 2 of 4 rows, seeded
    assert split.train_items("row2") == ["Ball", "Net", "Racket"]  # history + Output
    assert split.train_items("row3") == ["Net", "Racket"]  # its Output validates
    assert split.valid["row3"].item == "Ball"
    assert split.test == {}
    everything = names_split(parsed, valid_share=0.0)
    assert everything.valid == {} and everything.train_items("row5") == ["Racket", "Shoes"]


def test_arabic_file_is_detected_by_its_script(tmp_path) -> None:
    path = tmp_path / "ar.csv"
    path.write_text('Input,Output\n"كرة السلة ، حذاء التنس",مضرب التنس\n', encoding="utf-8")
    assert read_names_csv(path).language == "ar"
    assert read_names_csv(path, language="fa").language == "fa"


def test_names_format_refuses_other_options(tmp_path) -> None:
    path = tmp_path / "p.csv"
    path.write_text('Input,Output\n"Ball, Net",Racket\n', encoding="utf-8")
    base = ["train", "--format", "names", "--data", str(path), "--out", str(tmp_path / "o")]
    with pytest.raises(SystemExit) as caught:
        main([*base, "--index", "random", "--lora", "--first-only"])
    assert str(caught.value) == (
        "error: --format names does not take --index, --lora, data options other than --data"
    )
    # A named-only option in a run of another format would be silently ignored: refused.
    with pytest.raises(SystemExit, match="--num-candidates go"):
        main(["train", "--data", "builtin", "--out", str(tmp_path / "o"), "--num-candidates", "5"])
    # A names file read as a log says what it is.
    with pytest.raises(ValueError, match="trains with 'lmrec train --format names'"):
        load_dataset(DataConfig(path=str(path), format="names"))

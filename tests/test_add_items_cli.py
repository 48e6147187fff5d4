"""``lmrec add-items``: new items for a trained text-mode model, recommendable and readable in
histories at once; every refusal leaves the model directory exactly as it was."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import pytest
from lm_fixtures import train_text_model_with_cli

from lmrec.cli import main
from lmrec.recommenders.lm import LMRecommender

pytestmark = pytest.mark.usefixtures("one_thread")

NEW_ITEMS = "item,name,category\nNEW-1,Pro Match Soccer Ball,soccer\nNEW-2,Trail Shoes,running\n"


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    return train_text_model_with_cli(tmp_path_factory.mktemp("text") / "model")


@pytest.fixture
def model(trained, tmp_path) -> Path:
    """A copy of the trained model for one test to change."""
    return Path(shutil.copytree(trained, tmp_path / "model"))


def _csv(tmp_path: Path, text: str, name: str = "new.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _fingerprint(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (the model directory and anything beside it) by content."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _run(argv: list[str], capsys) -> tuple[int, str]:
    """``lmrec`` in-process: (exit code, stdout + stderr), a SystemExit's message included."""
    try:
        code = main(argv)
    except SystemExit as stop:
        code, said = 2, str(stop.code)
    else:
        said = ""
    out = capsys.readouterr()
    return code, out.out + out.err + said


def test_added_items_are_recommendable_and_read_in_histories(model, tmp_path, capsys):
    before = len(LMRecommender.load(model).catalog)
    code, said = _run(["--quiet", "add-items", "--model", str(model), "--catalog",
                       str(_csv(tmp_path, NEW_ITEMS))], capsys)  # fmt: skip
    assert code == 0, said
    assert "added 2 item(s)" in said and f"now holds {before + 2} items (was {before})" in said
    rec = LMRecommender.load(model)
    assert len(rec.catalog) == before + 2
    for item in ("NEW-1", "NEW-2"):
        assert item in rec.index and item in rec.catalog and item in rec.trie
    assert rec.catalog["NEW-1"].name == "Pro Match Soccer Ball"
    (scores,) = rec.score([["SOC-01", "NEW-2"]], [["NEW-1", "SOC-02"]])
    assert all(math.isfinite(s) for s in scores)
    everything = rec.recommend([["NEW-2"]], k=len(rec.catalog), exclude_seen=False)[0]
    assert {"NEW-1", "NEW-2"} <= {s.item for s in everything}
    # The run record lmrec train added (the data it read) survives the save.
    assert json.loads((model / "lmrec.json").read_text())["data"]["path"] == "builtin"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".model.")]  # no leftovers

    code, said = _run(["recommend", "--model", str(model), "--history", "NEW-1,NEW-2", "-k",
                       "3", "--json"], capsys)  # fmt: skip
    assert code == 0, said
    (answer,) = json.loads(said)
    assert answer["history"] == ["NEW-1", "NEW-2"] and len(answer["recommendations"]) == 3


def test_out_writes_an_updated_copy_and_leaves_the_model_alone(model, tmp_path, capsys):
    before = _fingerprint(model)
    out = tmp_path / "grown"
    code, said = _run(["--quiet", "add-items", "--model", str(model), "--catalog",
                       str(_csv(tmp_path, NEW_ITEMS)), "--out", str(out)], capsys)  # fmt: skip
    assert code == 0, said
    assert _fingerprint(model) == before
    assert "NEW-2" in LMRecommender.load(out).index
    code, said = _run(["add-items", "--model", str(model), "--catalog",
                       str(_csv(tmp_path, NEW_ITEMS)), "--out", str(out)], capsys)  # fmt: skip
    assert code == 2 and "exists and is not empty" in said


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("item,name\nNEW-1,New Ball\nSOC-01,Soccer Ball\n", "'SOC-01' is already in the catalogue"),
        ("item,name\nNEW-1,New Ball\nNEW-1,Other Ball\n", "new.csv:3: duplicate item id"),
        ("item,name,category\nNEW-1,New Ball,soccer\nNEW-2,,\n", "'NEW-2' has no text to embed"),
        ("item,name\nNEW-1,New Ball\n,No Id\n", "new.csv:3: empty item id"),
        ("item,name\n", "new.csv: no rows to read"),
    ],
    ids=["known id", "id twice", "no text", "malformed row", "no items"],
)
def test_a_refused_file_changes_nothing(model, tmp_path, capsys, rows, message):
    argv = ["add-items", "--model", str(model), "--catalog", str(_csv(tmp_path, rows))]
    before = _fingerprint(tmp_path)  # the model and the file beside it, nothing else
    code, said = _run(argv, capsys)
    assert code == 2 and message in said
    assert _fingerprint(tmp_path) == before


def test_an_ids_only_model_is_refused_with_the_option_that_fixes_it(tmp_path, capsys):
    model = train_text_model_with_cli(tmp_path / "ids", representation="ids")
    argv = ["add-items", "--model", str(model), "--catalog", str(_csv(tmp_path, NEW_ITEMS))]
    before = _fingerprint(tmp_path)
    code, said = _run(argv, capsys)
    assert code == 2
    assert "trained without item text" in said and "--item-representation ids+text" in said
    assert _fingerprint(tmp_path) == before


def test_missing_model_or_catalogue_is_said_in_words(model, tmp_path, capsys):
    new = str(_csv(tmp_path, NEW_ITEMS))
    code, said = _run(["add-items", "--model", str(tmp_path / "none"), "--catalog", new], capsys)
    assert code == 2 and "does not exist" in said and "none" in said
    code, said = _run(["add-items", "--model", str(model), "--catalog", "absent.csv"], capsys)
    assert code == 2 and "catalogue file absent.csv does not exist" in said


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        (lambda m: _cut(m / "model.safetensors"), "its transformers model"),
        (lambda m: _cut(m / "item_text_projection.safetensors"), "projection.safetensors: cannot"),
        (lambda m: _cut(m / "item_text.npz"), "item_text.npz: cannot be read"),
        (lambda m: (m / "item_text.json").write_text("{cut"), "item_text.json: cannot be read"),
        (lambda m: _cut(m / "catalog.jsonl"), "not a readable lmrec model directory"),
    ],
    ids=["weights", "projection", "text vectors", "text vectors' record", "catalogue"],
)
def test_a_damaged_model_directory_is_refused_in_one_line(model, tmp_path, capsys, damage, named):
    damage(model)
    argv = ["add-items", "--model", str(model), "--catalog", str(_csv(tmp_path, NEW_ITEMS))]
    before = _fingerprint(tmp_path)
    code, said = _run(argv, capsys)
    assert code == 2 and len(said.strip().splitlines()) == 1
    assert f"{model}" in said and named in said
    assert _fingerprint(tmp_path) == before


def test_out_inside_the_model_a_file_as_out_or_a_directory_as_catalogue_are_refused(
    model, tmp_path, capsys
):
    new = _csv(tmp_path, NEW_ITEMS)
    before = _fingerprint(tmp_path)
    for extra, message in [
        (["--out", str(model / "grown")], "is inside --model"),
        (["--out", str(new)], "exists and is not a directory"),
    ]:
        code, said = _run(
            ["add-items", "--model", str(model), "--catalog", str(new), *extra], capsys
        )
        assert code == 2 and message in said
    code, said = _run(["add-items", "--model", str(model), "--catalog", str(tmp_path)], capsys)
    assert code == 2 and f"catalogue file {tmp_path} is not a file" in said
    fake = tmp_path / "new.parquet"
    fake.write_text("not parquet", encoding="utf-8")
    code, said = _run(["add-items", "--model", str(model), "--catalog", str(fake)], capsys)
    assert code == 2 and f"{fake}: cannot be read: ArrowInvalid" in said
    fake.unlink()
    assert _fingerprint(tmp_path) == before

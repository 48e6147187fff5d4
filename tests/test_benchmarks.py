"""The benchmark scripts' smoke paths run end to end on a tiny subsample."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "ml-100k").exists(), reason="needs ../shared/data/ml-100k")
def test_sequential_benchmark_quick_path(tmp_path):
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / "sequential.py"),
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
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
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


def _languages_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "languages_benchmark", ROOT / "benchmarks" / "languages.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_name_overlap_control_ranks_candidates_by_shared_name_words():
    """languages.py's name-reading control: IDF-weighted words shared with the history's
    names, after normalisation (كره = كرة), on the given candidate lists."""
    from argparse import Namespace

    from lmrec.data.schema import Catalog, Item
    from lmrec.data.split import Split

    languages = _languages_module()
    names = {"a": "red ball", "b": "red bat", "c": "blue cap", "d": "blue ball"}
    names |= {"x": "قميص كرة السلة", "y": "كره السله هوب", "z": "قميص التنس"}
    catalog = Catalog(Item(id=i, name=n) for i, n in names.items())
    split = Split(train={}, valid={}, test={}, catalog=catalog, name="toy")
    task = languages.Task(
        split,
        histories=[["a", "b"], ["x"]],
        targets=["b", "y"],
        exclude_seen=False,
        candidates=[["c", "d", "b"], ["z", "y"]],
    )
    out = languages.run_overlap(task, "en", Namespace(seed=0), epochs=0, data="toy")
    # b shares red (twice named) and bat; d shares ball; c shares nothing. y shares two
    # words with the history only once normalised, z one word as written.
    assert out["name-overlap"]["rankings"] == [["b", "d", "c"], ["y", "z"]]
    assert languages.rank_metrics(out["name-overlap"]["rankings"], task.targets)["hr1"] == 1.0

"""The decoding studies: the shared-prompt study's smoke path runs end to end and finds the
beams of a user sharing its prompt's keys and values give the copying search's results."""

from __future__ import annotations

from pathlib import Path

import pytest
from bench_fixtures import quick_run

from benchmarks import shared_prompt

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "ml-100k").exists(), reason="needs ../shared/data/ml-100k")
def test_shared_prompt_quick_path_gives_the_copying_search_results(tmp_path):
    result = quick_run("shared_prompt", tmp_path)
    rows = result["rows"]
    assert [r["backbone"] for r in rows] == shared_prompt.BACKBONES
    for row in rows:
        assert row["users"] == 64 and row["trie_depth"] > 1
        assert row["same_top10"] == 1.0 and row["max_score_gap"] < 1e-5
        assert row["before_users_per_s"] > 0 and row["after_users_per_s"] > 0
    llama = rows[0]
    assert llama["after_held_mb"] < llama["before_held_mb"] / 5  # one prompt row, not 20
    assert (tmp_path / "smoke-quick.md").read_text().startswith("# Trie beam search")

"""evaluate_ranking on a hand-made split with a recommender whose ranking is fixed."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import pytest

from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import Split, leave_one_out_split
from lmrec.evaluation.ranking import RankingReport, evaluate_ranking, format_markdown
from lmrec.recommenders.base import Recommender, Scored

ITEMS = ["i1", "i2", "i3", "i4", "i5", "i6"]


class FixedRecommender(Recommender):
    """Always the same order (minus the history if asked); records what it was asked."""

    name = "fixed"

    def __init__(self, order: Sequence[str] = tuple(ITEMS)) -> None:
        self.order = list(order)
        self.calls: list[tuple[list[list[str]], int, bool]] = []

    def fit(self, split: Split) -> Self:
        return self

    def recommend(
        self, histories: Sequence[Sequence[str]], k: int = 10, exclude_seen: bool = True
    ) -> list[list[Scored]]:
        self.calls.append(([list(h) for h in histories], k, exclude_seen))
        results = []
        for history in histories:
            items = [i for i in self.order if not (exclude_seen and i in history)][:k]
            results.append([Scored(item, float(-rank)) for rank, item in enumerate(items)])
        return results

    def save(self, path: str | Path) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "order.json").write_text(json.dumps(self.order))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        return cls(json.loads((Path(path) / "order.json").read_text()))


def tiny_split() -> Split:
    """Test targets, with the fixed order i1..i6 and history excluded, land at ranks:

    u1 (history i6 i5) -> i1 at rank 1; u2 (i1 i2 i6) -> i5 at rank 3;
    u3 (i2 i3) -> i4 at rank 2; u5 (i1 i3) -> i1, already seen, so never ranked.
    u4 has two events only, hence no target.
    """
    logs = {
        "u1": ["i6", "i5", "i1"],
        "u2": ["i1", "i2", "i6", "i5"],
        "u3": ["i2", "i3", "i4"],
        "u4": ["i1", "i2"],
        "u5": ["i1", "i3", "i1"],
    }
    interactions = [
        Interaction(user=u, item=i, timestamp=float(t), position=n)
        for n, (u, i, t) in enumerate(
            (u, i, t) for u, items in logs.items() for t, i in enumerate(items)
        )
    ]
    return leave_one_out_split(
        Dataset(interactions, Catalog(Item(id=i) for i in ITEMS), name="tiny")
    )


def test_exact_metrics_history_excluded() -> None:
    model = FixedRecommender()
    report = evaluate_ranking(model, tiny_split(), ks=(3, 1), progress=False)
    assert report.n_users == 4
    assert report.metrics == {
        "HR@1": 0.25,
        "HR@3": 0.75,
        "NDCG@1": 0.25,
        "NDCG@3": pytest.approx((1 + 0.5 + 1 / math.log2(3) + 0) / 4),
        "MRR": pytest.approx((1 + 1 / 3 + 1 / 2 + 0) / 4),
    }
    assert report.targets_in_history == 1
    assert report.protocol == "leave-one-out, test stage, all 6 items ranked, user history excluded"
    assert report.data == "tiny"
    assert report.stage == "test"
    assert report.recommender == "fixed"
    assert report.seconds > 0 and report.users_per_second > 0
    # Test-stage histories are training plus the validation item; one list of max(ks) each.
    ((histories, k, exclude_seen),) = model.calls
    assert histories == [["i6", "i5"], ["i1", "i2", "i6"], ["i2", "i3"], ["i1", "i3"]]
    assert (k, exclude_seen) == (3, True)


def test_exact_metrics_history_kept() -> None:
    # Top 3 is i1 i2 i3 for everyone: hits for u1 (i1) and u5 (i1), at rank 1.
    report = evaluate_ranking(
        FixedRecommender(), tiny_split(), ks=(1, 3), exclude_seen=False, progress=False
    )
    assert report.metrics == {"HR@1": 0.5, "HR@3": 0.5, "NDCG@1": 0.5, "NDCG@3": 0.5, "MRR": 0.5}
    assert report.protocol.endswith("user history not excluded")


def test_valid_stage_sees_training_only() -> None:
    model = FixedRecommender()
    report = evaluate_ranking(model, tiny_split(), stage="valid", ks=(5,), progress=False)
    # Valid targets: u1 i5 (history i6: rank 5), u2 i6 (i1 i2: rank 4), u3 i3 (i2: rank 2),
    # u5 i3 (i1: rank 2).
    assert model.calls[0][0] == [["i6"], ["i1", "i2"], ["i2"], ["i1"]]
    assert report.metrics["HR@5"] == 1.0
    assert report.metrics["MRR"] == pytest.approx((1 / 5 + 1 / 4 + 1 / 2 + 1 / 2) / 4)
    assert report.stage == "valid"
    assert "valid stage" in report.protocol


def test_batches_do_not_change_results() -> None:
    model = FixedRecommender()
    one = evaluate_ranking(model, tiny_split(), batch_size=1, progress=False)
    assert len(model.calls) == 4
    assert one.metrics == evaluate_ranking(FixedRecommender(), tiny_split(), progress=False).metrics


def test_user_sample_is_reproducible() -> None:
    first, second = FixedRecommender(), FixedRecommender()
    a = evaluate_ranking(first, tiny_split(), max_users=2, seed=7, progress=False)
    b = evaluate_ranking(second, tiny_split(), max_users=2, seed=7, progress=False)
    assert a.n_users == 2
    assert first.calls == second.calls
    assert a.metrics == b.metrics
    assert a.protocol.endswith("2 of 4 users sampled (seed 7)")
    full = evaluate_ranking(FixedRecommender(), tiny_split(), max_users=10, progress=False)
    assert full.n_users == 4 and "sampled" not in full.protocol


def test_progress_bar_can_be_silenced(capsys: pytest.CaptureFixture[str]) -> None:
    evaluate_ranking(FixedRecommender(), tiny_split(), progress=False)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    "kwargs", [{"ks": ()}, {"ks": (0, 5)}, {"batch_size": 0}, {"max_users": 0}, {"stage": "train"}]
)
def test_bad_arguments_are_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        evaluate_ranking(FixedRecommender(), tiny_split(), progress=False, **kwargs)  # type: ignore[arg-type]


def test_format_table_names_recommender_data_and_protocol() -> None:
    report = evaluate_ranking(FixedRecommender(), tiny_split(), ks=(1, 3), progress=False)
    lines = report.format_table().splitlines()
    assert lines[0] == (
        "fixed on tiny (leave-one-out, test stage, all 6 items ranked, user history excluded)"
    )
    assert lines[1] == "-" * len(lines[0])
    assert lines[2].split() == ["HR@1", "0.2500"]
    assert lines[3].split() == ["HR@3", "0.7500"]
    assert lines[6].split() == ["MRR", f"{(1 + 1 / 3 + 1 / 2) / 4:.4f}"]
    assert lines[7].split() == ["users", "4"]
    # Every row is aligned: values end in the same column.
    assert len({len(line) for line in lines[2:]}) == 1


def test_format_markdown_one_table_with_protocol() -> None:
    split = tiny_split()
    reports = [
        evaluate_ranking(FixedRecommender(), split, ks=(1, 3), progress=False),
        evaluate_ranking(FixedRecommender(ITEMS[::-1]), split, ks=(1, 3), progress=False),
    ]
    text = format_markdown(reports)
    lines = text.splitlines()
    assert lines[0] == (
        "Data: tiny. Protocol: leave-one-out, test stage, all 6 items ranked, "
        "user history excluded."
    )
    assert lines[2].startswith("| recommender | HR@1 | HR@3 | NDCG@1 | NDCG@3 | MRR | users |")
    assert lines[3].startswith("|---|---:|")
    assert lines[4].startswith("| fixed | 0.2500 | 0.7500 | 0.2500 |")
    assert len(lines) == 6


def test_format_markdown_refuses_mixed_protocols() -> None:
    split = tiny_split()
    kept = evaluate_ranking(FixedRecommender(), split, exclude_seen=False, progress=False)
    excluded = evaluate_ranking(FixedRecommender(), split, progress=False)
    with pytest.raises(ValueError, match="measured differently"):
        format_markdown([kept, excluded])
    with pytest.raises(ValueError):
        format_markdown([])


def test_report_is_json_ready() -> None:
    report = evaluate_ranking(FixedRecommender(), tiny_split(), progress=False)
    assert isinstance(report, RankingReport)
    assert json.loads(json.dumps(report.to_dict()))["metrics"] == report.metrics

"""A multitask language model on tiny data: valid answers for every family, save/load, CLI."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lm_fixtures import tiny_config

from lmrec.cli import main
from lmrec.data.random_split import split_interactions
from lmrec.data.split import leave_one_out_split
from lmrec.data.sportshop import make_sportshop
from lmrec.evaluation.tasks import evaluate_tasks
from lmrec.recommenders.lm import LMConfig, LMRecommender, catalog_corpus
from lmrec.recommenders.validation import loss_validator
from lmrec.tasks import TASKS, TaskConfig

ALL = TASKS


@pytest.fixture(scope="module")
def shop():
    dataset = make_sportshop(n_users=30)
    return dataset, leave_one_out_split(dataset)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model(shop, one_thread):
    _, split = shop
    config = replace(
        tiny_config(epochs=1),
        tasks=ALL,
        multitask=TaskConfig(max_examples_per_task=40, direct_candidates=10, max_answer_tokens=8),
    )
    return LMRecommender(config).fit(split)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    users=st.lists(
        st.sampled_from(["u0001", "u0002", "u0017", "stranger"]), min_size=1, max_size=4
    ),
    template=st.sampled_from([None, "rating-en-1", "rating-en-4", "rating-en-5"]),
)
def test_rating_answers_are_always_valid(model, users, template):
    items = [model.index.items[n % len(model.index)] for n in range(len(users))]
    for answer in model.rate(users, items, template):
        assert answer.rating in (1, 2, 3, 4, 5)
        assert 1.0 <= answer.expected <= 5.0
        assert sum(answer.probabilities) == pytest.approx(1.0, abs=1e-5)
        assert answer.rating == 1 + max(range(5), key=lambda i: answer.probabilities[i])


def test_every_family_answers(model):
    items = model.index.items[:3]
    users = ["u0001", "u0002", "nobody"]
    assert all(0.0 <= p <= 1.0 for p in model.like(users, items))
    scores = model.choose(users, [items, items[:2], items[1:]])
    assert [len(s) for s in scores] == [3, 2, 2]
    id_tokens = set(model.index.vocabulary()) | set(model.users.vocabulary())
    for text in model.explain(users, items, ["grip", None, "fit"]) + model.summarize(["Fine."]):
        assert isinstance(text, str) and not any(t in text for t in id_tokens)
    assert model.rate_review(["Great balls, lively bounce."])[0].rating in range(1, 6)
    assert len(model.recommend([items], k=2)[0]) == 2


def test_saved_model_answers_the_same(model, tmp_path):
    model.save(tmp_path / "m")
    loaded = LMRecommender.load(tmp_path / "m")
    assert loaded.config == model.config
    users, items = ["u0001", "nobody"], model.index.items[:2]
    assert [a.expected for a in loaded.rate(users, items)] == pytest.approx(
        [a.expected for a in model.rate(users, items)], abs=1e-5
    )


def test_config_round_trip_and_sequential_default():
    config = LMConfig(tasks=("rating", "direct"), task_weights=(2.0, 1.0))
    assert LMConfig.from_dict(config.to_dict()) == config
    assert LMConfig().tasks == ("sequential",)
    with pytest.raises(ValueError):
        LMConfig(tasks=("rating",), task_weights=(1.0, 2.0))


def test_sequential_only_tokenizer_text_is_unchanged(shop):
    from lmrec.prompts import load_templates

    corpus = catalog_corpus(shop[1].catalog, load_templates())
    assert not any("rating" in text.lower() or "{review}" in text for text in corpus)


def test_evaluate_reports_seen_and_unseen(model, shop):
    dataset, split = shop
    reports = evaluate_tasks(model, split, split_interactions(dataset), ALL, max_cases=6)
    tasks = [r.task for r in reports]
    assert tasks[:3] == ["sequential", "rating", "explanation"]
    for report in reports:
        prompts = {row["prompts"] for row in report.rows if row["system"].startswith("LM")}
        assert prompts == {"seen", "unseen"}, report.task
    assert "SAMPLED" in reports[-2].protocol


def test_cli_ask(model, tmp_path, capsys):
    model.save(tmp_path / "m")
    ask = ["ask", "--model", str(tmp_path / "m")]
    item = model.index.items[0]
    assert main([*ask, "--task", "rating", "--user", "u0001", "--item", item, "--json"]) == 0
    assert '"rating"' in capsys.readouterr().out
    assert main([*ask, "--task", "summary", "--review", "Lively bounce."]) == 0


def test_mixture_without_sequential_validates_on_held_out_loss(shop):
    """No sequential task: the epoch kept is the one with the lowest loss on held-out examples
    of the trained tasks, built from validation rows only."""
    from lmrec.tasks import TaskContext, TaskData

    dataset, split = shop
    interactions = split_interactions(dataset)
    config = replace(
        tiny_config(epochs=3),
        tasks=("rating", "review", "direct"),
        multitask=TaskConfig(max_examples_per_task=40, direct_candidates=10),
    )
    rec = LMRecommender(config).fit(split, interactions)
    result = rec.train_result
    assert result.valid_metric == "-loss"
    assert math.isnan(result.best_valid_ndcg10)  # no NDCG was measured
    scores = [r["valid_neg_loss"] for r in result.history]
    assert len(scores) == 3 and all(s < 0 for s in scores)
    assert result.best_epoch == 1 + scores.index(max(scores))
    assert result.best_valid == max(scores)

    data = TaskData.build(split, interactions, config.prompts)
    held = data.validation(split, interactions)
    test_keys = {(x.user, x.item, x.position) for x in split.test.values()}
    train_keys = {(x.user, x.item, x.position) for x in data.rated}
    valid_keys = {(x.user, x.item, x.position) for x in held.rated}
    assert valid_keys and not valid_keys & train_keys and not valid_keys & test_keys
    assert held.positives == [(u, split.valid[u].item) for u in split.valid if split.train.get(u)]

    # The weights kept are the best epoch's: they score exactly its held-out loss again.
    ctx = TaskContext(rec.index, rec.users, rec.catalog, config.multitask, "en")
    validate = loss_validator(rec, held, ctx)
    again = validate(rec.model, slice(None))
    assert sum(again) / len(again) == pytest.approx(result.best_valid, abs=1e-5)
    assert "best validation loss" in result.describe_best()

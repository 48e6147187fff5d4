"""Prompt rendering of every task family, the explanation rule, and the training mixture."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from lmrec.data.random_split import split_interactions
from lmrec.data.schema import Catalog, Interaction, Item
from lmrec.data.split import leave_one_out_split
from lmrec.data.sportshop import make_sportshop
from lmrec.indexing import ItemIndex
from lmrec.prompts import load_templates
from lmrec.tasks import (
    TASK_FAMILIES,
    TASKS,
    UNKNOWN_USER,
    PromptConfig,
    TaskConfig,
    TaskContext,
    TaskData,
    UserIndex,
    multitask_examples,
    parse_tasks,
)
from lmrec.tasks.direct import choice_prompt, direct_examples, yesno_prompt
from lmrec.tasks.explanation import explanation_prompt, pick_explanation, split_sentences
from lmrec.tasks.rating import rating_examples, rating_prompt
from lmrec.tasks.review import lead_sentence, review_examples, review_prompt

TEMPLATES = load_templates()


@pytest.fixture
def ctx() -> TaskContext:
    index = ItemIndex({"s1": ("<item_1>",), "s2": ("<item_2>",), "s3": ("<item_3>",)})
    catalog = Catalog([Item("s1", name="Tennis balls"), Item("s2"), Item("s3", name="Net")])
    return TaskContext(index, UserIndex.build(["ann", "bob"]), catalog, TaskConfig())


def test_each_family_renders_its_prompt(ctx):
    t = TEMPLATES.get
    assert rating_prompt("ann", "s1", ctx, t("rating-en-2")) == (
        "How will <user_1> rate Tennis balls ( <item_1> ) ? ( 1 being lowest and 5 being highest )"
    )
    # No name in the catalogue: the id token stands in; an unknown user reads <user_unk>.
    assert rating_prompt("zoe", "s2", ctx, t("rating-en-5")) == (
        f"Which rating between 1 and 5 would {UNKNOWN_USER} give to <item_2> ( <item_2> ) ?"
    )
    assert explanation_prompt("bob", "s3", "mesh", ctx, t("expl-en-3")) == (
        "Generate an explanation for <user_2> about item <item_3> , focusing on mesh ."
    )
    assert review_prompt("Solid balls.", "ann", ctx, t("summary-en-2")) == (
        "Give a title to the following review from <user_1> : Solid balls."
    )
    assert review_prompt("Solid.", None, ctx, t("review-rating-en-1")) == (
        "Predict the star rating of this review : Solid."
    )
    assert yesno_prompt("ann", "s3", ctx, t("yesno-en-1")) == (
        "Will <user_1> like item <item_3> ? Answer yes or no ."
    )
    assert choice_prompt("bob", ["s3", "s1"], ctx, t("choice-en-3")) == (
        "Candidates : <item_3> , <item_1> . Recommend one to <user_2> ."
    )


def test_training_answers(ctx):
    rows = [Interaction("ann", "s1", rating=4.4, review="Bouncy.", summary="Good")]
    rng = random.Random(0)
    (rating,) = rating_examples(rows, ctx, TEMPLATES, rng)
    assert rating.target == "4" and rating.family == "rating"
    summary, stars = review_examples(rows, ctx, TEMPLATES, rng)
    assert (summary.target, stars.target) == ("Good", "4")
    made = direct_examples([("ann", "s1")], {"ann": {"s1"}}, ctx, TEMPLATES, rng)
    answers = [(e.family, e.target) for e in made]
    assert answers == [
        ("direct_yesno", "yes"),
        ("direct_yesno", "no"),
        ("direct_choice", "<item_1>"),
    ]
    assert "<item_1>" in made[2].source and "<item_2>" in made[2].source


@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_family_has_seen_and_unseen_templates(language):
    for task in TASKS:
        for family in TASK_FAMILIES[task]:
            assert len(TEMPLATES.select(family, language, unseen=False)) >= 3
            assert TEMPLATES.select(family, language, unseen=True)


def test_arabic_prompts_and_answers(ctx):
    t = TEMPLATES.get
    catalog = Catalog([Item("s1", name="Tennis balls", names={"ar": "كرات تنس"}), Item("s2")])
    ar = TaskContext(ctx.index, ctx.users, catalog, TaskConfig(), language="ar")
    assert rating_prompt("ann", "s1", ar, t("rating-ar-2")) == (
        "كيف سيقيم المستخدم <user_1> المنتج كرات تنس ( <item_1> ) ؟ ( 1 هو الأدنى و 5 هو الأعلى )"
    )
    made = direct_examples([("ann", "s1")], {"ann": {"s1"}}, ar, TEMPLATES, random.Random(0))
    assert [(e.family, e.target) for e in made] == [
        ("direct_yesno", "نعم"),
        ("direct_yesno", "لا"),
        ("direct_choice", "<item_1>"),
    ]
    assert all(e.template.startswith(("yesno-ar", "choice-ar")) for e in made)


def test_explanation_rule_picks_the_sentence_richest_in_aspects():
    aspects = Counter({"bounce": 5, "felt": 3, "tennis": 1, "can": 1})
    review = "I bought these last week. The bounce is lively and the felt lasts! Nice can."
    assert pick_explanation(review, aspects) == (
        "The bounce is lively and the felt lasts!",
        "bounce",
    )
    assert pick_explanation("Nothing to say here.", aspects) is None
    assert split_sentences("One two three. Four five six!\nSeven") == [
        "One two three.",
        "Four five six!",
    ]
    assert lead_sentence("First one. Second one.") == "First one."


def test_parse_tasks():
    assert parse_tasks("all") == TASKS
    assert parse_tasks("rating, direct") == ("rating", "direct")
    with pytest.raises(ValueError):
        parse_tasks("rating,poetry")


def test_unseen_templates_never_reach_training():
    dataset = make_sportshop(n_users=40)
    split = leave_one_out_split(dataset)
    data = TaskData.build(split, split_interactions(dataset), PromptConfig())
    index = ItemIndex({item: (f"<item_{n}>",) for n, item in enumerate(split.catalog)})
    ctx = TaskContext(
        index, UserIndex.build(split.train), split.catalog, TaskConfig(direct_candidates=10)
    )
    unseen = {t.id for t in TEMPLATES.templates if t.unseen}
    used: Counter[str] = Counter()
    for epoch in range(3):
        examples = multitask_examples(data, ctx, TEMPLATES, TASKS, [1.0] * 5, 0, epoch)
        used.update(e.template for e in examples)
    assert not unseen & set(used)
    families = {TEMPLATES.get(t).family for t in used}
    assert families == {f for task in TASKS for f in TASK_FAMILIES[task]}
    # Every seen English template of the new families gets used.
    seen = {t.id for t in TEMPLATES.templates if not t.unseen and t.language == "en"}
    # (Named-item prompts and event markers are not templates of the multitask families.)
    other = {t.id for t in TEMPLATES.templates if t.family in ("named", "event")}
    assert seen - other <= set(used)


def test_no_task_trains_on_a_leave_one_out_target_and_weights_apply():
    dataset = make_sportshop(n_users=40)
    split = leave_one_out_split(dataset)
    data = TaskData.build(split, split_interactions(dataset), PromptConfig())
    held_out = {id(x) for x in (*split.valid.values(), *split.test.values())}
    assert not any(id(x) in held_out for x in data.rated)
    index = ItemIndex({item: (f"<item_{n}>",) for n, item in enumerate(split.catalog)})
    ctx = TaskContext(index, UserIndex.build(split.train), split.catalog, TaskConfig())
    examples = multitask_examples(data, ctx, TEMPLATES, ("rating", "review"), [2.0, 0.5], 0, 0, 30)
    weights = {e.family: e.weight for e in examples}
    assert weights == {"rating": 2.0, "review_summary": 0.5, "review_rating": 0.5}
    assert sum(e.family == "rating" for e in examples) == 30


def test_sequential_in_the_mixture_draws_what_a_sequential_only_model_draws():
    from lmrec.tasks import sequential_examples

    dataset = make_sportshop(n_users=20)
    split = leave_one_out_split(dataset)
    data = TaskData.build(split, split_interactions(dataset), PromptConfig())
    index = ItemIndex({item: (f"<item_{n}>",) for n, item in enumerate(split.catalog)})
    ctx = TaskContext(index, UserIndex.build(split.train), split.catalog, TaskConfig())
    for epoch in (0, 1):
        mixed = multitask_examples(data, ctx, TEMPLATES, ("sequential",), [1.0], 7, epoch)
        alone = sequential_examples(
            data.sequential, index, TEMPLATES, PromptConfig(), random.Random(7 * 7919 + epoch)
        )
        assert mixed == alone

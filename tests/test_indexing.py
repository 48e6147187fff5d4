"""Item indexes: unique codes, saved with the model, and never shaped by test data."""

from __future__ import annotations

import pytest
from contract import COLD_ITEM, checkerboard_split

from lmrec.data.schema import Catalog, Dataset, Interaction, Item
from lmrec.data.split import leave_one_out_split
from lmrec.indexing import IndexConfig, ItemIndex, build_index


def _split(rows: list[tuple[str, str]], catalog_ids: list[str]):
    interactions = [
        Interaction(user=u, item=i, timestamp=float(n), position=n) for n, (u, i) in enumerate(rows)
    ]
    return leave_one_out_split(Dataset(interactions, Catalog(Item(i) for i in catalog_ids)))


def test_sequential_numbers_by_first_appearance_in_training():
    split = checkerboard_split()
    index = build_index(split, IndexConfig(strategy="sequential"))
    # Training histories: b0 B1 B2 B3, b1 B2 B3 B4, b2 B3 B4 B5, a0 A1 A2 A3, a1 .. A4, a2 .. A5
    order = ["B1", "B2", "B3", "B4", "B5", "A1", "A2", "A3", "A4", "A5", COLD_ITEM]
    assert [index.code(i) for i in order] == [(f"<item_{n}>",) for n in range(11)]


def test_test_items_never_influence_the_sequential_numbering():
    catalog = ["x1", "x2", "x3", "x4", "x5", "late"]
    train_rows = [("u1", "x3"), ("u1", "x1"), ("u2", "x2"), ("u2", "x1")]
    # Same training events; the held-out events (valid, test) differ completely. "late" and x5
    # occur only in held-out events of one variant.
    a = _split(
        [
            *train_rows[:2],
            ("u1", "x4"),
            ("u1", "x5"),
            *train_rows[2:],
            ("u2", "x2"),
            ("u2", "late"),
        ],
        catalog,
    )
    b = _split(
        [*train_rows[:2], ("u1", "x2"), ("u1", "x3"), *train_rows[2:], ("u2", "x4"), ("u2", "x3")],
        catalog,
    )
    assert [x.item for x in a.train["u1"]] == [x.item for x in b.train["u1"]] == ["x3", "x1"]
    for style in ("single", "subtokens"):
        ia = build_index(a, IndexConfig(strategy="sequential", style=style))
        ib = build_index(b, IndexConfig(strategy="sequential", style=style))
        assert {i: ia.code(i) for i in catalog} == {i: ib.code(i) for i in catalog}
    # Items unseen in training are numbered after training items, in catalogue order.
    index = build_index(a, IndexConfig(strategy="sequential"))
    assert [index.code(i)[0] for i in ["x3", "x1", "x2", "x4", "x5", "late"]] == [
        f"<item_{n}>" for n in range(6)
    ]


def test_random_index_is_seeded_and_complete():
    split = checkerboard_split()
    a = build_index(split, IndexConfig(strategy="random", seed=1))
    b = build_index(split, IndexConfig(strategy="random", seed=1))
    c = build_index(split, IndexConfig(strategy="random", seed=2))
    assert {i: a.code(i) for i in split.catalog} == {i: b.code(i) for i in split.catalog}
    assert {i: a.code(i) for i in split.catalog} != {i: c.code(i) for i in split.catalog}
    assert sorted(a.items) == sorted(split.catalog)


def test_subtokens_are_short_unique_and_decodable():
    catalog = [f"i{n}" for n in range(30)]
    split = _split([("u", i) for i in catalog], catalog)
    index = build_index(split, IndexConfig(style="subtokens", base=4))
    codes = [index.code(i) for i in catalog]
    assert len(set(codes)) == 30
    assert {len(c) for c in codes} == {3}  # 4**2 < 30 <= 4**3
    assert codes[0] == ("<a_0>", "<b_0>", "<c_0>")
    assert codes[29] == ("<a_1>", "<b_3>", "<c_1>")  # 29 = 1*16 + 3*4 + 1
    assert all(index.item_of(index.code(i)) == i for i in catalog)
    assert len(index.vocabulary()) == 4 + 4 + 4 - 2  # level a only uses digits 0 and 1


def test_index_save_load_round_trip(tmp_path):
    split = checkerboard_split()
    index = build_index(split, IndexConfig(style="subtokens", base=3))
    index.save(tmp_path / "index.json")
    loaded = ItemIndex.load(tmp_path / "index.json")
    assert loaded.config == index.config
    assert {i: loaded.code(i) for i in split.catalog} == {i: index.code(i) for i in split.catalog}


def test_unknown_strategy_and_item_are_clear_errors():
    split = checkerboard_split()
    with pytest.raises(ValueError, match="unknown index strategy 'nope'"):
        build_index(split, IndexConfig(strategy="nope"))
    with pytest.raises(KeyError, match="unknown item 'missing'"):
        build_index(split, IndexConfig()).code("missing")
    with pytest.raises(ValueError, match="share code"):
        ItemIndex({"a": ("<x>",), "b": ("<x>",)})

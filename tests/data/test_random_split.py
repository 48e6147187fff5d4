"""The seeded random 80/10/10 split by interaction."""

from __future__ import annotations

from lmrec.data.random_split import split_interactions
from lmrec.data.split import leave_one_out_split
from lmrec.data.sportshop import make_sportshop


def test_split_is_seeded_complete_and_the_same_from_a_leave_one_out_split():
    dataset = make_sportshop(n_users=40)
    a = split_interactions(dataset, seed=3)
    b = split_interactions(leave_one_out_split(dataset), seed=3)
    assert a.train == b.train and a.valid == b.valid and a.test == b.test
    n = len(dataset.interactions)
    assert len(a.train) == round(0.8 * n) and len(a.valid) == round(0.1 * n)
    assert sorted(map(id, a.train + a.valid + a.test)) == sorted(map(id, dataset.interactions))
    assert split_interactions(dataset, seed=4).test != a.test

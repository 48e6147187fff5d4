"""Names written one by one, resolved to catalogue items: exact, fuzzy, a unique holder of
every word, and the names that resolve to none or to several items."""

from __future__ import annotations

from lmrec.text.names import ResolvedNames, resolve_names

CATALOG = {
    "Soccer Shin Guards": "SOC-1",
    "Soccer Cleats": "SOC-2",
    "Football Cleats": "FB-1",
    "Hockey Puck": "HOC-1",
    "قفازات حارس المرمى": "AR-1",
}


def test_each_way_a_name_resolves() -> None:
    names = ["soccer cleats", "Hocket Puck", "Shin Guards", "حارس", "Cleats", "Frisbee"]
    resolved = resolve_names(names, CATALOG, "en")
    # exact (case-folded), fuzzy (0.91), the one name holding both words, an Arabic word of one
    # name; "Cleats" is in two names and "Frisbee" in none.
    assert resolved.ids == ("SOC-2", "HOC-1", "SOC-1", "AR-1", None, None)
    assert resolved.unknown == ("Frisbee",)
    assert resolved.ambiguous == {"Cleats": ("SOC-2", "FB-1")}
    assert resolved.problem == (
        "no catalogue item is named 'Frisbee'; 'Cleats' could be any of SOC-2, FB-1"
    )


def test_every_name_resolved_has_no_problem() -> None:
    assert resolve_names([], CATALOG) == ResolvedNames((), (), {})
    assert resolve_names(["Hockey Puck"], CATALOG).problem is None

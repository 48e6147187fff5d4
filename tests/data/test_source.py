"""DataConfig: which file, read how."""

from __future__ import annotations

import pytest

from lmrec.data.readers import ColumnMap
from lmrec.data.source import DataConfig, data_format, load_dataset, parse_columns


def test_format_is_guessed_from_the_path(tmp_path):
    (tmp_path / "log.inter").write_text("")
    assert data_format(DataConfig(path="builtin")) == "builtin"
    assert data_format(DataConfig(path=str(tmp_path))) == "recbole"
    assert data_format(DataConfig(path=str(tmp_path / "log.inter"))) == "recbole"
    assert data_format(DataConfig(path="seq.txt")) == "sequences"
    assert data_format(DataConfig(path="log.csv")) == "table"
    assert data_format(DataConfig(path="log.csv", format="sequences")) == "sequences"


def test_builtin_data_with_event_and_first_only_selection():
    data = load_dataset(DataConfig(path="builtin", users=30, data_seed=2, first_only=True))
    assert len(data.histories()) == 30
    purchases = load_dataset(DataConfig(path="builtin", users=30, events=("purchase",)))
    assert {str(x.event) for x in purchases.interactions} == {"purchase"}


def test_columns_and_bad_values_are_clear():
    assert parse_columns("user=uid, item=sku") == ColumnMap(user="uid", item="sku")
    with pytest.raises(ValueError, match="columns field 'who' unknown"):
        parse_columns("who=uid")
    with pytest.raises(ValueError, match="unknown data format 'xml'"):
        DataConfig(format="xml")
    with pytest.raises(ValueError, match="no data given"):
        load_dataset(DataConfig())


def test_a_selection_the_user_asked_for_is_logged_as_information_not_a_warning(caplog):
    """--first-only drops are counted at INFO (the user chose them); a reader's surprises,
    such as malformed rows, stay warnings (tests/data/test_bad_files.py)."""
    import logging

    with caplog.at_level(logging.INFO, logger="lmrec.data.schema"):
        load_dataset(DataConfig(path="builtin", users=30, data_seed=2, first_only=True))
    selection = [r for r in caplog.records if "selection" in r.getMessage()]
    assert [r.levelno for r in selection] == [logging.INFO]
    assert (
        "dropped" in selection[0].getMessage()
        and "repeat of an earlier" in selection[0].getMessage()
    )

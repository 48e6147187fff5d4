"""Interaction data: the schema, file readers, leave-one-out splits and the built-in shop."""

from lmrec.data.readers import (
    ColumnMap,
    DataFormatError,
    ItemColumnMap,
    read_catalog,
    read_interactions,
    read_recbole,
    read_sequences,
)
from lmrec.data.schema import Catalog, Dataset, EventType, Interaction, Item, LoadReport
from lmrec.data.split import Split, leave_one_out_split
from lmrec.data.sportshop import load_catalog, make_sportshop, sportshop_preferences

__all__ = [
    "Catalog",
    "ColumnMap",
    "DataFormatError",
    "Dataset",
    "EventType",
    "Interaction",
    "Item",
    "ItemColumnMap",
    "LoadReport",
    "Split",
    "leave_one_out_split",
    "load_catalog",
    "make_sportshop",
    "read_catalog",
    "read_interactions",
    "read_recbole",
    "read_sequences",
    "sportshop_preferences",
]

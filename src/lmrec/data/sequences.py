"""S3-Rec sequence files (``user item item ...``), their ``key name`` files and P5 id maps."""

from __future__ import annotations

import json
from pathlib import Path

from lmrec.data.formats import DataFormatError, RowError, open_text, reject_row
from lmrec.data.rows import control_character, not_empty
from lmrec.data.schema import Interaction, LoadReport

__all__ = ["attribute_tags", "id2item_map", "name_lines", "sequence_interactions"]


def sequence_interactions(path: Path, report: LoadReport, strict: bool) -> list[Interaction]:
    """One line per user; a user on two lines is malformed (the lines' order would be a guess)."""
    interactions: list[Interaction] = []
    user_lines: dict[str, int] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            tokens = line.split()
            if not tokens:
                report.drop("blank line")
                continue
            if len(tokens) == 1:
                report.drop("user with no items")
                continue
            bad = next((t for t in tokens if not (t.isascii() and t.isdigit())), None)
            if bad is not None:
                error = RowError("non-integer token", f"{bad!r} (ids must be whole numbers)")
                reject_row(f"{path}:{number}", error, report, strict)
                continue
            user = tokens[0]
            if user in user_lines:
                error = RowError("user on two lines", f"{user!r} (also line {user_lines[user]})")
                reject_row(f"{path}:{number}", error, report, strict)
                continue
            user_lines[user] = number
            start = len(interactions)
            interactions.extend(
                Interaction(user=user, item=item, position=start + offset)
                for offset, item in enumerate(tokens[1:])
            )
    report.rows = len(user_lines)
    return not_empty(interactions, report)


def name_lines(path: Path, report: LoadReport, strict: bool) -> dict[str, str]:
    """``key name`` lines (split at the first whitespace); a key with no name is counted."""
    names: dict[str, str] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split(maxsplit=1)
            if not parts:
                report.drop("blank line")
            elif len(parts) == 1 or not parts[1].strip():
                report.drop("key with no name")
            elif parts[0] in names:
                error = RowError("duplicate key", repr(parts[0]))
                reject_row(f"{path}:{number}", error, report, strict)
            elif (found := control_character(parts[1].strip())) is not None:
                error = RowError("control character in name", found)
                reject_row(f"{path}:{number}", error, report, strict)
            else:
                names[parts[0]] = parts[1].strip()
    report.rows = len(names)
    return names


def id2item_map(path: Path, report: LoadReport) -> dict[str, str]:
    """The ``id2item`` map (file item id -> key such as an ASIN) of a P5 ``datamaps.json``."""
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataFormatError(f"{path}:{error.lineno}", "invalid JSON", error.msg) from None
    id2item = data.get("id2item") if isinstance(data, dict) else None
    if not isinstance(id2item, dict):
        raise ValueError(f"{path}: expected a JSON object with an 'id2item' object (datamaps.json)")
    report.rows = len(id2item)
    return {str(k): str(v) for k, v in id2item.items()}


def attribute_tags(path: Path, report: LoadReport) -> dict[str, str]:
    """An S3-Rec ``*_item2attributes.json`` (``{"item id": [attribute id, ...]}``, the file's item
    ids; attribute ids without names, drawn from categories and brand) as each item's tags:
    ``"attribute 1|attribute 2"``, for the ``category`` field (``ItemTextConfig.tags``)."""
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataFormatError(f"{path}:{error.lineno}", "invalid JSON", error.msg) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of item id -> list of attribute ids")
    tags = {}
    for item, attributes in data.items():
        if not isinstance(attributes, list) or not all(
            isinstance(a, int) and not isinstance(a, bool) for a in attributes
        ):
            raise ValueError(
                f"{path}: item {item!r}: expected a list of whole-number attribute ids, "
                f"got {json.dumps(attributes)[:80]}"
            )
        tags[str(item)] = "|".join(f"attribute {a}" for a in dict.fromkeys(attributes))
    report.rows = len(tags)
    return tags

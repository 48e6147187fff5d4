"""Templates are data: a JSON file of phrasings per task family, each with a language and a flag
saying whether it is held out of training (P5's unseen-prompt test)."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

_BUILTIN = "templates.json"


@dataclass(frozen=True)
class Template:
    """One phrasing of a task: ``source`` is the prompt, ``target`` the answer, both with
    named placeholders such as ``{history}`` or ``{target}``."""

    id: str
    family: str
    language: str
    source: str
    target: str
    unseen: bool = False

    @property
    def placeholders(self) -> set[str]:
        fields = set()
        for text in (self.source, self.target):
            fields |= {name for _, name, _, _ in string.Formatter().parse(text) if name}
        return fields

    def render(self, values: Mapping[str, str]) -> tuple[str, str]:
        """Fill both sides; a placeholder without a value is a clear error."""
        missing = self.placeholders - set(values)
        if missing:
            raise KeyError(f"template {self.id!r} needs values for {sorted(missing)}")
        return self.source.format_map(values), self.target.format_map(values)


class TemplateSet:
    """All templates, grouped by family; the unit saved with a model."""

    def __init__(self, templates: Iterable[Template]):
        self.templates = list(templates)
        ids = [t.id for t in self.templates]
        if len(ids) != len(set(ids)):
            raise ValueError("template ids must be unique")

    def select(
        self, family: str, language: str | None = "en", unseen: bool | None = False
    ) -> list[Template]:
        """Templates of a family, filtered by language and by the seen/unseen flag
        (``None`` means either)."""
        chosen = [
            t
            for t in self.templates
            if t.family == family
            and (language is None or t.language == language)
            and (unseen is None or t.unseen == unseen)
        ]
        if not chosen:
            raise LookupError(
                f"no {'unseen' if unseen else 'seen'} template for family {family!r} "
                f"in language {language!r}"
            )
        return chosen

    def get(self, template_id: str) -> Template:
        for t in self.templates:
            if t.id == template_id:
                return t
        raise KeyError(f"unknown template {template_id!r}")

    @property
    def families(self) -> list[str]:
        return list(dict.fromkeys(t.family for t in self.templates))

    @property
    def languages(self) -> list[str]:
        return list(dict.fromkeys(t.language for t in self.templates))

    def to_json(self) -> str:
        grouped: dict[str, list[dict]] = {}
        for t in self.templates:
            row = asdict(t)
            grouped.setdefault(row.pop("family"), []).append(row)
        return json.dumps(grouped, ensure_ascii=False, indent=1)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json(), encoding="utf-8")

    @classmethod
    def from_json(cls, text: str) -> TemplateSet:
        grouped = json.loads(text)
        return cls(
            Template(family=family, **row) for family, rows in grouped.items() for row in rows
        )


def load_templates(path: str | Path | None = None) -> TemplateSet:
    """The built-in templates, or those of a JSON file in the same format."""
    if path is None:
        text = resources.files("lmrec.prompts").joinpath(_BUILTIN).read_text(encoding="utf-8")
    else:
        text = Path(path).read_text(encoding="utf-8")
    return TemplateSet.from_json(text)

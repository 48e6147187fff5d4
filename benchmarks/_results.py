"""The one way a benchmark writes its results: ``<stem>.json`` and ``<stem>.md`` side by side,
and the markdown echoed to the terminal."""

from __future__ import annotations

import json
from pathlib import Path


def write_results(folder: Path, stem: str, result: dict, markdown: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=1, ensure_ascii=False) + "\n"
    (folder / f"{stem}.json").write_text(text, encoding="utf-8")
    (folder / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)

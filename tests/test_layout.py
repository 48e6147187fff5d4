"""The package's shape: what another module needs is public, and imports run one way
(cli/serve -> evaluation -> recommenders/baselines -> training -> decoding -> backbone ->
tasks/indexing -> data/prompts/text/metrics)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "lmrec"

# Lower layers never import higher ones; packages in one layer may import each other.
LAYERS = [
    {"config"},
    {"data", "text", "metrics", "prompts"},
    {"tasks", "indexing"},
    {"backbone"},
    {"decoding"},
    {"training"},
    {"recommenders", "baselines"},
    {"evaluation"},
    {"serve"},
    {"cli"},
]
LAYER_OF = {package: rank for rank, layer in enumerate(LAYERS) for package in layer}


def _imports(path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, module, imported names) of every ``from`` import of lmrec in one file, those
    inside functions and multi-line ones included; relative imports resolved."""
    package = path.relative_to(SRC.parent).with_suffix("").parts[:-1]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, module] if module else base)
            if module.split(".")[0] == "lmrec":
                found.append((node.lineno, module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lmrec":
                    found.append((node.lineno, alias.name, []))
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_the_walk_sees_multi_line_and_nested_imports(tmp_path):
    """The checker itself: a private name in a multi-line import inside a function is found."""
    fake = SRC / "data" / "fake_for_layout_test.py"
    text = (
        "def f():\n    from lmrec.tasks.base import (\n        Example,\n        _hidden,\n    )\n"
    )
    fake.write_text(text, encoding="utf-8")
    try:
        assert _imports(fake) == [(2, "lmrec.tasks.base", ["Example", "_hidden"])]
    finally:
        fake.unlink()


def test_no_private_name_crosses_a_module_boundary():
    offenders = [
        f"{path.relative_to(SRC)}:{line}: from {module} import {name}"
        for path in _sources()
        for line, module, names in _imports(path)
        for name in names + module.split(".")
        if name.startswith("_") and name not in {"__version__"}
    ]
    assert offenders == []


def test_imports_run_one_way():
    offenders = []
    for path in _sources():
        parts = path.relative_to(SRC).parts
        if len(parts) < 2:
            continue
        here = LAYER_OF[parts[0]]
        for line, module, _ in _imports(path):
            target = module.split(".")
            if len(target) > 1 and target[1] in LAYER_OF and LAYER_OF[target[1]] > here:
                offenders.append(f"{path.relative_to(SRC)}:{line}: imports {module}")
    assert offenders == []


def test_every_package_has_a_layer_and_the_top_level_is_thin():
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages == set(LAYER_OF)
    assert sorted(p.name for p in SRC.glob("*.py")) == ["__init__.py", "__main__.py"]


def test_no_source_file_is_over_400_lines():
    long = {
        str(p.relative_to(SRC)): n
        for p in _sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}

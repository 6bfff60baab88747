"""The layers of ARCHITECTURE.md hold: each module imports only from its own stage or from the
stages below it. Imports are read from the source (module level and inside functions)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "wpeval"

# stage -> rank; a module may import its own stage or a lower one
RANK = {
    "exceptions": 0,
    "results": 0,
    "config": 0,
    "_checks": 0,
    "_prepare": 3,
    "__init__": 6,
    "__main__": 6,
    "data": 1,
    "payments": 2,
    "estimators": 3,
    "inference": 3,
    "statxplore": 3,
    "value": 3,
    "plots": 4,
    "publish": 5,
    "cli": 5,
}


def stage_of(module: str) -> str:
    """``wpeval.data.schema`` -> ``data``; ``wpeval.results`` -> ``results``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    rel = path.relative_to(root.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> list[tuple[int, str]]:
    """Every ``wpeval`` module imported by the file, with the line, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("wpeval")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target == "wpeval":  # from wpeval import x: x is the module
                found += [
                    (node.lineno, f"wpeval.{a.name}") for a in node.names if a.name != "__version__"
                ]  # the version is no layer
            elif target.startswith("wpeval"):
                found.append((node.lineno, target))
    return found


def violations(root: Path = PACKAGE) -> list[str]:
    out = []
    for path in sorted(root.rglob("*.py")):
        src = stage_of(module_name(path, root))
        for line, target in imported_modules(path, root):
            dst = stage_of(target)
            if dst not in RANK:  # a public name re-exported by wpeval/__init__.py
                dst = "__init__"
            if RANK[dst] > RANK[src]:
                out.append(
                    f"{path.relative_to(root.parent)}:{line} ({src}) imports {target} ({dst})"
                )
    return out


def test_every_stage_is_ranked():
    stages = {
        p.stem if p.is_file() else p.name
        for p in PACKAGE.iterdir()
        if (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    }
    assert stages <= set(RANK), f"stages without a layer: {sorted(stages - set(RANK))}"


def test_layers_hold():
    assert violations() == []


@pytest.mark.parametrize(
    "src,target,bad",
    [
        ("data/schema.py", "from wpeval.publish import tables", True),
        ("data/schema.py", "from ..publish.report import Report", True),
        ("estimators/x.py", "from wpeval.plots import survival", True),
        ("publish/x.py", "from wpeval.estimators import ranking", False),
        ("data/x.py", "from . import io", False),
    ],
)
def test_a_forbidden_import_is_caught(tmp_path, src, target, bad):
    pkg = tmp_path / "wpeval"
    path = pkg / src
    path.parent.mkdir(parents=True)
    path.write_text(f"def f():\n    {target}\n")
    assert bool(violations(pkg)) is bad

"""Every runtime dependency pyproject.toml declares is imported by followupd's code (read with ``ast``).

A declared dependency nothing imports costs every install and every security review for nothing (mail-parser
was one: bench/bodies.py measured it against the stdlib body reader, and it was dropped).
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Distribution name -> the top-level module it installs, where the two differ.
IMPORT_NAMES = {"psycopg[binary]": "psycopg", "mail-parser": "mailparser"}


def _imported_top_levels() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "followupd").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found


def _unused(specs: list[str]) -> list[str]:
    imported = {name.lower() for name in _imported_top_levels()}
    names = [re.split(r"[<>=!~;\s]", spec, maxsplit=1)[0] for spec in specs]
    modules = [IMPORT_NAMES.get(name, name).lower().replace("-", "_") for name in names]
    return [module for module in modules if module not in imported]


def test_every_runtime_dependency_is_imported_somewhere() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    unused = _unused(project["dependencies"])
    assert unused == [], f"declared in pyproject.toml but imported by no module of followupd: {unused}"


def test_the_check_sees_a_dependency_nobody_imports() -> None:
    assert _unused(["imapclient>=3.0,<5", "mail-parser>=3.15,<5"]) == ["mailparser"]

"""compose/ is pure: it reads the source (AST), so an import anywhere in a module counts, even one that a
test run never executes (inside a function, under TYPE_CHECKING).

Allowed: the standard library, Jinja (templates) and Babel (dates in the template's language), the other compose
modules, followupd.errors, and the pure mail/ and planning/ layers. Not the config module, not an adapter, not
the engine: compose takes plain settings and returns plain values. And one job per module, none over 500 lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

COMPOSE = Path(__file__).resolve().parent.parent / "followupd" / "compose"
THIRD_PARTY = frozenset({"jinja2", "babel"})
OWN = ("followupd.compose", "followupd.errors", "followupd.mail", "followupd.planning")
MAX_LINES = 500


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module an ``import`` or ``from ... import`` in the file names, with its line."""
    found: list[tuple[int, str]] = []
    package = "followupd.compose"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: "from . import x" stays inside compose, "from .. import x" leaves it
                base = package if node.level == 1 else ".".join(package.split(".")[:-(node.level - 1)])
                found.append((node.lineno, f"{base}.{node.module}" if node.module else base))
            else:
                assert node.module is not None
                found.append((node.lineno, node.module))
    return found


def allowed(module: str) -> bool:
    top = module.split(".")[0]
    if top in sys.stdlib_module_names or top in THIRD_PARTY:
        return True
    return any(module == own or module.startswith(own + ".") for own in OWN)


def modules() -> list[Path]:
    return sorted(COMPOSE.glob("*.py"))


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.name)
def test_compose_imports_only_the_standard_library_jinja_babel_and_the_pure_core(path: Path) -> None:
    bad = [f"{path.name}:{line} imports {module}" for line, module in imported_modules(path) if not allowed(module)]
    assert bad == []


@pytest.mark.parametrize("path", modules(), ids=lambda path: path.name)
def test_no_compose_module_is_over_the_size_of_one_job(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES


def test_the_package_itself_loads_nothing() -> None:
    """``import followupd.compose.tone`` must not pull in Jinja (the CLI's ``status`` imports tone via config)."""
    tree = ast.parse((COMPOSE / "__init__.py").read_text(encoding="utf-8"))
    assert all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in tree.body)


def test_the_rule_sees_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from followupd.config import Config\n"
                      "def f() -> None:\n    import sqlalchemy\n")
    assert sorted(module for _, module in imported_modules(sample) if not allowed(module)) == [
        "followupd.config", "sqlalchemy"]

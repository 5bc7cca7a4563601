"""Queries live in the store (issue 12 point 3): only the store package and the engine speak SQLAlchemy, and only
the store's migrations speak Alembic.

Read from the source with ``ast`` (every import statement, inside functions and ``TYPE_CHECKING`` blocks too),
not from ``sys.modules``: a module that imports SQLAlchemy late, or only for a type, still crosses the line. The
command line and the runtime ask ``followupd.adapters.store.reports`` (or the store's other functions) instead,
and name the session type through it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "followupd"

#: Library -> the folders (relative to followupd/) whose modules may import it.
ALLOWED = {
    "sqlalchemy": ("adapters/store", "engine"),
    "alembic": ("adapters/store/migrations",),
}


def imported_libraries(source: str, filename: str) -> list[tuple[str, int]]:
    """(top-level package, line) of every absolute import in ``source``."""
    found: list[tuple[str, int]] = []
    for node in ast.walk(ast.parse(source, filename=filename)):
        if isinstance(node, ast.Import):
            found += [(alias.name.partition(".")[0], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module.partition(".")[0], node.lineno))
    return found


def crossings(package: Path = PACKAGE) -> list[str]:
    """"file:line imports LIB" for every import of a guarded library outside the folders allowed to use it."""
    problems: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package).as_posix()
        for library, line in imported_libraries(path.read_text(encoding="utf-8"), str(path)):
            homes = ALLOWED.get(library)
            if homes is not None and not any(relative.startswith(home + "/") for home in homes):
                problems.append(f"followupd/{relative}:{line} imports {library} (allowed only in "
                                f"{', '.join('followupd/' + home + '/' for home in homes)})")
    return problems


def test_only_the_store_and_the_engine_import_sqlalchemy_and_only_migrations_alembic() -> None:
    problems = crossings()
    assert problems == [], "ask the store (followupd.adapters.store.reports) instead:\n" + "\n".join(problems)


def test_the_rule_sees_late_and_type_only_imports(tmp_path: Path) -> None:
    """The check itself: an import inside a function or a TYPE_CHECKING block is still found, with its line."""
    (tmp_path / "cli").mkdir()
    (tmp_path / "engine").mkdir()
    (tmp_path / "cli" / "late.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from sqlalchemy.orm import Session\n"
        "def f():\n    import alembic.command\n")
    (tmp_path / "engine" / "ok.py").write_text("from sqlalchemy import select\nimport alembic\n")
    assert crossings(tmp_path) == [
        "followupd/cli/late.py:3 imports sqlalchemy (allowed only in followupd/adapters/store/, followupd/engine/)",
        "followupd/cli/late.py:5 imports alembic (allowed only in followupd/adapters/store/migrations/)",
        "followupd/engine/ok.py:2 imports alembic (allowed only in followupd/adapters/store/migrations/)",
    ]

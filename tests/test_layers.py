"""The layers DESIGN.md draws, held by reading the source: one import rule per package.

Each test parses every ``.py`` file of one package with ``ast`` and checks every import in it, including those
inside functions and under ``if TYPE_CHECKING``: a late import is still a dependency, it only moves the cost.
Reading the source, not ``sys.modules``, means an import the test process happens to have loaded already, or
one only a rarely-run function makes, cannot slip through. A failure lists ``file:line: import`` for each
offending import.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "followupd"
CORE = ("followupd.mail", "followupd.planning", "followupd.compose")
STDLIB = frozenset(sys.stdlib_module_names)


def imports_of(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file; ``from followupd import x`` gives followupd.x.

    ``root`` is the folder holding the ``followupd`` package, to resolve relative imports."""
    package = list(path.relative_to(root).parts[:-1])   # the same for a module and for an __init__.py
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package[: len(package) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            if base in ("followupd", *CORE, "followupd.adapters", "followupd.config", "followupd.engine",
                        "followupd.runtime", "followupd.cli"):
                for alias in node.names:
                    yield node.lineno, f"{base}.{alias.name}"
            else:
                yield node.lineno, base


def _is_under(module: str, *packages: str) -> bool:
    return any(module == package or module.startswith(package + ".") for package in packages)


def _stdlib(module: str) -> bool:
    return module.split(".", 1)[0] in STDLIB


def assert_none(found: list[str]) -> None:
    assert not found, "imports that break the layer rule:\n" + "\n".join(found)


def violations(package: str, allowed: Callable[[str], bool], *, root: Path = PACKAGE.parent) -> list[str]:
    """``file:line: imports MODULE`` for every import in the package that ``allowed`` refuses."""
    found: list[str] = []
    for path in sorted((root / package.replace(".", "/")).rglob("*.py")):
        for line, module in imports_of(path, root):
            if not allowed(module):
                found.append(f"{path.relative_to(root)}:{line}: imports {module}")
    return found


# Libraries the core may use beyond the standard library. Each is pure computation over data it ships with:
# no network, no files outside its own package, no clock or process state, so code using them stays testable
# with plain values in and out. jinja2 renders templates; babel is the CLDR locale data (dates, lists, month
# names); holidays is the public-holiday tables.
CORE_LIBRARIES = {
    "followupd.mail": frozenset(),
    "followupd.planning": frozenset({"holidays"}),
    "followupd.compose": frozenset({"jinja2", "babel"}),
}


@pytest.mark.parametrize("package", CORE)
def test_core_imports_only_the_standard_library_the_core_and_errors(package: str) -> None:
    def allowed(module: str) -> bool:
        return (_stdlib(module) or _is_under(module, *CORE, "followupd.errors")
                or module.split(".", 1)[0] in CORE_LIBRARIES[package])

    assert_none(violations(package, allowed))


def test_config_imports_the_core_errors_and_credentials_only() -> None:
    # credentials: the secret-source names and OAuth mechanisms the schema checks, the CA-file check, and
    # resolve_password, re-exported for callers; loading a config still runs no command (it is called at login).
    def allowed(module: str) -> bool:
        return _stdlib(module) or _is_under(module, *CORE, "followupd.config", "followupd.errors",
                                            "followupd.adapters.credentials")

    assert_none(violations("followupd.config", allowed))


def test_adapters_never_import_the_engine_runtime_or_cli() -> None:
    def allowed(module: str) -> bool:
        if not _is_under(module, "followupd"):
            return True   # the standard library and the adapters' own libraries
        return _is_under(module, *CORE, "followupd.adapters", "followupd.config", "followupd.errors")

    assert_none(violations("followupd.adapters", allowed))


def test_engine_never_imports_the_runtime_or_cli() -> None:
    assert_none(violations("followupd.engine", lambda m: not _is_under(m, "followupd.runtime", "followupd.cli")))


def test_runtime_never_imports_the_cli() -> None:
    assert_none(violations("followupd.runtime", lambda m: not _is_under(m, "followupd.cli")))


def test_the_rules_see_function_level_and_relative_imports(tmp_path: Path) -> None:
    """The checker itself: a late import inside a function and a relative import are both found."""
    folder = tmp_path / "followupd" / "mail"
    folder.mkdir(parents=True)
    (folder / "probe.py").write_text("import re\n\n\ndef f():\n    import sqlalchemy\n    from ..engine import cycle\n",
                                     encoding="utf-8")
    found = violations("followupd.mail", lambda m: not _is_under(m, "sqlalchemy", "followupd.engine"),
                       root=tmp_path)
    assert found == ["followupd/mail/probe.py:5: imports sqlalchemy",
                     "followupd/mail/probe.py:6: imports followupd.engine.cycle"]


#: One job per module: past this a module has grown a second job worth its own name (issue 12).
MAX_MODULE_LINES = 500


def test_no_module_is_over_the_size_of_one_job() -> None:
    long = [f"{path.relative_to(PACKAGE.parent)}: {count} lines"
            for path in sorted(PACKAGE.rglob("*.py"))
            if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, f"split these by job (at most {MAX_MODULE_LINES} lines each):\n" + "\n".join(long)

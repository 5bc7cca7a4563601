"""Architecture rules DESIGN.md promises, held by reading the source with ``ast``.

The import rule of each package (the pure core, config, adapters, engine, runtime) is in tests/test_layers.py.
"""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

from followupd import errors
from followupd.errors import EXIT_CODES, exit_code_for

PACKAGE = Path(__file__).resolve().parent.parent / "followupd"
ERRORS = PACKAGE / "errors.py"


def _classes(path: Path) -> list[ast.ClassDef]:
    return [node for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))) if isinstance(node, ast.ClassDef)]


def _base_name(base: ast.expr) -> str:
    return base.attr if isinstance(base, ast.Attribute) else base.id if isinstance(base, ast.Name) else ""


def _is_exception_base(name: str, ours: set[str]) -> bool:
    builtin = getattr(builtins, name, None)
    return (name in ours or name.endswith(("Error", "Exception"))
            or (isinstance(builtin, type) and issubclass(builtin, BaseException)))


ERROR_CLASSES = sorted(node.name for node in _classes(ERRORS))


def test_every_exception_class_is_defined_in_errors_py() -> None:
    """One tree in one module: an exception class anywhere else is a branch the drawing and the exit codes miss."""
    ours = set(ERROR_CLASSES)
    elsewhere = [
        f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: class {node.name}"
        for path in sorted(PACKAGE.rglob("*.py")) if path != ERRORS
        for node in _classes(path)
        if any(_is_exception_base(_base_name(base), ours) for base in node.bases)
    ]
    assert not elsewhere, "exception classes outside followupd/errors.py:\n" + "\n".join(elsewhere)


@pytest.mark.parametrize("name", ERROR_CLASSES)
def test_each_error_has_an_exit_code_and_a_place_in_the_drawing(name: str) -> None:
    cls = getattr(errors, name)
    assert issubclass(cls, BaseException)
    assert any(ancestor in EXIT_CODES for ancestor in cls.__mro__), f"{name} has no entry in EXIT_CODES"
    assert exit_code_for(cls) in (2, 3, 4)
    assert f" {name} " in (errors.__doc__ or ""), f"{name} is missing from the tree in errors.py's docstring"


def test_exit_codes_config_2_operation_3_bug_4() -> None:
    assert exit_code_for(errors.SecretError("x")) == 2
    assert exit_code_for(errors.TemplateError("x")) == 2
    assert exit_code_for(errors.AuthenticationError("x")) == 3
    assert exit_code_for(errors.SmtpRejected("x", code=550)) == 3
    assert exit_code_for(errors.LeaseHeldError("x")) == 3
    assert exit_code_for(errors.RequestRefused("x")) == 4
    assert exit_code_for(KeyError("x")) == 4

"""Installing followupd prints no setuptools warnings and ships every built-in template.

Why a real build: the warnings ("Package 'followupd.templates.first' is absent from the `packages`
configuration", once per template folder) come from setuptools reading pyproject.toml, so only a build shows
whether the package-data declaration is right. The build runs without build isolation and without an index
(the test extra brings setuptools), so nothing is downloaded and nothing leaves the machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _build_wheel(tmp_path: Path) -> tuple[str, Path]:
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("followupd", "templates"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    out = tmp_path / "wheel"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "-w", str(out), str(source)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    wheels = list(out.glob("followupd-*.whl"))
    assert len(wheels) == 1, output
    return output, wheels[0]


def test_the_wheel_builds_without_warnings_and_ships_every_template(tmp_path: Path) -> None:
    output, wheel = _build_wheel(tmp_path)
    assert "absent from the `packages` configuration" not in output
    assert "Warning" not in output, output

    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    templates = ROOT / "templates"
    expected = {f"followupd/templates/{path.relative_to(templates).as_posix()}"
                for path in templates.rglob("*") if path.is_file() and path.suffix in {".txt", ".md"}}
    assert expected, "no built-in templates found in the checkout"
    assert expected <= shipped, sorted(expected - shipped)
    assert "followupd/adapters/store/migrations/script.py.mako" in shipped  # `db upgrade` renders new revisions from it
    package = ROOT / "followupd"
    modules = {f"followupd/{path.relative_to(package).as_posix()}" for path in package.rglob("*.py")}
    assert modules <= shipped, sorted(modules - shipped)  # a layer folder left out of [tool.setuptools] packages

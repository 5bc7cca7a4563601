"""``--file-progress`` (scripts/test): one line per finished test file, with and without pytest-xdist, no dots."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = """
import pytest

def test_ok():
    pass

def test_also_ok():
    pass

def test_broken():
    assert 1 == 2

@pytest.mark.skip(reason="not today")
def test_skipped():
    pass
"""


@pytest.mark.parametrize("workers", [[], ["-n", "2", "--dist", "loadfile"]], ids=["serial", "xdist"])
def test_one_line_per_finished_file(tmp_path: Path, workers: list[str]) -> None:
    for name in ("test_first.py", "test_second.py"):
        (tmp_path / name).write_text(SAMPLE)
    # tests/test_architecture.py makes pytest load tests/conftest.py, where --file-progress lives.
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c",
         str(ROOT / "pyproject.toml"), "--file-progress", *workers, str(tmp_path), str(ROOT / "tests" /
                                                                                       "test_architecture.py")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    out = result.stdout
    assert result.returncode == 1, out  # the two broken tests
    lines = re.findall(r"^\[ ?(\d)/3 files +(\d+) %\]  (\S+): (.*) \(\dm\d\ds\)$", out, re.MULTILINE)
    assert [(n, pct) for n, pct, _path, _summary in lines] == [("1", "33"), ("2", "66"), ("3", "100")], out
    summaries = {Path(path).name: summary for _n, _pct, path, summary in lines}
    architecture = summaries.pop("test_architecture.py")
    assert summaries == {"test_first.py": "2 passed, 1 failed, 1 skipped",
                         "test_second.py": "2 passed, 1 failed, 1 skipped"}, out
    passed = re.fullmatch(r"(\d+) passed", architecture)  # however many rules that file holds, all pass
    assert passed, out
    assert "..." not in out and "%]\n" not in out  # no dots, no pytest percentages
    # pytest's own summary still counts all
    assert re.search(rf"2 failed, {4 + int(passed.group(1))} passed, 2 skipped", out), out

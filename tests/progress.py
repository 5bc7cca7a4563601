"""``pytest --file-progress``: one line per test file as it finishes, instead of a dot per test.

Why: the whole suite runs for minutes, and with pytest-xdist pytest's own output is a bare row of dots with no
file names; a newcomer cannot tell a slow file from a hung one. Each line says how far the run is, which file
finished, its outcome and the time since the start::

    [ 12/48 files  31 %]  tests/test_sending.py: 21 passed (2m05s)

Failures still print in full at the end, and the summary line is pytest's own. Works with and without xdist:
the file sizes come from the collection (the controller's, or the first xdist worker's), the outcomes from the
reports every worker sends to the controller, where this plugin runs.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

import pytest

#: Outcome words in the order they are listed on a line.
ORDER = ("passed", "failed", "error", "skipped", "xfailed", "xpassed")


def _file_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


class FileProgress:
    """Counts finished tests per file and prints a line when the last one of a file is done."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.started = time.monotonic()
        self.expected: dict[str, int] | None = None
        self.done: defaultdict[str, set[str]] = defaultdict(set)
        self.outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self.finished = 0

    # -- sizes ---------------------------------------------------------------------------------------------------

    def _set_sizes(self, nodeids: Sequence[str]) -> None:
        if self.expected is None:
            self.expected = dict(Counter(_file_of(n) for n in nodeids))

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if session.items:  # without xdist; the xdist controller collects nothing itself
            self._set_sizes([item.nodeid for item in session.items])

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        self._set_sizes(ids)

    # -- quiet per test, loud per file -------------------------------------------------------------------------

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is not None:
            reporter.showfspath = False  # the "tests/test_x.py ...." prefix: this plugin prints the file instead
            if self.config.option.verbose <= 0 and hasattr(reporter, "_show_progress_info"):
                reporter._show_progress_info = False  # "[ 66%]" after a row of letters: the lines say it

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report: pytest.TestReport) -> tuple[str, str, str] | None:
        """No dot for a passing test (the counts still reach pytest's summary); other outcomes keep their
        letter, so a failure shows the moment it happens. With ``-v`` every test keeps its line."""
        if (report.when == "call" and report.passed and not hasattr(report, "wasxfail")
                and self.config.option.verbose <= 0):  # -v still lists every test
            return "passed", "", ""
        return None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        outcome = self._outcome(report)
        if outcome:
            self.outcomes[_file_of(report.nodeid)][outcome] += 1
        if report.when != "teardown":
            return
        path = _file_of(report.nodeid)
        self.done[path].add(report.nodeid)
        if self.expected is not None and len(self.done[path]) == self.expected.get(path, 0):
            self._print_file(path)

    @staticmethod
    def _outcome(report: pytest.TestReport) -> str:
        if hasattr(report, "wasxfail"):
            return ("xfailed" if report.skipped else "xpassed") if report.when == "call" else ""
        if report.when == "call":
            return report.outcome
        if report.failed:
            return "error"
        if report.skipped and report.when == "setup":
            return "skipped"
        return ""

    def _print_file(self, path: str) -> None:
        reporter = self.config.pluginmanager.getplugin("terminalreporter")
        if reporter is None or self.expected is None:
            return
        self.finished += 1
        total = len(self.expected)
        counts = self.outcomes[path]
        summary = ", ".join(f"{counts[word]} {word}" for word in ORDER if counts[word]) or "no tests"
        minutes, seconds = divmod(int(time.monotonic() - self.started), 60)
        width = len(str(total))
        if reporter._tw.width_of_current_line:  # after an "F" or "s" letter: start a line of our own
            reporter.write_line("")
        reporter.write_line(f"[{self.finished:>{width}}/{total} files {100 * self.finished // total:>3} %]  "
                            f"{path}: {summary} ({minutes}m{seconds:02d}s)",
                            red=bool(counts["failed"] or counts["error"]))

"""Shared fixtures: one real Dovecot per test session, a fresh mailbox user per test.

Why session-scoped: Dovecot starts in ~40 ms but users are even cheaper (one small file), so the whole session
shares a server and isolation comes from users, not servers. Under pytest-xdist (``./scripts/test``) every
worker is a session of its own, so each worker starts its own Dovecot (and PostgreSQL) on its own free ports and
temporary directory: nothing is shared between workers, and no test depends on which worker runs it.

Why fail under CI instead of skipping: a CI image that lost its Dovecot package would otherwise turn every IMAP
test into a silent skip and a green build.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# tests/ is not a package; make its helper modules importable as plain modules from any rootdir.
sys.path.insert(0, str(Path(__file__).parent))

from dovecot import DovecotServer, MailUser
from mailfactory import make_message as _make_message


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """The session's Dovecot (IMAP + LMTP on loopback); skipped without dovecot, except under CI: fails."""
    if not DovecotServer.available():
        reason = "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the IMAP tests, not skip them", pytrace=False)
        pytest.skip(reason)
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """The session's PostgreSQL (tests/postgres.py PostgresServer); ``postgres.create_database()`` gives a test
    its own database URL. Skipped without the server binaries, except under CI: fails (as for Dovecot)."""
    from postgres import PostgresServer

    if not PostgresServer.available():
        reason = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests, not skip them", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> MailUser:
    """A brand-new user with empty INBOX, Drafts, Sent, Archive, Trash and Junk."""
    return dovecot.add_user()


@pytest.fixture
def make_message() -> Callable[..., bytes]:
    """``make_message(subject=..., body=...) -> bytes``; see tests/mailfactory.py for the keyword rules."""
    return _make_message


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A command run in-process (click's CliRunner) sets up followupd's logging on the root logger: its stderr
    handler and the filter that shortens logger names on every record. Left in place, they leak into later tests
    of the same worker (a test that selects records by their module's logger name then finds none), so each
    test gets back the root logger it started with."""
    import logging

    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--file-progress", action="store_true",
                     help="print one line per test file as it finishes (with xdist too) instead of a dot per test")


def pytest_configure(config: pytest.Config) -> None:
    """``--file-progress`` (scripts/test uses it): see tests/progress.py. Only where results are reported: the
    xdist controller, or a run without xdist; never inside a worker."""
    if config.getoption("file_progress") and not hasattr(config, "workerinput"):
        from progress import FileProgress

        config.pluginmanager.register(FileProgress(config), "file-progress")
    _share_template_check_cache()


def _share_template_check_cache() -> None:
    """One template check cache for the whole run (followupd.compose.checked), in a folder of its own.

    Every ``followupd`` process a test starts would otherwise check the whole template library again (about
    1.6 s of a 2-core machine per process). The cache is keyed by the template text and the checking code, and
    never holds a failure, so sharing it across tests changes no outcome. Set here, in the controller, before
    xdist starts its workers: they inherit it. A run that sets ``FOLLOWUPD_CACHE_DIR`` itself keeps its own."""
    if os.environ.get("FOLLOWUPD_CACHE_DIR"):
        return
    import atexit
    import shutil
    import tempfile

    folder = tempfile.mkdtemp(prefix="followupd-test-cache-")
    os.environ["FOLLOWUPD_CACHE_DIR"] = folder
    atexit.register(shutil.rmtree, folder, ignore_errors=True)


#: The fault suite's figures from every xdist worker (see tests/faults/conftest.py), added up in the controller.
_WORKER_FIGURES: list[dict[str, Any]] = []


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    figures = getattr(node, "workeroutput", {}).get("fault_suite_figures")
    if figures:
        _WORKER_FIGURES.append(figures)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The fault suite's figures of a parallel run, in the same shape as a serial run prints them."""
    if not _WORKER_FIGURES:
        return
    totals: dict[str, Counter[str]] = {"kills": Counter(), "faults": Counter(), "inputs": Counter()}
    terminalreporter.section("fault suite figures")
    for figures in _WORKER_FIGURES:
        for line in figures["lines"]:
            terminalreporter.write_line(line)
        for kind, total in totals.items():
            total.update(figures[kind])
    for kind, total in totals.items():
        terminalreporter.write_line(f"{kind} by kind: {dict(sorted(total.items()))}")
    terminalreporter.write_line(
        f"fault suite (seed {_WORKER_FIGURES[0]['seed']}): {sum(totals['kills'].values())} kills survived, "
        f"{sum(totals['faults'].values())} faults injected, {sum(totals['inputs'].values())} hostile inputs tried")

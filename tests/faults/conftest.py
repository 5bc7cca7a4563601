"""Fixtures of the fault suite: the seed, the figures it reports, an SMTP sink, and a Dovecot of its own.

Why a seed: kill points and delays are random on purpose (nobody guesses every bad moment), but a failure must
be replayable, so every random choice comes from ``random.Random(f"{seed}:{test}")``. The default seed is
fixed, so CI runs the same schedule each time; ``FOLLOWUPD_FAULT_SEED=<n>`` explores another one. Process timing
still varies a little from run to run, which is the point of killing real processes.

Why a Dovecot of its own: the restart tests kill the server; the session one is shared by every other test.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from dovecot import DovecotServer
from smtpsink import SmtpSink

from .servers import RestartableDovecot

DEFAULT_SEED = 20261104


@dataclass
class Figures:
    """What the suite did, for the summary line and the README."""

    seed: int
    kills: Counter[str] = field(default_factory=Counter)   # SIGKILLed processes by kind, each restarted after
    faults: Counter[str] = field(default_factory=Counter)  # network faults and server restarts by kind
    inputs: Counter[str] = field(default_factory=Counter)  # hostile inputs by where they were run
    lines: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"fault suite (seed {self.seed}): {sum(self.kills.values())} kills survived, "
                f"{sum(self.faults.values())} faults injected, {sum(self.inputs.values())} hostile inputs tried")


_FIGURES: Figures | None = None


def _seed() -> int:
    text = os.environ.get("FOLLOWUPD_FAULT_SEED", "").strip()
    if not text:
        return DEFAULT_SEED
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"FOLLOWUPD_FAULT_SEED must be a whole number, not {text!r}") from None


@pytest.fixture(scope="session")
def figures() -> Figures:
    global _FIGURES
    if _FIGURES is None:
        _FIGURES = Figures(seed=_seed())
    return _FIGURES


@pytest.fixture
def fault_seed(figures: Figures, request: pytest.FixtureRequest) -> str:
    """This test's seed text: the suite's seed and the test's name, so tests do not share one schedule."""
    return f"{figures.seed}:{request.node.name}"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES is None:
        return
    terminalreporter.section("fault suite figures")
    for line in _FIGURES.lines:
        terminalreporter.write_line(line)
    terminalreporter.write_line(f"kills by kind: {dict(sorted(_FIGURES.kills.items()))}")
    terminalreporter.write_line(f"faults by kind: {dict(sorted(_FIGURES.faults.items()))}")
    terminalreporter.write_line(f"inputs by kind: {dict(sorted(_FIGURES.inputs.items()))}")
    terminalreporter.write_line(_FIGURES.summary())


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Under pytest-xdist the figures live in the worker that ran the tests, and a worker prints no summary: hand
    them to the controller (``workeroutput``), where tests/conftest.py adds up every worker's and prints them."""
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None and _FIGURES is not None:
        workeroutput["fault_suite_figures"] = {
            "seed": _FIGURES.seed, "kills": dict(_FIGURES.kills), "faults": dict(_FIGURES.faults),
            "inputs": dict(_FIGURES.inputs), "lines": list(_FIGURES.lines)}


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture(scope="module")
def own_dovecot() -> Iterator[RestartableDovecot]:
    """A Dovecot only this module uses, so it may be killed and restarted; fails under CI when missing."""
    if not DovecotServer.available():
        reason = "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the fault suite, not skip it", pytrace=False)
        pytest.skip(reason)
    server = RestartableDovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()

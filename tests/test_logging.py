"""Logging like a good Unix service: levels on stderr, journald priorities under systemd, secrets masked."""

from __future__ import annotations

import logging
import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, followupd_command

from followupd.adapters.redact import RedactingFilter, redact, register_secret

STAMPED = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (?:DEBUG|INFO|WARNING|ERROR) ")


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def _run_with_stderr_file(account: Account, path: Path, *args: str, journal: bool) -> int:
    with path.open("wb") as stderr:
        info = os.fstat(stderr.fileno())
        env = account.env()
        env.pop("JOURNAL_STREAM", None)
        if journal:
            env["JOURNAL_STREAM"] = f"{info.st_dev}:{info.st_ino}"  # what systemd sets for a journal stream
        return subprocess.run([*followupd_command(), "--config", str(account.config_path), *args], env=env,
                              stdout=subprocess.DEVNULL, stderr=stderr, timeout=60, check=False).returncode


def test_under_journald_every_line_carries_its_syslog_priority(account: Account, tmp_path: Path) -> None:
    log = tmp_path / "stderr"
    assert _run_with_stderr_file(account, log, "--log-level", "info", "poll", journal=True) == 0
    lines = log.read_text().splitlines()
    assert lines and all(line.startswith(("<6>", "<7>", "<4>", "<3>")) for line in lines), lines
    assert any(line.startswith("<6>followupd.") for line in lines)
    account.write_config(account.config_text.replace(f"port = {account.user.port}\n", "port = 1\n"))
    assert _run_with_stderr_file(account, log, "poll", journal=True) == 3
    assert log.read_text().startswith("followupd: error:")  # the CLI's own error line is for humans
    assert not any(STAMPED.match(line[3:]) for line in lines)  # the journal stamps lines itself
    # Outside the journal (a terminal, a file), the local time and the level are spelled out instead.
    account.write_config(account.config_text.replace("port = 1\n", f"port = {account.user.port}\n"))
    before = datetime.now().replace(microsecond=0)
    assert _run_with_stderr_file(account, log, "--log-level", "debug", "poll", journal=False) == 0
    after = datetime.now()
    lines = log.read_text().splitlines()
    stamped = [STAMPED.match(line) for line in lines]
    assert lines and all(m is not None or line.startswith(" ") for m, line in zip(stamped, lines, strict=True)), lines
    times = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S") for m in stamped if m is not None]
    assert times and all(before <= t <= after for t in times), (before, after, times[:3])


def test_log_lines_on_a_terminal_carry_the_time(account: Account) -> None:
    """A real pseudo-terminal, as when someone runs `followupd run` by hand: no journal, so a time stamp."""
    import pty

    env = account.env()
    env.pop("JOURNAL_STREAM", None)
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([*followupd_command(), "--config", str(account.config_path), "--log-level", "info",
                               "poll"], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=terminal, timeout=60, check=False)
        os.close(terminal)
        terminal = -1
        output = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other side is closed and everything was read
                break
            if not chunk:
                break
            output += chunk
    finally:
        os.close(controller)
        if terminal >= 0:
            os.close(terminal)
    assert proc.returncode == 0
    lines = output.decode().splitlines()
    assert any(STAMPED.match(line) and " INFO followupd." in line for line in lines), lines


def test_a_resolved_secret_is_masked_in_every_log_line_and_traceback() -> None:
    secret = "correct-horse-battery-staple-4711"
    register_secret(secret)
    record = logging.LogRecord("imapclient", logging.DEBUG, __file__, 1, "> b'AUTHENTICATE %s'", (secret,), None)
    assert RedactingFilter().filter(record)
    assert secret not in record.getMessage() and "***" in record.getMessage()
    import base64

    assert redact(base64.b64encode(secret.encode()).decode()) == "***"
    try:
        raise RuntimeError(f"server said: bad token {secret}")
    except RuntimeError:
        import sys

        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    RedactingFilter().filter(record)
    assert secret not in logging.Formatter().format(record)


def test_debug_log_of_a_whole_cycle_never_shows_the_password(account: Account) -> None:
    result = account.run("--log-level", "debug", "poll")
    assert "LOGIN" in result.stderr or "imapclient" in result.stderr  # the protocol log is really on
    assert account.user.password not in result.stderr and account.user.password not in result.stdout

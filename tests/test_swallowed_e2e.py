"""Rule 10 reaches the end-to-end tests: a command whose never-raise code swallowed a bug fails its test.

The readers' own tests check the in-process record (tests/swallowed.py); a followupd process started by a test
cannot be read that way, so the harness reads what the record logs ("internal error", once per reader) in the
command's stderr. These tests hold that check to its word on both sides.
"""

from __future__ import annotations

import logging
import subprocess

import pytest
from harness import refuse_swallowed_bugs

from followupd.mail import internal_errors


def _completed(stderr: str) -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(["followupd", "poll"], 0, stdout="", stderr=stderr)


def test_a_logged_internal_error_fails_the_command_even_with_exit_0(caplog: pytest.LogCaptureFixture) -> None:
    internal_errors.clear()
    with caplog.at_level(logging.ERROR):
        internal_errors.record("owed", ZeroDivisionError("boom"), logger=logging.getLogger("followupd.engine"),
                               doing="reading whether INBOX:7 is a reply you owe; skipped")
    internal_errors.clear()
    line = caplog.records[-1].getMessage()  # exactly what the command would have written to stderr
    with pytest.raises(AssertionError, match="swallowed a bug"):
        refuse_swallowed_bugs(_completed(f"2026-12-03 10:00:00 ERROR followupd.engine: {line}\n"), ["poll"])


def test_a_servers_own_internal_error_or_a_clean_run_passes() -> None:
    dovecot = "warning: IMAP said: NO [SERVERBUG] Internal error occurred. Refer to server log for more information."
    assert refuse_swallowed_bugs(_completed(dovecot), ["poll"]).returncode == 0
    assert refuse_swallowed_bugs(_completed(""), ["poll"]).returncode == 0

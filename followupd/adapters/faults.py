"""Crash points for the exactly-once tests: ``FOLLOWUPD_CRASH_AT=<name>`` kills the process right there.

A SIGKILL at a named step is the honest way to prove that a power cut between "recorded" and "confirmed" never
yields a duplicate draft: the test kills the real process, restarts it, and counts drafts on the real server.
Without the variable these are no-ops.
"""

from __future__ import annotations

import os
import signal

#: The named steps, in cycle order; tests iterate over them.
CRASH_POINTS = ("after_sync_commit", "before_append", "after_append", "before_reminder_append",
                "after_reminder_append", "after_delete", "before_smtp", "before_data", "after_smtp",
                "before_digest_append", "after_digest_append")


def crash_point(name: str) -> None:
    if os.environ.get("FOLLOWUPD_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)

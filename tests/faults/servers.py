"""A Dovecot that can be restarted with its mail intact, the way a real server restarts under a running client.

``DovecotServer.stop()`` throws the whole directory away (right for tests that want a clean slate); a restart
must keep the maildirs and ``dovecot-uidlist`` files, so UIDVALIDITY and UIDs survive it as they do on a real
server. SIGKILL of the process group is what a crash or an OOM kill looks like to connected clients: their
connections drop mid-command.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time

from dovecot import DovecotError, DovecotServer


class RestartableDovecot(DovecotServer):
    """:class:`DovecotServer` plus :meth:`restart` (same ports, same config, same mail)."""

    restarts = 0

    def crash(self) -> None:
        """Kill the server and keep its directory: every connection drops, nothing answers until relaunch()."""
        proc = self._proc
        if proc is None:
            raise DovecotError("the Dovecot test server is not running")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self._proc = None

    def relaunch(self) -> None:
        """Start the crashed server again on the same ports, with the same config and mail."""
        self._launch()
        self.restarts += 1

    def restart(self, *, down_for: float = 0.0) -> None:
        """Kill the server (every connection drops), optionally stay down a moment, start it again."""
        self.crash()
        if down_for:
            time.sleep(down_for)
        self.relaunch()

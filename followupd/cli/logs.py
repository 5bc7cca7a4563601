"""Where the command line's log lines go and how they look: stderr, or the journal's own format under systemd.

Why a module of its own: every command sets logging up the same way, before anything else runs, and the rules
(secret filter on every line, short logger names, quiet libraries) are easier to keep in one place than among
the commands.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import ClassVar

__all__ = ["LOG_DATE_FORMAT", "LOG_FORMAT", "LOG_LEVELS", "setup_logging"]

LOG_LEVELS = ("debug", "info", "warning", "error")
#: Log lines outside the journal: "2026-12-03 09:20:27 INFO followupd.daemon: ...", local time.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class _JournalFormatter(logging.Formatter):
    """``<N>`` syslog priority prefixes (sd-daemon(3)): journald stores the level, and adds the time itself."""

    PRIORITIES: ClassVar[dict[int, int]] = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4,
                                            logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{self.PRIORITIES.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


#: Modules whose log name is not their file name: the names log lines carried before the package had layers.
_LOG_NAMES = {"cycle": "engine", "root": "cli", "credentials": "secrets"}


class _ShortLoggerName(logging.Filter):
    """``followupd.adapters.imap`` logs as ``followupd.imap``: the layer folders are for contributors, and log
    lines (which users grep and quote in bug reports) keep the names they always had."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = record.name.split(".")
        if parts[0] == "followupd" and len(parts) >= 3:
            record.name = "followupd." + _LOG_NAMES.get(parts[-1], parts[-1])
        return True


def _stderr_is_journal() -> bool:
    """systemd sets $JOURNAL_STREAM to "device:inode" of the stream it connected to the journal."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        info = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return bool(expected) and expected == f"{info.st_dev}:{info.st_ino}"


def setup_logging(level: str) -> None:
    # stderr, one line per record, local time and level first: readable in a terminal or a log file; under
    # systemd, <N> priority prefixes instead and no time (the journal stamps every line itself), so journalctl
    # -p warning works. Every line passes the secret filter, at every level.
    from followupd.adapters.redact import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    if _stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt=LOG_DATE_FORMAT))
    handler.addFilter(RedactingFilter())
    handler.addFilter(_ShortLoggerName())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # imapclient logs the protocol at DEBUG (secrets are masked by the filter); keep it quiet unless asked.
    logging.getLogger("imapclient").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)

"""Where a never-raise reader of mail reports the bug it just swallowed.

The readers of hostile mail (headers, body text, delivery reports, out-of-office, reply intent, Exchange ids)
must never stop a cycle, so each ends in a last-resort ``except`` that returns a safe default. Without a trace,
that ``except`` would also hide their bugs from the property tests that feed them arbitrary input: a crash
would look like "nothing found". So the last resort goes through :func:`record`, which counts the failure
per reader (tests assert the count stays empty on hostile input) and logs it once per reader, with the
traceback, so a daemon that meets a bug on every message does not flood its log.

Only bugs come here: an exception a reader expects from the standard library on bad input (an unknown
charset, a malformed base64 word) is handled where it happens and is no internal error.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["INTERNAL_ERROR", "clear", "record", "recorded"]

#: The words every marker starts with; tests and log searches look for them.
INTERNAL_ERROR = "internal error"

_lock = threading.Lock()
_counts: dict[str, int] = {}


def record(reader: str, exc: BaseException, *, logger: logging.Logger, doing: str) -> str:
    """Count a bug caught in ``reader``, log it the first time for that reader, and return the marker.

    ``doing`` finishes the log line ("reading a delivery report; ..."); the marker returned is
    ``"internal error: <ExceptionType>"``, for readers whose result has room to carry it.
    """
    with _lock:
        first = reader not in _counts
        _counts[reader] = _counts.get(reader, 0) + 1
    if first:
        logger.error("%s %s", INTERNAL_ERROR, doing, exc_info=exc)
    return f"{INTERNAL_ERROR}: {type(exc).__name__}"


def recorded() -> dict[str, int]:
    """How many bugs each reader swallowed since the process started (or since :func:`clear`)."""
    with _lock:
        return dict(_counts)


def clear() -> None:
    """Forget what was recorded (tests start each check from nothing); the next bug is logged again."""
    with _lock:
        _counts.clear()

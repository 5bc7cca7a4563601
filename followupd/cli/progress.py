"""Progress of long work the user waits for: the first sync of a big folder, an upgrade of a big database.

Why: a first sync of 100,000 messages takes tens of seconds, and a command that sits silent that long looks
hung. On a terminal (stderr is a TTY) a bar per folder is redrawn in place: messages read of the total, the
rate and the time left. Anywhere else (the journal, a pipe, a cron mail) a redrawn line would be noise, so a
plain log line is written at every further tenth of the way. ``poll --quiet`` shows neither.

:func:`render_bar` and :func:`eta_text` are pure (numbers in, text out) so they are tested without a clock or a
terminal; :class:`ProgressReporter` holds the clock and the stream. Progress is decoration: a failure to draw
it (a closed stream, a broken terminal) is logged once, recorded as :attr:`ProgressReporter.internal_error`,
and never reaches the sync it describes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TextIO

__all__ = ["ProgressReporter", "eta_text", "render_bar"]

logger = logging.getLogger(__name__)

BAR_WIDTH = 24


def eta_text(seconds: float | None) -> str:
    """``0:42`` or ``1:02:03``; ``?`` before a rate is known."""
    if seconds is None or seconds != seconds or seconds < 0:  # None, NaN or nonsense
        return "?"
    whole = int(seconds + 0.5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rate_and_eta(done: int, total: int, elapsed: float) -> tuple[float | None, float | None]:
    if done <= 0 or elapsed <= 0:
        return None, None
    rate = done / elapsed
    return rate, max(total - done, 0) / rate


def render_bar(label: str, done: int, total: int, elapsed: float, *, what: str = "messages read") -> str:
    """One line: ``INBOX  [#########...............]  12,000/70,000 messages read  4,100/s  ETA 0:14``."""
    total = max(total, 0)
    done = min(max(done, 0), total) if total else max(done, 0)
    filled = BAR_WIDTH * done // total if total else BAR_WIDTH
    rate, eta = _rate_and_eta(done, total, elapsed)
    rate_text = f"{rate:,.0f}/s" if rate is not None else "-/s"
    tail = f"done in {eta_text(elapsed)}" if total and done >= total else f"ETA {eta_text(eta)}"
    return (f"{label}  [{'#' * filled}{'.' * (BAR_WIDTH - filled)}]  {done:,}/{total:,} {what}  {rate_text}  "
            f"{tail}")


class ProgressReporter:
    """A ``(label, done, total)`` callback: a bar on a terminal, a log line per tenth elsewhere, or nothing.

    One reporter serves one command; each new label (a folder) starts its own clock and tenths.
    """

    def __init__(self, stream: TextIO | None, *, tty: bool | None = None, quiet: bool = False,
                 what: str = "messages read", clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._tty = (stream is not None and stream.isatty()) if tty is None else tty
        self._quiet = quiet
        self._what = what
        self._clock = clock
        self._label: str | None = None
        self._started = 0.0
        self._tenths = -1
        self._width = 0
        #: Set when drawing failed once; tests assert it stays None.
        self.internal_error: str | None = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if self._quiet or self.internal_error is not None or total <= 0:
            return
        try:
            self._report(label, done, total)
        except Exception as exc:  # progress must never break the work it describes
            self.internal_error = f"internal error drawing progress: {type(exc).__name__}: {exc}"
            logger.warning("%s; progress is no longer shown", self.internal_error)

    def _report(self, label: str, done: int, total: int) -> None:
        now = self._clock()
        if label != self._label:
            self._label, self._started, self._tenths, self._width = label, now, -1, 0
        elapsed = now - self._started
        if self._tty and self._stream is not None:
            line = render_bar(label, done, total, elapsed, what=self._what)
            pad = " " * max(self._width - len(line), 0)  # rub out the rest of a longer previous line
            self._width = len(line)
            self._stream.write("\r" + line + pad + ("\n" if done >= total else ""))
            self._stream.flush()
            return
        tenths = min(10 * done // total, 10)
        if tenths <= self._tenths:
            return
        self._tenths = tenths
        rate, eta = _rate_and_eta(done, total, elapsed)
        if done >= total:
            logger.info("%s: %s of %s %s (100 %%) in %s", label, f"{done:,}", f"{total:,}", self._what,
                        eta_text(elapsed))
        else:
            logger.info("%s: %s of %s %s (%d %%), %s/s, about %s left", label, f"{done:,}", f"{total:,}",
                        self._what, 100 * done // total, f"{rate:,.0f}" if rate is not None else "-",
                        eta_text(eta))

"""``followupd run``: APScheduler decides WHEN a cycle runs; the database decides what is due.

One self-rescheduling job: after a good cycle the next run is the earlier of "poll interval from now" and the
next follow-up due time; after a failure it is an exponential back-off (capped), so a dead server is not
hammered and a flaky one is retried soon. SIGTERM/SIGINT let the running cycle finish, then exit 0.
systemd is told READY=1 after the first good cycle, STOPPING=1 when a stop begins, and gets WATCHDOG=1 pings
(sd_notify over $NOTIFY_SOCKET).

Threads: the scheduler runs cycles in a worker thread; the main thread only waits for a stop request, which
the signal handler records (setting an event is all a handler should do). Stopping, the main thread first
waits for a running cycle, then shuts the scheduler down: ``shutdown(wait=True)`` holds the scheduler's
job-store lock while it waits, and a finishing cycle needs that lock to reschedule itself.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from . import store as st
from .app import App
from .checks import check_library
from .errors import FollowupdError

logger = logging.getLogger(__name__)

BACKOFF_START = timedelta(seconds=15)
BACKOFF_CAP = timedelta(minutes=30)


def sd_notify(message: str, env: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify datagram; a no-op outside systemd. Returns whether it was sent."""
    env = os.environ if env is None else env
    address = env.get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
        return True
    except OSError as exc:
        logger.warning("could not notify systemd: %s", exc)
        return False


def backoff_delay(failures: int) -> timedelta:
    """15 s, 30 s, 1 min, ... capped at 30 min."""
    if failures <= 0:
        return timedelta(0)
    delay: timedelta = BACKOFF_START * (2 ** min(failures - 1, 20))
    return min(delay, BACKOFF_CAP)


class Daemon:
    def __init__(self, app: App, *, notify: Callable[[str], bool] = sd_notify,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.app = app
        self.notify = notify
        self.wall_clock = wall_clock  # scheduling needs real time even when FOLLOWUPD_NOW pins the logic clock
        self.failures = 0
        self.ready = False
        self.scheduler = BackgroundScheduler(timezone=UTC)
        self._stop_requested = threading.Event()
        self._wake_requested = threading.Event()
        self._cycle_lock = threading.Lock()  # held by a cycle from start until it has rescheduled itself

    def run(self) -> int:
        """Run until SIGTERM/SIGINT. Start-up problems (config, templates, lock) raise before anything runs."""
        # Refuse to start on a template with an error (file and line): it would fail at the worst moment.
        for warning in check_library(self.app.library, self.app.config.tone):
            logger.warning("template %s", warning)
        with self.app.lock():
            self._install_signal_handlers()
            self._schedule(self.wall_clock())
            watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
            if watchdog_usec:
                self.scheduler.add_job(lambda: self.notify("WATCHDOG=1"), "interval",
                                       seconds=max(1, watchdog_usec // 2_000_000), id="watchdog")
            logger.info("followupd running for %s; polling every %s", self.app.account_key,
                        self.app.config.cadence.poll_interval)
            self.scheduler.start()
            # A signal that arrived before start() is not lost: the event stays set.
            self._stop_requested.wait()
            self.notify("STOPPING=1")
            with self._cycle_lock:
                pass  # the running cycle (if any) has finished; later ones see the stop request and return
            self.scheduler.shutdown(wait=True)
        logger.info("followupd stopped")
        return 0

    def _install_signal_handlers(self) -> None:
        def handle(signum: int, frame: FrameType | None) -> None:
            name = signal.Signals(signum).name
            if self._stop_requested.is_set():
                logger.info("received %s again: already stopping", name)
                return
            logger.info("received %s: finishing the current cycle, then exiting", name)
            self._stop_requested.set()

        def wake(signum: int, frame: FrameType | None) -> None:
            # `followupd outbox approve` and friends queue a request and wake us to apply it now.
            logger.info("woken by %s: running a cycle now", signal.Signals(signum).name)
            self._wake_requested.set()
            self._schedule(self.wall_clock())

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
        signal.signal(signal.SIGUSR1, wake)

    def _schedule(self, when: datetime) -> None:
        if self._stop_requested.is_set():
            return
        self.scheduler.add_job(self.tick, "date", run_date=when, id="cycle", replace_existing=True,
                               misfire_grace_time=None)

    def tick(self) -> None:
        """One cycle; never raises, so one bad cycle can never stop the daemon."""
        with self._cycle_lock:
            if self._stop_requested.is_set():
                return
            self._wake_requested.clear()  # this cycle applies whatever was queued before it started
            self._tick()

    def _tick(self) -> None:
        try:
            report = self.app.cycle()  # run() holds the account lock for the daemon's whole life
        except FollowupdError as exc:
            self._retry_later(f"cycle failed ({exc})")
            return
        except Exception:
            logger.exception("cycle failed with an unexpected error (a bug)")
            self._retry_later("cycle failed with an unexpected error")
            return
        self.failures = 0
        logger.info("cycle: %s", report.summary())
        if not self.ready:
            self.ready = True
            self.notify("READY=1")
        # A wake-up that arrived while this cycle ran must not be overwritten by the regular reschedule.
        self._schedule(self.wall_clock() if self._wake_requested.is_set() else self._next_run())

    def _retry_later(self, what: str) -> None:
        self.failures += 1
        delay = backoff_delay(self.failures)
        logger.error("%s; retrying in %s", what, delay)
        self._schedule(self.wall_clock() + delay)

    def _next_run(self) -> datetime:
        """The earlier of the next poll and the next due follow-up (so a draft appears on time)."""
        now = self.wall_clock()
        next_poll = now + self.app.config.cadence.poll_interval
        logic_now = self.app.clock.now()
        with self.app.store.read() as session:
            # Only future due times: a past-due thread is waiting for the window or for its open draft, and
            # the regular poll covers it; waking for it would spin.
            next_due = session.scalar(
                select(st.Thread.next_due)
                .where(st.Thread.state == st.WAITING, st.Thread.next_due > logic_now)
                .order_by(st.Thread.next_due).limit(1))
        if next_due is not None:
            return min(next_poll, now + (next_due - logic_now) + timedelta(seconds=1))
        return next_poll

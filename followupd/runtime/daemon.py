"""``followupd run``: APScheduler decides WHEN a cycle runs; the database decides what is due.

One self-rescheduling job per account: after a good cycle the next run is the earlier of "poll interval from
now" and the account's next due time; after a failure it is an exponential back-off with jitter (capped), so a
dead server is not hammered, a flaky one is retried soon, and many daemons that lost the same server do not
come back in lock-step. Each account has its own job, lock, back-off and health: one account's failure never
stops the others. With IDLE (``[account] idle``, on by default where the server offers it) a watcher per
watched folder wakes the account's job when mail arrives, so replies are seen within seconds; polling stays
as the safety net.

SIGTERM/SIGINT let running cycles finish, then exit 0. systemd is told READY=1 once every account has run its
first cycle and at least one succeeded, STOPPING=1 when a stop begins, STATUS= lines with the accounts'
health, and gets WATCHDOG=1 pings (sd_notify over $NOTIFY_SOCKET).

Scale-out: when the accounts live in PostgreSQL, several daemons (on one host or many) share them through
leases (adapters.store.leases): each runs only the accounts it holds a lease on, renews them, and takes over the
accounts of a daemon that stopped renewing (killed, hung, cut off) once its leases expire.

Threads: the scheduler runs cycles in worker threads; the main thread only waits for a stop request, which the
signal handler records (setting an event is all a handler should do). Stopping, the main thread first waits
for running cycles, then shuts the scheduler down: ``shutdown(wait=True)`` holds the scheduler's job-store lock
while it waits, and a finishing cycle needs that lock to reschedule itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import signal
import socket
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from types import FrameType
from typing import TYPE_CHECKING, Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from followupd.adapters.lock import AccountLock
from followupd.adapters.store import reports
from followupd.compose.checks import check_library
from followupd.compose.coverage import coverage_problems
from followupd.errors import FollowupdError, LockError, StoreError
from followupd.runtime.app import App, fence_margin

if TYPE_CHECKING:
    from followupd.engine.cycle import Fence

logger = logging.getLogger(__name__)

BACKOFF_START = timedelta(seconds=15)
BACKOFF_CAP = timedelta(minutes=30)
BACKOFF_JITTER = 0.2  # +-20 %
IDLE_COALESCE = timedelta(seconds=1)


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


def backoff_delay(failures: int, *, rng: random.Random | None = None) -> timedelta:
    """15 s, 30 s, 1 min, ... capped at 30 min, each +-20 % (with ``rng``): retries of many accounts spread out."""
    if failures <= 0:
        return timedelta(0)
    delay: timedelta = min(BACKOFF_START * (2 ** min(failures - 1, 20)), BACKOFF_CAP)
    if rng is not None:
        delay *= 1 + rng.uniform(-BACKOFF_JITTER, BACKOFF_JITTER)
    return delay


class AccountRunner:
    """One account inside the daemon: its job, its lock, its back-off, its IDLE watchers."""

    def __init__(self, daemon: Daemon, app: App) -> None:
        self.daemon = daemon
        self.app = app
        self.job_id = f"cycle:{app.name}"
        self.failures = 0
        self.attempted = False     # a first cycle has finished (well or not)
        self.succeeded = False     # at least one cycle went well
        self.active = False
        self._lock: AccountLock | None = None
        self._fence: Fence | None = None
        self._cycle_lock = threading.Lock()  # held by a cycle from start until it has rescheduled itself
        self._switch_lock = threading.Lock()  # activate/deactivate one at a time
        self._wake_requested = threading.Event()
        self._watchers: Any = None
        self._watching: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.app.name

    def activate(self, fence: Fence | None = None) -> None:
        """Take the account's lock and schedule its first cycle now; LockError if another process runs it.

        ``fence`` (with leases): asked by each cycle before it writes to the mailbox."""
        with self._switch_lock:
            lock = self.app.lock()
            lock.__enter__()
            self._lock = lock
            self._fence = fence
            self.active = True
            self.schedule(self.daemon.wall_clock())

    def deactivate(self) -> None:
        """Stop running this account (daemon stopping, or its lease went to another daemon)."""
        with self._switch_lock:  # the lease job and a failed fence check may both ask at once
            self.active = False
            with contextlib.suppress(Exception):
                self.daemon.scheduler.remove_job(self.job_id)
            with self._cycle_lock:
                pass  # a running cycle has finished
            self._stop_watchers()
            if self._lock is not None:
                self._lock.__exit__(None, None, None)
                self._lock = None

    def wake(self, reason: str = "", *, within: timedelta = timedelta(0)) -> None:
        """Run a cycle soon (IDLE saw new mail, or a CLI request waits). ``within``: wake-ups that arrive
        together (several folders' watchers, one burst of mail) share one cycle."""
        if not self.active:
            return
        if reason:
            logger.info("%s: %s; running a cycle", self.name, reason)
        self._wake_requested.set()
        self.schedule(self.daemon.wall_clock() + within)

    def schedule(self, when: datetime) -> None:
        if self.daemon.stopping or not self.active:
            return
        self.daemon.scheduler.add_job(self.tick, "date", run_date=when, id=self.job_id, replace_existing=True,
                                      misfire_grace_time=None)

    def tick(self) -> None:
        """One cycle; never raises, so one bad cycle (or account) can never stop the daemon."""
        with self._cycle_lock:
            if self.daemon.stopping or not self.active:
                return
            self._wake_requested.clear()  # this cycle applies whatever was queued before it started
            if not self.daemon.may_write(self):
                return
            self._tick()

    def _tick(self) -> None:
        try:
            report = self.app.cycle(fence=self._fence)  # activate() holds the lock as long as we run the account
        except FollowupdError as exc:
            self._retry_later(f"cycle failed ({exc})")
            return
        except Exception:
            logger.exception("%s: cycle failed with an unexpected error (a bug)", self.name)
            self._retry_later("cycle failed with an unexpected error")
            return
        if self.failures:
            logger.info("%s: working again after %d failed cycle(s)", self.name, self.failures)
        self.failures = 0
        self.attempted = self.succeeded = True
        logger.info("%s: cycle: %s", self.name, report.summary())
        self._ensure_watchers(report.watched)
        self.daemon.account_settled()
        # A wake-up that arrived while this cycle ran must not be overwritten by the regular reschedule.
        self.schedule(self.daemon.wall_clock() if self._wake_requested.is_set() else self._next_run())

    def _retry_later(self, what: str) -> None:
        self.failures += 1
        self.attempted = True
        delay = backoff_delay(self.failures, rng=self.daemon.rng)
        logger.error("%s: %s; retrying in %s", self.name, what, _rounded(delay))
        self.daemon.account_settled()
        self.schedule(self.daemon.wall_clock() + delay)

    def _next_run(self) -> datetime:
        """The earlier of the next poll and the next due follow-up (so a draft appears on time)."""
        now = self.daemon.wall_clock()
        next_poll = now + self.app.config.cadence.poll_interval
        logic_now = self.app.clock.now()
        with self.app.store.read() as session:
            next_due = reports.next_future_due(session, logic_now)
        if next_due is not None:
            return min(next_poll, now + (next_due - logic_now) + timedelta(seconds=1))
        return next_poll

    # -- IDLE ---------------------------------------------------------------------------------------------

    def _ensure_watchers(self, folders: Sequence[str]) -> None:
        """Start (or, when the watched folders changed, restart) one IDLE watcher per watched folder."""
        if self.daemon.stopping or not self.daemon.use_idle or not self.app.config.account.idle or not folders:
            return
        if self._watchers is not None and tuple(folders) == self._watching:
            return
        self._stop_watchers()
        from followupd.adapters.watch import WatcherGroup

        group = WatcherGroup(self.app.open_mailbox, list(folders),
                             lambda folder: self.wake(f"new activity in {folder}", within=IDLE_COALESCE),
                             name=self.name, **self.daemon.watcher_options)
        self._watching = tuple(folders)
        if group.start():
            self._watchers = group
            logger.info("%s: watching %s with IDLE", self.name, ", ".join(folders))
        elif "unsupported" in group.states().values():
            self._watchers = False  # the server has no IDLE: polling only, and no retry every cycle
            logger.info("%s: the server does not offer IDLE; polling every %s", self.name,
                        self.app.config.cadence.poll_interval)
        # else: it could not connect just now; the next good cycle tries again

    def _stop_watchers(self) -> None:
        group, self._watchers = self._watchers, None
        if group:
            group.stop()

    def watcher_states(self) -> dict[str, str]:
        return dict(self._watchers.states()) if self._watchers else {}


def _rounded(delay: timedelta) -> timedelta:
    return timedelta(seconds=round(delay.total_seconds()))


class Daemon:
    def __init__(self, apps: App | Sequence[App], *, notify: Callable[[str], bool] = sd_notify,
                 wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC), use_idle: bool = True,
                 watcher_options: Mapping[str, Any] | None = None, rng: random.Random | None = None) -> None:
        self.apps = [apps] if isinstance(apps, App) else list(apps)
        self.notify = notify
        self.wall_clock = wall_clock  # scheduling needs real time even when FOLLOWUPD_NOW pins the logic clock
        self.use_idle = use_idle
        self.watcher_options = dict(watcher_options or {})
        self.rng = rng or random.Random()
        self.ready = False
        self.scheduler = BackgroundScheduler(timezone=UTC, executors={
            "default": ThreadPoolExecutor(max(2, min(len(self.apps) + 1, 8)))})
        self.runners = [AccountRunner(self, app) for app in self.apps]
        self._stop_requested = threading.Event()
        self._settle_lock = threading.Lock()
        self.leases: Any = None  # a LeaseBoard when the accounts share PostgreSQL (scale-out)

    @property
    def app(self) -> App:
        """The first account (single-account callers)."""
        return self.apps[0]

    @property
    def stopping(self) -> bool:
        return self._stop_requested.is_set()

    def run(self) -> int:
        """Run until SIGTERM/SIGINT. Start-up problems (config, templates, lock) raise before anything runs."""
        # Refuse to start on a template with an error (file and line): it would fail at the worst moment.
        for app in self.apps:
            for warning in check_library(app.library, app.config.tone):
                logger.warning("%s: template %s", app.name, warning)
            # Too few variants for the cadence (issue 18): a long thread would repeat another stage's wording.
            where = app.config.templates.dir or app.library.directory
            for warning in coverage_problems(app.library.every_variant(), len(app.config.cadence.gaps), where):
                logger.warning("%s: templates %s", app.name, warning)
        self._open_databases()
        self._install_signal_handlers()
        try:
            self._start_accounts()
            watchdog_usec = int(os.environ.get("WATCHDOG_USEC", "0") or 0)
            if watchdog_usec:
                # Pings start with READY=1: systemd arms the watchdog only once start-up is complete, and a
                # ping before READY=1 (a first cycle slower than the interval) would only tell systemd nothing.
                self.scheduler.add_job(self._watchdog_ping, "interval",
                                       seconds=max(1, watchdog_usec // 2_000_000), id="watchdog")
            self.scheduler.start()
            # A signal that arrived before start() is not lost: the event stays set.
            self._stop_requested.wait()
            self.notify("STOPPING=1")
            for runner in self.runners:
                runner.deactivate()  # waits for its running cycle; later ones see the stop request
            self.scheduler.shutdown(wait=True)
        finally:
            for runner in self.runners:
                if runner.active:
                    runner.deactivate()
            if self.leases is not None:
                self.leases.close()
        logger.info("followupd stopped")
        return 0

    def _open_databases(self) -> None:
        """Open (and upgrade, with migrate = "auto") every account's database before anything runs, so a database
        that must not be upgraded automatically stops `run` at once with the command to run. With several
        accounts, one unusable database only keeps that account from running (its cycles fail, it shows as
        degraded); the others start."""
        for app in self.apps:
            try:
                app.store  # noqa: B018 (opening it is the point)
            except StoreError as exc:
                if len(self.apps) == 1:
                    raise
                logger.error("%s: %s", app.name, exc)

    def _start_accounts(self) -> None:
        names = ", ".join(app.name for app in self.apps)
        interval = min(app.config.cadence.poll_interval for app in self.apps)
        if all(app.config.database.is_postgres for app in self.apps):
            self._start_leases()
            logger.info("followupd running; sharing accounts %s with other followupd processes through leases "
                        "in PostgreSQL", names)
            return
        started: list[AccountRunner] = []
        refused: list[str] = []
        for runner in self.runners:
            try:
                runner.activate()
            except LockError as exc:
                refused.append(str(exc))
                logger.error("%s: not running it here: %s", runner.name, exc)
            else:
                started.append(runner)
        if not started:
            raise LockError(refused[0] if len(refused) == 1 else "every account is already run by another "
                            "followupd: " + "; ".join(refused))
        logger.info("followupd running for %s; polling every %s", ", ".join(r.name for r in started), interval)

    # -- leases (PostgreSQL scale-out) ----------------------------------------------------------------------

    def _start_leases(self) -> None:
        from followupd.adapters.store.leases import LeaseBoard

        database = self.apps[0].config.database
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.leases = LeaseBoard(database.url, owner=owner, period=database.lease_period)
        self._claim_leases()
        self.scheduler.add_job(self._claim_leases, "interval",
                               seconds=max(1.0, database.lease_period.total_seconds() / 3), id="leases",
                               max_instances=1, coalesce=True)

    def _claim_leases(self) -> None:
        """Renew our leases, take free or expired ones, and start/stop accounts to match."""
        if self.stopping:
            return
        try:
            held = self.leases.claim([runner.app.account_key for runner in self.runners])
        except Exception as exc:  # the database is unreachable: we can no longer prove we own anything
            logger.error("could not renew leases (%s); pausing all accounts until the database answers", exc)
            held = set()
        for runner in self.runners:
            mine = runner.app.account_key in held
            if mine and not runner.active:
                try:
                    margin = fence_margin(runner.app.config.database.lease_period)
                    runner.activate(fence=partial(self.leases.holds, runner.app.account_key, margin=margin))
                    logger.info("%s: lease taken; running it here", runner.name)
                except LockError as exc:  # e.g. a manual `followupd poll` of this account on this host
                    logger.info("%s: lease taken but the account is busy here (%s); next time", runner.name, exc)
                    self.leases.release(runner.app.account_key)
                except FollowupdError as exc:  # e.g. its schema needs an upgrade and migrate = "refuse"
                    logger.error("%s: cannot run it here: %s", runner.name, exc)
                    runner.deactivate()
                    self.leases.release(runner.app.account_key)
            elif not mine and runner.active:
                logger.warning("%s: lease lost (another followupd runs it now); stopping it here", runner.name)
                runner.deactivate()
        if not any(runner.active for runner in self.runners):
            self._notify_ready()  # nothing of ours to wait for: the others run every account

    def may_write(self, runner: AccountRunner) -> bool:
        """Fencing: a cycle starts only while our lease is valid (always true without leases)."""
        if self.leases is None:
            return True
        if self.leases.holds(runner.app.account_key):
            return True
        logger.warning("%s: lease expired before the cycle; leaving the account to its new owner", runner.name)
        threading.Thread(target=runner.deactivate, daemon=True).start()
        return False

    # -- systemd ----------------------------------------------------------------------------------------------

    def account_settled(self) -> None:
        """READY=1 once every running account has had its first cycle and at least one went well."""
        with self._settle_lock:
            active = [r for r in self.runners if r.active]
            if active and all(r.attempted for r in active) and any(r.succeeded for r in active):
                self._notify_ready()
            failing = [r.name for r in active if r.failures]
            status = (f"{len(active) - len(failing)} of {len(active)} account(s) ok"
                      + (f"; degraded: {', '.join(failing)}" if failing else ""))
            self.notify(f"STATUS={status}")

    def _watchdog_ping(self) -> None:
        if self.ready:
            self.notify("WATCHDOG=1")

    def _notify_ready(self) -> None:
        if not self.ready:
            self.ready = True
            self.notify("READY=1")

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
            for runner in self.runners:
                runner.wake(f"woken by {signal.Signals(signum).name}")

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)
        signal.signal(signal.SIGUSR1, wake)

"""Wiring: config -> store, clock, mailbox connection and engine, one App per account. No business logic here.

Kept apart from ``cli.py`` so the daemon, the CLI and the tests assemble followupd the same way. The store opens
on first use, so one account whose database is unreachable does not stop the CLI or the daemon from serving
the others.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from followupd.adapters.clock import Clock, clock_from_env
from followupd.adapters.lock import AccountLock, lock_path_for
from followupd.config import Config, default_data_dir, load_accounts
from followupd.errors import ConfigError, FollowupdError, LeaseHeldError, StoreError

# What only a cycle needs is imported by the first cycle (issue 16): `followupd status` reads the database and
# never loads the engine, the templates, imapclient or smtplib.
if TYPE_CHECKING:
    from followupd.adapters.imap import Mailbox
    from followupd.adapters.smtp import SmtpSender
    from followupd.adapters.store import Store
    from followupd.adapters.store.reports import Session
    from followupd.compose.library import TemplateLibrary, TemplateSource
    from followupd.engine.cycle import CycleReport, Engine, Fence
    from followupd.runtime.health import Health

logger = logging.getLogger(__name__)



def fence_margin(period: timedelta) -> timedelta:
    """How long a lease must still be valid when a cycle starts writing to the mailbox (scale-out fencing).

    Leases are renewed every third of the period, so a live owner always has more than two thirds left; a third
    left means renewals have been failing, and the mailbox is left alone."""
    return period / 3


@dataclass
class App:
    config: Config
    clock: Clock
    env: Mapping[str, str]
    #: ``(folder, read, to read)`` during a long header fetch: the CLI's bar or log lines (followupd.cli.progress).
    progress: Callable[[str, int, int], None] | None = None

    @cached_property
    def store(self) -> Store:
        from followupd.adapters.store import Store

        database = self.config.database
        return Store(database.url, schema=database.schema, migrate=database.migrate)

    @property
    def name(self) -> str:
        return self.config.name

    @cached_property
    def templates(self) -> TemplateSource:
        from followupd.compose.checked import use_cache_dir
        from followupd.compose.library import TemplateSource, builtin_templates_dir
        from followupd.config.paths import default_cache_dir

        use_cache_dir(default_cache_dir(os.environ))
        settings = self.config.templates
        return TemplateSource(builtin_templates_dir(), overlay=settings.dir, disable=settings.disable,
                              lang=settings.lang)

    @property
    def library(self) -> TemplateLibrary:
        """Templates load on first use, so `status` works even while a template is being fixed, and reload
        when a file changes (a stat of the folders), so an edit takes effect on the next cycle."""
        return self.templates.library()

    @cached_property
    def engine(self) -> Engine:
        from followupd.engine.cycle import Engine
        from followupd.engine.sending import Sender

        sender = Sender(self.config, self.smtp) if self.config.smtp is not None else None
        return Engine(self.config, self.store, clock=self.clock, sender=sender)

    def smtp(self) -> SmtpSender:
        """A sender for one send; the secret is resolved each time, like the IMAP one."""
        from followupd.adapters.smtp import SmtpSender

        assert self.config.smtp is not None
        return SmtpSender.for_config(self.config.smtp, self.env)

    @property
    def account_key(self) -> str:
        return self.config.account_key

    def lock(self) -> AccountLock:
        return AccountLock(lock_path_for(default_data_dir(self.env), self.account_key), self.account_key)

    @contextmanager
    def exclusive(self) -> Iterator[Fence | None]:
        """This process alone acts for the account: the local lock file, and with PostgreSQL the account's lease
        too, so a manual `poll` never runs beside a daemon on another host (LeaseHeldError names it).

        Yields the fence to hand to :meth:`cycle` (None without leases): it says whether the lease still holds."""
        with self.lock():
            if not self.config.database.is_postgres:
                yield None
                return
            import socket  # here, not at the top: only PostgreSQL leases need the host name

            from followupd.adapters.store.leases import LeaseBoard

            key = self.account_key
            # One owner name per host for the CLI: the lock file already keeps a second local process out, and a
            # `poll` killed mid-cycle must not block the next one here until its lease runs out.
            board = LeaseBoard(self.config.database.url, owner=f"{socket.gethostname()}:cli",
                               period=self.config.database.lease_period)
            try:
                if key not in board.claim([key]):
                    holder = board.holder(key)
                    raise LeaseHeldError(
                        f"another followupd is already running for {key}"
                        + (f" ({holder.owner}, lease until {holder.expires_at:%Y-%m-%d %H:%M:%S %Z})" if holder
                           else "") + "; it does the work, or stop it first")
                margin = fence_margin(self.config.database.lease_period)
                yield lambda: board.holds(key, margin=margin)
            finally:
                board.close()

    @contextmanager
    def mailbox(self) -> Iterator[Mailbox]:
        box = self.open_mailbox()
        try:
            yield box
        finally:
            box.logout()

    def open_mailbox(self) -> Mailbox:
        """A new logged-in connection (the caller logs out): cycles and IDLE watchers each use their own."""
        from followupd.adapters.imap import Mailbox

        box = Mailbox.open_account(self.config.account, self.env)
        box.progress = self.progress
        return box

    def cycle(self, *, dry_run: bool = False, fence: Fence | None = None) -> CycleReport:
        """One full cycle; the caller holds the account lock (the daemon holds it for its whole life) and passes
        the lease's ``fence`` when there is one (see :meth:`exclusive`).

        The templates are looked at afresh for each cycle, so an edited template counts from this cycle on. The
        outcome is recorded as the account's health (``status`` shows "degraded" while cycles fail)."""
        from followupd.runtime.health import record_failure, record_success

        try:
            engine = self.engine  # its imports and set-up before LOGIN, not while the server waits
            with self.mailbox() as box:
                report = engine.run_cycle(box, library=self.library, fence=fence, dry_run=dry_run)
        except FollowupdError as exc:
            if not dry_run:  # a failing password command or template is as much a failure as a dead server
                error = str(exc)
                self._record(lambda session: record_failure(session, self.clock.now(), error))
            raise
        if not dry_run:
            self._record(lambda session: record_success(session, self.clock.now()))
        return report

    def _record(self, change: Callable[[Session], object]) -> None:
        """Health bookkeeping must never turn a cycle's real outcome into a different error."""
        try:
            with self.store.transaction() as session:
                change(session)
        except (StoreError, OSError) as exc:
            logger.warning("%s: could not record the account's health: %s", self.name, exc)

    def health(self) -> Health:
        from followupd.runtime.health import read_health

        with self.store.read() as session:
            return read_health(session)

    def poll(self, *, dry_run: bool = False) -> CycleReport:
        """One cycle under the account lock (dry runs write nothing, so they need no lock)."""
        if dry_run:
            return self.cycle(dry_run=True)
        with self.exclusive() as fence:
            return self.cycle(fence=fence)


def build_apps(config_path: Path, env: Mapping[str, str] | None = None) -> list[App]:
    """One App per account of the config file (a single ``[account]`` gives one)."""
    env = dict(os.environ) if env is None else env
    clock = clock_from_env(env)
    return [App(config=config, clock=clock, env=env) for config in load_accounts(config_path, env)]


def build_app(config_path: Path, env: Mapping[str, str] | None = None, *, account: str | None = None) -> App:
    """The named account's App, or the only one; with several accounts and no name, the first."""
    apps = build_apps(config_path, env)
    if account is None:
        return apps[0]
    return select_account(apps, account)


def select_account(apps: list[App], name: str) -> App:
    for app in apps:
        if name in (app.name, app.config.account.username, app.account_key):
            return app
    raise ConfigError(f"no account named {name!r} in the config; it has: {', '.join(a.name for a in apps)}",
                      key="accounts.name")

"""Wiring: config -> store, clock, mailbox connection and engine. No business logic lives here.

Kept apart from ``cli.py`` so the daemon, the CLI and the tests assemble followupd the same way.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .clock import Clock, clock_from_env
from .compose import TemplateLibrary, TemplateSource, builtin_templates_dir
from .config import Config, default_data_dir, load_config
from .engine import CycleReport, Engine
from .imap import Mailbox
from .lock import AccountLock, lock_path_for
from .sending import Sender
from .smtp import SmtpSender
from .store import Store

logger = logging.getLogger(__name__)


@dataclass
class App:
    config: Config
    store: Store
    clock: Clock
    env: Mapping[str, str]

    @cached_property
    def templates(self) -> TemplateSource:
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
        sender = Sender(self.config, self.smtp) if self.config.smtp is not None else None
        return Engine(self.config, self.store, clock=self.clock, library=self.library, sender=sender)

    def smtp(self) -> SmtpSender:
        """A sender for one send; the password is resolved each time, like the IMAP one."""
        assert self.config.smtp is not None
        return SmtpSender.for_config(self.config.smtp, self.env)

    @property
    def account_key(self) -> str:
        return f"{self.config.account.username}@{self.config.account.host}"

    def lock(self) -> AccountLock:
        return AccountLock(lock_path_for(default_data_dir(self.env), self.account_key), self.account_key)

    @contextmanager
    def mailbox(self) -> Iterator[Mailbox]:
        box = Mailbox.open_account(self.config.account, self.env)
        try:
            yield box
        finally:
            box.logout()

    def cycle(self, *, dry_run: bool = False) -> CycleReport:
        """One full cycle; the caller holds the account lock (the daemon holds it for its whole life)."""
        with self.mailbox() as box:
            if self.engine.drafter is not None:
                self.engine.drafter.library = self.library  # an edited template counts from this cycle on
            return self.engine.run_cycle(box, dry_run=dry_run)

    def poll(self, *, dry_run: bool = False) -> CycleReport:
        """One cycle under the account lock (dry runs write nothing, so they need no lock)."""
        if dry_run:
            return self.cycle(dry_run=True)
        with self.lock():
            return self.cycle()


def build_app(config_path: Path, env: Mapping[str, str] | None = None) -> App:
    env = dict(os.environ) if env is None else env
    config = load_config(config_path, env)
    store = Store(config.database.url)
    clock = clock_from_env(env)
    return App(config=config, store=store, clock=clock, env=env)

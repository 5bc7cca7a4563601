"""``followupd db status [--json]`` and ``followupd db upgrade [--json]``: the database schema, per account.

``status`` changes nothing (it does not even create a missing database), so it is safe to run against a
database another version of followupd is using. ``upgrade`` is what ``[database] migrate = "refuse"`` asks the
user to run: it upgrades whatever the config's setting, since running it is the user's decision.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from typing import Any

import click

from followupd.adapters.store import Store, database_status, migrations
from followupd.cli.groups import State, handle_errors, main
from followupd.config import redact_url


@dataclass(frozen=True)
class _Target:
    """One database (url + schema) and the accounts that keep their state in it."""

    url: str
    schema: str | None
    accounts: tuple[str, ...]

    @property
    def shown(self) -> str:
        return redact_url(self.url) + (f" (schema {self.schema})" if self.schema else "")


def _targets(state: State) -> list[_Target]:
    """The distinct databases of the configured accounts (``--account`` narrows it), in config order."""
    found: dict[tuple[str, str | None], list[str]] = {}
    for app in state.apps():
        database = app.config.database
        found.setdefault((database.url, database.schema), []).append(str(app.name))
    return [_Target(url, schema, tuple(names)) for (url, schema), names in found.items()]


def _status_json(target: _Target, status: migrations.SchemaStatus) -> dict[str, Any]:
    """The public JSON shape of ``db status`` (a contract: fields are added, never renamed)."""
    return {
        "accounts": list(target.accounts),
        "database": redact_url(target.url),
        "schema": target.schema,
        "state": status.state,
        "revision": status.current,
        "head": status.head,
        "up_to_date": status.up_to_date,
        "pending": [{"revision": rev, "description": text} for rev, text in status.pending],
    }


def _describe(status: migrations.SchemaStatus) -> str:
    if status.state == migrations.CURRENT:
        return f"up to date (revision {status.head})"
    if status.state == migrations.FRESH:
        return f"empty: followupd creates it at revision {status.head} on first use"
    if status.state == migrations.NEWER:
        return f"at revision {status.current}, newer than this followupd knows ({status.head}): upgrade followupd"
    made_by = " (followupd 0.1.0, before revisions were recorded)" if status.state == migrations.LEGACY else ""
    return f"at revision {status.current}{made_by}; needs {status.head}: run `followupd db upgrade`"


@main.group("db")
def db_group() -> None:
    """Inspect or upgrade the database schema."""


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one entry per database.")
@click.pass_obj
@handle_errors
def db_status(state: State, as_json: bool) -> None:
    """Show each database's schema revision and the upgrades waiting for it; changes nothing."""
    entries = [(target, database_status(target.url, schema=target.schema)) for target in _targets(state)]
    if as_json:
        click.echo(json.dumps([_status_json(target, status) for target, status in entries], indent=2))
        return
    for target, status in entries:
        click.echo(f"{', '.join(target.accounts)}: {target.shown}: {_describe(status)}")
        for revision, text in status.pending if status.state != migrations.FRESH else ():
            click.echo(f"  pending {revision}: {text}")


@db_group.command("upgrade")
@click.option("--quiet", "-q", is_flag=True, help="No progress (a bar on a terminal, a line per step otherwise).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array, one entry per database: accounts, database, schema, action (unchanged, "
                   "created or upgraded), from_revision (null for a new database) and revision (now).")
@click.pass_obj
@handle_errors
def db_upgrade(state: State, quiet: bool, as_json: bool) -> None:
    """Upgrade each database to this followupd's schema (back it up first); a no-op when up to date."""
    from followupd.cli.progress import ProgressReporter

    if not quiet:
        progress_logger = logging.getLogger("followupd.cli.progress")
        progress_logger.setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    reporter = ProgressReporter(sys.stderr, quiet=quiet, what="steps done")
    entries: list[dict[str, Any]] = []
    for target in _targets(state):
        before = database_status(target.url, schema=target.schema)
        token = migrations.upgrade_progress.set(reporter)
        try:
            store = Store(target.url, schema=target.schema, migrate="auto")
        finally:
            migrations.upgrade_progress.reset(token)
        try:
            after = store.schema_status
        finally:
            store.dispose()
        label = f"{', '.join(target.accounts)}: {target.shown}"
        action = {migrations.CURRENT: "unchanged", migrations.FRESH: "created"}.get(before.state, "upgraded")
        entries.append({"accounts": list(target.accounts), "database": redact_url(target.url),
                        "schema": target.schema, "action": action,
                        "from_revision": None if action == "created" else before.current, "revision": after.current})
        if as_json:
            continue
        if action == "unchanged":
            click.echo(f"{label}: already at revision {after.current}")
        elif action == "created":
            click.echo(f"{label}: created at revision {after.current}")
        else:
            click.echo(f"{label}: upgraded from revision {before.current} to {after.current}")
    if as_json:
        click.echo(json.dumps(entries, indent=2))

"""``followupd poll``, ``followupd run`` and ``followupd config check``: the commands that drive the loop.

The command group itself is in ``groups`` (this module registers on it, never the other way round); the
commands about threads are in ``threads`` and ``outbox``. Every command that shows something takes ``--json``:
one document on stdout, the same exit code as without it.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.errors import FollowupdError, exit_code_for

__all__ = ["main", "show_progress"]


def show_progress(apps: list[Any], *, quiet: bool) -> None:
    """First syncs of big folders report progress on stderr: a bar on a terminal, else an INFO line per tenth
    (shown at the default log level too: a long silence looks like a hang in the journal as well)."""
    from followupd.cli.progress import ProgressReporter

    if not quiet:
        progress_logger = logging.getLogger("followupd.cli.progress")
        progress_logger.setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    for app in apps:  # one each: the daemon's accounts may sync at the same time
        label = f"{app.name}: " if len(apps) > 1 else ""
        reporter = ProgressReporter(sys.stderr, quiet=quiet)
        app.progress = (lambda folder, done, total, r=reporter, p=label: r(p + folder, done, total))


def _log_config_warnings(state: State) -> None:
    """Risky settings (a config others can read, tls_verify = false) are repeated in the log of every run."""
    from followupd.config import config_warnings

    for warning in config_warnings(state.config_path):
        logging.getLogger("followupd.config").warning("%s", warning)


def _report_json(account: str, report: Any, *, dry_run: bool) -> dict[str, Any]:
    """The public JSON shape of one account's cycle in ``poll --json`` (fields are added, never renamed)."""
    return {
        "account": account, "ok": True, "error": None, "dry_run": dry_run, "summary": report.summary(),
        "folders": dict(report.folders), "rescanned": list(report.rescanned), "unreadable": report.skipped,
        "new_threads": list(report.new_threads), "changes": list(report.changes), "requests": list(report.requests),
        "drafted": list(report.drafts.drafted), "reminded": list(report.drafts.reminded),
        "withdrawn": list(report.drafts.withdrawn), "skipped_drafts": list(report.drafts.skipped),
        "draft_errors": list(report.drafts.errors), "sent": list(report.sends.sent),
        "send_failed": list(report.sends.failed), "send_waiting": list(report.sends.waiting),
    }


@main.command()
@click.option("--dry-run", is_flag=True, help="Read the mailbox and report, but write nothing anywhere.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress while a big folder is read (a bar on a terminal, a line per 10 % otherwise).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array, one entry per account: account, ok, error, dry_run, summary (the text "
                   "line), folders (folder: new messages read), rescanned, unreadable, new_threads, changes, "
                   "requests, drafted, reminded, withdrawn, skipped_drafts, draft_errors, sent, send_failed, "
                   "send_waiting. A failed account has ok false and its error; the exit code is as without --json.")
@click.pass_obj
@handle_errors
def poll(state: State, dry_run: bool, quiet: bool, as_json: bool) -> None:
    """Run one sync cycle for each account and exit (one account failing does not stop the others)."""
    apps = state.apps()
    show_progress(apps, quiet=quiet)
    _log_config_warnings(state)
    prefix = "dry run: would have " if dry_run else ""
    failed: list[FollowupdError] = []
    entries: list[dict[str, Any]] = []
    for app in apps:
        label = f"{app.name}: " if len(apps) > 1 else ""
        try:
            report = app.poll(dry_run=dry_run)
        except FollowupdError as exc:
            if len(apps) == 1 and not as_json:
                raise
            click.echo(f"followupd: error: {label}{exc}", err=True)
            failed.append(exc)
            entries.append({"account": app.name, "ok": False, "error": str(exc), "dry_run": dry_run})
            continue
        if as_json:
            entries.append(_report_json(app.name, report, dry_run=dry_run))
        else:
            click.echo(label + prefix + report.summary())
    if as_json:
        click.echo(json.dumps(entries, indent=2))
    if failed:
        sys.exit(max(exit_code_for(exc) for exc in failed))


@main.command()
@click.pass_obj
@handle_errors
def run(state: State) -> None:
    """Run in the foreground for every account: watch, draft follow-ups when due, until SIGTERM/SIGINT."""
    from followupd.runtime.daemon import Daemon

    apps = state.apps()
    show_progress(apps, quiet=False)
    _log_config_warnings(state)
    sys.exit(Daemon(apps).run())


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.option("--offline", is_flag=True, help="Validate the file only; do not connect to the server.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: config (the file), valid, error, warnings, and accounts, each with "
                   "account, username, host, port, tls, tracking_address, database, schema and folders (sent, "
                   "drafts, watch; null with --offline). Exit codes are as without --json.")
@click.pass_obj
@handle_errors
def config_check(state: State, offline: bool, as_json: bool) -> None:
    """Validate the config file, then connect and print the folders followupd will use."""
    if as_json:
        _config_check_json(state, offline)
        return
    from followupd.config import config_warnings, redact_url

    path = state.config_path
    apps = state.apps()
    for warning in config_warnings(path):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"config: {path} is valid")
    for app in apps:
        config = app.config
        if len(apps) > 1:
            click.echo(f"\n[{app.name}]")
        click.echo(f"account: {config.account.username} at {config.account.host}:{config.account.port} "
                   f"(tls {config.account.tls})")
        click.echo(f"tracking address: {config.tracking.address}")
        click.echo(f"database: {redact_url(config.database.url)}"
                   + (f" (schema {config.database.schema})" if config.database.schema else ""))
        if offline:
            continue
        folders = _folders(app)
        click.echo(f"sent folder: {folders.sent or '(none found)'}")
        click.echo(f"drafts folder: {folders.drafts or '(none found)'}")
        click.echo(f"watched folders: {', '.join(folders.watch)}")


def _folders(app: Any) -> Any:
    config = app.config
    with app.mailbox() as box:
        return box.resolve_folders(sent=config.folders.sent, drafts=config.folders.drafts,
                                   watch=config.folders.watch)


def _config_check_json(state: State, offline: bool) -> None:
    """``config check --json``: the same checks, one document; a failure is in it (``error``) and in the exit code."""
    from followupd.config import config_warnings, redact_url

    path = state.config_path
    document: dict[str, Any] = {"config": str(path), "valid": False, "error": None, "warnings": [], "accounts": []}
    failure: FollowupdError | None = None
    try:
        apps = state.apps()
        document["valid"] = True
        document["warnings"] = list(config_warnings(path))
        for app in apps:
            config = app.config
            entry: dict[str, Any] = {
                "account": app.name, "username": config.account.username, "host": config.account.host,
                "port": config.account.port, "tls": config.account.tls,
                "tracking_address": config.tracking.address, "database": redact_url(config.database.url),
                "schema": config.database.schema, "folders": None,
            }
            document["accounts"].append(entry)
            if not offline:
                folders = _folders(app)
                entry["folders"] = {"sent": folders.sent, "drafts": folders.drafts, "watch": list(folders.watch)}
    except FollowupdError as exc:  # a ConfigError leaves valid false; a mailbox error names the account's server
        failure = exc
    if failure is not None:
        document["error"] = str(failure)
    click.echo(json.dumps(document, indent=2))
    if failure is not None:
        click.echo(f"followupd: error: {failure}", err=True)
        sys.exit(exit_code_for(failure))

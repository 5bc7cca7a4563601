"""``followupd doctor [--json] [--timeout S]``: one pass/fail line per link from the config to a working loop.

The checks live in followupd.runtime.doctor; this module only prints them and picks the exit code: 0 when nothing failed
(warnings are fine), 3 when a check failed, 2 when the config itself does not load (then nothing else can be
checked, and the only line is the failed ``config`` check -- not a traceback).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.errors import ConfigError, exit_code_for

if TYPE_CHECKING:
    from followupd.runtime.doctor import Check

_LABELS = {"pass": "PASS", "fail": "FAIL", "warn": "WARN", "skip": "SKIP"}
_NAME_WIDTH = 12


def _entry(account: str | None, check: Check) -> dict[str, Any]:
    """The public JSON shape of one check (a contract: fields are added, never renamed)."""
    return {"account": account, "check": check.name, "status": check.status, "detail": check.detail,
            "advice": check.advice or None}


def _line(check: Check) -> str:
    lines = [f"{_LABELS[check.status]}  {check.name.ljust(_NAME_WIDTH)}  {check.detail}".rstrip()]
    lines += [f"      {advice}".rstrip() for advice in check.advice.splitlines() if advice.strip()]
    return "\n".join(lines)


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array of {account, check, status, detail, advice}.")
@click.option("--timeout", type=click.FloatRange(0.5, 300), default=10.0, show_default=True, metavar="SECONDS",
              help="How long to wait for a server to answer a connection.")
@click.pass_obj
@handle_errors
def doctor(state: State, as_json: bool, timeout: float) -> None:
    """Check config, secrets, connection, TLS, login, capabilities, folders, the tracking address, templates,
    database and SMTP, one line each; never changes the mailbox or the database and never sends mail.

    Exit 0 when nothing failed (warnings are fine), 3 when a check failed, 2 when the config does not load."""
    from followupd.runtime import doctor as dr  # imported late: keeps `followupd --help` fast

    try:
        path = state.config_path
        apps = state.apps()
    except ConfigError as exc:
        failed = dr.config_failed(exc)
        if as_json:
            click.echo(json.dumps([_entry(None, failed)], indent=2))
        else:
            click.echo(_line(failed))
        sys.exit(exit_code_for(exc))

    results: list[tuple[str | None, Check]] = [(None, dr.config_passed(path, len(apps)))]
    if not as_json:
        click.echo(_line(results[0][1]))
    for app in apps:
        if not as_json and len(apps) > 1:
            account = app.config.account
            click.echo(f"\naccount {app.name} ({account.username} at {account.host}:{account.port})")
        for check in dr.diagnose(app, timeout=timeout):
            results.append((app.name, check))
            if not as_json:
                click.echo(_line(check))
    checks = [check for _, check in results]
    if as_json:
        click.echo(json.dumps([_entry(account, check) for account, check in results], indent=2))
    else:
        counts = {status: sum(1 for c in checks if c.status == status) for status in _LABELS}
        click.echo(f"\n{len(checks)} checks: {counts['pass']} passed, {counts['warn']} warning(s), "
                   f"{counts['fail']} failed, {counts['skip']} skipped")
    sys.exit(dr.worst_exit_code(checks))

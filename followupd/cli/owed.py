"""``followupd owed [done ID]``: the replies you owe, and marking one done by hand.

Listing reads the database only, like ``status``: the open rows (``followupd.engine.owed`` notices them during
the sync) whose ``[owed] after`` has passed since they came, the longest-waiting first; ``after`` in business
days counts on the ``[cadence]`` calendar. ``done`` queues a request like ``items done`` (see ``submit``): the one
writer closes the row exactly once, "by hand". Nothing here drafts or sends anything: an owed reply is the
user's to write.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.ids import resolve_id
from followupd.cli.lazy import LazyGroup, lazy_module
from followupd.cli.shapes import clip, iso, render_table
from followupd.cli.submit import request_json_help, submit
from followupd.planning.owed import due_first, waiting_days

if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.engine import requests as rq
else:
    st = lazy_module("followupd.adapters.store")
    rq = lazy_module("followupd.engine.requests")

OWED_JSON_HELP = ("Print a JSON array of the replies you owe, the longest-waiting first, each with: id, "
                  "message_id, from (\"Name <address>\" or the address), subject, received_at (ISO 8601), "
                  "evidence (the sentence that asks), waiting_days; and account, from_email, from_name.")
DONE_JSON_HELP = request_json_help("the owed reply's id")
#: The asking sentence in the text listing is cut to this many characters (the JSON has all of it).
EVIDENCE_WIDTH = 60


def _sender(row: st.Owed) -> str:
    return f"{row.from_name} <{row.from_addr}>" if row.from_name else row.from_addr


def owed_json(row: st.Owed, account: str, now: datetime) -> dict[str, Any]:
    """The public JSON shape of a reply owed (a contract: fields are added, never renamed)."""
    return {"id": row.id, "message_id": row.message_id, "from": _sender(row), "subject": row.subject,
            "received_at": iso(row.received_at), "evidence": row.evidence,
            "waiting_days": waiting_days(row.received_at, now),
            "account": account, "from_email": row.from_addr, "from_name": row.from_name or None}


def due_rows(app: Any, session: Any) -> tuple[list[st.Owed], int]:
    """The account's open rows whose ``after`` has passed, the oldest first, and how many others wait less; none
    while its ``[owed]`` is off (rows left from when it was on are not news), as in the digest."""
    from followupd.adapters.store import reports

    config = app.config
    if not config.owed.enabled:
        return [], 0
    rows = reports.owed_rows(session, config.account_key, open_only=True)
    due = due_first(rows, after=config.owed.after, now=app.clock.now(), holidays=config.cadence.holidays,
                    tz=config.identity.timezone)
    return due, len(rows) - len(due)


@main.group(cls=LazyGroup, invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help=OWED_JSON_HELP)
@click.pass_context
@handle_errors
def owed(ctx: click.Context, as_json: bool) -> None:
    """List the replies you owe: mail that asks you something, unanswered for [owed] after; a subcommand marks
    one done."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    apps = state.apps()
    entries: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    younger = 0
    for app in apps:
        now = app.clock.now()
        with app.store.read() as session:
            due, waiting_less = due_rows(app, session)
            younger += waiting_less
            for row in due:
                entries.append(owed_json(row, app.name, now))
                days = waiting_days(row.received_at, now)
                asks = " ".join((row.evidence or "").split())
                rows.append(([app.name] if len(apps) > 1 else []) + [
                    row.id, clip(_sender(row), 34), clip(row.subject or "(no subject)", 40),
                    f"{days} day{'s' if days != 1 else ''}", clip(asks, EVIDENCE_WIDTH)])
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if rows:
        headers = ["ID", "FROM", "SUBJECT", "WAITING", "ASKS"]
        click.echo(render_table((["ACCOUNT"] if len(apps) > 1 else []) + headers, rows))
    elif not any(app.config.owed.enabled for app in apps):
        click.echo("Replies you owe are not looked for: set [owed] enabled = true in the config.")
    else:
        click.echo("No replies owed.")
    if younger:
        click.echo(f"{younger} more asked you something recently; listed once [owed] after has passed without "
                   "your answer.")


def _owed_id(state: State, prefix: str) -> str:
    """The one owed reply ``prefix`` names, in whichever account has it (several accounts: the one whose list
    holds it; in two, the user says which with --account); a clear error for none or several."""
    apps = state.apps()
    owners = apps
    if len(apps) > 1 and prefix.strip():
        owners = [app for app in apps if _has_owed(app, prefix.strip())]
        if len(owners) > 1:
            raise click.UsageError(f"{prefix!r} matches replies owed in several accounts "
                                   f"({', '.join(a.name for a in owners)}); add --account NAME")
    app = owners[0] if owners else apps[0]
    state.choose(app)
    with app.store.read() as session:
        return resolve_id(session, st.Owed, prefix, "owed reply", "followupd owed")


def _has_owed(app: Any, prefix: str) -> bool:
    from followupd.adapters.store import reports

    with app.store.read() as session:
        return bool(reports.ids_starting(session, st.Owed, prefix, limit=1))


@owed.command("done")
@click.argument("owed_id", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help=DONE_JSON_HELP)
@click.pass_obj
@handle_errors
def owed_done(state: State, owed_id: str, as_json: bool) -> None:
    """Mark a reply you owe as dealt with (its id or the start of it, see `owed`): it is no longer listed."""
    from followupd.adapters.store import reports

    target = _owed_id(state, owed_id)
    with state.app().store.read() as session:
        row = reports.find_owed(session, target)
        assert row is not None
        if row.state != "open":
            raise click.BadParameter(f"{row.id} is already {row.state}"
                                     + (f" ({row.closed_by})" if row.closed_by else ""))
    submit(state, rq.OWED_DONE, target, as_json=as_json)

"""``followupd suggestions``, ``track`` and ``ignore``: sent mail without the BCC that seems to await a reply.

Listing reads the database only, like ``status``. ``track`` and ``ignore`` queue a request like ``items done``
(see ``submit``): the one writer applies it exactly once, even with the daemon running; ``track`` starts the
thread as the BCC with that suffix would have (followupd.engine.awaiting). What can be refused before queuing
(an unknown or closed suggestion, a bad suffix) is refused here, with exit code 2.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.ids import resolve_id
from followupd.cli.lazy import lazy_module
from followupd.cli.shapes import clip, iso, local, render_table
from followupd.cli.submit import request_json_help, submit
from followupd.planning.lifecycle.awaiting import SuggestionState

# Imported when a command runs, not when `followupd --help` lists them: the store brings SQLAlchemy.
if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.engine import requests as rq
else:
    st = lazy_module("followupd.adapters.store")
    rq = lazy_module("followupd.engine.requests")

SUGGESTION_JSON_HELP = ("Print a JSON array of the open suggestions, newest first, each with: id, message_id, "
                        "subject, recipients (\"Name <address>\" or the address), sent_at (ISO 8601), evidence "
                        "(the sentence that asks), reason, folder and account.")
REQUEST_HELP = request_json_help("the suggestion id")


def suggestion_json(row: st.Suggestion, account: str) -> dict[str, Any]:
    """The public JSON shape of a suggestion (a contract: fields are added, never renamed)."""
    return {"id": row.id, "message_id": row.message_id, "subject": row.subject, "recipients": list(row.recipients),
            "sent_at": iso(row.sent_at), "evidence": row.evidence, "reason": row.reason, "folder": row.folder,
            "account": account}


@main.command()
@click.option("--json", "as_json", is_flag=True, help=SUGGESTION_JSON_HELP)
@click.pass_obj
@handle_errors
def suggestions(state: State, as_json: bool) -> None:
    """List mail you sent without the BCC that seems to await a reply ([tracking] auto = "suggest"), newest
    first, with the sentence that asks."""
    from followupd.adapters.store import reports

    apps = state.apps()
    entries: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    for app in apps:
        tz = app.config.identity.timezone
        with app.store.read() as session:
            for row in reports.open_suggestions(session):
                entries.append(suggestion_json(row, app.name))
                rows.append(([app.name] if len(apps) > 1 else []) + [
                    row.id, local(row.sent_at, tz, "%d %b %Y"), clip(", ".join(row.recipients) or "-", 30),
                    clip(row.subject or "(no subject)", 36), clip(row.evidence, 60)])
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if rows:
        headers = ["ID", "SENT", "TO", "SUBJECT", "ASKS"]
        click.echo(render_table((["ACCOUNT"] if len(apps) > 1 else []) + headers, rows))
        click.echo("`followupd track ID [--suffix 5d]` follows one up; `followupd ignore ID` drops it.")
    elif all(app.config.tracking.auto == "off" for app in apps):
        click.echo('No suggestions: set [tracking] auto = "suggest" to have sent mail without the BCC that asks '
                   "something suggested here.")
    elif all(app.config.tracking.auto == "track" for app in apps):
        click.echo('No suggestions: with [tracking] auto = "track" such mail is tracked at once (`followupd '
                   "status` marks those threads (auto)).")
    else:
        click.echo("No suggestions: nothing you sent lately without the BCC seems to await a reply.")


def _open_suggestion(state: State, prefix: str) -> tuple[Any, str]:
    """The app and the id of the open suggestion ``prefix`` names; a clear error (exit 2) otherwise."""
    app = state.app(prefix)
    with app.store.read() as session:
        target = resolve_id(session, st.Suggestion, prefix, "suggestion", "followupd suggestions")
        row = session.get(st.Suggestion, target)
        assert row is not None
        if row.state != SuggestionState.OPEN:
            closed = f" on {local(row.closed_at, app.config.identity.timezone, '%a %d %b %Y')}" if row.closed_at \
                else ""
            thread = f" (thread {row.thread_id}, see `followupd explain {row.thread_id}`)" if row.thread_id else ""
            raise click.BadParameter(f"suggestion {row.id} is already {row.state}{closed}{thread}; only an open "
                                     "suggestion can be tracked or ignored")
    return app, target


@main.command()
@click.argument("suggestion")
@click.option("--suffix", default=None, metavar="SUFFIX",
              help='The first check-in, as a tracking address suffix: "5d", "3bd", "fri", "dec15", "2026-12-01" '
                   "(default: the first gap of [cadence]).")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_HELP)
@click.pass_obj
@handle_errors
def track(state: State, suggestion: str, suffix: str | None, as_json: bool) -> None:
    """Start tracking a suggestion (its id or the start of it, see `suggestions`) exactly as if you had BCC'd the
    tracking address, with --suffix as its suffix."""
    from followupd.engine.awaiting import suffix_request
    from followupd.errors import RequestRefused

    app, target = _open_suggestion(state, suggestion)
    if suffix is not None:
        suffix = suffix.strip().lower()
        with app.store.read() as session:
            row = session.get(st.Suggestion, target)
            assert row is not None
            sent_on = row.sent_at.astimezone(app.config.identity.timezone).date()
        try:
            suffix_request(app.config, suffix, sent_on)
        except RequestRefused as exc:
            raise click.BadParameter(str(exc), param_hint="--suffix") from exc
    submit(state, rq.TRACK, target, argument=suffix or "", as_json=as_json)


@main.command()
@click.argument("suggestion")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_HELP)
@click.pass_obj
@handle_errors
def ignore(state: State, suggestion: str, as_json: bool) -> None:
    """Drop a suggestion (its id or the start of it, see `suggestions`): that message is not suggested again."""
    _app, target = _open_suggestion(state, suggestion)
    submit(state, rq.IGNORE, target, as_json=as_json)

"""``followupd outbox [show|edit|approve|skip|stop]``, ``followupd snooze`` and ``followupd note``.

Every command takes an id prefix (as shown by ``outbox`` and ``status``) and turns the user's wish into a queued
request, applied by exactly one process (see ``submit``).
"""

from __future__ import annotations

import email
import email.policy
import json
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.ids import thread_id as _thread_id
from followupd.cli.ids import touch_id as _touch_id
from followupd.cli.lazy import LazyGroup, lazy_module
from followupd.cli.shapes import clip, local, render_table, touch_json
from followupd.cli.submit import REQUEST_JSON_HELP, submit
from followupd.errors import FollowupdError
from followupd.planning.cadence import parse_duration

# Imported when a command runs, not when `followupd outbox --help` lists them: the store brings SQLAlchemy, the
# requests the engine.
if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.engine import requests as rq
else:
    st = lazy_module("followupd.adapters.store")
    rq = lazy_module("followupd.engine.requests")


def _why(entry: dict[str, Any]) -> str:
    """What happened to a follow-up (failed, withdrawn, held back), else why it was written."""
    return str(entry["outcome"] or entry["reason"] or "") if entry["state"] != "sent" else str(entry["reason"] or "")


@main.group(cls=LazyGroup, invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also list sent, skipped, withdrawn and failed follow-ups.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
@handle_errors
def outbox(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List follow-up drafts waiting for you; subcommands show, edit, approve, skip or stop them."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    apps = state.apps()
    app = apps[0]
    entries = []
    for each in apps:
        with each.store.read() as session:
            touches = st.all_touches(session)
            if not show_all:
                touches = [t for t in touches if t.state in (st.TOUCH_PLANNED, st.TOUCH_QUEUED, st.TOUCH_SENDING)]
            entries += [{**touch_json(t), "account": each.name} for t in touches]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("Outbox is empty: no follow-up drafts are waiting." + ("" if show_all else
                   " (--all shows sent, skipped and withdrawn ones)"))
        return
    tz = app.config.identity.timezone
    rows = [[e["id"], e["state"], clip(", ".join(e["to"]), 30), clip(e["subject"], 40), str(e["touch"]),
             e["template"], local(datetime.fromisoformat(e["created"]), tz),
             clip(_why(e), 70)] for e in entries]
    click.echo(render_table(["ID", "STATE", "TO", "SUBJECT", "TOUCH", "TEMPLATE", "CREATED", "WHY"], rows))


@outbox.command("show")
@click.argument("touch")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: the follow-up's outbox fields (as `outbox --json`), plus source "
                   "(drafts: as it is in your Drafts folder now; edited: changed there in your mail client; "
                   "rendered: as followupd wrote it; sent: as it was sent), source_note (the text's explanation, "
                   "\"\" for none), headers (a list of {name, value}) and body.")
@click.pass_obj
@handle_errors
def outbox_show(state: State, touch: str, as_json: bool) -> None:
    """Print a follow-up in full, headers and body: a waiting draft as it is in your Drafts folder now (saying so
    if you edited it in your mail client), else as it was rendered (or sent)."""
    from followupd.adapters.store import reports

    touch_id = _touch_id(state, touch)
    app = state.app(touch)
    with app.store.read() as session:
        row = reports.find_touch(session, touch_id)
        assert row is not None
        raw = row.sent_raw or row.raw or b""
        source = "sent" if row.sent_raw else "rendered"
        heading = f"# {row.id}: {row.state}" + (f" ({row.outcome})" if row.outcome else "")
        where = ""
        if row.state == st.TOUCH_QUEUED and row.raw:
            raw, where, source = _draft_in_drafts(app, row, raw)
            heading += where
        entry = touch_json(row)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    content = body.get_content() if body is not None else message.get_payload()
    if as_json:
        click.echo(json.dumps({**entry, "source": source, "source_note": where.strip(" ()"),
                               "headers": [{"name": name, "value": str(value)} for name, value in message.items()],
                               "body": content if isinstance(content, str) else str(content)}, indent=2))
        return
    click.echo(heading)
    for name, value in message.items():
        click.echo(f"{name}: {value}")
    click.echo("")
    click.echo(content)


def _draft_in_drafts(app: Any, row: st.Touch, rendered: bytes) -> tuple[bytes, str, str]:
    """The waiting draft as it is in Drafts now, what to say about it and where it came from (``source`` of
    ``show --json``); the rendered text when the mailbox cannot be read (with a warning) or the draft is no longer
    there."""
    from followupd.engine.draft_view import read_current

    try:
        with app.mailbox() as box:
            folder = box.resolve_folders(sent=app.config.folders.sent, drafts=app.config.folders.drafts,
                                         watch=app.config.folders.watch).drafts
            current = read_current(box, folder, row) if folder else None
    except FollowupdError as exc:
        click.echo(f"warning: could not read your Drafts folder ({exc}); showing the draft as followupd wrote it",
                   err=True)
        return rendered, "", "rendered"
    if current is None or current.raw is None:
        return rendered, (" (not in your Drafts folder now: sent or deleted? the next cycle tells; "
                          "as followupd wrote it)"), "rendered"
    if current.edited:
        return current.raw, f" (edited in your mail client; as it is in {folder} now)", "edited"
    return current.raw, f" (in {folder}, as followupd wrote it)", "drafts"


@outbox.command("edit")
@click.argument("touch")
@click.pass_obj
@handle_errors
def outbox_edit(state: State, touch: str) -> None:
    """Edit a waiting follow-up's text in $EDITOR; the draft in your Drafts folder is replaced."""
    from followupd.adapters.store import reports

    touch_id = _touch_id(state, touch)
    with state.app().store.read() as session:
        row = reports.find_touch(session, touch_id)
        assert row is not None
        if row.state not in (st.TOUCH_PLANNED, st.TOUCH_QUEUED) or not row.raw:
            raise click.BadParameter(f"follow-up {row.id} is {row.state}; only a waiting draft can be edited")
        raw = row.raw
    message = email.message_from_bytes(raw, policy=email.policy.SMTP)
    assert isinstance(message, EmailMessage)
    part = message.get_body(("plain",))
    old_body = part.get_content() if part is not None else ""
    new_body = click.edit(old_body, extension=".txt")
    if new_body is None or new_body.strip() == old_body.strip():
        click.echo("no change")
        return
    message.set_content(new_body.rstrip() + "\n", cte="quoted-printable" if not new_body.isascii() else "7bit")
    submit(state, rq.EDIT, touch_id, argument=message.as_bytes(policy=email.policy.SMTP).decode("utf-8",
                                                                                                "surrogateescape"))


@outbox.command("approve")
@click.argument("touch")
@click.option("--now", "send_now", is_flag=True, help="Send even outside the sending window.")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_JSON_HELP)
@click.pass_obj
@handle_errors
def outbox_approve(state: State, touch: str, send_now: bool, as_json: bool) -> None:
    """Approve a follow-up for sending (needs [sending] mode = "approve" or "auto" and an [smtp] section)."""
    touch_id = _touch_id(state, touch)
    config = state.app(touch).config
    if config.sending.mode == "review" or config.smtp is None:
        raise click.UsageError('sending is off ([sending] mode = "review"); send the draft from your mail client, '
                               'or set [sending] mode = "approve" and add an [smtp] section')
    submit(state, rq.APPROVE, touch_id, flag=send_now, as_json=as_json)


@outbox.command("skip")
@click.argument("touch")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_JSON_HELP)
@click.pass_obj
@handle_errors
def outbox_skip(state: State, touch: str, as_json: bool) -> None:
    """Drop this follow-up (its draft is removed) and plan the next one."""
    submit(state, rq.SKIP, _touch_id(state, touch), as_json=as_json)


@outbox.command("stop")
@click.argument("thread")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_JSON_HELP)
@click.pass_obj
@handle_errors
def outbox_stop(state: State, thread: str, as_json: bool) -> None:
    """Stop following up on a thread; its waiting draft is removed."""
    submit(state, rq.STOP, _thread_id(state, thread), as_json=as_json)


@main.command()
@click.argument("thread")
@click.argument("duration")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_JSON_HELP)
@click.pass_obj
@handle_errors
def snooze(state: State, thread: str, duration: str, as_json: bool) -> None:
    """Hold a thread's follow-ups for DURATION (e.g. 2w, 5d); a waiting draft is withdrawn."""
    try:
        parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from exc
    submit(state, rq.SNOOZE, _thread_id(state, thread), argument=duration, as_json=as_json)


@main.command()
@click.argument("thread")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help=REQUEST_JSON_HELP)
@click.pass_obj
@handle_errors
def note(state: State, thread: str, text: str, as_json: bool) -> None:
    """Keep a personal note on a thread ("ask how the move went"); templates can use it. "" clears it."""
    submit(state, rq.NOTE, _thread_id(state, thread), argument=text, as_json=as_json)

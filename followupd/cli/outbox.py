"""``followupd outbox show|edit|approve|skip|stop``, ``followupd snooze`` and ``followupd note``.

Every command takes an id prefix (as shown by ``outbox`` and ``status``) and turns the user's wish into a queued
request. If no daemon runs, the command takes the account lock and runs a cycle itself, which applies the request
(and sends, withdraws or re-drafts as needed); if the daemon runs, it is woken with SIGUSR1 and the command waits
for its answer. Either way exactly one process changes the mailbox.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import signal
import time
from email.message import EmailMessage
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.cli.root import State, handle_errors, main, outbox
from followupd.engine.drafts import OPEN_TOUCH_STATES
from followupd.engine.requests import APPROVE, EDIT, NOTE, SKIP, SNOOZE, STOP, queue_request
from followupd.errors import FollowupdError, LeaseHeldError, LockError
from followupd.planning.cadence import parse_duration

WAIT_FOR_DAEMON_SECONDS = 60.0


def resolve_id(session: Session, model: type[Any], prefix: str, what: str, listing: str) -> str:
    """The one id starting with ``prefix``; a clear error for none or several."""
    prefix = prefix.strip()
    if not prefix:
        raise click.BadParameter(f"give a {what} id (see `{listing}`)")
    column = model.id
    matches = list(session.scalars(select(column).where(column.startswith(prefix, autoescape=True)).limit(6)))
    if not matches:
        raise click.BadParameter(f"no {what} with an id starting {prefix!r}; `{listing}` lists them")
    if len(matches) > 1 and prefix not in matches:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise click.BadParameter(f"{prefix!r} matches several {what}s ({shown}); give more of the id")
    return prefix if prefix in matches else str(matches[0])


def _touch_id(state: State, prefix: str) -> str:
    """A follow-up id prefix; a thread id prefix stands for that thread's waiting follow-up (touch ids start
    with their thread's id, so "abc12" may match several touches of one thread)."""
    prefix = prefix.strip()
    with state.app(prefix).store.read() as session:
        touches = list(session.scalars(select(st.Touch).where(st.Touch.id.startswith(prefix, autoescape=True))
                                       .order_by(st.Touch.id).limit(50))) if prefix else []
        if len(touches) > 1 and prefix not in {t.id for t in touches} and len({t.thread_id for t in touches}) == 1:
            waiting = [t for t in touches if t.state in OPEN_TOUCH_STATES]
            if not waiting:
                raise click.BadParameter(f"thread {touches[0].thread_id} has no follow-up waiting; "
                                         "`followupd outbox --all` lists its follow-ups")
            return str(waiting[-1].id)
        return resolve_id(session, st.Touch, prefix, "follow-up", "followupd outbox --all")


def _thread_id(state: State, prefix: str) -> str:
    with state.app(prefix).store.read() as session:
        return resolve_id(session, st.Thread, prefix, "thread", "followupd status")


def _daemon_pid(app: Any) -> int | None:
    try:
        text = app.lock().path.read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def submit(state: State, kind: str, target: str, *, argument: str = "", flag: bool = False) -> None:
    """Queue the request, get it applied (by this process or the daemon), print its result."""
    app = state.app()
    with app.store.transaction() as session:
        request_id = queue_request(session, kind=kind, target=target, now=app.clock.now(), argument=argument,
                                   flag=flag).id
    try:
        with app.exclusive() as fence:
            try:
                app.cycle(fence=fence)
            except FollowupdError as exc:
                _apply_offline(app)
                click.echo(f"warning: could not reach the mailbox ({exc}); the rest happens on the next cycle",
                           err=True)
    except LockError as exc:
        # The lock file names the local daemon; a lease held elsewhere means another host: it applies the
        # request on its next cycle, and a pid read here could be a stale one of an unrelated process.
        pid = None if isinstance(exc, LeaseHeldError) else _daemon_pid(app)
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + WAIT_FOR_DAEMON_SECONDS
        while time.monotonic() < deadline and not _done(app, request_id):
            time.sleep(0.3)
    with app.store.read() as session:
        request = session.get(st.Request, request_id)
        assert request is not None
        if request.done_at is None:
            click.echo("queued: the running followupd will apply it on its next cycle")
            return
        click.echo(request.result)
        if not request.ok:
            raise SystemExit(2)


def _apply_offline(app: Any) -> None:
    """No mailbox: still apply the database side now (the drafts follow on the next cycle)."""
    from followupd.engine.requests import apply_requests

    with app.store.transaction() as session:
        apply_requests(session, app.config, app.clock.now())


def _done(app: Any, request_id: int) -> bool:
    with app.store.read() as session:
        request = session.get(st.Request, request_id)
        return request is not None and request.done_at is not None


@outbox.command("show")
@click.argument("touch")
@click.pass_obj
@handle_errors
def outbox_show(state: State, touch: str) -> None:
    """Print a follow-up in full, headers and body: a waiting draft as it is in your Drafts folder now (saying so
    if you edited it in your mail client), else as it was rendered (or sent)."""
    touch_id = _touch_id(state, touch)
    app = state.app(touch)
    with app.store.read() as session:
        row = session.get(st.Touch, touch_id)
        assert row is not None
        raw = row.sent_raw or row.raw or b""
        heading = f"# {row.id}: {row.state}" + (f" ({row.outcome})" if row.outcome else "")
        if row.state == st.TOUCH_QUEUED and row.raw:
            raw, where = _draft_in_drafts(app, row, raw)
            heading += where
    click.echo(heading)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    for name, value in message.items():
        click.echo(f"{name}: {value}")
    click.echo("")
    body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    click.echo(body.get_content() if body is not None else message.get_payload())


def _draft_in_drafts(app: Any, row: st.Touch, rendered: bytes) -> tuple[bytes, str]:
    """The waiting draft as it is in Drafts now, and what to say about it; the rendered text when the mailbox
    cannot be read (with a warning) or the draft is no longer there."""
    from followupd.engine.draft_view import read_current

    try:
        with app.mailbox() as box:
            folder = box.resolve_folders(sent=app.config.folders.sent, drafts=app.config.folders.drafts,
                                         watch=app.config.folders.watch).drafts
            current = read_current(box, folder, row) if folder else None
    except FollowupdError as exc:
        click.echo(f"warning: could not read your Drafts folder ({exc}); showing the draft as followupd wrote it",
                   err=True)
        return rendered, ""
    if current is None or current.raw is None:
        return rendered, (" (not in your Drafts folder now: sent or deleted? the next cycle tells; "
                          "as followupd wrote it)")
    if current.edited:
        return current.raw, f" (edited in your mail client; as it is in {folder} now)"
    return current.raw, f" (in {folder}, as followupd wrote it)"


@outbox.command("edit")
@click.argument("touch")
@click.pass_obj
@handle_errors
def outbox_edit(state: State, touch: str) -> None:
    """Edit a waiting follow-up's text in $EDITOR; the draft in your Drafts folder is replaced."""
    touch_id = _touch_id(state, touch)
    with state.app().store.read() as session:
        row = session.get(st.Touch, touch_id)
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
    submit(state, EDIT, touch_id, argument=message.as_bytes(policy=email.policy.SMTP).decode("utf-8",
                                                                                                "surrogateescape"))


@outbox.command("approve")
@click.argument("touch")
@click.option("--now", "send_now", is_flag=True, help="Send even outside the sending window.")
@click.pass_obj
@handle_errors
def outbox_approve(state: State, touch: str, send_now: bool) -> None:
    """Approve a follow-up for sending (needs [sending] mode = "approve" or "auto" and an [smtp] section)."""
    touch_id = _touch_id(state, touch)
    config = state.app(touch).config
    if config.sending.mode == "review" or config.smtp is None:
        raise click.UsageError('sending is off ([sending] mode = "review"); send the draft from your mail client, '
                               'or set [sending] mode = "approve" and add an [smtp] section')
    submit(state, APPROVE, touch_id, flag=send_now)


@outbox.command("skip")
@click.argument("touch")
@click.pass_obj
@handle_errors
def outbox_skip(state: State, touch: str) -> None:
    """Drop this follow-up (its draft is removed) and plan the next one."""
    submit(state, SKIP, _touch_id(state, touch))


@outbox.command("stop")
@click.argument("thread")
@click.pass_obj
@handle_errors
def outbox_stop(state: State, thread: str) -> None:
    """Stop following up on a thread; its waiting draft is removed."""
    submit(state, STOP, _thread_id(state, thread))


@main.command()
@click.argument("thread")
@click.argument("duration")
@click.pass_obj
@handle_errors
def snooze(state: State, thread: str, duration: str) -> None:
    """Hold a thread's follow-ups for DURATION (e.g. 2w, 5d); a waiting draft is withdrawn."""
    try:
        parse_duration(duration)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from exc
    submit(state, SNOOZE, _thread_id(state, thread), argument=duration)


@main.command()
@click.argument("thread")
@click.argument("text")
@click.pass_obj
@handle_errors
def note(state: State, thread: str, text: str) -> None:
    """Keep a personal note on a thread ("ask how the move went"); templates can use it. "" clears it."""
    submit(state, NOTE, _thread_id(state, thread), argument=text)

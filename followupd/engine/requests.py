"""What the user asks from the CLI (approve, skip, stop, snooze, note, edit, an action item done or dropped, a
suggestion tracked or ignored, a reply owed done), applied by the one writer.

The CLI only queues a ``Request`` row; whoever holds the account lock applies pending requests at the start of
its cycle, inside the cycle's transaction. So a running daemon and a CLI command can never race over the same
thread or draft, and a crash leaves a request either applied (with its result) or still pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.config import Config
from followupd.engine import awaiting
from followupd.engine.drafts import replan_thread
from followupd.errors import RequestRefused
from followupd.planning import lifecycle
from followupd.planning.cadence import parse_duration
from followupd.planning.lifecycle import awaiting as awaiting_states
from followupd.planning.lifecycle import items

logger = logging.getLogger(__name__)

APPROVE, SKIP, STOP, SNOOZE, NOTE, EDIT = "approve", "skip", "stop", "snooze", "note", "edit"
ITEM_DONE, ITEM_DROP = "item_done", "item_drop"
TRACK, IGNORE = "track", "ignore"  # a suggestion (followupd.engine.awaiting)
OWED_DONE = "owed_done"  # a reply the user owes (followupd.engine.owed)
REQUEST_KINDS = (APPROVE, SKIP, STOP, SNOOZE, NOTE, EDIT, ITEM_DONE, ITEM_DROP, TRACK, IGNORE, OWED_DONE)


def queue_request(session: Session, *, kind: str, target: str, now: datetime, argument: str = "",
                  flag: bool = False, raw: bytes | None = None) -> st.Request:
    if kind not in REQUEST_KINDS:
        raise ValueError(f"unknown request kind {kind!r}")
    request = st.Request(created=now, kind=kind, target=target, argument=argument, flag=flag)
    session.add(request)
    if raw is not None:  # an edited draft travels in the request's argument as text
        request.argument = raw.decode("utf-8", "surrogateescape")
    session.flush()
    return request


def apply_requests(session: Session, config: Config, now: datetime) -> list[str]:
    """Apply every pending request in order; returns one line per request for the cycle's report."""
    lines = []
    pending = list(session.scalars(select(st.Request).where(st.Request.done_at.is_(None)).order_by(st.Request.id)))
    for request in pending:
        handler = _HANDLERS[request.kind]
        try:
            result = handler(session, config, request, now)
            request.ok = True
        except RequestRefused as exc:
            result = str(exc)
            request.ok = False
        request.result = result
        request.done_at = now
        logger.info("request %s %s: %s", request.kind, request.target, result)
        lines.append(f"{request.kind} {request.target}: {result}")
    return lines


def _touch(session: Session, touch_id: str) -> st.Touch:
    touch = session.get(st.Touch, touch_id)
    if touch is None:
        raise RequestRefused(f"follow-up {touch_id} no longer exists")
    return touch


def _thread(session: Session, thread_id: str) -> st.Thread:
    thread = session.get(st.Thread, thread_id)
    if thread is None:
        raise RequestRefused(f"thread {thread_id} no longer exists")
    return thread


def _approve(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    if config.sending.mode == "review" or config.smtp is None:
        raise RequestRefused('sending is off ([sending] mode = "review"); send it from your mail client, or set '
                             'mode = "approve" and add an [smtp] section')
    touch = _touch(session, request.target)
    if touch.thread.state != st.WAITING:
        raise RequestRefused(f"not sent: the thread is {touch.thread.state} ({touch.thread.state_reason})")
    if not lifecycle.approve(touch, now=now, send_now=request.flag):
        raise RequestRefused(f"follow-up {touch.id} is {touch.state}, not waiting to be sent")
    st.add_event(session, touch.thread, at=now, kind="approved", message_id=f"request-{request.id}",
                 detail=f"you approved {touch.id}" + (" to send now" if request.flag else ""))
    return "approved" + ("; sending now" if request.flag else "; it is sent inside your sending window")


def _skip(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    touch = _touch(session, request.target)
    thread = touch.thread
    if not lifecycle.user_skip(touch, thread, now=now):
        raise RequestRefused(f"follow-up {touch.id} is {touch.state}; only a waiting one can be skipped")
    st.add_event(session, thread, at=now, kind="draft_skipped", message_id=touch.message_id,
                 detail="you skipped it from the CLI")
    replan_thread(session, thread, config, now)
    when = thread.next_due.astimezone(config.identity.timezone).strftime("%a %d %b") if thread.next_due else None
    return "skipped; " + (f"next follow-up planned for {when}" if when else "that was the last one")


def _stop(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    thread = _thread(session, request.target)
    if not lifecycle.user_stop(thread, now=now):
        raise RequestRefused(f"thread {thread.id} is already {thread.state}")
    st.add_event(session, thread, at=now, kind="stopped", message_id=f"request-{request.id}",
                 detail="you stopped following up on this thread")
    return "stopped; no more follow-ups for this thread"


def _snooze(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    thread = _thread(session, request.target)
    if thread.state != st.WAITING:
        raise RequestRefused(f"thread {thread.id} is {thread.state}; only a waiting thread can be snoozed")
    lifecycle.user_snooze(thread, until=now + parse_duration(request.argument), now=now)
    replan_thread(session, thread, config, now)
    st.add_event(session, thread, at=now, kind="snoozed", message_id=f"request-{request.id}",
                 detail=f"snoozed for {request.argument}")
    when = thread.next_due.astimezone(config.identity.timezone).strftime("%a %d %b %H:%M") if thread.next_due else "-"
    return f"snoozed; next follow-up not before {when}"


def _note(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    thread = _thread(session, request.target)
    thread.note = request.argument.strip()
    st.add_event(session, thread, at=now, kind="note", message_id=f"request-{request.id}",
                 detail=f"note: {thread.note}" if thread.note else "note cleared")
    return "note saved; templates can use it as {{ note }}" if thread.note else "note cleared"


def _edit(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    touch = _touch(session, request.target)
    if not lifecycle.draft_edited(touch, raw=request.argument.encode("utf-8", "surrogateescape"), now=now):
        raise RequestRefused(f"follow-up {touch.id} is {touch.state}; only a waiting draft can be edited")
    st.add_event(session, touch.thread, at=now, kind="draft_edited", message_id=f"request-{request.id}",
                 detail="you edited the draft from the CLI")
    return "draft updated in your Drafts folder"


def _item_done(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    return _close_item(session, config, request, now, dropped=False)


def _item_drop(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    return _close_item(session, config, request, now, dropped=True)


def _close_item(session: Session, config: Config, request: st.Request, now: datetime, *, dropped: bool) -> str:
    """``followupd items done|drop ID``: the item closes once, with an audit event; the owner's check-in still
    waiting in Drafts goes when none of their items is open any more, and the recap's thread closes (withdrawing
    whatever still waits) when no item at all is."""
    item = session.get(st.ActionItem, request.target)
    if item is None:
        raise RequestRefused(f"action item {request.target} no longer exists")
    thread = item.thread
    change = items.user_drop if dropped else items.user_done
    if not change(item, at=now):
        raise RequestRefused(f"action item {item.id} is already {item.state}"
                             + (f" ({item.outcome})" if item.outcome else ""))
    who = item.owner_email or item.owner_name or "nobody matched"
    verb = "dropped" if dropped else "marked done"
    st.add_event(session, thread, at=now, kind="item_dropped" if dropped else "item_done",
                 message_id=f"request-{request.id}", detail=f"you {verb} {item.id} ({who}: {item.task})")
    result = f"{item.id} {verb}"
    owner = item.owner_email
    if owner:
        # A check-in still waiting lists the item just closed: it goes. With other items of theirs open, the
        # next cycle drafts a fresh one about those (a withdrawn check-in never counted as a step).
        left = any(items.is_open(other) for other in thread.item_rows if other.owner_email == owner)
        why = f"{item.id} was closed by you" if left else f"no action item of {owner} is open"
        if items.withdraw_checkins(thread.touch_rows, owner, now, why):
            result += f"; the check-in waiting for {owner} is withdrawn" + (
                " (a new one will list their other open items)" if left else "")
    if items.settle(thread, thread.item_rows, now=now):
        st.add_event(session, thread, at=now, kind="items_closed", message_id=f"request-{request.id}",
                     detail=f"{thread.state}: {thread.state_reason}")
        return result + f"; every action item is closed, so the thread is {thread.state}"
    replan_thread(session, thread, config, now)
    still = sum(items.is_open(other) for other in thread.item_rows)
    return result + f"; {still} item(s) of the recap still open"


def _track(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    return awaiting.track_request(session, config, request.target, request.argument, now)


def _ignore(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    return awaiting.ignore_request(session, config, request.target, now)


def _owed_done(session: Session, config: Config, request: st.Request, now: datetime) -> str:
    """``followupd owed done ID``: the reply owed closes "by hand", once; nothing is drafted or sent."""
    row = session.get(st.Owed, request.target)
    if row is None:
        raise RequestRefused(f"owed reply {request.target} no longer exists")
    if not awaiting_states.owed_done(row, at=now):
        raise RequestRefused(f"{row.id} is already {row.state}" + (f" ({row.closed_by})" if row.closed_by else ""))
    return f"{row.id} done; no longer listed as a reply you owe"


_HANDLERS: dict[str, Callable[[Session, Config, st.Request, datetime], str]] = {
    APPROVE: _approve, SKIP: _skip, STOP: _stop, SNOOZE: _snooze, NOTE: _note, EDIT: _edit,
    ITEM_DONE: _item_done, ITEM_DROP: _item_drop, TRACK: _track, IGNORE: _ignore, OWED_DONE: _owed_done,
}

"""A thread's schedule: when its next check-in is due (in whose time zone), re-planning it, and the facts the
template choice needs (which templates a thread's people saw lately).

Shared by the cycle, drafting, sending, requests and the preview, so they all plan alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from followupd.adapters import store as st
from followupd.config import Config
from followupd.planning import lifecycle
from followupd.planning.cadence import due_time, fit_to_window
from followupd.planning.checkins import ItemView, OwnerCheckin, next_rollup, owner_checkins
from followupd.planning.lifecycle import OPEN_TOUCH_STATES
from followupd.planning.lifecycle import items as item_states
from followupd.planning.recipient_clock import decode as decode_offsets
from followupd.planning.recipient_clock import likely_offset, zone_for
from followupd.planning.recipient_clock import meta_key as offsets_key

logger = logging.getLogger("followupd.engine.drafts")  # logs as "followupd.drafts", as it always did


def touch_id(thread_id: str, number: int) -> str:
    """``<thread>-<nnn>``, fixed width: IMAP's SEARCH HEADER matches substrings (RFC 3501 §6.4.4), so "abc-1"
    would also find "abc-12"; with a fixed width no id is a substring of another."""
    return f"{thread_id}-{number:03d}"


def templates_seen_by_people(session: Session, thread: st.Thread) -> set[str]:
    """Templates this thread's people got lately in other threads: avoided so nobody sees the same note twice.

    The drafter chooses with it, and `preview` predicts with it, so the two always agree."""
    emails = {p["email"] for p in thread.participants()}
    rows = session.scalars(select(st.Touch).where(st.Touch.thread_id != thread.id,
                                                  st.Touch.state != st.TOUCH_WITHDRAWN)
                           .order_by(st.Touch.created.desc()).limit(200))
    return {touch.template for touch in rows if emails & {p["email"] for p in touch.thread.participants()}}


def template_usage(session: Session) -> dict[str, datetime]:
    """When each variant was last used in any thread, so the library takes turns (least recently used)."""
    rows = session.execute(
        select(st.Touch.template, func.max(st.Touch.created))
        .where(st.Touch.state != st.TOUCH_WITHDRAWN, st.Touch.template != "").group_by(st.Touch.template))
    return {template: st.as_utc(last) for template, last in rows if last is not None}



def recipient_offset(thread: st.Thread, config: Config) -> tuple[str, int] | None:
    """With ``[cadence] recipient_time``: (address, UTC offset in minutes) of the first recipient whose clock
    was learned from their own mail (followupd.planning.recipient_clock); None otherwise, or when nobody's is known."""
    if not config.cadence.recipient_time:
        return None
    session = object_session(thread)
    if session is None:
        return None
    for entry in (*thread.to, *thread.cc, *thread.bcc):
        offset = likely_offset(decode_offsets(st.get_meta(session, offsets_key(entry["email"]))))
        if offset is not None:
            return entry["email"], offset
    return None


def thread_zone(thread: st.Thread, config: Config) -> tzinfo:
    """The zone a thread's send hours and days apply in: the recipient's learned clock with
    ``[cadence] recipient_time``, else (and when it is not known yet) the user's own zone."""
    learned = recipient_offset(thread, config)
    return zone_for(learned[1]) if learned is not None else config.identity.timezone


def next_due_for(thread: st.Thread, config: Config) -> datetime | None:
    """The thread's next check-in under the current cadence; None when the sequence is finished."""
    return due_time(
        sent_at=thread.sent_at, last_touch_at=thread.last_touch_at, touches_done=thread.steps,
        promised=thread.promised, settings=config.cadence, tz=thread_zone(thread, config), seed=thread.id,
    )


def planned_due(thread: st.Thread, config: Config) -> datetime | None:
    """The next check-in :func:`replan_thread` sets: the cadence's, but never inside a snooze."""
    due = recap_due(thread, config) if thread.kind == st.ACTIONS else next_due_for(thread, config)
    if due is not None and thread.snoozed_until is not None and due < thread.snoozed_until:
        due = fit_to_window(thread.snoozed_until, config.cadence, thread_zone(thread, config))
    return due


def replan_thread(session: Session, thread: st.Thread, config: Config, now: datetime) -> bool:
    """Set the waiting thread's next check-in; close it as unanswered when the sequence is over.

    Returns True when it closed the thread."""
    if not lifecycle.rescheduled(thread, planned_due(thread, config), now):
        return False
    st.add_event(session, thread, at=now, kind="unanswered", message_id=thread.message_id,
                 detail=thread.state_reason)
    logger.info("%s: closed as unanswered (%s)", thread.id, thread.state_reason)
    return True


def open_touch(thread: st.Thread) -> st.Touch | None:
    for touch in thread.touch_rows:
        if touch.state in OPEN_TOUCH_STATES:
            return touch
    return None


def keep_promise(session: Session, thread: st.Thread, now: datetime, *, at: datetime, by: str, how: str,
                 message_id: str = "") -> None:
    """The user wrote in a commitment thread: the promise is kept (:func:`lifecycle.promise_kept`), and said so."""
    reason = lifecycle.promise_kept(thread, how=how, by=by, at=at, now=now)
    st.add_event(session, thread, at=now, kind="promise_kept", message_id=message_id or thread.message_id,
                 detail=reason)
    logger.info("%s: %s", thread.id, reason)


# ------------------------------------------------------------------------------------------- meeting recaps


@dataclass(frozen=True)
class RecapPlan:
    """A recap's next drafts: each owner's next check-in (owners with one still waiting are left out: one at a
    time per owner) and the next roll-up (None while one waits, or when none is due any more)."""

    checkins: tuple[OwnerCheckin, ...]
    rollup_at: datetime | None


def touch_set(template: str) -> str | None:
    """``"checkin"`` for a check-in with one owner, ``"rollup"`` for the roll-up, None for any other touch;
    read from the template key (``actions/rollup/x.txt``, ``de/actions/checkin/y.txt``)."""
    parts = template.split("/")
    if "actions" not in parts[:2]:
        return None
    return "rollup" if "rollup" in parts else "checkin"


def item_views(thread: st.Thread) -> list[ItemView]:
    """The recap's items as the planner sees them; an owner whose address bounced for good is nobody to ask."""
    failed = set(thread.failed_recipients or ())
    return [ItemView(owner=item.owner_email if item.owner_email not in failed else None, due=item.due,
                     open=item_states.is_open(item), wait_until=item.wait_until) for item in thread.item_rows]


def recap_plan(thread: st.Thread, config: Config) -> RecapPlan:
    """What :mod:`followupd.planning.checkins` plans for the recap, from the check-ins and roll-ups made so far
    (a withdrawn one never reached anybody and does not count)."""
    checkins: dict[str, list[datetime]] = {}
    rollups: list[datetime] = []
    waiting_owners: set[str] = set()
    rollup_waiting = False
    for touch in thread.touch_rows:
        kind = touch_set(touch.template)
        if kind is None or touch.state == st.TOUCH_WITHDRAWN:
            continue
        waiting = touch.state in OPEN_TOUCH_STATES
        if kind == "rollup":
            rollups.append(touch.created)
            rollup_waiting |= waiting
        elif touch.to:
            owner = touch.to[0]["email"]
            checkins.setdefault(owner, []).append(touch.created)
            if waiting:
                waiting_owners.add(owner)
    views = item_views(thread)
    tz = config.identity.timezone
    plans = owner_checkins(views, sent_at=thread.sent_at, done=dict(checkins), settings=config.actions,
                           cadence=config.cadence, tz=tz)
    rollup_at = None if rollup_waiting else next_rollup(views, sent_at=thread.sent_at, done_rollups=rollups,
                                                         settings=config.actions, cadence=config.cadence, tz=tz)
    return RecapPlan(tuple(plan for plan in plans if plan.owner not in waiting_owners), rollup_at)


def recap_due(thread: st.Thread, config: Config) -> datetime | None:
    """The soonest of the recap's next check-ins and roll-up; None when nothing more is planned."""
    plan = recap_plan(thread, config)
    times = [checkin.at for checkin in plan.checkins]
    if plan.rollup_at is not None:
        times.append(plan.rollup_at)
    return min(times, default=None)

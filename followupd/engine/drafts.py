"""Follow-up drafts, exactly once: plan a touch (in the database), then make the mailbox agree with it.

Every touch has a deterministic id (``<thread>-<number>``, kept in the database) and a deterministic Message-ID
that looks like any mail client's (:func:`~followupd.compose.draft_message_id`). The draft carries no marker
header: it is mail the user sends to people, and nothing in it may show a tool wrote it (issue 18). The intent
(a Touch row in state ``planned`` with the rendered bytes and that Message-ID) is committed BEFORE anything is
APPENDed; the APPEND is confirmed AFTER. A crash in between leaves a ``planned`` touch whose draft may or may
not exist, so the next cycle first looks in Drafts for its recorded Message-ID and only APPENDs when it is not
there: never two drafts for one touch. Deleting works the same way: only messages that carry the Message-ID
recorded for one of our touches (an id nobody else can have written) are ever removed. Drafts appended by
older versions carry an ``X-Followupd-Id`` header instead; they are recognised by it as well.

A commitment thread (the user's own promise, ``+followup-me``) is due the same way, but gets no follow-up: a
reminder lands in the user's INBOX (unread, ``X-Followupd-Id: <thread>.r<nnn>``) and an update draft in Drafts,
replying in the thread to the recipients, unless one still waits there. Each reminder is one step of the
cadence; the reminder is recorded and appended exactly once, like a draft. The user's own message in the
thread keeps the promise (:func:`keep_promise`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, object_session

from followupd.adapters import store as st
from followupd.compose.choice import choose_variant, stage_for_touch
from followupd.compose.library import TemplateLibrary
from followupd.compose.message import build_draft, build_reminder, draft_message_id, reminder_message_id
from followupd.compose.render import RenderContext, render
from followupd.compose.variant import COMMITMENT_STAGES, REMINDER_STAGE, UPDATE_STAGE
from followupd.config import Config
from followupd.engine.checkins import RecapDrafter
from followupd.engine.drafts_sync import (
    FOLLOWUPD_HEADER,
    REMINDER_FOLDER,
    DraftReport,
    DraftsIndex,
    DraftsPort,
    DraftsSync,
    append_once,
)
from followupd.engine.names import named_recipients
from followupd.engine.schedule import (
    keep_promise,
    next_due_for,
    open_touch,
    planned_due,
    recipient_offset,
    replan_thread,
    template_usage,
    templates_seen_by_people,
    thread_zone,
    touch_id,
)
from followupd.errors import TemplateError
from followupd.mail.headers import Address
from followupd.mail.patterns import lazy_pattern
from followupd.planning import lifecycle
from followupd.planning.cadence import fit_to_window, respect_person_spacing
from followupd.planning.lifecycle import OPEN_TOUCH_STATES

# Names the rest of followupd (cycle, sending, preview, the CLI) has always imported from here.
__all__ = ["FOLLOWUPD_HEADER", "OPEN_TOUCH_STATES", "REMINDER_FOLDER", "DraftReport", "Drafter", "DraftsIndex",
           "DraftsPort", "DraftsSync", "append_once", "is_reminder_id", "keep_promise", "next_due_for",
           "open_touch", "planned_due", "recipient_offset", "reminder_id", "replan_thread", "template_usage",
           "templates_seen_by_people", "thread_zone", "touch_id"]

logger = logging.getLogger(__name__)

#: The display name on a reminder; the address is the user's own, so no filter takes it for spam.
REMINDER_SENDER = "followupd"
_REMINDER_ID = lazy_pattern(r"[A-Za-z0-9_-]+\.r\d{3,}")


def _reachable(thread: st.Thread) -> Callable[[list[dict[str, str]]], tuple[Address, ...]]:
    """Addresses of a thread minus those that bounced for good (a follow-up never goes to a dead address) and,
    with ``-all``, minus those who already answered."""
    excluded = set(thread.failed_recipients or ())
    if thread.expect_all:
        excluded |= set(thread.answered_by or ())  # "-all": the next follow-up goes only to those still silent
    return lambda entries: tuple(a for a in _addresses(entries) if a.email not in excluded)



def reminder_id(thread_id: str, number: int) -> str:
    """``<thread>.r<nnn>``: the X-Followupd-Id of the n-th reminder about a promise.

    IMAP's SEARCH HEADER matches substrings, so this id must not contain a touch id (``<thread>-<nnn>``) nor be
    contained in one: the "." and the "r" see to both (thread ids are hex), and the fixed width keeps
    ``.r001`` out of ``.r0010``. So a search for a draft's id never finds a reminder, nor the reverse."""
    return f"{thread_id}.r{number:03d}"


def is_reminder_id(value: str | None) -> bool:
    """Whether an X-Followupd-Id value marks one of our reminders (never mail, never a touch)."""
    return bool(value) and _REMINDER_ID.fullmatch((value or "").strip()) is not None


def _addresses(entries: list[dict[str, str]]) -> tuple[Address, ...]:
    return tuple(Address(e["email"], e.get("name", "")) for e in entries)



class Drafter:
    """Decides which threads get a draft now and renders it; ``act`` then syncs Drafts with the decisions."""

    def __init__(self, config: Config, library: TemplateLibrary) -> None:
        self.config = config
        self.library = library
        self.tz: ZoneInfo = config.identity.timezone

    # ---------------------------------------------------------------- planning (inside the cycle's transaction)
    def plan(self, session: Session, now: datetime, report: DraftReport) -> None:
        """Create a ``planned`` touch for every waiting thread that is due now, inside the sending window."""
        # With recipient_time the window is each thread's recipient's: checked per thread in _plan_thread.
        in_window = self.config.cadence.recipient_time or fit_to_window(now, self.config.cadence, self.tz) == now
        if not in_window:
            return
        # A follow-up thread whose draft still waits stays due until the draft is sent or skipped; it gets no new
        # one (one at a time), so it is left out here rather than loaded and looked at every cycle: with 376
        # drafts waiting that was 376 queries and savepoints in each quiet cycle (bench/). Promises are kept:
        # their reminders go on while the update draft waits.
        waiting_draft = select(st.Touch.id).where(st.Touch.thread_id == st.Thread.id,
                                                  st.Touch.state.in_(OPEN_TOUCH_STATES)).exists()
        due = list(session.scalars(
            select(st.Thread).where(st.Thread.state == st.WAITING, st.Thread.next_due.is_not(None),
                                    st.Thread.next_due <= now,
                                    or_(st.Thread.kind.in_((st.COMMITMENT, st.ACTIONS)), ~waiting_draft))
            .order_by(st.Thread.next_due)))
        if not due:
            return
        nudges = self._recent_nudge_days(session, now)
        for thread in due:
            try:
                with session.begin_nested():  # one thread's failure rolls back that thread only
                    self._plan_thread(session, thread, now, report, nudges)
            except Exception as exc:  # a bug or hostile data in one thread must never stop the others
                logger.exception("%s: could not prepare its follow-up; skipped this cycle", thread.id)
                report.errors.append(f"{thread.id}: {exc}")
                problem = f"could not prepare a follow-up: {exc}"
                if problem not in thread.problems:
                    thread.problems = [*thread.problems, problem]

    def _plan_thread(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport,
                     nudges: dict[str, set[date]]) -> None:
        if thread.kind == st.COMMITMENT:
            self._remind(session, thread, now, report)
            return
        if thread.kind == st.ACTIONS:  # a meeting recap: one check-in per owner, and the roll-up
            RecapDrafter(self.config, self.library).plan(session, thread, now, report, nudges)
            replan_thread(session, thread, self.config, now)
            return
        if open_touch(thread) is not None:
            return  # one draft at a time per thread: an outage never produces a burst
        if not thread.participants():
            return
        zone = thread_zone(thread, self.config)
        if self.config.cadence.recipient_time and fit_to_window(now, self.config.cadence, zone) != now:
            return  # outside the recipient's sending window (a catch-up after an outage): stays due
        spaced = self._spaced(thread, now, nudges, zone)
        if spaced > now:
            thread.next_due = spaced
            logger.info("%s: postponed to %s so nobody is nudged on consecutive days", thread.id,
                        spaced.astimezone(self.tz).isoformat())
            return
        touch = self._make_touch(session, thread, now, report)
        if touch is not None:
            session.flush()
            for person in thread.participants():
                nudges.setdefault(person["email"], set()).add(now.astimezone(self.tz).date())

    def _recent_nudge_days(self, session: Session, now: datetime) -> dict[str, set[date]]:
        """Local dates on which each person got (or will get) a follow-up, from any thread."""
        horizon = now - timedelta(days=max(self.config.cadence.min_days_between_nudges_per_person, 2) + 1)
        rows = session.scalars(select(st.Touch).where(
            st.Touch.created >= horizon,
            st.Touch.state.in_((st.TOUCH_PLANNED, st.TOUCH_QUEUED, st.TOUCH_SENT))))
        days: dict[str, set[date]] = {}
        for touch in rows:
            if touch.thread.kind == st.COMMITMENT:
                continue  # an update about the user's own promise is not a nudge
            when = (touch.done_at if touch.state == st.TOUCH_SENT and touch.done_at else touch.created)
            # A recap's check-in reaches its owner only; a follow-up (or roll-up) everyone on the thread.
            people = touch.to if touch.thread.kind == st.ACTIONS else touch.thread.participants()
            for person in people:
                days.setdefault(person["email"], set()).add(when.astimezone(self.tz).date())
        return days

    def _spaced(self, thread: st.Thread, now: datetime, nudges: dict[str, set[date]], zone: tzinfo) -> datetime:
        if thread.promised is not None and thread.steps == 0:
            return now  # the date the user promised up front is honoured, even next to another nudge
        others: set[date] = set()
        for person in thread.participants():
            others |= nudges.get(person["email"], set())
        if not others:
            return now
        return respect_person_spacing(now, others, self.config.cadence, zone)

    def _reason(self, session: Session, thread: st.Thread, stage: str, total: int) -> str:
        """One line a user reads in the outbox: why this follow-up, why now."""
        tz = self.tz
        if stage in COMMITMENT_STAGES:
            return f"you promised an update on {thread.sent_at.astimezone(tz):%d %b}"
        since = max(thread.sent_at, thread.last_touch_at or thread.sent_at)
        parts = [f"no reply since {since.astimezone(tz):%d %b}", f"touch {thread.steps + 1} of {total}"]
        if thread.steps == 0 and thread.promised is not None:
            parts.append(f"you promised to check in on {thread.promised:%d %b}")
        if thread.snoozed_until is not None:
            postponed = session.scalar(select(st.Event).where(st.Event.thread_id == thread.id,
                                                              st.Event.kind.in_(("postponed", "holding", "snoozed")))
                                       .order_by(st.Event.id.desc()).limit(1))
            if postponed is not None:
                parts.append(postponed.detail.split(";")[0])
        if thread.expect_all and thread.answered_by:
            parts.append(f"{', '.join(thread.answered_by)} already answered")
        return "; ".join(parts)

    def _remind(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport) -> None:
        """A promise the user made is due: a reminder to their INBOX, and an update draft unless one still waits.

        Each reminder is one step of the cadence, whatever becomes of the draft; per-person spacing does not
        apply, because the reminder goes to the user. A send of the update in flight settles it instead."""
        pending = open_touch(thread)
        if (pending is not None and pending.state == st.TOUCH_SENDING) or not thread.participants():
            return  # an update on its way settles it; without recipients nobody awaits one (status says so)
        if pending is None:
            pending = self._make_touch(session, thread, now, report, stage=UPDATE_STAGE)
        if self._make_reminder(session, thread, now, report, draft=pending) is None:
            return
        lifecycle.reminded(thread, now=now)
        replan_thread(session, thread, self.config, now)

    def _context(self, thread: st.Thread, now: datetime) -> RenderContext:
        """What the template sees. A recipient the user wrote to by bare address is greeted by the name learned
        from the mail (followupd.engine.names); the draft's To/Cc stay as the user wrote them (:meth:`_make_touch`)."""
        reachable = _reachable(thread)
        session = object_session(thread)
        return RenderContext(
            recipients=named_recipients(session, reachable(thread.to) or reachable(thread.cc)
                                        or reachable(thread.bcc)),
            cc=named_recipients(session, reachable(thread.cc)) if reachable(thread.to) else (),
            original_subject=thread.subject, sent_at=thread.sent_at, now=now, tz=self.tz,
            touch_number=thread.steps + 1, total_touches=len(self.config.cadence.gaps), promised=thread.promised,
            user_name=self.config.identity.name, signature=self.config.identity.signature,
            note=thread.note or None,
        )

    def _make_reminder(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport, *,
                       draft: st.Touch | None) -> st.Reminder | None:
        number = max((r.number for r in thread.reminder_rows), default=0) + 1
        rid = reminder_id(thread.id, number)
        library = self.library.for_message(thread.subject)
        used = {r.template for r in thread.reminder_rows if r.template}
        last = {thread.reminder_rows[-1].template} if thread.reminder_rows else set()
        # Every variant once, then any but the last one again: a reminder to oneself may repeat, not stutter.
        variant = (choose_variant(library, REMINDER_STAGE, used_in_thread=used, seed=rid)
                   or choose_variant(library, REMINDER_STAGE, used_in_thread=last, seed=rid)
                   or choose_variant(library, REMINDER_STAGE, used_in_thread=(), seed=rid))
        if variant is None:
            message = (f"{thread.id}: no template for the reminder about your promise; add one in "
                       f"{REMINDER_STAGE}/ of your templates")
            logger.error(message)
            report.errors.append(message)
            return None
        own = thread.from_email or self.config.identity.addresses[0]
        domain = (own.rpartition("@")[2] or "followupd.invalid").lower()
        message_id = reminder_message_id(thread.id, number, domain)
        try:
            rendered = render(variant, self._context(thread, now))
            raw = build_reminder(rendered=rendered, from_=Address(own, REMINDER_SENDER),
                                 to=Address(own, self.config.identity.name), message_id=message_id,
                                 followupd_id=rid, date=now)
        except (TemplateError, ValueError) as exc:
            logger.error("%s: reminder skipped: %s", thread.id, exc)
            report.errors.append(f"{thread.id}: {exc}")
            return None
        reminder = st.Reminder(id=rid, thread_id=thread.id, number=number, template=rendered.template,
                               message_id=message_id, subject=rendered.subject,
                               touch_id=draft.id if draft is not None else None, created=now, raw=raw)
        lifecycle.plan_reminder(reminder)
        thread.reminder_rows.append(reminder)
        total = len(self.config.cadence.gaps)
        st.add_event(session, thread, at=now, kind="reminder_planned", message_id=message_id,
                     detail=f"reminder {thread.steps + 1} of {total} about your promise, from {rendered.template}")
        report.reminded.append(rid)
        return reminder

    def _make_touch(self, session: Session, thread: st.Thread, now: datetime, report: DraftReport, *,
                    stage: str | None = None) -> st.Touch | None:
        number = max((t.number for t in thread.touch_rows), default=0) + 1
        total = len(self.config.cadence.gaps)
        library = self.library.for_message(thread.subject)  # the thread's language set ([templates] lang)
        stage = stage or stage_for_touch(thread.steps + 1, total, library.stages())
        used = {t.template for t in thread.touch_rows if t.template}
        people = templates_seen_by_people(session, thread)
        usage = template_usage(session)
        variant = choose_variant(library, stage, used_in_thread=used, recently_used_with_person=people,
                                 usage=usage, seed=touch_id(thread.id, number))
        if variant is None and stage in COMMITMENT_STAGES:  # a later update may repeat an earlier wording
            variant = choose_variant(library, stage, used_in_thread=(), recently_used_with_person=people,
                                     usage=usage, seed=touch_id(thread.id, number))
        if variant is None:
            message = f"{thread.id}: no unused template left for stage {stage!r}; add variants to the templates"
            logger.error(message)
            report.errors.append(message)
            return None
        ctx = self._context(thread, now)
        try:
            rendered = render(variant, ctx)
        except TemplateError as exc:
            logger.error("%s: draft skipped: %s", thread.id, exc)
            report.errors.append(f"{thread.id}: {exc}")
            return None
        reachable = _reachable(thread)  # the addresses as the user wrote them, without the learned names
        to = reachable(thread.to) or reachable(thread.cc) or reachable(thread.bcc)
        cc = reachable(thread.cc) if reachable(thread.to) else ()
        domain = (thread.from_email.rpartition("@")[2] or "followupd.invalid").lower()
        tid = touch_id(thread.id, number)
        message_id = draft_message_id(thread.id, number, domain)
        raw = build_draft(
            rendered=rendered, from_=Address(thread.from_email, thread.from_name or self.config.identity.name),
            to=to, cc=cc, in_reply_to=thread.message_id,
            references=[*thread.references, thread.message_id], message_id=message_id,
            date=now, exclude=(*self.config.identity.addresses, thread.tracking_address),
        )
        touch = st.Touch(
            id=tid, thread_id=thread.id, number=number, template=rendered.template,
            message_id=message_id, subject=rendered.subject,
            to=[{"email": a.email, "name": a.name} for a in to],
            due_at=thread.next_due, created=now, raw=raw, reason=self._reason(session, thread, stage, total),
        )
        lifecycle.plan_touch(touch)
        thread.touch_rows.append(touch)
        what = "update for your promise" if stage in COMMITMENT_STAGES else f"touch {thread.steps + 1} of {total}"
        st.add_event(session, thread, at=now, kind="draft_planned", message_id=message_id,
                     detail=f"{what} from {rendered.template}")
        report.drafted.append(tid)
        return touch

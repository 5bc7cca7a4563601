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

import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, object_session

from followupd.adapters import store as st
from followupd.adapters.faults import crash_point
from followupd.compose.render import (
    COMMITMENT_STAGES,
    REMINDER_STAGE,
    UPDATE_STAGE,
    RenderContext,
    TemplateLibrary,
    build_draft,
    build_reminder,
    choose_variant,
    draft_message_id,
    reminder_message_id,
    render,
    stage_for_touch,
)
from followupd.config import Config
from followupd.errors import TemplateError
from followupd.mail.headers import Address, extract_message_ids
from followupd.planning import lifecycle
from followupd.planning.cadence import due_time, fit_to_window, respect_person_spacing
from followupd.planning.lifecycle import OPEN_TOUCH_STATES as OPEN_TOUCH_STATES  # re-exported for cli/outbox
from followupd.planning.recipient_clock import decode as decode_offsets
from followupd.planning.recipient_clock import likely_offset, zone_for
from followupd.planning.recipient_clock import meta_key as offsets_key

if TYPE_CHECKING:
    from followupd.adapters.imap import FetchedHeader, FolderStatus

logger = logging.getLogger(__name__)

FOLLOWUPD_HEADER = "X-Followupd-Id"
#: A queued draft that vanished from Drafts is "skipped" only after this long: a mail client sending it may
#: delete the draft a moment before its copy lands in Sent, and we must not mistake a send for a skip.
MISSING_GRACE = timedelta(minutes=10)
#: Where reminders about the user's own promises go. RFC 3501 §5.1: every account has an INBOX.
REMINDER_FOLDER = "INBOX"
#: The display name on a reminder; the address is the user's own, so no filter takes it for spam.
REMINDER_SENDER = "followupd"
_REMINDER_ID = re.compile(r"[A-Za-z0-9_-]+\.r\d{3,}")
#: The headers a draft of ours is recognised by (see :class:`DraftsIndex`), read from Drafts in one pass.
DRAFT_FIELDS = ("X-FOLLOWUPD-ID", "MESSAGE-ID", "IN-REPLY-TO")
#: followupd_meta key: how Drafts looked when every queued draft was last found there (see ``_reconcile``).
DRAFTS_SEEN_KEY = "drafts_seen"


class DraftsPort(Protocol):
    """What drafting needs from the IMAP adapter."""

    def search_header(self, folder: str, name: str, value: str) -> list[int]: ...
    def append(self, folder: str, message: bytes, *, flags: Sequence[bytes] = ...,
               msg_time: datetime | None = None) -> int | None: ...
    def delete_messages(self, folder: str, uids: Sequence[int]) -> None: ...
    def examine(self, folder: str) -> FolderStatus: ...
    def fetch_headers_since(self, folder: str, last_uid: int, fields: tuple[str, ...], *, batch: int = 500,
                            expect_uidvalidity: int | None = None) -> Iterable[FetchedHeader]: ...


@dataclass
class DraftsIndex:
    """Which messages in Drafts carry which value of the headers we recognise our drafts by, read in one pass.

    One SEARCH and one FETCH per 500 messages, whatever the number of our drafts, where a SEARCH per draft and
    header made a quiet cycle with 300 waiting drafts cost 600+ commands (measured with bench/). Values are
    compared whole and case-insensitively; SEARCH HEADER compared substrings, but our ids are fixed-width
    precisely so that one never contains another, so whatever was found before is found now."""

    markers: dict[str, list[int]] = field(default_factory=dict)      # X-Followupd-Id (older drafts) -> UIDs
    message_ids: dict[str, list[int]] = field(default_factory=dict)  # Message-ID -> UIDs
    replies_to: dict[str, list[int]] = field(default_factory=dict)   # In-Reply-To id -> UIDs

    @classmethod
    def read(cls, mailbox: DraftsPort, folder: str) -> DraftsIndex:
        index = cls()
        parser = BytesHeaderParser(policy=compat32)
        for fetched in mailbox.fetch_headers_since(folder, 0, DRAFT_FIELDS):
            headers = parser.parsebytes(fetched.raw)
            for value in headers.get_all(FOLLOWUPD_HEADER, []):
                marker = " ".join(str(value).split()).lower()
                if marker:
                    index.markers.setdefault(marker, []).append(fetched.uid)
            for name, table in (("Message-ID", index.message_ids), ("In-Reply-To", index.replies_to)):
                for value in headers.get_all(name, []):
                    for message_id in extract_message_ids(str(value)):
                        table.setdefault(message_id.lower(), []).append(fetched.uid)
        return index

    def forget(self, uids: Iterable[int]) -> None:
        """Drop messages we just deleted: an edited draft is removed and re-appended under the same marker."""
        gone = set(uids)
        for table in (self.markers, self.message_ids, self.replies_to):
            for key in list(table):
                table[key] = [uid for uid in table[key] if uid not in gone]
                if not table[key]:
                    del table[key]

    def with_marker(self, marker: str) -> list[int]:
        """UIDs carrying exactly our ``marker`` (an X-Followupd-Id, as drafts of older versions and reminders do)."""
        return sorted(self.markers.get(marker.strip().lower(), ()))

    def ours(self, touch_id: str, message_id: str) -> list[int]:
        """UIDs of the draft of one touch: exactly its recorded Message-ID, or (a draft appended by an older
        version) exactly its X-Followupd-Id. The only test before deleting anything: ours alone."""
        found = set(self.markers.get(touch_id.strip().lower(), ()))
        if message_id:
            found |= set(self.message_ids.get(message_id.strip().lower(), ()))
        return sorted(found)

    def find(self, touch: st.Touch) -> int | None:
        """Our draft, or the user's edit of it (its newest UID): some clients drop unknown headers when
        re-saving a draft, so a draft with our Message-ID, or any draft replying to the thread, counts too."""
        for table, value in ((self.markers, touch.id), (self.message_ids, touch.message_id),
                             (self.replies_to, touch.thread.message_id)):
            uids = table.get(value.strip().lower()) if value else None
            if uids:
                return max(uids)
        return None


@dataclass
class DraftReport:
    drafted: list[str] = field(default_factory=list)
    reminded: list[str] = field(default_factory=list)  # reminders about the user's own promises
    withdrawn: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _reachable(thread: st.Thread) -> Callable[[list[dict[str, str]]], tuple[Address, ...]]:
    """Addresses of a thread minus those that bounced for good (a follow-up never goes to a dead address) and,
    with ``-all``, minus those who already answered."""
    excluded = set(thread.failed_recipients or ())
    if thread.expect_all:
        excluded |= set(thread.answered_by or ())  # "-all": the next follow-up goes only to those still silent
    return lambda entries: tuple(a for a in _addresses(entries) if a.email not in excluded)


def append_once(mailbox: DraftsPort, folder: str, marker: str, raw: bytes, *, flags: Sequence[bytes],
                now: datetime, present: DraftsIndex | None = None, message_id: str = "") -> tuple[int | None, bool]:
    """APPEND ``raw`` unless it is already there (appended just before a crash).

    A draft is looked for by its recorded ``message_id`` (and by ``marker`` as an X-Followupd-Id, which drafts of
    older versions carry); a reminder, which never leaves the user's INBOX, by its ``marker`` alone. Returns
    (uid, appended). The search is what turns "record, then append, then confirm" into exactly once: a restart
    after the APPEND finds the message and only confirms it. ``present`` is the folder read once
    (:class:`DraftsIndex`) before a run of appends, instead of one SEARCH per message; it must have been read
    after the last crash, which holds because it is read afresh in every cycle."""
    if present is not None:
        existing = present.ours(marker, message_id) if message_id else present.with_marker(marker)
    else:
        existing = mailbox.search_header(folder, "Message-ID", message_id) if message_id else []
        existing = existing or mailbox.search_header(folder, FOLLOWUPD_HEADER, marker)
    if existing:
        return existing[0], False
    return mailbox.append(folder, raw, flags=flags, msg_time=now), True


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


def touch_id(thread_id: str, number: int) -> str:
    """``<thread>-<nnn>``, fixed width: IMAP's SEARCH HEADER matches substrings (RFC 3501 §6.4.4), so "abc-1"
    would also find "abc-12"; with a fixed width no id is a substring of another."""
    return f"{thread_id}-{number:03d}"


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
    due = next_due_for(thread, config)
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
                                    or_(st.Thread.kind == st.COMMITMENT, ~waiting_draft))
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
            for person in touch.thread.participants():
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
        reachable = _reachable(thread)
        return RenderContext(
            recipients=reachable(thread.to) or reachable(thread.cc) or reachable(thread.bcc),
            cc=reachable(thread.cc) if reachable(thread.to) else (),
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
        domain = (thread.from_email.rpartition("@")[2] or "followupd.invalid").lower()
        tid = touch_id(thread.id, number)
        message_id = draft_message_id(thread.id, number, domain)
        raw = build_draft(
            rendered=rendered, from_=Address(thread.from_email, thread.from_name or self.config.identity.name),
            to=ctx.recipients, cc=ctx.cc, in_reply_to=thread.message_id,
            references=[*thread.references, thread.message_id], message_id=message_id,
            date=now, exclude=(*self.config.identity.addresses, thread.tracking_address),
        )
        touch = st.Touch(
            id=tid, thread_id=thread.id, number=number, template=rendered.template,
            message_id=message_id, subject=rendered.subject,
            to=[{"email": a.email, "name": a.name} for a in ctx.recipients],
            due_at=thread.next_due, created=now, raw=raw, reason=self._reason(session, thread, stage, total),
        )
        lifecycle.plan_touch(touch)
        thread.touch_rows.append(touch)
        what = "update for your promise" if stage in COMMITMENT_STAGES else f"touch {thread.steps + 1} of {total}"
        st.add_event(session, thread, at=now, kind="draft_planned", message_id=message_id,
                     detail=f"{what} from {rendered.template}")
        report.drafted.append(tid)
        return touch

    # ---------------------------------------------------------------- acting (each step its own transaction)
    def act(self, store: st.Store, mailbox: DraftsPort, drafts_folder: str | None, now: datetime,
            report: DraftReport) -> None:
        """Make Drafts match the database: APPEND planned drafts, delete withdrawn ones, notice deleted ones."""
        if drafts_folder is None:
            with store.read() as session:
                if session.scalar(select(st.Touch.id).where(st.Touch.state == st.TOUCH_PLANNED).limit(1)):
                    logger.error("no Drafts folder found; set [folders] drafts in the config")
            self._append_reminders(store, mailbox, now)
            return
        index: list[DraftsIndex] = []

        def present() -> DraftsIndex:
            """Drafts read once, on first need, for cleanup and appends alike (a quiet cycle needs neither)."""
            if not index:
                index.append(DraftsIndex.read(mailbox, drafts_folder))
            return index[0]

        self._cleanup(store, mailbox, drafts_folder, present)
        self._append_planned(store, mailbox, drafts_folder, now, present)
        self._append_reminders(store, mailbox, now)  # after the draft, so the reminder never points at nothing
        self._reconcile(store, mailbox, drafts_folder, now, report)

    def _append_reminders(self, store: st.Store, mailbox: DraftsPort, now: datetime) -> None:
        """Planned reminders to INBOX, exactly once: searched for by their own full id before any APPEND.

        No flags: unread, so the user notices it. Only this exact id is searched for (see :func:`reminder_id`),
        and nothing in INBOX is ever deleted by followupd."""
        with store.read() as session:
            planned = [(r.id, r.raw, r.thread_id) for r in
                       session.scalars(select(st.Reminder).where(st.Reminder.state == st.REMINDER_PLANNED))]
        for rid, raw, thread_id in planned:
            crash_point("before_reminder_append")
            uid, appended = append_once(mailbox, REMINDER_FOLDER, rid, raw or b"", flags=(), now=now)
            if appended:
                logger.info("%s: reminder about your promise delivered to %s", thread_id, REMINDER_FOLDER)
                crash_point("after_reminder_append")
            with store.transaction() as session:
                reminder = session.get(st.Reminder, rid)
                if reminder is not None and lifecycle.reminder_delivered(reminder, uid=uid, now=now):
                    st.add_event(session, reminder.thread, at=now, kind="reminder_delivered",
                                 message_id=reminder.message_id,
                                 detail=f"reminder in {REMINDER_FOLDER}" + (f" (uid {uid})" if uid else ""))

    def _append_planned(self, store: st.Store, mailbox: DraftsPort, folder: str, now: datetime,
                        present: Callable[[], DraftsIndex]) -> None:
        with store.read() as session:
            planned = [(t.id, t.raw, t.thread_id, t.message_id) for t in
                       session.scalars(select(st.Touch).where(st.Touch.state == st.TOUCH_PLANNED))]
        for tid, raw, thread_id, message_id in planned:
            crash_point("before_append")
            uid, appended = append_once(mailbox, folder, tid, raw or b"", flags=(b"\\Draft",), now=now,
                                        present=present(), message_id=message_id)
            if appended:
                logger.info("%s: follow-up draft queued in %s", thread_id, folder)
                crash_point("after_append")
            with store.transaction() as session:
                touch = session.get(st.Touch, tid)
                if touch is not None and lifecycle.draft_queued(touch, uid=uid, now=now):
                    st.add_event(session, touch.thread, at=now, kind="draft_queued", message_id=touch.message_id,
                                 detail=f"draft in {folder}" + (f" (uid {uid})" if uid else ""))

    def _cleanup(self, store: st.Store, mailbox: DraftsPort, folder: str,
                 present: Callable[[], DraftsIndex]) -> None:
        """Remove the drafts of withdrawn touches: only messages carrying exactly their recorded Message-ID (or,
        appended by an older version, their X-Followupd-Id), all of them in one deletion (a cycle where ten
        replies arrived removes ten drafts with three commands)."""
        with store.read() as session:
            pending = {t.id: t.message_id for t in session.scalars(select(st.Touch).where(
                st.Touch.cleanup_pending.is_(True), st.Touch.sent_by_followupd.is_(False)))}
        if not pending:
            return
        ours = {tid: uids for tid, mid in pending.items() if (uids := present().ours(tid, mid))}
        if ours:
            doomed = sorted({uid for uids in ours.values() for uid in uids})
            mailbox.delete_messages(folder, doomed)
            present().forget(doomed)
            for tid in ours:
                logger.info("removed followupd draft %s from %s", tid, folder)
            crash_point("after_delete")
        with store.transaction() as session:
            for tid in pending:
                touch = session.get(st.Touch, tid)
                if touch is not None:
                    touch.cleanup_pending = False

    def _reconcile(self, store: st.Store, mailbox: DraftsPort, folder: str, now: datetime,
                   report: DraftReport) -> None:
        """A queued draft the user deleted without sending: skipped, and the next touch is planned.

        Costs one EXAMINE when Drafts is as it was when every queued draft was last found there: nothing was
        added (UIDNEXT would have grown) nor removed (EXISTS would have shrunk), so they still are. Otherwise
        Drafts is read once (:class:`DraftsIndex`), however many drafts wait."""
        with store.transaction() as session:
            ids = list(session.scalars(select(st.Touch.id).where(st.Touch.state == st.TOUCH_QUEUED)
                                       .order_by(st.Touch.id)))
            if not ids:
                return
            seen = _drafts_state(folder, mailbox.examine(folder), ids)
            if seen is not None and st.get_meta(session, DRAFTS_SEEN_KEY) == seen:
                return
            queued = list(session.scalars(select(st.Touch).where(st.Touch.state == st.TOUCH_QUEUED)
                                          .order_by(st.Touch.id)))
            present = DraftsIndex.read(mailbox, folder)
            all_found = True
            for touch in queued:
                uid = present.find(touch)
                if uid is not None:
                    touch.missing_since = None
                    if touch.drafts_uid is not None and uid != touch.drafts_uid:
                        # A new UID means the user saved an edit: the review window starts again.
                        touch.drafts_uid = uid
                        touch.draft_changed_at = now
                        logger.info("%s: you edited the draft; its review window starts again", touch.id)
                    continue
                all_found = False
                if touch.missing_since is None:
                    touch.missing_since = now
                    continue
                if now - touch.missing_since < MISSING_GRACE:
                    continue
                thread = touch.thread
                lifecycle.draft_deleted(touch, thread, now=now)
                replan_thread(session, thread, self.config, now)
                st.add_event(session, thread, at=now, kind="draft_skipped", message_id=touch.message_id,
                             detail="the draft was deleted from Drafts without being sent")
                report.skipped.append(touch.id)
                logger.info("%s: draft %s was deleted without sending; counted as skipped", thread.id, touch.id)
            # Only a state in which every queued draft was found may be skipped next time; a missing one must be
            # looked for again until its grace period ends.
            st.set_meta(session, DRAFTS_SEEN_KEY, seen if seen is not None and all_found else "")


def _drafts_state(folder: str, status: FolderStatus, queued: Sequence[str]) -> str | None:
    """Drafts' UID space, UIDNEXT and message count, with the queued touches it was checked for; None when the
    server did not say (then Drafts is read every cycle). The touch ids are in it because a touch can become
    queued again without Drafts changing (a failed send the user retries), and must then be looked for."""
    if status.uidnext is None or status.exists is None:
        return None
    touches = hashlib.sha256("\n".join(queued).encode()).hexdigest()[:16]
    return f"{folder}|{status.uidvalidity}|{status.uidnext}|{status.exists}|{touches}"

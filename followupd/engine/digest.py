"""The weekly digest, filed in INBOX exactly once per period, the way reminders are.

A period starts at the configured weekday and time ([digest] day, time) in the user's time zone and is named
by its local date (``2026-11-30``). Once that moment has passed and no digest was handled for the period, the
cycle builds it (:func:`followupd.compose.digest.build_digest`) and then:

1. records the intent (the period, its marker and the message bytes) in the database and commits;
2. APPENDs it to INBOX unread, unless a message with its marker is already there (a crash after the APPEND);
3. records it filed.

A crash between 1 and 3 leaves an intent for the current period; the next cycle searches INBOX for its
``X-Followupd-Id`` and only APPENDs when it is not there: one digest per period across restarts and kill -9.
Nothing to report is recorded too (``empty``), so the period is not looked at again in every cycle.

The record is one ``followupd_meta`` row (JSON), not a table of its own: only the latest period matters (the
one being filed, and when the last one was, for "closed since the last digest"), and a row there needs no
schema migration. Each account has its own database (or schema), so another account's threads never get in.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.adapters.faults import crash_point
from followupd.adapters.store import reports
from followupd.compose.digest import (
    Digest,
    DigestClosed,
    DigestCommand,
    DigestDraft,
    DigestInput,
    DigestItem,
    DigestOwed,
    DigestPromise,
    DigestThread,
    build_digest,
)
from followupd.compose.message import build_digest_message
from followupd.config import Config
from followupd.engine.drafts_sync import REMINDER_FOLDER, DraftsPort, append_once
from followupd.engine.mailcmd import COMMAND_EVENT
from followupd.mail.headers import Address
from followupd.mail.patterns import lazy_pattern
from followupd.planning.commands import ORPHANS_KEY, recent_orphans
from followupd.planning.lifecycle.items import OPEN_ITEM_STATES
from followupd.planning.owed import due_first, waiting_days
from followupd.planning.stats import compute

__all__ = ["DIGEST_KEY", "DigestFiler", "digest_marker", "is_digest_id", "next_digest", "period_start"]

logger = logging.getLogger("followupd.digest")

#: followupd_meta key of the latest period's record.
DIGEST_KEY = "digest"
#: The stats block covers this stretch, like ``followupd stats`` by default.
STATS_WINDOW = timedelta(days=90)
_WEEK = timedelta(days=7)
_DIGEST_ID = lazy_pattern(r"digest-[A-Za-z0-9_.-]+-\d{4}-\d{2}-\d{2}")
_CLOSED: dict[str, str] = {st.REPLIED: "replied", st.DECLINED: "declined", st.UNANSWERED: "unanswered",
                           st.FAILED: "bounced"}


def period_start(now: datetime, config: Config) -> datetime:
    """The latest start of a digest period at or before ``now``: the configured weekday and local time."""
    tz = config.identity.timezone
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - config.digest.weekday) % 7)
    start = datetime.combine(day, config.digest.at, tzinfo=tz)
    return start - _WEEK if start > now else start


def digest_marker(config: Config, period: str) -> str:
    """``digest-<account>-<period>``: the X-Followupd-Id of one period's digest.

    The account part is a short hash of the account key: readable enough, and safe in a header whatever the
    login looks like. Neither a touch id (hex-hex-nnn) nor a reminder id (``.rNNN``) can contain it, nor the
    reverse, so IMAP's substring SEARCH HEADER never confuses them."""
    account = hashlib.sha256(config.account_key.encode()).hexdigest()[:8]
    return f"digest-{account}-{period}"


def is_digest_id(value: str | None) -> bool:
    """Whether an X-Followupd-Id marks one of our digests (never mail to track or match)."""
    return bool(value) and _DIGEST_ID.fullmatch((value or "").strip()) is not None


@dataclass(frozen=True)
class _Record:
    period: str = ""
    state: str = ""          # planned, filed or empty
    since: datetime | None = None
    at: datetime | None = None
    marker: str = ""
    raw: bytes = b""

    @classmethod
    def load(cls, session: Session) -> _Record:
        text = st.get_meta(session, DIGEST_KEY)
        if not text:
            return cls()
        data: dict[str, Any] = json.loads(text)
        return cls(period=data.get("period", ""), state=data.get("state", ""),
                   since=_time(data.get("since")), at=_time(data.get("at")), marker=data.get("marker", ""),
                   raw=str(data.get("raw", "")).encode("ascii", "surrogateescape"))

    def save(self, session: Session) -> None:
        st.set_meta(session, DIGEST_KEY, json.dumps({
            "period": self.period, "state": self.state, "marker": self.marker,
            "since": self.since.isoformat() if self.since else None, "at": self.at.isoformat() if self.at else None,
            "raw": self.raw.decode("ascii", "surrogateescape"),
        }))


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _who(entries: list[dict[str, str]]) -> str:
    if not entries:
        return "(nobody)"
    first = entries[0].get("name") or entries[0]["email"]
    return first if len(entries) == 1 else f"{first} +{len(entries) - 1}"


def gather(session: Session, config: Config, now: datetime, since: datetime) -> DigestInput:
    """What the digest shows, read from this account's database: open follow-up threads, drafts in Drafts,
    the user's own promises due within a week (overdue ones too), open action items, follow-up threads closed
    at or after ``since``, and the stats of the last 90 days."""
    tz = config.identity.timezone
    today = now.astimezone(tz).date()

    def local(moment: datetime | None) -> date | None:
        return moment.astimezone(tz).date() if moment is not None else None

    waiting = [DigestThread(recipient=_who(t.participants()), subject=t.subject or "(no subject)",
                            days_waiting=max((now - t.sent_at).days, 0), touches=t.touches,
                            next_checkin=local(t.next_due))
               for t in session.scalars(select(st.Thread).where(st.Thread.state == st.WAITING,
                                                                st.Thread.kind == st.NUDGE))]
    drafts = [DigestDraft(recipient=_who(touch.to), subject=touch.subject or "(no subject)",
                          waiting_since=local(touch.drafted_at or touch.created) or today)
              for touch in st.touches_in_state(session, st.TOUCH_QUEUED)]
    week_end = today + timedelta(days=7)
    promises = [DigestPromise(recipient=_who(t.participants()), subject=t.subject or "(no subject)", due=due)
                for t in session.scalars(select(st.Thread).where(st.Thread.state == st.WAITING,
                                                                 st.Thread.kind == st.COMMITMENT,
                                                                 st.Thread.next_due.is_not(None)))
                if (due := local(t.next_due)) is not None and due < week_end]
    items = [DigestItem(owner=item.owner_name or item.owner_email or "(no owner)", task=item.task, due=item.due)
             for item in reports.action_items(session, tuple(OPEN_ITEM_STATES))]
    closed = [DigestClosed(subject=t.subject or "(no subject)", recipient=_who(t.participants()),
                           outcome=_CLOSED[t.state], by=t.replied_by, touches=t.touches)
              for t in session.scalars(select(st.Thread).where(st.Thread.kind == st.NUDGE,
                                                               st.Thread.state.in_(tuple(_CLOSED)),
                                                               st.Thread.state_changed_at >= since))]
    start = now - STATS_WINDOW
    stats = compute(reports.stats_threads(session, start), start)
    return DigestInput(today=today, user_name=config.identity.name, waiting=waiting, drafts=drafts,
                       promises=promises, items=items, owed=_owed(session, config, now), closed=closed,
                       commands=_commands(session, now, since), stats=stats)


def _owed(session: Session, config: Config, now: datetime) -> list[DigestOwed]:
    """Replies the user owes (followupd.engine.owed): this account's open rows whose ``[owed] after`` has passed,
    as ``followupd owed`` lists them; none while ``[owed]`` is off."""
    if not config.owed.enabled:
        return []
    return [DigestOwed(sender=row.from_name or row.from_addr, subject=row.subject or "(no subject)",
                       days_waiting=waiting_days(row.received_at, now), evidence=row.evidence or "")
            for row in due_first(reports.owed_rows(session, config.account_key, open_only=True),
                                 after=config.owed.after, now=now, holidays=config.cadence.holidays,
                                 tz=config.identity.timezone)]


def _commands(session: Session, now: datetime, since: datetime) -> list[DigestCommand]:
    """Commands by mail since ``since``: each applied one (its ``mail_command`` event and what the command did,
    the event that follows it with the same message id), then each one not applied (engine.mailcmd)."""
    found: list[DigestCommand] = []
    applied = session.scalars(select(st.Event).where(st.Event.kind == COMMAND_EVENT, st.Event.at >= since)
                              .order_by(st.Event.id))
    for event in applied:
        thread = session.get(st.Thread, event.thread_id)
        result = session.scalar(select(st.Event).where(st.Event.thread_id == event.thread_id,
                                                       st.Event.message_id == event.message_id,
                                                       st.Event.kind != COMMAND_EVENT).order_by(st.Event.id).limit(1))
        words = event.detail.split(" by mail", 1)[0]
        outcome = result.detail if result is not None else "applied"
        found.append(DigestCommand(words=words, subject=thread.subject if thread else "", outcome=outcome))
    for orphan in recent_orphans(st.get_meta(session, ORPHANS_KEY), now):
        if datetime.fromisoformat(orphan.at) >= since:
            found.append(DigestCommand(words=f"+followup-{orphan.suffix}", subject="", outcome=orphan.problem,
                                       applied=False))
    return found


def next_digest(session: Session, config: Config, now: datetime) -> Digest | None:
    """The digest as it would be filed now, for ``followupd digest --preview``; None: nothing to report."""
    record = _Record.load(session)
    since = (record.since if record.state == "planned" else record.at) or period_start(now, config) - _WEEK
    return build_digest(gather(session, config, now, since))


class DigestFiler:
    """Files the period's digest after the cycle's other work (see the module docstring)."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def act(self, store: st.Store, mailbox: DraftsPort, now: datetime) -> str | None:
        """File the digest when due; returns the period filed, if one was."""
        if not self.config.digest.enabled:
            return None
        start = period_start(now, self.config)
        period = start.astimezone(self.config.identity.timezone).date().isoformat()
        with store.transaction() as session:
            record = _Record.load(session)
            if record.period == period and record.state in ("filed", "empty"):
                return None
            if record.period != period or record.state != "planned":
                record = self._plan(session, record, period, start, now)
                if record.state == "empty":
                    return None
        crash_point("before_digest_append")
        _, appended = append_once(mailbox, REMINDER_FOLDER, record.marker, record.raw, flags=(), now=now)
        if appended:
            logger.info("weekly digest for %s filed in %s", period, REMINDER_FOLDER)
            crash_point("after_digest_append")
        with store.transaction() as session:
            _Record(period=period, state="filed", since=record.since, at=now, marker=record.marker).save(session)
        return period if appended else None

    def _plan(self, session: Session, previous: _Record, period: str, start: datetime, now: datetime) -> _Record:
        """Build this period's digest and record the intent (committed before any APPEND)."""
        # Closed "since the last digest": when the last one was handled; a planned one never confirmed covers
        # its own stretch again. The first digest looks back one period.
        since = (previous.since if previous.state == "planned" else previous.at) or start - _WEEK
        digest = build_digest(gather(session, self.config, now, since))
        if digest is None:
            record = _Record(period=period, state="empty", since=since, at=now)
            logger.info("weekly digest for %s: nothing to report", period)
        else:
            identity = self.config.identity
            own = identity.addresses[0]
            marker = digest_marker(self.config, period)
            domain = (own.rpartition("@")[2] or "followupd.invalid").lower()
            raw = build_digest_message(subject=digest.subject, text=digest.text, html=digest.html,
                                       from_=Address(own, identity.name), message_id=f"<followupd.{marker}@{domain}>",
                                       followupd_id=marker, date=now)
            record = _Record(period=period, state="planned", since=since, at=now, marker=marker, raw=raw)
        record.save(session)
        return record

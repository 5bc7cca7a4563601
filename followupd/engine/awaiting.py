"""Awaiting a reply without the BCC (issue 14): sent mail that asks something becomes a suggestion or a thread.

Hooked into the sync in one place (:meth:`AutoTracker.maybe_track` stands in for the Tracker's): a message the
BCC tracks is tracked as always (``source = "bcc"``), whatever ``[tracking] auto`` says. With ``auto`` on, a
message in Sent from the user, without the tracking address, not followupd's own, not a self-test, not in a
thread followupd already tracks, sent within ``suggest_days`` and to someone ``auto_exclude`` leaves in, has its
body read once (``BODY.PEEK[]``, only these messages) and judged by :func:`followupd.mail.asks.read_ask`. When it
expects an answer it becomes a suggestion (``"suggest"``) or a thread at once (``"track"``, ``source = "auto"``).

Why the cheap checks come first: a quiet cycle reads nothing new, so nothing here runs; a first sync with auto on
over years of Sent mail reads only the bodies of the last ``suggest_days``. Everything is written in the cycle's
one transaction and keyed by Message-ID (a suggestion's id is derived from it), so a crash or a re-read never
makes a second suggestion or thread.

``followupd track`` and ``ignore`` are requests (followupd.engine.requests) applied by the one writer:
:func:`track_request` starts the thread exactly as a BCC with that suffix would have, from the header block the
suggestion kept, so it needs no mailbox.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.adapters.clock import FixedClock
from followupd.config import Config
from followupd.engine.context import BodyReader, CycleContext, CycleReport, CycleStep, SeenMessage, thread_id_for
from followupd.engine.drafts import replan_thread
from followupd.engine.events import EventApplier
from followupd.engine.tracking import Tracker
from followupd.errors import RequestRefused
from followupd.mail.asks import read_ask
from followupd.mail.headers import MessageKind, MessageMeta, parse_headers
from followupd.planning.lifecycle import awaiting as states
from followupd.planning.matching import ThreadIndex, is_own_address
from followupd.planning.tracking import TrackRequest, find_tracking

logger = logging.getLogger("followupd.engine.cycle")  # logs as "followupd.engine", like the rest of the cycle


def suggestion_id(account: str, message_id: str) -> str:
    """A short id, stable for one account's message: a re-read finds the row it already made."""
    return hashlib.sha256(f"{account}\n{message_id}".encode("utf-8", "surrogateescape")).hexdigest()[:12]


def recipient_text(entry: dict[str, str]) -> str:
    """"Name <addr>", or the bare address when no name is known: how a suggestion lists its recipients."""
    name = " ".join(entry.get("name", "").split())
    return f"{name} <{entry['email']}>" if name else entry["email"]


def _header_block(raw: bytes) -> bytes:
    """The header block of a whole message (up to the first empty line), all tracking needs later."""
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = raw.find(separator)
        if end >= 0:
            return raw[:end + len(separator)]
    return raw


class AutoTracker(CycleStep):
    """One cycle's auto-tracking; made per cycle, like the Tracker it wraps."""

    def __init__(self, context: CycleContext, tracker: Tracker) -> None:
        super().__init__(context)
        self.tracker = tracker
        self.mode = self.config.tracking.auto
        self.account = self.config.name
        self.now = self.clock.now()
        self._open: set[str] | None = None  # Message-IDs of the open suggestions, loaded on first need
        self._reader_own = frozenset({*self.own_addresses, self.tracking_address})

    def maybe_track(self, session: Session, seen: SeenMessage, index: ThreadIndex, report: CycleReport) -> bool:
        """The Tracker's step, then (``auto`` on) the user's sent mail without the BCC, or a reply that answers
        a suggestion. True when the message was consumed (a thread started): it is not matched again."""
        if self.tracker.maybe_track(session, seen, index, report):
            self._tracked(session, seen)
            return True
        if self.mode == "off":
            return False
        if seen.is_sent_folder:
            return self._consider(session, seen, index, report)
        self._answered(session, seen)
        return False

    def may_read(self, seen: SeenMessage) -> bool:
        """Whether :meth:`_consider` may read this message's body, from its headers alone (the sync reads such
        bodies ahead, several per FETCH): the user's recent Sent mail without the BCC, with auto on."""
        meta = seen.meta
        if self.mode == "off" or not seen.is_sent_folder or meta.from_ is None or meta.message_id is None:
            return False
        if meta.followupd_id is not None or not is_own_address(meta.from_.email, self.own_addresses):
            return False
        return seen.when is not None and seen.when >= self.now - timedelta(days=self.config.tracking.suggest_days)

    # ------------------------------------------------------------------ sent mail without the BCC
    def _consider(self, session: Session, seen: SeenMessage, index: ThreadIndex, report: CycleReport) -> bool:
        meta = seen.meta
        if meta.from_ is None or not is_own_address(meta.from_.email, self.own_addresses):
            return False
        if meta.followupd_id is not None or meta.message_id is None:
            return False  # our own draft, reminder or digest; or a message no reply could ever be matched to
        if self.tracker.tracking_request(seen) is not None:
            return False  # BCC'd: the Tracker's (a nudge by hand in an open thread is matched as a touch)
        when = seen.when
        if when is None or when < self.now - timedelta(days=self.config.tracking.suggest_days):
            return False
        if self._known(session, meta, seen, index):
            return False
        exclude = self.config.tracking.auto_exclude
        recipients = self.tracker.recipients(meta, exclude)
        everyone = [entry for role in ("to", "cc", "bcc") for entry in recipients[role]]
        if not everyone:
            logger.debug("%s: %r: no recipient left (your own addresses, or [tracking] auto_exclude)", seen.where,
                         meta.subject)
            return False
        raw = self.tracker.events.body(seen)
        if raw is None:
            return False
        reading = read_ask(raw, direction="sent", own_addresses=self._reader_own, settings=self.config.replies.asks)
        if not reading.expects:
            logger.debug("%s: %r expects no answer (%s)", seen.where, meta.subject, reading.reason)
            return False
        if self.mode == "track":
            request = TrackRequest(address=self.tracking_address, suffix=None, promised=None)
            with session.begin_nested():
                thread = self.tracker.track(session, seen, request, index, report, source=st.SOURCE_AUTO,
                                            evidence=reading.evidence, exclude=exclude)
            logger.info("tracking %s without the BCC ([tracking] auto = \"track\"): %r asks %r", thread.id,
                        meta.subject, reading.evidence)
            return True
        with session.begin_nested():
            row = st.Suggestion(
                id=suggestion_id(self.account, meta.message_id), account=self.account, message_id=meta.message_id,
                folder=seen.folder, uid=seen.uid, subject=meta.subject,
                recipients=[recipient_text(entry) for entry in everyone],
                sent_at=when, evidence=reading.evidence, reason=reading.reason, created_at=self.now,
                origin={"headers": _header_block(raw).decode("latin-1"),
                        "conversation_keys": list(seen.conversation_keys)},
            )
            states.suggest_opened(row)
            session.add(row)
            session.flush()
        self._open_ids(session).add(meta.message_id)
        report.changes.append(f"suggested {row.id} (`followupd suggestions`)")
        logger.info("suggestion %s: %r to %s seems to await a reply: %r", row.id, meta.subject,
                    ", ".join(entry["email"] for entry in everyone), reading.evidence)
        return False

    def _tracked(self, session: Session, seen: SeenMessage) -> None:
        """A BCC'd copy tracked while its Sent copy (without the Bcc header, read first) is still suggested:
        the suggestion is closed as tracked, whatever the mode, so ``followupd suggestions`` no longer lists it."""
        message_id = seen.meta.message_id
        if message_id is None or message_id not in self._open_ids(session):
            return
        row = session.get(st.Suggestion, suggestion_id(self.account, message_id))
        thread = session.get(st.Thread, thread_id_for(message_id))
        if row is None or thread is None:
            return  # a command or a self-test by mail: nothing tracked
        if states.suggest_tracked(row, thread_id=thread.id, at=self.now):
            logger.info("suggestion %s: its BCC'd copy arrived (%s), tracked as thread %s", row.id, seen.where,
                        thread.id)
        self._open_ids(session).discard(message_id)

    def _known(self, session: Session, meta: MessageMeta, seen: SeenMessage, index: ThreadIndex) -> bool:
        """Already a suggestion, a tracked message, or a message in a thread followupd tracks (open or not)."""
        assert meta.message_id is not None
        if session.get(st.Suggestion, suggestion_id(self.account, meta.message_id)) is not None:
            return True
        ids = (meta.message_id, *meta.referenced_ids)
        if any(index.thread_for_message_id(mid) for mid in (*ids, *seen.conversation_keys)):
            return True
        return any(st.thread_for_message_id(session, mid) is not None for mid in ids)

    # ------------------------------------------------------------------ replies before tracking
    def _open_ids(self, session: Session) -> set[str]:
        if self._open is None:
            self._open = set(session.scalars(select(st.Suggestion.message_id).where(
                st.Suggestion.account == self.account, st.Suggestion.state == states.SuggestionState.OPEN)))
        return self._open

    def _answered(self, session: Session, seen: SeenMessage) -> None:
        """A person's reply to a message still only suggested: there is nothing left to wait for."""
        meta = seen.meta
        if meta.kind is not MessageKind.PERSONAL or meta.from_ is None or not meta.referenced_ids:
            return
        if is_own_address(meta.from_.email, self.own_addresses):
            return
        hits = [mid for mid in meta.referenced_ids if mid in self._open_ids(session)]
        for mid in hits:
            row = session.get(st.Suggestion, suggestion_id(self.account, mid))
            if row is not None and states.suggest_answered(row, at=self.now):
                logger.info("suggestion %s: %s replied (%s), so it is closed", row.id, meta.from_.email, seen.where)
            self._open_ids(session).discard(mid)


def expire_suggestions(session: Session, config: Config, now: datetime) -> int:
    """This account's open suggestions sent more than ``suggest_days`` ago expire (one indexed query per cycle;
    each account has its own ``suggest_days``)."""
    cutoff = now - timedelta(days=config.tracking.suggest_days)
    rows = session.scalars(select(st.Suggestion).where(st.Suggestion.account == config.name,
                                                       st.Suggestion.state == states.SuggestionState.OPEN,
                                                       st.Suggestion.sent_at < cutoff))
    expired = [row for row in rows if states.suggest_expired(row, at=now)]
    for row in expired:
        logger.info("suggestion %s expired: %r was sent over %d day(s) ago", row.id, row.subject,
                    config.tracking.suggest_days)
    return len(expired)


# ---------------------------------------------------------------------------------------------------- requests


def suffix_request(config: Config, suffix: str | None, sent_on: Any) -> TrackRequest:
    """The request a BCC to the tracking address with ``suffix`` would have made; RequestRefused when the
    suffix is not a first check-in (a bad date, a promise of yours, a command)."""
    address = config.tracking.address
    if not suffix:
        return TrackRequest(address=address, suffix=None, promised=None)
    local, _, domain = address.partition("@")
    found = find_tracking([f"{local}-{suffix}@{domain}"], address, sent_on=sent_on,
                          holidays=config.cadence.holidays)
    if found is None or found.problem or found.promised is None or found.own_commitment:
        why = found.problem if found is not None and found.problem else "it names no first check-in"
        raise RequestRefused(f"--suffix {suffix!r} is not allowed ({why}); use one the tracking address takes "
                             'for a first check-in, e.g. "5d", "3bd", "fri", "dec15" or "2026-12-01"')
    return found


def _suggestion(session: Session, target: str) -> st.Suggestion:
    row = session.get(st.Suggestion, target)
    if row is None:
        raise RequestRefused(f"suggestion {target} does not exist")
    if not states.suggestion_is_open(row):
        raise RequestRefused(f"suggestion {row.id} is already {row.state}"
                             + (f" (thread {row.thread_id})" if row.thread_id else ""))
    return row


def track_request(session: Session, config: Config, target: str, suffix: str, now: datetime) -> str:
    """``followupd track ID [--suffix 5d]``: the thread starts as if the message had been BCC'd with that
    suffix (same first check-in rules), ``source = "manual"``, the suggestion's evidence kept."""
    row = _suggestion(session, target)
    context = CycleContext(config, FixedClock(now))
    tracker = Tracker(context, EventApplier(context, BodyReader(None)))
    sent_on = row.sent_at.astimezone(config.identity.timezone).date()
    request = suffix_request(config, suffix or None, sent_on)
    origin = row.origin or {}
    meta = parse_headers(str(origin.get("headers", "")).encode("latin-1", "replace"))
    if meta.message_id is None:  # a header block that lost its Message-ID: the row's own is the key
        meta = MessageMeta(message_id=row.message_id, subject=row.subject, date=row.sent_at)
    seen = SeenMessage(row.folder, row.uid or 0, meta, row.sent_at, True,
                       tuple(str(key) for key in origin.get("conversation_keys", ())))
    existing = session.get(st.Thread, thread_id_for(meta.message_id or row.message_id))
    with session.begin_nested():
        thread = existing or tracker.track(session, seen, request, ThreadIndex(), CycleReport(),
                                           source=st.SOURCE_MANUAL, evidence=row.evidence or None,
                                           exclude=config.tracking.auto_exclude)
        states.suggest_tracked(row, thread_id=thread.id, at=now)
    if existing is not None:
        return f"already tracked as thread {thread.id}"
    replan_thread(session, thread, config, now)
    first = thread.next_due.astimezone(config.identity.timezone).strftime("%a %d %b") if thread.next_due else "-"
    return f"tracking it as thread {thread.id}; first follow-up planned for {first}"


def ignore_request(session: Session, config: Config, target: str, now: datetime) -> str:
    """``followupd ignore ID``: the suggestion is dropped for good."""
    row = _suggestion(session, target)
    states.suggest_ignored(row, at=now)
    return f"ignored; {row.subject!r} will not be suggested again"

"""One cycle: sync -> classify -> track -> match -> plan; the only place the pure core meets the adapters.

The cycle reads new headers from every folder (Sent first, so a thread exists before its replies are read),
turns them into MessageMeta, starts tracking what carries the tracking address, matches the rest against the
open threads and plans each waiting thread's next check-in. All of that lands in ONE database transaction
together with the folder cursors: a crash anywhere leaves either the whole cycle or none of it, and re-reading
the same mail is harmless because every write is keyed by Message-ID.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from followupd.adapters import store as st
from followupd.adapters.clock import Clock
from followupd.adapters.faults import crash_point
from followupd.adapters.imap import FetchedHeader, FolderStatus, ResolvedFolders
from followupd.compose.render import TemplateLibrary
from followupd.config import Config
from followupd.engine.drafts import (
    Drafter,
    DraftReport,
    DraftsPort,
    is_reminder_id,
    keep_promise,
    open_touch,
    planned_due,
    replan_thread,
)
from followupd.engine.requests import apply_requests
from followupd.engine.sending import Sender, SendingMailbox, SendReport
from followupd.errors import LeaseLostError, OperationalError
from followupd.mail.dsn import DeliveryReport
from followupd.mail.exchange import thread_index_guid
from followupd.mail.headers import FETCH_HEADER_FIELDS, Address, MessageKind, MessageMeta, base_subject, parse_headers
from followupd.mail.traces import RECEIVED_FIELDS, received_for_in
from followupd.planning import interpret, lifecycle
from followupd.planning.bouncetie import tie_report
from followupd.planning.matching import EventKind, MatchEvent, ThreadIndex, ThreadKey, is_own_address, match_message
from followupd.planning.recipient_clock import decode as decode_clock
from followupd.planning.recipient_clock import encode as encode_clock
from followupd.planning.recipient_clock import likely_offset, utc_offset_minutes
from followupd.planning.recipient_clock import meta_key as clock_key
from followupd.planning.recipient_clock import remember as remember_offsets
from followupd.planning.tracking import TrackRequest, find_tracking, is_tracking_address

logger = logging.getLogger(__name__)

#: Re-planning more threads than this at once (a cadence change, a first sync) writes them in one bulk UPDATE.
BULK_REPLAN = 50
#: States whose threads still take part in matching (see followupd.planning.lifecycle).
MATCHABLE_STATES = lifecycle.MATCHABLE_STATES

#: Shared mail providers: "same domain" says nothing about being a colleague there.
FREEMAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com", "yahoo.com", "ymail.com",
    "icloud.com", "me.com", "mac.com", "aol.com", "gmx.de", "gmx.net", "gmx.com", "web.de", "t-online.de",
    "mail.com", "proton.me", "protonmail.com", "fastmail.com", "yandex.ru", "mail.ru", "qq.com", "163.com",
    "orange.fr", "free.fr", "laposte.net", "libero.it", "zoho.com",
})


class MailboxPort(DraftsPort, SendingMailbox, Protocol):
    """What the engine needs from the IMAP adapter (``followupd.adapters.imap.Mailbox`` provides it)."""

    def resolve_folders(self, *, sent: str | None, drafts: str | None,
                        watch: tuple[str, ...] | None) -> ResolvedFolders: ...
    def examine(self, folder: str) -> FolderStatus: ...
    def fetch_headers_since(self, folder: str, last_uid: int, fields: tuple[str, ...], *, batch: int = 500,
                            expect_uidvalidity: int | None = None) -> Iterable[FetchedHeader]: ...
    def fetch_header_fields(self, folder: str, uids: Sequence[int], fields: Sequence[str], *,
                            expect_uidvalidity: int | None = None) -> dict[int, bytes]: ...


@dataclass(frozen=True)
class SeenMessage:
    """A fetched message, parsed, with where it came from."""

    folder: str
    uid: int
    meta: MessageMeta
    internaldate: datetime | None
    is_sent_folder: bool
    conversation_keys: tuple[str, ...] = ()  # provider thread ids (Gmail X-GM-THRID, Exchange Thread-Index)

    @property
    def when(self) -> datetime | None:
        """When the message was written: its Date header, else when the server received it."""
        return self.meta.date or self.internaldate

    @property
    def where(self) -> str:
        return f"{self.folder}:{self.uid}"


@dataclass
class CycleReport:
    """What one cycle saw and changed; its ``summary()`` is the one INFO line a cycle logs."""

    folders: dict[str, int] = field(default_factory=dict)  # folder -> new messages read
    rescanned: list[str] = field(default_factory=list)
    skipped: int = 0
    new_threads: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    drafts: DraftReport = field(default_factory=DraftReport)
    touched: set[str] = field(default_factory=set)  # threads whose schedule this cycle may have changed
    requests: list[str] = field(default_factory=list)
    gmail_ids: set[int] = field(default_factory=set)  # X-GM-MSGIDs read this cycle (one message, many labels)
    sends: SendReport = field(default_factory=SendReport)
    watched: tuple[str, ...] = ()  # the folders replies arrive in (resolved), for IDLE

    @property
    def fetched(self) -> int:
        return sum(self.folders.values())

    def summary(self) -> str:
        parts = [f"read {self.fetched} new message(s) in {len(self.folders)} folder(s)"]
        if self.new_threads:
            parts.append(f"{len(self.new_threads)} new tracked thread(s)")
        if self.changes:
            parts.append("; ".join(self.changes))
        if self.requests:
            parts.append("; ".join(self.requests))
        if self.sends.sent:
            parts.append(f"{len(self.sends.sent)} follow-up(s) sent")
        if self.sends.failed:
            parts.append(f"{len(self.sends.failed)} follow-up(s) failed to send")
        if self.drafts.drafted:
            parts.append(f"{len(self.drafts.drafted)} follow-up draft(s) queued")
        if self.drafts.reminded:
            parts.append(f"{len(self.drafts.reminded)} reminder(s) about your promises")
        if self.drafts.skipped:
            parts.append(f"{len(self.drafts.skipped)} draft(s) you deleted counted as skipped")
        if self.drafts.errors:
            parts.append(f"{len(self.drafts.errors)} draft(s) failed: " + "; ".join(self.drafts.errors))
        if self.skipped:
            parts.append(f"{self.skipped} unreadable message(s) skipped")
        if self.rescanned:
            parts.append("rescanned " + ", ".join(self.rescanned) + " (UIDVALIDITY changed)")
        return "; ".join(parts)


class _LazyIndex:
    """The open-thread index, built on first use: a cycle with no new mail never loads it."""

    def __init__(self, build: Callable[[], ThreadIndex]) -> None:
        self._build = build
        self._index: ThreadIndex | None = None

    def __call__(self) -> ThreadIndex:
        if self._index is None:
            self._index = self._build()
        return self._index


def conversation_keys(meta: MessageMeta, gm_thrid: int | None) -> tuple[str, ...]:
    """Provider conversation ids, written like Message-IDs so the thread index can hold them beside real ones.

    Gmail's X-GM-THRID and Exchange's Thread-Index GUID survive clients that trim In-Reply-To/References.
    They are only ever used for matching, never written into a draft's References."""
    keys = []
    if gm_thrid is not None:
        keys.append(f"<gmail-thread-{gm_thrid}@x-gm-thrid.invalid>")
    guid = thread_index_guid(meta.thread_index) if meta.thread_index else None
    if guid:
        keys.append(f"<exchange-conversation-{guid}@thread-index.invalid>")
    return tuple(keys)


def thread_id_for(message_id: str) -> str:
    """A short, stable thread id derived from the Message-ID, so both copies of a message agree on it."""
    return hashlib.sha256(message_id.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _addr_dicts(addresses: Iterable[Address]) -> list[dict[str, str]]:
    return [{"email": a.email, "name": a.name} for a in addresses]


class Engine:
    """Runs cycles for one account. Side effects come in from outside: store and clock here, mailbox per cycle."""

    def __init__(self, config: Config, store: st.Store, *, clock: Clock,
                 library: TemplateLibrary | None = None, sender: Sender | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.tz: ZoneInfo = config.identity.timezone
        self.own_addresses = frozenset(a.lower() for a in config.identity.addresses)
        self.tracking_address = config.tracking.address.lower()
        self.drafter = Drafter(config, library) if library is not None else None
        self.sender = sender
        # Scale-out: a check that this process still owns the account, made before each mailbox write phase.
        self.fence: Callable[[], bool] | None = None
        self._clocks: dict[str, list[int]] = {}  # [cadence] recipient_time: offsets seen this cycle, per person

    # ------------------------------------------------------------------ the cycle
    def run_cycle(self, mailbox: MailboxPort, *, dry_run: bool = False) -> CycleReport:
        """Sync every folder and apply what was found; with ``dry_run`` nothing is written anywhere."""
        report = CycleReport()
        folders = mailbox.resolve_folders(
            sent=self.config.folders.sent, drafts=self.config.folders.drafts, watch=self.config.folders.watch
        )
        order: list[tuple[str, bool]] = []
        if folders.sent:
            order.append((folders.sent, True))
        order.extend((name, False) for name in folders.watch if name != folders.sent)
        report.watched = tuple(folders.watch)
        self._mailbox = mailbox  # for the few bodies worth reading (matched OOOs, replies, bounces)
        session_cm = self.store.read() if dry_run else self.store.transaction()
        self._clocks = {}
        with session_cm as session:
            report.requests = apply_requests(session, self.config, self.clock.now())
            index = _LazyIndex(lambda: self._load_index(session))
            for folder, is_sent in order:
                self._sync_folder(session, mailbox, folder, is_sent, index, report)
            if not dry_run:
                self._save_clocks(session, report)
            self._replan(session, report)
            if self.drafter is not None:
                self.drafter.plan(session, self.clock.now(), report.drafts)
            session.flush()
        if not dry_run:
            crash_point("after_sync_commit")
        if not dry_run and self.fence is not None and not self.fence():
            raise LeaseLostError("this process's lease on the account ran out during the cycle; another followupd "
                                 "takes over (nothing was drafted or sent by this one)")
        if self.drafter is not None and not dry_run:
            self.drafter.act(self.store, mailbox, folders.drafts, self.clock.now(), report.drafts)
        if self.sender is not None and not dry_run:
            self.sender.act(self.store, mailbox, sent_folder=folders.sent, drafts_folder=folders.drafts,
                            now=self.clock.now(), report=report.sends)
        return report

    # ------------------------------------------------------------------ sync
    def _sync_folder(self, session: Session, mailbox: MailboxPort, folder: str, is_sent: bool,
                     index: _LazyIndex, report: CycleReport) -> None:
        status = mailbox.examine(folder)
        cursor = st.get_cursor(session, folder)
        if cursor is None:
            cursor = st.FolderCursor(folder=folder, uidvalidity=status.uidvalidity, last_uid=0)
            session.add(cursor)
        elif cursor.uidvalidity != status.uidvalidity:
            # RFC 3501 §2.3.1.1: UIDs from the old validity mean nothing now. Re-reading is safe because
            # every write below is keyed by Message-ID.
            logger.warning("%s: UIDVALIDITY changed (%s -> %s); rescanning the folder",
                           folder, cursor.uidvalidity, status.uidvalidity)
            report.rescanned.append(folder)
            cursor.uidvalidity = status.uidvalidity
            cursor.last_uid = 0
        if status.uidnext is not None and cursor.last_uid >= status.uidnext - 1:
            report.folders[folder] = 0
            return  # nothing new: no FETCH at all
        batch: list[SeenMessage] = []
        count = 0
        fetched_headers = mailbox.fetch_headers_since(folder, cursor.last_uid, FETCH_HEADER_FIELDS,
                                                      expect_uidvalidity=status.uidvalidity)
        for fetched in fetched_headers:
            count += 1
            cursor.last_uid = max(cursor.last_uid, fetched.uid)
            seen = self._parse(folder, fetched, is_sent, report)
            if seen is not None:
                batch.append(seen)
            if len(batch) >= 500:
                self._add_received(mailbox, folder, status.uidvalidity, batch)
                self._process(session, batch, index, report)
                batch = []
        self._add_received(mailbox, folder, status.uidvalidity, batch)
        self._process(session, batch, index, report)
        report.folders[folder] = count

    def _add_received(self, mailbox: MailboxPort, folder: str, uidvalidity: int, batch: list[SeenMessage]) -> None:
        """Received "for" clauses, read only for the user's own delivered mail that shows no other trace.

        Such a copy (Bcc'd to the tracking address, Sent copy without Bcc) may name the address only in a
        Received "for" clause (Exim without envelope_to_add, an earlier forwarding hop). Received chains are the
        bulkiest header fields, so they are not in the bulk FETCH: one narrow FETCH per batch, for these few."""
        wanted = [i for i, seen in enumerate(batch) if not seen.is_sent_folder and seen.meta.from_ is not None
                  and seen.meta.followupd_id is None  # our own reminders need no trace
                  and is_own_address(seen.meta.from_.email, self.own_addresses)
                  and self._tracking_request(seen) is None]
        if not wanted:
            return
        blocks = mailbox.fetch_header_fields(folder, [batch[i].uid for i in wanted], RECEIVED_FIELDS,
                                             expect_uidvalidity=uidvalidity)
        for i in wanted:
            found = received_for_in(blocks.get(batch[i].uid, b""))
            if found:
                batch[i] = dataclasses.replace(batch[i], meta=dataclasses.replace(batch[i].meta, received_for=found))

    def _parse(self, folder: str, fetched: FetchedHeader, is_sent: bool, report: CycleReport) -> SeenMessage | None:
        try:
            meta = parse_headers(fetched.raw)
        except Exception:  # parse_headers promises not to raise; one bad message must still never stop a cycle
            logger.exception("%s:%s: could not parse the message headers; skipped", folder, fetched.uid)
            report.skipped += 1
            return None
        for problem in meta.problems:
            logger.debug("%s:%s: %s", folder, fetched.uid, problem)
        if not is_sent and b"\\Draft" in fetched.flags:
            return None  # an unsent draft (Gmail's All Mail holds them): neither a touch nor a tracked message
        if fetched.gm_msgid is not None:
            if fetched.gm_msgid in report.gmail_ids:
                return None  # the same Gmail message under another label, already read this cycle
            report.gmail_ids.add(fetched.gm_msgid)
        return SeenMessage(folder, fetched.uid, meta, fetched.internaldate, is_sent,
                           conversation_keys(meta, fetched.gm_thrid))

    def _process(self, session: Session, batch: list[SeenMessage], lazy_index: _LazyIndex,
                 report: CycleReport) -> None:
        """Tracking first, then matching, so a delivered copy and its reply in one batch are both understood."""
        if not batch:
            return
        index = lazy_index()
        if self.config.cadence.recipient_time:
            self._learn_clocks(batch)
        leftovers: list[SeenMessage] = []
        for seen in batch:
            if not self._isolated(seen, report, partial(self._maybe_track, session, seen, index, report)):
                leftovers.append(seen)
        for seen in leftovers:
            self._isolated(seen, report, partial(self._match, session, seen, index, report))

    # ------------------------------------------------------------------ the recipient's clock
    def _learn_clocks(self, batch: Sequence[SeenMessage]) -> None:
        """[cadence] recipient_time: the UTC offset of each person's own mail (followupd.planning.recipient_clock);
        gathered per cycle and stored once per person in :meth:`_save_clocks`."""
        for seen in batch:
            meta = seen.meta
            if meta.kind is not MessageKind.PERSONAL or meta.from_ is None or seen.is_sent_folder:
                continue
            offset = utc_offset_minutes(meta.date)
            if offset is None or is_own_address(meta.from_.email, self.own_addresses):
                continue
            self._clocks.setdefault(meta.from_.email.strip().lower(), []).append(offset)

    def _save_clocks(self, session: Session, report: CycleReport) -> None:
        """Store what this cycle learned; a person whose clock moved gets their waiting threads re-planned."""
        moved: set[str] = set()
        for email, offsets in self._clocks.items():
            key = clock_key(email)
            before = decode_clock(st.get_meta(session, key))
            after = remember_offsets(before, offsets)
            st.set_meta(session, key, encode_clock(after))
            if likely_offset(after) != likely_offset(before):
                moved.add(email)
        self._clocks = {}
        if moved:
            for thread in st.threads_in_states(session, (st.WAITING,)):
                if moved & {p["email"].strip().lower() for p in thread.participants()}:
                    report.touched.add(thread.id)

    def _isolated(self, seen: SeenMessage, report: CycleReport, step: Callable[[], bool]) -> bool:
        """Run one message's step so that a failure skips that message only, never the cycle.

        Writes go through a SAVEPOINT, opened only once the pure decision says there is something to write, so a
        mailbox of 100k unrelated messages costs no savepoints. Returns the step's answer, or True when the
        message was skipped (it is then not looked at again in this cycle)."""
        try:
            return step()
        except Exception:
            logger.exception("%s: could not process message %s; skipped", seen.where, seen.meta.message_id or "")
            report.skipped += 1
            return True

    # ------------------------------------------------------------------ tracking
    def _tracking_request(self, seen: SeenMessage) -> TrackRequest | None:
        meta = seen.meta
        if meta.from_ is None or not is_own_address(meta.from_.email, self.own_addresses):
            return None  # only mail the user sent starts tracking; others writing to the address do not
        if is_reminder_id(meta.followupd_id):
            return None  # our reminder about a promise, in INBOX: from the user to the user, but never mail
        if seen.is_sent_folder:
            candidates = [a.email for a in (*meta.bcc, *meta.to, *meta.cc)]
        else:
            # Received "for" clauses may name other hops' recipients: harmless here, only the tracking address counts.
            candidates = [*(a.email for a in (*meta.to, *meta.cc)), *meta.delivered_to, *meta.received_for]
        sent_on = (seen.when or self.clock.now()).astimezone(self.tz).date()
        return find_tracking(candidates, self.tracking_address, sent_on=sent_on,
                             holidays=self.config.cadence.holidays)

    def _maybe_track(self, session: Session, seen: SeenMessage, index: ThreadIndex, report: CycleReport) -> bool:
        """Start (or enrich) a thread when the message carries the tracking address; True if it did."""
        request = self._tracking_request(seen)
        if request is None:
            return False
        meta = seen.meta
        if not any(self._recipients(meta).values()):
            # Only the user's own addresses besides the tracking address: a self-test (doctor's advice), never a
            # thread "to nobody" that would wait until stopped by hand.
            logger.info("%s: self-test %r (to your own addresses and %s): not tracked", seen.where, meta.subject,
                        request.address)
            return True
        is_known_copy = meta.message_id is not None and index.thread_for_message_id(meta.message_id) is not None
        if not is_known_copy and self._follows_up_open_thread(meta, index):
            if not self._chains_a_promise(session, meta, index, request):
                return False  # the user nudged a tracked thread by hand (Bcc'ing again): a touch, matched below
            # A promise kept while asking something back, or a new promise made in the update ("I'll know more
            # on Friday"): the message counts in the open thread first, then starts a thread of its own.
            self._match(session, seen, index, report)
        with session.begin_nested():
            self._track(session, seen, request, index, report)
        return True

    def _track(self, session: Session, seen: SeenMessage, request: TrackRequest, index: ThreadIndex,
               report: CycleReport) -> None:
        meta = seen.meta
        message_id = meta.message_id or self._synthetic_message_id(seen)
        thread = session.get(st.Thread, thread_id_for(message_id))
        recipients = self._recipients(meta)
        known_ids: tuple[str, ...] | None = None
        if thread is None:
            thread = self._new_thread(session, seen, message_id, request, recipients)
            known_ids = ()  # a thread made just now owns only its own id: no query to find that out
            report.new_threads.append(thread.id)
            report.touched.add(thread.id)
            logger.info("tracking %s: %r to %s (%s)", thread.id, thread.subject,
                        ", ".join(r["email"] for r in thread.participants()) or "nobody", seen.where)
        else:
            self._merge_copy(thread, seen, recipients)
        session.flush()  # inside the savepoint: a write that fails, fails for this message only
        if thread.state in MATCHABLE_STATES:
            index.add(self._thread_key(thread, known_ids))

    def _follows_up_open_thread(self, meta: MessageMeta, index: ThreadIndex) -> bool:
        """Writes in an open thread to someone it already waits on; a forward to someone new is a new thread."""
        recipients = {a.email for a in meta.all_recipients()}
        for mid in meta.referenced_ids:
            thread_id = index.thread_for_message_id(mid)
            key = index.get(thread_id) if thread_id else None
            if key is not None and key.participants & recipients:
                return True
        return False

    def _chains_a_promise(self, session: Session, meta: MessageMeta, index: ThreadIndex,
                          request: TrackRequest) -> bool:
        """A tracked message in an open thread where a promise is involved: it makes one, or it answers a
        thread that tracks one. Then it is both a message in that thread and the start of its own."""
        if request.own_commitment:
            return True
        for mid in meta.referenced_ids:
            thread_id = index.thread_for_message_id(mid)
            thread = session.get(st.Thread, thread_id) if thread_id else None
            if thread is not None and thread.kind == st.COMMITMENT:
                return True
        return False

    def _synthetic_message_id(self, seen: SeenMessage) -> str:
        """A stand-in id for a sent message without Message-ID, stable across both copies where possible."""
        meta = seen.meta
        basis = "|".join([meta.subject, meta.date.isoformat() if meta.date else "",
                          ",".join(a.email for a in meta.all_recipients())])
        return f"<followupd-noid-{hashlib.sha256(basis.encode()).hexdigest()[:20]}@localhost>"

    def _recipients(self, meta: MessageMeta) -> dict[str, list[dict[str, str]]]:
        def keep(addresses: tuple[Address, ...]) -> list[dict[str, str]]:
            kept = [a for a in addresses if not is_tracking_address(a.email, self.tracking_address)
                    and not is_own_address(a.email, self.own_addresses)]
            return _addr_dicts(kept)
        return {"to": keep(meta.to), "cc": keep(meta.cc), "bcc": keep(meta.bcc)}

    def _new_thread(self, session: Session, seen: SeenMessage, message_id: str, request: TrackRequest,
                    recipients: dict[str, list[dict[str, str]]]) -> st.Thread:
        meta = seen.meta
        now = self.clock.now()
        problems: list[str] = []
        if request.problem:
            problems.append(request.problem)
        if meta.message_id is None:
            problems.append("the sent message has no Message-ID; replies can only be matched by subject")
        if not any(recipients.values()):
            problems.append("no recipients besides you and the tracking address: nobody to follow up with")
        thread = st.Thread(
            id=thread_id_for(message_id), message_id=message_id, subject=meta.subject,
            from_email=meta.from_.email if meta.from_ else "", from_name=meta.from_.name if meta.from_ else "",
            to=recipients["to"], cc=recipients["cc"], bcc=recipients["bcc"],
            references=list(meta.references) or list(meta.in_reply_to),
            sent_at=seen.when or now, first_seen_at=now,
            tracking_address=request.address, tracking_suffix=request.suffix, promised=request.promised,
            problems=problems, touches=0, source=[seen.where], conversation_keys=list(seen.conversation_keys),
            kind=st.COMMITMENT if request.own_commitment else st.NUDGE,
            expect_all=request.expect_all or self.config.tracking.expect_all,
            # A new thread has no follow-ups or reminders yet: saying so spares the query for each that the rest
            # of the message's processing (a follow-up by hand, a reply) would otherwise make to find that out.
            touch_rows=[], reminder_rows=[],
        )
        lifecycle.start(thread, now)
        session.add(thread)
        # Already counted in an open thread (a promise chained, see _maybe_track): that row stays, so a reply to
        # this message still reaches the older thread; this one finds it by its own Thread.message_id.
        if session.get(st.ThreadMessageId, message_id) is None:
            session.add(st.ThreadMessageId(message_id=message_id, thread_id=thread.id, role="tracked"))
        detail = f"tracking started from {seen.where}"
        if request.own_commitment:
            detail += (f" (your promise, suffix {request.suffix!r}: reminder "
                       + (f"on {request.promised})" if request.promised else "after the first gap)"))
        elif request.suffix:
            detail += f" (suffix {request.suffix!r}" + (f", first check-in {request.promised})" if request.promised
                                                       else ", not understood)")
        # A thread made just now has no events to repeat: add it without add_event's look-up for a duplicate.
        session.add(st.Event(thread_id=thread.id, at=now, kind="tracked", message_id=message_id, detail=detail))
        session.flush()
        return thread

    def _merge_copy(self, thread: st.Thread, seen: SeenMessage, recipients: dict[str, list[dict[str, str]]]) -> None:
        """The other copy of a tracked message (Sent vs delivered): one thread, recipients united."""
        if seen.where not in thread.source:
            thread.source = [*thread.source, seen.where]
        if set(seen.conversation_keys) - set(thread.conversation_keys or ()):
            thread.conversation_keys = sorted(set(thread.conversation_keys or ()) | set(seen.conversation_keys))
        for role in ("to", "cc", "bcc"):
            current: list[dict[str, str]] = list(getattr(thread, role))
            known = {entry["email"] for entry in current}
            added = [entry for entry in recipients[role] if entry["email"] not in known]
            if added:
                setattr(thread, role, current + added)

    # ------------------------------------------------------------------ matching
    def _thread_key(self, thread: st.Thread, ids: Iterable[str] | None = None) -> ThreadKey:
        """``ids``: the thread's known message ids when the caller has them (else they are loaded)."""
        known = (row.message_id for row in thread.ids) if ids is None else ids
        return ThreadKey(
            thread_id=thread.id,
            message_ids=frozenset(known) | {thread.message_id}
            | frozenset(thread.conversation_keys or ()),
            participants=frozenset(p["email"] for p in thread.participants()),
            base_subject=base_subject(thread.subject),
            sent_at=thread.sent_at,
        )

    def _load_index(self, session: Session) -> ThreadIndex:
        """All matchable threads with their known ids, in two queries (not one per thread)."""
        threads = st.threads_in_states(session, MATCHABLE_STATES)
        ids_by_thread = st.message_ids_by_thread(session, MATCHABLE_STATES)
        for thread_id, draft_id in st.draft_ids_by_thread(session, MATCHABLE_STATES):
            ids_by_thread.setdefault(thread_id, []).append(draft_id)
        keys = []
        for thread in threads:
            keys.append(ThreadKey(
                thread_id=thread.id,
                message_ids=frozenset(ids_by_thread.get(thread.id, ())) | {thread.message_id}
                | frozenset(thread.conversation_keys or ()),
                participants=frozenset(p["email"] for p in thread.participants()),
                base_subject=base_subject(thread.subject),
                sent_at=thread.sent_at,
            ))
        return ThreadIndex(keys)

    def _match(self, session: Session, seen: SeenMessage, index: ThreadIndex, report: CycleReport) -> bool:
        if not len(index):
            return False
        if seen.meta.followupd_id and not seen.is_sent_folder:
            return False  # one of our own drafts (a watched Drafts folder): not a touch until it is sent
        meta = seen.meta
        if seen.conversation_keys:  # matched like References, after the real ids
            meta = dataclasses.replace(meta, references=(*meta.references, *seen.conversation_keys))
        events = self._sent_draft_event(session, seen, index) or match_message(
            meta, index, own_addresses=self.own_addresses, arrived_at=seen.internaldate)
        if not events and seen.meta.kind in (MessageKind.BOUNCE, MessageKind.RECEIPT):
            # Also receipts: Dovecot/Pigeonhole rejections arrive as disposition-notification reports ("deleted"),
            # with no In-Reply-To; the report itself says whether it is a failure.
            return self._match_bounce_by_report(session, seen, index, report)
        if not events and meta.thread_topic and base_subject(meta.thread_topic) != base_subject(meta.subject):
            # Outlook keeps the conversation's topic in Thread-Topic even when the subject was rewritten.
            topical = dataclasses.replace(meta, subject=meta.thread_topic)
            events = [dataclasses.replace(e, evidence=f"{e.evidence} (by Thread-Topic)") for e in match_message(
                topical, index, own_addresses=self.own_addresses, arrived_at=seen.internaldate)]
        if not events and self.config.replies.match_domain:
            events = self._match_by_domain(seen, index)
        if not events:
            return False
        with session.begin_nested():
            for match in events:
                thread = session.get(st.Thread, match.thread_id)
                if thread is not None:
                    self._apply(session, thread, seen, match, index, report)
            session.flush()
        return True

    def _match_bounce_by_report(self, session: Session, seen: SeenMessage, index: ThreadIndex,
                                report: CycleReport) -> bool:
        """Postfix, Exim and qmail bounces carry no In-Reply-To: the report's copy of the original's headers
        (RFC 3464's message/rfc822 or text/rfc822-headers part) names the Message-ID instead. A report naming
        none is tied by recipient, subject and time when exactly one thread fits (bouncetie.py), as probable."""
        dsn = interpret.bounce_report(self._body(seen))
        if dsn is None:
            return False
        tie = tie_report(dsn, index, seen.when or seen.internaldate)
        thread = session.get(st.Thread, tie.thread_id) if tie else None
        if tie is None or thread is None:
            return False
        with session.begin_nested():
            at = seen.when or self.clock.now()
            recorded = st.add_event(session, thread, at=at, kind="bounce",
                                    message_id=seen.meta.message_id or seen.where,
                                    detail=f"{tie.evidence} ({seen.where})")
            if recorded and thread.state == st.WAITING:
                self._apply_bounce(session, thread, seen, at, report, dsn, probable=tie.probable)
            session.flush()
        return True

    def _match_by_domain(self, seen: SeenMessage, index: ThreadIndex) -> list[MatchEvent]:
        """[replies] match_domain: a colleague at the recipient's company answering in a new thread, same subject."""
        meta = seen.meta
        if meta.kind is not MessageKind.PERSONAL or meta.from_ is None or meta.referenced_ids:
            return []
        if is_own_address(meta.from_.email, self.own_addresses):
            return []
        domain = meta.from_.email.rpartition("@")[2]
        if not domain or domain in FREEMAIL_DOMAINS:
            return []
        subject = base_subject(meta.subject)
        when = meta.date or seen.internaldate
        for key in index.with_subject(subject):
            if when is not None and when > key.sent_at and any(p.endswith("@" + domain) for p in key.participants):
                return [MatchEvent(kind=EventKind.REPLY, thread_id=key.thread_id, probable=True,
                                   evidence=f'same subject "{meta.subject}" from {meta.from_.email}, '
                                            f"a colleague at {domain}, no threading headers")]
        return []

    def _sent_draft_event(self, session: Session, seen: SeenMessage, index: ThreadIndex) -> list[MatchEvent]:
        """Our own draft, sent by the user: a touch, recognised by its marker or its Message-ID.

        Needed because draft ids are in the index (so a reply to the follow-up alone still matches), and the
        matcher ignores a message whose own id is already known to the thread."""
        meta = seen.meta
        if not seen.is_sent_folder or meta.from_ is None or not is_own_address(meta.from_.email, self.own_addresses):
            return []
        touch: st.Touch | None = None
        if meta.followupd_id:
            touch = session.get(st.Touch, meta.followupd_id)
        if touch is None and meta.message_id and index.thread_for_message_id(meta.message_id) is not None:
            # By the id recorded for it, whatever its shape; only ids the index knows (ours are in it), so the
            # user's other sent mail costs no query.
            touch = st.touch_by_message_id(session, meta.message_id)
        if touch is None or touch.thread_id not in index:
            return []
        return [MatchEvent(kind=EventKind.OWN_TOUCH, thread_id=touch.thread_id, probable=False,
                           evidence=f"your follow-up {touch.id} was sent")]

    def _apply(self, session: Session, thread: st.Thread, seen: SeenMessage, match: MatchEvent,
               index: ThreadIndex, report: CycleReport) -> None:
        meta = seen.meta
        message_id = meta.message_id or f"<{seen.where}@followupd.invalid>"
        at = seen.when or self.clock.now()
        sender = meta.from_.email if meta.from_ else "unknown sender"
        if match.kind is EventKind.REPLY and (notice := interpret.delivery_notice(self._body(seen), meta)):
            # A postmaster's "Re: <subject>", a Java mail server's rejection: machines, whatever the headers say.
            match = dataclasses.replace(match, kind=EventKind.BOUNCE, evidence=f"{match.evidence}; {notice}")
        detail = f"{match.evidence} ({seen.where}, from {sender})"
        if (match.kind is EventKind.REPLY and thread.kind != st.COMMITMENT and thread.state == st.WAITING
                and not self._read_reply(session, thread, seen, match, message_id, at, detail, index, report)):
            return  # a holding reply or a decline: recorded and handled there
        if not st.add_event(session, thread, at=at, kind=match.kind.value, message_id=message_id, detail=detail):
            return  # already applied in an earlier cycle (a rescan re-reads old mail)
        if thread.kind == st.COMMITMENT and self._apply_to_promise(session, thread, seen, match, message_id, at,
                                                                   index, report):
            return  # the user's own promise: only the user's own message in the thread settles it
        if match.kind is EventKind.REPLY:
            if thread.expect_all and self._partial_answer(session, thread, seen, message_id, index, report):
                return
            self._close_replied(session, thread, seen, match, message_id, at)
            index.remove(thread.id)
            how = "probably replied" if match.probable else "replied"
            report.changes.append(f"{thread.id} {how} by {sender}")
            logger.info("%s: %s by %s: %s", thread.id, how, sender, match.evidence)
        elif match.kind is EventKind.OWN_TOUCH:
            self._count_own_touch(session, thread, seen, message_id, at)
            report.touched.add(thread.id)
            key = index.get(thread.id)
            if key is not None:  # a reply to this very message, later in the same cycle, must match it
                index.add(dataclasses.replace(key, message_ids=key.message_ids | {message_id}))
            report.changes.append(f"{thread.id} touched by you")
            logger.info("%s: you followed up (%s)", thread.id, seen.where)
        elif match.kind is EventKind.AUTO_REPLY and thread.state == st.WAITING:
            self._postpone_for_ooo(session, thread, seen, at, report)
        elif match.kind is EventKind.BOUNCE and thread.state == st.WAITING:
            self._apply_bounce(session, thread, seen, at, report)
        else:
            # Read receipts (and automatic mail to closed threads) are recorded with their evidence, nothing more.
            report.changes.append(f"{thread.id} got {match.kind.value.replace('_', ' ')}")
            logger.info("%s: %s from %s, not a reply (%s)", thread.id, match.kind.value, sender, meta.kind_evidence)

    def _partial_answer(self, session: Session, thread: st.Thread, seen: SeenMessage, message_id: str,
                        index: ThreadIndex, report: CycleReport) -> bool:
        """With ``-all``, one To recipient's answer settles only them: True while others still owe one.

        A waiting draft is withdrawn (it was addressed to someone who has now answered) and the next one goes
        only to those who have not. An answer from outside the To list (a colleague) counts for everyone."""
        sender = seen.meta.from_.email if seen.meta.from_ else ""
        expected = {entry["email"] for entry in thread.to} - set(thread.failed_recipients or ())
        remaining = lifecycle.partly_answered(thread, sender=sender, expected=expected, now=self.clock.now())
        if not remaining:
            return False
        self._remember_id(session, thread, message_id, "reply")
        key = index.get(thread.id)
        if key is not None:
            index.add(dataclasses.replace(key, message_ids=key.message_ids | {message_id}))
        report.touched.add(thread.id)
        report.changes.append(f"{thread.id}: {sender} answered, still waiting on {', '.join(remaining)}")
        logger.info("%s: %s answered; still waiting on %s", thread.id, sender, ", ".join(remaining))
        return True

    def _body(self, seen: SeenMessage) -> bytes | None:
        """The whole message, read with BODY.PEEK (\\Seen untouched); None when it cannot be had."""
        mailbox = getattr(self, "_mailbox", None)
        if mailbox is None:
            return None
        cached: tuple[tuple[str, int, str | None], bytes | None] | None = getattr(self, "_last_body", None)
        if cached is not None and cached[0] == (seen.folder, seen.uid, seen.meta.message_id):
            return cached[1]  # asked again for the same message (a notice check, then its reading)
        try:
            body: bytes | None = mailbox.fetch_full(seen.folder, seen.uid)
        except OperationalError as exc:
            logger.warning("%s: could not read the message body (%s); judging by its headers", seen.where, exc)
            return None
        self._last_body = ((seen.folder, seen.uid, seen.meta.message_id), body)
        return body

    def _read_reply(self, session: Session, thread: st.Thread, seen: SeenMessage, match: MatchEvent,
                    message_id: str, at: datetime, detail: str, index: ThreadIndex, report: CycleReport) -> bool:
        """A human reply: True when it answers (the caller closes the thread); holding replies and declines are
        handled here. When unsure it is an answer: never chase someone who answered."""
        intent = interpret.human_reply(self._body(seen), received=at, replies=self.config.replies, tz=self.tz)
        if intent.kind == "reply":
            return True
        if not st.add_event(session, thread, at=at, kind=intent.kind, message_id=message_id,
                            detail=f"{detail}; {intent.evidence}"):
            return False
        self._remember_id(session, thread, message_id, "reply")
        sender = seen.meta.from_.email if seen.meta.from_ else "someone"
        now = self.clock.now()
        if intent.kind == "declined":
            lifecycle.declined(thread, by=sender, evidence=intent.evidence, at=at, now=now)
            index.remove(thread.id)
            report.changes.append(f"{thread.id} declined by {sender}")
            logger.info("%s: declined by %s (%s); no more follow-ups", thread.id, sender, intent.evidence)
            return False
        hold = interpret.holding_until(intent, received=at, replies=self.config.replies,
                                       cadence=self.config.cadence, tz=self.tz)
        lifecycle.holding_reply(thread, by=sender, until=hold.until, evidence=hold.evidence, now=now)
        report.touched.add(thread.id)
        report.changes.append(f"{thread.id}: {sender} will answer later")
        logger.info("%s: holding reply from %s: %s", thread.id, sender, hold.evidence)
        return False

    def _postpone_for_ooo(self, session: Session, thread: st.Thread, seen: SeenMessage, at: datetime,
                          report: CycleReport) -> None:
        hold = interpret.out_of_office(self._body(seen), seen.meta.subject, received=at, replies=self.config.replies,
                                       cadence=self.config.cadence, tz=self.tz)
        sender = seen.meta.from_.email if seen.meta.from_ else "someone"
        lifecycle.out_of_office(thread, by=sender, until=hold.until, now=self.clock.now())
        st.add_event(session, thread, at=at, kind="postponed", message_id=f"ooo:{seen.meta.message_id or seen.where}",
                     detail=hold.evidence)
        report.touched.add(thread.id)
        report.changes.append(f"{thread.id}: {sender} out of office, postponed")
        logger.info("%s: out-of-office from %s: %s", thread.id, sender, hold.evidence)

    def _apply_bounce(self, session: Session, thread: st.Thread, seen: SeenMessage, at: datetime,
                      report: CycleReport, dsn: DeliveryReport | None = None, probable: bool = False) -> None:
        """Permanent failures mark those addresses failed; when nobody is left to reach, the thread fails."""
        dsn = dsn or interpret.bounce_report(self._body(seen))
        if dsn is None:
            report.changes.append(f"{thread.id} got a bounce")
            return
        people = {p["email"] for p in thread.participants()}
        failed = sorted({r.address.lower() for r in dsn.permanent_failures} & people)
        if not failed:
            report.changes.append(f"{thread.id} got a delivery report (no permanent failure)")
            return
        words = "; ".join(f"{r.address}: {r.status} {r.diagnostic}".strip() for r in dsn.permanent_failures
                          if r.address.lower() in failed)
        problem = f"undeliverable{' (probable: the report names no message)' if probable else ''}: {words}"
        thread_failed = lifecycle.bounced(thread, people=people, failed=failed, problem=problem, words=words,
                                          now=self.clock.now())
        st.add_event(session, thread, at=at, kind="failed_recipient", message_id=f"dsn:{seen.where}", detail=words)
        if thread_failed:
            report.changes.append(f"{thread.id} failed: every recipient bounced")
            logger.info("%s: every recipient bounced; no more follow-ups (%s)", thread.id, words)
        else:
            report.changes.append(f"{thread.id}: {', '.join(failed)} bounced")
            logger.info("%s: %s bounced; the others are still followed up", thread.id, ", ".join(failed))

    def _remember_id(self, session: Session, thread: st.Thread, message_id: str, role: str) -> None:
        if session.get(st.ThreadMessageId, message_id) is None:
            session.add(st.ThreadMessageId(message_id=message_id, thread_id=thread.id, role=role))

    def _close_replied(self, session: Session, thread: st.Thread, seen: SeenMessage, match: MatchEvent,
                       message_id: str, at: datetime) -> None:
        self._remember_id(session, thread, message_id, "reply")
        lifecycle.replied(thread, evidence=match.evidence, by=seen.meta.from_.email if seen.meta.from_ else "",
                          at=at, probable=match.probable, now=self.clock.now())

    def _count_own_touch(self, session: Session, thread: st.Thread, seen: SeenMessage, message_id: str,
                         at: datetime) -> None:
        """The user wrote in the thread: our queued draft sent (edited or not) or a nudge by hand.

        Either way it is one touch; a draft of ours still sitting in Drafts is now stale and is removed, so the
        recipient can never get the same nudge twice."""
        self._remember_id(session, thread, message_id, "touch")
        if not lifecycle.own_touch(thread, at=at):
            return
        pending = open_touch(thread)
        if pending is not None:
            ours = message_id == pending.message_id or seen.meta.followupd_id == pending.id
            lifecycle.touch_found_in_sent(pending, at=at, ours=ours)

    def _apply_to_promise(self, session: Session, thread: st.Thread, seen: SeenMessage, match: MatchEvent,
                          message_id: str, at: datetime, index: ThreadIndex, report: CycleReport) -> bool:
        """A commitment thread (``+followup-me``): the user owes the answer, not the recipients.

        A reply from someone else is recorded and changes nothing: the user still owes the update. The user's
        own message in the thread (our update draft, sent, or words of their own) keeps the promise. Returns
        False for the other events (auto-replies, bounces, receipts), which are handled as for any thread."""
        sender = seen.meta.from_.email if seen.meta.from_ else "unknown sender"
        key = index.get(thread.id)
        if match.kind is EventKind.REPLY:
            self._remember_id(session, thread, message_id, "reply")
            if key is not None:  # the user's answer to this very message, later in the cycle, must match it
                index.add(dataclasses.replace(key, message_ids=key.message_ids | {message_id}))
            report.changes.append(f"{thread.id}: {sender} wrote; your promise still stands")
            logger.info("%s: %s wrote, but the promise is yours: still waiting for your update (%s)",
                        thread.id, sender, match.evidence)
            return True
        if match.kind is not EventKind.OWN_TOUCH:
            return False
        self._remember_id(session, thread, message_id, "touch")
        if thread.state not in MATCHABLE_STATES:
            return True
        pending = open_touch(thread)
        ours = pending is not None and (message_id == pending.message_id or seen.meta.followupd_id == pending.id)
        if pending is not None and ours:
            lifecycle.touch_found_in_sent(pending, at=at, ours=True)
        how = f"your update {pending.id} was sent" if pending is not None and ours else \
            f"you wrote in the thread ({seen.where})"
        keep_promise(session, thread, self.clock.now(), at=at, by=sender, how=how, message_id=message_id)
        index.remove(thread.id)
        report.changes.append(f"{thread.id}: you kept your promise")
        return True

    # ------------------------------------------------------------------ planning
    def _cadence_fingerprint(self) -> str:
        return hashlib.sha256(f"{self.config.cadence!r}|{self.tz}".encode()).hexdigest()[:16]

    def _replan(self, session: Session, report: CycleReport) -> None:
        """Re-plan the threads this cycle changed; all waiting threads when the cadence config changed.

        Re-planning everything every cycle would make a quiet cycle cost O(threads); this keeps it O(changes)."""
        now = self.clock.now()
        fingerprint = self._cadence_fingerprint()
        if st.get_meta(session, "cadence_fingerprint") != fingerprint:
            threads = st.threads_in_states(session, (st.WAITING,))
            st.set_meta(session, "cadence_fingerprint", fingerprint)
        else:
            threads = [t for tid in sorted(report.touched) if (t := session.get(st.Thread, tid)) is not None]
        if len(threads) > BULK_REPLAN:
            self._replan_bulk(session, threads, now, report)
            return
        for thread in threads:
            if thread.state == st.WAITING and replan_thread(session, thread, self.config, now):
                report.changes.append(f"{thread.id} closed as unanswered")

    def _replan_bulk(self, session: Session, threads: list[st.Thread], now: datetime, report: CycleReport) -> None:
        """The same re-planning for many threads (a cadence change, a first sync), with one UPDATE for all.

        The ORM writes a changed ``next_due`` with one statement per thread; for 10,000 threads that was half a
        second of the 1.1 s the engine took (bench/). Threads whose sequence is over still go through
        ``replan_thread``, which closes them and records why."""
        session.flush()
        changed: list[tuple[st.Thread, datetime]] = []
        for thread in threads:
            if thread.state != st.WAITING:
                continue
            due = planned_due(thread, self.config)
            if due is None:
                if replan_thread(session, thread, self.config, now):
                    report.changes.append(f"{thread.id} closed as unanswered")
            elif thread.next_due != due:
                changed.append((thread, due))
        if changed:
            session.execute(update(st.Thread), [{"id": thread.id, "next_due": due} for thread, due in changed])
            for thread, due in changed:
                set_committed_value(thread, "next_due", due)  # written just now: not dirty, no second UPDATE

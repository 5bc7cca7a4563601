"""Sync: read each folder's new headers, parse them, and hand every message to tracking, then to matching.

Only UIDs above the stored cursor are fetched, headers only (``BODY.PEEK``); a changed UIDVALIDITY rescans the
folder, which is harmless because every write is keyed by Message-ID. One bad message is skipped, never the cycle.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from functools import partial

from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.adapters.imap import FetchedHeader
from followupd.engine.awaiting import AutoTracker
from followupd.engine.context import (
    CycleContext,
    CycleReport,
    CycleStep,
    LazyIndex,
    MailboxPort,
    SeenMessage,
    conversation_keys,
)
from followupd.engine.events import EventApplier
from followupd.engine.names import NameLearner
from followupd.engine.owed import OwedWatcher
from followupd.engine.tracking import Tracker
from followupd.mail import internal_errors
from followupd.mail.headers import FETCH_HEADER_FIELDS, MessageKind, parse_headers
from followupd.mail.traces import RECEIVED_FIELDS, received_for_in
from followupd.planning.matching import ThreadIndex, is_own_address
from followupd.planning.recipient_clock import decode as decode_clock
from followupd.planning.recipient_clock import encode as encode_clock
from followupd.planning.recipient_clock import likely_offset, utc_offset_minutes
from followupd.planning.recipient_clock import meta_key as clock_key
from followupd.planning.recipient_clock import remember as remember_offsets

logger = logging.getLogger("followupd.engine.cycle")  # logs as "followupd.engine", as it always did

#: Bodies read ahead for one batch (_prefetch_bodies): at most this many bytes in all, none bigger than the
#: second figure, so memory stays a few MB whatever the mailbox holds.
PREFETCH_BYTES = 8 * 1024 * 1024
PREFETCH_LARGEST = 256 * 1024


class FolderSync(CycleStep):
    """One cycle's reading of the folders; made per cycle, so what it learns (the clocks) is this cycle's."""

    def __init__(self, context: CycleContext, tracker: Tracker, events: EventApplier) -> None:
        super().__init__(context)
        self.tracker = tracker
        self.events = events
        self.awaiting = AutoTracker(context, tracker)  # the Tracker's step, plus [tracking] auto (issue 14)
        self._clocks: dict[str, list[int]] = {}  # [cadence] recipient_time: offsets seen this cycle, per person
        self.names = NameLearner(self.own_addresses)  # greeting names seen this cycle (followupd.engine.names)
        self.owed = OwedWatcher(context, events.body)  # [owed]: replies the user owes (followupd.engine.owed)
        self._sizes: dict[int, int] = {}  # RFC822.SIZE of the current batch's messages, for _prefetch_bodies

    def sync_folder(self, session: Session, mailbox: MailboxPort, folder: str, is_sent: bool,
                     index: LazyIndex, report: CycleReport) -> None:
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
            self._sizes[fetched.uid] = fetched.size
            seen = self._parse(folder, fetched, is_sent, report)
            if seen is not None:
                batch.append(seen)
            if len(batch) >= 500:
                self._add_received(mailbox, folder, status.uidvalidity, batch)
                self._process(session, batch, index, report)
                batch = []
                self._sizes = {}
        self._add_received(mailbox, folder, status.uidvalidity, batch)
        self._process(session, batch, index, report)
        self._sizes = {}
        report.folders[folder] = count

    def _add_received(self, mailbox: MailboxPort, folder: str, uidvalidity: int, batch: list[SeenMessage]) -> None:
        """Received "for" clauses, read only for the user's own delivered mail that shows no other trace.

        Such a copy (Bcc'd to the tracking address, Sent copy without Bcc) may name the address only in a
        Received "for" clause (Exim without envelope_to_add, an earlier forwarding hop). Received chains are the
        bulkiest header fields, so they are not in the bulk FETCH: one narrow FETCH per batch, for these few."""
        wanted = [i for i, seen in enumerate(batch) if not seen.is_sent_folder and seen.meta.from_ is not None
                  and seen.meta.followupd_id is None  # our own reminders need no trace
                  and is_own_address(seen.meta.from_.email, self.own_addresses)
                  and self.tracker.tracking_request(seen) is None]
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

    def _process(self, session: Session, batch: list[SeenMessage], lazy_index: LazyIndex,
                 report: CycleReport) -> None:
        """Tracking first, then matching, so a delivered copy and its reply in one batch are both understood."""
        if not batch:
            return
        index = lazy_index()
        self._prefetch_bodies(batch, index)
        if self.config.cadence.recipient_time:
            self._learn_clocks(batch)
        self.names.observe(batch)
        self.owed.observe(session, batch)
        leftovers: list[SeenMessage] = []
        for seen in batch:
            if not self._isolated(seen, report, partial(self.awaiting.maybe_track, session, seen, index, report)):
                leftovers.append(seen)
        for seen in leftovers:
            self._isolated(seen, report, partial(self.events.match, session, seen, index, report))

    def _prefetch_bodies(self, batch: Sequence[SeenMessage], index: ThreadIndex) -> None:
        """Read the bodies this batch will probably need in a few FETCHes (BodyReader.prefetch), not one each.

        A guess from headers alone, before tracking and matching: a message that starts a thread (its text may
        be a meeting recap), a report (bounces and receipts are read for the id they quote) and anything whose
        threading headers name a thread being followed up (a reply is read for what it says). A wrong guess costs
        a body read for nothing, or one read later on its own; never a different outcome."""
        wanted: list[int] = []
        budget = PREFETCH_BYTES
        try:
            for seen in batch:
                size = self._sizes.get(seen.uid, 0)
                # Big messages (a bounce quoting an attachment) are left to their own read, which keeps only one;
                # so is a message whose size the server did not say (0): nothing would bound the batch.
                if 0 < size <= min(PREFETCH_LARGEST, budget) and self._may_need_body(seen, index):
                    wanted.append(seen.uid)
                    budget -= size
        except Exception as exc:  # only a guess: a message it cannot judge (a date past year 9999) is met again
            # by tracking and matching, each isolated per message; the guess must never stop the folder
            internal_errors.record("prefetch", exc, logger=logger,
                                   doing="guessing which bodies to read ahead; they are read one by one")
            wanted = []
        # A single one is read when it is needed, as before; an empty read-ahead drops the last batch's bodies.
        self.events.body.prefetch(batch[0].folder, wanted if len(wanted) > 1 else [])

    def _may_need_body(self, seen: SeenMessage, index: ThreadIndex) -> bool:
        meta = seen.meta
        if meta.kind in (MessageKind.BOUNCE, MessageKind.RECEIPT):
            return True
        if meta.from_ is not None and is_own_address(meta.from_.email, self.own_addresses):
            # the user's own: a new thread is read, and (issue 14) recent Sent mail without the BCC
            return self.tracker.tracking_request(seen) is not None or self.awaiting.may_read(seen)
        if self.owed.may_read(seen):  # [owed]: a person's message to the user (issue 14)
            return True
        return len(index) > 0 and any(index.thread_for_message_id(mid) is not None
                                      for mid in (*meta.referenced_ids, *seen.conversation_keys))

    # ------------------------------------------------------------------ the recipient's clock
    def _learn_clocks(self, batch: Sequence[SeenMessage]) -> None:
        """[cadence] recipient_time: the UTC offset of each person's own mail (followupd.planning.recipient_clock);
        gathered per cycle and stored once per person in :meth:`save_clocks`."""
        for seen in batch:
            meta = seen.meta
            if meta.kind is not MessageKind.PERSONAL or meta.from_ is None or seen.is_sent_folder:
                continue
            offset = utc_offset_minutes(meta.date)
            if offset is None or is_own_address(meta.from_.email, self.own_addresses):
                continue
            self._clocks.setdefault(meta.from_.email.strip().lower(), []).append(offset)

    def save_clocks(self, session: Session, report: CycleReport) -> None:
        """Store what this cycle learned; a person whose clock moved gets their waiting threads re-planned."""
        moved: set[str] = set()
        for email, offsets in self._clocks.items():
            key = clock_key(email)
            before = decode_clock(st.get_meta(session, key))
            after = remember_offsets(before, offsets)
            st.set_meta(session, key, encode_clock(after))
            if likely_offset(after) != likely_offset(before):
                moved.add(email)
        if moved:
            for thread in st.threads_in_states(session, (st.WAITING,)):
                if moved & {p["email"].strip().lower() for p in thread.participants()}:
                    report.touched.add(thread.id)

    def save_names(self, session: Session) -> None:
        """Store the display names this cycle read (followupd.engine.names), before drafting uses them."""
        changed = self.names.save(session)
        if changed:
            logger.debug("learned or refreshed the names of %d people", changed)

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

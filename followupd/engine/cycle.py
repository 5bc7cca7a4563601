"""One cycle: sync -> classify -> track -> match -> apply events -> plan -> act; where the pure core meets the
adapters.

The cycle reads new headers from every folder (Sent first, so a thread exists before its replies are read),
turns them into MessageMeta, starts tracking what carries the tracking address (engine.tracking), matches the
rest against the open threads and applies what they mean (engine.events, through planning.lifecycle), and plans
each waiting thread's next check-in. All of that lands in ONE database transaction together with the folder
cursors: a crash anywhere leaves either the whole cycle or none of it, and re-reading the same mail is harmless
because every write is keyed by Message-ID. Then it acts: drafts, reminders, sends and the weekly digest, each
exactly once.

Everything a cycle works with is handed to :meth:`Engine.run_cycle` (the mailbox, the template library of this
cycle, the lease fence); the steps are made per cycle, so nothing of one cycle lingers into the next.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from followupd.adapters import store as st
from followupd.adapters.clock import Clock
from followupd.adapters.faults import crash_point
from followupd.compose.library import TemplateLibrary
from followupd.config import Config
from followupd.engine.awaiting import expire_suggestions
from followupd.engine.context import (
    BodyReader,
    CycleContext,
    CycleReport,
    LazyIndex,
    MailboxPort,
    SeenMessage,
    conversation_keys,
    thread_id_for,
)
from followupd.engine.digest import DigestFiler
from followupd.engine.drafts import Drafter, DraftsSync, planned_due, replan_thread
from followupd.engine.events import EventApplier
from followupd.engine.requests import apply_requests
from followupd.engine.sending import Sender
from followupd.engine.sync import FolderSync
from followupd.engine.tracking import Tracker
from followupd.errors import FollowupdError, LeaseLostError
from followupd.mail import internal_errors
from followupd.planning.lifecycle import MATCHABLE_STATES

__all__ = [
    "BULK_REPLAN",
    "MATCHABLE_STATES",
    "CycleReport",
    "Engine",
    "MailboxPort",
    "SeenMessage",
    "conversation_keys",
    "thread_id_for",
]

logger = logging.getLogger(__name__)

#: Re-planning more threads than this at once (a cadence change, a first sync) writes them in one bulk UPDATE.
BULK_REPLAN = 50

#: A check that this process still owns the account (scale-out leases), made before the mailbox is written.
Fence = Callable[[], bool]


class Engine:
    """Runs cycles for one account. The store, clock and sender are the account's; what changes from one cycle
    to the next (the mailbox connection, the template library, the lease fence) is passed to each cycle."""

    def __init__(self, config: Config, store: st.Store, *, clock: Clock, sender: Sender | None = None) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        self.sender = sender
        self.context = CycleContext(config, clock)

    # ------------------------------------------------------------------ the cycle
    def run_cycle(self, mailbox: MailboxPort, *, library: TemplateLibrary | None = None, fence: Fence | None = None,
                  dry_run: bool = False) -> CycleReport:
        """Sync every folder and apply what was found; with ``dry_run`` nothing is written anywhere.

        ``library``: the templates for this cycle's drafts (None: no drafting). ``fence``: asked after the
        database work and before any mailbox write; False means another process took the account over."""
        report = CycleReport()
        folders = mailbox.resolve_folders(
            sent=self.config.folders.sent, drafts=self.config.folders.drafts, watch=self.config.folders.watch
        )
        order: list[tuple[str, bool]] = []
        if folders.sent:
            order.append((folders.sent, True))
        order.extend((name, False) for name in folders.watch if name != folders.sent)
        report.watched = tuple(folders.watch)
        events = EventApplier(self.context, BodyReader(mailbox))  # bodies: matched OOOs, replies, bounces
        sync = FolderSync(self.context, Tracker(self.context, events), events)
        drafter = Drafter(self.config, library) if library is not None else None
        session_cm = self.store.read() if dry_run else self.store.transaction()
        with session_cm as session:
            report.requests = apply_requests(session, self.config, self.clock.now())
            index = LazyIndex(lambda: events.load_index(session))
            for folder, is_sent in order:
                sync.sync_folder(session, mailbox, folder, is_sent, index, report)
            # In every mode: suggestions left from when auto was on still expire (one indexed query).
            if expire_suggestions(session, self.config, self.clock.now()):
                report.changes.append("suggestions older than [tracking] suggest_days expired")
            if not dry_run:
                sync.save_clocks(session, report)
                sync.save_names(session)
                sync.owed.settle(session, report)
            self._replan(session, report)
            if drafter is not None:
                drafter.plan(session, self.clock.now(), report.drafts)
            session.flush()
        if not dry_run:
            crash_point("after_sync_commit")
        if not dry_run and fence is not None and not fence():
            raise LeaseLostError("this process's lease on the account ran out during the cycle; another followupd "
                                 "takes over (nothing was drafted or sent by this one)")
        if drafter is not None and not dry_run:
            DraftsSync(self.config).act(self.store, mailbox, folders.drafts, self.clock.now(), report.drafts)
        if self.sender is not None and not dry_run:
            self.sender.act(self.store, mailbox, sent_folder=folders.sent, drafts_folder=folders.drafts,
                            now=self.clock.now(), report=report.sends)
        if not dry_run:
            self._file_digest(mailbox, report)
        return report

    def _file_digest(self, mailbox: MailboxPort, report: CycleReport) -> None:
        """The weekly digest, last: a bug in it must not turn a cycle whose real work is done into a failure
        (it is logged, and tried again next cycle); a mailbox or database error is the cycle's like any other."""
        try:
            filed = DigestFiler(self.config).act(self.store, mailbox, self.clock.now())
        except FollowupdError:
            raise
        except Exception as exc:  # a bug: recorded as an internal error (logged once), the cycle's work stands
            internal_errors.record("digest", exc, logger=logger, doing="filing the weekly digest; tried again next "
                                                                      "cycle")
            return
        if filed is not None:
            report.changes.append("weekly digest filed in INBOX")

    # ------------------------------------------------------------------ planning
    def _cadence_fingerprint(self) -> str:
        return hashlib.sha256(f"{self.config.cadence!r}|{self.context.tz}".encode()).hexdigest()[:16]

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

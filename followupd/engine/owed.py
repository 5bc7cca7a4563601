"""Replies you owe (issue 14 point 3): noticed during the sync, closed by the user's own answer.

With ``[owed] enabled``, each batch a folder sync reads goes through :meth:`OwedWatcher.observe` once, before
tracking and matching: the user's own messages (Sent, or any other watched folder) say which Message-IDs they
answer; a new message from a person, written to the user directly (``planning.owed.header_verdict``), recent
enough (``planning.owed.FIRST_LOOK``), not answered already and not known yet, has its whole body read once
(``BODY.PEEK[]`` while its folder is still open: ``\\Seen`` stays as it was) and read by ``mail.asks.read_ask``.
At the end of the folder loop :meth:`OwedWatcher.settle` writes what was found, in the cycle's transaction:

* a new ``owed`` row (open) for each message that asks the user something, unless one of the user's messages read
  in this same cycle answers it: Sent is read before INBOX, so on a first sync the user's reply is usually known
  before the question, and the question's body is not even read; an answer read after it (another folder) still
  keeps it off the list. Such a message gets a row too, closed from the start (``answered``, evidence ""): the
  answers live only for one cycle, and without the row a rescan or a copy filed into another watched folder
  would read it again as a question nobody answered;
* each open row whose ``thread_refs`` one of the user's messages of this cycle names, and which that message is
  addressed to the row's sender (a forward to a colleague is no answer), is ``answered``, with that message's id
  as ``closed_by``.

Cost: nothing at all with ``[owed]`` off, and nothing in a quiet cycle (no new mail: no batch, no query); per
batch with candidates, one query for which of them were read before (a rescan, a copy in another folder), then
one ``UID FETCH BODY.PEEK[]`` per new candidate; the open rows are loaded only when the user sent something that
names other messages.
Nothing here ever writes to the mailbox: an owed reply is never a draft to anyone.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.engine.context import BodyReader, CycleContext, CycleReport, CycleStep, SeenMessage, thread_id_for
from followupd.errors import OperationalError
from followupd.mail import asks, internal_errors
from followupd.planning.lifecycle import awaiting
from followupd.planning.owed import (
    Answer,
    Answers,
    answer_for,
    answer_recipients,
    answered_refs,
    closings,
    header_verdict,
    remember_answer,
    thread_refs,
    within_first_look,
)

__all__ = ["OwedWatcher"]

logger = logging.getLogger("followupd.owed")


@dataclass(frozen=True)
class _Found:
    """A received message that asks the user something, waiting to be written at the end of the cycle."""

    seen: SeenMessage
    refs: tuple[str, ...]
    evidence: str
    received_at: datetime


def _sender(seen: SeenMessage) -> str:
    """The sender's address (``header_verdict`` has made sure there is one for any candidate)."""
    return seen.meta.from_.email if seen.meta.from_ is not None else ""


class OwedWatcher(CycleStep):
    """One cycle's noticing of replies the user owes (see the module docstring)."""

    def __init__(self, context: CycleContext, body: BodyReader) -> None:
        super().__init__(context)
        self.enabled = context.config.owed.enabled
        self.body = body
        self.answers: Answers = {}          # a Message-ID the user answered this cycle -> the user's answer
        self.found: list[_Found] = []
        self.answered: list[tuple[_Found, Answer]] = []  # first read already answered: kept closed, body unread
        self._read_ids: set[str] = set()     # Message-IDs read this cycle or with a row already
        self.bodies_read = 0
        # The reader's "the user": the [identity] addresses and the tracking address's base (it drops +tags).
        self._reader_own = frozenset({*self.own_addresses, self.tracking_address})

    def may_read(self, seen: SeenMessage) -> bool:
        """Whether :meth:`observe` may read this message's body, from its headers alone (the sync reads such
        bodies ahead, several per FETCH); a row already kept (a rescan) only makes the read unneeded."""
        if not self.enabled or seen.is_sent_folder or seen.meta.message_id is None or seen.when is None:
            return False
        return (not header_verdict(seen.meta, own_addresses=self.own_addresses,
                                   tracking_address=self.tracking_address)
                and within_first_look(seen.when, self.clock.now())
                and answer_for(thread_refs(seen.meta), seen.when, self.answers, sender=_sender(seen)) is None)

    def observe(self, session: Session, batch: Sequence[SeenMessage]) -> None:
        """The user's answers of this batch first, then the questions (while their folder is selected)."""
        if not self.enabled or not batch:
            return
        for seen in batch:
            refs = answered_refs(seen.meta, own_addresses=self.own_addresses)
            if refs:
                remember_answer(self.answers, refs, Answer(seen.meta.message_id or seen.where, seen.when,
                                                           answer_recipients(seen.meta)))
        now = self.clock.now()
        candidates: list[tuple[SeenMessage, tuple[str, ...], datetime]] = []
        for seen in batch:
            if seen.is_sent_folder:
                continue
            meta = seen.meta
            if meta.message_id is None:
                continue  # nothing to hold it by: neither deduplicated across folders nor closable by a reply
            if header_verdict(meta, own_addresses=self.own_addresses, tracking_address=self.tracking_address):
                continue
            received_at = seen.when
            if received_at is None or not within_first_look(received_at, now):
                continue
            candidates.append((seen, thread_refs(meta), received_at))
        if not candidates:
            return
        known = self._known(session, [seen.meta.message_id or "" for seen, _, _ in candidates])
        for seen, refs, received_at in candidates:
            if seen.meta.message_id in known:
                continue  # read before (a rescan, another folder's copy): never twice
            known.add(seen.meta.message_id or "")
            answer = answer_for(refs, received_at, self.answers, sender=_sender(seen))
            if answer is not None:  # answered already: remembered as such, its body never read
                self.answered.append((_Found(seen, refs, "", received_at), answer))
                continue
            try:
                self._read(seen, refs, received_at)
            except OperationalError:
                raise  # the mailbox or database is gone: the cycle's failure, retried as any other
            except Exception as exc:  # a bug here must cost this message's reading, never the cycle (nor the reply)
                internal_errors.record("owed", exc, logger=logger,
                                       doing=f"reading whether {seen.where} is a reply you owe; skipped")

    def _read(self, seen: SeenMessage, refs: tuple[str, ...], received_at: datetime) -> None:
        raw = self.body(seen)
        if raw is None:
            return
        self.bodies_read += 1
        reading = asks.read_ask(raw, direction="received", own_addresses=self._reader_own,
                                settings=self.config.replies.asks)
        if not reading.expects:
            logger.debug("%s: no reply owed (%s)", seen.where, reading.reason)
            return
        self.found.append(_Found(seen, refs, reading.evidence, received_at))

    def _known(self, session: Session, message_ids: list[str]) -> set[str]:
        """Which of these Message-IDs were already read in this cycle or have a row: one query per batch, for the
        batch's candidates only (the table grows with the years; a batch does not)."""
        fresh = [mid for mid in message_ids if mid not in self._read_ids]
        if fresh:
            self._read_ids.update(session.scalars(select(st.Owed.message_id).where(
                st.Owed.account == self.config.account_key, st.Owed.message_id.in_(fresh))))
        return self._read_ids

    def _row(self, found: _Found, now: datetime) -> st.Owed:
        """The store's row for a message read this cycle (its state is the lifecycle's to set)."""
        meta = found.seen.meta
        sender = meta.from_
        assert sender is not None and meta.message_id is not None  # header_verdict and observe hold them
        return st.Owed(id=thread_id_for(f"owed:{meta.message_id}"), account=self.config.account_key,
                       message_id=meta.message_id, thread_refs=list(found.refs),
                       from_addr=sender.email.lower(), from_name=sender.name or "", subject=meta.subject,
                       received_at=found.received_at, folder=found.seen.folder, uid=found.seen.uid,
                       evidence=found.evidence, created_at=now)

    def settle(self, session: Session, report: CycleReport) -> None:
        """Write the new rows and close the answered ones, in the cycle's transaction."""
        if not self.enabled:
            return
        if self.bodies_read:
            logger.debug("read %d message(s) for replies you owe; %d ask you something", self.bodies_read,
                         len(self.found))
        now = self.clock.now()
        opened = 0
        for found in self.found:
            answer = answer_for(found.refs, found.received_at, self.answers, sender=_sender(found.seen))
            if answer is not None:  # the user's answer came later in this cycle (another folder)
                self.answered.append((_Found(found.seen, found.refs, "", found.received_at), answer))
                continue
            row = self._row(found, now)
            awaiting.owed_opened(row)
            session.add(row)
            opened += 1
            logger.debug("reply owed to %s: %r (%s): %s", row.from_addr, row.subject, found.seen.where,
                         found.evidence)
        for found, answer in self.answered:
            row = self._row(found, now)
            awaiting.owed_seen_answered(row, by=answer.message_id, at=now)
            session.add(row)
        if opened:
            report.changes.append(f"{opened} new repl{'y' if opened == 1 else 'ies'} you owe")
        if not self.answers:
            return
        session.flush()
        rows = {row.id: row for row in session.scalars(
            select(st.Owed).where(st.Owed.account == self.config.account_key,
                                  st.Owed.state == awaiting.OwedState.OPEN))}
        closed = 0
        for closing in closings(((row.id, row.thread_refs or (), row.received_at, row.from_addr)
                                 for row in rows.values()), self.answers):
            if awaiting.owed_answered(rows[closing.owed_id], by=closing.closed_by, at=now):
                closed += 1
        if closed:
            report.changes.append(f"{closed} repl{'y' if closed == 1 else 'ies'} you owed answered")

"""Applying events: a matched message (reply, decline, holding reply, out-of-office, bounce, the user's own
follow-up, a promise kept) is recorded with its evidence and handed to followupd.planning.lifecycle, which owns
every change of state. Bodies are read only for the few messages whose meaning depends on them."""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.engine import recaps
from followupd.engine.context import FREEMAIL_DOMAINS, BodyReader, CycleContext, CycleReport, CycleStep, SeenMessage
from followupd.engine.drafts import keep_promise, open_touch
from followupd.mail.dsn import DeliveryReport
from followupd.mail.headers import MessageKind, base_subject
from followupd.planning import interpret, lifecycle
from followupd.planning.bouncetie import tie_report
from followupd.planning.lifecycle import MATCHABLE_STATES
from followupd.planning.matching import EventKind, MatchEvent, ThreadIndex, ThreadKey, is_own_address, match_message

logger = logging.getLogger("followupd.engine.cycle")  # logs as "followupd.engine", as it always did


class EventApplier(CycleStep):
    """Matches one message against the open threads and applies what it means; ``body`` reads a message whole."""

    def __init__(self, context: CycleContext, body: BodyReader) -> None:
        super().__init__(context)
        self.body = body
        # The cycle's threads, held: the session keeps objects only weakly, and a thread it dropped between two
        # messages was loaded again by the next look-up (an autoflush and a query) and so were its follow-up and
        # reminder lists (a lazy query each). In a first sync that met 2,000 tracked threads these reloads were
        # about half of the cycle (py-spy, bench/mailgen.py mail). Holding them changes no answer: every look-up
        # still goes through the session, which knows what a rolled-back savepoint removed. The most recently
        # used HELD_THREADS are held (mail about a thread comes close together in UID order), so memory stays
        # bounded (a few KB per thread) however many threads a first sync rebuilds.
        self._held: OrderedDict[str, st.Thread] = OrderedDict()
        self._made: set[str] = set()  # ids of the threads made during this cycle (tracking.py makes them all)
        self._stored_ids: frozenset[str] | None = None

    #: Threads held in memory at most (see __init__): about 10 MB.
    HELD_THREADS = 2000

    def hold(self, thread: st.Thread, *, made: bool = False) -> st.Thread:
        """Keep ``thread`` in memory (and so in the session's identity map) while it is among the most recently
        used; ``made``: the cycle made it just now (see :meth:`may_exist`)."""
        if made:
            self._made.add(thread.id)
        self._held[thread.id] = thread
        self._held.move_to_end(thread.id)
        if len(self._held) > self.HELD_THREADS:
            self._held.popitem(last=False)
        return thread

    def thread(self, session: Session, thread_id: str) -> st.Thread | None:
        """``session.get`` of a thread, held for what follows (see :meth:`hold`)."""
        thread = session.get(st.Thread, thread_id)
        return self.hold(thread) if thread is not None else None

    def may_exist(self, session: Session, thread_id: str) -> bool:
        """False only for an id that was not in the store when the cycle first asked and that no thread made
        during the cycle has (tracking.py makes every thread and says so): no look-up can then find it."""
        if thread_id in self._made:
            return True
        if self._stored_ids is None:
            self._stored_ids = frozenset(session.scalars(select(st.Thread.id)))
        return thread_id in self._stored_ids

    def load_index(self, session: Session) -> ThreadIndex:
        """All matchable threads with their known ids, in two queries (not one per thread)."""
        threads = st.threads_in_states(session, MATCHABLE_STATES)
        for thread in threads[-self.HELD_THREADS:]:
            self.hold(thread)
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

    def match(self, session: Session, seen: SeenMessage, index: ThreadIndex, report: CycleReport) -> bool:
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
                thread = self.thread(session, match.thread_id)
                if thread is not None:
                    self._apply(session, thread, seen, match, index, report)
            session.flush()
        return True

    def _match_bounce_by_report(self, session: Session, seen: SeenMessage, index: ThreadIndex,
                                report: CycleReport) -> bool:
        """Postfix, Exim and qmail bounces carry no In-Reply-To: the report's copy of the original's headers
        (RFC 3464's message/rfc822 or text/rfc822-headers part) names the Message-ID instead. A report naming
        none is tied by recipient, subject and time when exactly one thread fits (bouncetie.py), as probable."""
        dsn = interpret.bounce_report(self.body(seen))
        if dsn is None:
            return False
        tie = tie_report(dsn, index, seen.when or seen.internaldate)
        thread = self.thread(session, tie.thread_id) if tie else None
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
        if match.kind is EventKind.REPLY and (notice := interpret.delivery_notice(self.body(seen), meta)):
            # A postmaster's "Re: <subject>", a Java mail server's rejection: machines, whatever the headers say.
            match = dataclasses.replace(match, kind=EventKind.BOUNCE, evidence=f"{match.evidence}; {notice}")
        detail = f"{match.evidence} ({seen.where}, from {sender})"
        if thread.kind == st.ACTIONS and self._apply_to_recap(session, thread, seen, match, message_id, at, detail,
                                                              index, report):
            return  # a meeting recap: the sender's own action items, not the whole thread
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

    def _apply_to_recap(self, session: Session, thread: st.Thread, seen: SeenMessage, match: MatchEvent,
                        message_id: str, at: datetime, detail: str, index: ThreadIndex, report: CycleReport) -> bool:
        """A message in a recap's thread (followupd.engine.recaps): a person's answer settles their own items, an
        owner's out-of-office holds only their check-ins, the user's sent check-in counts for its owner.
        Returns False for what is handled as in any thread (bounces, receipts, a closed recap)."""
        if thread.state != st.WAITING:
            return False
        sender = seen.meta.from_.email.lower() if seen.meta.from_ else ""
        now = self.clock.now()
        if match.kind is EventKind.REPLY:
            if not st.add_event(session, thread, at=at, kind=match.kind.value, message_id=message_id, detail=detail):
                return True  # already applied in an earlier cycle (a rescan re-reads old mail)
            self._remember_id(session, thread, message_id, "reply")
            summary = recaps.apply_answer(session, thread, sender=sender, raw=self.body(seen), at=at, now=now,
                                          config=self.config, message_id=message_id)
            key = index.get(thread.id)
            if thread.state != st.WAITING:
                index.remove(thread.id)
            elif key is not None:  # a reply to this very answer, later in the same cycle, must match it
                index.add(dataclasses.replace(key, message_ids=key.message_ids | {message_id}))
            report.touched.add(thread.id)
            report.changes.append(f"{thread.id}: {summary}")
            logger.info("%s: %s", thread.id, summary)
            return True
        if match.kind is EventKind.AUTO_REPLY:
            hold = interpret.out_of_office(self.body(seen), seen.meta.subject, received=at,
                                           replies=self.config.replies, cadence=self.config.cadence, tz=self.tz)
            if recaps.owner_away(thread, sender=sender, until=hold.until, now=now):
                st.add_event(session, thread, at=at, kind="postponed",
                             message_id=f"ooo:{seen.meta.message_id or seen.where}",
                             detail=f"{sender}'s check-ins wait: {hold.evidence}")
                report.touched.add(thread.id)
                report.changes.append(f"{thread.id}: {sender} out of office, their check-ins wait")
            else:
                st.add_event(session, thread, at=at, kind=match.kind.value, message_id=message_id, detail=detail)
            return True
        if match.kind is EventKind.OWN_TOUCH:
            if not st.add_event(session, thread, at=at, kind=match.kind.value, message_id=message_id, detail=detail):
                return True
            self._remember_id(session, thread, message_id, "touch")
            for touch in thread.touch_rows:  # several check-ins may wait at once: the one this message is
                if touch.state in lifecycle.OPEN_TOUCH_STATES and (
                        touch.message_id == message_id or seen.meta.followupd_id == touch.id):
                    lifecycle.touch_found_in_sent(touch, at=at, ours=True)
                    thread.touches += 1
                    thread.last_touch_at = at
            report.touched.add(thread.id)
            key = index.get(thread.id)
            if key is not None:
                index.add(dataclasses.replace(key, message_ids=key.message_ids | {message_id}))
            return True
        return False

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

    def _read_reply(self, session: Session, thread: st.Thread, seen: SeenMessage, match: MatchEvent,
                    message_id: str, at: datetime, detail: str, index: ThreadIndex, report: CycleReport) -> bool:
        """A human reply: True when it answers (the caller closes the thread); holding replies and declines are
        handled here. When unsure it is an answer: never chase someone who answered."""
        intent = interpret.human_reply(self.body(seen), received=at, replies=self.config.replies, tz=self.tz)
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
        hold = interpret.out_of_office(self.body(seen), seen.meta.subject, received=at, replies=self.config.replies,
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
        dsn = dsn or interpret.bounce_report(self.body(seen))
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
        if thread.kind == st.ACTIONS:
            recaps.note_undeliverable(thread, words)
        if thread_failed:
            report.changes.append(f"{thread.id} failed: every recipient bounced")
            logger.info("%s: every recipient bounced; no more follow-ups (%s)", thread.id, words)
        else:
            report.changes.append(f"{thread.id}: {', '.join(failed)} bounced")
            logger.info("%s: %s bounced; the others are still followed up", thread.id, ", ".join(failed))

    def _remember_id(self, session: Session, thread: st.Thread, message_id: str, role: str) -> None:
        if st.message_id_row(session, message_id) is None:
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

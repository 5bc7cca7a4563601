"""Tracking: a message the user sent to the tracking address starts a thread (or enriches the one its other copy
started: the Sent copy and the delivered copy are one thread, recipients united)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.engine import recaps
from followupd.engine.context import CycleContext, CycleReport, CycleStep, SeenMessage, addr_dicts, thread_id_for
from followupd.engine.digest import is_digest_id
from followupd.engine.drafts import is_reminder_id
from followupd.engine.events import EventApplier
from followupd.engine.mailcmd import MailCommands
from followupd.engine.schedule import replan_thread
from followupd.mail.headers import Address, MessageMeta, base_subject
from followupd.planning import lifecycle
from followupd.planning.awaiting import address_excluded
from followupd.planning.commands import MailCommand, Verb
from followupd.planning.lifecycle import MATCHABLE_STATES
from followupd.planning.lifecycle import awaiting as awaiting_states
from followupd.planning.matching import ThreadIndex, ThreadKey, is_own_address
from followupd.planning.tracking import TrackRequest, find_tracking, is_tracking_address

logger = logging.getLogger("followupd.engine.cycle")  # logs as "followupd.engine", as it always did


class Tracker(CycleStep):
    """Starts threads; a message that follows up an open thread by hand is left to matching (``events``)."""

    def __init__(self, context: CycleContext, events: EventApplier) -> None:
        super().__init__(context)
        self.events = events
        self.commands = MailCommands(context, events.body)

    def _candidates(self, seen: SeenMessage) -> list[str] | None:
        """The addresses a tracking address may hide in; None for mail that can neither track nor command."""
        meta = seen.meta
        if meta.from_ is None or not is_own_address(meta.from_.email, self.own_addresses):
            return None  # only mail the user sent starts tracking; others writing to the address do not
        if is_reminder_id(meta.followupd_id) or is_digest_id(meta.followupd_id):
            return None  # our reminder about a promise or weekly digest, in INBOX: from the user, never mail
        if seen.is_sent_folder:
            return [a.email for a in (*meta.bcc, *meta.to, *meta.cc)]
        # Received "for" clauses may name other hops' recipients: harmless here, only the tracking address counts.
        return [*(a.email for a in (*meta.to, *meta.cc)), *meta.delivered_to, *meta.received_for]

    def tracking_request(self, seen: SeenMessage) -> TrackRequest | None:
        candidates = self._candidates(seen)
        if candidates is None:
            return None
        sent_on = self.sent_day(seen)
        return find_tracking(candidates, self.tracking_address, sent_on=sent_on,
                             holidays=self.config.cadence.holidays)

    def maybe_track(self, session: Session, seen: SeenMessage, index: ThreadIndex, report: CycleReport) -> bool:
        """Start (or enrich) a thread when the message carries the tracking address, or apply the command by
        mail it carries (followupd.engine.mailcmd); True if it did either."""
        request = self.tracking_request(seen)
        if request is None:
            return self.commands.is_spoofed(seen)  # consumed: logged, never applied, never a reply
        meta = seen.meta
        command = self.commands.command_word(seen, self._candidates(seen) or [])
        if command is not None:  # stop, snooze-…, done: a command, never a tracked thread
            self.commands.apply(session, seen, command, index, report)
            return True
        no_one_else = not any(self._recipients(meta).values())
        if (no_one_else and request.promised is not None and not request.own_commitment
                and self.commands.apply(session, seen, MailCommand(Verb.MOVE, request.suffix or "",
                                                                   until=request.promised), index, report)):
            return True  # a date suffix on a message about a tracked thread, to nobody else: its check-in moves
        if no_one_else:
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
            self.events.match(session, seen, index, report)
        with session.begin_nested():
            self.track(session, seen, request, index, report)
        return True

    def track(self, session: Session, seen: SeenMessage, request: TrackRequest, index: ThreadIndex,
              report: CycleReport, *, source: str = st.SOURCE_BCC, evidence: str | None = None,
              exclude: Sequence[str] = ()) -> st.Thread:
        """Start the thread (or merge this copy into it); ``source``/``evidence``: how it started (BCC, or
        followupd.engine.awaiting: on its own or by ``followupd track``, with the sentence that asks);
        ``exclude``: ``[tracking] auto_exclude`` patterns, whose recipients are never followed up without a BCC."""
        meta = seen.meta
        message_id = meta.message_id or self._synthetic_message_id(seen)
        thread_id = thread_id_for(message_id)
        # A new thread's id is in no table yet: asking would cost a query (and an autoflush) per tracked message.
        thread = self.events.thread(session, thread_id) if self.events.may_exist(session, thread_id) else None
        recipients = self.recipients(meta, exclude)
        known_ids: tuple[str, ...] | None = None
        if thread is None:
            thread = self._new_thread(session, seen, message_id, request, recipients, source=source,
                                      evidence=evidence)
            known_ids = ()  # a thread made just now owns only its own id: no query to find that out
            report.new_threads.append(thread.id)
            report.touched.add(thread.id)
            logger.info("tracking %s: %r to %s (%s)", thread.id, thread.subject,
                        ", ".join(r["email"] for r in thread.participants()) or "nobody", seen.where)
        else:
            self._merge_copy(thread, seen, recipients)
            if source == st.SOURCE_BCC and thread.source != st.SOURCE_BCC:
                self._bcc_arrived(session, thread, seen, request, message_id)
                report.touched.add(thread.id)
        session.flush()  # inside the savepoint: a write that fails, fails for this message only
        if thread.state in MATCHABLE_STATES:
            index.add(self._thread_key(thread, known_ids))
        return thread

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
            thread = self.events.thread(session, thread_id) if thread_id else None
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
        return self.recipients(meta)

    def recipients(self, meta: MessageMeta, exclude: Sequence[str] = ()) -> dict[str, list[dict[str, str]]]:
        """To/Cc/Bcc without the user and the tracking address (and recipients matching ``exclude``)."""
        def keep(addresses: tuple[Address, ...]) -> list[dict[str, str]]:
            kept = [a for a in addresses if not is_tracking_address(a.email, self.tracking_address)
                    and not is_own_address(a.email, self.own_addresses)
                    and not (exclude and address_excluded(a.email, exclude))]
            return addr_dicts(kept)
        return {"to": keep(meta.to), "cc": keep(meta.cc), "bcc": keep(meta.bcc)}

    def _new_thread(self, session: Session, seen: SeenMessage, message_id: str, request: TrackRequest,
                    recipients: dict[str, list[dict[str, str]]], *, source: str,
                    evidence: str | None) -> st.Thread:
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
            problems=problems, touches=0, seen_in=[seen.where], conversation_keys=list(seen.conversation_keys),
            source=source, evidence=evidence,
            kind=st.COMMITMENT if request.own_commitment else st.NUDGE,
            expect_all=request.expect_all or self.config.tracking.expect_all,
            # A new thread has no follow-ups or reminders yet: saying so spares the query for each that the rest
            # of the message's processing (a follow-up by hand, a reply) would otherwise make to find that out.
            touch_rows=[], reminder_rows=[], item_rows=[],
        )
        lifecycle.start(thread, now)
        session.add(thread)
        self.events.hold(thread, made=True)
        # Already counted in an open thread (a promise chained, see _maybe_track): that row stays, so a reply to
        # this message still reaches the older thread; this one finds it by its own Thread.message_id.
        if st.message_id_row(session, message_id) is None:
            session.add(st.ThreadMessageId(message_id=message_id, thread_id=thread.id, role="tracked"))
        detail = f"tracking started from {seen.where}"
        if source != st.SOURCE_BCC:
            how = "on its own ([tracking] auto)" if source == st.SOURCE_AUTO else "by `followupd track`"
            detail += f", without the BCC, {how}: {evidence!r}"
        if request.own_commitment:
            detail += (f" (your promise, suffix {request.suffix!r}: reminder "
                       + (f"on {request.promised})" if request.promised else "after the first gap)"))
        elif request.suffix:
            detail += f" (suffix {request.suffix!r}" + (f", first check-in {request.promised})" if request.promised
                                                       else ", not understood)")
        session.flush()
        # A thread made just now has no events to repeat: add it without add_event's look-up for a duplicate.
        # After the flush that stores the thread: an Event has no relationship to order its INSERT after it.
        session.add(st.Event(thread_id=thread.id, at=now, kind="tracked", message_id=message_id, detail=detail))
        if not request.own_commitment:  # a meeting recap? (followupd.engine.recaps)
            everyone = [Address(entry["email"], entry.get("name", "")) for entry in thread.participants()]
            reading = recaps.read_recap(self.events.body(seen), request=request, recipients=everyone,
                                        sent_at=thread.sent_at, config=self.config)
            if reading is not None:
                recaps.add_items(session, thread, reading, now)
                session.flush()
        return thread

    def _merge_copy(self, thread: st.Thread, seen: SeenMessage, recipients: dict[str, list[dict[str, str]]]) -> None:
        """The other copy of a tracked message (Sent vs delivered): one thread, recipients united."""
        if seen.where not in thread.seen_in:
            thread.seen_in = [*thread.seen_in, seen.where]
        if set(seen.conversation_keys) - set(thread.conversation_keys or ()):
            thread.conversation_keys = sorted(set(thread.conversation_keys or ()) | set(seen.conversation_keys))
        for role in ("to", "cc", "bcc"):
            current: list[dict[str, str]] = list(getattr(thread, role))
            known = {entry["email"] for entry in current}
            added = [entry for entry in recipients[role] if entry["email"] not in known]
            if added:
                setattr(thread, role, current + added)

    def _bcc_arrived(self, session: Session, thread: st.Thread, seen: SeenMessage, request: TrackRequest,
                     message_id: str) -> None:
        """A message tracked without the BCC (``[tracking] auto``, ``followupd track``) whose BCC'd copy arrives
        later (a Sent copy without its Bcc header is read first): the user asked for it with a suffix, and "a
        message the user BCC'd is always tracked" as they asked. Upgraded as the BCC would have started it while
        nothing was sent yet; otherwise the cadence under way stays and only the event says so."""
        now = self.clock.now()
        how = "on its own ([tracking] auto)" if thread.source == st.SOURCE_AUTO else "by `followupd track`"
        detail = f"the BCC'd copy arrived ({seen.where}); tracking had started without it, {how}"
        if awaiting_states.bcc_arrived(thread, commitment=request.own_commitment, promised=request.promised,
                                       now=now):
            thread.source = st.SOURCE_BCC  # the evidence stays: it says why it was tracked before the BCC came
            thread.tracking_address, thread.tracking_suffix = request.address, request.suffix
            thread.expect_all = thread.expect_all or request.expect_all
            if request.problem and request.problem not in thread.problems:
                thread.problems = [*thread.problems, request.problem]
            replan_thread(session, thread, self.config, now)
            if request.own_commitment:
                detail += f"; now your promise (suffix {request.suffix!r})"
            elif request.suffix:
                detail += f"; suffix {request.suffix!r}" + (f", first check-in {request.promised}"
                                                           if request.promised else ", not understood")
            else:
                detail += "; now tracked as BCC'd"
        else:
            detail += "; kept as it was (a follow-up was already made, or it is no longer waiting)"
        st.add_event(session, thread, at=now, kind="bcc_arrived", message_id=message_id, detail=detail)
        logger.info("%s: %s", thread.id, detail)

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

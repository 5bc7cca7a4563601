"""Commands by mail (issue 15): the user's message to ``me+followup-stop@…`` (``-snooze-2w``, ``-done``, or a
date such as ``-5d`` on a message only to the tracking address) about a tracked thread, applied once.

Which thread: the ids the command message refers to (In-Reply-To, References, a provider's conversation id),
else the Message-ID of the message it forwards (a ``message/rfc822`` attachment, or an inline header block
that shows one), else, for an inline forward without one (Gmail, Outlook, Apple Mail), the one open thread
whose subject and recipients the forwarded header block shows; several such threads are a problem, never a
guess. Who: only mail From one of the user's own addresses counts (the Sent copy and the delivered copy both
qualify; either copy alone suffices). A command word on mail from anyone else is logged and ignored.

Exactly once: applying records a ``mail_command`` event keyed by the command's Message-ID in the thread's
events, and a command whose event is there is not applied again (the other copy, a rescan). Never halfway: a
command that names no thread, or one that cannot take it, or malformed words, change nothing and are kept as a
problem ``followupd status`` shows (followupd.planning.commands: ORPHANS_KEY).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.engine.context import BodyReader, CycleContext, CycleReport, CycleStep, SeenMessage, thread_id_for
from followupd.engine.schedule import keep_promise, replan_thread
from followupd.mail.forwarded import read_forwarded
from followupd.mail.headers import base_subject
from followupd.planning import lifecycle
from followupd.planning.commands import ORPHANS_KEY, MailCommand, OrphanCommand, Verb, add_orphan, find_command
from followupd.planning.matching import ThreadIndex, is_own_address

logger = logging.getLogger("followupd.engine.cycle")  # logs as "followupd.engine", like the other cycle steps

#: The event that marks a command applied; its message_id is the command message's, so a copy is seen as done.
COMMAND_EVENT = "mail_command"


class MailCommands(CycleStep):
    """Reads and applies commands by mail; ``body`` reads a command message whole (forwards only)."""

    def __init__(self, context: CycleContext, body: BodyReader) -> None:
        super().__init__(context)
        self.body = body

    def command_word(self, seen: SeenMessage, candidates: Sequence[str]) -> MailCommand | None:
        """The command word (stop, snooze-…, done) the message's tracking addresses carry, if any."""
        sent_on = self.sent_day(seen)
        return find_command(candidates, self.tracking_address, sent_on=sent_on, holidays=self.config.cadence.holidays)

    def is_spoofed(self, seen: SeenMessage) -> bool:
        """Mail from someone else to a command address: logged and ignored, never applied nor read as a reply
        (it was written to the user's command address, not to the user)."""
        meta = seen.meta
        if meta.from_ is None or is_own_address(meta.from_.email, self.own_addresses):
            return False
        candidates = [*(a.email for a in (*meta.to, *meta.cc)), *meta.delivered_to]
        local_part = self.tracking_address.partition("@")[0]
        if not any(local_part in candidate.lower() for candidate in candidates):
            return False  # the common case: one substring test per recipient, not a parse
        command = self.command_word(seen, candidates)
        if command is None:
            return False
        logger.warning("%s: ignored the command %r from %s: commands count only from your own addresses",
                       seen.where, command.suffix, meta.from_.email)
        return True

    def apply(self, session: Session, seen: SeenMessage, command: MailCommand, index: ThreadIndex,
              report: CycleReport) -> bool:
        """Apply ``command`` to the thread the message refers to, or keep it as a problem. Returns False only
        for a date command that refers to nothing at all (the caller then handles the message as before)."""
        message_id = seen.meta.message_id or f"<{seen.where}@followupd.invalid>"
        done = session.scalar(select(st.Event.thread_id).where(st.Event.kind == COMMAND_EVENT,
                                                               st.Event.message_id == message_id).limit(1))
        if done is not None:  # its other copy (Sent vs delivered), or a rescan: the thread may be gone from the index
            logger.debug("%s: command %r already applied to %s", seen.where, command.suffix, done)
            return True
        thread, how, ambiguous = self._thread(session, seen, index)
        if thread is None and command.verb is Verb.MOVE and how == "":
            return False  # a date suffix on a message about nothing: a self-test, as it always was
        problem = command.problem or ambiguous
        if problem is None and thread is None:
            problem = "it refers to no tracked thread (reply to, or forward, a message of the thread)"
        if problem is None and thread is not None:
            problem = self._refusal(thread, command)
        if problem is not None or thread is None:
            self._orphan(session, seen, message_id, command, problem or "not applied")
            return True
        with session.begin_nested():
            self._change(session, seen, thread, command, message_id, how, index, report)
        return True

    # ------------------------------------------------------------------ which thread
    def _thread(self, session: Session, seen: SeenMessage, index: ThreadIndex) -> tuple[st.Thread | None, str,
                                                                                       str | None]:
        """(thread, how it was found, a problem when several fit); ``how`` is "" when the message refers to
        nothing and forwards nothing."""
        for mid in (*seen.meta.referenced_ids, *seen.conversation_keys):
            thread = self._by_id(session, mid, index)
            if thread is not None:
                return thread, "the message it replies to", None
        forwarded = read_forwarded(self.body(seen))
        for mid in forwarded.message_ids:
            thread = self._by_id(session, mid, index)
            if thread is not None:
                return thread, "the Message-ID of the message it forwards", None
        fits: dict[str, None] = {}
        for block in forwarded.blocks:
            if block.sender and not is_own_address(block.sender, self.own_addresses):
                continue  # only the user's own tracked mail is tracked: someone else's forward names none
            for key in index.with_subject(base_subject(block.subject)):
                if not block.recipients or key.participants & set(block.recipients):
                    fits.setdefault(key.thread_id, None)
        if len(fits) == 1:
            thread = session.get(st.Thread, next(iter(fits)))
            return thread, "the subject and recipients of the message it forwards", None
        if len(fits) > 1:
            return None, "ambiguous", (f"the forwarded message fits {len(fits)} tracked threads "
                                       f"({', '.join(sorted(fits))}); forward it as an attachment, or reply to it")
        refers = bool(seen.meta.referenced_ids or forwarded.message_ids or forwarded.blocks)
        return None, "refers" if refers else "", None

    def _by_id(self, session: Session, message_id: str, index: ThreadIndex) -> st.Thread | None:
        """The thread owning an id: open ones from the index, closed ones from the store."""
        thread_id = index.thread_for_message_id(message_id)
        if thread_id is None:
            known = session.get(st.ThreadMessageId, message_id)
            thread_id = known.thread_id if known is not None else thread_id_for(message_id)
        return session.get(st.Thread, thread_id)

    # ------------------------------------------------------------------ applying
    def _refusal(self, thread: st.Thread, command: MailCommand) -> str | None:
        """Why the thread cannot take the command as it stands (checked before anything changes)."""
        if command.verb is Verb.DONE:
            if thread.kind != st.COMMITMENT:
                return (f"'done' keeps your own promise (+followup-me); thread {thread.id} waits for others "
                        "(use +followup-stop)")
            if thread.state not in lifecycle.MATCHABLE_STATES:
                return f"thread {thread.id} is already {thread.state}"
            return None
        if thread.state != st.WAITING:
            return f"thread {thread.id} is already {thread.state}"
        return None

    def _change(self, session: Session, seen: SeenMessage, thread: st.Thread, command: MailCommand,
                message_id: str, how: str, index: ThreadIndex, report: CycleReport) -> None:
        now = self.clock.now()
        at = seen.when or now
        words = f"+followup-{command.suffix} by mail ({seen.where})"
        st.add_event(session, thread, at=at, kind=COMMAND_EVENT, message_id=message_id,
                     detail=f"{words}, for this thread by {how}")
        if command.verb is Verb.STOP:
            lifecycle.user_stop(thread, now=now)
            st.add_event(session, thread, at=now, kind="stopped", message_id=message_id,
                         detail="you stopped following up on this thread by mail")
            index.remove(thread.id)
            result = "stopped by your mail"
        elif command.verb is Verb.DONE:
            keep_promise(session, thread, now, at=at, by=seen.meta.from_.email if seen.meta.from_ else "",
                         how=f"you said so by mail ({seen.where})", message_id=message_id)
            index.remove(thread.id)
            result = "your promise kept (by mail)"
        else:
            assert command.until is not None  # a snooze or a move without a problem names its day
            until = datetime.combine(command.until, time(0, 0), tzinfo=self.tz)
            if command.verb is Verb.SNOOZE:
                lifecycle.user_snooze(thread, until=until, now=now)
            else:
                lifecycle.check_in_moved(thread, day=command.until, until=until, now=now)
            replan_thread(session, thread, self.config, now)
            kind = "snoozed" if command.verb is Verb.SNOOZE else "moved"
            st.add_event(session, thread, at=now, kind=kind, message_id=message_id,
                         detail=f"{kind} until {command.until.isoformat()} by mail")
            report.touched.add(thread.id)
            result = f"{kind} until {command.until.isoformat()} by your mail"
        session.flush()
        report.changes.append(f"{thread.id} {result}")
        logger.info("%s: %s (%s, found by %s)", thread.id, result, words, how)

    def _orphan(self, session: Session, seen: SeenMessage, message_id: str, command: MailCommand,
                problem: str) -> None:
        """Kept for ``status``; nothing else changes."""
        at = (seen.when or self.clock.now()).isoformat()
        updated = add_orphan(st.get_meta(session, ORPHANS_KEY),
                             OrphanCommand(message_id=message_id, at=at, where=seen.where, suffix=command.suffix,
                                           problem=problem))
        if updated is None:
            return  # its other copy was kept already
        st.set_meta(session, ORPHANS_KEY, updated)
        logger.warning("%s: command +followup-%s not applied: %s", seen.where, command.suffix, problem)

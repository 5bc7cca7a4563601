"""Sending follow-ups, exactly once, and never after a reply.

Only when ``[sending] mode`` allows it: "approve" sends what the user approved from the CLI, "auto" also sends a
draft left unchanged in Drafts for ``review_window``. A send always goes through the same steps:

1. the cycle has just synced every watched folder, so a reply that arrived is already known: a thread that is
   no longer waiting is never sent to;
2. the draft is read back from Drafts as it is now (the user may have edited it in their mail client);
3. the exact bytes are recorded and the touch marked ``sending`` (committed) BEFORE talking to SMTP;
4. SMTP; 5. the touch is confirmed ``sent`` (committed); 6. the Sent copy is filed and the draft removed.

A crash between 3 and 5 leaves a ``sending`` touch. On the next cycle its Message-ID is looked for in Sent: found
means sent. Not found, on a server that files its own Sent copies (Gmail, Office 365), means the server never
accepted it, so it is sent again; elsewhere it may or may not have gone out, and followupd will not guess: the
touch is marked failed with words saying so, and the user decides. Nothing is ever sent twice.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.message import EmailMessage
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.adapters.faults import crash_point
from followupd.adapters.smtp import SmtpSender
from followupd.compose.message import draft_message_id
from followupd.config import Config
from followupd.engine.drafts import FOLLOWUPD_HEADER, keep_promise, replan_thread, thread_zone
from followupd.errors import SmtpRejected, SmtpTemporary, SmtpUncertain
from followupd.planning import lifecycle
from followupd.planning.cadence import fit_to_window
from followupd.planning.tracking import is_tracking_address

logger = logging.getLogger(__name__)

RETRY_START = timedelta(minutes=2)
RETRY_CAP = timedelta(hours=2)
GMAIL_CAPABILITY = "X-GM-EXT-1"
#: How older versions shaped a draft's Message-ID (``<followupd.{thread}.{n}@domain>``), replaced when sent.
LEGACY_ID_PREFIX = "<followupd."
#: Headers of this prefix name the tool; none of them ever reaches a recipient.
TOOL_HEADER_PREFIX = "x-followupd"
SELF_FILING_HOSTS = ("gmail.com", "googlemail.com", "office365.com", "outlook.com", "hotmail.com")


class SendingMailbox(Protocol):
    def search_header(self, folder: str, name: str, value: str) -> list[int]: ...
    def fetch_full(self, folder: str, uid: int) -> bytes | None: ...
    def append(self, folder: str, message: bytes, *, flags: Sequence[bytes] = ...,
               msg_time: datetime | None = None) -> int | None: ...
    def delete_messages(self, folder: str, uids: Sequence[int]) -> None: ...
    def capabilities(self) -> frozenset[str]: ...


@dataclass
class SendReport:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)  # approved but held back: window, limits, spacing, retry


def retry_delay(attempts: int) -> timedelta:
    delay: timedelta = RETRY_START * (2 ** min(max(attempts - 1, 0), 12))
    return min(delay, RETRY_CAP)


def server_files_sent_copy(config: Config, capabilities: frozenset[str]) -> bool:
    """Whether the SMTP side files its own copy in Sent, so an APPEND would make a duplicate there."""
    setting = config.sending.file_sent_copy
    if setting != "auto":
        return not setting
    if GMAIL_CAPABILITY in capabilities:
        return True
    hosts = [config.account.host.lower(), config.smtp.host.lower() if config.smtp else ""]
    return any(host == suffix or host.endswith("." + suffix) for host in hosts for suffix in SELF_FILING_HOSTS)


def _addresses(message: EmailMessage, *names: str) -> list[str]:
    values = [str(v) for name in names for v in message.get_all(name, [])]
    return [addr.lower() for _name, addr in email.utils.getaddresses(values) if "@" in addr]


class Sender:
    def __init__(self, config: Config, connect_smtp: Callable[[], SmtpSender]) -> None:
        self.config = config
        self.connect_smtp = connect_smtp
        self.tz = config.identity.timezone

    # ---------------------------------------------------------------- entry point (after the cycle's sync)
    def act(self, store: st.Store, mailbox: SendingMailbox, *, sent_folder: str | None, drafts_folder: str | None,
            now: datetime, report: SendReport) -> None:
        if self.config.smtp is None:
            return
        self_filing = server_files_sent_copy(self.config, mailbox.capabilities())
        self._recover(store, mailbox, sent_folder, self_filing, now, report)
        if drafts_folder is not None:
            for touch_id in self._sendable(store, now, report):
                self._send_one(store, mailbox, touch_id, drafts_folder, self_filing, now, report)
        self._finish_sent(store, mailbox, sent_folder, drafts_folder, now)

    # ---------------------------------------------------------------- choosing what to send
    def _sendable(self, store: st.Store, now: datetime, report: SendReport) -> list[str]:
        mode = self.config.sending.mode
        if mode == "review":
            return []
        chosen: list[str] = []
        with store.transaction() as session:
            queued = session.scalars(select(st.Touch).where(st.Touch.state == st.TOUCH_QUEUED)
                                     .order_by(st.Touch.approved_at, st.Touch.created))
            sent_hour, sent_day = self._recent_sends(session, now)
            for touch in queued:
                if touch.thread.state != st.WAITING:
                    continue
                if not self._wants_sending(touch, now):
                    continue
                reason = self._hold_reason(session, touch, now, sent_hour + len(chosen), sent_day + len(chosen))
                if reason:
                    if touch.outcome != reason:
                        logger.info("%s: approved, waiting: %s", touch.id, reason)
                    touch.outcome = reason
                    report.waiting.append(touch.id)
                    continue
                chosen.append(touch.id)
        return chosen

    def _wants_sending(self, touch: st.Touch, now: datetime) -> bool:
        if touch.approved_at is not None:
            return True
        if self.config.sending.mode != "auto" or touch.thread.kind == st.COMMITMENT:
            return False  # an update about the user's own promise is theirs to write: never sent unasked
        unchanged_since = touch.draft_changed_at or touch.drafted_at
        return unchanged_since is not None and now - unchanged_since >= self.config.sending.review_window

    def _recent_sends(self, session: Session, now: datetime) -> tuple[int, int]:
        def count(since: datetime) -> int:
            return int(session.scalar(select(func.count()).select_from(st.Touch).where(
                st.Touch.sent_by_followupd.is_(True), st.Touch.done_at >= since)) or 0)
        return count(now - timedelta(hours=1)), count(now - timedelta(days=1))

    def _hold_reason(self, session: Session, touch: st.Touch, now: datetime, sent_hour: int, sent_day: int) -> str:
        """Why an approved follow-up may not go out right now ('' when it may)."""
        if touch.retry_after is not None and now < touch.retry_after:
            return f"retrying after {touch.retry_after.astimezone(self.tz):%a %d %b %H:%M}"
        zone = thread_zone(touch.thread, self.config)  # the recipient's clock with [cadence] recipient_time
        if not touch.send_now and fit_to_window(now, self.config.cadence, zone) != now:
            opens = fit_to_window(now, self.config.cadence, zone)
            return f"outside the sending window; waits until {opens.astimezone(self.tz):%a %d %b %H:%M}"
        if sent_hour >= self.config.sending.max_per_hour:
            return f"hourly limit reached ([sending] max_per_hour = {self.config.sending.max_per_hour})"
        if sent_day >= self.config.sending.max_per_day:
            return f"daily limit reached ([sending] max_per_day = {self.config.sending.max_per_day})"
        crowded = self._recently_nudged(session, touch, now)
        if crowded:
            return f"{crowded} got a follow-up too recently ([cadence] min_days_between_nudges_per_person)"
        return ""

    def _recently_nudged(self, session: Session, touch: st.Touch, now: datetime) -> str:
        """A person who got another thread's follow-up within the spacing (sent, by anyone) waits."""
        min_days = self.config.cadence.min_days_between_nudges_per_person
        today = now.astimezone(self.tz).date()
        people = {p["email"] for p in touch.thread.participants()}
        rows = session.scalars(select(st.Touch).where(
            st.Touch.state == st.TOUCH_SENT, st.Touch.thread_id != touch.thread_id,
            st.Touch.done_at >= now - timedelta(days=min_days + 1)))
        for other in rows:
            if other.done_at is None:
                continue
            day: date = other.done_at.astimezone(self.tz).date()
            if abs((today - day).days) < min_days:
                shared = people & {p["email"] for p in other.thread.participants()}
                if shared:
                    return sorted(shared)[0]
        return ""

    # ---------------------------------------------------------------- one send, exactly once
    def _current_draft(self, mailbox: SendingMailbox, folder: str, touch: st.Touch) -> tuple[int, bytes] | None:
        """The draft as it is now in Drafts, or the user's edit of it: by its recorded Message-ID, or by the
        X-Followupd-Id header a draft appended by an older version carries."""
        uids = mailbox.search_header(folder, "Message-ID", touch.message_id) if touch.message_id else []
        if not uids:
            uids = mailbox.search_header(folder, FOLLOWUPD_HEADER, touch.id)
        for uid in sorted(uids, reverse=True):
            raw = mailbox.fetch_full(folder, uid)
            if raw is not None:
                return uid, raw
        return None

    def _prepare(self, touch: st.Touch, raw: bytes, now: datetime) -> tuple[bytes, str, list[str], str]:
        """The bytes to hand to SMTP: the draft as the user left it, dated now, Bcc removed.

        Nothing of followupd goes out (issue 18): an X-Followupd-* header that a draft of an older version still
        carries is dropped, and none is added; the Sent copy and a crash are recognised by the Message-ID."""
        message = email.message_from_bytes(raw, policy=email.policy.SMTP)
        assert isinstance(message, EmailMessage)
        tracking = self.config.tracking.address
        recipients = [a for a in _addresses(message, "To", "Cc", "Bcc") if not is_tracking_address(a, tracking)]
        del message["Bcc"]
        del message["Date"]
        message["Date"] = email.utils.format_datetime(now.astimezone(self.tz))
        if message["Message-ID"] is None:
            message["Message-ID"] = touch.message_id
        old_id = str(message["Message-ID"]).strip()
        if old_id.lower().startswith(LEGACY_ID_PREFIX):
            # A draft of an older version: its id names the tool. The new id is recorded before SMTP (the caller
            # stores it as the touch's), so recovery and the Sent copy are found by it.
            try:
                new_id = draft_message_id(touch.thread_id, touch.number, old_id.rpartition("@")[2].rstrip(">"))
            except ValueError:
                new_id = old_id  # an id we cannot rebuild is kept: sending it beats not sending
            del message["Message-ID"]
            message["Message-ID"] = new_id
        for draft_only in ("X-Mozilla-Draft-Info", "X-Uniform-Type-Identifier", "X-Apple-Mail-Remote-Attachments"):
            del message[draft_only]
        for name in {name for name in message if name.lower().startswith(TOOL_HEADER_PREFIX)}:
            del message[name]
        senders = _addresses(message, "From")
        sender = senders[0] if senders else touch.thread.from_email
        return message.as_bytes(policy=email.policy.SMTP), str(message["Message-ID"]).strip(), recipients, sender

    def _send_one(self, store: st.Store, mailbox: SendingMailbox, touch_id: str, drafts_folder: str,
                  self_filing: bool, now: datetime, report: SendReport) -> None:
        with store.transaction() as session:
            touch = session.get(st.Touch, touch_id)
            if touch is None or touch.state != st.TOUCH_QUEUED or touch.thread.state != st.WAITING:
                return
            found = self._current_draft(mailbox, drafts_folder, touch)
            if found is None:
                logger.info("%s: not sent: the draft is no longer in %s", touch.id, drafts_folder)
                return  # the reconcile step decides whether the user sent or deleted it
            uid, raw = found
            data, message_id, recipients, sender = self._prepare(touch, raw, now)
            if not recipients:
                self._fail(session, touch, now, "the draft has no recipients left; nothing was sent")
                report.failed.append(touch.id)
                return
            lifecycle.send_started(touch, data=data, message_id=message_id, drafts_uid=uid, now=now)
            st.add_event(session, touch.thread, at=now, kind="send_started", message_id=message_id,
                         detail=f"sending {touch.id} to {', '.join(recipients)}")
        def mark_data_started() -> None:
            crash_point("before_data")
            with store.transaction() as session:
                started = session.get(st.Touch, touch_id)
                if started is not None:
                    lifecycle.send_data_started(started, now=now)

        crash_point("before_smtp")
        try:
            self.connect_smtp().send(data, sender=sender, recipients=recipients, before_data=mark_data_started)
        except SmtpUncertain as exc:
            logger.error("%s: %s; will check Sent before doing anything else", touch_id, exc)
            return  # stays "sending": the recovery step decides, and never sends blindly
        except SmtpTemporary as exc:
            with store.transaction() as session:
                touch = session.get(st.Touch, touch_id)
                if touch is not None:
                    lifecycle.send_deferred(touch, retry_after=now + retry_delay(touch.send_attempts),
                                            words=f"temporary SMTP problem, retrying: {exc}")
            logger.warning("%s: not sent (%s); retrying in %s", touch_id, exc, retry_delay(1))
            report.waiting.append(touch_id)
            return
        except SmtpRejected as exc:
            with store.transaction() as session:
                touch = session.get(st.Touch, touch_id)
                if touch is not None:
                    self._fail(session, touch, now, str(exc))
            logger.error("%s: the SMTP server refused the follow-up: %s", touch_id, exc)
            report.failed.append(touch_id)
            return
        crash_point("after_smtp")
        with store.transaction() as session:
            touch = session.get(st.Touch, touch_id)
            if touch is not None:
                self._confirm(session, touch, now, file_copy=not self_filing)
        logger.info("%s: follow-up sent to %s", touch_id, ", ".join(recipients))
        report.sent.append(touch_id)

    def _fail(self, session: Session, touch: st.Touch, now: datetime, words: str) -> None:
        thread = touch.thread
        lifecycle.send_refused(touch, thread, words=words, now=now)
        st.add_event(session, thread, at=now, kind="send_failed", message_id=touch.message_id, detail=words)

    def _confirm(self, session: Session, touch: st.Touch, now: datetime, *, file_copy: bool) -> None:
        """The send happened: one touch counted, the Sent copy and the draft's removal queued."""
        thread = touch.thread
        lifecycle.send_confirmed(touch, thread, file_copy=file_copy, now=now)
        if session.get(st.ThreadMessageId, touch.message_id) is None:
            session.add(st.ThreadMessageId(message_id=touch.message_id, thread_id=thread.id, role="touch"))
        # Recorded under the kind the Sent copy will match as, so seeing that copy later counts nothing twice.
        st.add_event(session, thread, at=now, kind="own_touch", message_id=touch.message_id,
                     detail=f"followupd sent {touch.id}")
        if thread.kind == st.COMMITMENT:
            keep_promise(session, thread, now, at=now, by=thread.from_email,
                         how=f"followupd sent your update {touch.id}", message_id=touch.message_id)
            return
        replan_thread(session, thread, self.config, now)

    # ---------------------------------------------------------------- after a crash, and tidying up
    def _recover(self, store: st.Store, mailbox: SendingMailbox, sent_folder: str | None, self_filing: bool,
                 now: datetime, report: SendReport) -> None:
        with store.transaction() as session:
            stuck = st.touches_in_state(session, st.TOUCH_SENDING)
            for touch in stuck:
                in_sent = bool(sent_folder and mailbox.search_header(sent_folder, "Message-ID", touch.message_id))
                if in_sent:
                    logger.info("%s: an interrupted send did go out (found in %s)", touch.id, sent_folder)
                    self._confirm(session, touch, now, file_copy=False)
                    report.sent.append(touch.id)
                elif (touch.data_started_at is None or self_filing) and touch.thread.state != st.WAITING:
                    lifecycle.send_abandoned(touch, touch.thread, now=now)  # never delivered; the thread closed
                elif touch.data_started_at is None or self_filing:
                    # Either the message was never handed over (the crash came before DATA), or the server files
                    # every accepted message in Sent itself and it is not there: it was not delivered.
                    lifecycle.send_requeued(touch)
                    logger.info("%s: interrupted send was not delivered; will send again", touch.id)
                else:
                    self._fail(session, touch, now,
                               "sending was interrupted and it is unknown whether it went out (it is not in Sent); "
                               "check with the recipient or your mail server's log, then `followupd outbox "
                               f"approve {touch.id}` to send it again if it did not arrive")
                    report.failed.append(touch.id)
                    if touch.thread.state != st.WAITING:
                        # A reply closed the thread meanwhile: nothing to send again, and its draft must go now
                        # (the reply's own withdrawal skipped it while it was "sending").
                        lifecycle.withdraw_open_touches(touch.thread, now,
                                                        f"not sent again: the thread is {touch.thread.state}")

    def _finish_sent(self, store: st.Store, mailbox: SendingMailbox, sent_folder: str | None,
                     drafts_folder: str | None, now: datetime) -> None:
        with store.read() as session:
            pending = [(t.id, t.message_id, t.sent_raw) for t in st.touches_awaiting_sent_copy(session)]
        for tid, message_id, raw in pending:
            if sent_folder and raw and not mailbox.search_header(sent_folder, "Message-ID", message_id):
                mailbox.append(sent_folder, raw, flags=(b"\\Seen",), msg_time=now)
            with store.transaction() as session:
                touch = session.get(st.Touch, tid)
                if touch is not None:
                    touch.sent_copy_pending = False
        if drafts_folder is None:
            return
        with store.read() as session:
            sent_drafts = [(t.id, t.message_id) for t in st.touches_to_clean_up(session, sent_by_followupd=True)]
        for tid, message_id in sent_drafts:
            # Our draft and the user's edit of it by the Message-ID we just sent under (by marker: older drafts).
            uids = set(mailbox.search_header(drafts_folder, FOLLOWUPD_HEADER, tid))
            uids |= set(mailbox.search_header(drafts_folder, "Message-ID", message_id))
            if uids:
                mailbox.delete_messages(drafts_folder, sorted(uids))
            with store.transaction() as session:
                touch = session.get(st.Touch, tid)
                if touch is not None:
                    touch.cleanup_pending = False

"""The one owner of every state a thread, its follow-ups (touches), its reminders and its action items can be in.

Every change of state happens here, one function per event (a reply, a decline, an out-of-office, a bounce, the
user's own message in the thread, a send's outcome, a request from the CLI, the end of the cadence), so a new
state or event is added in one place and the rules that tie a thread to its touches (a reply withdraws the
draft waiting for it; a closed thread never sends) cannot drift apart between the modules that notice events.
``tests/test_state_owner.py`` holds the line: no module outside this package assigns a state. The action items
of a meeting recap have their own module here, :mod:`followupd.planning.lifecycle.items`.

Pure: no database, no clock, no logging of decisions. The functions take the records as plain attribute holders
(:class:`ThreadRecord`, :class:`TouchRecord`, :class:`ReminderRecord`): the store's ORM rows satisfy them, and so
does a dataclass in a test. Protocols rather than the models themselves keep SQLAlchemy out of the pure core,
and rather than copies in and out, because the engine would then have to write every field back by hand, which
is exactly the scattering this module ends. Recording the event in the audit log stays with the caller (it
needs the session); these functions return what the caller needs to say.

The database holds the enum values, the same strings as always ("waiting", "replied", ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol


class ThreadState(StrEnum):
    """``waiting`` is the only open state; the rest are final (a late reply still moves ``unanswered`` to
    ``replied``: knowing who answered is worth more than the tidy state)."""

    WAITING = "waiting"
    REPLIED = "replied"
    UNANSWERED = "unanswered"
    STOPPED = "stopped"
    FAILED = "failed"
    DECLINED = "declined"


class ThreadKind(StrEnum):
    """A ``nudge`` waits for the recipients; a ``commitment`` (suffix ``me``) tracks the user's own promise; an
    ``actions`` thread is a meeting recap whose action items are followed up with each owner
    (:mod:`followupd.planning.lifecycle.items` owns the items' states)."""

    NUDGE = "nudge"
    COMMITMENT = "commitment"
    ACTIONS = "actions"


class TouchState(StrEnum):
    PLANNED = "planned"      # intent recorded, draft not yet confirmed in Drafts
    QUEUED = "queued"        # draft is in Drafts, waiting for the user
    SENT = "sent"            # the user sent it (seen in Sent) or followupd sent it
    SKIPPED = "skipped"      # the user deleted the draft, or skipped it
    WITHDRAWN = "withdrawn"  # followupd removed it: a reply arrived first
    SENDING = "sending"      # followupd recorded a send and may be talking to the SMTP server right now
    FAILED = "failed"        # the SMTP server refused it for good (5xx), or a send was interrupted


class ReminderState(StrEnum):
    PLANNED = "planned"      # intent recorded, not yet confirmed in INBOX
    DELIVERED = "delivered"  # in INBOX (unread, until the user reads it)
    WITHDRAWN = "withdrawn"  # never delivered: the promise was kept (or the thread stopped) first


#: Threads that still take part in matching: a late reply to an "unanswered" thread is still worth recording.
MATCHABLE_STATES = (ThreadState.WAITING, ThreadState.UNANSWERED)
#: A touch in one of these states blocks the next one: one follow-up at a time per thread, and a send in flight or
#: a failed send waits for its outcome (or the user's decision) instead of being overtaken by a new draft.
OPEN_TOUCH_STATES = (TouchState.PLANNED, TouchState.QUEUED, TouchState.SENDING, TouchState.FAILED)
#: What a reply or a stop withdraws; a send in flight is left to the sending recovery, which knows more.
WITHDRAWABLE_STATES = (TouchState.PLANNED, TouchState.QUEUED, TouchState.FAILED)
#: A follow-up the user may still approve or edit.
WAITING_TOUCH_STATES = (TouchState.PLANNED, TouchState.QUEUED)

INTERRUPTED_SEND_FOUND = "sent by followupd (its send was interrupted; found in Sent)"
#: A touch's outcome when the user sent their own words instead of our draft (stats count it for no template).
OWN_WORDS_SENT = "you wrote your own follow-up instead"


class TouchRecord(Protocol):
    """What the lifecycle reads and writes on a follow-up (``followupd.adapters.store.Touch``)."""

    id: str
    state: str
    done_at: datetime | None
    outcome: str
    cleanup_pending: bool
    sent_by_followupd: bool
    sent_copy_pending: bool
    data_started_at: datetime | None
    sending_started_at: datetime | None
    sent_raw: bytes | None
    message_id: str
    drafted_at: datetime | None
    drafts_uid: int | None
    draft_changed_at: datetime | None
    approved_at: datetime | None
    send_now: bool
    send_attempts: int
    retry_after: datetime | None
    raw: bytes | None


class ReminderRecord(Protocol):
    """What the lifecycle reads and writes on a reminder (``followupd.adapters.store.Reminder``)."""

    state: str
    outcome: str
    delivered_at: datetime | None
    uid: int | None


class ThreadRecord(Protocol):
    """What the lifecycle reads and writes on a thread (``followupd.adapters.store.Thread``)."""

    kind: str
    state: str
    state_reason: str
    state_changed_at: datetime | None
    next_due: datetime | None
    snoozed_until: datetime | None
    promised: date | None
    touches: int
    steps: int
    last_touch_at: datetime | None
    replied_at: datetime | None
    replied_by: str
    reply_probable: bool
    problems: list[str]
    failed_recipients: list[str]
    answered_by: list[str]

    @property
    def touch_rows(self) -> Sequence[TouchRecord]: ...
    @property
    def reminder_rows(self) -> Sequence[ReminderRecord]: ...


# ---------------------------------------------------------------------------------------------- thread, creation
def start(thread: ThreadRecord, now: datetime) -> None:
    """A tracked message was seen: the thread waits for an answer."""
    thread.state = ThreadState.WAITING
    thread.state_changed_at = now


def plan_touch(touch: TouchRecord) -> None:
    """A follow-up is decided and rendered; its draft is appended by the acting step, exactly once."""
    touch.state = TouchState.PLANNED


def plan_reminder(reminder: ReminderRecord) -> None:
    reminder.state = ReminderState.PLANNED


# ---------------------------------------------------------------------------------------------- shared rules
def has_open_touch(thread: ThreadRecord) -> bool:
    return any(touch.state in OPEN_TOUCH_STATES for touch in thread.touch_rows)


def close(thread: ThreadRecord, state: ThreadState, reason: str, now: datetime) -> None:
    """End a thread: no next check-in, and every draft of it still waiting is withdrawn (removed from Drafts by
    the acting step), so nothing goes out after the end."""
    withdraw_open_touches(thread, now, reason)
    thread.state = state
    thread.state_reason = reason
    thread.state_changed_at = now
    thread.next_due = None


def withdraw_open_touches(thread: ThreadRecord, now: datetime, reason: str) -> None:
    """Every planned or queued draft of the thread must go (the deletion happens in the acting step).

    A reminder not yet in INBOX is dropped too; one already delivered is the user's mail and stays."""
    for reminder in thread.reminder_rows:
        if reminder.state == ReminderState.PLANNED:
            reminder.state = ReminderState.WITHDRAWN
            reminder.outcome = reason
    for touch in thread.touch_rows:
        withdraw_touch(touch, now, reason)


def withdraw_touch(touch: TouchRecord, now: datetime, reason: str) -> bool:
    """One planned, queued or failed draft must go; returns whether it was one of those."""
    if touch.state not in WITHDRAWABLE_STATES:
        return False
    # A send cut off after SMTP DATA began may have reached them: "withdrawn" alone would say it never did.
    maybe_sent = touch.state == TouchState.FAILED and touch.data_started_at is not None
    touch.state = TouchState.WITHDRAWN
    touch.done_at = now
    touch.outcome = f"{reason} (an interrupted send of it may have reached them)" if maybe_sent else reason
    touch.cleanup_pending = True
    return True


def _postpone(thread: ThreadRecord, until: datetime, why: str, now: datetime) -> None:
    """No touch before ``until``; a draft waiting now is withdrawn (it would arrive at the wrong time)."""
    if thread.snoozed_until is None or until > thread.snoozed_until:
        thread.snoozed_until = until
    withdraw_open_touches(thread, now, why)


# ---------------------------------------------------------------------------------------------- mail events
def replied(thread: ThreadRecord, *, evidence: str, by: str, at: datetime, probable: bool, now: datetime) -> bool:
    """Someone answered: the thread closes as replied and its waiting draft is withdrawn. Only a thread still in
    matching changes (a rescan re-reads old mail); returns whether it did."""
    if thread.state not in MATCHABLE_STATES:
        return False
    close(thread, ThreadState.REPLIED, evidence, now)
    thread.replied_at = at
    thread.replied_by = by
    thread.reply_probable = probable
    return True


def partly_answered(thread: ThreadRecord, *, sender: str, expected: set[str], now: datetime) -> list[str]:
    """With ``-all``, one To recipient's answer settles only them. Returns who still owes one; when nobody does
    (or ``sender`` was not expected) nothing changes and the caller treats it as a reply.

    A waiting draft is withdrawn (it was addressed to someone who has now answered): the next one goes only to
    those who have not."""
    if sender not in expected:
        return []
    answered = sorted(set(thread.answered_by or ()) | {sender})
    remaining = sorted(expected - set(answered))
    if not remaining:
        return []
    thread.answered_by = answered
    withdraw_open_touches(thread, now, f"{sender} answered; the next follow-up goes to the others")
    thread.state_reason = f"waiting on {', '.join(remaining)} ({', '.join(answered)} answered)"
    return remaining


def declined(thread: ThreadRecord, *, by: str, evidence: str, at: datetime, now: datetime) -> None:
    """"No, thanks": closed as declined; nobody is chased after saying no."""
    close(thread, ThreadState.DECLINED, f"{by}: {evidence}", now)
    thread.replied_at = at
    thread.replied_by = by


def holding_reply(thread: ThreadRecord, *, by: str, until: datetime, evidence: str, now: datetime) -> None:
    """"I'll get back to you next week": not an answer; the clock restarts from the date they named."""
    _postpone(thread, until, f"{by} will answer later", now)
    thread.state_reason = evidence


def out_of_office(thread: ThreadRecord, *, by: str, until: datetime, now: datetime) -> None:
    """An auto-reply: the thread stays open and the next follow-up waits until they are back."""
    _postpone(thread, until, f"{by} is out of office", now)


def bounced(thread: ThreadRecord, *, people: set[str], failed: Sequence[str], problem: str, words: str,
            now: datetime) -> bool:
    """Permanent delivery failures mark those addresses (of ``people``, everyone it waits on) failed; when nobody
    is left to reach, the thread fails. Returns whether it failed."""
    thread.failed_recipients = sorted(set(thread.failed_recipients) | set(failed))
    if problem not in thread.problems:
        thread.problems = [*thread.problems, problem]
    if people <= set(thread.failed_recipients):
        close(thread, ThreadState.FAILED, f"every recipient bounced ({words})", now)
        return True
    return False


def touch_found_in_sent(touch: TouchRecord, *, at: datetime, ours: bool) -> None:
    """The open touch of a thread, seen in Sent: the user sent our draft (edited or not), or wrote their own
    follow-up instead.

    A send of ours that was interrupted (kill -9 after SMTP) and that the server filed in Sent itself (Gmail,
    Office 365) is proved sent by the copy, but unlike a mail client's send nothing removed the draft, which the
    user could then send a second time: it is removed. So is our draft when the user wrote their own words."""
    interrupted_send = touch.state == TouchState.SENDING
    touch.state = TouchState.SENT
    touch.done_at = at
    touch.outcome = "sent" if ours else OWN_WORDS_SENT
    touch.cleanup_pending = not ours or interrupted_send
    if interrupted_send and ours:
        touch.sent_by_followupd = True
        touch.outcome = INTERRUPTED_SEND_FOUND


def own_touch(thread: ThreadRecord, *, at: datetime) -> bool:
    """The user wrote in a waiting thread (our draft sent, or a nudge by hand): one touch, counted once.
    Returns False when the thread is not waiting (nothing is counted)."""
    if thread.state != ThreadState.WAITING:
        return False
    thread.touches += 1
    thread.steps += 1
    if thread.last_touch_at is None or at > thread.last_touch_at:
        thread.last_touch_at = at
    return True


def promise_kept(thread: ThreadRecord, *, how: str, by: str, at: datetime, now: datetime) -> str:
    """The user wrote in a commitment thread (our update draft, or words of their own): the promise is kept.

    The thread closes as replied, "you kept your promise", and whatever still waits for it goes: an update draft
    in Drafts and a reminder not yet delivered. The caller marks a touch that was itself the message as sent
    first, so it is not withdrawn here. Returns the reason, for the audit log."""
    reason = f"you kept your promise: {how}"
    close(thread, ThreadState.REPLIED, reason, now)
    thread.replied_at = at
    thread.replied_by = by
    thread.reply_probable = False
    thread.touches += 1
    return reason


# ---------------------------------------------------------------------------------------------- the schedule
def rescheduled(thread: ThreadRecord, due: datetime | None, now: datetime) -> bool:
    """The waiting thread's next check-in is ``due``; with none left and no follow-up still open, the sequence is
    over and the thread closes as unanswered. Returns whether it closed (the reason is in ``state_reason``)."""
    thread.next_due = due
    if due is not None or has_open_touch(thread):
        return False
    thread.state = ThreadState.UNANSWERED
    if thread.kind == ThreadKind.COMMITMENT:
        thread.state_reason = f"no update from you after {thread.steps} reminder(s)"
    elif thread.kind == ThreadKind.ACTIONS:
        thread.state_reason = f"action items still open after {thread.touches} check-in(s) and roll-up(s)"
    else:
        thread.state_reason = f"no reply after {thread.touches} follow-up(s)"
    thread.state_changed_at = now
    return True


def reminded(thread: ThreadRecord, *, now: datetime) -> None:
    """A reminder about the user's promise was made: one step of the cadence, whatever becomes of the draft."""
    thread.steps += 1
    thread.last_touch_at = now


def _skipped(touch: TouchRecord, thread: ThreadRecord, *, outcome: str, now: datetime) -> None:
    touch.state = TouchState.SKIPPED
    touch.done_at = now
    touch.outcome = outcome
    if thread.kind != ThreadKind.COMMITMENT:  # a commitment's cadence counts reminders, not update drafts
        thread.steps += 1
        thread.last_touch_at = now


# ---------------------------------------------------------------------------------------------- Drafts and INBOX
def draft_queued(touch: TouchRecord, *, uid: int | None, now: datetime) -> bool:
    """The draft is confirmed in Drafts. Returns False when the touch was no longer planned."""
    if touch.state != TouchState.PLANNED:
        return False
    touch.state = TouchState.QUEUED
    touch.drafted_at = now
    touch.drafts_uid = uid
    return True


def reminder_delivered(reminder: ReminderRecord, *, uid: int | None, now: datetime) -> bool:
    """The reminder is confirmed in INBOX. Returns False when it was no longer planned."""
    if reminder.state != ReminderState.PLANNED:
        return False
    reminder.state = ReminderState.DELIVERED
    reminder.delivered_at = now
    reminder.uid = uid
    return True


def draft_deleted(touch: TouchRecord, thread: ThreadRecord, *, now: datetime) -> None:
    """The user deleted a queued draft without sending it: skipped, and the cadence moves on."""
    _skipped(touch, thread, outcome="draft deleted without sending", now=now)


# ---------------------------------------------------------------------------------------------- the user's requests
def approve(touch: TouchRecord, *, now: datetime, send_now: bool) -> bool:
    """The user approves a follow-up for sending; a failed one is queued again (the user checked and asks again).
    Returns False when the touch is not waiting to be sent (nothing changes)."""
    if touch.state == TouchState.FAILED:
        touch.state = TouchState.QUEUED
        touch.retry_after = None
    if touch.state not in WAITING_TOUCH_STATES:
        return False
    touch.approved_at = now
    touch.send_now = send_now
    return True


def user_skip(touch: TouchRecord, thread: ThreadRecord, *, now: datetime) -> bool:
    """Skipped from the CLI: the draft goes, and the cadence moves on. False when it was not waiting."""
    if touch.state not in WITHDRAWABLE_STATES:
        return False
    _skipped(touch, thread, outcome="skipped by you", now=now)
    touch.cleanup_pending = True
    return True


def user_stop(thread: ThreadRecord, *, now: datetime) -> bool:
    """Stopped from the CLI: no more follow-ups. False when the thread was not waiting."""
    if thread.state != ThreadState.WAITING:
        return False
    close(thread, ThreadState.STOPPED, "stopped by you", now)
    return True


def user_snooze(thread: ThreadRecord, *, until: datetime, now: datetime) -> bool:
    """Snoozed from the CLI: nothing before ``until`` (the caller then re-plans). False when not waiting."""
    if thread.state != ThreadState.WAITING:
        return False
    withdraw_open_touches(thread, now, "snoozed by you")
    thread.snoozed_until = until
    return True


def check_in_moved(thread: ThreadRecord, *, day: date, until: datetime, now: datetime) -> bool:
    """A date suffix by mail (``+followup-5d`` on a message about the thread): the next check-in waits until
    ``until`` (the caller re-plans); before the first follow-up the date becomes the promise itself, so it may
    also come sooner. A waiting draft goes (it is for the old date). False when not waiting."""
    if thread.state != ThreadState.WAITING:
        return False
    withdraw_open_touches(thread, now, "check-in moved by you")
    if thread.steps == 0:
        thread.promised = day
    thread.snoozed_until = until
    return True


def draft_edited(touch: TouchRecord, *, raw: bytes, now: datetime) -> bool:
    """Edited from the CLI: the old draft goes and the edited one is appended in its place, exactly once.
    False when it was not waiting."""
    if touch.state not in WAITING_TOUCH_STATES:
        return False
    touch.raw = raw
    touch.cleanup_pending = True
    touch.state = TouchState.PLANNED
    touch.draft_changed_at = now
    return True


# ---------------------------------------------------------------------------------------------- sending
def send_started(touch: TouchRecord, *, data: bytes, message_id: str, drafts_uid: int, now: datetime) -> None:
    """Recorded (and committed) BEFORE talking to SMTP: a crash from here on is found and resolved, never
    repeated blindly."""
    touch.state = TouchState.SENDING
    touch.sending_started_at = now
    touch.data_started_at = None
    touch.sent_raw = data
    touch.message_id = message_id
    touch.drafts_uid = drafts_uid
    touch.send_attempts += 1


def send_data_started(touch: TouchRecord, *, now: datetime) -> None:
    """SMTP DATA began: from here an interrupted send may have reached them."""
    touch.data_started_at = now


def send_deferred(touch: TouchRecord, *, retry_after: datetime, words: str) -> None:
    """A temporary SMTP problem: queued again, retried later."""
    touch.state = TouchState.QUEUED
    touch.retry_after = retry_after
    touch.outcome = words


def send_refused(touch: TouchRecord, thread: ThreadRecord, *, words: str, now: datetime) -> None:
    """Refused for good (or no recipients left, or an interruption nobody can settle): failed, and the thread
    shows why."""
    touch.state = TouchState.FAILED
    touch.done_at = now
    touch.outcome = words
    problem = f"follow-up {touch.id} not sent: {words}"
    if problem not in thread.problems:
        thread.problems = [*thread.problems, problem]


def send_confirmed(touch: TouchRecord, thread: ThreadRecord, *, file_copy: bool, now: datetime) -> None:
    """The send happened: the touch is sent, its Sent copy and the draft's removal queued, and (for a nudge)
    one touch counted. A commitment's update keeps the promise instead (:func:`promise_kept`, by the caller)."""
    touch.state = TouchState.SENT
    touch.done_at = now
    touch.sent_by_followupd = True
    touch.outcome = "sent by followupd"
    touch.sent_copy_pending = file_copy
    touch.cleanup_pending = True
    if thread.kind != ThreadKind.COMMITMENT:
        thread.touches += 1
        thread.steps += 1
        thread.last_touch_at = now


def send_abandoned(touch: TouchRecord, thread: ThreadRecord, *, now: datetime) -> None:
    """An interrupted send that never reached them, and the thread closed meanwhile: withdrawn."""
    touch.state = TouchState.WITHDRAWN
    touch.done_at = now
    touch.outcome = f"not sent: the thread is {thread.state}"
    touch.cleanup_pending = True


def send_requeued(touch: TouchRecord) -> None:
    """An interrupted send that provably did not go out: sent again."""
    touch.state = TouchState.QUEUED
    touch.outcome = "an interrupted send had not been delivered; sending again"

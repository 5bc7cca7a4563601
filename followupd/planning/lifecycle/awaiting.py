"""The states of a suggestion (sent mail that seems to await a reply) and of a reply the user owes (issue 14).

Why they live here: like every other state, they change only through one function per event
(``tests/test_state_owner.py``), so "who closed this, and why" has one answer. Each event function changes
only an open record and says whether it did: a second ``track``, a rescan or a late reply never reopens or
re-closes anything.

Pure: the records are the store's rows seen through the Protocols below; the caller writes what it logs.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from followupd.planning.lifecycle import ThreadKind, ThreadRecord, ThreadState, TouchState, withdraw_open_touches


class SuggestionState(StrEnum):
    """``open`` is listed by ``followupd suggestions``; every other state is final."""

    OPEN = "open"
    TRACKED = "tracked"      # the user ran ``followupd track`` (or ``"track"`` mode took it)
    IGNORED = "ignored"      # ``followupd ignore``
    EXPIRED = "expired"      # older than ``[tracking] suggest_days``
    ANSWERED = "answered"    # a reply came before it was tracked: nothing left to follow up


class OwedState(StrEnum):
    """``open`` is listed by ``followupd owed`` (once ``[owed] after`` has passed); the rest are final."""

    OPEN = "open"
    ANSWERED = "answered"    # the user replied, from any of their addresses
    DONE = "done"            # ``followupd owed done``


class SuggestionRecord(Protocol):
    """What the lifecycle reads and writes on a suggestion (``followupd.adapters.store.Suggestion``)."""

    state: str
    closed_at: datetime | None
    thread_id: str | None


class OwedRecord(Protocol):
    """What the lifecycle reads and writes on an owed reply (``followupd.adapters.store.Owed``)."""

    state: str
    closed_at: datetime | None
    closed_by: str | None


def suggest_opened(suggestion: SuggestionRecord) -> None:
    """A new suggestion: listed until tracked, ignored, answered or expired."""
    suggestion.state = SuggestionState.OPEN
    suggestion.closed_at = None


def suggestion_is_open(suggestion: SuggestionRecord) -> bool:
    return suggestion.state == SuggestionState.OPEN


def _close_suggestion(suggestion: SuggestionRecord, state: SuggestionState, at: datetime) -> bool:
    if not suggestion_is_open(suggestion):
        return False
    suggestion.state = state
    suggestion.closed_at = at
    return True


def suggest_tracked(suggestion: SuggestionRecord, *, thread_id: str, at: datetime) -> bool:
    """Tracking started from it; ``thread_id`` links the suggestion to its thread. False if it was not open."""
    if not _close_suggestion(suggestion, SuggestionState.TRACKED, at):
        return False
    suggestion.thread_id = thread_id
    return True


def suggest_ignored(suggestion: SuggestionRecord, *, at: datetime) -> bool:
    """The user said it needs no follow-up."""
    return _close_suggestion(suggestion, SuggestionState.IGNORED, at)


def suggest_expired(suggestion: SuggestionRecord, *, at: datetime) -> bool:
    """Older than ``suggest_days``: too old to start following up on."""
    return _close_suggestion(suggestion, SuggestionState.EXPIRED, at)


def suggest_answered(suggestion: SuggestionRecord, *, at: datetime) -> bool:
    """Someone replied before it was tracked: there is nothing to wait for."""
    return _close_suggestion(suggestion, SuggestionState.ANSWERED, at)


def bcc_arrived(thread: ThreadRecord, *, commitment: bool, promised: date | None, now: datetime) -> bool:
    """The BCC'd copy of a message tracked without it (``[tracking] auto``) arrived: the thread becomes what the
    BCC would have started (its suffix's kind and first check-in; the caller re-plans). Only while nothing was
    sent yet: after a follow-up or an answer, the cadence already under way is kept. False when nothing changed.
    A draft still waiting goes (it was for the default cadence)."""
    if thread.state != ThreadState.WAITING or thread.touches or thread.steps:
        return False
    if any(touch.state == TouchState.SENDING for touch in thread.touch_rows):
        return False  # a follow-up is going out under the old cadence: it counts as sent
    withdraw_open_touches(thread, now, "the BCC'd copy arrived")
    thread.kind = ThreadKind.COMMITMENT if commitment else ThreadKind.NUDGE
    thread.promised = promised
    return True


def owed_opened(owed: OwedRecord) -> None:
    """A message that asks the user something, not answered yet."""
    owed.state = OwedState.OPEN
    owed.closed_at = None
    owed.closed_by = None


def owed_seen_answered(owed: OwedRecord, *, by: str, at: datetime) -> None:
    """A message first read when the user's answer ``by`` was already known: kept closed from the start, so that
    reading it again (a rescan, a copy filed in another folder) finds it answered instead of opening it."""
    owed.state, owed.closed_at, owed.closed_by = OwedState.ANSWERED, at, by


def owed_is_open(owed: OwedRecord) -> bool:
    return owed.state == OwedState.OPEN


def owed_answered(owed: OwedRecord, *, by: str, at: datetime) -> bool:
    """The user replied; ``by`` is the Message-ID of that reply. False if it was already closed."""
    if not owed_is_open(owed):
        return False
    owed.state, owed.closed_at, owed.closed_by = OwedState.ANSWERED, at, by
    return True


def owed_done(owed: OwedRecord, *, at: datetime) -> bool:
    """``followupd owed done``: closed by hand."""
    if not owed_is_open(owed):
        return False
    owed.state, owed.closed_at, owed.closed_by = OwedState.DONE, at, "by hand"
    return True

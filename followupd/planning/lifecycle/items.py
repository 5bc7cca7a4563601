"""The states of a meeting recap's action items, and what each owner's answer does to them.

Why items have states of their own: a recap is followed up per owner, not per thread (issue 13). Bob's "done"
closes Bob's items and nobody else's; Carol's "next week" moves Carol's dates; Dave's "can't take this" is a
decline the organizer hears about in the roll-up, while Erin is still followed. The thread stays open while any
item is, and closes (withdrawing what still waits in Drafts) when the last one closes.

Pure, like the rest of :mod:`followupd.planning.lifecycle`: the records are the store's rows seen through
:class:`ItemRecord`; the caller writes the audit events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Protocol

from followupd.planning.lifecycle import ThreadRecord, ThreadState, TouchRecord, close, withdraw_touch


class ItemState(StrEnum):
    """``open`` and ``holding`` (the owner named a later date) are followed up; the rest are final."""

    OPEN = "open"
    DONE = "done"
    HOLDING = "holding"
    DECLINED = "declined"
    DROPPED = "dropped"


#: Items still followed up with their owner.
OPEN_ITEM_STATES = (ItemState.OPEN, ItemState.HOLDING)


class ItemRecord(Protocol):
    """What the lifecycle reads and writes on an action item (``followupd.adapters.store.ActionItem``)."""

    id: str
    owner_email: str | None
    state: str
    due: date | None
    wait_until: datetime | None
    closed_at: datetime | None
    closed_by: str
    outcome: str
    probable: bool


class CheckinRecord(TouchRecord, Protocol):
    """A follow-up seen as a check-in: to whom it goes."""

    to: list[dict[str, str]]


def start(item: ItemRecord) -> None:
    item.state = ItemState.OPEN


def is_open(item: ItemRecord) -> bool:
    return item.state in OPEN_ITEM_STATES


def done(items: Sequence[ItemRecord], *, by: str, evidence: str, at: datetime, probable: bool = False) -> list[str]:
    """The owner answered (or someone said it is done for them, ``probable``): their open items are done.
    Returns the ids that changed; an item already closed keeps its state (a rescan re-reads old mail)."""
    return [item.id for item in items if is_open(item) and _finish(item, ItemState.DONE, by, evidence, at, probable)]


def declined(items: Sequence[ItemRecord], *, by: str, evidence: str, at: datetime) -> list[str]:
    """"I can't take this on": nobody is chased after saying no; the roll-up tells the organizer."""
    return [item.id for item in items if is_open(item) and _finish(item, ItemState.DECLINED, by, evidence, at)]


def holding(items: Sequence[ItemRecord], *, until: date, evidence: str) -> list[str]:
    """"I'll have it next week": the item's date moves to the day they named; the check-in waits for it."""
    moved = []
    for item in items:
        if is_open(item):
            item.state = ItemState.HOLDING
            item.due = until
            item.outcome = evidence
            moved.append(item.id)
    return moved


def away(items: Sequence[ItemRecord], *, until: datetime) -> list[str]:
    """An out-of-office from the owner: no check-in before they are back; the item itself is unchanged."""
    moved = []
    for item in items:
        if is_open(item) and (item.wait_until is None or until > item.wait_until):
            item.wait_until = until
            moved.append(item.id)
    return moved


def user_done(item: ItemRecord, *, at: datetime) -> bool:
    """``followupd items done ID``."""
    return is_open(item) and _finish(item, ItemState.DONE, "you", "marked done by you", at)


def user_drop(item: ItemRecord, *, at: datetime) -> bool:
    """``followupd items drop ID``: no longer followed up, and not counted as done."""
    return is_open(item) and _finish(item, ItemState.DROPPED, "you", "dropped by you", at)


def _finish(item: ItemRecord, state: ItemState, by: str, evidence: str, at: datetime, probable: bool = False) -> bool:
    item.state = state
    item.closed_at = at
    item.closed_by = by
    item.outcome = evidence
    item.probable = probable
    item.wait_until = None
    return True


def withdraw_checkins(touches: Sequence[CheckinRecord], owner: str, now: datetime, reason: str) -> int:
    """A check-in still waiting for an owner whose items are all closed must go; returns how many did."""
    count = 0
    for touch in touches:
        if [entry.get("email") for entry in touch.to] == [owner]:
            count += withdraw_touch(touch, now, reason)
    return count


def settle(thread: ThreadRecord, items: Sequence[ItemRecord], *, now: datetime) -> bool:
    """Close the recap's thread once no item is open: replied when any was done, else declined or stopped.
    Returns whether it closed."""
    if thread.state != ThreadState.WAITING or not items or any(is_open(item) for item in items):
        return False
    states = {item.state for item in items}
    if ItemState.DONE in states:
        state, why = ThreadState.REPLIED, "every action item is closed"
    elif ItemState.DECLINED in states:
        state, why = ThreadState.DECLINED, "every open action item was declined"
    else:
        state, why = ThreadState.STOPPED, "every action item was dropped"
    close(thread, state, why, now)
    return True

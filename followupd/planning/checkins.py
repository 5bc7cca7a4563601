"""When each owner of a meeting recap's action items is checked in with, and when the roll-up goes to everyone.

Why per owner: a recap is a plan several people agreed to; following up the thread as a whole would nudge
everyone about everything. Each owner is asked about their own open items, first on the earliest of their due
dates plus ``[actions] grace`` (a Friday deadline is asked about on Monday, not at 17:01 on Friday), then on the
cadence's gaps, like any follow-up: the gaps grow, the last check-in asks whether to drop or hand the items
over, and the engine's per-person spacing keeps one person from hearing from followupd on consecutive days.
An item without a date is due ``[actions] default_due`` after the recap.

The roll-up reiterates the plan to everyone on the recap once the last due date has passed (plus grace), then
weekly while items stay open, never more often than the cadence has touches. ``[actions] rollup = "off"``
leaves it out.

Pure: times in, times out; the engine supplies what was already sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Literal

from followupd.planning.cadence import CadenceSettings, Gap, add_gap, fit_to_window

__all__ = ["ROLLUP_EVERY", "ActionSettings", "ItemView", "OwnerCheckin", "checkin_stage", "item_due_day",
           "next_checkin", "next_rollup", "owner_checkins"]

RollupMode = Literal["auto", "off"]

#: How often the roll-up repeats while items stay open.
ROLLUP_EVERY = Gap(1, "w")


@dataclass(frozen=True)
class ActionSettings:
    """The validated ``[actions]`` section."""

    grace: Gap = field(default_factory=lambda: Gap(1, "bd"))
    default_due: Gap = field(default_factory=lambda: Gap(1, "w"))
    rollup: RollupMode = "auto"


@dataclass(frozen=True)
class ItemView:
    """What the planner needs of an item: whose, by when, still open, and not before when (out of office)."""

    owner: str | None
    due: date | None
    open: bool
    wait_until: datetime | None = None


@dataclass(frozen=True)
class OwnerCheckin:
    """The next check-in with one owner: when, and which of the ``[actions]`` template stages it uses."""

    owner: str
    at: datetime
    stage: Literal["checkin", "later", "final"]
    number: int  # 1 for the first check-in with this owner


def item_due_day(due: date | None, sent_at: datetime, settings: ActionSettings, tz: tzinfo,
                 holidays: frozenset[date]) -> date:
    """The day an item is due: its own date, else ``default_due`` after the recap."""
    if due is not None:
        return due
    return add_gap(sent_at, settings.default_due, holidays=holidays, tz=tz).astimezone(tz).date()


def _asked_at(day: date, sent_at: datetime, settings: ActionSettings, tz: tzinfo,
              holidays: frozenset[date]) -> datetime:
    """When to ask about something due on ``day``: that day at the recap's own time of day, plus the grace."""
    local_time = sent_at.astimezone(tz).time().replace(tzinfo=None) if sent_at.tzinfo else time(9, 0)
    start = datetime.combine(day, local_time, tzinfo=tz)
    return add_gap(start, settings.grace, holidays=holidays, tz=tz)


def checkin_stage(number: int, total: int) -> Literal["checkin", "later", "final"]:
    """The first check-in is ``checkin``, the last the cadence allows ``final``, the ones between ``later``."""
    if number <= 1:
        return "checkin"
    return "final" if number >= total else "later"


def next_checkin(owner: str, items: Sequence[ItemView], *, sent_at: datetime, done_checkins: Sequence[datetime],
                 settings: ActionSettings, cadence: CadenceSettings, tz: tzinfo) -> OwnerCheckin | None:
    """The owner's next check-in, or None: no open item, or the cadence's touches are used up.

    ``done_checkins``: when each earlier check-in with this owner was made (drafted), oldest first."""
    mine = [item for item in items if item.owner == owner and item.open]
    total = len(cadence.gaps)
    number = len(done_checkins) + 1
    if not mine or number > total:
        return None
    holidays = cadence.holidays
    earliest = min(_asked_at(item_due_day(item.due, sent_at, settings, tz, holidays), sent_at, settings, tz, holidays)
                   for item in mine)
    at = earliest
    if done_checkins:
        # The cadence's gap after the previous check-in, and never before a date the owner moved it to.
        at = max(add_gap(done_checkins[-1], cadence.gaps[len(done_checkins)], holidays=holidays, tz=tz), earliest)
    waits = [item.wait_until for item in mine if item.wait_until is not None]
    if waits:
        at = max(at, max(waits))
    return OwnerCheckin(owner=owner, at=fit_to_window(at, cadence, tz), stage=checkin_stage(number, total),
                        number=number)


def owner_checkins(items: Sequence[ItemView], *, sent_at: datetime, done: dict[str, Sequence[datetime]],
                   settings: ActionSettings, cadence: CadenceSettings, tz: tzinfo) -> list[OwnerCheckin]:
    """Every owner's next check-in, soonest first (owners in the order their first item was written)."""
    owners = list(dict.fromkeys(item.owner for item in items if item.owner))
    planned = [next_checkin(owner, items, sent_at=sent_at, done_checkins=done.get(owner, ()), settings=settings,
                            cadence=cadence, tz=tz) for owner in owners]
    return sorted((plan for plan in planned if plan is not None), key=lambda plan: plan.at)


def next_rollup(items: Sequence[ItemView], *, sent_at: datetime, done_rollups: Sequence[datetime],
                settings: ActionSettings, cadence: CadenceSettings, tz: tzinfo) -> datetime | None:
    """When the next roll-up to everyone is due, or None (``rollup = "off"``, nothing open, or as many roll-ups
    as the cadence has touches)."""
    if settings.rollup == "off" or not items or not any(item.open for item in items):
        return None
    if len(done_rollups) >= len(cadence.gaps):
        return None
    holidays = cadence.holidays
    last_due = max(_asked_at(item_due_day(item.due, sent_at, settings, tz, holidays), sent_at, settings, tz, holidays)
                   for item in items)
    at = last_due
    if done_rollups:
        at = max(add_gap(done_rollups[-1], ROLLUP_EVERY, holidays=holidays, tz=tz), last_due)
    return fit_to_window(at, cadence, tz)


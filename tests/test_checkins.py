"""When each owner of a recap's action items is asked, and when the roll-up goes out (followupd.planning.checkins),
and what each owner's answer does to their items (followupd.planning.lifecycle.items). Pure: no server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from followupd.planning.cadence import CadenceSettings, Gap
from followupd.planning.checkins import (
    ActionSettings,
    ItemView,
    checkin_stage,
    next_checkin,
    next_rollup,
    owner_checkins,
)
from followupd.planning.lifecycle import ThreadState, TouchState
from followupd.planning.lifecycle import items as item_states

BERLIN = ZoneInfo("Europe/Berlin")
SENT = datetime(2026, 12, 3, 15, 40, tzinfo=UTC)  # Thursday 16:40 in Berlin
CADENCE = CadenceSettings()  # 3bd, 1w, 2w, 4w
SETTINGS = ActionSettings()  # grace 1bd, default_due 1w, rollup auto


def local(moment: datetime) -> datetime:
    return moment.astimezone(BERLIN)


def test_an_owner_is_asked_the_business_day_after_their_date_at_the_recaps_time_of_day() -> None:
    plan = next_checkin("bob", [ItemView("bob", date(2026, 12, 4), True)], sent_at=SENT, done_checkins=(),
                        settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert plan is not None
    assert local(plan.at).date() == date(2026, 12, 7)  # Friday's item: asked on Monday, not on the weekend
    assert local(plan.at).strftime("%H:%M") == "16:40"
    assert (plan.stage, plan.number) == ("checkin", 1)


def test_an_item_without_a_date_is_due_the_default_week_after_the_recap() -> None:
    plan = next_checkin("erin", [ItemView("erin", None, True)], sent_at=SENT, done_checkins=(), settings=SETTINGS,
                        cadence=CADENCE, tz=BERLIN)
    assert plan is not None and local(plan.at).date() == date(2026, 12, 11)  # the 10th + 1 business day
    shorter = ActionSettings(grace=Gap(0, "d"), default_due=Gap(3, "d"))
    plan = next_checkin("erin", [ItemView("erin", None, True)], sent_at=SENT, done_checkins=(), settings=shorter,
                        cadence=CADENCE, tz=BERLIN)
    assert plan is not None and local(plan.at).date() == date(2026, 12, 6)


def test_later_check_ins_follow_the_cadence_gaps_and_the_last_one_is_final() -> None:
    items = [ItemView("bob", date(2026, 12, 4), True)]
    done: list[datetime] = []
    days: list[date] = []
    stages = []
    while (plan := next_checkin("bob", items, sent_at=SENT, done_checkins=done, settings=SETTINGS, cadence=CADENCE,
                                tz=BERLIN)) is not None:
        done.append(plan.at)
        days.append(local(plan.at).date())
        stages.append(plan.stage)
    assert stages == ["checkin", "later", "later", "final"]  # four touches, like the cadence
    gaps = [(b - a).days for a, b in pairwise(days)]
    assert gaps == [7, 14, 28]  # growing, never daily
    assert min(gaps) >= 2


def test_only_open_items_of_that_owner_count_and_a_moved_date_is_honoured() -> None:
    items = [ItemView("bob", date(2026, 12, 4), False), ItemView("bob", date(2026, 12, 18), True),
             ItemView("carol", date(2026, 12, 1), True)]
    plan = next_checkin("bob", items, sent_at=SENT, done_checkins=(), settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert plan is not None and local(plan.at).date() == date(2026, 12, 21)
    assert next_checkin("dave", items, sent_at=SENT, done_checkins=(), settings=SETTINGS, cadence=CADENCE,
                        tz=BERLIN) is None
    # A holding answer moved Bob's date past the cadence's next gap: the check-in waits for the new date.
    plan = next_checkin("bob", items, sent_at=SENT, done_checkins=[datetime(2026, 12, 7, 15, 40, tzinfo=UTC)],
                        settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert plan is not None and local(plan.at).date() == date(2026, 12, 21)


def test_an_owner_out_of_office_is_not_asked_before_they_are_back() -> None:
    back = datetime(2026, 12, 14, 8, 0, tzinfo=UTC)
    plan = next_checkin("bob", [ItemView("bob", date(2026, 12, 4), True, wait_until=back)], sent_at=SENT,
                        done_checkins=(), settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert plan is not None and plan.at >= back


def test_owners_are_planned_each_on_their_own_soonest_first() -> None:
    items = [ItemView("carol", date(2026, 12, 11), True), ItemView("bob", date(2026, 12, 4), True),
             ItemView(None, date(2026, 12, 1), True)]  # an unmatched owner is nobody to write to
    plans = owner_checkins(items, sent_at=SENT, done={}, settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert [p.owner for p in plans] == ["bob", "carol"]


def test_the_roll_up_comes_after_the_last_date_then_weekly_while_items_stay_open() -> None:
    items = [ItemView("bob", date(2026, 12, 4), False), ItemView("carol", date(2026, 12, 15), True)]
    first = next_rollup(items, sent_at=SENT, done_rollups=(), settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert first is not None and local(first).date() == date(2026, 12, 16)
    second = next_rollup(items, sent_at=SENT, done_rollups=[first], settings=SETTINGS, cadence=CADENCE, tz=BERLIN)
    assert second is not None and second - first == timedelta(weeks=1)
    capped = next_rollup(items, sent_at=SENT, done_rollups=[first] * 4, settings=SETTINGS, cadence=CADENCE,
                         tz=BERLIN)
    assert capped is None  # never more roll-ups than the cadence has touches
    closed = [ItemView("bob", date(2026, 12, 4), False)]
    assert next_rollup(closed, sent_at=SENT, done_rollups=(), settings=SETTINGS, cadence=CADENCE, tz=BERLIN) is None
    off = ActionSettings(rollup="off")
    assert next_rollup(items, sent_at=SENT, done_rollups=(), settings=off, cadence=CADENCE, tz=BERLIN) is None


@pytest.mark.parametrize(("number", "total", "stage"), [(1, 4, "checkin"), (2, 4, "later"), (3, 4, "later"),
                                                        (4, 4, "final"), (1, 1, "checkin"), (2, 2, "final")])
def test_check_in_stages(number: int, total: int, stage: str) -> None:
    assert checkin_stage(number, total) == stage


# ------------------------------------------------------------------------------------------------ item states
NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)


@dataclass
class Item:
    id: str
    owner_email: str | None
    state: str = "open"
    due: date | None = None
    wait_until: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str = ""
    outcome: str = ""
    probable: bool = False


@dataclass
class Touch:
    to: list[dict[str, str]]
    id: str = "t-001"
    state: str = TouchState.QUEUED
    done_at: datetime | None = None
    outcome: str = ""
    cleanup_pending: bool = False
    sent_by_followupd: bool = False
    sent_copy_pending: bool = False
    data_started_at: datetime | None = None
    sending_started_at: datetime | None = None
    sent_raw: bytes | None = None
    message_id: str = ""
    drafted_at: datetime | None = None


@dataclass
class Thread:
    kind: str = "actions"
    state: str = ThreadState.WAITING
    state_reason: str = ""
    state_changed_at: datetime | None = None
    next_due: datetime | None = None
    snoozed_until: datetime | None = None
    touches: int = 0
    steps: int = 0
    last_touch_at: datetime | None = None
    replied_at: datetime | None = None
    replied_by: str = ""
    reply_probable: bool = False
    problems: list[str] = field(default_factory=list)
    failed_recipients: list[str] = field(default_factory=list)
    answered_by: list[str] = field(default_factory=list)
    touch_rows: list[Touch] = field(default_factory=list)
    reminder_rows: list[object] = field(default_factory=list)


def test_an_owners_answer_closes_their_items_once_and_a_rescan_changes_nothing() -> None:
    bob = [Item("a1", "bob"), Item("a2", "bob", state="dropped")]
    assert item_states.done(bob, by="bob", evidence="sent it", at=NOW) == ["a1"]
    assert (bob[0].state, bob[0].closed_by, bob[0].outcome, bob[0].probable) == ("done", "bob", "sent it", False)
    assert bob[1].state == "dropped"  # a closed item keeps its state
    assert item_states.done(bob, by="bob", evidence="again", at=NOW) == []


def test_holding_moves_the_date_and_keeps_the_item_followed() -> None:
    item = Item("a1", "bob", due=date(2026, 12, 4))
    item_states.holding([item], until=date(2026, 12, 18), evidence="next Friday")
    assert (item.state, item.due) == ("holding", date(2026, 12, 18))
    assert item_states.is_open(item)


def test_a_check_in_waiting_for_an_owner_is_withdrawn_and_no_one_elses() -> None:
    touches = [Touch([{"email": "bob"}]), Touch([{"email": "carol"}]), Touch([{"email": "bob"}, {"email": "carol"}])]
    assert item_states.withdraw_checkins(touches, "bob", NOW, "bob answered") == 1
    assert [t.state for t in touches] == ["withdrawn", "queued", "queued"]
    assert touches[0].cleanup_pending


def test_the_thread_closes_when_the_last_item_closes() -> None:
    thread = Thread(touch_rows=[Touch([{"email": "carol"}])])
    rows = [Item("a1", "bob", state="done"), Item("a2", "carol")]
    assert not item_states.settle(thread, rows, now=NOW)
    item_states.declined([rows[1]], by="carol", evidence="can't", at=NOW)
    assert item_states.settle(thread, rows, now=NOW)
    assert thread.state == "replied" and thread.touch_rows[0].state == "withdrawn"
    thread = Thread()
    only_declined = [Item("a1", "bob", state="declined")]
    assert item_states.settle(thread, only_declined, now=NOW) and thread.state == "declined"
    thread = Thread()
    assert item_states.settle(thread, [Item("a1", "bob", state="dropped")], now=NOW) and thread.state == "stopped"


def test_the_user_closes_an_item_once() -> None:
    item = Item("a1", "bob")
    assert item_states.user_drop(item, at=NOW) and item.state == "dropped"
    assert not item_states.user_done(item, at=NOW)

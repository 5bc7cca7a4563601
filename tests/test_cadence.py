"""When follow-ups are due: business days, windows, jitter, DST, promises, person spacing, outages."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followupd.planning.cadence import (
    CadenceSettings,
    Gap,
    add_business_days,
    add_gap,
    catch_up,
    due_time,
    fit_to_window,
    is_business_day,
    jitter_offset,
    planned_schedule,
    respect_person_spacing,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FRI = date(2026, 5, 8)
SAT = date(2026, 5, 9)
MON = date(2026, 5, 11)
TUE = date(2026, 5, 12)
WED = date(2026, 5, 13)
THU = date(2026, 5, 14)
NEXT_FRI = date(2026, 5, 15)
NEXT_MON = date(2026, 5, 18)
def business(**changes: Any) -> CadenceSettings:
    """A typical business-hours cadence (Mon-Fri 09:00-17:00, 45 min jitter); the shipped default is always-open."""
    base = CadenceSettings(send_days=frozenset({0, 1, 2, 3, 4}), send_start=time(9, 0), send_end=time(17, 0),
                           jitter=timedelta(minutes=45))
    return dataclasses.replace(base, **changes)


NOJITTER = business(jitter=timedelta(0))


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = BERLIN) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def due(
    sent_at: datetime,
    *,
    last: datetime | None = None,
    done: int = 0,
    promised: date | None = None,
    cfg: CadenceSettings = NOJITTER,
    tz: ZoneInfo = BERLIN,
    seed: str = "thread-1",
) -> datetime:
    result = due_time(sent_at=sent_at, last_touch_at=last, touches_done=done, promised=promised,
                      settings=cfg, tz=tz, seed=seed)
    assert result is not None
    return result


# --- business days -----------------------------------------------------------------------------------------


def test_weekends_and_holidays_are_not_business_days() -> None:
    assert is_business_day(MON, frozenset())
    assert not is_business_day(SAT, frozenset())
    assert not is_business_day(SAT + timedelta(days=1), frozenset())
    assert not is_business_day(MON, frozenset({MON}))


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        (FRI, 1, MON),
        (FRI, 3, WED),
        (MON, 5, MON + timedelta(days=7)),
        (SAT, 1, TUE),   # a weekend start counts from Monday, the recipient's first day with the mail
        (SAT, 0, MON),
        (MON, 0, MON),
    ],
)
def test_add_business_days_skips_weekends(start: date, n: int, expected: date) -> None:
    assert add_business_days(start, n, frozenset()) == expected


def test_add_business_days_skips_holidays() -> None:
    assert add_business_days(FRI, 1, frozenset({MON, TUE})) == WED


def test_add_business_days_refuses_going_back() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_business_days(MON, -1, frozenset())


# --- add_gap and DST ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "monday"),
    [(BERLIN, date(2026, 3, 23)), (BERLIN, date(2026, 10, 19)),
     (NEW_YORK, date(2026, 3, 2)), (NEW_YORK, date(2026, 10, 26))],
)
def test_a_week_across_dst_keeps_the_local_time(tz: ZoneInfo, monday: date) -> None:
    start = at(monday, 10, tz=tz)
    later = add_gap(start, Gap(1, "w"), holidays=frozenset(), tz=tz)
    local = later.astimezone(tz)
    assert (local.date(), local.time()) == (monday + timedelta(days=7), time(10, 0))
    elapsed = later.astimezone(UTC) - start.astimezone(UTC)
    assert elapsed != timedelta(weeks=1)  # an hour more or less: it really crossed a DST change
    assert abs(elapsed - timedelta(weeks=1)) == timedelta(hours=1)


def test_hours_are_elapsed_time_but_days_are_calendar_days() -> None:
    saturday = at(date(2026, 3, 28), 10)  # Berlin springs forward that night
    assert add_gap(saturday, Gap(24, "h"), holidays=frozenset(), tz=BERLIN).hour == 11
    assert add_gap(saturday, Gap(1, "d"), holidays=frozenset(), tz=BERLIN).hour == 10


def test_a_local_time_skipped_by_dst_moves_past_the_gap() -> None:
    late = at(date(2026, 3, 28), 2, 30)
    moved = add_gap(late, Gap(1, "d"), holidays=frozenset(), tz=BERLIN)
    assert (moved.date(), moved.time()) == (date(2026, 3, 29), time(3, 30))


def test_business_day_gap_keeps_the_time_of_day_and_skips_the_weekend() -> None:
    result = add_gap(at(FRI, 14, 30), Gap(3, "bd"), holidays=frozenset({TUE}), tz=BERLIN)
    assert result == at(THU, 14, 30)


def test_business_day_gap_from_a_weekend_counts_from_monday() -> None:
    assert add_gap(at(SAT, 10), Gap(1, "bd"), holidays=frozenset(), tz=BERLIN) == at(TUE, 10)


def test_add_gap_works_in_the_users_zone_not_the_inputs() -> None:
    sent = datetime(2026, 5, 8, 22, 30, tzinfo=UTC)  # Saturday 00:30 in Berlin
    assert add_gap(sent, Gap(1, "bd"), holidays=frozenset(), tz=BERLIN) == at(TUE, 0, 30)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_gap(datetime(2026, 5, 8, 10), Gap(1, "d"), holidays=frozenset(), tz=BERLIN)


# --- fit_to_window -----------------------------------------------------------------------------------------


def test_inside_the_window_nothing_moves() -> None:
    assert fit_to_window(at(MON, 11, 17), NOJITTER, BERLIN) == at(MON, 11, 17)


def test_early_morning_waits_for_the_window() -> None:
    assert fit_to_window(at(MON, 6), NOJITTER, BERLIN) == at(MON, 9)


def test_friday_evening_waits_for_monday_morning() -> None:
    assert fit_to_window(at(FRI, 17), NOJITTER, BERLIN) == at(MON, 9)


def test_holidays_are_skipped() -> None:
    cfg = business(holidays=frozenset({MON}))
    assert fit_to_window(at(FRI, 18), cfg, BERLIN) == at(TUE, 9)


def test_window_until_midnight() -> None:
    cfg = business(send_start=time(20, 0), send_end=time.max)
    assert fit_to_window(at(MON, 23, 59), cfg, BERLIN) == at(MON, 23, 59)
    assert fit_to_window(at(MON, 12), cfg, BERLIN) == at(MON, 20)


def test_always_open_window() -> None:
    cfg = business(send_days=frozenset(range(7)), send_start=time(0), send_end=time.max)
    assert fit_to_window(at(SAT, 3, 14), cfg, BERLIN) == at(SAT, 3, 14)


def test_result_is_in_the_users_zone() -> None:
    moment = datetime(2026, 5, 11, 5, 0, tzinfo=UTC)  # 07:00 Berlin
    fitted = fit_to_window(moment, NOJITTER, BERLIN)
    assert fitted == at(MON, 9)
    assert fitted.tzinfo == BERLIN


def test_no_allowed_day_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="allows no day"):
        fit_to_window(at(MON, 9), business(send_days=frozenset()), BERLIN)


def test_window_in_the_repeated_dst_hour_reads_right_on_the_clock() -> None:
    cfg = business(send_days=frozenset(range(7)), send_start=time(2, 30), send_end=time(4, 0))
    second_two_ten = datetime(2026, 10, 25, 2, 10, tzinfo=BERLIN, fold=1)  # after the clocks went back
    fitted = fit_to_window(second_two_ten, cfg, BERLIN)
    assert fitted.date() == date(2026, 10, 25)
    assert fitted.time() == time(2, 30)
    assert fitted.astimezone(UTC) > second_two_ten.astimezone(UTC)


# --- jitter ------------------------------------------------------------------------------------------------


def test_jitter_is_deterministic_and_inside_its_range() -> None:
    jitter = timedelta(minutes=45)
    assert jitter_offset("thread-7#1", jitter) == jitter_offset("thread-7#1", jitter)
    offsets = [jitter_offset(f"thread-{i}#1", jitter) for i in range(300)]
    assert all(timedelta(0) <= o < jitter for o in offsets)
    assert len(set(offsets)) > 250
    assert min(offsets) < timedelta(minutes=3) and max(offsets) > timedelta(minutes=42)


def test_no_jitter_means_no_offset() -> None:
    assert jitter_offset("anything", timedelta(0)) == timedelta(0)


# --- due_time ----------------------------------------------------------------------------------------------


def test_first_touch_follows_the_first_gap() -> None:
    assert due(at(MON, 10)) == at(THU, 10)  # default first gap: 3 business days


def test_a_sequence_ends_after_the_last_gap() -> None:
    cfg = business(gaps=(Gap(3, "d"), Gap(1, "w")))
    assert due_time(sent_at=at(MON, 10), last_touch_at=at(THU, 10), touches_done=2, promised=None,
                    settings=cfg, tz=BERLIN, seed="t") is None


def test_later_touches_count_from_the_last_touch() -> None:
    cfg = business(gaps=(Gap(3, "bd"), Gap(1, "w")), jitter=timedelta(0))
    assert due(at(MON, 10), last=at(THU, 11), done=1, cfg=cfg) == at(THU + timedelta(days=7), 11)


def test_a_promise_is_honoured_at_the_start_of_its_window() -> None:
    result = due(at(MON, 10), promised=WED, cfg=business())
    assert result.date() == WED
    assert time(9, 0) <= result.time() < time(9, 45)


def test_a_promise_on_a_weekend_or_holiday_moves_to_the_next_send_day() -> None:
    assert due(at(FRI, 10), promised=SAT) == at(MON, 9)
    cfg = business(jitter=timedelta(0), holidays=frozenset({MON}))
    assert due(at(FRI, 10), promised=MON, cfg=cfg) == at(TUE, 9)


def test_drafts_do_not_all_appear_on_the_hour() -> None:
    times = {due(at(MON, 7), seed=f"thread-{i}", cfg=business()).time() for i in range(20)}
    assert len(times) > 15
    assert all(time(9, 0) <= t < time(9, 45) for t in times)


def test_jitter_never_pushes_a_draft_out_of_the_window() -> None:
    sent = at(MON, 16, 55)  # due Thursday 16:55, five minutes before the window closes
    results = [due(sent, seed=f"t{i}", cfg=business()) for i in range(50)]
    assert all(r.date() == THU and time(16, 55) <= r.time() < time(17, 0) for r in results)
    assert len({r.time() for r in results}) > 40  # still spread out, not all clamped to one minute


def test_jitter_in_the_repeated_dst_hour_stays_inside_the_window_on_the_clock() -> None:
    """Berlin, 25 Oct 2026: 02:00-03:00 happens twice; a window 02:30-04:00 must not show a draft at 02:10."""
    cfg = business(send_days=frozenset(range(7)), send_start=time(2, 30), send_end=time(4, 0),
                          jitter=timedelta(minutes=150))
    results = [due(at(date(2026, 10, 20), 10), promised=date(2026, 10, 25), cfg=cfg, seed=f"s{i}")
               for i in range(60)]
    assert all(r.date() == date(2026, 10, 25) and time(2, 30) <= r.time() < time(4, 0) for r in results)


def test_replanning_after_a_crash_gives_the_same_time() -> None:
    first = due(at(MON, 10), seed="thread-42", cfg=business())
    assert due(at(MON, 10), seed="thread-42", cfg=business()) == first


def test_no_touch_lands_the_day_after_another() -> None:
    cfg = business(gaps=(Gap(1, "d"), Gap(1, "d")), jitter=timedelta(0))
    assert due(at(MON, 10), last=at(TUE, 10), done=1, cfg=cfg) == at(THU, 0).replace(hour=9)


def test_due_time_is_aware_and_in_the_users_zone() -> None:
    result = due(datetime(2026, 5, 11, 8, tzinfo=UTC), tz=NEW_YORK)
    assert result.tzinfo == NEW_YORK
    assert result == datetime(2026, 5, 14, 9, tzinfo=NEW_YORK)  # sent 04:00 NY: Thursday, window opens 09:00


# --- planned_schedule --------------------------------------------------------------------------------------


def test_default_schedule_spaces_out_and_grows() -> None:
    schedule = planned_schedule(sent_at=at(MON, 10), promised=None, settings=business(), tz=BERLIN,
                                seed="t")
    assert len(schedule) == 4
    gaps = [(b.date() - a.date()).days for a, b in itertools.pairwise(schedule)]
    assert gaps == sorted(gaps)
    assert min(gaps) >= 7


def test_schedule_starts_on_the_promised_day() -> None:
    schedule = planned_schedule(sent_at=at(MON, 10), promised=date(2026, 6, 1), settings=business(),
                                tz=BERLIN, seed="t")
    assert schedule[0].date() == date(2026, 6, 1)


# --- person spacing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("other", "expected_day"),
    [
        (TUE, THU),                        # same day
        (MON, WED),                        # the day before
        (WED, NEXT_FRI),                   # the day after
        (FRI - timedelta(days=7), TUE),    # far away: unchanged
    ],
)
def test_one_person_is_never_nudged_on_consecutive_days(other: date, expected_day: date) -> None:
    moved = respect_person_spacing(at(TUE, 9, 23), [other], NOJITTER, BERLIN)
    assert moved == at(expected_day, 9, 23)  # time of day (the jitter) survives the move


def test_person_spacing_skips_days_outside_the_window() -> None:
    assert respect_person_spacing(at(THU, 10), [NEXT_FRI], NOJITTER, BERLIN) == at(NEXT_MON, 10)


def test_person_spacing_clears_every_other_thread() -> None:
    moved = respect_person_spacing(at(TUE, 10), [TUE, THU], NOJITTER, BERLIN)
    assert moved == at(NEXT_MON, 10)


def test_wider_person_spacing() -> None:
    cfg = business(min_days_between_nudges_per_person=3, jitter=timedelta(0))
    assert respect_person_spacing(at(WED, 10), [MON], cfg, BERLIN) == at(THU, 10)


# --- outages -----------------------------------------------------------------------------------------------


def test_a_future_due_time_is_kept() -> None:
    assert catch_up(at(THU, 10), at(MON, 10)) == at(THU, 10)


def test_a_missed_due_time_means_now() -> None:
    assert catch_up(at(MON, 10), at(THU, 11, 5)) == at(THU, 11, 5)


def test_a_catch_up_waits_for_the_window() -> None:
    assert catch_up(at(MON, 10), at(THU, 3), NOJITTER, BERLIN) == at(THU, 9)


def test_an_outage_drafts_one_touch_per_thread_not_a_burst() -> None:
    """Down for two months: when it comes back, exactly one touch is due; the next one is days later."""
    sent = at(date(2026, 3, 2), 10)
    now = at(date(2026, 5, 4), 11)
    cfg = business()
    first_due = due(sent, cfg=cfg)
    drafted_at = catch_up(first_due, now, cfg, BERLIN)
    assert drafted_at == now
    second_due = due(sent, last=drafted_at, done=1, cfg=cfg)
    assert second_due.date() >= now.date() + timedelta(days=2)
    assert catch_up(second_due, drafted_at) == second_due  # not due yet: no second draft this cycle


# --- properties --------------------------------------------------------------------------------------------

ZONES = [BERLIN, NEW_YORK, ZoneInfo("UTC"), ZoneInfo("Australia/Lord_Howe")]
gap_strategy = st.one_of(
    st.builds(Gap, st.integers(2, 30), st.just("d")),
    st.builds(Gap, st.integers(2, 20), st.just("bd")),
    st.builds(Gap, st.integers(1, 6), st.just("w")),
    st.builds(Gap, st.integers(48, 400), st.just("h")),
)


@st.composite
def cadence_settings(draw: st.DrawFn) -> CadenceSettings:
    start = draw(st.integers(0, 23 * 4 - 1)) * 15
    end_choice = draw(st.one_of(st.just(None), st.integers(start // 15 + 1, 24 * 4 - 1)))
    send_end = time.max if end_choice is None else time(end_choice * 15 // 60, end_choice * 15 % 60)
    holidays = draw(st.frozensets(st.dates(date(2026, 1, 1), date(2027, 12, 31)), max_size=40))
    return business(
        gaps=tuple(draw(st.lists(gap_strategy, min_size=1, max_size=5))),
        send_days=draw(st.frozensets(st.integers(0, 6), min_size=1)),
        send_start=time(start // 60, start % 60),
        send_end=send_end,
        jitter=timedelta(minutes=draw(st.integers(0, 180))),
        holidays=holidays,
        min_days_between_nudges_per_person=draw(st.integers(1, 4)),
    )


aware_moments = st.builds(
    lambda naive, tz: naive.replace(tzinfo=tz),
    st.datetimes(datetime(2026, 1, 1), datetime(2026, 12, 31)),
    st.sampled_from(ZONES),
)


def _inside_window(moment: datetime, cfg: CadenceSettings, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    if local.weekday() not in cfg.send_days or local.date() in cfg.holidays:
        return False
    return local.time() >= cfg.send_start and (cfg.send_end == time.max or local.time() < cfg.send_end)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(sent_at=aware_moments, cfg=cadence_settings(), tz=st.sampled_from(ZONES),
       promise_in=st.one_of(st.none(), st.integers(1, 90)), seed=st.text(max_size=8))
def test_planned_touches_are_spaced_and_inside_windows(
    sent_at: datetime, cfg: CadenceSettings, tz: ZoneInfo, promise_in: int | None, seed: str
) -> None:
    promised = None if promise_in is None else sent_at.astimezone(tz).date() + timedelta(days=promise_in)
    schedule = planned_schedule(sent_at=sent_at, promised=promised, settings=cfg, tz=tz, seed=seed)
    assert len(schedule) == len(cfg.gaps)
    instants = [sent_at.astimezone(UTC), *(d.astimezone(UTC) for d in schedule)]
    assert instants == sorted(instants) and len(set(instants)) == len(instants)
    days = [d.astimezone(tz).date() for d in schedule]
    assert all((b - a).days >= 2 for a, b in itertools.pairwise(days))
    assert all(_inside_window(d, cfg, tz) for d in schedule)
    assert all(d.tzinfo is not None for d in schedule)
    if promised is not None and promised.weekday() in cfg.send_days and promised not in cfg.holidays:
        assert days[0] == promised


@settings(derandomize=True, max_examples=300, deadline=None)
@given(moment=aware_moments, cfg=cadence_settings(), tz=st.sampled_from(ZONES))
def test_fit_to_window_is_the_earliest_open_moment(
    moment: datetime, cfg: CadenceSettings, tz: ZoneInfo
) -> None:
    fitted = fit_to_window(moment, cfg, tz)
    assert fitted.astimezone(UTC) >= moment.astimezone(UTC)
    assert _inside_window(fitted, cfg, tz)
    if _inside_window(moment, cfg, tz):
        assert fitted.astimezone(UTC) == moment.astimezone(UTC)
    else:
        just_before = (fitted.astimezone(UTC) - timedelta(seconds=1)).astimezone(tz)
        assert not _inside_window(just_before, cfg, tz)


@settings(derandomize=True, max_examples=300, deadline=None)
@given(start=st.dates(date(2020, 1, 1), date(2030, 1, 1)), n=st.integers(0, 40),
       holidays=st.frozensets(st.dates(date(2020, 1, 1), date(2030, 3, 1)), max_size=200))
def test_business_days_skip_weekends_and_holidays(start: date, n: int, holidays: frozenset[date]) -> None:
    end = add_business_days(start, n, holidays)
    assert is_business_day(end, holidays)
    first = start  # a weekend or holiday start counts from the next business day
    while not is_business_day(first, holidays):
        first += timedelta(days=1)
    after_first = [first + timedelta(days=i) for i in range(1, (end - first).days + 1)]
    assert sum(is_business_day(d, holidays) for d in after_first) == n


@settings(derandomize=True, max_examples=300, deadline=None)
@given(due_at=aware_moments, cfg=cadence_settings(), tz=st.sampled_from(ZONES),
       offsets=st.lists(st.integers(-10, 30), max_size=6))
def test_person_spacing_never_leaves_nudges_too_close(
    due_at: datetime, cfg: CadenceSettings, tz: ZoneInfo, offsets: list[int]
) -> None:
    start = fit_to_window(due_at, cfg, tz)
    others = [start.astimezone(tz).date() + timedelta(days=o) for o in offsets]
    moved = respect_person_spacing(start, others, cfg, tz)
    assert moved.astimezone(UTC) >= start.astimezone(UTC)
    assert _inside_window(moved, cfg, tz)
    assert all(abs((moved.astimezone(tz).date() - o).days) >= cfg.min_days_between_nudges_per_person
               for o in others)
    if not others:
        assert moved == start

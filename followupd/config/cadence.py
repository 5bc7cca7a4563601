"""``[cadence]``: when follow-ups fall due and when they may be drafted (gaps, days, hours, holidays, polling).

The checks that keep persistence humane live here: no gap under two days, a day between nudges of the same
person, a sending window long enough for the jitter.
"""

from __future__ import annotations

from datetime import date, time, timedelta

from followupd.config.schema import Table, toml_repr
from followupd.errors import RegionError
from followupd.mail.patterns import lazy_pattern
from followupd.planning.cadence import PRESETS, CadenceSettings, Gap, gap_minimum, parse_duration, parse_gap
from followupd.planning.holiday_calendar import Holidays, normalise_region

MIN_GAP = timedelta(days=2)
MAX_GAPS = 12
MIN_POLL_INTERVAL = timedelta(minutes=1)
MIN_DAYS_BETWEEN_NUDGES = 2

_REGION_SHAPE = lazy_pattern(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,4})?")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = lazy_pattern(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def build_cadence(table: Table) -> CadenceSettings:
    defaults = CadenceSettings()
    window = _cadence_hours(table, (defaults.send_start, defaults.send_end))
    return CadenceSettings(
        gaps=_cadence_gaps(table, defaults.gaps),
        send_days=_cadence_days(table, defaults.send_days),
        send_start=window[0],
        send_end=window[1],
        jitter=_cadence_jitter(table, window, defaults.jitter),
        holidays=_cadence_holidays(table),
        min_days_between_nudges_per_person=_cadence_min_days(
            table, defaults.min_days_between_nudges_per_person),
        poll_interval=_cadence_poll(table, defaults.poll_interval),
        recipient_time=_cadence_flag(table, "recipient_time", defaults.recipient_time),
    )


def _cadence_preset(table: Table, default: tuple[Gap, ...]) -> tuple[Gap, ...]:
    """``preset = "gentle" | "persistent"`` (followupd.planning.cadence.PRESETS); the default cadence without one."""
    name = table.text("preset")
    if name is None:
        return default
    gaps = PRESETS.get(name.strip().lower())
    if gaps is None:
        names = " or ".join(f'"{known}"' for known in PRESETS)
        table.bad("preset", f"use {names}, or list your own gaps instead, e.g. "
                            'gaps = ["3bd", "1w", "2w", "4w"]')
        return default
    return gaps


def _cadence_flag(table: Table, key: str, default: bool) -> bool:
    value = table.values.get(key)
    return value if isinstance(value, bool) else default


def _cadence_gaps(table: Table, default: tuple[Gap, ...]) -> tuple[Gap, ...]:
    """Explicit ``gaps`` win over ``preset``: the more specific setting is what the user means."""
    default = _cadence_preset(table, default)
    raw = table.items("gaps")
    if raw is None:
        return default
    if not 1 <= len(raw) <= MAX_GAPS:
        table.bad("gaps", f"give 1 to {MAX_GAPS} gaps, e.g. [\"3bd\", \"1w\", \"2w\", \"4w\"]")
        return default
    gaps: list[Gap] = []
    for item in raw:
        try:
            gap = parse_gap(item)
        except ValueError as exc:
            table.bad("gaps", f"{toml_repr(item)} is not a gap: {exc}")
            continue
        if gap_minimum(gap) < MIN_GAP:
            table.bad("gaps", f"{toml_repr(item)} is shorter than 2 days; persistence never means every day: "
                              'a nudge sooner than that reads as pressure. Use e.g. "2d", "3bd" or "1w"')
        gaps.append(gap)
    return tuple(gaps)


def weekday_number(name: str) -> int | None:
    """0 for mon/monday .. 6 for sun/sunday, None for anything else ([cadence] send_days, [digest] day)."""
    word = name.strip().lower()
    for number, full in enumerate(_WEEKDAYS):
        if word in (full, full[:3]):
            return number
    return None


def _cadence_days(table: Table, default: frozenset[int]) -> frozenset[int]:
    raw = table.items("send_days")
    if raw is None:
        return default
    if not raw:
        table.bad("send_days", 'name at least one day, e.g. ["mon", "tue", "wed", "thu", "fri"]')
        return default
    days: list[int] = []
    for item in raw:
        number = weekday_number(item)
        if number is None:
            table.bad("send_days", f"{toml_repr(item)} is not a weekday; use mon..sun or monday..sunday")
        elif number in days:
            table.bad("send_days", f"{toml_repr(item)} is listed twice; name each day once")
        else:
            days.append(number)
    return frozenset(days) or default


def _parse_clock(hours: str, minutes: str, *, end: bool) -> time | None:
    """``HH:MM`` -> time; ``24:00`` only as an end, meaning "until midnight" (``time.max``)."""
    h, m = int(hours), int(minutes)
    if end and (h, m) == (24, 0):
        return time.max
    if h > 23 or m > 59:
        return None
    return time(h, m)


def _cadence_hours(table: Table, default: tuple[time, time]) -> tuple[time, time]:
    raw = table.text("send_hours")
    if raw is None:
        return default
    match = _HOURS.match(raw)
    start = _parse_clock(match[1], match[2], end=False) if match else None
    end = _parse_clock(match[3], match[4], end=True) if match else None
    if start is None or end is None or start >= end:
        table.bad("send_hours", 'write "HH:MM-HH:MM" with the start before the end, e.g. "09:00-17:00"; '
                                '"00:00-24:00" means any time of day')
        return default
    return (start, end)


def _window_length(window: tuple[time, time]) -> timedelta:
    start, end = window
    end_delta = timedelta(days=1) if end == time.max else timedelta(hours=end.hour, minutes=end.minute)
    return end_delta - timedelta(hours=start.hour, minutes=start.minute)


def _duration(table: Table, key: str) -> timedelta | None:
    raw = table.text(key)
    if raw is None:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        table.bad(key, str(exc))
        return None


def _cadence_jitter(table: Table, window: tuple[time, time], default: timedelta) -> timedelta:
    jitter = _duration(table, "jitter")
    if jitter is None:
        return default
    if jitter >= _window_length(window):
        table.bad("jitter", f"it must be shorter than the sending window ({_window_length(window)}), "
                            'or drafts would drift out of it; e.g. "45m", or "0m" for none')
    return jitter


def _cadence_holidays(table: Table) -> frozenset[date]:
    """ISO dates and region codes (``"DE-BY"``: that region's public holidays, see planning.holiday_calendar)."""
    raw = table.items("holidays")
    if raw is None:
        return frozenset()
    days: set[date] = set()
    regions: list[str] = []
    for item in raw:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(item.strip()))
            continue
        except ValueError:
            pass
        if not _REGION_SHAPE.fullmatch(item.strip()):
            table.bad("holidays", f"{toml_repr(item)} is not an ISO date nor a region code; write a date such as "
                                  '"2026-12-25", or a country or region code such as "DE" or "DE-BY" for its '
                                  "public holidays")
            continue
        try:
            regions.append(normalise_region(item))
        except RegionError as exc:
            table.bad("holidays", str(exc))
    return Holidays(days, regions)


def _cadence_min_days(table: Table, default: int) -> int:
    value = table.integer("min_days_between_nudges_per_person")
    if value is None:
        return default
    if value < MIN_DAYS_BETWEEN_NUDGES:
        table.bad("min_days_between_nudges_per_person",
                  f"use {MIN_DAYS_BETWEEN_NUDGES} or more; 1 would let one person be nudged on consecutive "
                  "days, and persistence never means every day")
    return value


def _cadence_poll(table: Table, default: timedelta) -> timedelta:
    interval = _duration(table, "poll_interval")
    if interval is None:
        return default
    if interval < MIN_POLL_INTERVAL:
        table.bad("poll_interval", 'use at least 1 minute, e.g. "5m"; polling faster only loads the server')
    return interval


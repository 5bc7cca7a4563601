"""When the next follow-up is due: gaps, business days, holidays, sending windows, jitter, per-person spacing.

Pure: plain data in, plain data out; the caller passes ``now``. The research rule this module enforces is
"persistent does not mean every day": gaps are at least two days, grow, and one person is never nudged on two
consecutive days.

Every datetime in and out is timezone-aware (a naive one raises ValueError: guessing the zone would mean
reading the machine's settings). Arithmetic on instants is done in UTC, because Python compares and
subtracts two datetimes that share a tzinfo by wall clock, which is wrong across a DST change; calendar
arithmetic ("next Monday at the same time") is done on local dates and then resolved in the user's zone.

The outage rule (see ``catch_up``): a due time in the past means "draft now", once. Only touch number
``touches_done + 1`` is ever due, and the touch after it is planned from when that touch actually happened,
so a daemon that was down for a month drafts one follow-up per thread, never a burst.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Literal

GapUnit = Literal["m", "h", "d", "bd", "w"]


@dataclass(frozen=True)
class Gap:
    """A span of time as written in config or a tracking suffix: ``3bd`` (business days), ``2w``, ``36h``."""

    amount: int
    unit: GapUnit

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class CadenceSettings:
    """The validated ``[cadence]`` section. ``send_end`` of ``time.max`` means "until midnight" (24:00).

    The sending window is opt-in: by default a draft appears as soon as it is due, any day, any hour. Drafts
    wait for the user's review anyway, and a default window would make a due follow-up silently not appear
    on an evening or a weekend, which looks like a bug to someone trying followupd out."""

    gaps: tuple[Gap, ...] = (Gap(3, "bd"), Gap(1, "w"), Gap(2, "w"), Gap(4, "w"))
    send_days: frozenset[int] = frozenset(range(7))   # date.weekday(): Monday = 0
    send_start: time = time(0, 0)
    send_end: time = time.max
    jitter: timedelta = timedelta(0)
    holidays: frozenset[date] = frozenset()
    min_days_between_nudges_per_person: int = 2
    poll_interval: timedelta = timedelta(minutes=5)
    recipient_time: bool = False  # send hours and days apply in the recipient's zone (planning.recipient_clock)


#: ``[cadence] preset``: named cadences; an explicit ``gaps`` overrides the preset. "gentle" is the default
#: cadence (four touches over about two months). "persistent" is the research's "it can take up to 11 touches":
#: eleven touches over about five months, the gaps growing from days to a month, never shorter than the one
#: before, so the thread slows down as it ages instead of nagging.
PRESETS: dict[str, tuple[Gap, ...]] = {
    "gentle": (Gap(3, "bd"), Gap(1, "w"), Gap(2, "w"), Gap(4, "w")),
    "persistent": (Gap(3, "bd"), Gap(5, "d"), Gap(1, "w"), Gap(1, "w"), Gap(10, "d"), Gap(2, "w"), Gap(2, "w"),
                   Gap(3, "w"), Gap(3, "w"), Gap(4, "w"), Gap(4, "w")),
}
DEFAULT_PRESET = "gentle"


_UNIT_WORDS: dict[str, GapUnit] = {
    "m": "m", "min": "m", "mins": "m", "minute": "m", "minutes": "m",
    "h": "h", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
    "d": "d", "day": "d", "days": "d",
    "bd": "bd", "businessday": "bd", "businessdays": "bd",
    "w": "w", "wk": "w", "wks": "w", "week": "w", "weeks": "w",
}


def parse_gap(text: str) -> Gap:
    """Parse ``"3bd"``, ``"1w"``, ``"36h"``, ``"2 days"``; raise ValueError saying what is allowed."""
    cleaned = text.strip().lower().replace(" ", "")
    digits = ""
    for ch in cleaned:
        if not ch.isdigit():
            break
        digits += ch
    unit_word = cleaned[len(digits):]
    unit = _UNIT_WORDS.get(unit_word)
    if not digits or unit is None:
        raise ValueError(
            f"{text!r} is not a duration; write a whole number and a unit: m (minutes), h (hours), d (days), "
            'bd (business days) or w (weeks), e.g. "3bd" or "1w"'
        )
    return Gap(int(digits), unit)


def gap_minimum(gap: Gap) -> timedelta:
    """The shortest real time a gap can span: a business day is at least a calendar day."""
    per_unit = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1),
                "bd": timedelta(days=1), "w": timedelta(weeks=1)}
    return gap.amount * per_unit[gap.unit]


def parse_duration(text: str) -> timedelta:
    """A fixed duration (``"45m"``, ``"0m"``, ``"2h"``); business days are refused: no fixed length."""
    gap = parse_gap(text)
    if gap.unit == "bd":
        raise ValueError(f"{text!r}: business days have no fixed length here; use m, h, d or w")
    return gap_minimum(gap)


# Searching further than this for an allowed day means the settings allow none (e.g. every day a holiday).
_MAX_SEARCH_DAYS = 3700


def _require_aware(moment: datetime, name: str) -> None:
    """Refuse naive datetimes: reading them needs the machine's zone, which a pure module must not use."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


def _local(day: date, at: time, tz: tzinfo) -> datetime:
    """Wall time ``at`` on ``day`` in ``tz`` as a real instant; a time skipped by DST moves past the gap."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC).astimezone(tz)


def is_business_day(day: date, holidays: frozenset[date]) -> bool:
    """Monday to Friday and not a holiday: the days a recipient is expected to be reading mail."""
    return day.weekday() < 5 and day not in holidays


def _next_business_day_on_or_after(day: date, holidays: frozenset[date]) -> date:
    """Roll a weekend or holiday forward to the first business day; a business day stays put."""
    for _ in range(_MAX_SEARCH_DAYS):
        if is_business_day(day, holidays):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no business day within {_MAX_SEARCH_DAYS} days of {day.isoformat()}")


def add_business_days(day: date, n: int, holidays: frozenset[date]) -> date:
    """The business day ``n`` business days after ``day``.

    A start on a weekend or holiday counts from the next business day, because that is when the recipient
    first sees the mail: Friday + 1 = Monday, Saturday + 1 = Tuesday (Monday is the recipient's first full
    day). ``n == 0`` gives the start itself, rolled forward to a business day.
    """
    if n < 0:
        raise ValueError(f"business days must not be negative, got {n}")
    current = _next_business_day_on_or_after(day, holidays)
    for _ in range(n):
        current = _next_business_day_on_or_after(current + timedelta(days=1), holidays)
    return current


def add_gap(start: datetime, gap: Gap, *, holidays: frozenset[date], tz: tzinfo) -> datetime:
    """``start`` plus ``gap``, as the user means it in their own zone.

    Minutes and hours are elapsed time. Days and weeks are calendar steps that keep the local time of day, so
    "1w" from Monday 10:00 is next Monday 10:00 even across a DST change. Business days keep the local time of
    day and skip weekends and ``holidays`` (see ``add_business_days`` for a weekend start).
    """
    _require_aware(start, "start")
    if gap.unit in ("m", "h"):
        return (start.astimezone(UTC) + gap_minimum(gap)).astimezone(tz)
    local = start.astimezone(tz)
    # "d" and "w" are whole calendar days here, so the local time of day survives DST changes.
    day = add_business_days(local.date(), gap.amount, holidays) if gap.unit == "bd" else local.date() + gap_minimum(gap)
    return _local(day, local.time(), tz)


def _is_send_day(day: date, settings: CadenceSettings) -> bool:
    """A day drafts may appear on: an allowed weekday that is not a configured holiday."""
    return day.weekday() in settings.send_days and day not in settings.holidays


def _window_end(day: date, settings: CadenceSettings, tz: tzinfo) -> datetime:
    """The instant the sending window of ``day`` closes; ``send_end == time.max`` means at midnight."""
    if settings.send_end == time.max:
        return _local(day + timedelta(days=1), time(0, 0), tz)
    return _local(day, settings.send_end, tz)


def _is_open(local: datetime, settings: CadenceSettings) -> bool:
    """Is this local moment inside a sending window? Judged by wall time, as the user reads their config."""
    if not _is_send_day(local.date(), settings) or local.time() < settings.send_start:
        return False
    return settings.send_end == time.max or local.time() < settings.send_end


def _next_opening_same_day(local: datetime, settings: CadenceSettings, tz: tzinfo) -> datetime | None:
    """The first window start after ``local`` on its own day, or None.

    Both readings of an ambiguous start (the hour repeated when DST ends) are tried, so a moment in the
    repeated hour still finds the second 02:30 instead of skipping a whole day.
    """
    naive_start = datetime.combine(local.date(), settings.send_start)
    for fold in (0, 1):
        start = naive_start.replace(tzinfo=tz, fold=fold).astimezone(UTC).astimezone(tz)
        if start.astimezone(UTC) > local.astimezone(UTC) and start.date() == local.date() \
                and _is_open(start, settings):
            return start
    return None


def fit_to_window(moment: datetime, settings: CadenceSettings, tz: tzinfo) -> datetime:
    """The earliest instant at or after ``moment`` inside a sending window, in ``tz``.

    Drafts that appear at 03:00 or on a Sunday look automated and land at the bottom of the recipient's inbox;
    the window keeps them where a person would plausibly be writing. Raises ValueError when the settings allow
    no day at all.
    """
    _require_aware(moment, "moment")
    local = moment.astimezone(tz)
    for _ in range(2 * _MAX_SEARCH_DAYS):
        if _is_open(local, settings):
            return local
        next_midnight = _local(local.date() + timedelta(days=1), time(0, 0), tz)
        local = _next_opening_same_day(local, settings, tz) or next_midnight
    raise ValueError("the sending window allows no day: check send_days, send_start/send_end and holidays")


def jitter_offset(seed: str, jitter: timedelta) -> timedelta:
    """A deterministic offset in [0, jitter), whole seconds, derived from ``seed``.

    Drafts should not all appear at 09:00:00, yet re-planning the same touch after a crash must give the same
    time, so the offset comes from a hash of the seed (sha256, stable across runs, unlike ``hash()``).
    """
    seconds = int(jitter.total_seconds())
    if seconds <= 0:
        return timedelta(0)
    digest = hashlib.sha256(seed.encode("utf-8")).digest()
    return timedelta(seconds=int.from_bytes(digest[:8], "big") % seconds)


def _add_jitter(fitted: datetime, seed: str, settings: CadenceSettings, tz: tzinfo) -> datetime:
    """``fitted`` plus its jitter, wrapped so the result stays inside the same day's window.

    Falls back to ``fitted`` itself in the rare case (a window inside the hour DST repeats) where the wrapped
    moment would still read as outside the window on the user's clock.
    """
    offset = jitter_offset(seed, settings.jitter)
    end = _window_end(fitted.astimezone(tz).date(), settings, tz)
    room = int((end.astimezone(UTC) - fitted.astimezone(UTC)).total_seconds())
    offset = timedelta(seconds=int(offset.total_seconds()) % max(room, 1))
    candidate = (fitted.astimezone(UTC) + offset).astimezone(tz)
    if candidate.date() == fitted.astimezone(tz).date() and _is_open(candidate, settings):
        return candidate
    return fitted.astimezone(tz)


def _not_before_day(moment: datetime, earliest: date, tz: tzinfo) -> datetime:
    """``moment``, or the local midnight starting ``earliest`` if ``moment`` falls on an earlier local day."""
    if moment.astimezone(tz).date() >= earliest:
        return moment
    return _local(earliest, time(0, 0), tz)


def due_time(
    *,
    sent_at: datetime,
    last_touch_at: datetime | None,
    touches_done: int,
    promised: date | None,
    settings: CadenceSettings,
    tz: tzinfo,
    seed: str,
) -> datetime | None:
    """When follow-up number ``touches_done + 1`` is due, in ``tz``; None once every gap has been used.

    The first touch honours the user's promise: the promised day (or the next send day after it) at its
    window start plus jitter. Otherwise it is the later of ``sent_at`` and ``last_touch_at`` plus the next
    gap, fitted into a window, plus jitter. Either way it is never earlier than two local calendar days after
    the last touch, so no follow-up lands the day after another. ``seed`` (e.g. the thread id) makes the
    jitter stable; the touch number is mixed in so touches of one thread do not share the same minute.
    """
    _require_aware(sent_at, "sent_at")
    if last_touch_at is not None:
        _require_aware(last_touch_at, "last_touch_at")
    if touches_done < 0:
        raise ValueError(f"touches_done must not be negative, got {touches_done}")
    if touches_done >= len(settings.gaps):
        return None
    if touches_done == 0 and promised is not None:
        moment = _local(promised, time(0, 0), tz)
    else:
        base = sent_at
        if last_touch_at is not None and last_touch_at.astimezone(UTC) > sent_at.astimezone(UTC):
            base = last_touch_at
        moment = add_gap(base, settings.gaps[touches_done], holidays=settings.holidays, tz=tz)
    if last_touch_at is not None:
        moment = _not_before_day(moment, last_touch_at.astimezone(tz).date() + timedelta(days=2), tz)
    fitted = fit_to_window(moment, settings, tz)
    return _add_jitter(fitted, f"{seed}#{touches_done + 1}", settings, tz)


def _is_too_close(day: date, others: frozenset[date], min_days: int) -> bool:
    """True when ``day`` is fewer than ``min_days`` days from any of ``others`` (before or after)."""
    return any(abs((day - other).days) < min_days for other in others)


def respect_person_spacing(
    due: datetime, other_nudge_days: Iterable[date], settings: CadenceSettings, tz: tzinfo
) -> datetime:
    """Move ``due`` forward until it is at least ``min_days_between_nudges_per_person`` days from every day
    the same person is nudged in another thread (``other_nudge_days``, local dates, past or planned).

    Several threads with one person must not add up to a daily nag. The local time of day is kept where the
    window allows, so the jitter survives the move. Only ever moves later, never earlier; an unblocked ``due``
    is returned unchanged.
    """
    _require_aware(due, "due")
    others = frozenset(other_nudge_days)
    min_days = settings.min_days_between_nudges_per_person
    current = due.astimezone(tz)
    while _is_too_close(current.date(), others, min_days):
        day = _next_clear_send_day(current.date(), others, min_days, settings)
        current = fit_to_window(_local(day, current.time(), tz), settings, tz)
    return current


def _next_clear_send_day(
    after: date, others: frozenset[date], min_days: int, settings: CadenceSettings
) -> date:
    """The first send day after ``after`` that is far enough from all of ``others``."""
    day = after
    for _ in range(_MAX_SEARCH_DAYS):
        day += timedelta(days=1)
        if _is_send_day(day, settings) and not _is_too_close(day, others, min_days):
            return day
    raise ValueError("no send day is clear of the person's other nudges: check send_days and holidays")


def planned_schedule(
    *, sent_at: datetime, promised: date | None, settings: CadenceSettings, tz: tzinfo, seed: str
) -> list[datetime]:
    """Every touch's due time, assuming each happens exactly when due (what ``followupd preview`` shows)."""
    schedule: list[datetime] = []
    while (due := due_time(sent_at=sent_at, last_touch_at=schedule[-1] if schedule else None,
                           touches_done=len(schedule), promised=promised, settings=settings, tz=tz,
                           seed=seed)) is not None:
        schedule.append(due)
    return schedule


def catch_up(
    due: datetime, now: datetime, settings: CadenceSettings | None = None, tz: tzinfo | None = None
) -> datetime:
    """When to actually draft a touch that was due at ``due``, given the time is ``now``.

    A future ``due`` is kept. A past one (the daemon was down) means "now", once: the caller records the touch
    at the returned time and plans the next touch from it with ``due_time``, so missed touches are not
    replayed one after another. With ``settings`` and ``tz`` the catch-up waits for the next sending window
    instead of drafting at 03:00 straight after a restart.
    """
    _require_aware(due, "due")
    _require_aware(now, "now")
    if due.astimezone(UTC) >= now.astimezone(UTC):
        return due
    if settings is None or tz is None:
        return now
    return fit_to_window(now, settings, tz)

"""The clock adapter: the only place followupd reads the time, so tests and demos can pin it.

``FOLLOWUPD_NOW`` (an ISO 8601 timestamp with offset) pins the clock for a whole process: the end-to-end
tests and the demo use it to show a week of cadence in seconds without touching the system clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Protocol

from followupd.errors import ConfigError


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; ``advance`` lets a test walk through a cadence."""

    def __init__(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._moment = moment.astimezone(UTC)

    def now(self) -> datetime:
        return self._moment

    def advance(self, delta: timedelta) -> None:
        self._moment += delta


def clock_from_env(env: Mapping[str, str]) -> Clock:
    """SystemClock, unless ``FOLLOWUPD_NOW`` pins the time (tests and the demo)."""
    pinned = env.get("FOLLOWUPD_NOW", "").strip()
    if not pinned:
        return SystemClock()
    try:
        moment = datetime.fromisoformat(pinned)
    except ValueError as exc:
        raise ConfigError(
            f"FOLLOWUPD_NOW={pinned!r} is not an ISO 8601 timestamp; use e.g. 2026-12-01T09:30:00+01:00 "
            "or unset it to use the system clock",
            key="FOLLOWUPD_NOW",
        ) from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return FixedClock(moment)

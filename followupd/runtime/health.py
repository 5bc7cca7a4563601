"""Whether an account is working: ``ok``, or ``degraded`` since when and why. Kept in the account's database.

The daemon retries a failing account on its own (back-off), so a failure is not an error for the user to act on
at once; but "the server has refused us for six hours" must be visible in ``followupd status`` without reading
logs. The record changes only when the state changes, so a quiet, healthy cycle writes nothing here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from followupd.adapters import store as st  # its names load on first use: `status` on SQLite never needs them

if TYPE_CHECKING:
    from followupd.adapters.store.reports import Session

HEALTH_KEY = "health"
OK = "ok"
DEGRADED = "degraded"
UNKNOWN = "unknown"  # no cycle has run yet


@dataclass(frozen=True)
class Health:
    state: str
    since: datetime | None = None
    error: str | None = None      # the last failure, in the words of the error (never a secret: errors hold none)
    failures: int = 0             # failed cycles in a row

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "since": self.since.isoformat() if self.since else None,
                "error": self.error, "failures": self.failures}


def read_health(session: Session) -> Health:
    return parse_health(st.get_meta(session, HEALTH_KEY))


def parse_health(raw: str | None) -> Health:
    """The stored record (``HEALTH_KEY``), as either reader of ``status`` found it; unreadable means unknown."""
    if not raw:
        return Health(UNKNOWN)
    try:
        data = json.loads(raw)
        since = datetime.fromisoformat(data["since"]) if data.get("since") else None
        return Health(str(data.get("state", UNKNOWN)), since, data.get("error"), int(data.get("failures", 0)))
    except (ValueError, KeyError, TypeError):
        return Health(UNKNOWN)


def _write(session: Session, health: Health) -> None:
    st.set_meta(session, HEALTH_KEY, json.dumps(health.to_json()))


def record_success(session: Session, now: datetime) -> Health:
    current = read_health(session)
    if current.state == OK:
        return current
    health = Health(OK, since=now)
    _write(session, health)
    return health


def record_failure(session: Session, now: datetime, error: str) -> Health:
    current = read_health(session)
    since = current.since if current.state == DEGRADED and current.since else now
    health = Health(DEGRADED, since=since, error=error, failures=current.failures + 1 if current.state == DEGRADED
                    else 1)
    _write(session, health)
    return health

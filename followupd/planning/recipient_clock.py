"""The recipient's clock: which UTC offset a person writes from, learned from the Date headers of their mail.

``[cadence] recipient_time = true`` makes send hours and send days apply in the recipient's time zone, so a
follow-up to someone six hours behind does not land at their 03:00. Mail carries no zone name, only the UTC
offset in its Date header (RFC 5322 §3.3: ``Tue, 1 Dec 2026 09:12:00 -0500``), and that offset is what the
person's own machine says: the best evidence of their working day a mailbox holds.

Rules (and why):

* Only the person's own, personal mail counts (the engine passes only messages classified as personal, whose
  From is that person): auto-replies and bounces are written by servers, often in UTC.
* The last :data:`REMEMBERED` offsets are kept per person; the most frequent wins, a tie goes to the most
  recent. One message written on a trip does not move a person's clock; a move (or a DST change, after a few
  messages) does.
* The result is a fixed offset (``UTC-05:00``), not a zone name: a name cannot be told from an offset (-05:00
  is New York in winter and Lima all year). A learned offset is refreshed by the person's next messages.
* No offset known (nobody has written from that address yet): the user's own zone, as before.

Pure: plain values in and out; the engine stores what is learned (``followupd_meta``, one row per person,
keyed by a hash of the address so the key fits the column and no address is spelled out in a key).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta, timezone

#: How many recent offsets are remembered per person.
REMEMBERED = 20
#: Real UTC offsets lie within -12:00 .. +14:00; anything else in a Date header is a broken clock.
_MIN_OFFSET, _MAX_OFFSET = -12 * 60, 14 * 60
_KEY_PREFIX = "utc_offset:"


def utc_offset_minutes(moment: datetime | None) -> int | None:
    """The offset a Date header was written with, in minutes east of UTC; None when unusable."""
    if moment is None or moment.utcoffset() is None:
        return None
    offset = moment.utcoffset()
    assert offset is not None
    minutes = int(offset.total_seconds() // 60)
    return minutes if _MIN_OFFSET <= minutes <= _MAX_OFFSET else None


def remember(previous: Sequence[int], new: Iterable[int]) -> list[int]:
    """The last :data:`REMEMBERED` offsets, oldest first, after ``new`` (in the order they were written)."""
    return [*previous, *new][-REMEMBERED:]


def likely_offset(offsets: Sequence[int]) -> int | None:
    """The most frequent offset; among equally frequent ones, the one seen last. None when there is none."""
    if not offsets:
        return None
    counts = Counter(offsets)
    best = max(counts.values())
    return next(offset for offset in reversed(offsets) if counts[offset] == best)


def zone_for(offset_minutes: int) -> timezone:
    """A fixed-offset zone named like ``UTC-05:00`` (what ``preview`` and ``explain`` show)."""
    return timezone(timedelta(minutes=offset_minutes), describe(offset_minutes))


def describe(offset_minutes: int) -> str:
    """``UTC+05:30``, ``UTC-05:00``, ``UTC+00:00``."""
    sign = "-" if offset_minutes < 0 else "+"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def meta_key(email: str) -> str:
    """The ``followupd_meta`` key of one person's offsets (64 characters at most, as the column allows)."""
    return _KEY_PREFIX + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:40]


def encode(offsets: Sequence[int]) -> str:
    return json.dumps(list(offsets))


def decode(text: str | None) -> list[int]:
    """Stored offsets; an empty list for nothing stored or anything unreadable (never an exception)."""
    if not text:
        return []
    try:
        value = json.loads(text)
    except ValueError:
        return []
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, int) and _MIN_OFFSET <= item <= _MAX_OFFSET]

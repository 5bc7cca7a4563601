"""How well following up works: reply rate, replies by touch number and by template, time to a reply.

``followupd stats`` asks it now and the weekly digest will later: both want the same numbers over the same
threads, so they are computed once, here, from plain records (the store builds them, a test writes them by
hand). Pure: no database, no clock; the caller passes the cutoff.

What counts (the README says the same):

- Only follow-up threads (kind ``nudge``). The user's own promises (``commitment``) wait for the user, not for a
  reply, and meeting recaps (``actions``) are answered item by item by several owners: mixed in, they would
  make the reply rate say something about neither.
- A thread counts when its tracked message was sent at or after the cutoff (``sent_at >= since``); still open
  threads count too, so the rate is "answered so far".
- ``replied`` is a thread closed as replied (a colleague answering for the recipient included). A "no, thanks"
  is counted in ``declined``, a thread whose every recipient bounced in ``bounced``; neither is a reply.
- The touches before a reply are the follow-ups the recipients actually got (the thread's touch count, hand
  written nudges included): a reply to the tracked message itself is a reply after 0 touches.
- Per template, ``sent`` counts the follow-ups of that template that went out as followupd wrote them (or as
  the user edited the draft); one the user replaced with their own words counts for no template. ``replied``
  counts those that were the last touch before a reply: the wording the recipient answered.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from followupd.planning.lifecycle import OWN_WORDS_SENT, ThreadKind, ThreadState, TouchState

__all__ = ["OWN_WORDS", "StatsThread", "StatsTouch", "TemplateCount", "ThreadStats", "TouchCount", "compute"]

#: The outcome the lifecycle gives a follow-up the user sent in words of their own instead of our draft
#: (``lifecycle.touch_found_in_sent``, ``ours=False``); tests/test_stats.py holds the two equal.
OWN_WORDS = OWN_WORDS_SENT

_NUDGE, _SENT = ThreadKind.NUDGE, TouchState.SENT
_REPLIED, _DECLINED, _FAILED = ThreadState.REPLIED, ThreadState.DECLINED, ThreadState.FAILED
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class StatsTouch:
    """One follow-up of a thread, as the stats need it (``store.Touch``)."""

    number: int
    template: str
    state: str
    done_at: datetime | None = None
    outcome: str = ""


@dataclass(frozen=True)
class StatsThread:
    """One tracked thread, as the stats need it (``store.Thread``): ``touches`` is the number of follow-ups the
    recipients got, ``last_touch_at`` when the last one went (a hand-written nudge has no follow-up row)."""

    kind: str
    state: str
    sent_at: datetime
    replied_at: datetime | None = None
    touches: int = 0
    last_touch_at: datetime | None = None
    touch_rows: tuple[StatsTouch, ...] = field(default=())


@dataclass(frozen=True)
class TouchCount:
    touch: int
    replied: int


@dataclass(frozen=True)
class TemplateCount:
    template: str
    sent: int
    replied: int


@dataclass(frozen=True)
class ThreadStats:
    """The answer. ``by_touch`` runs from 0 to the most touches any counted thread got, zeros included, so the
    tail where nobody answered any more shows; ``by_template`` is in template key order."""

    tracked: int
    replied: int
    reply_rate: float
    by_touch: tuple[TouchCount, ...]
    by_template: tuple[TemplateCount, ...]
    median_days_to_reply: float | None
    median_touches_to_reply: float | None
    declined: int
    bounced: int

    def as_json(self) -> dict[str, object]:
        """The public JSON keys (issue 15: a contract, fields are added, never renamed)."""
        return {
            "tracked": self.tracked, "replied": self.replied, "reply_rate": self.reply_rate,
            "by_touch": [{"touch": row.touch, "replied": row.replied} for row in self.by_touch],
            "by_template": [{"template": row.template, "sent": row.sent, "replied": row.replied}
                            for row in self.by_template],
            "median_days_to_reply": self.median_days_to_reply,
            "median_touches_to_reply": self.median_touches_to_reply,
            "declined": self.declined, "bounced": self.bounced,
        }


def compute(threads: Iterable[StatsThread], since: datetime) -> ThreadStats:
    """The stats of the follow-up threads sent at or after ``since`` (timezone-aware, like every time here)."""
    if since.tzinfo is None:
        raise ValueError("since must be timezone-aware")
    counted = [t for t in threads if t.kind == _NUDGE and t.sent_at >= since]
    replied = [t for t in counted if t.state == _REPLIED]
    after = Counter(t.touches for t in replied)
    most = max((t.touches for t in counted), default=-1)
    sent: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for thread in counted:
        for touch in thread.touch_rows:
            if _worded(touch):
                sent[touch.template] += 1
    for thread in replied:
        last = _last_before_reply(thread)
        if last is not None:
            answered[last.template] += 1
    days = [(t.replied_at - t.sent_at) / _DAY for t in replied if t.replied_at is not None]
    return ThreadStats(
        tracked=len(counted),
        replied=len(replied),
        reply_rate=round(len(replied) / len(counted), 4) if counted else 0.0,
        by_touch=tuple(TouchCount(n, after[n]) for n in range(most + 1)),
        by_template=tuple(TemplateCount(key, sent[key], answered[key]) for key in sorted(sent)),
        median_days_to_reply=round(statistics.median(days), 2) if days else None,
        median_touches_to_reply=float(statistics.median(t.touches for t in replied)) if replied else None,
        declined=sum(1 for t in counted if t.state == _DECLINED),
        bounced=sum(1 for t in counted if t.state == _FAILED),
    )


def _worded(touch: StatsTouch) -> bool:
    """Whether a follow-up went out in a template's words: sent, with a template, not replaced by the user's."""
    return touch.state == _SENT and bool(touch.template) and touch.outcome != OWN_WORDS


def _last_before_reply(thread: StatsThread) -> StatsTouch | None:
    """The template follow-up the recipient answered, if the last touch before the reply was one.

    None when the reply came before any touch, or when the last touch was a nudge with no template (the user's
    own words, or one written by hand: ``last_touch_at`` is later than every sent follow-up)."""
    if thread.touches == 0 or thread.replied_at is None:
        return None
    sent = [(t.done_at, t.number, t) for t in thread.touch_rows
            if t.state == _SENT and t.done_at is not None and t.done_at <= thread.replied_at]
    if not sent:
        return None
    done_at, _, last = max(sent, key=lambda entry: entry[:2])
    if thread.last_touch_at is not None and done_at < thread.last_touch_at <= thread.replied_at:
        return None  # a later nudge by hand was what they answered
    return last if _worded(last) else None

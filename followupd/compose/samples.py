"""The made-up threads every template is rendered for by ``templates check``, the start-up check and the prose check.

Pure and fixed: the samples carry their own "now", so every check is reproducible and never reads the clock.
Follow-ups and the commitment templates are rendered for :data:`SAMPLE_THREADS`; the action-item templates
for meeting recaps instead, because a check-in means nothing without items: a check-in (first, later, final)
for :data:`CHECKIN_SAMPLES`, one owner and their own open items, and a roll-up for :data:`ROLLUP_SAMPLES`,
everyone on the recap and every item in every state. Between them the items cover one and several items, an
item without a due date, an item due yesterday and one weeks overdue, so a template that only works with a
date, or with one item, fails the check rather than a real draft.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from followupd.compose.render import ActionItem, RenderContext
from followupd.compose.variant import ACTIONS_STAGES, ROLLUP_STAGE
from followupd.mail.headers import Address

#: How many follow-ups the samples assume when the caller does not say (the default cadence has four).
DEFAULT_TOTAL_TOUCHES = 4
SAMPLE_USER = "Alex Example"
SAMPLE_SIGNATURE = "Alex Example"
#: A fixed Wednesday morning: the checks are reproducible and never read the clock.
SAMPLE_NOW = datetime(2026, 3, 11, 10, 0, tzinfo=UTC)
_SAMPLE_TZ = ZoneInfo("UTC")
_NOTE = "The signed contract is attached again, in case the first copy went astray."


@dataclass(frozen=True)
class SampleThread:
    """A made-up thread a template must render for; ``label`` names it in messages."""

    label: str
    recipients: tuple[Address, ...]
    cc: tuple[Address, ...]
    subject: str
    sent_days_ago: int
    promised_days_after_sending: int | None
    note: str | None


_ANA = Address("ana@example.com", "Ana Lima")
_BOB = Address("bob@example.org", "Bob Stone")
_CY = Address("cy@example.net", "Lima, Cyrus")
_DEE = Address("dee@example.com", "")

#: Between them: one and several recipients, with and without names, with and without a subject, a promised
#: date and a note, sent yesterday, weeks ago and last year.
SAMPLE_THREADS: tuple[SampleThread, ...] = (
    SampleThread("one recipient with a name", (_ANA,), (), "Q3 budget", 6, None, None),
    SampleThread("one recipient without a name, no subject, a promised date and a note", (_DEE,), (), "", 1,
                 1, _NOTE),
    SampleThread("two recipients with names, a Cc, a promised date and a note", (_ANA, _BOB), (_CY,),
                 "Re: AW: Offer for the Q4 workshop", 20, 7, _NOTE),
    SampleThread("a named and an unnamed recipient, sent last year", (_BOB, _DEE), (), "Garden shed", 400, None,
                 None),
    SampleThread("five recipients with names and a promised date", (_ANA, _BOB, _CY,
                 Address("eve@example.com", "Eve Park"), Address("fay@example.com", "Fay Wu")), (),
                 "Team offsite", 9, 3, None),
)


@dataclass(frozen=True)
class SampleItem:
    """An action item of a sample recap; ``due_in_days`` counts from the sample's "now" (negative: past)."""

    task: str
    due_in_days: int | None
    owner: Address
    state: str = "open"


@dataclass(frozen=True)
class SampleRecap:
    """A made-up meeting recap: who got it, when, and the items that a check-in or a roll-up lists.

    ``owner`` is the person a check-in goes to (None for a roll-up, which goes to all ``recipients``)."""

    label: str
    recipients: tuple[Address, ...]
    owner: Address | None
    subject: str
    sent_days_ago: int
    items: tuple[SampleItem, ...]


_PRICING = "send the revised pricing"
_FORECAST = "update the forecast"
_VENUE = "book the venue"
_CONTRACT = "draft the contract"
_SLIDES = "share the slides"

#: One owner each, and only their own open items, as a check-in is.
CHECKIN_SAMPLES: tuple[SampleRecap, ...] = (
    SampleRecap("one item due yesterday", (_BOB,), _BOB, "Kick-off: next steps", 8,
                (SampleItem(_PRICING, -1, _BOB),)),
    SampleRecap("several items: one overdue, one without a due date, one not yet due", (_ANA,), _ANA,
                "Re: Weekly sync", 12, (SampleItem(_FORECAST, -9, _ANA), SampleItem(_VENUE, None, _ANA),
                                        SampleItem(_SLIDES, 3, _ANA))),
    SampleRecap("one item without a due date, an owner without a name, no subject", (_DEE,), _DEE, "", 7,
                (SampleItem(_CONTRACT, None, _DEE),)),
    SampleRecap("an item weeks overdue, from a recap sent last year", (_CY,), _CY, "Board meeting", 80,
                (SampleItem(_SLIDES, -40, _CY),)),
)
#: Everyone on the recap and every item, in every state.
ROLLUP_SAMPLES: tuple[SampleRecap, ...] = (
    SampleRecap("four people, items done, overdue, declined and holding", (_ANA, _BOB, _CY, _DEE), None,
                "Kick-off: next steps", 14,
                (SampleItem(_PRICING, -5, _BOB, "done"), SampleItem(_FORECAST, -2, _ANA),
                 SampleItem(_VENUE, None, _CY, "declined"), SampleItem(_CONTRACT, 4, _DEE, "holding"))),
    SampleRecap("two people, one open item without a due date, no subject", (_ANA, _DEE), None, "", 9,
                (SampleItem(_SLIDES, None, _DEE),)),
    SampleRecap("one person, one item dropped and one open, recap sent last year", (_BOB,), None,
                "Garden shed", 90, (SampleItem(_PRICING, -60, _BOB, "dropped"), SampleItem(_VENUE, -1, _BOB))),
)


def sample_contexts(*, total_touches: int = DEFAULT_TOTAL_TOUCHES, user_name: str = SAMPLE_USER,
                    signature: str = SAMPLE_SIGNATURE) -> Iterator[tuple[str, RenderContext]]:
    """Every sample thread at every touch of every cadence length up to ``total_touches``, with a label."""
    for sample in SAMPLE_THREADS:
        sent_at = SAMPLE_NOW - timedelta(days=sample.sent_days_ago, hours=1)
        promised: date | None = None
        if sample.promised_days_after_sending is not None:
            promised = sent_at.date() + timedelta(days=sample.promised_days_after_sending)
        for total, touch in _touches(total_touches):
            yield (f"{sample.label}, touch {touch} of {total}", RenderContext(
                recipients=sample.recipients, cc=sample.cc, original_subject=sample.subject, sent_at=sent_at,
                now=SAMPLE_NOW, tz=_SAMPLE_TZ, touch_number=touch, total_touches=total, promised=promised,
                user_name=user_name, signature=signature, note=sample.note,
            ))


def recap_contexts(samples: tuple[SampleRecap, ...], *, total_touches: int = DEFAULT_TOTAL_TOUCHES,
                   user_name: str = SAMPLE_USER, signature: str = SAMPLE_SIGNATURE
                   ) -> Iterator[tuple[str, RenderContext]]:
    """Every sample recap at every touch of every cadence length up to ``total_touches``, with a label."""
    today = SAMPLE_NOW.date()
    for sample in samples:
        sent_at = SAMPLE_NOW - timedelta(days=sample.sent_days_ago, hours=1)
        items = tuple(ActionItem(task=item.task, owner=item.owner, state=item.state,
                                 due=today + timedelta(days=item.due_in_days) if item.due_in_days is not None
                                 else None) for item in sample.items)
        for total, touch in _touches(total_touches):
            yield (f"{sample.label}, check-in {touch} of {total}", RenderContext(
                recipients=sample.recipients, cc=(), original_subject=sample.subject, sent_at=sent_at,
                now=SAMPLE_NOW, tz=_SAMPLE_TZ, touch_number=touch, total_touches=total, promised=None,
                user_name=user_name, signature=signature, note=None, items=items, owner=sample.owner,
            ))


def contexts_for_stage(stage: str, *, total_touches: int = DEFAULT_TOTAL_TOUCHES, user_name: str = SAMPLE_USER,
                       signature: str = SAMPLE_SIGNATURE) -> list[tuple[str, RenderContext]]:
    """The samples a template of ``stage`` is rendered for: recaps for the action-item sets, threads otherwise."""
    if stage == ROLLUP_STAGE:
        return list(recap_contexts(ROLLUP_SAMPLES, total_touches=total_touches, user_name=user_name,
                                   signature=signature))
    if stage in ACTIONS_STAGES:
        return list(recap_contexts(CHECKIN_SAMPLES, total_touches=total_touches, user_name=user_name,
                                   signature=signature))
    return list(sample_contexts(total_touches=total_touches, user_name=user_name, signature=signature))


def _touches(total_touches: int) -> Iterator[tuple[int, int]]:
    for total in range(1, max(total_touches, 1) + 1):
        for touch in range(1, total + 1):
            yield total, touch

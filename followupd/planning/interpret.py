"""Reading a matched message's body to decide what it means for the thread. Pure: bytes and settings in.

Headers say *what kind* of message it is; only the text says *when* an out-of-office person is back, whether
a short human reply only promises an answer later ("I'll get back to you next week") or says no, and which
recipients a bounce is about. The engine fetches the body (BODY.PEEK, never \\Seen) only for messages that
already matched a thread, so this costs nothing for the rest of the mailbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from followupd.mail.asks import AskSettings
from followupd.mail.bodytext import message_text
from followupd.mail.dsn import DeliveryReport, classify_notice, parse_dsn
from followupd.mail.headers import MessageMeta
from followupd.mail.intent import Intent, PhraseSet, reply_intent
from followupd.mail.ooo import find_return
from followupd.planning.cadence import CadenceSettings, Gap, add_business_days, add_gap, fit_to_window


@dataclass(frozen=True)
class ReplySettings:
    """How replies and automatic answers move a thread: out-of-office postponement, holding replies, declines.

    The ``[replies]`` section fills it (followupd.config builds it); it lives here, with the code that reads it,
    so the core takes plain settings and never the config module. ``phrases`` are per-language additions and
    removals over the built-in lists in followupd.mail.intent; ``asks`` the same for the phrases that make a
    message expect an answer (followupd.mail.asks), from the same ``[replies.<lang>]`` tables."""

    ooo_grace: Gap = field(default_factory=lambda: Gap(1, "bd"))
    ooo_default_postpone: timedelta = timedelta(weeks=1)
    ooo_horizon_days: int = 90
    holding_default: timedelta = timedelta(weeks=1)
    match_domain: bool = False
    phrases: Mapping[str, PhraseSet] = field(default_factory=dict)
    asks: AskSettings = field(default_factory=AskSettings)


@dataclass(frozen=True)
class Postponement:
    until: datetime   # the next touch is not due before this
    evidence: str     # the words that decided it, for `followupd explain`


def _start_of(day: date, settings: CadenceSettings, tz: ZoneInfo) -> datetime:
    """The first moment followupd may draft on ``day`` (or the next allowed day)."""
    return fit_to_window(datetime.combine(day, time(0, 0), tzinfo=tz), settings, tz)


def out_of_office(raw: bytes | None, subject: str, *, received: datetime, replies: ReplySettings,
                  cadence: CadenceSettings, tz: ZoneInfo) -> Postponement:
    """Postpone past the return date the notice gives (first business day after it, plus the grace), or by the
    configured default when it names none."""
    text = subject + "\n" + (message_text(raw) if raw else "")
    found = find_return(text, received=received, tz=tz, horizon_days=replies.ooo_horizon_days)
    if found is None:
        until = fit_to_window(received + replies.ooo_default_postpone, cadence, tz)
        days = replies.ooo_default_postpone.days
        return Postponement(until, f"out of office, no return date found: postponed by {days} days")
    first_back = add_business_days(found.last_absent + timedelta(days=1), 0, cadence.holidays)
    start = _start_of(first_back, cadence, tz)
    until = fit_to_window(add_gap(start, replies.ooo_grace, holidays=cadence.holidays, tz=tz), cadence, tz)
    return Postponement(until, f"out of office until {found.last_absent:%a %d %b %Y} ({found.evidence}); "
                               f"next check-in after {until.astimezone(tz):%a %d %b}")


def human_reply(raw: bytes | None, *, received: datetime, replies: ReplySettings, tz: ZoneInfo) -> Intent:
    """reply / holding / declined; without a body (fetch failed) it is a reply: never chase someone who answered."""
    if not raw:
        return Intent(kind="reply", evidence="")
    return reply_intent(message_text(raw), phrases=replies.phrases, received=received, tz=tz)


def holding_until(intent: Intent, *, received: datetime, replies: ReplySettings, cadence: CadenceSettings,
                  tz: ZoneInfo) -> Postponement:
    """The clock restarts at the day they named (the next business day after it), else after the default."""
    if intent.promised is not None:
        day = add_business_days(intent.promised + timedelta(days=1), 0, cadence.holidays)
        until = _start_of(day, cadence, tz)
        return Postponement(until, f"they will answer by {intent.promised:%a %d %b} ({intent.evidence})")
    until = fit_to_window(received + replies.holding_default, cadence, tz)
    return Postponement(until, f"they will answer later ({intent.evidence}); checking in after "
                               f"{replies.holding_default.days} days")


def bounce_report(raw: bytes | None) -> DeliveryReport | None:
    return parse_dsn(raw) if raw else None


def delivery_notice(raw: bytes | None, meta: MessageMeta) -> str | None:
    """Evidence that a message the headers took for a person's is a delivery notice by its text, else None."""
    return classify_notice(raw, meta) if raw else None

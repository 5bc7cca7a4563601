"""Replies you owe (issue 14 point 3): which received message may be one, since when it waits, what answers it.

Pure, like the rest of ``planning/``: the engine passes parsed headers, the user's addresses and the clock's
"now"; nothing here reads mail bodies (``mail.asks.read_ask`` decides whether a message asks something) or the
database. The order of the checks is the order of their cost: headers decide first, so a body is read only for
mail a person wrote to the user directly, once.

Why the first look is bounded: turning ``[owed]`` on, or a first sync, reads every folder from UID 1. Years of
INBOX must never flood the list with questions the user settled long ago by phone, so only mail received within
:data:`FIRST_LOOK` of now is considered at all. The bound is a fixed 30 days rather than ``after`` times ten: a
short ``after`` ("1d") would make ten days, too short to catch a question left over the holidays, and a long one
("2w") would reach back twenty weeks, mostly mail already dealt with. A message older than that is never listed,
whenever it is read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol, TypeVar

from followupd.mail.headers import MessageKind, MessageMeta
from followupd.mail.patterns import lazy_pattern
from followupd.planning.cadence import Gap, add_gap
from followupd.planning.matching import is_own_address

__all__ = ["CLOCK_SKEW", "FIRST_LOOK", "Answer", "Answers", "OwedClosing", "answer_for", "answer_recipients",
           "answered_refs", "closings", "due_at", "due_first", "header_verdict", "is_due", "remember_answer",
           "thread_refs", "waiting_days", "within_first_look"]

#: Only mail received this recently is considered (see the module docstring for why 30 days).
FIRST_LOOK = timedelta(days=30)

#: Local parts that only machines use ("noreply@", "do-not-reply@", "notifications@"): no person waits there.
_MACHINE_LOCAL = lazy_pattern(
    r"(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|notifications?|mailer[-_.]?daemon|postmaster|bounces?)"
    r"(?:[-_.+].*)?$",
)


def header_verdict(meta: MessageMeta, *, own_addresses: frozenset[str], tracking_address: str) -> str:
    """Why a received message cannot be a reply the user owes, from its headers alone; "" when it may be one.

    The texts are what a user reads in a debug log. ``read_ask`` applies the same header rules again (it is the
    authority); this filter exists so that no body is fetched for mail that could never be listed."""
    if meta.kind is not MessageKind.PERSONAL:
        return f"{meta.kind.value.replace('_', ' ')} ({meta.kind_evidence or 'headers'})"
    if meta.followupd_id is not None:
        return "followupd's own message"
    sender = meta.from_
    if sender is None or not sender.email:
        return "no sender"
    if is_own_address(sender.email, own_addresses):
        return "from you"
    local = sender.email.lower().rpartition("@")[0]
    if _MACHINE_LOCAL.match(local):
        return "no-reply address"
    tracking = tracking_address.strip().lower()
    direct = [a.email for a in (*meta.to, *meta.cc)
              if a.email.strip().lower() != tracking and is_own_address(a.email, own_addresses)]
    if not direct:
        return "not addressed to you directly"
    return ""


def thread_refs(meta: MessageMeta) -> tuple[str, ...]:
    """The ids a reply from the user may name to answer this message: its own id first, then the ones it
    refers to (a reply to an earlier message of the same conversation answers it as well)."""
    seen: dict[str, None] = {}
    for mid in (meta.message_id, *meta.referenced_ids):
        if mid:
            seen.setdefault(mid, None)
    return tuple(seen)


def answered_refs(meta: MessageMeta, *, own_addresses: frozenset[str], is_draft_folder: bool = False) -> tuple[
        str, ...]:
    """The ids a message from the user answers (its In-Reply-To and References); () for anyone else's mail,
    for a message without threading headers, and for a draft (written, not sent: no answer yet)."""
    if is_draft_folder or meta.followupd_id is not None:
        return ()
    sender = meta.from_
    if sender is None or not is_own_address(sender.email, own_addresses):
        return ()
    return tuple(mid for mid in (*meta.in_reply_to, *meta.references) if mid)


@dataclass(frozen=True)
class Answer:
    """One of the user's messages that names ids in its threading headers: its Message-ID, when it was written
    (None: unknown, taken as recent) and whom it was written to (its To and Cc, lower-cased).

    Why the recipients: Gmail and Apple Mail set In-Reply-To and References on a forward too, so forwarding Bob's
    question to a colleague names it exactly as a reply does; only a message addressed to the question's sender
    answers it (the matcher refuses forwards as follow-ups for the same reason)."""

    message_id: str
    at: datetime | None
    to: frozenset[str] = frozenset()

    def addressed_to(self, address: str) -> bool:
        """Whether ``address`` is among this message's To/Cc (case-insensitively)."""
        return address.strip().lower() in self.to


def answer_recipients(meta: MessageMeta) -> frozenset[str]:
    """The To and Cc addresses of one of the user's messages, lower-cased: whom it answers (see :class:`Answer`)."""
    return frozenset(a.email.strip().lower() for a in (*meta.to, *meta.cc) if a.email)


#: A Message-ID the user's messages name -> those messages (a reply and a forward may name the same id).
Answers = dict[str, list[Answer]]


def remember_answer(answers: Answers, refs: Iterable[str], answer: Answer) -> None:
    """Note ``answer`` under each id it names (each message once per id: the same one read in two folders)."""
    for ref in refs:
        known = answers.setdefault(ref, [])
        if all(other.message_id != answer.message_id for other in known):
            known.append(answer)


def _later(first: datetime | None, second: datetime | None) -> bool:
    if first is None:
        return second is not None
    return second is not None and first > second


#: How far a sender's clock may run ahead of the user's: an answer dated up to this much before the question it
#: names still answers it (someone's computer a few minutes fast must not keep a question open for ever).
CLOCK_SKEW = timedelta(minutes=15)


def answer_for(refs: Collection[str], received_at: datetime, answers: Answers, *, sender: str) -> Answer | None:
    """The user's answer to a message from ``sender`` received at ``received_at`` whose thread refs are ``refs``.

    Only a message addressed to ``sender`` answers (a forward to a colleague does not, see :class:`Answer`), and
    only one written after the question: in a conversation the user's earlier messages name the same References
    (``<b0>`` of Bob's first mail, say) as the question that came after them, and on a first sync every old
    message is read at once. An answer the question itself refers to came before it, whatever the clocks say;
    otherwise the dates decide, allowing :data:`CLOCK_SKEW`. Of several answers to one id, the latest."""
    for ref in refs:
        best: Answer | None = None
        for answer in answers.get(ref, ()):
            if answer.message_id in refs or not answer.addressed_to(sender):
                continue
            if answer.at is not None and answer.at < received_at - CLOCK_SKEW:
                continue
            if best is None or _later(answer.at, best.at):
                best = answer
        if best is not None:
            return best
    return None


@dataclass(frozen=True)
class OwedClosing:
    """An owed message that an answer of the user's closes: which row, and the answering Message-ID."""

    owed_id: str
    closed_by: str


def closings(open_rows: Iterable[tuple[str, Collection[str], datetime, str]], answers: Answers) -> list[OwedClosing]:
    """For each open row (its id, its thread refs, when it came, its sender), the user's answer to it, if any."""
    found = []
    for owed_id, refs, received_at, sender in open_rows:
        answer = answer_for(refs, received_at, answers, sender=sender)
        if answer is not None:
            found.append(OwedClosing(owed_id, answer.message_id))
    return found


def within_first_look(received_at: datetime, now: datetime) -> bool:
    """Whether a message is recent enough to be considered at all (:data:`FIRST_LOOK`); a date in the future
    (a sender's wrong clock) counts as now."""
    return now - received_at <= FIRST_LOOK


def due_at(received_at: datetime, after: Gap, *, holidays: frozenset[date], tz: tzinfo) -> datetime:
    """When a message unanswered since ``received_at`` starts to be listed: ``after`` later, business days
    counted on the [cadence] calendar (weekends and its holidays skipped) in the user's time zone."""
    return add_gap(received_at, after, holidays=holidays, tz=tz)


def is_due(received_at: datetime, after: Gap, now: datetime, *, holidays: frozenset[date], tz: tzinfo) -> bool:
    """Whether the reply has been owed for ``after`` by ``now`` (see :func:`due_at`)."""
    return due_at(received_at, after, holidays=holidays, tz=tz) <= now


class Received(Protocol):
    """Anything that came at a time: the store's owed rows, a dataclass in a test."""

    @property
    def received_at(self) -> datetime: ...


R = TypeVar("R", bound=Received)


def due_first(rows: Iterable[R], *, after: Gap, now: datetime, holidays: frozenset[date], tz: tzinfo) -> list[R]:
    """The rows owed for ``after`` by ``now``, the oldest first: what ``followupd owed`` and the digest list."""
    return sorted((row for row in rows if is_due(row.received_at, after, now, holidays=holidays, tz=tz)),
                  key=lambda row: row.received_at)


def waiting_days(received_at: datetime, now: datetime) -> int:
    """Whole days since the message came (never negative: a sender's clock may run ahead)."""
    return max((now - received_at).days, 0)

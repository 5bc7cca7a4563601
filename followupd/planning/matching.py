"""MessageMeta x open threads -> events: reply, auto-reply, bounce, read receipt, or the user's own touch.

Pure: plain data in, events out. It runs on every fetched message (100k messages against 10k open threads on a
first scan), so every lookup is a dict lookup: by message id first, then by (sender, base subject) for the
fallback, never a scan of all threads. The kind of mail was decided by headers.py before we get here, because
bounces and out-of-office replies carry In-Reply-To as often as real replies do.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TypeVar

from followupd.mail.headers import MessageKind, MessageMeta, base_subject

_K = TypeVar("_K")


class EventKind(enum.Enum):
    """What a message means for a thread it was matched to."""

    REPLY = "reply"              # someone answered: the thread closes
    AUTO_REPLY = "auto_reply"    # out-of-office / autoresponder: postpone, never close
    BOUNCE = "bounce"            # delivery failed
    RECEIPT = "receipt"          # read receipt: seen, but no answer
    OWN_TOUCH = "own_touch"      # the user followed up (by hand, or sent our draft)


@dataclass(frozen=True)
class ThreadKey:
    """What matching needs to know about one open thread.

    ``sent_at`` and ``participants`` are normalised on creation (naive -> UTC, lower-case) because they come
    from a database that may not keep time zones, and a naive datetime would make every comparison raise.
    """

    thread_id: str
    message_ids: frozenset[str]   # the tracked message + every follow-up and reply id already known
    participants: frozenset[str]  # recipients' emails, lower-case; never the user, never the tracking address
    base_subject: str             # base_subject() of the tracked message
    sent_at: datetime             # aware

    def __post_init__(self) -> None:
        object.__setattr__(self, "sent_at", _aware(self.sent_at))
        object.__setattr__(self, "participants", frozenset(p.strip().lower() for p in self.participants))


@dataclass(frozen=True)
class MatchEvent:
    """One thing that happened to one thread, with the evidence a user can check."""

    kind: EventKind
    thread_id: str
    probable: bool  # True when matched by the subject/participant fallback, not by ids
    evidence: str   # e.g. 'In-Reply-To <abc@x>' or 'same subject "..." from bob@x.com, no threading headers'


class ThreadIndex:
    """Open threads, indexed by every message id they own and by (participant, base subject).

    An id can belong to more than one thread (two tracked messages in one conversation), so each key maps to
    an insertion-ordered set of thread ids rather than to one.
    """

    def __init__(self, threads: Iterable[ThreadKey] = ()) -> None:
        self._threads: dict[str, ThreadKey] = {}
        self._by_id: dict[str, dict[str, None]] = {}
        self._by_sender_subject: dict[tuple[str, str], dict[str, None]] = {}
        self._by_subject: dict[str, dict[str, None]] = {}
        for thread in threads:
            self.add(thread)

    def add(self, thread: ThreadKey) -> None:
        """Add a thread, or replace the one with its thread_id (its ids and participants may have grown)."""
        self.remove(thread.thread_id)
        self._threads[thread.thread_id] = thread
        for message_id in thread.message_ids:
            self._by_id.setdefault(message_id, {})[thread.thread_id] = None
        for key in _subject_keys(thread):
            self._by_sender_subject.setdefault(key, {})[thread.thread_id] = None
        if thread.base_subject:
            self._by_subject.setdefault(thread.base_subject, {})[thread.thread_id] = None

    def remove(self, thread_id: str) -> None:
        """Forget a thread (closed, stopped); unknown ids are ignored so callers need not check first."""
        thread = self._threads.pop(thread_id, None)
        if thread is None:
            return
        for message_id in thread.message_ids:
            _discard(self._by_id, message_id, thread_id)
        for key in _subject_keys(thread):
            _discard(self._by_sender_subject, key, thread_id)
        if thread.base_subject:
            _discard(self._by_subject, thread.base_subject, thread_id)

    def thread_for_message_id(self, message_id: str) -> str | None:
        """The (first added) thread owning this id, or None."""
        owners = self._by_id.get(message_id)
        return next(iter(owners)) if owners else None

    def threads_for_message_id(self, message_id: str) -> tuple[str, ...]:
        """Every thread owning this id, oldest registration first."""
        return tuple(self._by_id.get(message_id, ()))

    def get(self, thread_id: str) -> ThreadKey | None:
        return self._threads.get(thread_id)

    def candidates(self, sender: str, subject: str) -> tuple[ThreadKey, ...]:
        """Threads where ``sender`` is a participant and the base subject is ``subject`` (both normalised)."""
        owners = self._by_sender_subject.get((sender.strip().lower(), subject), {})
        return tuple(self._threads[thread_id] for thread_id in owners)

    def with_subject(self, subject: str) -> tuple[ThreadKey, ...]:
        """Threads whose base subject is ``subject`` (for the same-domain fallback), newest first."""
        found = [self._threads[thread_id] for thread_id in self._by_subject.get(subject, {})] if subject else []
        return tuple(sorted(found, key=lambda key: key.sent_at, reverse=True))

    def threads(self) -> tuple[ThreadKey, ...]:
        """Every open thread (for the rare report that names no message: see bouncetie.py)."""
        return tuple(self._threads.values())

    def __len__(self) -> int:
        return len(self._threads)

    def __contains__(self, thread_id: object) -> bool:
        return thread_id in self._threads


def is_own_address(email: str, own_addresses: frozenset[str]) -> bool:
    """Whether ``email`` is one of the user's: case-insensitive, and a "+tag" never makes a new person.

    ``me+followup@example.com`` and ``me+x@example.com`` are both ``me@example.com``: subaddressing
    (RFC 5233) delivers them to the same mailbox.
    """
    candidate = _untagged(email)
    return bool(candidate) and candidate in _untagged_set(own_addresses)


def match_message(meta: MessageMeta, index: ThreadIndex, *, own_addresses: frozenset[str],
                  arrived_at: datetime | None = None) -> list[MatchEvent]:
    """Events this message causes in the open threads, in the order its threading headers name them.

    ``arrived_at`` (the server's INTERNALDATE; naive is read as UTC) stands in for a missing Date when the
    subject fallback checks that a reply is newer than the tracked message.
    """
    if meta.message_id is not None and index.thread_for_message_id(meta.message_id) is not None:
        return []  # a copy of something the thread already knows: the tracked message, a draft, a reply
    if meta.kind in (MessageKind.LIST, MessageKind.AUTOMATED):
        return []  # list mail and notifications are never anybody's answer
    referenced = _referenced_threads(meta, index)
    sender = meta.from_.email if meta.from_ else ""
    if sender and is_own_address(sender, own_addresses):
        return _own_touches(meta, index, referenced)
    kind = _EVENT_FOR_KIND[meta.kind]
    if referenced:
        return [MatchEvent(kind, thread_id, False, _with_marker(evidence, meta))
                for thread_id, evidence in referenced.items()]
    if kind in (EventKind.REPLY, EventKind.AUTO_REPLY):
        return _fallback(meta, index, kind, sender, arrived_at)
    return []  # bounces and receipts without ids cannot be tied to a thread by guesswork


_EVENT_FOR_KIND = {
    MessageKind.PERSONAL: EventKind.REPLY,
    MessageKind.AUTO_REPLY: EventKind.AUTO_REPLY,
    MessageKind.BOUNCE: EventKind.BOUNCE,
    MessageKind.RECEIPT: EventKind.RECEIPT,
}


def _referenced_threads(meta: MessageMeta, index: ThreadIndex) -> dict[str, str]:
    """thread_id -> evidence naming the header and id that tied the message to it, first mention wins."""
    found: dict[str, str] = {}
    for message_id in meta.referenced_ids:
        for thread_id in index.threads_for_message_id(message_id):
            found.setdefault(thread_id, f"{_header_naming(meta, message_id)} {message_id}")
    return found


def _header_naming(meta: MessageMeta, message_id: str) -> str:
    if message_id in meta.in_reply_to:
        return "In-Reply-To"
    if message_id in meta.references:
        return "References"
    return "X-MS-Exchange-Parent-Message-Id"


def _own_touches(meta: MessageMeta, index: ThreadIndex, referenced: dict[str, str]) -> list[MatchEvent]:
    """The user's own mail in a thread is a touch, never a reply; their autoresponder's mail is nothing.

    Only mail to someone in the thread counts: forwarding the conversation to a colleague is not a
    follow-up, and counting it would push the next real one further out.
    """
    if meta.kind is not MessageKind.PERSONAL:
        return []
    recipients = {address.email for address in meta.all_recipients()}
    events: list[MatchEvent] = []
    for thread_id, evidence in referenced.items():
        thread = index.get(thread_id)
        if thread is not None and recipients and thread.participants and not recipients & thread.participants:
            continue
        events.append(MatchEvent(EventKind.OWN_TOUCH, thread_id, False, f"{evidence}, sent by you"))
    return events


def _fallback(meta: MessageMeta, index: ThreadIndex, kind: EventKind, sender: str,
              arrived_at: datetime | None) -> list[MatchEvent]:
    """A participant wrote back on the same subject without usable threading headers (some webmail, some
    phones, "reply" from a different device): a probable reply to the newest such thread sent before it.

    Only one thread is chosen: one message answers one message, and closing every thread with that subject
    would silently drop follow-ups the user still wants.
    """
    subject = base_subject(meta.subject)
    written = meta.date or arrived_at
    if not sender or not subject or written is None:
        return []
    when = _aware(written)
    earlier = [thread for thread in index.candidates(sender, subject) if when > thread.sent_at]
    if not earlier:
        return []
    chosen = max(earlier, key=lambda thread: (thread.sent_at, thread.thread_id))
    why = "threading headers name none of its messages" if meta.referenced_ids else "no threading headers"
    evidence = f'same subject "{_short(subject)}" from {sender}, {why}'
    if len(earlier) > 1:
        evidence += f"; newest of {len(earlier)} tracked threads with that subject"
    return [MatchEvent(kind, chosen.thread_id, True, _with_marker(evidence, meta))]


def _with_marker(evidence: str, meta: MessageMeta) -> str:
    """Add the header that made the message automatic, so "not a reply" explains itself."""
    if meta.kind is MessageKind.PERSONAL or not meta.kind_evidence:
        return evidence
    return f"{evidence}; {meta.kind_evidence}"


def _subject_keys(thread: ThreadKey) -> list[tuple[str, str]]:
    """Fallback keys; an empty base subject ("Re:") would tie unrelated mail together, so it gets none."""
    if not thread.base_subject:
        return []
    return [(participant, thread.base_subject) for participant in thread.participants]


def _discard(mapping: dict[_K, dict[str, None]], key: _K, thread_id: str) -> None:
    owners = mapping.get(key)
    if owners is None:
        return
    owners.pop(thread_id, None)
    if not owners:
        del mapping[key]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _untagged(email: str) -> str:
    address = email.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    base = local.split("+", 1)[0]
    return f"{base or local}@{domain}"


@lru_cache(maxsize=16)
def _untagged_set(addresses: frozenset[str]) -> frozenset[str]:
    """Cached: the same small set is asked about for every message of a cycle."""
    return frozenset(_untagged(address) for address in addresses) - {""}


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

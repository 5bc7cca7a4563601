"""The ORM models: threads, touches, reminders, the message-id index, folder cursors, requests, the event log,
suggestions (sent mail that seems to await a reply) and the replies the user owes.

They must always equal what the Alembic revisions in ``migrations/`` build; ``tests/test_migrations.py`` checks
it. States are written only by followupd.planning.lifecycle (``tests/test_state_owner.py``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from followupd.adapters.store.rows import participants
from followupd.planning.lifecycle import ReminderState, ThreadKind, ThreadState, TouchState
from followupd.planning.lifecycle.awaiting import OwedState, SuggestionState
from followupd.planning.lifecycle.items import ItemState

# The states live in followupd.planning.lifecycle, their one owner; these names stay for the store's users. The
# values (the strings in the database) are the enum members' own: "waiting", "replied", ...
WAITING = ThreadState.WAITING
REPLIED = ThreadState.REPLIED
UNANSWERED = ThreadState.UNANSWERED
STOPPED = ThreadState.STOPPED
FAILED = ThreadState.FAILED
DECLINED = ThreadState.DECLINED
THREAD_STATES = tuple(ThreadState)

TOUCH_PLANNED = TouchState.PLANNED
TOUCH_QUEUED = TouchState.QUEUED
TOUCH_SENT = TouchState.SENT
TOUCH_SKIPPED = TouchState.SKIPPED
TOUCH_WITHDRAWN = TouchState.WITHDRAWN
TOUCH_SENDING = TouchState.SENDING
TOUCH_FAILED = TouchState.FAILED
TOUCH_STATES = tuple(TouchState)

NUDGE = ThreadKind.NUDGE
COMMITMENT = ThreadKind.COMMITMENT
ACTIONS = ThreadKind.ACTIONS
THREAD_KINDS = tuple(ThreadKind)

REMINDER_PLANNED = ReminderState.PLANNED
REMINDER_DELIVERED = ReminderState.DELIVERED
REMINDER_WITHDRAWN = ReminderState.WITHDRAWN

ITEM_STATES = tuple(ItemState)
SUGGESTION_STATES = tuple(SuggestionState)
OWED_STATES = tuple(OwedState)

# How a thread started (Thread.source): the user BCC'd the tracking address, followupd tracked it on its own
# ([tracking] auto = "track"), or the user ran `followupd track` on a suggestion.
SOURCE_BCC = "bcc"
SOURCE_AUTO = "auto"
SOURCE_MANUAL = "manual"
THREAD_SOURCES = (SOURCE_BCC, SOURCE_AUTO, SOURCE_MANUAL)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as naive UTC (SQLite keeps no offset) and hands them back aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; followupd keeps every time zone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    __tablename__ = "followupd_meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Thread(Base):
    """One tracked sent message and everything known about the conversation it started."""

    __tablename__ = "threads"
    __table_args__ = (Index("ix_threads_state_next_due", "state", "next_due"),)  # revision 0002

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    from_email: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(Text, default="")
    to: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    cc: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    bcc: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(16), default=WAITING)
    kind: Mapped[str] = mapped_column(String(16), default=NUDGE, server_default=NUDGE)
    state_reason: Mapped[str] = mapped_column(Text, default="")
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    tracking_address: Mapped[str] = mapped_column(String(320), default="")
    tracking_suffix: Mapped[str | None] = mapped_column(String(64), nullable=True)
    promised: Mapped[date | None] = mapped_column(Date, nullable=True)
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    touches: Mapped[int] = mapped_column(Integer, default=0)  # follow-ups the recipients actually got
    # Cadence position: touches sent + skipped; for a commitment thread, reminders made.
    steps: Mapped[int] = mapped_column(Integer, default=0)
    last_touch_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    next_due: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    note: Mapped[str] = mapped_column(Text, default="")
    snoozed_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    failed_recipients: Mapped[list[str]] = mapped_column(JSON, default=list)  # permanent bounces
    conversation_keys: Mapped[list[str]] = mapped_column(JSON, default=list)  # Gmail/Exchange thread ids
    expect_all: Mapped[bool] = mapped_column(Boolean, default=False)  # every To recipient must answer
    answered_by: Mapped[list[str]] = mapped_column(JSON, default=list)  # with expect_all: who already did
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    replied_by: Mapped[str] = mapped_column(String(320), default="")
    reply_probable: Mapped[bool] = mapped_column(Boolean, default=False)
    seen_in: Mapped[list[str]] = mapped_column(JSON, default=list)  # "Sent:42" style provenance (revision 0004)
    # revision 0004: "bcc" | "auto" | "manual" (SOURCE_*), and the sentence that asks for auto/manual threads
    source: Mapped[str] = mapped_column(String(16), default=SOURCE_BCC, server_default=SOURCE_BCC)
    evidence: Mapped[str | None] = mapped_column(Text, nullable=True)

    ids: Mapped[list[ThreadMessageId]] = relationship(back_populates="thread", cascade="all, delete-orphan")
    touch_rows: Mapped[list[Touch]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="Touch.number"
    )
    reminder_rows: Mapped[list[Reminder]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="Reminder.number"
    )
    item_rows: Mapped[list[ActionItem]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="ActionItem.number"
    )

    def participants(self) -> list[dict[str, str]]:
        """Everyone who owes the reply: To, Cc and Bcc recipients (already filtered of the user); the same rule as
        ``status``'s plain rows (``rows.participants``)."""
        return participants(self.to, self.cc, self.bcc)


class ThreadMessageId(Base):
    """Every Message-ID known to belong to a thread: the tracked message, follow-ups, replies."""

    __tablename__ = "thread_message_ids"

    message_id: Mapped[str] = mapped_column(String(998), primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    thread: Mapped[Thread] = relationship(back_populates="ids")


class Touch(Base):
    """One follow-up of a thread: planned, drafted, sent, skipped or withdrawn."""

    __tablename__ = "touches"
    __table_args__ = (
        UniqueConstraint("thread_id", "number"),
        # revision 0002: the open threads' follow-ups, a Sent message's touch, the newest touches
        Index("ix_touches_thread_id_state", "thread_id", "state"),
        Index("ix_touches_message_id", "message_id"),
        Index("ix_touches_created", "created"),
    )

    id: Mapped[str] = mapped_column(String(24), primary_key=True)  # the X-Followupd-Id value
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    template: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[str] = mapped_column(String(998), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    to: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    drafted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    drafts_uid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    drafts_uidvalidity: Mapped[int | None] = mapped_column(Integer, nullable=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    missing_since: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    cleanup_pending: Mapped[bool] = mapped_column(Boolean, default=False)  # our draft may still sit in Drafts
    outcome: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")  # why this follow-up, in one line (outbox)
    raw: Mapped[bytes | None] = mapped_column(nullable=True)
    # Sending (only when [sending] mode allows it).
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    send_now: Mapped[bool] = mapped_column(Boolean, default=False)       # approved with --now: ignore the window
    draft_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # review window start
    send_attempts: Mapped[int] = mapped_column(Integer, default=0)
    retry_after: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    sending_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    data_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # SMTP DATA began
    sent_raw: Mapped[bytes | None] = mapped_column(nullable=True)          # exactly the bytes given to SMTP
    sent_by_followupd: Mapped[bool] = mapped_column(Boolean, default=False)
    sent_copy_pending: Mapped[bool] = mapped_column(Boolean, default=False)  # file the Sent copy by APPEND
    thread: Mapped[Thread] = relationship(back_populates="touch_rows")


class Reminder(Base):
    """A note to the user's INBOX about a promise they made (commitment threads), appended exactly once.

    ``id`` is its X-Followupd-Id, ``<thread>.r<nnn>``: IMAP SEARCH HEADER matches substrings, and neither a
    touch id (``<thread>-<nnn>``) nor another reminder id is a substring of it, or it of them."""

    __tablename__ = "reminders"
    __table_args__ = (UniqueConstraint("thread_id", "number"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    template: Mapped[str] = mapped_column(String(255), default="")
    message_id: Mapped[str] = mapped_column(String(998), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    touch_id: Mapped[str | None] = mapped_column(String(24), nullable=True)  # the update draft it points to
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    uid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    outcome: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes | None] = mapped_column(nullable=True)
    thread: Mapped[Thread] = relationship(back_populates="reminder_rows")


class ActionItem(Base):
    """One owner's task from a meeting recap (an ``actions`` thread), followed up with that owner by its date.

    ``id`` is ``<thread>.a<nnn>``; ``owner_email`` is None when the recap's words matched no recipient (the
    problem says so, and nobody is checked in with); ``evidence`` is the line it was read from; ``wait_until``
    holds check-ins while the owner is out of office; ``closed_by``/``outcome`` say who closed it and with what
    words (``probable``: someone else said it was done)."""

    __tablename__ = "action_items"
    __table_args__ = (UniqueConstraint("thread_id", "number"),)

    id: Mapped[str] = mapped_column(String(24), primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    owner_email: Mapped[str | None] = mapped_column(String(320), nullable=True, index=True)
    owner_name: Mapped[str] = mapped_column(Text, default="")
    task: Mapped[str] = mapped_column(Text, default="")
    due: Mapped[date | None] = mapped_column(Date, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    evidence: Mapped[str] = mapped_column(Text, default="")
    problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    wait_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str] = mapped_column(String(320), default="")
    outcome: Mapped[str] = mapped_column(Text, default="")
    probable: Mapped[bool] = mapped_column(Boolean, default=False)
    thread: Mapped[Thread] = relationship(back_populates="item_rows")


class Event(Base):
    """The audit log: everything that changed a thread, with the evidence, so every decision can be explained."""

    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("thread_id", "kind", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(998), default="")
    detail: Mapped[str] = mapped_column(Text, default="")


class Request(Base):
    """Something the user asked from the CLI (approve, skip, stop, snooze, note, edit).

    The CLI never changes threads itself: it queues a request, and whoever holds the account lock (the daemon,
    or the CLI when no daemon runs) applies it inside its cycle. One writer, so no request can race a cycle.
    """

    __tablename__ = "requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    target: Mapped[str] = mapped_column(String(64))
    argument: Mapped[str] = mapped_column(Text, default="")
    flag: Mapped[bool] = mapped_column(Boolean, default=False)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[str] = mapped_column(Text, default="")


class FolderCursor(Base):
    """How far a folder has been read: reset when the server's UIDVALIDITY changes (RFC 3501 §2.3.1.1)."""

    __tablename__ = "folder_cursors"

    folder: Mapped[str] = mapped_column(String(512), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(Integer)
    last_uid: Mapped[int] = mapped_column(Integer, default=0)


class Suggestion(Base):
    """A message the user sent without the BCC that seems to await a reply ([tracking] auto = "suggest").

    ``id`` is derived from the account and Message-ID (a re-read never makes a second row); ``recipients`` are
    "Name <addr>" or bare addresses; ``evidence`` is the sentence that asks; ``thread_id`` is set once tracked.
    States: followupd.planning.lifecycle.awaiting."""

    __tablename__ = "suggestions"
    __table_args__ = (UniqueConstraint("account", "message_id"),
                      Index("ix_suggestions_state_sent_at", "state", "sent_at"))

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(998))
    folder: Mapped[str] = mapped_column(String(512), default="")
    uid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    subject: Mapped[str] = mapped_column(Text, default="")
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    evidence: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    thread_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # {"headers": the header block (latin-1 text of its bytes), "conversation_keys": [...]}: what tracking
    # needs to start the thread later exactly as a BCC would have (followupd.engine.awaiting)
    origin: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class Owed(Base):
    """A message from a person that asks the user something, not answered yet ([owed] enabled).

    ``thread_refs``: its own Message-ID plus its References/In-Reply-To ids; a reply from the user to any of them
    closes it. ``closed_by``: the Message-ID of that reply, or "by hand". States:
    followupd.planning.lifecycle.awaiting."""

    __tablename__ = "owed"
    __table_args__ = (UniqueConstraint("account", "message_id"),
                      Index("ix_owed_state_received_at", "state", "received_at"))

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(998))
    thread_refs: Mapped[list[str]] = mapped_column(JSON, default=list)
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    from_name: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    folder: Mapped[str] = mapped_column(String(512), default="")
    uid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    evidence: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    closed_by: Mapped[str | None] = mapped_column(Text, nullable=True)


def as_utc(moment: datetime | str) -> datetime:
    """An aggregate (``max(created)``) bypasses the column type: SQLite hands back text or a naive datetime."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

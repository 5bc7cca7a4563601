"""The session query helpers the engine and the CLI share: meta values, threads by state, the matching index's
ids, events and folder cursors. Reads and small writes inside a caller's transaction; no commits here."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from followupd.adapters.store.models import (
    TOUCH_QUEUED,
    TOUCH_SENT,
    TOUCH_SKIPPED,
    Event,
    FolderCursor,
    Meta,
    Thread,
    ThreadMessageId,
    Touch,
)


def get_meta(session: Session, key: str) -> str | None:
    row = session.get(Meta, key)
    return row.value if row is not None else None


def set_meta(session: Session, key: str, value: str) -> None:
    row = session.get(Meta, key)
    if row is None:
        session.add(Meta(key=key, value=value))
    else:
        row.value = value


def all_threads(session: Session) -> list[Thread]:
    return list(session.scalars(select(Thread).order_by(Thread.sent_at)))


def all_touches(session: Session) -> list[Touch]:
    return list(session.scalars(select(Touch).order_by(Touch.created, Touch.id)))


def threads_in_states(session: Session, states: tuple[str, ...]) -> list[Thread]:
    return list(session.scalars(select(Thread).where(Thread.state.in_(states))))


def message_ids_by_thread(session: Session, states: tuple[str, ...]) -> dict[str, list[str]]:
    rows = session.execute(
        select(ThreadMessageId.thread_id, ThreadMessageId.message_id)
        .join(Thread, Thread.id == ThreadMessageId.thread_id).where(Thread.state.in_(states)))
    result: dict[str, list[str]] = {}
    for thread_id, message_id in rows:
        result.setdefault(thread_id, []).append(message_id)
    return result


def draft_ids_by_thread(session: Session, states: tuple[str, ...]) -> list[tuple[str, str]]:
    """(thread id, draft Message-ID) of every follow-up that reached Drafts, for matching replies to them."""
    rows = session.execute(
        select(Touch.thread_id, Touch.message_id).join(Thread, Thread.id == Touch.thread_id)
        .where(Thread.state.in_(states), Touch.state.in_((TOUCH_QUEUED, TOUCH_SENT, TOUCH_SKIPPED)),
               Touch.message_id != ""))
    return [(thread_id, message_id) for thread_id, message_id in rows]


def touch_by_message_id(session: Session, message_id: str) -> Touch | None:
    return session.scalar(select(Touch).where(Touch.message_id == message_id).limit(1))


def thread_for_message_id(session: Session, message_id: str) -> Thread | None:
    row = session.get(ThreadMessageId, message_id)
    return row.thread if row is not None else None


def add_event(session: Session, thread: Thread, *, at: datetime, kind: str, message_id: str = "",
              detail: str = "") -> bool:
    """Record an event once; returns False when the same (thread, kind, message) was already recorded."""
    if message_id:
        existing = session.scalar(
            select(Event).where(Event.thread_id == thread.id, Event.kind == kind, Event.message_id == message_id)
        )
        if existing is not None:
            return False
    session.add(Event(thread_id=thread.id, at=at, kind=kind, message_id=message_id, detail=detail))
    return True


def events_for(session: Session, thread_id: str) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.thread_id == thread_id).order_by(Event.id)))


def get_cursor(session: Session, folder: str) -> FolderCursor | None:
    return session.get(FolderCursor, folder)

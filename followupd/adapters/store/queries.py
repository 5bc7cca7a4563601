"""The session query helpers the engine and the CLI share: meta values, threads by state, the matching index's
ids, events and folder cursors. Reads and small writes inside a caller's transaction; no commits here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from followupd.adapters.store.models import (
    REMINDER_PLANNED,
    TOUCH_QUEUED,
    TOUCH_SENT,
    TOUCH_SKIPPED,
    Event,
    FolderCursor,
    Meta,
    Reminder,
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


def message_id_row(session: Session, message_id: str) -> ThreadMessageId | None:
    """``session.get(ThreadMessageId, message_id)``, without the query when the id is known to be in no row."""
    if known_absent(session, ThreadMessageId, (message_id,)):
        return None
    return session.get(ThreadMessageId, message_id)


#: Look-ups in one table in one session before its keys are read in one query instead (see known_absent).
_LOOKUPS_BEFORE_BULK = 32

_Key = tuple[str, ...]


def _key_of(row: Event | ThreadMessageId) -> _Key:
    """What makes a row a duplicate: Event's unique (thread, kind, message), ThreadMessageId's message id."""
    if isinstance(row, Event):
        return (row.thread_id, row.kind, row.message_id)
    return (row.message_id,)


def known_absent(session: Session, model: type[Event] | type[ThreadMessageId], key: _Key) -> bool:
    """True only when no row of ``model`` can have ``key`` (see :func:`_key_of`): it is neither among the keys
    stored when first asked nor in any such row added to this session since.

    Why: a first sync records thousands of events and ids, each after a look-up for a duplicate (a query and
    an autoflush, ~1 ms; a tenth of a 2,000-thread first sync in a profile). After a few dozen look-ups in a
    session the table's keys are read once; from then on a key in neither set cannot be a duplicate. The set
    only grows (rows added here, then maybe rolled back, stay in it), so it can only send a look-up to the
    database needlessly, never skip a needed one. False before that point: the caller asks as ever."""
    state: dict[str, Any] = session.info.setdefault(("known_keys", model.__name__), {"asked": 0, "keys": None})
    keys: set[_Key] | None = state["keys"]
    if keys is None:
        state["asked"] += 1
        if state["asked"] < _LOOKUPS_BEFORE_BULK:
            return False
        columns = (Event.thread_id, Event.kind, Event.message_id) if model is Event else (model.message_id,)
        keys = {tuple(row) for row in session.execute(select(*columns))}  # autoflushes: pending rows are stored
        # ... unless autoflush is off just now (``no_autoflush``): what is pending counts too.
        keys.update(_key_of(row) for row in session.new if isinstance(row, model))
        state["keys"] = keys
        _watch_additions(session)
    return key not in keys


def _watch_additions(session: Session) -> None:
    """Keep the sets of :func:`known_absent` up to date with every Event and ThreadMessageId added to the
    session, whichever code adds them (once per session)."""
    if session.info.get("known_keys_watched"):
        return
    session.info["known_keys_watched"] = True

    @event.listens_for(session, "transient_to_pending")
    def _added(_session: Session, instance: object) -> None:
        if isinstance(instance, (Event, ThreadMessageId)):
            state = session.info.get(("known_keys", type(instance).__name__))
            if state is not None and state["keys"] is not None:
                state["keys"].add(_key_of(instance))


def add_event(session: Session, thread: Thread, *, at: datetime, kind: str, message_id: str = "",
              detail: str = "") -> bool:
    """Record an event once; returns False when the same (thread, kind, message) was already recorded."""
    if message_id and not known_absent(session, Event, (thread.id, kind, message_id)):
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


# ------------------------------------------------------------------ the acting steps' to-do lists (engine)
def touches_in_state(session: Session, state: str) -> list[Touch]:
    """Every touch in ``state`` (planned: to append; sending: interrupted sends to settle), in no set order."""
    return list(session.scalars(select(Touch).where(Touch.state == state)))


def queued_touch_ids(session: Session) -> list[str]:
    """The ids alone: a quiet cycle compares them with what it saw last time and loads nothing more."""
    return list(session.scalars(select(Touch.id).where(Touch.state == TOUCH_QUEUED).order_by(Touch.id)))


def queued_touches(session: Session) -> list[Touch]:
    """Drafts waiting in Drafts, by id: the order the reconcile step checks them in, and fingerprints them by."""
    return list(session.scalars(select(Touch).where(Touch.state == TOUCH_QUEUED).order_by(Touch.id)))


def planned_reminders(session: Session) -> list[Reminder]:
    return list(session.scalars(select(Reminder).where(Reminder.state == REMINDER_PLANNED)))


def touches_to_clean_up(session: Session, *, sent_by_followupd: bool) -> list[Touch]:
    """Touches whose draft must leave Drafts: withdrawn ones (``sent_by_followupd`` False, removed by the drafts
    step) or ones followupd sent itself (True, removed by the sending step, which knows the sent Message-ID)."""
    return list(session.scalars(select(Touch).where(Touch.cleanup_pending.is_(True),
                                                    Touch.sent_by_followupd.is_(sent_by_followupd))))


def touches_awaiting_sent_copy(session: Session) -> list[Touch]:
    return list(session.scalars(select(Touch).where(Touch.sent_copy_pending.is_(True))))

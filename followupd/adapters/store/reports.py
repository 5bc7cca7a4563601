"""The questions the command line and the runtime ask the database, one function each.

Why here: only the store (and the engine) may speak SQLAlchemy (issue 12 point 3), so a command that shows
threads, follow-ups or requests asks one of these functions with plain arguments and gets ORM rows or plain
values back; it never builds a query. ``tests/test_store_boundary.py`` holds that line by reading the source.
Everything here only reads; the writes go through the engine's requests.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from followupd.adapters import store as st
from followupd.adapters.store.rows import ItemRow, StatusData, ThreadRow, column_names
from followupd.planning.lifecycle.awaiting import OwedState
from followupd.planning.stats import StatsThread, StatsTouch

__all__ = ["Session", "action_items", "find_item", "find_owed", "find_request", "find_thread", "find_touch",
           "has_id_prefix", "ids_starting", "items_by_thread", "next_future_due", "owed_rows", "stats_threads",
           "status_data", "touches_starting", "waiting_drafts"]

# ``Session`` (in __all__) is what every function here takes, the session of ``Store.read()`` or
# ``Store.transaction()``; code outside the store names the type through this module, never through SQLAlchemy.


def find_thread(session: Session, thread_id: str) -> st.Thread | None:
    return session.get(st.Thread, thread_id)


def find_touch(session: Session, touch_id: str) -> st.Touch | None:
    return session.get(st.Touch, touch_id)


def find_item(session: Session, item_id: str) -> st.ActionItem | None:
    return session.get(st.ActionItem, item_id)


def action_items(session: Session, states: tuple[str, ...] | None = None) -> list[st.ActionItem]:
    """Every meeting recap's action items (only those in ``states``, if given), in id order, each with its thread
    loaded (``followupd items`` shows the thread's state and subject without a query per item)."""
    query = select(st.ActionItem).options(joinedload(st.ActionItem.thread)).order_by(st.ActionItem.id)
    if states is not None:
        query = query.where(st.ActionItem.state.in_(states))
    return list(session.scalars(query))


def items_by_thread(session: Session) -> dict[str, list[st.ActionItem]]:
    """Every action item, by thread id, in number order: ``status`` shows them with their recap in one query
    instead of one per thread."""
    found: dict[str, list[st.ActionItem]] = {}
    for item in session.scalars(select(st.ActionItem).order_by(st.ActionItem.thread_id, st.ActionItem.number)):
        found.setdefault(item.thread_id, []).append(item)
    return found


def find_request(session: Session, request_id: int) -> st.Request | None:
    return session.get(st.Request, request_id)


def ids_starting(session: Session,
                 model: type[st.Thread] | type[st.Touch] | type[st.ActionItem] | type[st.Suggestion] | type[st.Owed],
                 prefix: str, *, limit: int) -> list[str]:
    """Up to ``limit`` ids of ``model`` rows that start with ``prefix`` (taken literally: no LIKE wildcards)."""
    column = model.id
    return [str(found) for found in
            session.scalars(select(column).where(column.startswith(prefix, autoescape=True)).limit(limit))]


def has_id_prefix(session: Session, prefix: str) -> bool:
    """Whether a thread, follow-up or suggestion id starts with ``prefix``: which account a command's id belongs
    to."""
    return any(ids_starting(session, model, prefix, limit=1) for model in (st.Thread, st.Touch, st.Suggestion))


def open_suggestions(session: Session) -> list[st.Suggestion]:
    """The suggestions still waiting for `followupd track` or `ignore`, newest sent first."""
    return list(session.scalars(select(st.Suggestion).where(st.Suggestion.state == "open")
                                .order_by(st.Suggestion.sent_at.desc(), st.Suggestion.id)))


def find_suggestion(session: Session, suggestion_id: str) -> st.Suggestion | None:
    return session.get(st.Suggestion, suggestion_id)


def touches_starting(session: Session, prefix: str, *, limit: int) -> list[st.Touch]:
    """Follow-ups whose id starts with ``prefix``, in id order (a thread's touches share its id as prefix)."""
    return list(session.scalars(select(st.Touch).where(st.Touch.id.startswith(prefix, autoescape=True))
                                .order_by(st.Touch.id).limit(limit)))


def waiting_drafts(session: Session, states: tuple[str, ...]) -> dict[str, list[tuple[str, datetime | None,
                                                                                        datetime]]]:
    """(state, drafted_at, created) of every follow-up in ``states``, by thread id: for "draft waiting since"."""
    found: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
    rows = session.execute(select(st.Touch.thread_id, st.Touch.state, st.Touch.drafted_at, st.Touch.created)
                           .where(st.Touch.state.in_(states)))
    for thread_id, touch_state, drafted_at, created in rows:
        found.setdefault(thread_id, []).append((touch_state, drafted_at, created))
    return found


def next_future_due(session: Session, after: datetime) -> datetime | None:
    """The earliest due time of a waiting thread that is later than ``after``: when the daemon must wake.

    Only future ones: a past-due thread waits for the sending window or for its open draft, and the regular poll
    covers it; waking for it would spin."""
    return session.scalar(select(st.Thread.next_due)
                          .where(st.Thread.state == st.WAITING, st.Thread.next_due > after)
                          .order_by(st.Thread.next_due).limit(1))


def stats_threads(session: Session, since: datetime) -> list[StatsThread]:
    """The threads whose tracked message was sent at or after ``since``, with their follow-ups, as the plain
    records ``followupd.planning.stats.compute`` reads (two queries, whatever the number of threads)."""
    rows = session.scalars(select(st.Thread).options(selectinload(st.Thread.touch_rows))
                           .where(st.Thread.sent_at >= since).order_by(st.Thread.sent_at))
    return [StatsThread(kind=t.kind, state=t.state, sent_at=t.sent_at, replied_at=t.replied_at, touches=t.touches,
                        last_touch_at=t.last_touch_at,
                        touch_rows=tuple(StatsTouch(number=touch.number, template=touch.template, state=touch.state,
                                                    done_at=touch.done_at, outcome=touch.outcome)
                                         for touch in t.touch_rows))
            for t in rows]


def find_owed(session: Session, owed_id: str) -> st.Owed | None:
    return session.get(st.Owed, owed_id)


def owed_rows(session: Session, account: str, *, open_only: bool = True) -> list[st.Owed]:
    """The account's replies owed (only the open ones, unless ``open_only`` is False), oldest first: one query,
    on the (state, received_at) index."""
    query = select(st.Owed).where(st.Owed.account == account).order_by(st.Owed.received_at, st.Owed.id)
    if open_only:
        query = query.where(st.Owed.state == OwedState.OPEN)
    return list(session.scalars(query))


def status_data(session: Session, draft_states: tuple[str, ...], meta_keys: tuple[str, str]) -> StatusData:
    """What ``followupd status`` shows of one account, as the plain records ``fastread`` also builds (the path
    for PostgreSQL and for any SQLite database ``fastread`` declines); ``meta_keys`` are the health and
    mail-command-problem keys."""
    thread_columns, item_columns = column_names(ThreadRow), column_names(ItemRow)
    threads = [ThreadRow(*[getattr(t, name) for name in thread_columns]) for t in st.all_threads(session)]
    items: dict[str, list[ItemRow]] = {}
    for thread_id, found in items_by_thread(session).items():
        items[thread_id] = [ItemRow(*[getattr(item, name) for name in item_columns]) for item in found]
    return StatusData(health=st.get_meta(session, meta_keys[0]), orphans=st.get_meta(session, meta_keys[1]),
                      threads=threads, drafts=waiting_drafts(session, draft_states), items=items)

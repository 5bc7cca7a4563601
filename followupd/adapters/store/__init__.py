"""The state database: threads, touches, the message-id index, folder cursors and the event log.

The schedule lives here (``Thread.next_due``, ``Touch``), not in APScheduler, so a restart loses nothing. The
schema is owned by the Alembic revisions in ``migrations/``: opening a :class:`Store` creates a new database at the
newest revision and upgrades an older one (or refuses, with the command to run).

One job per module: ``models`` (the ORM models), ``database`` (engines, schema checks, the Store),
``queries`` (the session query helpers), ``leases`` (scale-out), ``migrations``. The names below are re-exported
so that ``from followupd.adapters import store as st`` gives ``st.Thread``, ``st.Store``, ``st.WAITING`` ...

Why the names load lazily (PEP 562 ``__getattr__``): ``followupd status`` on SQLite reads the database with the
standard library (``fastread``) and must not import SQLAlchemy (about a third of a second), yet importing any
module of this package runs this file first. A name is imported from its module the first time it is used;
``st.Thread`` and ``from followupd.adapters.store import Store`` work as they always did.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from followupd.adapters.store.database import (
        MIGRATE_MODES,
        SCHEMA_NAME,
        UPGRADE_COMMAND,
        MigrateMode,
        Store,
        database_status,
        default_sqlite_url,
        refuse_message,
    )
    from followupd.adapters.store.models import (
        ACTIONS,
        COMMITMENT,
        DECLINED,
        FAILED,
        ITEM_STATES,
        NUDGE,
        REMINDER_DELIVERED,
        REMINDER_PLANNED,
        REMINDER_WITHDRAWN,
        REPLIED,
        STOPPED,
        THREAD_KINDS,
        THREAD_STATES,
        TOUCH_FAILED,
        TOUCH_PLANNED,
        TOUCH_QUEUED,
        TOUCH_SENDING,
        TOUCH_SENT,
        TOUCH_SKIPPED,
        TOUCH_STATES,
        TOUCH_WITHDRAWN,
        UNANSWERED,
        WAITING,
        ActionItem,
        Base,
        Event,
        FolderCursor,
        Meta,
        Reminder,
        Request,
        Thread,
        ThreadMessageId,
        Touch,
        UTCDateTime,
        as_utc,
    )
    from followupd.adapters.store.queries import (
        add_event,
        all_threads,
        all_touches,
        draft_ids_by_thread,
        events_for,
        get_cursor,
        get_meta,
        message_ids_by_thread,
        planned_reminders,
        queued_touch_ids,
        queued_touches,
        set_meta,
        thread_for_message_id,
        threads_in_states,
        touch_by_message_id,
        touches_awaiting_sent_copy,
        touches_in_state,
        touches_to_clean_up,
    )

#: Each public name and the module of this package that defines it.
_HOME: dict[str, str] = {
    "ACTIONS": "models",
    "COMMITMENT": "models",
    "DECLINED": "models",
    "FAILED": "models",
    "ITEM_STATES": "models",
    "MIGRATE_MODES": "database",
    "NUDGE": "models",
    "REMINDER_DELIVERED": "models",
    "REMINDER_PLANNED": "models",
    "REMINDER_WITHDRAWN": "models",
    "REPLIED": "models",
    "SCHEMA_NAME": "database",
    "STOPPED": "models",
    "THREAD_KINDS": "models",
    "THREAD_STATES": "models",
    "TOUCH_FAILED": "models",
    "TOUCH_PLANNED": "models",
    "TOUCH_QUEUED": "models",
    "TOUCH_SENDING": "models",
    "TOUCH_SENT": "models",
    "TOUCH_SKIPPED": "models",
    "TOUCH_STATES": "models",
    "TOUCH_WITHDRAWN": "models",
    "UNANSWERED": "models",
    "UPGRADE_COMMAND": "database",
    "WAITING": "models",
    "ActionItem": "models",
    "Base": "models",
    "Event": "models",
    "FolderCursor": "models",
    "Meta": "models",
    "MigrateMode": "database",
    "Reminder": "models",
    "Request": "models",
    "Store": "database",
    "Thread": "models",
    "ThreadMessageId": "models",
    "Touch": "models",
    "UTCDateTime": "models",
    "add_event": "queries",
    "all_threads": "queries",
    "all_touches": "queries",
    "as_utc": "models",
    "database_status": "database",
    "default_sqlite_url": "database",
    "draft_ids_by_thread": "queries",
    "events_for": "queries",
    "get_cursor": "queries",
    "get_meta": "queries",
    "message_ids_by_thread": "queries",
    "planned_reminders": "queries",
    "queued_touch_ids": "queries",
    "queued_touches": "queries",
    "refuse_message": "database",
    "set_meta": "queries",
    "thread_for_message_id": "queries",
    "threads_in_states": "queries",
    "touch_by_message_id": "queries",
    "touches_awaiting_sent_copy": "queries",
    "touches_in_state": "queries",
    "touches_to_clean_up": "queries",
}

__all__ = [
    "ACTIONS",
    "COMMITMENT",
    "DECLINED",
    "FAILED",
    "ITEM_STATES",
    "MIGRATE_MODES",
    "NUDGE",
    "REMINDER_DELIVERED",
    "REMINDER_PLANNED",
    "REMINDER_WITHDRAWN",
    "REPLIED",
    "SCHEMA_NAME",
    "STOPPED",
    "THREAD_KINDS",
    "THREAD_STATES",
    "TOUCH_FAILED",
    "TOUCH_PLANNED",
    "TOUCH_QUEUED",
    "TOUCH_SENDING",
    "TOUCH_SENT",
    "TOUCH_SKIPPED",
    "TOUCH_STATES",
    "TOUCH_WITHDRAWN",
    "UNANSWERED",
    "UPGRADE_COMMAND",
    "WAITING",
    "ActionItem",
    "Base",
    "Event",
    "FolderCursor",
    "Meta",
    "MigrateMode",
    "Reminder",
    "Request",
    "Store",
    "Thread",
    "ThreadMessageId",
    "Touch",
    "UTCDateTime",
    "add_event",
    "all_threads",
    "all_touches",
    "as_utc",
    "database_status",
    "default_sqlite_url",
    "draft_ids_by_thread",
    "events_for",
    "get_cursor",
    "get_meta",
    "message_ids_by_thread",
    "planned_reminders",
    "queued_touch_ids",
    "queued_touches",
    "refuse_message",
    "set_meta",
    "thread_for_message_id",
    "threads_in_states",
    "touch_by_message_id",
    "touches_awaiting_sent_copy",
    "touches_in_state",
    "touches_to_clean_up"
]


def __getattr__(name: str) -> Any:
    """The first use of a name imports its module; the value is then kept here, so this runs once per name."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOME})

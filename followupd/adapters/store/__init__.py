"""The state database: threads, touches, the message-id index, folder cursors and the event log.

The schedule lives here (``Thread.next_due``, ``Touch``), not in APScheduler, so a restart loses nothing. The
schema is owned by the Alembic revisions in ``migrations/``: opening a :class:`Store` creates a new database at the
newest revision and upgrades an older one (or refuses, with the command to run).

One job per module: ``models`` (the ORM models), ``database`` (engines, schema checks, the Store),
``queries`` (the session query helpers), ``leases`` (scale-out), ``migrations``. The names below are re-exported
so that ``from followupd.adapters import store as st`` gives ``st.Thread``, ``st.Store``, ``st.WAITING`` ...
"""

from __future__ import annotations

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
    COMMITMENT,
    DECLINED,
    FAILED,
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
    set_meta,
    thread_for_message_id,
    threads_in_states,
    touch_by_message_id,
)

__all__ = [
    "COMMITMENT", "DECLINED", "FAILED", "MIGRATE_MODES", "NUDGE", "REMINDER_DELIVERED", "REMINDER_PLANNED",
    "REMINDER_WITHDRAWN", "REPLIED", "SCHEMA_NAME", "STOPPED", "THREAD_KINDS", "THREAD_STATES",
    "TOUCH_FAILED", "TOUCH_PLANNED", "TOUCH_QUEUED", "TOUCH_SENDING", "TOUCH_SENT", "TOUCH_SKIPPED",
    "TOUCH_STATES", "TOUCH_WITHDRAWN", "UNANSWERED", "UPGRADE_COMMAND", "WAITING", "Base", "Event",
    "FolderCursor", "Meta", "MigrateMode", "Reminder", "Request", "Store", "Thread", "ThreadMessageId",
    "Touch", "UTCDateTime", "add_event", "all_threads", "all_touches", "as_utc", "database_status",
    "default_sqlite_url", "draft_ids_by_thread", "events_for", "get_cursor", "get_meta",
    "message_ids_by_thread", "refuse_message", "set_meta", "thread_for_message_id", "threads_in_states",
    "touch_by_message_id"
]

"""``followupd status`` on SQLite, read with the standard library's sqlite3 instead of SQLAlchemy.

Why: ``status`` is what a user types most, and importing SQLAlchemy and loading a thousand ORM objects was most
of its second (issue 16 point 3: <= 400 ms). The question is small and fixed (every thread, the drafts that
wait, the action items, two meta values), so this reads it with a few SELECTs into the same plain records
(``rows``) the ORM path builds (``reports.status_data``); ``followupd.cli.status_view`` shapes both alike.

It serves only the case it is sure of, and says None for anything else, so the caller takes the ORM path,
unchanged: a URL that is not a plain SQLite file, a database that does not exist yet (opening the Store creates
it), one not at this followupd's revision (the Store upgrades it or refuses with its message), a missing table
or any SQLite error. The connection is read-only (``mode=ro``): it never creates, migrates or changes the database,
and a WAL database is read from a consistent snapshot while the daemon writes. (SQLite itself may leave an empty
``-wal`` and a ``-shm`` file beside a WAL database that no writer has open; the next writer tidies them.) No
SQLAlchemy, nor Alembic, anywhere this imports (``tests/test_cli_startup.py`` holds it).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from followupd.adapters.store.migrations import HEAD
from followupd.adapters.store.rows import ItemRow, StatusData, ThreadRow, column_names

__all__ = ["sqlite_file", "status_data"]

#: URL prefixes of SQLAlchemy's default SQLite driver; the rest of such a URL is the file's path.
_PREFIXES = ("sqlite:///", "sqlite+pysqlite:///")
#: Characters after which SQLAlchemy would read a path differently from the text (quoting, query, ``~``).
_UNSURE = set("%?#")
#: As the Store's busy_timeout: in rollback-journal mode a writer's lock is waited for, not an error.
_BUSY_TIMEOUT_S = 10.0


def sqlite_file(url: str) -> Path | None:
    """The file of a plain SQLite URL (``sqlite:///relative`` or ``sqlite:////absolute``), None for anything
    else: another database, an in-memory one, URL options, percent-quoting or ``~`` (which SQLAlchemy and
    sqlite3 would read differently from this)."""
    for prefix in _PREFIXES:
        if url.startswith(prefix):
            path = url[len(prefix):]
            if not path or path == ":memory:" or path.startswith("~") or _UNSURE & set(path):
                return None
            return Path(path)
    return None


def _utc(value: Any) -> datetime | None:
    # The Store writes naive UTC ("2026-11-09 10:00:00.000000") and hands it back aware (models.UTCDateTime).
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _json(value: Any) -> Any:
    if value == "[]":  # most recipient lists but To, and most problem lists: no parser needed
        return []
    return None if value is None else json.loads(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _converter(annotation: str) -> Callable[[Any], Any] | None:
    """How a column's SQLite value becomes what the ORM's column type hands back, from the record's annotation."""
    if annotation.startswith("datetime"):
        return _utc
    if annotation.startswith("date"):
        return _date
    if annotation.startswith(("list", "dict")):
        return _json
    if annotation.startswith("bool"):
        return _bool
    return None


def _reader(record: type[ThreadRow] | type[ItemRow]) -> tuple[str, Callable[[tuple[Any, ...]], Any]]:
    """The column list to SELECT for ``record`` and a function making one record of a result row."""
    names = column_names(record)
    annotations = record.__annotations__
    # A NamedTuple keeps postponed annotations as typing.ForwardRef: the text is its __forward_arg__.
    written = {name: str(getattr(annotations[name], "__forward_arg__", annotations[name])) for name in names}
    converters = [(index, convert) for index, name in enumerate(names)
                  if (convert := _converter(written[name])) is not None]

    def make(row: tuple[Any, ...]) -> Any:
        values = list(row)
        for index, convert in converters:  # only the columns that need it: a thousand rows per `status`
            values[index] = convert(values[index])
        return record._make(values)

    return ", ".join(f'"{name}"' for name in names), make


_THREAD_COLUMNS, _make_thread = _reader(ThreadRow)
_ITEM_COLUMNS, _make_item = _reader(ItemRow)


def status_data(url: str, schema: str | None, draft_states: tuple[str, ...],
                meta_keys: tuple[str, str]) -> StatusData | None:
    """What ``status`` shows of one account's SQLite database, or None when this reader cannot serve it (see
    the module's docstring); ``meta_keys`` are the health and mail-command-problem keys."""
    path = sqlite_file(url)
    if path is None or schema is not None or not path.is_file():
        return None
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=_BUSY_TIMEOUT_S,
                                     isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        connection.execute("BEGIN")  # one snapshot for every SELECT below, as the ORM's read session
        if connection.execute("SELECT version_num FROM alembic_version").fetchall() != [(HEAD,)]:
            return None
        meta = dict(connection.execute("SELECT key, value FROM followupd_meta WHERE key IN (?, ?)", meta_keys))
        threads = [_make_thread(row) for row in
                   connection.execute(f"SELECT {_THREAD_COLUMNS} FROM threads ORDER BY sent_at")]
        drafts: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
        marks = ", ".join("?" * len(draft_states))
        for thread_id, state, drafted_at, created in connection.execute(
                f"SELECT thread_id, state, drafted_at, created FROM touches WHERE state IN ({marks})", draft_states):
            drafts.setdefault(thread_id, []).append((state, _utc(drafted_at), _utc(created)))  # type: ignore[arg-type]
        items: dict[str, list[ItemRow]] = {}
        for row in connection.execute(f"SELECT {_ITEM_COLUMNS} FROM action_items ORDER BY thread_id, number"):
            item = _make_item(row)
            items.setdefault(item.thread_id, []).append(item)
        return StatusData(health=meta.get(meta_keys[0]), orphans=meta.get(meta_keys[1]), threads=threads,
                          drafts=drafts, items=items)
    except (sqlite3.Error, ValueError):
        return None  # a table or column missing, a value it cannot read: the ORM path says what is wrong
    finally:
        connection.close()

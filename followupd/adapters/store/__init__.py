"""The state database: threads, touches, the message-id index, folder cursors and the event log.

SQLite by default, any SQLAlchemy URL otherwise. The schedule lives here (``Thread.next_due``, ``Touch``),
not in APScheduler, so a restart loses nothing. Every write the engine makes in a cycle happens in one
transaction, which is what makes a crash at any point harmless: either the whole cycle's bookkeeping landed
(and re-reading the same mail changes nothing) or none of it did (and re-reading it redoes it).

The schema is owned by the Alembic revisions in ``followupd/migrations``: opening a :class:`Store` creates a new
database at the newest revision and upgrades an older one (or refuses, with the command to run). The models here
must always equal what the migrations build; ``tests/test_migrations.py`` checks it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker
from sqlalchemy.pool import NullPool
from sqlalchemy.types import TypeDecorator

from followupd.adapters.store import migrations
from followupd.errors import StoreError
from followupd.planning.lifecycle import ReminderState, ThreadKind, ThreadState, TouchState

logger = logging.getLogger(__name__)

MigrateMode = Literal["auto", "refuse"]
MIGRATE_MODES: tuple[MigrateMode, ...] = ("auto", "refuse")
# Lower case only, so the name never needs quoting rules explained to anyone (PostgreSQL folds to lower case).
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
UPGRADE_COMMAND = "followupd db upgrade"

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
THREAD_KINDS = tuple(ThreadKind)

REMINDER_PLANNED = ReminderState.PLANNED
REMINDER_DELIVERED = ReminderState.DELIVERED
REMINDER_WITHDRAWN = ReminderState.WITHDRAWN


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
    source: Mapped[list[str]] = mapped_column(JSON, default=list)  # "Sent:42" style provenance

    ids: Mapped[list[ThreadMessageId]] = relationship(back_populates="thread", cascade="all, delete-orphan")
    touch_rows: Mapped[list[Touch]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="Touch.number"
    )
    reminder_rows: Mapped[list[Reminder]] = relationship(
        back_populates="thread", cascade="all, delete-orphan", order_by="Reminder.number"
    )

    def participants(self) -> list[dict[str, str]]:
        """Everyone who owes the reply: To, Cc and Bcc recipients (already filtered of the user)."""
        seen: dict[str, dict[str, str]] = {}
        for entry in (*self.to, *self.cc, *self.bcc):
            seen.setdefault(entry["email"], entry)
        return list(seen.values())


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


def as_utc(moment: datetime | str) -> datetime:
    """An aggregate (``max(created)``) bypasses the column type: SQLite hands back text or a naive datetime."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'followupd.db'}"


def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT (which the engine uses so that one bad message is
    # skipped, not the cycle); let SQLAlchemy emit BEGIN itself instead (the recipe in SQLAlchemy's docs).
    dbapi_connection.isolation_level = None
    # WAL lets `followupd status` read while the daemon writes; foreign keys are off by default in SQLite.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A migration asks for BEGIN IMMEDIATE: it takes the write lock before looking, so two processes opening the
    # same new database cannot both decide to create it.
    immediate = connection.get_execution_options().get("followupd_immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _search_path(schema: str) -> Any:
    """A ``connect`` listener pinning the connection to ``schema``, so the unqualified ORM and Alembic's own
    ``alembic_version`` land there. Only that schema: a missing table must fail, not fall through to public."""

    def set_search_path(dbapi_connection: Any, connection_record: Any) -> None:
        # In autocommit: SET inside a transaction is undone by the rollback the pool does on check-in.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        dbapi_connection.autocommit = autocommit

    return set_search_path


# pg_advisory_xact_lock(key1, key2): key1 says "followupd migration", key2 the schema; held to commit.
_MIGRATION_LOCK_KEY = 0x666F6C6C
_MIGRATION_LOCK = text("SELECT pg_advisory_xact_lock(CAST(:key AS integer), hashtext(current_schema()))")


def _check_arguments(backend: str, schema: str | None, migrate: str) -> None:
    if migrate not in MIGRATE_MODES:
        raise ValueError(f"migrate must be one of {', '.join(MIGRATE_MODES)}, not {migrate!r}")
    if schema is None:
        return
    if backend != "postgresql":
        raise ValueError(f"a database schema ({schema!r}) needs PostgreSQL; this database is {backend}")
    if not SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"schema {schema!r} is not a plain name: use lower-case letters, digits and _, "
                         "starting with a letter or _, at most 63 characters")


def _parse(url: str) -> Any:
    try:
        return make_url(url)
    except SQLAlchemyError as exc:
        raise StoreError(f"database url is not valid: {exc}; check [database] url") from exc


def _schema_exists(connection: Connection, schema: str) -> bool:
    return connection.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": schema}).first() \
        is not None


def _create_schema(url: str, schema: str) -> None:
    """Before the real engine's first connection: the dialect reads ``current_schema()`` once, on that
    connection, and it must already be ours."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if not _schema_exists(connection, schema):
                try:
                    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
                    connection.commit()
                except IntegrityError:  # another process created it between the two statements
                    connection.rollback()
    finally:
        engine.dispose()


def _make_engine(url: str, backend: str, schema: str | None, **options: Any) -> Engine:
    engine = create_engine(url, **options)
    if backend == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    if schema is not None:
        event.listen(engine, "connect", _search_path(schema), insert=True)
    return engine


def _describe(url: Any, schema: str | None) -> str:
    where: str = url.render_as_string(hide_password=True)
    return where + (f", schema {schema}" if schema else "")


def refuse_message(status: migrations.SchemaStatus, where: str) -> str:
    made_by = " (the schema of followupd 0.1.0)" if status.state == migrations.LEGACY else ""
    return (f"the database ({where}) is at revision {status.current}{made_by} but this followupd needs revision "
            f"{status.head}; back it up and run `{UPGRADE_COMMAND}`, or set [database] migrate = \"auto\" to "
            "upgrade on start")


def database_status(url: str, *, schema: str | None = None) -> migrations.SchemaStatus:
    """Where the database stands against this followupd's migrations, changing nothing (not even creating an
    SQLite file or a schema): for ``followupd db status`` and ``doctor``."""
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    _check_arguments(backend, schema, "auto")
    fresh = migrations.SchemaStatus(migrations.FRESH, None, migrations.head(), migrations.pending(None))
    if backend == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).expanduser().exists():
        return fresh
    engines: list[Engine] = []
    try:
        if schema is not None:
            engines.append(create_engine(url, poolclass=NullPool))
            with engines[-1].connect() as connection:
                if not _schema_exists(connection, schema):
                    return fresh
        engines.append(_make_engine(url, backend, schema, poolclass=NullPool))
        with engines[-1].connect() as connection:
            return migrations.inspect_schema(connection)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read the database ({_describe(parsed, schema)}): {exc}") from exc
    finally:
        for engine in engines:
            engine.dispose()


class Store:
    """Owns the SQLAlchemy engine; hands out one transaction at a time via ``transaction()``.

    Opening it brings the schema to this followupd's newest revision: a new database is created there; an older
    one is upgraded (``migrate="auto"``) or refused with the command to run (``"refuse"``); one made by a newer
    followupd is refused and left untouched. ``schema`` (PostgreSQL only) keeps this account's tables in a schema
    of their own, so several accounts can share one database.
    """

    def __init__(self, url: str, *, schema: str | None = None, migrate: MigrateMode = "auto") -> None:
        self.url = url
        self.schema = schema
        parsed = _parse(url)
        backend = parsed.get_backend_name()
        _check_arguments(backend, schema, migrate)
        self._backend = backend
        self._where = _describe(parsed, schema)
        if backend == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            if schema is not None:
                _create_schema(url, schema)
            self.engine: Engine = _make_engine(url, backend, schema, future=True)
            self._sessions = sessionmaker(self.engine, expire_on_commit=False)
            self.schema_status = self._migrate(migrate)
        except SQLAlchemyError as exc:
            self._dispose_quietly()
            raise StoreError(f"cannot open the database ({self._where}): {exc}") from exc
        except BaseException:
            self._dispose_quietly()
            raise

    def _dispose_quietly(self) -> None:
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.dispose()

    def _migrate(self, mode: MigrateMode) -> migrations.SchemaStatus:
        with self.engine.connect() as connection:
            status = migrations.inspect_schema(connection)
            connection.rollback()
        if status.state == migrations.CURRENT:
            return status
        if status.state == migrations.NEWER:
            raise StoreError(f"{self._where}: {migrations.newer_message(status)}")
        if mode == "refuse" and status.state != migrations.FRESH:
            raise StoreError(refuse_message(status, self._where))
        return self._upgrade()

    def _upgrade(self) -> migrations.SchemaStatus:
        """Migrate under a lock, looking again once it is held: another process may have just done it."""
        with self.engine.connect() as connection:
            sqlite = self._backend == "sqlite"
            if sqlite:
                # A table rebuild (batch mode) drops the old table, which with foreign keys on would cascade-delete
                # every touch and event; SQLite's own advice is to switch them off around schema changes and run
                # foreign_key_check before committing. (The PRAGMA is a no-op inside a transaction, hence here.)
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
                connection = connection.execution_options(followupd_immediate=True)
            try:
                with connection.begin():
                    if self._backend == "postgresql":
                        connection.execute(_MIGRATION_LOCK, {"key": _MIGRATION_LOCK_KEY})
                    status = migrations.inspect_schema(connection)
                    if status.state == migrations.NEWER:
                        raise StoreError(f"{self._where}: {migrations.newer_message(status)}")
                    if status.state != migrations.CURRENT:
                        logger.info("database %s: upgrading from %s to %s", self._where,
                                    status.current or "nothing", status.head)
                        migrations.upgrade(connection, status)
                    if sqlite and connection.exec_driver_sql("PRAGMA foreign_key_check").first() is not None:
                        raise StoreError(f"upgrading the database ({self._where}) would break its references; "
                                         "nothing was changed. Please report this with `followupd db status`")
            finally:
                if sqlite:
                    connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
        with self.engine.connect() as connection:
            return migrations.inspect_schema(connection)

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any exception."""
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"database write failed: {exc}") from exc

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only; anything written in it is thrown away."""
        session = self._sessions()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()


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

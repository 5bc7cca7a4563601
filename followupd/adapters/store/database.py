"""Opening the database: engines for SQLite and PostgreSQL (with a schema per account), schema checks and
migrations on open, and the one-transaction-at-a-time :class:`Store`.

SQLite by default, any SQLAlchemy URL otherwise. Every write the engine makes in a cycle happens in one
transaction, which is what makes a crash at any point harmless: either the whole cycle's bookkeeping landed
(and re-reading the same mail changes nothing) or none of it did (and re-reading it redoes it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from followupd.adapters.store import migrations
from followupd.errors import StoreError
from followupd.mail.patterns import lazy_pattern

logger = logging.getLogger("followupd.adapters.store")  # logs as "followupd.store", as it always did

MigrateMode = Literal["auto", "refuse"]
MIGRATE_MODES: tuple[MigrateMode, ...] = ("auto", "refuse")
# Lower case only, so the name never needs quoting rules explained to anyone (PostgreSQL folds to lower case).
SCHEMA_NAME = lazy_pattern(r"[a-z_][a-z0-9_]{0,62}")
UPGRADE_COMMAND = "followupd db upgrade"


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

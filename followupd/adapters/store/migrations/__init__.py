"""Schema migrations: Alembic scripts shipped inside the package, driven from code (no alembic.ini).

Why Alembic rather than the old ``create_all`` plus "add missing columns": that only ever added things. Indexes,
renamed or retyped columns and data fixes need ordered, tested steps that run the same on SQLite and PostgreSQL,
and a record in the database (``alembic_version``) of which steps it has had.

History: release 0.1.0 predates Alembic; its databases have our tables, ``followupd_meta.schema_version = 1`` and
no ``alembic_version``. They are exactly revision 0001 (the baseline), so :func:`upgrade` stamps them 0001 first.

Adding a revision (developers): copy the newest file in ``versions/``, set ``revision``/``down_revision``, write
``upgrade()``/``downgrade()`` against plain ``sqlalchemy`` types (never import the ORM models: a migration is
frozen in time), change the models in ``store.py`` to match, and run ``tests/test_migrations.py``: it compares
the migrated schema with the models on SQLite and PostgreSQL. On SQLite, ALTER/DROP COLUMN and constraint changes
need ``op.batch_alter_table``; CREATE/DROP INDEX and ADD COLUMN do not (batch would copy the table for nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from followupd.errors import StoreError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

__all__ = ["BASELINE", "HEAD", "SchemaStatus", "alembic_config", "head", "inspect_schema", "pending", "upgrade"]

#: The revision equal to release 0.1.0's schema.
BASELINE = "0001"
#: The newest revision, spelled out so that opening an up-to-date database (every command) needs no Alembic
#: import (~0.1 s); tests/test_migrations.py checks it against the scripts, so a new revision must bump it.
HEAD = "0004"
#: Tables release 0.1.0 created; a database holding some of them but no ``followupd_meta`` is someone else's.
LEGACY_TABLES = ("followupd_meta", "threads", "thread_message_ids", "touches", "reminders", "events", "requests",
                 "folder_cursors")
LEGACY_SCHEMA_VERSION = "1"

FRESH = "empty"             # nothing there yet: created at head on open
LEGACY = "release-0.1.0"    # followupd 0.1.0's tables, no revision recorded (equivalent to the baseline)
OUTDATED = "needs-upgrade"  # a known revision older than head
CURRENT = "up-to-date"
NEWER = "newer"             # a revision this followupd does not know: made by a newer followupd


#: Set by ``followupd db upgrade``: called as (label, steps applied, steps to apply) while upgrade() runs, so an
#: upgrade of a big database shows where it is (followupd.cli.progress). A context variable, not an argument, because
#: the upgrade runs deep inside opening the store; unset everywhere else.
upgrade_progress: ContextVar[Callable[[str, int, int], None] | None] = ContextVar("upgrade_progress", default=None)


def alembic_config(connection: Connection | None = None) -> Config:
    """Alembic's settings without an ini file; ``env.py`` migrates the connection it finds in ``attributes``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    """Loaded once per process, and only when a database is not at HEAD."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision in the shipped scripts (history is linear: one head); equals HEAD."""
    found = _scripts().get_current_head()
    assert found is not None, "followupd ships at least the baseline revision"
    return found


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands against this followupd's migrations; computed without writing anything."""

    state: str                       # FRESH, LEGACY, OUTDATED, CURRENT or NEWER
    current: str | None              # the recorded revision; BASELINE for LEGACY; None when FRESH
    head: str
    pending: tuple[tuple[str, str], ...] = field(default=())  # (revision, description), oldest first

    @property
    def up_to_date(self) -> bool:
        return self.state == CURRENT


def pending(current: str | None) -> tuple[tuple[str, str], ...]:
    """Revisions still to apply after ``current`` (all of them for None), oldest first."""
    scripts = _scripts()
    steps = list(scripts.iterate_revisions("head", current or "base"))
    steps.reverse()  # iterate_revisions walks down from head
    return tuple((step.revision, (step.doc or "").strip().split("\n")[0]) for step in steps
                 if step.revision != current)


def inspect_schema(connection: Connection) -> SchemaStatus:
    """Classify the database behind ``connection`` (read only: a SELECT or two and catalogue queries)."""
    # Imported here, not at the top: ``fastread`` reads HEAD from this module without loading SQLAlchemy.
    from sqlalchemy import inspect, text

    newest = HEAD
    tables = set(inspect(connection).get_table_names())
    recorded: tuple[str, ...] = ()
    if "alembic_version" in tables:
        recorded = tuple(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
    if recorded == (newest,):
        return SchemaStatus(CURRENT, newest, newest)
    if recorded:
        known = {script.revision for script in _scripts().walk_revisions()}
        unknown = [rev for rev in recorded if rev not in known]
        if unknown or len(recorded) > 1:
            return SchemaStatus(NEWER, ",".join(recorded), newest)
        return SchemaStatus(OUTDATED, recorded[0], newest, pending(recorded[0]))
    ours = tables & set(LEGACY_TABLES)
    if not ours:
        return SchemaStatus(FRESH, None, newest, pending(None))
    if "followupd_meta" not in ours:
        raise StoreError(f"the database already has tables named {', '.join(sorted(ours))} that followupd did not "
                         "create; give followupd a database of its own (or, on PostgreSQL, a schema of its own)")
    version = connection.execute(text("SELECT value FROM followupd_meta WHERE key = 'schema_version'")).scalar()
    missing = sorted(set(LEGACY_TABLES) - tables)
    if version != LEGACY_SCHEMA_VERSION or missing:
        detail = f"it lacks {', '.join(missing)}" if missing else f"its schema_version is {version!r}"
        raise StoreError(f"the database was not made by a followupd release this version can upgrade ({detail}); "
                         "open it once with followupd 0.1.0, or start from an empty database")
    return SchemaStatus(LEGACY, BASELINE, newest, pending(BASELINE))


def upgrade(connection: Connection, status: SchemaStatus) -> None:
    """Bring the database to head inside the caller's transaction (DDL is transactional on SQLite and PostgreSQL,
    so a failed step leaves the database as it was)."""
    if status.state == NEWER:
        raise StoreError(newer_message(status))
    from alembic import command

    config = alembic_config(connection)
    if status.state == LEGACY:
        command.stamp(config, BASELINE)
    if status.state != CURRENT:
        report = upgrade_progress.get()
        if report is not None and status.pending:
            total, done = len(status.pending), [0]

            def applied(**_step: object) -> None:
                done[0] += 1
                report("database upgrade", done[0], total)

            report("database upgrade", 0, total)
            config.attributes["on_version_apply"] = applied
        command.upgrade(config, "head")


def newer_message(status: SchemaStatus) -> str:
    return (f"the database is at revision {status.current}, which this followupd does not know (it knows up to "
            f"{status.head}): a newer followupd has upgraded it. Run that newer followupd, or point [database] url "
            "at another database; this one was left untouched")

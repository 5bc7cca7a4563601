"""Schema migrations on SQLite and a real PostgreSQL: new databases, release 0.1.0's databases, refusals.

The release-0.1.0 fixtures in tests/data/db were made by followupd 0.1.0 itself (commit 5728191, before Alembic):
``git archive 5728191 followupd templates`` unpacked into a temp dir (plus the link followupd/templates ->
../templates that the editable install provides) and put first on PYTHONPATH of the real ``followupd`` command,
driven through tests/harness.py ``Account`` on the test Dovecot: three messages sent Wed 4 Nov 2026 with the
tracking address in Bcc (to Bob; to Carol; to Dave with ``+followup-me-3d``), ``poll`` six days later (follow-up
drafts for Bob and Carol, an update draft and an INBOX reminder for Dave's promise, folder cursors), Carol's reply
delivered by LMTP and another ``poll`` (her thread replied, its draft withdrawn, events), then
``followupd note <Bob's thread> "ask about the roof too"`` (a request). Once with ``[database] url`` on SQLite
(the file then VACUUMed: release-0.1.0.sqlite), once on PostgreSQL (``pg_dump --no-owner --no-privileges
--inserts``, psql's ``\\restrict`` lines removed: release-0.1.0.postgres.sql). What 0.1.0's ``status --json``
printed right after is kept beside each (``*.status.json``).
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from dovecot import MailUser
from harness import PASSWORD_ENV, default_config, run_followupd
from sqlalchemy import MetaData, create_engine, select, text

from followupd.adapters import store as st
from followupd.adapters.store import migrations
from followupd.errors import StoreError

DATA = Path(__file__).parent / "data" / "db"
LEGACY_TABLES = migrations.LEGACY_TABLES
NOW = st.as_utc("2026-11-25T10:00:00")


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["sqlite", "postgresql"])
def new_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: an SQLite file path that does not exist yet, or a brand-new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres").create_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    """(url, 0.1.0's status JSON) of a copy of a database made by release 0.1.0."""
    if request.param == "sqlite":
        shutil.copy(DATA / "release-0.1.0.sqlite", tmp_path / "state.db")
        return f"sqlite:///{tmp_path / 'state.db'}", DATA / "release-0.1.0.status.json"
    server = request.getfixturevalue("postgres")
    url = server.create_database()
    server.run_sql(url.rsplit("/", 1)[1], (DATA / "release-0.1.0.postgres.sql").read_text())
    return url, DATA / "release-0.1.0.postgres.status.json"


@pytest.fixture
def opened() -> Iterator[Callable[..., st.Store]]:
    """``opened(url, **kw)``: a Store that is disposed of after the test."""
    stores: list[st.Store] = []

    def open_store(url: str, **kwargs: Any) -> st.Store:
        stores.append(st.Store(url, **kwargs))
        return stores[-1]

    yield open_store
    for store in stores:
        store.dispose()


# ---------------------------------------------------------------------------------------------------- helpers


def all_rows(url: str, tables: tuple[str, ...] = LEGACY_TABLES) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of ``tables``, sorted, read without followupd's models (so nothing is filtered or converted)."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine, only=list(tables))
        with engine.connect() as conn:
            return {name: sorted((tuple(row) for row in conn.execute(select(meta.tables[name]))), key=repr)
                    for name in tables}
    finally:
        engine.dispose()


def schema_diffs(store: st.Store) -> list[Any]:
    """What Alembic's autogenerate would change to make the database match the models: [] when they agree."""
    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, st.Base.metadata))


def recorded_revisions(store: st.Store) -> list[str]:
    with store.engine.connect() as conn:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def has_table(url: str, name: str) -> bool:
    engine = create_engine(url)
    try:
        from sqlalchemy import inspect

        return inspect(engine).has_table(name)
    finally:
        engine.dispose()


def write_config(workdir: Path, url: str, database_extra: str = "") -> Path:
    """A config whose mailbox is never contacted (the commands used here only read the database)."""
    user = MailUser(host="127.0.0.1", port=9, username="release010@example.com", password="unused", lmtp_port=9)
    workdir.mkdir(parents=True, exist_ok=True)
    text_ = default_config(user, workdir).replace(f'url = "sqlite:///{workdir / "state.db"}"',
                                                  f'url = "{url}"\n{database_extra}')
    assert f'url = "{url}"' in text_
    path = workdir / "config.toml"
    path.write_text(text_)
    path.chmod(0o600)
    return path


def followupd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", PASSWORD_ENV: "unused", "HOME": str(config.parent),
           "XDG_DATA_HOME": str(config.parent / "data")}
    return run_followupd(["--config", str(config), *args], env=env)


def add_thread(store: st.Store, thread_id: str = "t1") -> None:
    with store.transaction() as session:
        session.add(st.Thread(id=thread_id, message_id=f"<{thread_id}@example.org>", subject="Quote", sent_at=NOW,
                              first_seen_at=NOW))


# ---------------------------------------------------------------------------------------------------- new databases


def test_head_constant_is_the_newest_script_and_history_is_linear() -> None:
    assert migrations.head() == migrations.HEAD
    assert [rev for rev, _text in migrations.pending(None)] == ["0001", "0002", "0003", "0004"]
    assert migrations.BASELINE == "0001"


def test_a_new_database_is_created_at_the_newest_revision_matching_the_models(
        new_url: str, opened: Callable[..., st.Store]) -> None:
    assert st.database_status(new_url).state == migrations.FRESH
    store = opened(new_url, migrate="refuse")  # nothing to refuse: a new database is simply created
    assert store.schema_status.up_to_date
    assert recorded_revisions(store) == [migrations.HEAD]
    assert schema_diffs(store) == []
    add_thread(store)
    with store.read() as session:
        assert [t.id for t in st.all_threads(session)] == ["t1"]
        if new_url.startswith("sqlite"):  # the migration switched them off for its duration only
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    assert st.database_status(new_url).state == migrations.CURRENT


def test_downgrading_to_nothing_and_upgrading_again_round_trips(new_url: str,
                                                                opened: Callable[..., st.Store]) -> None:
    store = opened(new_url)
    with store.engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
    assert not has_table(new_url, "threads")
    with store.engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), "head")
    assert recorded_revisions(store) == [migrations.HEAD]
    assert schema_diffs(store) == []


def test_revision_0004_keeps_where_threads_were_seen_and_round_trips(new_url: str,
                                                                     opened: Callable[..., st.Store]) -> None:
    store = opened(new_url)
    with store.transaction() as session:
        session.add(st.Thread(id="t1", message_id="<t1@example.org>", subject="Quote", sent_at=NOW,
                              first_seen_at=NOW, seen_in=["Sent:42"]))
        session.add(st.Thread(id="t2", message_id="<t2@example.org>", subject="Plan", sent_at=NOW,
                              first_seen_at=NOW, seen_in=["Sent:43"], source=st.SOURCE_AUTO,
                              evidence="Could you send me the quote by Friday?"))
        session.flush()
        st.add_event(session, session.get(st.Thread, "t1"), at=NOW, kind="tracked", detail="from Sent:42")
    with store.engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "0003")
    assert not has_table(new_url, "suggestions") and not has_table(new_url, "owed")
    with store.engine.connect() as conn:  # the threads' children survive (no table copy under ON DELETE CASCADE)
        assert conn.execute(text("SELECT thread_id FROM events")).all() == [("t1",)]
    engine = create_engine(new_url)
    try:
        with engine.connect() as conn:  # 0003's column is back, with its values
            rows = sorted(conn.execute(text("SELECT id, source FROM threads")).all())
    finally:
        engine.dispose()
    assert [(ident, json.loads(seen) if isinstance(seen, str) else seen) for ident, seen in rows] == \
        [("t1", ["Sent:42"]), ("t2", ["Sent:43"])]
    with store.engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), "head")
    assert schema_diffs(store) == []
    with store.read() as session:  # the way it started is not known to 0003: every thread is "bcc" again
        assert sorted((t.id, t.seen_in, t.source, t.evidence) for t in st.all_threads(session)) == \
            [("t1", ["Sent:42"], "bcc", None), ("t2", ["Sent:43"], "bcc", None)]
    with store.transaction() as session:  # and the new tables take rows
        session.add(st.Suggestion(id="s1", account="a", message_id="<m@x>", sent_at=NOW, created_at=NOW,
                                  state="open", recipients=["Bob <bob@example.org>"]))
        session.add(st.Owed(id="o1", account="a", message_id="<m@x>", received_at=NOW, created_at=NOW,
                            state="open", thread_refs=["<m@x>"]))


def test_a_database_at_an_older_revision_is_refused_or_upgraded_as_configured(
        new_url: str, opened: Callable[..., st.Store]) -> None:
    store = opened(new_url)
    add_thread(store)
    with store.engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), migrations.BASELINE)
    store.dispose()
    status = st.database_status(new_url)
    assert (status.state, status.current, [rev for rev, _ in status.pending]) == \
        (migrations.OUTDATED, "0001", ["0002", "0003", "0004"])
    with pytest.raises(StoreError, match=r"at revision 0001 but this followupd needs revision 0004; .*"
                                         r"`followupd db upgrade`"):
        st.Store(new_url, migrate="refuse")
    upgraded = opened(new_url, migrate="auto")
    assert recorded_revisions(upgraded) == [migrations.HEAD]
    assert schema_diffs(upgraded) == []
    with upgraded.read() as session:
        assert [t.id for t in st.all_threads(session)] == ["t1"]


def test_several_processes_opening_one_new_database_at_once_all_succeed(new_url: str,
                                                                        opened: Callable[..., st.Store]) -> None:
    code = "import sys; from followupd.adapters.store import Store; Store(sys.argv[1]).dispose()"
    procs = [subprocess.Popen([sys.executable, "-c", code, new_url], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errors = [(proc.wait(timeout=60), proc.stderr.read() if proc.stderr else "") for proc in procs]
    assert all(code == 0 for code, _ in errors), errors
    assert recorded_revisions(opened(new_url)) == [migrations.HEAD]


def test_threads_opening_one_new_database_at_once_all_succeed(new_url: str) -> None:
    failures: list[BaseException] = []
    stores: list[st.Store] = []

    def open_one() -> None:
        try:
            stores.append(st.Store(new_url))
        except BaseException as exc:
            failures.append(exc)

    workers = [threading.Thread(target=open_one) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    for store in stores:
        store.dispose()
    assert failures == []


# ---------------------------------------------------------------------------------------------------- release 0.1.0


def test_revision_0001_is_exactly_the_schema_release_0_1_0_made_on_sqlite(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'baseline.db'}")
    with engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), migrations.BASELINE)
    engine.dispose()

    def ddl(path: Path) -> list[tuple[str, ...]]:
        with sqlite3.connect(path) as conn:
            return conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master "
                                "WHERE name NOT LIKE '%alembic%' ORDER BY name").fetchall()

    assert ddl(tmp_path / "baseline.db") == ddl(DATA / "release-0.1.0.sqlite")


def test_revision_0001_is_exactly_the_schema_release_0_1_0_made_on_postgresql(postgres: Any) -> None:
    old = postgres.create_database().rsplit("/", 1)[1]
    postgres.run_sql(old, (DATA / "release-0.1.0.postgres.sql").read_text())
    new_url = postgres.create_database()
    engine = create_engine(new_url)
    with engine.begin() as conn:
        command.upgrade(migrations.alembic_config(conn), migrations.BASELINE)
        conn.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    assert postgres.dump_schema(new_url.rsplit("/", 1)[1]) == postgres.dump_schema(old)


def test_a_release_0_1_0_database_is_upgraded_and_keeps_every_row(legacy: tuple[str, Path],
                                                                  opened: Callable[..., st.Store]) -> None:
    url, _status = legacy
    before = all_rows(url)
    assert sum(len(rows) for rows in before.values()) > 20  # the fixture really holds a scenario's worth
    assert {name for name, rows in before.items() if not rows} == set()  # and something in every table
    assert st.database_status(url).state == migrations.LEGACY

    store = opened(url)

    assert store.schema_status.up_to_date
    assert recorded_revisions(store) == [migrations.HEAD]
    after = all_rows(url)
    # revision 0004 renamed threads.source (where it was seen) to seen_in, in place, and added source ("bcc":
    # every 0.1.0 thread was BCC'd) and evidence (none) at the end: every old value is still there.
    assert after["threads"] == sorted(((*row, "bcc", None) for row in before["threads"]), key=repr)
    assert {name: rows for name, rows in after.items() if name != "threads"} == \
        {name: rows for name, rows in before.items() if name != "threads"}
    assert schema_diffs(store) == []
    with store.read() as session:  # and the models read it: relationships, JSON columns, aware times
        threads = st.all_threads(session)
        assert {t.state for t in threads} == {st.WAITING, st.REPLIED}
        assert sum(len(t.touch_rows) for t in threads) == 3
        assert all(t.sent_at.tzinfo is not None for t in threads)
        assert all(t.source == "bcc" and t.evidence is None and t.seen_in for t in threads)


def test_status_json_on_a_release_0_1_0_database_shows_the_same_threads(legacy: tuple[str, Path],
                                                                        tmp_path: Path) -> None:
    url, status_file = legacy
    config = write_config(tmp_path / "cfg", url)
    result = followupd(config, "status", "--json")
    assert result.returncode == 0, result.stderr
    now = {thread["id"]: thread for thread in json.loads(result.stdout)}
    then = json.loads(status_file.read_text())
    assert sorted(now) == sorted(thread["id"] for thread in then)
    for thread in then:  # fields are added over time, never renamed or changed
        assert {key: now[thread["id"]].get(key) for key in thread} == thread


def test_refuse_leaves_a_release_0_1_0_database_alone_and_names_the_command(
        legacy: tuple[str, Path]) -> None:
    url, _status = legacy
    before = all_rows(url)
    with pytest.raises(StoreError) as caught:
        st.Store(url, migrate="refuse")
    message = str(caught.value)
    assert "revision 0001" in message and f"needs revision {migrations.HEAD}" in message
    assert "`followupd db upgrade`" in message and 'migrate = "auto"' in message
    assert not has_table(url, "alembic_version")
    assert all_rows(url) == before


def test_db_upgrade_from_the_cli_after_a_refusal(legacy: tuple[str, Path], tmp_path: Path) -> None:
    url, status_file = legacy
    config = write_config(tmp_path / "cfg", url, 'migrate = "refuse"')

    refused = followupd(config, "status", "--json")
    assert refused.returncode == 3
    assert "followupd db upgrade" in refused.stderr and "Traceback" not in refused.stderr
    daemon = followupd(config, "run")  # the daemon refuses to start, before it connects anywhere
    assert daemon.returncode == 3 and "followupd db upgrade" in daemon.stderr, daemon.stderr

    before = json.loads(followupd(config, "db", "status", "--json").stdout)
    assert [(e["state"], e["revision"], e["up_to_date"]) for e in before] == [("release-0.1.0", "0001", False)]
    assert [p["revision"] for p in before[0]["pending"]] == ["0002", "0003", "0004"]
    assert "password" not in json.dumps(before)

    upgraded = followupd(config, "db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    assert f"upgraded from revision 0001 to {migrations.HEAD}" in upgraded.stdout

    after = json.loads(followupd(config, "db", "status", "--json").stdout)
    assert [(e["state"], e["revision"], e["up_to_date"]) for e in after] == [("up-to-date", migrations.HEAD, True)]
    again = followupd(config, "db", "upgrade")
    assert f"already at revision {migrations.HEAD}" in again.stdout
    shown = followupd(config, "status", "--json")
    assert shown.returncode == 0, shown.stderr
    assert sorted(t["id"] for t in json.loads(shown.stdout)) == \
        sorted(t["id"] for t in json.loads(status_file.read_text()))


# ---------------------------------------------------------------------------------------------------- refusals


def test_a_database_from_a_newer_followupd_is_refused_and_left_untouched(new_url: str, tmp_path: Path) -> None:
    store = st.Store(new_url)
    add_thread(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.dispose()
    before = all_rows(new_url)
    for mode in ("auto", "refuse"):
        with pytest.raises(StoreError) as caught:
            st.Store(new_url, migrate=mode)  # type: ignore[arg-type]
        assert "revision 0099" in str(caught.value) and "newer followupd" in str(caught.value)
    assert all_rows(new_url) == before
    engine = create_engine(new_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0099"
    engine.dispose()

    config = write_config(tmp_path / "cfg", new_url)
    status = json.loads(followupd(config, "db", "status", "--json").stdout)
    assert [(e["state"], e["revision"]) for e in status] == [("newer", "0099")]
    upgrade = followupd(config, "db", "upgrade")
    assert upgrade.returncode == 3 and "newer followupd" in upgrade.stderr


def test_tables_someone_else_made_are_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE threads (id INTEGER PRIMARY KEY, title TEXT)")
    with pytest.raises(StoreError, match="threads that followupd did not create"):
        st.Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert names == ["threads"]


def test_db_status_creates_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", f"sqlite:///{tmp_path / 'nothing-yet.db'}")
    result = followupd(config, "db", "status")
    assert result.returncode == 0, result.stderr
    assert f"creates it at revision {migrations.HEAD}" in result.stdout
    assert not (tmp_path / "nothing-yet.db").exists()


def test_a_schema_is_for_postgresql_only_and_a_plain_name(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        st.Store(url, schema="alice")
    with pytest.raises(ValueError, match="not a plain name"):
        st.Store("postgresql+psycopg://postgres@127.0.0.1:9/x", schema='alice"; DROP TABLE x; --')
    with pytest.raises(ValueError, match="migrate must be one of auto, refuse"):
        st.Store(url, migrate="sometimes")  # type: ignore[arg-type]
    assert not (tmp_path / "state.db").exists()

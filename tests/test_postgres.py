"""followupd on a real PostgreSQL: the end-to-end scenarios through the CLI, and per-account schemas.

The e2e tests imported below are the SQLite suite's own tests, collected here a second time: pytest resolves
their ``account`` fixture in this module, where it points ``[database] url`` at a fresh PostgreSQL database. So
the same user-visible behaviour (tracking, drafts, replies, crash safety) is held on both backends without a
copy of any test. The scenario written out below is the one the issue names, spelled out on its own so that it
stays here whatever happens to the imported ones.
"""

from __future__ import annotations

import email
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config
from mailfactory import make_message
from sqlalchemy import create_engine, inspect, text
from test_e2e_drafts import (  # noqa: F401  (collected again, on PostgreSQL)
    SENT_AT,
    only_draft,
    seed_sent,
    test_a_crash_at_any_step_never_duplicates_or_loses_a_draft,
    test_a_due_thread_gets_one_proper_reply_draft,
    test_a_reply_withdraws_the_waiting_draft_and_nothing_else,
    test_after_an_outage_each_thread_gets_one_draft_not_a_burst,
    test_sending_the_draft_counts_a_touch_and_the_next_one_varies,
    test_the_whole_sequence_ends_by_asking_and_then_closes_unanswered,
)
from test_e2e_tracking import (  # noqa: F401
    test_bcc_in_sent_starts_tracking_and_a_reply_closes_it,
    test_incremental_poll_reads_only_new_mail,
    test_uidvalidity_change_rescans_without_duplicates,
)

from followupd.adapters import store as st
from followupd.adapters.store import migrations

BOB = "bob@example.org"


@pytest.fixture
def pg_url(postgres: Any) -> str:
    return str(postgres.create_database())


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, pg_url: str) -> Account:
    """The e2e tests' account, with its state in PostgreSQL instead of an SQLite file."""
    workdir = tmp_path / "acct"
    text_ = default_config(mail_user, workdir).replace(f"sqlite:///{workdir / 'state.db'}", pg_url)
    assert pg_url in text_
    return Account(dovecot, mail_user, workdir, config_text=text_)


def test_track_draft_and_reply_through_the_cli_on_postgresql(account: Account, pg_url: str) -> None:
    tracked_id = seed_sent(account, subject="Quote for the garden shed")
    due = SENT_AT + timedelta(days=6)
    account.poll(now=due)
    [thread] = account.status()
    assert thread["state"] == "waiting" and thread["recipients"] == [BOB]
    draft = only_draft(account)
    assert draft["In-Reply-To"] == tracked_id
    assert [entry["message_id"] for entry in account.outbox()] == [draft["Message-ID"]]

    reply = make_message(from_=BOB, to=account.user.address, subject="Re: Quote for the garden shed",
                         in_reply_to=str(email.message_from_bytes(draft.as_bytes())["Message-ID"]))
    account.server.deliver_lmtp(account.user, reply)
    account.poll(now=due + timedelta(hours=1))

    [thread] = account.status()
    assert thread["state"] == "replied" and thread["replied_by"] == BOB
    assert account.drafts() == []  # the waiting draft was withdrawn
    # It all lives in PostgreSQL (and nowhere else): the rows are there, at the newest schema revision.
    assert not (account.workdir / "state.db").exists()
    engine = create_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT state FROM threads")).scalars().all() == ["replied"]
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == migrations.HEAD
    engine.dispose()


# ---------------------------------------------------------------------------------------------------- schemas


def test_two_schemas_in_one_database_keep_their_accounts_apart(pg_url: str) -> None:
    now = st.as_utc("2026-11-25T10:00:00")
    alice, bob = st.Store(pg_url, schema="acct_alice"), st.Store(pg_url, schema="acct_bob")
    try:
        for store, name in ((alice, "alice"), (bob, "bob")):
            assert store.schema_status.up_to_date
            with store.transaction() as session:
                session.add(st.Thread(id=f"{name}-1", message_id="<same@example.org>", subject=name, sent_at=now,
                                      first_seen_at=now))  # the same Message-ID: unique per schema only
                session.add(st.FolderCursor(folder="INBOX", uidvalidity=1, last_uid=7))
        with alice.read() as session:
            assert [t.id for t in st.all_threads(session)] == ["alice-1"]
        with bob.read() as session:
            assert [t.id for t in st.all_threads(session)] == ["bob-1"]
    finally:
        alice.dispose()
        bob.dispose()

    engine = create_engine(pg_url)
    try:
        found = inspect(engine)
        for schema in ("acct_alice", "acct_bob"):
            assert {"threads", "touches", "alembic_version"} <= set(found.get_table_names(schema=schema))
        assert found.get_table_names(schema="public") == []  # nothing leaked into the default schema
    finally:
        engine.dispose()
    # Reopened, each is at head already, and the status of each is read in its own schema.
    assert st.database_status(pg_url, schema="acct_alice").up_to_date
    assert st.database_status(pg_url, schema="acct_carol").state == migrations.FRESH
    assert st.database_status(pg_url).state == migrations.FRESH  # public: still empty


def test_a_schema_store_matches_the_models_and_survives_reconnects(pg_url: str, postgres: Any) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    store = st.Store(pg_url, schema="acct_x")
    try:
        with store.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert list(compare_metadata(context, st.Base.metadata)) == []
        # Server-side kill of every connection: the pool's next connection must get the search_path again.
        with postgres.connect() as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = %s AND pid <> pg_backend_pid()", (pg_url.rsplit("/", 1)[1],))
        store.engine.dispose()
        with store.transaction() as session:
            session.add(st.FolderCursor(folder="INBOX", uidvalidity=1, last_uid=1))
        with store.read() as session:
            assert session.execute(text("SELECT current_schema()")).scalar() == "acct_x"
            assert st.get_cursor(session, "INBOX") is not None
    finally:
        store.dispose()

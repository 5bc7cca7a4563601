"""The store's "known absent" shortcut (queries.known_absent): after a few dozen look-ups in one session, an
event or thread id found in neither the stored ids nor the rows added since skips its duplicate query. These
tests hold that it never skips a needed look-up: duplicates stay refused and ids added by any code path, before
or after the ids were read, by cascade or with autoflush off, are still found. And the
cycle's held threads (EventApplier.hold) stay bounded, a thread let go still found. Real SQLite, no server."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dovecot import MailUser
from harness import PASSWORD_ENV, default_config
from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.adapters.clock import FixedClock
from followupd.adapters.store import queries
from followupd.config import parse_config
from followupd.engine.context import BodyReader, CycleContext
from followupd.engine.events import EventApplier

T0 = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
PAST_THRESHOLD = queries._LOOKUPS_BEFORE_BULK + 5


@pytest.fixture
def store(tmp_path: Path) -> st.Store:
    return st.Store(f"sqlite:///{tmp_path / 'state.db'}")


def make_thread(session: Session, n: int) -> st.Thread:
    thread = st.Thread(id=f"t{n:05d}", message_id=f"<m{n}@x>", subject="s", from_email="me@x", from_name="",
                       to=[{"email": "bob@y", "name": ""}], cc=[], bcc=[], references=[], sent_at=T0,
                       first_seen_at=T0, tracking_address="me+f@x", tracking_suffix=None, promised=None,
                       problems=[], touches=0, seen_in=["Sent:1"], conversation_keys=[], kind=st.NUDGE,
                       expect_all=False)
    session.add(thread)
    return thread


def test_duplicate_events_are_refused_before_and_after_the_ids_are_read(store: st.Store) -> None:
    with store.transaction() as session:
        thread = make_thread(session, 1)
        session.flush()
        stored_before = "<stored-before@x>"
        assert st.add_event(session, thread, at=T0, kind="reply", message_id=stored_before)
        for n in range(PAST_THRESHOLD):  # new ids: each asks, until the ids are read in one query
            assert st.add_event(session, thread, at=T0, kind="reply", message_id=f"<r{n}@x>")
        assert session.info[("known_keys", "Event")]["keys"] is not None  # the shortcut is on now
        # Ids recorded before the shortcut (flushed by its query) and after it (pending) are still duplicates.
        assert not st.add_event(session, thread, at=T0, kind="reply", message_id=stored_before)
        assert not st.add_event(session, thread, at=T0, kind="reply", message_id=f"<r{PAST_THRESHOLD - 1}@x>")
        assert st.add_event(session, thread, at=T0, kind="reply", message_id="<brand-new@x>")
        assert not st.add_event(session, thread, at=T0, kind="reply", message_id="<brand-new@x>")
        # Another kind for the same message is no duplicate (the unique key is thread, kind, message).
        assert st.add_event(session, thread, at=T0, kind="auto_reply", message_id="<brand-new@x>")
        session.flush()  # the unique constraint agrees: nothing was added twice
    with store.read() as session:
        assert len(st.events_for(session, "t00001")) == PAST_THRESHOLD + 3


def test_events_stored_by_an_earlier_transaction_are_known(store: st.Store) -> None:
    with store.transaction() as session:
        thread = make_thread(session, 1)
        session.flush()
        st.add_event(session, thread, at=T0, kind="reply", message_id="<old@x>")
    with store.transaction() as session:
        thread = session.get(st.Thread, "t00001")
        assert thread is not None
        for n in range(PAST_THRESHOLD):
            st.add_event(session, thread, at=T0, kind="reply", message_id=f"<n{n}@x>")
        assert not st.add_event(session, thread, at=T0, kind="reply", message_id="<old@x>")


def test_thread_ids_added_any_way_are_found(store: st.Store) -> None:
    with store.transaction() as session:
        thread = make_thread(session, 1)
        session.flush()
        session.add(st.ThreadMessageId(message_id="<before@x>", thread_id=thread.id, role="tracked"))
        for n in range(PAST_THRESHOLD):
            assert st.message_id_row(session, f"<absent{n}@x>") is None
        assert st.message_id_row(session, "<before@x>") is not None
        # Added after the ids were read: directly, through the relationship (cascade), with autoflush off.
        session.add(st.ThreadMessageId(message_id="<direct@x>", thread_id=thread.id, role="reply"))
        thread.ids.append(st.ThreadMessageId(message_id="<cascade@x>", role="reply"))
        with session.no_autoflush:
            session.add(st.ThreadMessageId(message_id="<no-autoflush@x>", thread_id=thread.id, role="reply"))
        for mid in ("<direct@x>", "<cascade@x>", "<no-autoflush@x>"):
            assert st.message_id_row(session, mid) is not None, mid
        assert st.message_id_row(session, "<never@x>") is None


def test_ids_pending_with_autoflush_off_when_the_ids_are_read_are_known(store: st.Store) -> None:
    with store.transaction() as session:
        thread = make_thread(session, 1)
        session.flush()
        for n in range(queries._LOOKUPS_BEFORE_BULK - 1):
            st.message_id_row(session, f"<absent{n}@x>")
        with session.no_autoflush:
            session.add(st.ThreadMessageId(message_id="<pending@x>", thread_id=thread.id, role="reply"))
            assert queries.known_absent(session, st.ThreadMessageId, ("<pending@x>",)) is False  # the reading one
            assert session.info[("known_keys", "ThreadMessageId")]["keys"] is not None
            assert queries.known_absent(session, st.ThreadMessageId, ("<pending@x>",)) is False
        assert queries.known_absent(session, st.ThreadMessageId, ("<elsewhere@x>",)) is True


def applier(tmp_path: Path) -> EventApplier:
    user = MailUser("127.0.0.1", 143, "me@example.test", "pw", 24)
    text = default_config(user, tmp_path).replace(f'password_env = "{PASSWORD_ENV}"', 'password_env = "PW"')
    config = parse_config(tomllib.loads(text), path=tmp_path / "config.toml", env={})
    return EventApplier(CycleContext(config, FixedClock(T0)), BodyReader(None))


def test_held_threads_are_bounded_and_a_let_go_thread_is_still_found(store: st.Store, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    events = applier(tmp_path)
    monkeypatch.setattr(EventApplier, "HELD_THREADS", 3)
    with store.transaction() as session:
        assert not events.may_exist(session, "t00001")  # nothing stored, nothing made yet
        for n in range(1, 6):
            events.hold(make_thread(session, n), made=True)
        session.flush()
        assert list(events._held) == ["t00003", "t00004", "t00005"]  # the most recently used three
        assert all(events.may_exist(session, f"t{n:05d}") for n in range(1, 6))  # made, held or not
        found = events.thread(session, "t00001")  # let go, still found (from the session or the database)
        assert found is not None and found.id == "t00001"
        assert list(events._held) == ["t00004", "t00005", "t00001"]
    fresh = applier(tmp_path)
    with store.read() as session:
        assert fresh.may_exist(session, "t00002") and not fresh.may_exist(session, "t00009")

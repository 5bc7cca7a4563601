"""``followupd status`` on SQLite reads with sqlite3 (``adapters/store/fastread``), without SQLAlchemy (issue 16
point 3); everything else goes through the Store as before. Both readers feed one shaping function, and these
tests hold what a user sees equal, byte for byte, on databases holding every kind of thread, follow-up,
reminder, recap item, mail-command problem and account health, with two accounts; and a database the fast
reader must not serve (an older revision) gets exactly the message it always got.

The databases are written with the store API (the ORM models, as the engine writes them), not by cycles: what
is compared is the reading and the shaping, and every state and field needs a row, which cycles would take
minutes of mail to reach.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from click.testing import CliRunner, Result
from dovecot import MailUser
from harness import accounts_config

from followupd.adapters import store as st
from followupd.adapters.store import fastread, migrations
from followupd.adapters.store.reports import Session
from followupd.cli import main, status_view
from followupd.cli.status_view import DRAFT_WAITING_STATES
from followupd.errors import StoreError
from followupd.planning.commands import ORPHANS_KEY, OrphanCommand, add_orphan
from followupd.runtime.app import build_apps
from followupd.runtime.health import HEALTH_KEY, record_failure, record_success

NOW = datetime(2026, 11, 12, 10, 0, tzinfo=UTC)  # a Thursday
KEYS = (HEALTH_KEY, ORPHANS_KEY)
ARGUMENTS = [["status"], ["status", "--all"], ["status", "--json"], ["status", "--all", "--json"],
             ["status", "--state", "closed"], ["status", "--state", "replied,failed"],
             ["status", "--state", "declined", "--json"], ["--account", "work", "status"],
             ["--account", "home", "status", "--all"], ["--account", "home", "status", "--json"]]


def _user(name: str) -> MailUser:
    return MailUser(host="127.0.0.1", port=9, username=f"alex@{name}.example", password="unused", lmtp_port=9)


def _person(number: int, *, name: bool = True) -> dict[str, str]:
    return {"email": f"p{number}@example.org", "name": f"Person Ñumber {number}" if name else ""}


def _seed_threads(session: Session, prefix: str) -> None:
    """One thread per state and kind, with the fields status shows set both ways (names and none, cc and bcc,
    probable replies, notes, problems, promises), two threads sent at the same second, and follow-ups waiting in
    Drafts (planned and queued) beside ones that do not wait."""
    sent = NOW - timedelta(days=9)
    specs: list[dict[str, object]] = [
        {"state": st.WAITING, "to": [_person(1)], "next_due": NOW + timedelta(days=2)},
        {"state": st.WAITING, "to": [_person(2), _person(3, name=False)], "cc": [_person(4)],
         "bcc": [_person(2)], "touches": 1, "steps": 1, "last_touch_at": NOW - timedelta(days=3),
         "next_due": NOW - timedelta(hours=5), "note": "ask how the move went",
         "subject": "A subject well over forty characters long, so that the table clips it"},
        {"state": st.WAITING, "to": [_person(5)], "next_due": NOW - timedelta(days=1), "expect_all": True,
         "answered_by": ["p6@example.org"], "cc": [_person(6)], "tracking_suffix": "5d"},
        {"state": st.REPLIED, "to": [_person(7)], "replied_at": NOW - timedelta(days=2),
         "replied_by": "p7@example.org", "state_reason": "reply from p7@example.org"},
        {"state": st.REPLIED, "to": [_person(8)], "replied_at": NOW - timedelta(days=1), "reply_probable": True,
         "replied_by": "p8@example.org", "state_reason": "probable reply (same subject)"},
        {"state": st.DECLINED, "to": [_person(9)], "state_reason": "\"no thanks, we went with another offer\""},
        {"state": st.FAILED, "to": [_person(10), _person(11)], "failed_recipients": ["p10@example.org"],
         "problems": ["bounced: p10@example.org (550 5.1.1 user unknown)"], "state_reason": "every recipient bounced"},
        {"state": st.UNANSWERED, "to": [_person(12)], "touches": 4, "steps": 4,
         "last_touch_at": NOW - timedelta(days=1), "state_reason": "no reply after 4 follow-ups"},
        {"state": st.STOPPED, "to": [_person(13)], "state_reason": "stopped from the CLI"},
        {"state": st.WAITING, "kind": st.COMMITMENT, "to": [_person(14)], "promised": date(2026, 11, 20),
         "tracking_suffix": "nov20", "next_due": NOW + timedelta(days=8), "subject": "I'll send the plans"},
        {"state": st.WAITING, "kind": st.ACTIONS, "to": [_person(15), _person(16)], "subject": "Recap: kickoff",
         "next_due": NOW + timedelta(days=1), "problems": ["an owner named \"Sam\" matched no recipient"]},
        {"state": st.REPLIED, "kind": st.ACTIONS, "to": [_person(17)], "subject": "Recap: review"},
        {"state": st.WAITING, "to": [], "subject": ""},
        {"state": st.WAITING, "to": [_person(18)], "source": st.SOURCE_AUTO, "next_due": NOW + timedelta(days=3),
         "evidence": "Could you send me the signed copy by Friday?"},
        {"state": st.REPLIED, "to": [_person(19)], "source": st.SOURCE_MANUAL, "tracking_suffix": "5d",
         "evidence": "¿Te viene bien el martes a las 10?", "replied_at": NOW - timedelta(hours=3)},
    ]
    for number, spec in enumerate(specs):
        thread_id = f"{prefix}{number:010x}"
        at = sent if number in (0, 1) else sent + timedelta(hours=number, microseconds=number * 7)
        session.add(st.Thread(id=thread_id, message_id=f"<{thread_id}@alex.example>", sent_at=at,
                              first_seen_at=at, from_email="alex@example.test",
                              **{"subject": f"Quote {number} für den Zaun", **spec}))
    session.flush()
    waiting = f"{prefix}{1:010x}"
    for number, state, drafted in ((1, st.TOUCH_SENT, NOW - timedelta(days=3)),
                                   (2, st.TOUCH_PLANNED, None), (3, st.TOUCH_QUEUED, NOW - timedelta(hours=4))):
        session.add(st.Touch(id=f"{waiting}-{number:03d}", thread_id=waiting, number=number, state=state,
                             created=NOW - timedelta(hours=6 - number), drafted_at=drafted))
    session.add(st.Touch(id=f"{prefix}{7:010x}-001", thread_id=f"{prefix}{7:010x}", number=1,
                         state=st.TOUCH_WITHDRAWN, created=NOW - timedelta(days=4)))
    commitment = f"{prefix}{9:010x}"
    session.add(st.Reminder(id=f"{commitment}.r001", thread_id=commitment, number=1, state=st.REMINDER_PLANNED,
                            created=NOW - timedelta(days=1)))
    recap, closed_recap = f"{prefix}{10:010x}", f"{prefix}{11:010x}"
    items = [
        (recap, 1, "p15@example.org", "Person 15", "send the drawings", date(2026, 11, 10), "open", []),
        (recap, 2, None, "Sam", "book the venue", None, "open", ["owner \"Sam\" matched no recipient"]),
        (recap, 3, "p16@example.org", "", "check the budget", date(2026, 11, 30), "done", []),
        (closed_recap, 1, "p17@example.org", "Person 17", "sign off", date(2026, 11, 1), "done", []),
    ]
    for thread_id, number, owner, owner_name, task, due, state, problems in items:
        session.add(st.ActionItem(id=f"{thread_id}.a{number:03d}", thread_id=thread_id, number=number,
                                  owner_email=owner, owner_name=owner_name, task=task, due=due, state=state,
                                  evidence=f"- {owner_name or owner}: {task}", problems=problems,
                                  created=NOW - timedelta(days=5)))


def _seed_meta(session: Session, *, degraded: bool) -> None:
    """The account's health (failing since yesterday, or fine) and two mail commands that were not applied (one
    recent, one too old to show)."""
    if degraded:
        record_failure(session, NOW - timedelta(days=1), "LOGIN failed: authentication failed")
        record_failure(session, NOW - timedelta(hours=2), "LOGIN failed: authentication failed")
    else:
        record_success(session, NOW - timedelta(days=3))
    orphans: str | None = None
    for message_id, days, problem in (("<old@x>", 40, "too old to show"), ("<new@x>", 2, "no thread has this id")):
        orphans = add_orphan(orphans, OrphanCommand(message_id=message_id, at=(NOW - timedelta(days=days)).isoformat(),
                                                    where="INBOX:42", suffix="stop", problem=problem))
    assert orphans is not None
    st.set_meta(session, ORPHANS_KEY, orphans)


@pytest.fixture
def two_accounts(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str], list[str]]]:
    """Two accounts (``work`` failing, ``home`` fine), each with its own SQLite file full of every state."""
    config, env = accounts_config({"work": _user("work"), "home": _user("home")}, tmp_path, now=NOW)
    urls = [app.config.database.url for app in build_apps(config, env)]
    for index, url in enumerate(urls):
        store = st.Store(url)
        try:
            with store.transaction() as session:
                _seed_threads(session, prefix=f"{index:x}a")
                _seed_meta(session, degraded=index == 0)
        finally:
            store.dispose()
    yield config, env, urls


def _status(config: Path, env: dict[str, str], args: list[str], *, fast: bool,
            monkeypatch: pytest.MonkeyPatch) -> Result:
    with monkeypatch.context() as patched:
        if not fast:
            patched.setattr(fastread, "status_data", lambda *_args, **_kwargs: None)
        return CliRunner().invoke(main, ["--config", str(config), *args], env=env)


def test_both_readers_show_the_same_status_text_and_json(two_accounts: tuple[Path, dict[str, str], list[str]],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    config, env, urls = two_accounts
    for url in urls:  # the fast reader does serve these databases (the equality below is not ORM vs ORM)
        data = fastread.status_data(url, None, DRAFT_WAITING_STATES, KEYS)
        assert data is not None and len(data.threads) == 15
    for args in ARGUMENTS:
        fast = _status(config, env, args, fast=True, monkeypatch=monkeypatch)
        orm = _status(config, env, args, fast=False, monkeypatch=monkeypatch)
        assert fast.exit_code == 0, (args, fast.output)
        assert orm.exit_code == 0, (args, orm.output)
        assert fast.output == orm.output, args
    shown = _status(config, env, ["status", "--all"], fast=True, monkeypatch=monkeypatch).output
    # What the comparison covered, as a user reads it.
    assert "account work: degraded since Wed 11 Nov 10:00 (2 failed cycle(s)): LOGIN failed" in shown
    assert "account home: ok" in shown
    assert "account work: command by mail +followup-stop (INBOX:42, written Tue 10 Nov 10:00) not applied: " \
           "no thread has this id" in shown and "too old to show" not in shown
    assert "draft waiting since Thu 12 Nov 06:00" in shown  # the queued draft, drafted after the planned one
    assert "replied (probable)" in shown and "declined" in shown and "unanswered" in shown
    assert "2 of 3 items open (1 overdue)" in shown and "a002: owner \"Sam\" matched no recipient" in shown
    assert "A subject well over forty characters lo…" in shown and "für den Zaun" in shown


def test_fast_reader_declines_a_database_at_an_older_revision_and_status_says_what_it_always_said(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, env = accounts_config({"work": _user("work")}, tmp_path, now=NOW)
    url = build_apps(config, env)[0].config.database.url
    store = st.Store(url)
    with store.transaction() as session:
        _seed_threads(session, prefix="0a")
    with store.engine.begin() as connection:  # as an older followupd left it
        command.downgrade(migrations.alembic_config(connection), "0002")
    store.dispose()
    assert fastread.status_data(url, None, DRAFT_WAITING_STATES, KEYS) is None

    refusing = config.read_text().replace("[database]\n", '[database]\nmigrate = "refuse"\n')
    (tmp_path / "refuse.toml").write_text(refusing)
    (tmp_path / "refuse.toml").chmod(0o600)
    with pytest.raises(StoreError) as caught:  # the Store's own refusal: the message `status` always printed
        st.Store(url, migrate="refuse")
    refused = CliRunner().invoke(main, ["--config", str(tmp_path / "refuse.toml"), "status"], env=env)
    assert refused.exit_code == 3
    assert refused.output == f"followupd: error: {caught.value}\n"
    assert f"at revision 0002 but this followupd needs revision {migrations.HEAD}" in refused.output

    # With migrate = "auto" (the default) the Store upgrades it, as it always did, and status shows it.
    upgraded = _status(config, env, ["status", "--all"], fast=True, monkeypatch=monkeypatch)
    assert upgraded.exit_code == 0, upgraded.output
    path = fastread.sqlite_file(url)
    assert path is not None
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrations.HEAD,)]
    again = _status(config, env, ["status", "--all"], fast=True, monkeypatch=monkeypatch)
    assert fastread.status_data(url, None, DRAFT_WAITING_STATES, KEYS) is not None
    assert again.output == upgraded.output and "für den Zaun" in again.output


def test_fast_reader_serves_only_plain_sqlite_files(tmp_path: Path) -> None:
    assert fastread.sqlite_file("sqlite:////var/lib/followupd/f.db") == Path("/var/lib/followupd/f.db")
    assert fastread.sqlite_file("sqlite+pysqlite:///rel/f.db") == Path("rel/f.db")
    for url in ("postgresql://u:p@h/db", "sqlite://", "sqlite:///:memory:", "sqlite:///a%20b.db",
                "sqlite:///f.db?mode=ro", "sqlite:///~/f.db", "sqlite+aiosqlite:///f.db"):
        assert fastread.sqlite_file(url) is None, url
    missing = f"sqlite:///{tmp_path / 'nothing-yet.db'}"  # the Store creates it: not fastread's job
    assert fastread.status_data(missing, None, DRAFT_WAITING_STATES, KEYS) is None
    assert not (tmp_path / "nothing-yet.db").exists()
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:  # someone else's database: no alembic_version table
        connection.execute("CREATE TABLE threads (id TEXT)")
    assert fastread.status_data(f"sqlite:///{other}", None, DRAFT_WAITING_STATES, KEYS) is None


def test_status_reads_the_meta_keys_their_owners_write() -> None:
    assert status_view.META_KEYS == (HEALTH_KEY, ORPHANS_KEY)  # status_view spells ORPHANS_KEY out (see there)


def test_fast_reader_reads_the_last_commit_while_a_cycle_writes(tmp_path: Path) -> None:
    """WAL: a cycle holding the write lock neither blocks `status` nor shows it half-written rows."""
    url = f"sqlite:///{tmp_path / 'state.db'}"
    store = st.Store(url)
    try:
        with store.transaction() as session:
            _seed_threads(session, prefix="0a")
        with store.transaction() as session:
            session.add(st.Thread(id="0b0000000000", message_id="<new@alex.example>", sent_at=NOW,
                                  first_seen_at=NOW, subject="not committed yet"))
            session.flush()  # written to the WAL, write lock held, not committed
            started = datetime.now(UTC)
            data = fastread.status_data(url, None, DRAFT_WAITING_STATES, KEYS)
            assert datetime.now(UTC) - started < timedelta(seconds=5)  # did not wait for the writer
            assert data is not None and len(data.threads) == 15
            assert "0b0000000000" not in {t.id for t in data.threads}
        data = fastread.status_data(url, None, DRAFT_WAITING_STATES, KEYS)
        assert data is not None and "0b0000000000" in {t.id for t in data.threads}
    finally:
        store.dispose()


def test_the_store_package_still_gives_every_name_it_lists() -> None:
    """Its names load on first use (so fastread imports without SQLAlchemy); each still resolves, from the
    module that defines it."""
    import importlib

    package = importlib.import_module("followupd.adapters.store")
    assert sorted(package._HOME) == sorted(package.__all__)
    for name in package.__all__:
        home = importlib.import_module(f"followupd.adapters.store.{package._HOME[name]}")
        assert getattr(package, name) is getattr(home, name), name
    with pytest.raises(AttributeError):
        package.NoSuchName  # noqa: B018

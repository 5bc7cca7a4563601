"""The engine's half of learned names (followupd.engine.names): what a cycle's headers teach, stored in a real
(SQLite) state database, looked up for a greeting, and kept bounded. No mail server: the headers are parsed
from bytes as the sync parses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from mailfactory import make_message

from followupd.adapters import store as st
from followupd.engine import names
from followupd.engine.context import SeenMessage
from followupd.mail.headers import Address, parse_headers

ME = "alex@example.net"
OWN = frozenset({ME})
BOB = "bob@example.com"
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> st.Store:
    return st.Store(f"sqlite:///{tmp_path / 'state.db'}")


def seen(*, sent: bool = False, when: datetime = T0, **headers: str) -> SeenMessage:
    raw = make_message(date=when, **headers)
    return SeenMessage("Sent" if sent else "INBOX", 1, parse_headers(raw), when, sent)


def learn_and_look(store: st.Store, batch: list[SeenMessage], who: str = BOB) -> tuple[str, str] | None:
    learner = names.NameLearner(OWN)
    learner.observe(batch)
    with store.transaction() as session:
        learner.save(session)
    with store.read() as session:
        return names.known_name(session, who)


def test_their_own_from_beats_the_name_the_user_typed(store: st.Store) -> None:
    typed = seen(sent=True, from_=ME, to=f"Bobby <{BOB}>", when=T0 + timedelta(days=2))
    own = seen(from_=f'"Bob Builder" <{BOB}>', to=ME)
    assert learn_and_look(store, [typed]) == ("Bobby", "given")
    assert learn_and_look(store, [own]) == ("Bob Builder", "own")


def test_only_personal_mail_from_others_teaches_a_name(store: st.Store) -> None:
    batch = [
        seen(from_=f"Bob Builder <{BOB}>", to=ME, list_id="<garden.lists.example.com>"),  # a list's rewrite
        seen(from_=f"Bob Builder <{BOB}>", to=ME, auto_submitted="auto-replied"),              # a robot wrote it
        seen(from_=f"Alex Example <{ME}>", to=BOB),                                          # the user, not Bob
        seen(sent=True, from_=f"Somebody <{BOB}>", to=f"Bob Builder <{ME}>"),                # not the user's mail
    ]
    assert learn_and_look(store, batch) is None
    assert learn_and_look(store, [], who=ME) is None  # the user's own name is never learned as a recipient's


def test_a_bare_recipient_is_named_and_a_named_one_kept(store: st.Store) -> None:
    learn_and_look(store, [seen(from_=f"Bob Builder <{BOB}>", to=ME)])
    with store.read() as session:
        named = names.named_recipients(session, [Address(BOB), Address("cy@example.com", "Cy Young"),
                                                 Address("dee@example.com")])
        assert named == (Address(BOB, "Bob Builder"), Address("cy@example.com", "Cy Young"),
                         Address("dee@example.com"))
        mine = names.named_recipients(session, [Address(BOB, "Robert")])
        assert mine == (Address(BOB, "Robert"),)  # the name the tracked message gave wins
        assert names.learned_for(session, [Address(BOB), Address(BOB, "Robert")]) == [(BOB, "Bob Builder", "own")]


def test_the_number_of_people_kept_is_bounded(store: st.Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(names, "MAX_PEOPLE", 10)
    monkeypatch.setattr(names, "PRUNE_TO", 8)
    batch = [seen(from_=f"Person Number{i} <p{i}@example.com>", to=ME, when=T0 + timedelta(hours=i))
             for i in range(12)]
    learn_and_look(store, batch)
    with store.read() as session:
        kept = [i for i in range(12) if names.known_name(session, f"p{i}@example.com") is not None]
    assert kept == list(range(4, 12))  # the least recently seen were forgotten first

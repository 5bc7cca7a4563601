"""End to end: awaiting a reply without the BCC (issue 14 point 2) on a real Dovecot, through the real command.

Alex sends mail from their client (a message APPENDed to Sent, as a client saving its copy would); replies
arrive by LMTP. The clock is pinned with FOLLOWUPD_NOW. What a user notices is checked through the CLI
(``suggestions``, ``status``, ``explain``, ``outbox``) and the Drafts folder; what followupd asked the server
is counted by a loopback proxy between the two.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config
from mailfactory import make_message
from netproxy import LoopbackProxy

BOB = "bob@example.org"
CAROL = "carol@colleague.example.com"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday
QUESTION = "Could you send me the quote by Friday?"


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[LoopbackProxy]:
    with LoopbackProxy(dovecot.host, dovecot.imap_port) as running:
        yield running


def make_account(dovecot: DovecotServer, user: MailUser, workdir: Path, *, auto: str | None,
                 tracking_extra: str = "", port: int | None = None) -> Account:
    """An account whose [tracking] has ``auto`` (None: the key left out, as in every existing config)."""
    text = default_config(user, workdir)
    local, _, domain = user.address.partition("@")
    address_line = f'address = "{local}+followup@{domain}"\n'
    assert address_line in text
    keys = (f'auto = "{auto}"\n' if auto is not None else "") + tracking_extra
    text = text.replace(address_line, address_line + keys)
    if port is not None:
        text = text.replace(f"port = {user.port}\n", f"port = {port}\n")
    return Account(dovecot, user, workdir, config_text=text)


@pytest.fixture
def suggest(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return make_account(dovecot, mail_user, tmp_path / "acct", auto="suggest")


def send(account: Account, *, body: str = f"Hi Bob,\n\n{QUESTION}\n\nThanks,\nAlex\n",
         subject: str = "Quote for the garden shed", to: str = f"Bob Builder <{BOB}>",
         when: datetime = NOW - timedelta(days=1), **headers: str) -> str:
    """Alex's client saves a sent message in Sent; returns its Message-ID."""
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=when,
                       body=body, **headers)
    account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    return next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                if line.lower().startswith("message-id:"))


def suggestions(account: Account, now: datetime = NOW) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(account.run("suggestions", "--json", now=now).stdout)
    return result


def explain(account: Account, thread_id: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(account.run("explain", thread_id, "--json", now=NOW).stdout)
    return result


# ---------------------------------------------------------------------------------------------------- off


def body_tripwire(proxy: LoopbackProxy) -> Any:
    """A fault that cuts the connection the moment followupd asks for a whole message (``BODY.PEEK[]``):
    a poll that reads a body fails, and ``fired`` says so."""
    from netproxy import Fault

    return proxy.add_fault(Fault(b"BODY.PEEK[]", seen_from="client", acts_on="client", after=0, times=100))


def test_off_by_default_nothing_is_read_suggested_or_tracked(dovecot: DovecotServer, mail_user: MailUser,
                                                             tmp_path: Path, proxy: LoopbackProxy) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto=None, port=proxy.port)
    tripwire = body_tripwire(proxy)
    send(account)
    account.poll(now=NOW)
    assert proxy.commands.get("UID FETCH", 0) >= 1  # the headers were read...
    assert tripwire.fired == 0  # ...and no body
    assert account.status() == []
    assert suggestions(account) == []
    assert 'auto = "suggest"' in account.run("suggestions", now=NOW).stdout


# ---------------------------------------------------------------------------------------------------- suggest


def test_a_question_sent_without_the_bcc_is_suggested_with_its_evidence(suggest: Account) -> None:
    message_id = send(suggest)
    suggest.poll(now=NOW)
    assert suggest.status() == []  # a suggestion is not a thread
    (entry,) = suggestions(suggest)
    assert entry["message_id"] == message_id
    assert entry["subject"] == "Quote for the garden shed"
    assert entry["recipients"] == [f"Bob Builder <{BOB}>"]
    assert entry["evidence"] == QUESTION
    assert datetime.fromisoformat(entry["sent_at"]) == NOW - timedelta(days=1)
    text = suggest.run("suggestions", now=NOW).stdout
    assert entry["id"] in text and "Could you send me the quote" in text
    suggest.poll(now=NOW + timedelta(minutes=5))  # read again: still one
    assert [e["id"] for e in suggestions(suggest)] == [entry["id"]]

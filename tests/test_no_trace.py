"""Issue 18, point 1: what reaches a recipient carries no trace of followupd, and followupd still knows its own.

Real parts: the real ``followupd`` command, a real Dovecot and the real SMTP sink (tests/smtpsink.py), whose
received bytes are exactly what a recipient's server would get. Drafts appended by an older version (marker
header, ``<followupd.…>`` Message-ID) are made by hand the way that version wrote them, in the database and in
Drafts, and must still be recognised, sent without their marker, and never sent twice.
"""

from __future__ import annotations

import email
import email.utils
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message
from smtpsink import SmtpSink

BOB = "bob@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DUE = SENT_AT + timedelta(days=6)
#: Thunderbird's shape: a random (version 4) UUID at the sender's domain.
CLIENT_LIKE_ID = r"<[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}@{domain}>"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, sink: SmtpSink) -> Account:
    acct = Account(dovecot, mail_user, tmp_path / "acct")
    acct.write_config(acct.config_text + f"""
[smtp]
host = "127.0.0.1"
port = {sink.port}
tls = "none"

[sending]
mode = "approve"
file_sent_copy = true
""")
    return acct


def seed(account: Account) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject="Quote for the garden shed", date=SENT_AT, bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def assert_no_trace(raw: bytes, domain: str) -> None:
    """Everything a curious recipient could look at: headers, Message-ID, MIME boundaries, User-Agent."""
    text = raw.decode("utf-8", "replace").lower()
    assert "followupd" not in text, raw.decode("utf-8", "replace")
    message = email.message_from_bytes(raw)
    assert not [name for name in message if name.lower().startswith("x-")], message.keys()
    for name in ("User-Agent", "X-Mailer", "Auto-Submitted", "Precedence"):
        assert message[name] is None, name
    assert b"===============" not in raw  # Python's own MIME boundary pattern
    assert re.fullmatch(CLIENT_LIKE_ID.replace("{domain}", re.escape(domain)), str(message["Message-ID"]).strip())


def test_a_sent_follow_up_carries_no_trace_and_is_recognised_once(account: Account, sink: SmtpSink) -> None:
    seed(account)
    account.poll(now=DUE)
    (entry,) = account.outbox()
    domain = account.user.address.partition("@")[2]
    (draft,) = account.drafts()
    assert_no_trace(draft.as_bytes(), domain)  # what the user would send from their own mail client

    account.run("outbox", "approve", entry["id"], now=DUE + timedelta(minutes=5))
    (delivered,) = sink.received
    assert_no_trace(delivered.data, domain)
    assert delivered.message["Message-ID"] == entry["message_id"]

    for minutes in (10, 20):  # the Sent copy is ours by its Message-ID: counted once, never sent again
        account.poll(now=DUE + timedelta(minutes=minutes))
    assert len(sink.received) == 1
    copies = [m for _u, _f, m in account.messages("Sent") if m["Message-ID"] == entry["message_id"]]
    assert len(copies) == 1
    assert account.drafts() == []
    assert account.status()[0]["touches"] == 1


def test_a_draft_the_user_sends_from_their_client_counts_as_the_touch(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    (uid, _flags, draft) = account.messages("Drafts")[0]
    # The mail client sends it: a copy in Sent (Date rewritten), the draft removed.
    del draft["Date"]
    draft["Date"] = email.utils.format_datetime(DUE + timedelta(hours=1))
    account.server.append(account.user, "Sent", draft.as_bytes(), date=DUE + timedelta(hours=1), flags=[b"\\Seen"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages([uid])
        client.uid_expunge([uid])
    account.poll(now=DUE + timedelta(hours=2))
    (entry,) = account.outbox("--all")
    assert entry["state"] == "sent"
    assert account.status()[0]["touches"] == 1
    assert "your follow-up" in account.run("explain", entry["thread_id"], now=DUE + timedelta(hours=2)).stdout


def _legacy(account: Account, entry: dict[str, object]) -> str:
    """Make the queued touch look as an older version left it: its recorded Message-ID in the old shape, and
    the draft in Drafts carrying that id and the X-Followupd-Id marker header."""
    domain = account.user.address.partition("@")[2]
    legacy_id = f"<followupd.{entry['thread_id']}.1@{domain}>"
    (uid, _flags, draft) = account.messages("Drafts")[0]
    del draft["Message-ID"]
    draft["Message-ID"] = legacy_id
    draft["X-Followupd-Id"] = str(entry["id"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages([uid])
        client.uid_expunge([uid])
    account.server.append(account.user, "Drafts", draft.as_bytes(), flags=[b"\\Draft"])
    with sqlite3.connect(account.workdir / "state.db") as db:
        db.execute("UPDATE touches SET message_id = ? WHERE id = ?", (legacy_id, entry["id"]))
        db.execute("UPDATE thread_message_ids SET message_id = ? WHERE message_id = ?",
                   (legacy_id, entry["message_id"]))
    return legacy_id


def test_a_draft_of_an_older_version_is_sent_without_its_marker_exactly_once(account: Account,
                                                                             sink: SmtpSink) -> None:
    seed(account)
    account.poll(now=DUE)
    (entry,) = account.outbox()
    legacy_id = _legacy(account, entry)
    account.poll(now=DUE + timedelta(minutes=1))
    assert len(account.drafts()) == 1  # found by its marker: not appended a second time

    account.run("outbox", "approve", entry["id"], now=DUE + timedelta(minutes=5))
    (delivered,) = sink.received
    assert_no_trace(delivered.data, account.user.address.partition("@")[2])
    new_id = str(delivered.message["Message-ID"])
    assert new_id != legacy_id
    for minutes in (10, 20):
        account.poll(now=DUE + timedelta(minutes=minutes))
    assert len(sink.received) == 1
    assert account.drafts() == []  # the old draft, found by its marker, is gone
    assert [m["Message-ID"] for _u, _f, m in account.messages("Sent")][1:] == [new_id]
    (done,) = account.outbox("--all")
    assert done["state"] == "sent" and done["message_id"] == new_id
    assert account.status()[0]["touches"] == 1


def test_a_draft_of_an_older_version_sent_by_the_user_still_counts(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    (entry,) = account.outbox()
    _legacy(account, entry)
    (uid, _flags, draft) = account.messages("Drafts")[0]
    account.server.append(account.user, "Sent", draft.as_bytes(), date=DUE + timedelta(hours=1), flags=[b"\\Seen"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages([uid])
        client.uid_expunge([uid])
    account.poll(now=DUE + timedelta(hours=2))
    assert account.outbox("--all")[0]["state"] == "sent"
    assert account.status()[0]["touches"] == 1

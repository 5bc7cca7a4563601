"""Bad input gets a clear error and nothing is lost: hostile mail never stops a cycle or hides a real reply."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import PASSWORD_ENV, Account
from mailfactory import make_message

from followupd.engine import events as engine_module
from followupd.runtime.app import build_app

BOB = "bob@example.org"
NOW = datetime.now(UTC)


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def hostile_messages(account: Account, tracked_id: str) -> list[bytes]:
    me = account.user.address.encode()
    return [
        b"",  # nothing at all
        b"\x00\x00\x00 garbage \xff\xfe\r\n\r\n",
        b"From: " + me + b"\r\nBcc: " + account.tracking.encode() + b"\r\nSubject: no message id\r\n\r\nhi\r\n",
        b"From: =?utf-8?q?Evil=0D=0ABcc=3A_x=40y?= <evil@example.org>\r\nSubject: =?utf-8?b?" + b"QQ==" * 5
        + b"?=\r\nIn-Reply-To: " + tracked_id.encode() + b"\r\nAuto-Submitted: auto-replied\r\n\r\nooo\r\n",
        b"From: bob@example.org\r\nSubject: huge\r\nX-Junk: " + b"a" * 200_000 + b"\r\n\r\nbody\r\n",
        b"From: bob@example.org\r\nMessage-ID: " + tracked_id.encode() + b"\r\nSubject: duplicate id\r\n\r\nx\r\n",
        b"From: carol@example.org\r\nMessage-ID: <loop@x>\r\nReferences: <loop@x> <loop@x> <loop@x>\r\n"
        b"In-Reply-To: <loop@x>\r\nSubject: loop\r\n\r\nx\r\n",
        b"From: \xe9\xe9\xe9 <bob@example.org\r\nTo: ,,,<>\r\nDate: yesterday-ish\r\nContent-Type: multipart/mixed\r\n"
        b"Subject: =?x-unknown?q?broken?=\r\n\r\n--nope\r\n",
    ]


def test_hostile_mail_is_skipped_and_the_real_reply_still_counts(account: Account) -> None:
    raw = make_message(from_=account.user.address, to=BOB, bcc=account.tracking, subject="Quote",
                       date=NOW - timedelta(days=1))
    tracked_id = next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                      if line.lower().startswith("message-id:"))
    account.server.append(account.user, "Sent", raw)
    for bad in hostile_messages(account, tracked_id):
        if bad:
            account.server.append(account.user, "INBOX", bad)
            account.server.append(account.user, "Sent", bad)
    reply = make_message(from_=BOB, to=account.user.address, subject="Re: Quote", in_reply_to=tracked_id)
    account.server.deliver_lmtp(account.user, reply)

    result = account.poll()
    assert "Traceback" not in result.stderr
    threads = {t["message_id"]: t for t in account.status()}
    assert threads[tracked_id]["state"] == "replied"
    assert threads[tracked_id]["replied_by"] == BOB


def test_a_message_that_breaks_processing_is_skipped_not_fatal(
        account: Account, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Fault injection: matching raises on one message; that message is logged and skipped, the rest lands."""
    raw = make_message(from_=account.user.address, to=BOB, bcc=account.tracking, subject="Quote",
                       date=NOW - timedelta(days=1))
    tracked_id = next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                      if line.lower().startswith("message-id:"))
    account.server.append(account.user, "Sent", raw)
    account.server.deliver_lmtp(account.user, make_message(from_=BOB, subject="poison", in_reply_to=tracked_id))
    account.server.deliver_lmtp(account.user, make_message(from_=BOB, subject="Re: Quote", in_reply_to=tracked_id))

    real_match = engine_module.match_message

    def match_or_explode(meta, *args, **kwargs):  # type: ignore[no-untyped-def]
        if meta.subject == "poison":
            raise RuntimeError("simulated bug on one message")
        return real_match(meta, *args, **kwargs)

    monkeypatch.setattr(engine_module, "match_message", match_or_explode)
    monkeypatch.setenv(PASSWORD_ENV, account.user.password)
    monkeypatch.setenv("XDG_DATA_HOME", str(account.workdir / "data"))
    app = build_app(account.config_path)
    with caplog.at_level(logging.ERROR):
        report = app.poll()
    assert report.skipped == 1
    assert "INBOX:1: could not process message" in caplog.text
    with app.store.read() as session:
        from followupd.adapters import store as st

        (thread,) = st.all_threads(session)
        assert thread.state == "replied"
        assert thread.replied_by == BOB

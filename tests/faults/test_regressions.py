"""Bugs the fault suite found, each pinned by a deterministic test.

1. kill -9 after SMTP accepted a follow-up, against a server that files its own Sent copy (Gmail, Office 365):
   the next cycle saw the copy in Sent and counted the touch as sent, as if the user had sent the draft from
   their mail client, so nothing removed the draft, which stayed in Drafts, ready to be sent a second time.
   (Found by test_kills.py::test_kill9_of_the_daemon_at_random_moments; fixed in engine._count_own_touch.)
2. A send cut off during SMTP DATA, later withdrawn because a reply came: its record said "withdrawn" and no
   more, though the recipient may well have it (fixed in drafts.withdraw_open_touches).
3. The same cut-off send, with the reply arriving before the next cycle: the recovery marked the follow-up of a
   replied thread "failed" and left its draft in Drafts, where the user could still send it after the reply
   (found with FOLLOWUPD_FAULT_SEED=2; fixed in sending.Sender._recover).
"""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config
from mailfactory import make_message
from smtpsink import SmtpSink

SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
DUE = SENT_AT + timedelta(days=6)


def test_an_interrupted_send_filed_by_the_server_leaves_no_draft_behind(
        dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, sink: SmtpSink) -> None:
    workdir = tmp_path / "acct"
    account = Account(dovecot, mail_user, workdir, config_text=default_config(mail_user, workdir, extra=f"""
[smtp]
host = "127.0.0.1"
port = {sink.port}
tls = "none"

[sending]
mode = "approve"
file_sent_copy = false
"""))
    sink.handler.on_accept = lambda data: dovecot.append(mail_user, "Sent", data, flags=[b"\\Seen"])  # Gmail-like
    dovecot.append(mail_user, "Sent", make_message(from_=f"Alex <{mail_user.address}>", to="bob@example.org",
                                                   bcc=account.tracking, subject="Quote", date=SENT_AT))
    account.poll(now=DUE)
    (entry,) = account.outbox()
    crashed = account.run("outbox", "approve", entry["id"], now=DUE, check=False, FOLLOWUPD_CRASH_AT="after_smtp")
    assert crashed.returncode == -9

    account.poll(now=DUE + timedelta(minutes=5))  # sees the server's copy in Sent
    account.poll(now=DUE + timedelta(minutes=10))

    assert len(sink.received) == 1
    assert account.drafts() == []  # the bug: the draft stayed, and the user could send it again
    (entry,) = account.outbox("--all")
    assert entry["state"] == "sent" and entry["sent_by_followupd"] is True
    assert account.status()[0]["touches"] == 1
    copies = [m for _u, _f, m in account.messages("Sent") if m["Message-ID"] == entry["message_id"]]
    assert len(copies) == 1
    assert email.message_from_bytes(sink.received[0].data)["Message-ID"] == copies[0]["Message-ID"]


@pytest.mark.parametrize("reply_first", [False, True], ids=["reply-after-recovery", "reply-before-recovery"])
def test_a_send_that_may_have_gone_out_then_a_reply(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                                    sink: SmtpSink, reply_first: bool) -> None:
    """2 and 3: whichever comes first, the recovery or the reply, the draft goes and the record says the
    follow-up may have reached them."""
    workdir = tmp_path / "acct"
    account = Account(dovecot, mail_user, workdir, config_text=default_config(mail_user, workdir, extra=f"""
[smtp]
host = "127.0.0.1"
port = {sink.port}
tls = "none"

[sending]
mode = "approve"
file_sent_copy = true
"""))
    raw = make_message(from_=f"Alex <{mail_user.address}>", to="bob@example.org", bcc=account.tracking,
                       subject="Quote", date=SENT_AT)
    dovecot.append(mail_user, "Sent", raw, flags=[b"\\Seen"])
    account.poll(now=DUE)
    (entry,) = account.outbox()
    crashed = account.run("outbox", "approve", entry["id"], now=DUE, check=False, FOLLOWUPD_CRASH_AT="after_smtp")
    assert crashed.returncode == -9
    reply = make_message(from_="bob@example.org", to=mail_user.address, subject="Re: Quote",
                         in_reply_to=str(email.message_from_bytes(raw)["Message-ID"]))
    if reply_first:
        dovecot.deliver_lmtp(mail_user, reply)
    account.poll(now=DUE + timedelta(minutes=5))
    if not reply_first:
        assert account.outbox("--all")[0]["state"] == "failed"
        dovecot.deliver_lmtp(mail_user, reply)
    account.poll(now=DUE + timedelta(minutes=10))
    account.poll(now=DUE + timedelta(minutes=15))

    assert len(sink.received) == 1
    assert account.status()[0]["state"] == "replied"
    (entry,) = account.outbox("--all")
    assert entry["state"] == "withdrawn"
    assert "may have reached them" in entry["outcome"]
    assert account.drafts() == []  # nothing left to send by mistake after the reply

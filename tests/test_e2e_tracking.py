"""End to end: the real ``followupd`` command against a real Dovecot, checked through a separate IMAP login.

Covers the foundation a user relies on: BCC'd mail becomes a tracked thread, replies close it whoever sends
them, automatic mail never does, the user's own nudge is a touch, and followupd never changes the user's mail.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

BOB = "bob@example.org"
NOW = datetime.now(UTC)


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def sent_message(account: Account, *, bcc: str | None = None, subject: str = "Quote for the garden shed",
                 to: str = f"Bob Builder <{BOB}>", when: datetime | None = None, **headers: str) -> tuple[bytes, str]:
    when = when or NOW - timedelta(days=1)
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=when,
                       **({"bcc": bcc} if bcc else {}), **headers)
    message_id = next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                      if line.lower().startswith("message-id:"))
    return raw, message_id


def seed_sent(account: Account, **kwargs: object) -> str:
    raw, message_id = sent_message(account, **kwargs)  # type: ignore[arg-type]
    account.server.append(account.user, "Sent", raw, date=kwargs.get("when") or NOW - timedelta(days=1),  # type: ignore[arg-type]
                          flags=[b"\\Seen"])
    return message_id


def test_bcc_in_sent_starts_tracking_and_a_reply_closes_it(account: Account) -> None:
    sent_at = NOW - timedelta(days=1)
    tracked_id = seed_sent(account, bcc=account.tracking_with("5d"), when=sent_at)
    seed_sent(account, subject="Lunch?", to="carol@example.org")  # no tracking address: never tracked

    account.poll()
    threads = account.status()
    assert len(threads) == 1
    thread = threads[0]
    assert thread["message_id"] == tracked_id
    assert thread["state"] == "waiting"
    assert thread["recipients"] == [BOB]  # the tracking address is never a participant
    assert thread["subject"] == "Quote for the garden shed"
    assert thread["touches"] == 0
    assert thread["problems"] == []
    due = datetime.fromisoformat(thread["next_due"])
    assert due.date() == (sent_at + timedelta(days=5)).date()  # the promise made up front

    reply = make_message(from_=f"Bob <{BOB}>", to=account.user.address, subject="Re: Quote for the garden shed",
                         in_reply_to=f'{tracked_id} (Alex\'s message of "{sent_at:%a, %d %b %Y}")')
    account.server.deliver_lmtp(account.user, reply, sender=BOB)
    account.poll()
    thread = account.status()[0]
    assert thread["state"] == "replied"
    assert thread["replied_by"] == BOB
    assert thread["reply_probable"] is False
    assert thread["next_due"] is None


def test_colleague_answering_in_the_thread_counts_as_a_reply(account: Account) -> None:
    tracked_id = seed_sent(account, bcc=account.tracking)
    account.poll()
    reply = make_message(from_="Dana <dana@example.org>", to=account.user.address, subject="RE: Quote",
                         in_reply_to="<unrelated@elsewhere>", references=f"<older@x.org> {tracked_id}")
    account.server.deliver_lmtp(account.user, reply)
    account.poll()
    assert account.status()[0]["state"] == "replied"
    assert account.status()[0]["replied_by"] == "dana@example.org"


def test_delivered_copy_and_sent_copy_make_one_thread(account: Account) -> None:
    raw, message_id = sent_message(account, bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, flags=[b"\\Seen"])
    delivered = raw.replace(b"Bcc: " + account.tracking.encode() + b"\r\n", b"")
    account.server.deliver_lmtp(account.user, delivered, sender=account.user.address, recipients=[account.tracking])
    account.poll()
    threads = account.status()
    assert [t["message_id"] for t in threads] == [message_id]


def test_delivered_copy_alone_starts_tracking(account: Account) -> None:
    raw, message_id = sent_message(account)  # no Bcc header survives delivery
    account.server.deliver_lmtp(account.user, raw, sender=account.user.address, recipients=[account.tracking])
    account.poll()
    threads = account.status()
    assert [t["message_id"] for t in threads] == [message_id]
    assert threads[0]["recipients"] == [BOB]


def test_reply_without_threading_headers_is_a_probable_reply(account: Account) -> None:
    seed_sent(account, bcc=account.tracking, when=NOW - timedelta(days=2))
    account.poll()
    reply = make_message(from_=BOB, to=account.user.address, subject="AW: Re: Quote for the garden shed",
                         date=NOW - timedelta(hours=1))
    account.server.deliver_lmtp(account.user, reply)
    account.poll()
    thread = account.status()[0]
    assert thread["state"] == "replied"
    assert thread["reply_probable"] is True


def test_automatic_mail_never_closes_a_thread(account: Account) -> None:
    tracked_id = seed_sent(account, bcc=account.tracking)
    account.poll()
    out_of_office = make_message(from_=BOB, to=account.user.address, subject="Automatic reply: Quote",
                                 in_reply_to=tracked_id, auto_submitted="auto-replied")
    exchange_ooo = make_message(from_=BOB, to=account.user.address, subject="Out of Office: Quote",
                                x_ms_exchange_parent_message_id=tracked_id,
                                x_ms_exchange_generated_message_source="Mailbox Rules Agent")
    bounce = make_message(from_="Mail Delivery System <MAILER-DAEMON@example.org>", to=account.user.address,
                          subject="Undelivered Mail Returned to Sender", references=tracked_id,
                          content_type='multipart/report; report-type=delivery-status; boundary="b1"',
                          body="--b1\r\nContent-Type: text/plain\r\n\r\nfailed\r\n--b1--\r\n")
    receipt = make_message(from_=BOB, to=account.user.address, subject="Read: Quote", in_reply_to=tracked_id,
                           content_type='multipart/report; report-type=disposition-notification; boundary="b2"',
                           body="--b2\r\nContent-Type: text/plain\r\n\r\nread\r\n--b2--\r\n")
    list_mail = make_message(from_=BOB, to="list@example.org", subject="Re: Quote", in_reply_to=tracked_id,
                             list_id="<garden.example.org>")
    for raw in (out_of_office, exchange_ooo, bounce, receipt, list_mail):
        account.server.deliver_lmtp(account.user, raw)
    result = account.poll()
    thread = account.status()[0]
    assert thread["state"] == "waiting", result.stderr
    assert thread["next_due"] is not None


def test_users_own_message_in_the_thread_is_a_touch_not_a_reply(account: Account) -> None:
    tracked_id = seed_sent(account, bcc=account.tracking, when=NOW - timedelta(days=6))
    account.poll()
    before = datetime.fromisoformat(account.status()[0]["next_due"])
    nudge = make_message(from_=account.user.address, to=BOB, subject="Re: Quote for the garden shed",
                         in_reply_to=tracked_id, references=tracked_id, date=NOW - timedelta(hours=2))
    account.server.append(account.user, "Sent", nudge, flags=[b"\\Seen"])
    account.poll()
    thread = account.status()[0]
    assert thread["state"] == "waiting"
    assert thread["touches"] == 1
    assert datetime.fromisoformat(thread["next_due"]) > before  # the next check-in moved out


def test_unparseable_suffix_is_tracked_with_the_default_and_the_problem_shown(account: Account) -> None:
    seed_sent(account, bcc=account.tracking_with("someday"))
    account.poll()
    thread = account.status()[0]
    assert thread["state"] == "waiting"
    assert thread["next_due"] is not None
    assert any("someday" in problem for problem in thread["problems"])
    table = account.run("status").stdout
    assert "someday" in table


def test_followupd_never_changes_the_users_mail(account: Account) -> None:
    tracked_id = seed_sent(account, bcc=account.tracking)
    unread_reply = make_message(from_=BOB, to=account.user.address, subject="Re: Quote", in_reply_to=tracked_id)
    account.server.deliver_lmtp(account.user, unread_reply)
    account.server.deliver_lmtp(account.user, make_message(from_="x@example.org", subject="unrelated"))
    before = account.server.snapshot(account.user)
    account.poll()
    account.poll()
    assert account.server.snapshot(account.user) == before  # no \Seen, nothing moved, nothing added
    assert account.status()[0]["state"] == "replied"


def test_dry_run_writes_nothing(account: Account) -> None:
    seed_sent(account, bcc=account.tracking, when=NOW - timedelta(days=30))
    before = account.server.snapshot(account.user)
    result = account.run("poll", "--dry-run")
    assert "1 new tracked thread" in result.stdout
    assert account.status() == []
    assert account.server.snapshot(account.user) == before
    account.poll()
    assert len(account.status()) == 1  # the dry run did not advance the cursors


def test_incremental_poll_reads_only_new_mail(account: Account) -> None:
    seed_sent(account, bcc=account.tracking)
    first = account.poll()
    assert "read 1 new message" in first.stdout
    again = account.poll()
    assert "read 0 new message" in again.stdout
    account.server.deliver_lmtp(account.user, make_message(from_="x@example.org", subject="hello"))
    third = account.poll()
    assert "read 1 new message" in third.stdout


def test_uidvalidity_change_rescans_without_duplicates(account: Account) -> None:
    account.write_config(account.config_text + '\n[folders]\nwatch = ["INBOX", "Archive"]\n')
    tracked_id = seed_sent(account, bcc=account.tracking)
    account.poll()
    with account.server.connect(account.user) as client:  # recreating a folder gives it a new UIDVALIDITY
        client.delete_folder("Archive")
        client.create_folder("Archive")
    reply = make_message(from_=BOB, to=account.user.address, subject="Re: Quote", in_reply_to=tracked_id)
    account.server.append(account.user, "Archive", reply)
    result = account.poll()
    assert "rescanned Archive" in result.stdout
    threads = account.status()
    assert len(threads) == 1
    assert threads[0]["state"] == "replied"


def test_bad_config_exits_2_and_names_the_key(account: Account) -> None:
    account.write_config(account.config_text.replace('tls = "none"', 'tls = "tsl"'))
    result = account.run("status", check=False)
    assert result.returncode == 2
    assert "[account] tls" in result.stderr and "tsl" in result.stderr and "starttls" in result.stderr
    assert "Traceback" not in result.stderr


def test_refused_login_exits_3_without_leaking_the_password(account: Account) -> None:
    result = account.run("poll", check=False, FOLLOWUPD_TEST_PASSWORD="wrong-secret-123")
    assert result.returncode == 3
    assert "wrong-secret-123" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_config_check_prints_the_resolved_folders(account: Account) -> None:
    result = account.run("config", "check")
    assert "sent folder: Sent" in result.stdout
    assert "drafts folder: Drafts" in result.stdout
    assert "watched folders: INBOX, Archive" in result.stdout


def test_a_message_dated_near_year_9999_costs_nothing_but_itself(account: Account) -> None:
    """A spoofed "From: you" with ``Date: Fri, 31 Dec 9999 23:30:00 -1200`` cannot be moved to the user's zone
    (OverflowError). The sync's body read-ahead judges every message of a batch before the per-message isolation
    does, so such a message once stopped the whole folder, every cycle; now it is read like any other."""
    tracked_id = seed_sent(account, bcc=account.tracking_with("5d"))
    odd = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject="Re: Quote for the garden shed", date="Fri, 31 Dec 9999 23:30:00 -1200")
    account.server.append(account.user, "INBOX", odd, date=NOW, flags=[])
    reply = make_message(from_=f"Bob Builder <{BOB}>", to=account.user.address, subject="Lunch",
                         date=NOW - timedelta(hours=1))
    account.server.append(account.user, "INBOX", reply, date=NOW, flags=[])

    account.poll()  # exit 0, and no internal error logged (tests/harness.py checks both)
    assert [t["message_id"] for t in account.status()] == [tracked_id]
    account.poll()  # the cursor moved past it: the next cycle is quiet, not stuck on the same message

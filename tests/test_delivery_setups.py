"""Delivery setups on a real Dovecot: which trace of a BCC'd tracking address survives, and what doctor says.

Run here for real: Dovecot's LMTP with several recipients in one transaction (exactly what Postfix's lmtp(8)
client does unless ``lmtp_destination_recipient_limit = 1``: it writes no Delivered-To), LMTP one recipient at a
time, the ``dovecot-lda`` binary (writes nothing; Postfix's pipe(8) ``flags=D`` adds the Delivered-To), and a
real Postfix (tests/postfix.py) relaying to Dovecot's LMTP before and after ``lmtp_destination_recipient_limit
= 1``, and delivering with virtual(8) into Dovecot's Maildir. Exim cannot be installed beside Postfix (both are
the system's mail-transport-agent), so its header shapes, like Gmail's and Fastmail's forwarding, come from
tests/test_traces.py's fixtures, appended here so the real FETCH field list is exercised too.
"""

from __future__ import annotations

import os
import smtplib
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message
from postfix import PostfixServer
from test_traces import EXIM_ENVELOPE_TO, EXIM_RECEIVED_FOR, FASTMAIL, GMAIL_FORWARD, POSTFIX_VIRTUAL, X_ENVELOPE_TO

from followupd.adapters.imap import Mailbox
from followupd.errors import MailboxError
from followupd.runtime.app import build_apps
from followupd.runtime.doctor import Check, diagnose

LDA = Path("/usr/lib/dovecot/dovecot-lda")  # part of dovecot-core, installed with the test Dovecot
NOW = datetime.now(UTC)
BOB = "bob@example.org"


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def lmtp_transaction(server: DovecotServer, raw: bytes, *, sender: str, recipients: Sequence[str]) -> None:
    """One LMTP transaction with every recipient, as an MTA batching them does (RFC 2033 §4.2: one reply per
    recipient after DATA; smtplib reads only the first, so the others are read here)."""
    with smtplib.LMTP(server.host, server.lmtp_port, timeout=10) as lmtp:
        lmtp.ehlo_or_helo_if_needed()
        assert lmtp.mail(sender)[0] == 250
        for recipient in recipients:
            assert lmtp.rcpt(recipient)[0] == 250, recipient
        replies = [lmtp.data(raw)[0]] + [lmtp.getreply()[0] for _ in recipients[1:]]
    assert replies == [250] * len(recipients)


def lda(server: DovecotServer, user: MailUser, raw: bytes, *, recipient: str) -> None:
    """``dovecot-lda -d user -a recipient``, as a Postfix pipe(8) or Exim pipe transport runs it."""
    subprocess.run([str(LDA), "-c", str(server.directory / "dovecot.conf"), "-d", user.username, "-a", recipient,
                    "-f", user.address], input=raw, check=True, capture_output=True, timeout=30)


def message(account: Account, *, subject: str, to: str, bcc: str | None = None,
            received: bytes = b"") -> tuple[bytes, bytes]:
    """(Sent copy with Bcc, delivered copy: Bcc removed and the MTA's Received added on top)."""
    raw = make_message(from_=f"Alex <{account.user.address}>", to=to, subject=subject, date=NOW - timedelta(hours=1),
                       **({"bcc": bcc} if bcc else {}))
    delivered = b"".join(line for line in raw.splitlines(keepends=True) if not line.lower().startswith(b"bcc:"))
    return raw, received + delivered


def tracking_check(account: Account) -> Check:
    apps = build_apps(account.config_path, account.env(None))
    return next(check for check in diagnose(apps[0], timeout=5) if check.name == "tracking")


POSTFIX_RECEIVED = (b"Received: from laptop (localhost [127.0.0.1])\r\n\tby mail.example.test (Postfix) with "
                    b"ESMTPSA id 4ZbQ3k0XyZ;\r\n\tTue,  1 Dec 2026 09:00:01 +0000 (UTC)\r\n")


def test_self_test_through_batched_lmtp_names_the_postfix_fix_and_passes_once_it_is_applied(
        dovecot: DovecotServer, account: Account) -> None:
    user = account.user
    sent, delivered = message(account, subject="followupd self-test", to=user.address, bcc=account.tracking,
                              received=POSTFIX_RECEIVED)
    dovecot.append(user, "Sent", sent, flags=[b"\\Seen"])
    lmtp_transaction(dovecot, delivered, sender=user.address, recipients=[user.address, account.tracking])

    before = dovecot.snapshot(user)
    check = tracking_check(account)
    assert dovecot.snapshot(user) == before  # doctor reads the self-test header-only: nothing marked \Seen
    assert check.status == "warn", check
    assert "your self-test 'followupd self-test'" in check.detail
    assert f"2 copies in INBOX, Archive) but no copy names {account.tracking}" in check.detail
    assert "Postfix handed the message to Dovecot's LMTP together with other recipients" in check.detail
    assert "lmtp_destination_recipient_limit = 1" in check.advice
    assert "sieve_extensions = +editheader" in check.advice

    # The fix applied: one recipient per LMTP transaction, and Dovecot writes Delivered-To on each copy.
    sent, delivered = message(account, subject="followupd self-test 2", to=user.address, bcc=account.tracking,
                              received=POSTFIX_RECEIVED)
    dovecot.append(user, "Sent", sent, flags=[b"\\Seen"])
    for recipient in (user.address, account.tracking):
        lmtp_transaction(dovecot, delivered, sender=user.address, recipients=[recipient])
    check = tracking_check(account)
    assert check.status == "pass", check
    assert "'followupd self-test 2'" in check.detail and f"carrying {account.tracking} (Delivered-To)" in check.detail

    # Neither self-test is ever a thread, nor gets a draft, however long nobody "answers".
    account.poll()
    account.poll(now=NOW + timedelta(days=40))
    assert account.status() == []
    assert account.drafts() == []


def test_self_test_that_never_arrived_says_so(dovecot: DovecotServer, account: Account) -> None:
    sent, _ = message(account, subject="test to myself", to=account.user.address, bcc=account.tracking)
    dovecot.append(account.user, "Sent", sent, flags=[b"\\Seen"])
    check = tracking_check(account)
    assert check.status == "warn", check
    assert "has not arrived in INBOX, Archive" in check.detail
    assert "recipient_delimiter = +" in check.advice
    account.poll()
    assert account.status() == []


def test_dovecot_lda_writes_no_trace_and_postfix_pipe_flag_d_restores_it(dovecot: DovecotServer,
                                                                          account: Account) -> None:
    user = account.user
    # A self-test delivered by dovecot-lda alone: no Received, no Delivered-To on either copy.
    sent, delivered = message(account, subject="lda self-test", to=user.address, bcc=account.tracking)
    dovecot.append(user, "Sent", sent, flags=[b"\\Seen"])
    for recipient in (user.address, account.tracking):
        lda(dovecot, user, delivered, recipient=recipient)
    check = tracking_check(account)
    assert check.status == "warn", check
    assert "no Received header at all" in check.detail and "dovecot-lda" in check.detail
    assert "flags=DRhu" in check.advice

    # Mail to Bob whose Sent copy lost its Bcc: through bare dovecot-lda it cannot be tracked...
    _, untraced = message(account, subject="Quote without trace", to=f"Bob <{BOB}>")
    lda(dovecot, user, untraced, recipient=account.tracking)
    # ...through Postfix's pipe(8) with flags=D (it prepends Delivered-To: the recipient) it is.
    _, traced = message(account, subject="Quote with trace", to=f"Bob <{BOB}>")
    lda(dovecot, user, f"Delivered-To: {account.tracking}\r\n".encode() + traced, recipient=account.tracking)
    account.poll()
    assert [(t["subject"], t["recipients"]) for t in account.status()] == [("Quote with trace", [BOB])]


def test_trace_headers_of_other_setups_start_tracking_through_the_real_fetch(dovecot: DovecotServer,
                                                                            account: Account) -> None:
    local, _, domain = account.user.address.partition("@")
    shapes = {"postfix virtual": POSTFIX_VIRTUAL, "exim envelope-to": EXIM_ENVELOPE_TO,
              "exim received for": EXIM_RECEIVED_FOR, "gmail forward": GMAIL_FORWARD, "fastmail": FASTMAIL,
              "x-envelope-to": X_ENVELOPE_TO}
    for name, trace in shapes.items():
        mine = trace.replace(b"alex+followup", f"{local}+followup".encode()).replace(b"example.com",
                                                                                      domain.encode())
        _, delivered = message(account, subject=f"Quote via {name}", to=f"Bob <{BOB}>", received=mine)
        dovecot.append(account.user, "INBOX", delivered)
    account.poll()
    threads = account.status()
    assert sorted(t["subject"] for t in threads) == sorted(f"Quote via {name}" for name in shapes)
    assert all(t["recipients"] == [BOB] for t in threads)


# ------------------------------------------------------------------------------------------------ real Postfix


@pytest.fixture
def postfix(dovecot: DovecotServer) -> Iterator[PostfixServer]:
    """A real Postfix relaying the test domain to the session Dovecot's LMTP with its default batching."""
    if not PostfixServer.available():
        reason = "postfix is not installed (apt-get install postfix) or this is not root"
        if os.environ.get("CI") and os.geteuid() == 0:
            pytest.fail(f"{reason}; CI must run the Postfix test, not skip it", pytrace=False)
        pytest.skip(reason)
    with PostfixServer(domain=dovecot.domain, lmtp_port=dovecot.lmtp_port) as server:
        yield server


def submit(postfix: PostfixServer, raw: bytes, *, sender: str, recipients: Sequence[str]) -> None:
    with smtplib.SMTP(postfix.host, postfix.port, timeout=10) as smtp:
        assert smtp.sendmail(sender, list(recipients), raw) == {}


def wait_for(dovecot: DovecotServer, user: MailUser, count: int, timeout: float = 20.0) -> None:
    """Until INBOX holds ``count`` messages: Postfix delivers asynchronously after accepting."""
    deadline = time.monotonic() + timeout
    with dovecot.connect(user) as client:
        while True:
            client.select_folder("INBOX", readonly=True)
            if len(client.search("ALL")) >= count:
                return
            assert time.monotonic() < deadline, f"only {len(client.search('ALL'))} of {count} messages arrived"
            time.sleep(0.05)


def test_postfix_batching_lmtp_loses_the_trace_doctor_names_the_fix_and_it_works_once_applied(
        dovecot: DovecotServer, account: Account, postfix: PostfixServer) -> None:
    """The issue's setup: Bob on the same server, Bcc alice+followup@, a client that drops Bcc from its Sent copy."""
    user = account.user
    bob = dovecot.add_user()

    # A self-test (to yourself, tracking address in Bcc), kept in Sent; Postfix delivers both copies in one go.
    sent, delivered = message(account, subject="self-test via postfix", to=user.address, bcc=account.tracking)
    dovecot.append(user, "Sent", sent, flags=[b"\\Seen"])
    submit(postfix, delivered, sender=user.address, recipients=[user.address, account.tracking])
    # Mail to Bob, Bcc'd to the tracking address, whose Sent copy lost the Bcc: only the INBOX copy can tell.
    _, to_bob = message(account, subject="Quote, batched", to=f"Bob <{bob.address}>")
    submit(postfix, to_bob, sender=user.address, recipients=[bob.address, account.tracking])
    wait_for(dovecot, user, 3)

    check = tracking_check(account)
    assert check.status == "warn", check
    assert "Postfix handed the message to Dovecot's LMTP together with other recipients" in check.detail
    assert "lmtp_destination_recipient_limit = 1" in check.advice
    account.poll()
    assert account.status() == []  # no trace survived: nothing can be tracked, and doctor said why

    postfix.reconfigure(lmtp_destination_recipient_limit="1")
    sent, delivered = message(account, subject="self-test after the fix", to=user.address, bcc=account.tracking)
    dovecot.append(user, "Sent", sent, flags=[b"\\Seen"])
    submit(postfix, delivered, sender=user.address, recipients=[user.address, account.tracking])
    _, to_bob = message(account, subject="Quote, one recipient per transaction", to=f"Bob <{bob.address}>")
    submit(postfix, to_bob, sender=user.address, recipients=[bob.address, account.tracking])
    wait_for(dovecot, user, 6)

    check = tracking_check(account)
    assert check.status == "pass", check
    assert "'self-test after the fix'" in check.detail and "(Delivered-To)" in check.detail
    account.poll()
    threads = account.status()
    assert [(t["subject"], t["recipients"]) for t in threads] == [("Quote, one recipient per transaction",
                                                                   [bob.address])]


def test_narrow_received_fetch_reads_only_the_asked_messages_and_changes_nothing(dovecot: DovecotServer,
                                                                                  account: Account) -> None:
    user = account.user
    uids = [dovecot.append(user, "INBOX", make_message(subject=f"m{n}").replace(
        b"Subject:", f"Received: by mx{n}.example.test with ESMTP id {n} for <x{n}@example.test>; "
                     f"Tue, 1 Dec 2026 09:00:0{n} +0000\r\nSubject:".encode(), 1)) for n in range(3)]
    before = dovecot.snapshot(user)
    box = Mailbox.connect(host=user.host, port=user.port, tls="none", username=user.username,
                          password=user.password)
    try:
        uidvalidity = box.examine("INBOX").uidvalidity
        blocks = box.fetch_header_fields("INBOX", [uids[0], uids[2], 999_999], ["RECEIVED"],
                                         expect_uidvalidity=uidvalidity)
        with pytest.raises(MailboxError, match="UIDVALIDITY"):
            box.fetch_header_fields("INBOX", uids, ["RECEIVED"], expect_uidvalidity=uidvalidity + 1)
    finally:
        box.logout()
    assert sorted(blocks) == [uids[0], uids[2]]  # a vanished UID is simply absent
    assert b"for <x0@example.test>" in blocks[uids[0]] and b"Subject" not in blocks[uids[0]]
    assert dovecot.snapshot(user) == before  # PEEK: no \Seen, nothing moved


def test_client_without_bcc_in_sent_a_note_to_yourself_decides_only_without_other_proof(
        dovecot: DovecotServer, account: Account) -> None:
    user = account.user
    # The self-test of a client that keeps no Bcc in Sent: only the batched, trace-less INBOX copies exist.
    _, delivered = message(account, subject="note to self", to=user.address, received=POSTFIX_RECEIVED)
    lmtp_transaction(dovecot, delivered, sender=user.address, recipients=[user.address, account.tracking])
    check = tracking_check(account)
    assert check.status == "warn", check
    assert "your newest message to yourself 'note to self'" in check.detail
    assert "lmtp_destination_recipient_limit = 1" in check.advice
    # Once a delivered copy shows the address arrives, a note to yourself without it is just a note.
    _, tracked = message(account, subject="Quote", to=f"Bob <{BOB}>")
    dovecot.deliver_lmtp(user, tracked, sender=user.address, recipients=[account.tracking])
    _, note = message(account, subject="another note", to=user.address, received=POSTFIX_RECEIVED)
    lmtp_transaction(dovecot, note, sender=user.address, recipients=[user.address])
    check = tracking_check(account)
    assert check.status == "pass", check
    assert f"carry {account.tracking} (Delivered-To)" in check.detail


def test_postfix_virtual_delivery_writes_x_original_to_and_delivered_to_per_recipient(
        dovecot: DovecotServer, account: Account) -> None:
    """Postfix's virtual(8) into the Maildir Dovecot serves: one transaction with Bob and the tracking address
    still gives the INBOX copy its own Delivered-To and X-Original-To, so it is tracked without any Sent copy."""
    if not PostfixServer.available():
        pytest.skip("postfix is not installed (apt-get install postfix) or this is not root")
    user = account.user
    bob = dovecot.add_user()
    home = dovecot.directory / "mail" / user.username
    owner = home.stat()
    boxes = ", ".join(f"{u.username}={u.username}/Maildir/" for u in (user, bob))
    settings = {"virtual_mailbox_domains": dovecot.domain, "virtual_mailbox_base": str(home.parent),
                "virtual_mailbox_maps": f"inline:{{{boxes}}}", "virtual_uid_maps": f"static:{owner.st_uid}",
                "virtual_gid_maps": f"static:{owner.st_gid}", "virtual_minimum_uid": "1",
                "recipient_delimiter": "+"}
    with PostfixServer(domain="relay.invalid", lmtp_port=dovecot.lmtp_port, settings=settings) as postfix:
        _, to_bob = message(account, subject="Quote via virtual", to=f"Bob <{bob.address}>")
        submit(postfix, to_bob, sender=user.address, recipients=[bob.address, account.tracking_with("5d")])
        wait_for(dovecot, user, 1)
    [(_, _, copy)] = account.messages("INBOX")
    assert copy["X-Original-To"] == copy["Delivered-To"] == account.tracking_with("5d")
    account.poll()
    assert [(t["subject"], t["recipients"]) for t in account.status()] == [("Quote via virtual", [bob.address])]

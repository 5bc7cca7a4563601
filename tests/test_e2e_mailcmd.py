"""End to end: commands by mail (issue 15 point 3) on a real Dovecot, through the real ``followupd``.

The user replies to (or forwards) a tracked message to ``me+followup-stop@…``, ``-snooze-2w``, ``-done`` or a
date; the Sent copy and the delivered copy both arrive, and the command applies once. Time is pinned with
FOLLOWUPD_NOW; the mailbox is inspected through a separate IMAP connection.
"""

from __future__ import annotations

import email
import email.utils
import json
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message
from test_e2e_drafts import SENT_AT, seed_sent

BOB = "bob@example.org"
SUBJECT = "Quote for the garden shed"
DUE_DAY = SENT_AT + timedelta(days=5, hours=2)  # Monday 9 November 2026, noon: the first follow-up is due


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def command(account: Account, suffix: str, *, when: datetime, in_reply_to: str | None = None,
            sent: bool = True, delivered: bool = True, from_: str | None = None, body: str = "") -> str:
    """What a mail client files when the user replies to the tracked message, to the command address only:
    a Sent copy, and the copy delivered back to the user. Returns the command's Message-ID."""
    threading = {"in_reply_to": in_reply_to, "references": in_reply_to} if in_reply_to else {}
    raw = make_message(from_=from_ or f"Alex Example <{account.user.address}>", to=account.tracking_with(suffix),
                       subject=f"Re: {SUBJECT}", date=when, body=body or "stop please\n", **threading)
    return file_copies(account, raw, suffix, when=when, sent=sent, delivered=delivered,
                       sender=email.utils.parseaddr(from_)[1] if from_ else account.user.address)


def file_copies(account: Account, raw: bytes, suffix: str, *, when: datetime, sent: bool = True,
                delivered: bool = True, sender: str | None = None) -> str:
    if sent:
        account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    if delivered:
        account.server.deliver_lmtp(account.user, raw, sender=sender or account.user.address,
                                    recipients=[account.tracking_with(suffix)])
    return str(email.message_from_bytes(raw)["Message-ID"])


def timeline(account: Account, thread_id: str) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(account.run("explain", thread_id, "--json").stdout)["timeline"]
    return result


def only_thread(account: Account) -> dict[str, Any]:
    threads = account.status()
    assert len(threads) == 1, [t["subject"] for t in threads]
    return threads[0]


def test_a_reply_with_stop_stops_the_thread_withdraws_its_draft_and_applies_once(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=DUE_DAY)
    assert len(account.drafts()) == 1

    command_id = command(account, "stop", when=DUE_DAY + timedelta(hours=1), in_reply_to=tracked_id)
    account.poll(now=DUE_DAY + timedelta(hours=2))
    account.poll(now=DUE_DAY + timedelta(hours=3))  # a later cycle changes nothing

    thread = only_thread(account)  # no thread was started by the command itself
    assert thread["state"] == "stopped"
    assert thread["next_due"] is None
    assert account.drafts() == []  # the waiting follow-up left Drafts
    commands = [e for e in timeline(account, thread["id"]) if e["kind"] == "mail_command"]
    assert len(commands) == 1  # the Sent copy and the delivered copy: one command
    assert commands[0]["message_id"] == command_id
    assert "+followup-stop" in commands[0]["evidence"]
    assert "not applied" not in account.run("status", "--all").stdout  # the second copy is no "already stopped"


def test_snooze_2w_moves_the_next_check_in(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    assert datetime.fromisoformat(only_thread(account)["next_due"]).date().isoformat() == "2026-11-09"

    command(account, "snooze-2w", when=SENT_AT + timedelta(days=1), in_reply_to=tracked_id)
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    thread = only_thread(account)
    assert thread["state"] == "waiting"
    assert datetime.fromisoformat(thread["next_due"]).date().isoformat() == "2026-11-19"  # 5 Nov + 2 weeks
    account.poll(now=DUE_DAY)
    assert account.drafts() == []  # nothing on the old date


def test_a_date_suffix_on_a_reply_moves_the_first_check_in(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    command(account, "dec1", when=SENT_AT + timedelta(days=1), in_reply_to=tracked_id)
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    thread = only_thread(account)  # a reply about a tracked thread, to nobody else: no new thread
    assert thread["state"] == "waiting"
    assert datetime.fromisoformat(thread["next_due"]).date().isoformat() == "2026-12-01"
    assert [e["kind"] for e in timeline(account, thread["id"])].count("moved") == 1


def test_done_keeps_the_users_own_promise(account: Account) -> None:
    tracked_id = seed_sent(account, bcc=account.tracking_with("me-3d"))
    account.poll(now=SENT_AT + timedelta(hours=1))
    assert only_thread(account)["kind"] == "commitment"
    command(account, "done", when=SENT_AT + timedelta(days=1), in_reply_to=tracked_id)
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    thread = only_thread(account)
    assert thread["state"] == "replied"
    assert "kept your promise" in thread["state_reason"]
    account.poll(now=SENT_AT + timedelta(days=4))
    assert not [m for _uid, _flags, m in account.messages("INBOX") if m["X-Followupd-Id"]]  # no reminder came


def test_a_forward_as_attachment_names_the_thread(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=DUE_DAY)
    with account.server.connect(account.user) as client:  # the user forwards the Sent message as attachment
        client.select_folder("Sent", readonly=True)
        uid = client.search(["HEADER", "Message-ID", tracked_id])[0]
        original = client.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"]
    forward = EmailMessage(policy=default_policy)
    forward["From"] = f"Alex Example <{account.user.address}>"
    forward["To"] = account.tracking_with("stop")
    forward["Subject"] = f"FW: {SUBJECT}"
    forward["Date"] = email.utils.format_datetime(DUE_DAY + timedelta(hours=1))
    forward["Message-ID"] = email.utils.make_msgid(domain="example.com")
    forward.set_content("no need to chase this one\n")
    forward.add_attachment(email.message_from_bytes(original, policy=default_policy))  # message/rfc822
    file_copies(account, forward.as_bytes(), "stop", when=DUE_DAY + timedelta(hours=1))
    account.poll(now=DUE_DAY + timedelta(hours=2))
    assert only_thread(account)["state"] == "stopped"
    assert account.drafts() == []


def test_an_inline_gmail_forward_without_message_id_names_the_thread_by_subject_and_recipients(
        account: Account) -> None:
    seed_sent(account)
    seed_sent(account, subject="Something else entirely")
    account.poll(now=SENT_AT + timedelta(hours=1))
    body = (f"---------- Forwarded message ---------\nFrom: Alex Example <{account.user.address}>\n"
            f"Date: Wed, Nov 4, 2026 at 10:00 AM\nSubject: {SUBJECT}\nTo: Bob Builder <{BOB}>\n\n\nHi Bob\n")
    raw = make_message(from_=account.user.address, to=account.tracking_with("stop"), subject=f"Fwd: {SUBJECT}",
                       date=SENT_AT + timedelta(days=1), body=body)
    file_copies(account, raw, "stop", when=SENT_AT + timedelta(days=1))
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    assert "not applied" not in account.run("status").stdout  # the delivered copy is the same command
    states = {t["subject"]: t["state"] for t in account.status()}
    assert states == {SUBJECT: "stopped", "Something else entirely": "waiting"}


def test_a_command_from_someone_else_is_ignored(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=DUE_DAY)
    result_id = command(account, "stop", when=DUE_DAY + timedelta(hours=1), in_reply_to=tracked_id, sent=False,
                        from_="Eve <eve@example.net>")
    result = account.poll(now=DUE_DAY + timedelta(hours=2))
    thread = only_thread(account)
    assert thread["state"] == "waiting"  # neither stopped, nor taken for a reply
    assert len(account.drafts()) == 1
    assert "commands count only from your own addresses" in result.stdout + result.stderr
    assert result_id not in {e["message_id"] for e in timeline(account, thread["id"])}


def test_a_command_about_no_tracked_thread_is_a_visible_problem(account: Account) -> None:
    command(account, "stop", when=SENT_AT, in_reply_to="<never-tracked@example.org>")
    account.poll(now=SENT_AT + timedelta(hours=1))
    assert account.status() == []  # nothing was tracked or changed
    text = account.run("status", now=SENT_AT + timedelta(hours=2)).stdout
    assert "+followup-stop" in text and "not applied" in text and "no tracked thread" in text
    assert text.count("+followup-stop") == 1  # both copies: one problem


def test_a_malformed_command_changes_nothing_and_is_shown(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    before = only_thread(account)
    command(account, "snooze-xyz", when=SENT_AT + timedelta(days=1), in_reply_to=tracked_id)
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    after = only_thread(account)
    assert (after["state"], after["next_due"]) == (before["state"], before["next_due"])
    text = account.run("status", now=SENT_AT + timedelta(days=1, hours=2)).stdout
    assert "+followup-snooze-xyz" in text and "not applied" in text


def test_an_inline_forward_that_fits_two_threads_is_a_problem_not_a_guess(account: Account) -> None:
    seed_sent(account)
    seed_sent(account, when=SENT_AT + timedelta(hours=1))  # the same subject to the same person, twice
    account.poll(now=SENT_AT + timedelta(hours=2))
    body = (f"Begin forwarded message:\n\n> From: Alex Example <{account.user.address}>\n> Subject: {SUBJECT}\n"
            f"> Date: 4 November 2026 at 10:00:00 UTC\n> To: Bob Builder <{BOB}>\n>\n> Hi Bob\n")
    raw = make_message(from_=account.user.address, to=account.tracking_with("stop"), subject=f"Fwd: {SUBJECT}",
                       date=SENT_AT + timedelta(days=1), body=body)
    file_copies(account, raw, "stop", when=SENT_AT + timedelta(days=1))
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    assert [t["state"] for t in account.status()] == ["waiting", "waiting"]
    text = account.run("status", now=SENT_AT + timedelta(days=1, hours=2)).stdout
    assert "fits 2 tracked threads" in text and text.count("not applied") == 1


def test_done_on_a_thread_that_waits_for_others_is_refused_and_shown(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    command(account, "done", when=SENT_AT + timedelta(days=1), in_reply_to=tracked_id)
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    assert only_thread(account)["state"] == "waiting"
    text = account.run("status", now=SENT_AT + timedelta(days=1, hours=2)).stdout
    assert "+followup-done" in text and "use +followup-stop" in text


def test_on_a_reply_to_bob_a_date_suffix_is_a_touch_as_before_and_stop_is_a_command(account: Account) -> None:
    tracked_id = seed_sent(account)
    account.poll(now=SENT_AT + timedelta(hours=1))
    nudge = make_message(from_=account.user.address, to=BOB, bcc=account.tracking_with("5d"), subject=f"Re: {SUBJECT}",
                         in_reply_to=tracked_id, references=tracked_id, date=SENT_AT + timedelta(days=1))
    account.server.append(account.user, "Sent", nudge, date=SENT_AT + timedelta(days=1), flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    thread = only_thread(account)  # no second thread, no command: one more touch, as always
    assert (thread["state"], thread["touches"]) == ("waiting", 1)
    assert "moved" not in [e["kind"] for e in timeline(account, thread["id"])]

    last = make_message(from_=account.user.address, to=BOB, bcc=account.tracking_with("stop"),
                        subject=f"Re: {SUBJECT}", in_reply_to=tracked_id, references=tracked_id,
                        date=SENT_AT + timedelta(days=2), body="Thanks, no need to answer.\n")
    account.server.append(account.user, "Sent", last, date=SENT_AT + timedelta(days=2), flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(days=2, hours=1))
    thread = only_thread(account)
    assert (thread["state"], thread["touches"]) == ("stopped", 1)  # the command, not a further touch

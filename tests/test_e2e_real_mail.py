"""End to end: real-world answers move threads the way a careful assistant would (issue: real-world mail).

Out-of-office notices postpone past the return date, holding replies restart the clock, a clear no closes the
thread for good, bounces without threading headers still find their thread, a colleague's answer in a new
thread counts where configured, and `followupd explain` shows why.
"""

from __future__ import annotations

import email
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

BOB = "bob@example.org"
CAROL = "carol@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # Wednesday
DUE = SENT_AT + timedelta(days=6)


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed(account: Account, *, to: str = f"Bob Builder <{BOB}>", cc: str | None = None,
         subject: str = "Quote for the garden shed") -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=SENT_AT,
                       bcc=account.tracking, **({"cc": cc} if cc else {}))
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(hours=1))
    return str(email.message_from_bytes(raw)["Message-ID"])


def deliver(account: Account, raw: bytes, when: datetime) -> None:
    account.server.deliver_lmtp(account.user, raw)
    account.poll(now=when)


def test_out_of_office_postpones_past_the_return_date(account: Account) -> None:
    tracked = seed(account)
    ooo = make_message(from_=f"Bob Builder <{BOB}>", to=account.user.address, in_reply_to=tracked,
                       subject="Automatic reply: Quote for the garden shed", auto_submitted="auto-replied",
                       date=SENT_AT + timedelta(minutes=5),
                       body="Thank you for your message. I am out of the office until Friday, 20 November 2026 "
                            "with limited access to email. For urgent matters please contact Dana.\n")
    deliver(account, ooo, SENT_AT + timedelta(hours=2))
    thread = account.status()[0]
    assert thread["state"] == "waiting"  # an out-of-office is never a reply
    due = datetime.fromisoformat(thread["next_due"])
    assert due.date() >= datetime(2026, 11, 24).date()  # Monday 23rd is the first day back, plus a business day
    account.poll(now=DUE)
    assert account.drafts() == []
    timeline = account.run("explain", thread["id"][:6]).stdout
    assert "20 Nov 2026" in timeline and "postponed" in timeline


def test_out_of_office_without_a_date_postpones_by_the_default(account: Account) -> None:
    tracked = seed(account)
    ooo = make_message(from_=BOB, to=account.user.address, in_reply_to=tracked, x_autoreply="yes",
                       subject="Out of Office", date=SENT_AT + timedelta(minutes=5),
                       body="I am currently away and will reply when I am back.\n")
    deliver(account, ooo, SENT_AT + timedelta(hours=2))
    due = datetime.fromisoformat(account.status()[0]["next_due"])
    assert due >= SENT_AT + timedelta(days=7)


def test_a_holding_reply_keeps_the_thread_waiting_with_the_clock_restarted(account: Account) -> None:
    tracked = seed(account)
    holding = make_message(from_=BOB, to=account.user.address, in_reply_to=tracked, subject="Re: Quote",
                           date=SENT_AT + timedelta(hours=3),
                           body="Hi Alex, thanks - I'll get back to you next week.\n\nBob\n")
    deliver(account, holding, SENT_AT + timedelta(hours=4))
    thread = account.status()[0]
    assert thread["state"] == "waiting"
    assert "later" in thread["state_reason"] or "next week" in thread["state_reason"]
    assert datetime.fromisoformat(thread["next_due"]) >= datetime(2026, 11, 10, tzinfo=UTC)


def test_a_clear_no_closes_the_thread_as_declined_for_good(account: Account) -> None:
    tracked = seed(account)
    no = make_message(from_=BOB, to=account.user.address, in_reply_to=tracked, subject="Re: Quote",
                      date=SENT_AT + timedelta(hours=3), body="Not interested, please stop emailing me.\n")
    deliver(account, no, SENT_AT + timedelta(hours=4))
    thread = account.status()[0]
    assert thread["state"] == "declined"
    account.poll(now=DUE + timedelta(days=30))
    assert account.drafts() == []


def test_a_real_answer_is_a_reply_even_with_a_polite_later(account: Account) -> None:
    tracked = seed(account)
    answer = make_message(from_=BOB, to=account.user.address, in_reply_to=tracked, subject="Re: Quote",
                          date=SENT_AT + timedelta(hours=3),
                          body="Yes, the price works for us. Can you deliver in March? I'll get back to you "
                               "with the exact address next week.\n")
    deliver(account, answer, SENT_AT + timedelta(hours=4))
    assert account.status()[0]["state"] == "replied"


def postfix_bounce(account: Account, original_id: str, failed: str) -> bytes:
    me = account.user.address
    return (
        f"From: MAILER-DAEMON@mail.example.test (Mail Delivery System)\r\n"
        f"To: {me}\r\nSubject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        f"Date: Wed, 4 Nov 2026 10:00:05 +0000\r\nMessage-ID: <bounce-{failed}@mail.example.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not be "
        f"delivered.\r\n\r\n<{failed}>: User unknown\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mail.example.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; 550 5.1.1 <{failed}>: Recipient address rejected: User unknown\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {original_id}\r\nFrom: {me}\r\n"
        f"To: {failed}\r\nSubject: Quote for the garden shed\r\n--B--\r\n"
    ).encode()


def test_a_bounce_without_threading_headers_fails_the_thread(account: Account) -> None:
    tracked = seed(account)
    deliver(account, postfix_bounce(account, tracked, BOB), SENT_AT + timedelta(hours=1))
    thread = account.status()[0]
    assert thread["state"] == "failed"
    assert any("5.1.1" in problem for problem in thread["problems"])
    account.poll(now=DUE)
    assert account.drafts() == []


def test_one_bounced_recipient_of_two_is_dropped_from_the_follow_up(account: Account) -> None:
    tracked = seed(account, cc=f"Carol <{CAROL}>")
    deliver(account, postfix_bounce(account, tracked, CAROL), SENT_AT + timedelta(hours=1))
    assert account.status()[0]["state"] == "waiting"
    account.poll(now=DUE)
    (draft,) = account.drafts()
    assert CAROL not in (draft["To"] or "") + (draft["Cc"] or "")
    assert BOB in draft["To"]


def test_a_delayed_delivery_report_is_not_a_failure(account: Account) -> None:
    tracked = seed(account)
    delayed = postfix_bounce(account, tracked, BOB).replace(b"Action: failed", b"Action: delayed").replace(
        b"Status: 5.1.1", b"Status: 4.4.1").replace(b"Undelivered Mail Returned to Sender", b"Delayed Mail")
    deliver(account, delayed, SENT_AT + timedelta(hours=1))
    assert account.status()[0]["state"] == "waiting"


def test_a_colleague_answering_in_a_new_thread_counts_when_configured(account: Account) -> None:
    account.write_config(account.config_text + "\n[replies]\nmatch_domain = true\n")
    seed(account, to="Bob <bob@acme.example>")
    colleague = make_message(from_="Dana <dana@acme.example>", to=account.user.address,
                             subject="Quote for the garden shed", date=SENT_AT + timedelta(days=1))
    deliver(account, colleague, SENT_AT + timedelta(days=1, hours=1))
    thread = account.status()[0]
    assert thread["state"] == "replied" and thread["reply_probable"] is True
    assert thread["replied_by"] == "dana@acme.example"


def _thread_index(guid: bytes, *children: bytes) -> str:
    import base64

    return base64.b64encode(b"\x01" + b"\x01\xd9\x4a\x2b\x3c" + guid + b"".join(children)).decode()


def test_an_exchange_reply_without_threading_headers_matches_by_conversation(account: Account) -> None:
    guid = bytes(range(16, 32))
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob <{BOB}>", subject="Quote",
                       date=SENT_AT, bcc=account.tracking, thread_index=_thread_index(guid))
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(hours=1))
    reply = make_message(from_=f"Bob <{BOB}>", to=account.user.address, subject="Our answer",
                         thread_index=_thread_index(guid, b"\x00\x00\x01\x02\x03"), date=SENT_AT + timedelta(hours=2))
    deliver(account, reply, SENT_AT + timedelta(hours=3))
    thread = account.status()[0]
    assert thread["state"] == "replied" and thread["reply_probable"] is False
    assert "exchange-conversation" in account.run("explain", thread["id"]).stdout


def test_the_users_unsent_draft_in_a_watched_folder_is_not_a_touch(account: Account) -> None:
    account.write_config(account.config_text + '\n[folders]\nwatch = ["INBOX", "Drafts"]\n')
    tracked = seed(account)
    unsent = make_message(from_=account.user.address, to=BOB, subject="Re: Quote", in_reply_to=tracked,
                          date=SENT_AT + timedelta(hours=2))
    account.server.append(account.user, "Drafts", unsent, flags=[b"\\Draft"])
    account.poll(now=SENT_AT + timedelta(hours=3))
    assert account.status()[0]["touches"] == 0


def test_with_all_everyone_must_answer_and_follow_ups_go_to_the_silent_ones(account: Account) -> None:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob <{BOB}>, Carol <{CAROL}>",
                       subject="Offsite dates", date=SENT_AT, bcc=account.tracking_with("all"))
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    tracked = str(email.message_from_bytes(raw)["Message-ID"])
    account.poll(now=SENT_AT + timedelta(hours=1))
    answer = make_message(from_=BOB, to=account.user.address, in_reply_to=tracked, subject="Re: Offsite dates",
                          body="The second week works for me.\n", date=SENT_AT + timedelta(hours=2))
    deliver(account, answer, SENT_AT + timedelta(hours=3))
    thread = account.status()[0]
    assert thread["state"] == "waiting"
    assert thread["answered_by"] == [BOB] and CAROL in thread["state_reason"]
    account.poll(now=DUE)
    (draft,) = account.drafts()
    assert CAROL in draft["To"] and BOB not in draft["To"] + (draft["Cc"] or "")
    assert "already answered" in account.outbox()[0]["reason"]
    carol = make_message(from_=CAROL, to=account.user.address, in_reply_to=tracked, subject="Re: Offsite dates",
                         body="Fine with me too.\n", date=DUE + timedelta(hours=1))
    deliver(account, carol, DUE + timedelta(hours=2))
    assert account.status()[0]["state"] == "replied"
    assert account.drafts() == []


def test_every_outbox_entry_says_why_it_was_written(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    (entry,) = account.outbox()
    assert entry["reason"].startswith("no reply since 04 Nov; touch 1 of 4")
    assert "no reply since 04 Nov" in account.run("outbox").stdout


def test_an_outlook_reply_with_a_rewritten_subject_matches_by_thread_topic(account: Account) -> None:
    seed(account)
    reply = make_message(from_=f"Bob <{BOB}>", to=account.user.address, subject="[EXT] pricing question",
                         thread_topic="Quote for the garden shed", date=SENT_AT + timedelta(hours=2))
    deliver(account, reply, SENT_AT + timedelta(hours=3))
    thread = account.status()[0]
    assert thread["state"] == "replied" and thread["reply_probable"] is True

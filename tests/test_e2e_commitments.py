"""End to end: the user's own promises (``+followup-me-3d``) on a real Dovecot, through the real ``followupd``.

Nobody is nudged: on the due day a reminder lands, unread, in the user's INBOX and an update draft in Drafts,
replying in the thread; a reply from the recipient does not settle it, the user's own message in the thread
does. Time is pinned with FOLLOWUPD_NOW; the mailbox is inspected through a separate IMAP connection.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config
from mailfactory import make_message
from smtpsink import SmtpSink
from test_e2e_drafts import delete_drafts, only_draft, seed_sent, user_sends
from test_sending import sending_config

BOB = "bob@example.org"
# Wednesday 4 November 2026; "me-3d" promises Saturday the 7th.
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
DUE = datetime(2026, 11, 7, 9, 0, tzinfo=UTC)
SUBJECT = "Quote for the garden shed"


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def promise(account: Account, suffix: str = "me-3d") -> str:
    return seed_sent(account, subject=SUBJECT, bcc=account.tracking_with(suffix))


def inbox(account: Account) -> list[tuple[int, tuple[bytes, ...], Message]]:
    return account.messages("INBOX")


def reminders(account: Account) -> list[tuple[tuple[bytes, ...], Message]]:
    return [(flags, msg) for _uid, flags, msg in inbox(account) if msg["X-Followupd-Id"]]


def body(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def addresses(message: Message, *names: str) -> list[str]:
    return [addr for _name, addr in email.utils.getaddresses([v for n in names for v in message.get_all(n, [])])]


def test_a_promise_gets_one_unread_reminder_and_one_update_draft_and_nobody_is_nudged(account: Account) -> None:
    tracked_id = promise(account)
    account.poll(now=DUE - timedelta(days=1))
    thread = account.status()[0]
    assert thread["kind"] == "commitment"
    assert thread["promised"] == "2026-11-07"
    assert thread["state"] == "waiting"
    assert inbox(account) == [] and account.drafts() == []

    account.poll(now=DUE)
    account.poll(now=DUE + timedelta(minutes=5))  # exactly once: a second cycle adds nothing

    found = reminders(account)
    assert len(found) == 1
    flags, reminder = found[0]
    assert b"\\Seen" not in flags  # unread, so the user notices it
    assert reminder["X-Followupd-Id"] == f"{thread['id']}.r001"
    assert addresses(reminder, "From") == [account.user.address]
    assert reminder["From"].startswith("followupd")
    assert addresses(reminder, "To") == [account.user.address]
    assert reminder["In-Reply-To"] is None  # a note to the user, not part of the conversation
    subject = str(make_header(decode_header(str(reminder["Subject"]))))
    assert subject.startswith("Reminder: ") and "Bob" in subject and SUBJECT in subject
    text = body(reminder)
    assert "Bob Builder" in text and "Drafts" in text

    draft = only_draft(account)
    assert draft["In-Reply-To"] == tracked_id
    assert tracked_id in draft["References"]
    assert draft["Subject"] == f"Re: {SUBJECT}"
    assert addresses(draft, "To", "Cc") == [BOB]
    assert draft["X-Followupd-Id"] is None and draft["Message-ID"] == account.outbox()[0]["message_id"]
    assert "Bob" in body(draft)

    assert len(account.messages("Sent")) == 1  # nothing went to Bob
    [entry] = account.outbox()
    assert entry["state"] == "queued" and entry["template"].startswith("commitment/update/")
    assert entry["to"] == [BOB]
    [thread] = account.status()  # the reminder in INBOX, read back by the sync, is not mail
    assert thread["state"] == "waiting"
    assert datetime.fromisoformat(thread["next_due"]) >= DUE + timedelta(days=7)  # the next gap, a week
    preview = account.run("preview", "--thread", thread["id"], now=DUE).stdout
    assert "your own promise" in preview and "Touch 1" not in preview


def test_a_reply_from_them_does_not_keep_the_promise_but_your_own_message_does(account: Account) -> None:
    tracked_id = promise(account)
    account.poll(now=DUE)
    bob_reply = make_message(from_=f"Bob Builder <{BOB}>", to=account.user.address, subject=f"Re: {SUBJECT}",
                             in_reply_to=tracked_id, date=DUE + timedelta(hours=1))
    account.server.deliver_lmtp(account.user, bob_reply)
    account.poll(now=DUE + timedelta(hours=2))
    thread = account.status()[0]
    assert thread["state"] == "waiting"  # Bob writing does not answer for the user
    assert len(account.drafts()) == 1

    # The user answers Bob's message by hand; its threading names only Bob's reply.
    own = make_message(from_=account.user.address, to=BOB, subject=f"Re: {SUBJECT}",
                       in_reply_to=email.message_from_bytes(bob_reply)["Message-ID"],
                       date=DUE + timedelta(hours=3))
    account.server.append(account.user, "Sent", own, flags=[b"\\Seen"])
    account.poll(now=DUE + timedelta(hours=4))
    thread = account.status()[0]
    assert thread["state"] == "replied"
    assert "promise" in thread["state_reason"]
    assert thread["next_due"] is None
    assert account.drafts() == []  # the waiting update draft is withdrawn
    assert [e["state"] for e in account.outbox("--all")] == ["withdrawn"]
    assert len(reminders(account)) == 1  # the delivered reminder is the user's mail now: left alone


def test_sending_the_update_draft_keeps_the_promise(account: Account) -> None:
    promise(account)
    account.poll(now=DUE)
    user_sends(account, only_draft(account), when=DUE + timedelta(hours=1))
    account.poll(now=DUE + timedelta(hours=2))
    thread = account.status()[0]
    assert thread["state"] == "replied"
    assert "kept your promise" in thread["state_reason"]
    assert [e["state"] for e in account.outbox("--all")] == ["sent"]
    account.poll(now=DUE + timedelta(days=30))
    assert len(reminders(account)) == 1  # no more reminders once it is kept


def test_an_unkept_promise_is_reminded_at_each_gap_then_closes_unanswered(account: Account) -> None:
    cadence = '\n[cadence]\ngaps = ["3d", "1w"]\njitter = "0m"\n'
    account.write_config(default_config(account.user, account.workdir, cadence=cadence))
    promise(account, "me")  # bare "me": the first gap of the cadence
    account.poll(now=SENT_AT + timedelta(hours=1))
    due = datetime.fromisoformat(account.status()[0]["next_due"])
    assert due.date() == (SENT_AT + timedelta(days=3)).date()
    account.poll(now=due)
    assert len(reminders(account)) == 1

    second = datetime.fromisoformat(account.status()[0]["next_due"])
    account.poll(now=second)
    account.poll(now=second + timedelta(minutes=5))
    found = [msg for _flags, msg in reminders(account)]
    assert len(found) == 2
    assert "last reminder" in body(found[1])
    assert len(account.drafts()) == 1  # the update draft still waiting is not duplicated
    thread = account.status()[0]
    assert thread["state"] == "waiting" and thread["next_due"] is None

    delete_drafts(account)  # the user drops the update: nothing is left to wait for
    account.poll(now=second + timedelta(hours=1))
    account.poll(now=second + timedelta(hours=2))
    thread = account.status()[0]
    assert thread["state"] == "unanswered"
    assert "2 reminder(s)" in thread["state_reason"]
    assert len(reminders(account)) == 2


@pytest.mark.parametrize("point", ["after_sync_commit", "before_append", "after_append", "before_reminder_append",
                                   "after_reminder_append"])
def test_a_crash_at_any_step_never_duplicates_a_reminder_or_a_draft(account: Account, point: str) -> None:
    promise(account)
    crashed = account.run("poll", now=DUE, check=False, FOLLOWUPD_CRASH_AT=point)
    assert crashed.returncode == -9, crashed.stderr
    account.poll(now=DUE + timedelta(minutes=1))
    account.poll(now=DUE + timedelta(minutes=2))
    assert len(reminders(account)) == 1
    assert len(account.drafts()) == 1
    assert [e["state"] for e in account.outbox("--all")] == ["queued"]
    assert len(account.status()) == 1


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def test_approving_the_update_sends_it_and_keeps_the_promise(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink)
    promise(account)
    account.poll(now=DUE)
    [entry] = account.outbox()
    account.run("outbox", "approve", entry["id"], now=DUE + timedelta(minutes=5))
    assert [m.recipients for m in sink.received] == [[BOB]]
    thread = account.status()[0]
    assert thread["state"] == "replied" and "followupd sent your update" in thread["state_reason"]
    account.poll(now=DUE + timedelta(days=30))  # its Sent copy changes nothing; no more reminders
    assert len(sink.received) == 1 and len(reminders(account)) == 1
    assert account.status()[0]["touches"] == 1


def test_auto_mode_never_sends_an_update_nobody_asked_for(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink, mode="auto", extra='review_window = "1h"')
    promise(account)
    account.poll(now=DUE)
    account.poll(now=DUE + timedelta(hours=5))
    assert sink.received == []
    assert len(account.drafts()) == 1 and account.status()[0]["state"] == "waiting"


def test_skipping_the_update_keeps_the_reminder_schedule(account: Account) -> None:
    promise(account)
    account.poll(now=DUE)
    next_due = account.status()[0]["next_due"]
    account.run("outbox", "skip", account.outbox()[0]["id"], now=DUE + timedelta(minutes=5))
    assert account.drafts() == []
    thread = account.status()[0]
    assert thread["state"] == "waiting" and thread["next_due"] == next_due
    account.poll(now=datetime.fromisoformat(next_due))
    assert len(reminders(account)) == 2
    assert len(account.drafts()) == 1  # a fresh update to start from, since none waits


def answer_in_thread(account: Account, parent: str, *, bcc: str, when: datetime) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject=f"Re: {SUBJECT}", in_reply_to=parent, references=parent, bcc=bcc, date=when)
    account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def by_message_id(account: Account) -> dict[str, dict[str, object]]:
    return {str(t["message_id"]): t for t in account.status()}


def test_a_new_promise_made_in_the_update_keeps_the_old_one_and_is_tracked_itself(account: Account) -> None:
    tracked_id = promise(account)
    account.poll(now=DUE)
    # "No news yet; I'll come back to you on Friday", Bcc'ing a new promise.
    update_id = answer_in_thread(account, tracked_id, bcc=account.tracking_with("me-fri"),
                                 when=DUE + timedelta(hours=1))
    account.poll(now=DUE + timedelta(hours=2))
    threads = by_message_id(account)
    assert threads[tracked_id]["state"] == "replied" and "promise" in str(threads[tracked_id]["state_reason"])
    new = threads[update_id]
    assert new["kind"] == "commitment" and new["state"] == "waiting" and new["promised"] == "2026-11-13"
    assert account.drafts() == []  # the old update draft is withdrawn

    reply = make_message(from_=BOB, to=account.user.address, subject=f"Re: {SUBJECT}", in_reply_to=update_id,
                         references=f"{tracked_id} {update_id}", date=DUE + timedelta(hours=3))
    account.server.deliver_lmtp(account.user, reply)
    account.poll(now=DUE + timedelta(hours=4))
    assert by_message_id(account)[update_id]["state"] == "waiting"  # still the user's to answer


def test_keeping_a_promise_while_asking_something_back_starts_a_follow_up_thread(account: Account) -> None:
    tracked_id = promise(account)
    answer_id = answer_in_thread(account, tracked_id, bcc=account.tracking, when=SENT_AT + timedelta(days=1))
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    threads = by_message_id(account)
    assert threads[tracked_id]["state"] == "replied"
    assert threads[answer_id]["kind"] == "nudge" and threads[answer_id]["state"] == "waiting"
    reply = make_message(from_=BOB, to=account.user.address, subject=f"Re: {SUBJECT}", in_reply_to=answer_id,
                         date=SENT_AT + timedelta(days=2))
    account.server.deliver_lmtp(account.user, reply)
    account.poll(now=SENT_AT + timedelta(days=2, hours=1))
    assert by_message_id(account)[answer_id]["state"] == "replied"


def test_a_promise_made_in_a_follow_up_thread_counts_there_and_is_tracked_too(account: Account) -> None:
    tracked_id = seed_sent(account, subject=SUBJECT)  # an ordinary tracked message: Bob owes the answer
    account.poll(now=SENT_AT + timedelta(hours=1))
    # "Here are two more options; I'll send prices by Friday", Bcc'ing the promise.
    mine = answer_in_thread(account, tracked_id, bcc=account.tracking_with("me-fri"),
                            when=SENT_AT + timedelta(days=1))
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    threads = by_message_id(account)
    assert threads[tracked_id]["kind"] == "nudge" and threads[tracked_id]["touches"] == 1
    assert threads[mine]["kind"] == "commitment" and threads[mine]["state"] == "waiting"
    reply = make_message(from_=BOB, to=account.user.address, subject=f"Re: {SUBJECT}", in_reply_to=mine,
                         date=SENT_AT + timedelta(days=2))
    account.server.deliver_lmtp(account.user, reply)
    account.poll(now=SENT_AT + timedelta(days=2, hours=1))
    threads = by_message_id(account)
    assert threads[tracked_id]["state"] == "replied"  # Bob answered the conversation
    assert threads[mine]["state"] == "waiting"  # but the prices are still the user's to send

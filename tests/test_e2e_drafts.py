"""End to end: follow-up drafts on a real Dovecot, driven through the real ``followupd`` command.

Time is pinned with FOLLOWUPD_NOW so a month of cadence runs in seconds; the mailbox is inspected through a
separate IMAP connection, the way the user's mail client would see it.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta
from email.message import Message
from itertools import pairwise
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

from followupd.adapters.faults import CRASH_POINTS

BOB = "bob@example.org"
# A fixed Wednesday, so business-day arithmetic below is predictable.
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed_sent(account: Account, *, to: str = f"Bob Builder <{BOB}>", subject: str = "Quote for the garden shed",
              when: datetime = SENT_AT, bcc: str | None = None) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=when,
                       bcc=bcc or account.tracking)
    account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    parsed = email.message_from_bytes(raw)
    return str(parsed["Message-ID"])


def user_sends(account: Account, draft: Message, *, when: datetime, body: str | None = None) -> None:
    """What a mail client does when the user presses Send on our draft: file a copy in Sent, drop the draft."""
    sent = email.message_from_bytes(draft.as_bytes())
    del sent["Date"]
    sent["Date"] = email.utils.format_datetime(when)
    if body is not None:
        sent.set_payload(body)
    account.server.append(account.user, "Sent", sent.as_bytes(), date=when, flags=[b"\\Seen"])
    delete_drafts(account)


def delete_drafts(account: Account) -> None:
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        uids = client.search("ALL")
        if uids:
            client.delete_messages(uids)
            client.expunge()


def only_draft(account: Account) -> Message:
    drafts = account.drafts()
    assert len(drafts) == 1, [d["Subject"] for d in drafts]
    return drafts[0]


def test_a_due_thread_gets_one_proper_reply_draft(account: Account) -> None:
    tracked_id = seed_sent(account, subject="Re: RE: AW: Quote for the garden shed")
    now = SENT_AT + timedelta(days=6)  # 3 business days later is Monday the 9th: due
    account.poll(now=now)
    account.poll(now=now + timedelta(minutes=5))  # a second cycle must not add a second draft

    messages = account.messages("Drafts")
    assert len(messages) == 1
    _uid, flags, draft = messages[0]
    assert b"\\Draft" in flags
    assert draft["In-Reply-To"] == tracked_id
    assert tracked_id in draft["References"]
    assert draft["Subject"] == "Re: Quote for the garden shed"  # no stacked prefixes
    recipients = [addr for _name, addr in email.utils.getaddresses(draft.get_all("To", []) + draft.get_all("Cc", []))]
    assert recipients == [BOB]  # never the user, never the tracking address
    assert not [name for name in draft if name.lower().startswith("x-followupd")]  # nothing of the tool
    domain = account.user.address.partition("@")[2]
    assert "followupd" not in draft["Message-ID"] and draft["Message-ID"].endswith(f"@{domain}>")
    assert draft["From"].endswith(f"<{account.user.address}>")
    body = draft.get_payload(decode=True).decode()
    assert "Alex" in body
    assert "just checking in" not in body.lower()

    entries = account.outbox()
    assert len(entries) == 1
    entry = entries[0]
    assert entry["state"] == "queued"
    assert entry["message_id"] == draft["Message-ID"]
    assert entry["to"] == [BOB]
    assert entry["touch"] == 1
    assert entry["template"].startswith("first/")
    assert entry["thread_id"] == account.status()[0]["id"]
    assert "Quote for the garden shed" in account.run("outbox").stdout


def test_nothing_is_drafted_before_the_due_date(account: Account) -> None:
    seed_sent(account)
    account.poll(now=SENT_AT + timedelta(days=2))  # Friday: only 2 business days
    assert account.drafts() == []
    assert account.outbox() == []


def test_a_reply_withdraws_the_waiting_draft_and_nothing_else(account: Account) -> None:
    tracked_id = seed_sent(account)
    users_own_draft = make_message(from_=account.user.address, to="carol@example.org", subject="Half-written")
    account.server.append(account.user, "Drafts", users_own_draft, flags=[b"\\Draft"])
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    assert len(account.drafts()) == 2

    reply = make_message(from_=BOB, to=account.user.address, subject="Re: Quote", in_reply_to=tracked_id)
    account.server.deliver_lmtp(account.user, reply)
    account.poll(now=now + timedelta(hours=1))

    remaining = account.drafts()
    assert [d["Subject"] for d in remaining] == ["Half-written"]  # only our own draft went
    assert account.status()[0]["state"] == "replied"
    assert account.outbox() == []
    assert [e["state"] for e in account.outbox("--all")] == ["withdrawn"]


def test_sending_the_draft_counts_a_touch_and_the_next_one_varies(account: Account) -> None:
    seed_sent(account)
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    first = only_draft(account)
    sent_at = now + timedelta(hours=2)
    user_sends(account, first, when=sent_at, body="Hi Bob, edited by me. Any news? Alex")
    account.poll(now=sent_at + timedelta(minutes=10))

    thread = account.status()[0]
    assert thread["touches"] == 1
    next_due = datetime.fromisoformat(thread["next_due"])
    assert next_due - sent_at >= timedelta(days=7)  # the second gap is a week, counted from the touch
    assert [e["state"] for e in account.outbox("--all")] == ["sent"]

    account.poll(now=next_due + timedelta(minutes=1))
    second = only_draft(account)
    entries = account.outbox("--all")
    assert [e["state"] for e in entries] == ["sent", "queued"]
    assert entries[0]["template"] != entries[1]["template"]
    assert entries[1]["template"].startswith("middle/")
    assert second.get_payload(decode=True) != first.get_payload(decode=True)


def test_the_whole_sequence_ends_by_asking_and_then_closes_unanswered(account: Account) -> None:
    seed_sent(account)
    now = SENT_AT
    templates = []
    bodies = []
    dates = []
    for _ in range(4):
        thread = account.status()[0] if account.status() else None
        now = datetime.fromisoformat(thread["next_due"]) + timedelta(minutes=1) if thread else now + timedelta(days=6)
        account.poll(now=now)
        draft = only_draft(account)
        bodies.append(draft.get_payload(decode=True).decode())
        user_sends(account, draft, when=now + timedelta(minutes=30))
        account.poll(now=now + timedelta(hours=1))
        dates.append(now.date())
        templates.append(account.outbox("--all")[-1]["template"])

    assert len(set(templates)) == 4  # never the same wording twice in a thread
    assert templates[-1].startswith("final/")
    final_text = bodies[-1].lower()
    assert "?" in final_text
    assert any(word in final_text for word in ("stop", "leave it", "let this rest", "close"))
    gaps = [(b - a).days for a, b in pairwise(dates)]
    assert all(gap >= 2 for gap in gaps), gaps
    assert gaps == sorted(gaps)  # the gaps grow
    thread = account.status()[0]
    assert thread["state"] == "unanswered"
    assert thread["touches"] == 4
    assert thread["next_due"] is None


def test_a_deleted_draft_counts_as_skipped_and_the_next_touch_is_planned(account: Account) -> None:
    seed_sent(account)
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    delete_drafts(account)
    account.poll(now=now + timedelta(minutes=1))
    assert [e["state"] for e in account.outbox("--all")] == ["queued"]  # a send may still be landing in Sent
    account.poll(now=now + timedelta(minutes=30))
    assert [e["state"] for e in account.outbox("--all")] == ["skipped"]
    thread = account.status()[0]
    assert thread["state"] == "waiting"
    assert thread["touches"] == 0
    assert datetime.fromisoformat(thread["next_due"]) >= now + timedelta(days=7)


def test_a_hand_written_nudge_replaces_the_waiting_draft(account: Account) -> None:
    tracked_id = seed_sent(account)
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    nudge = make_message(from_=account.user.address, to=BOB, subject="Re: Quote", in_reply_to=tracked_id,
                         date=now + timedelta(hours=1))
    account.server.append(account.user, "Sent", nudge, flags=[b"\\Seen"])
    account.poll(now=now + timedelta(hours=2))
    assert account.drafts() == []  # our stale draft is gone: Bob must not get two nudges
    assert account.status()[0]["touches"] == 1


def test_one_person_is_never_nudged_on_consecutive_days(account: Account) -> None:
    seed_sent(account, subject="Quote for the shed")
    seed_sent(account, subject="Invoice 1234", when=SENT_AT + timedelta(hours=1))
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    assert len(account.drafts()) == 1
    waiting = [t for t in account.status() if not account.outbox() or t["id"] != account.outbox()[0]["thread_id"]]
    assert len(waiting) == 1
    postponed = datetime.fromisoformat(waiting[0]["next_due"])
    assert (postponed.date() - now.date()).days >= 2
    account.poll(now=now + timedelta(days=1))
    assert len(account.drafts()) == 1  # still only the first one the next day


def test_after_an_outage_each_thread_gets_one_draft_not_a_burst(account: Account) -> None:
    seed_sent(account, when=SENT_AT - timedelta(days=90))
    account.poll(now=SENT_AT)
    assert len(account.drafts()) == 1
    assert account.outbox()[0]["touch"] == 1
    account.poll(now=SENT_AT + timedelta(minutes=5))
    assert len(account.drafts()) == 1


@pytest.mark.parametrize("point", [p for p in CRASH_POINTS if p in ("after_sync_commit", "before_append",
                                                                   "after_append")])
def test_a_crash_at_any_step_never_duplicates_or_loses_a_draft(account: Account, point: str) -> None:
    seed_sent(account)
    now = SENT_AT + timedelta(days=6)
    crashed = account.run("poll", now=now, check=False, FOLLOWUPD_CRASH_AT=point)
    assert crashed.returncode == -9, crashed.stderr
    account.poll(now=now + timedelta(minutes=1))
    account.poll(now=now + timedelta(minutes=2))
    assert len(account.drafts()) == 1
    assert [e["state"] for e in account.outbox("--all")] == ["queued"]
    assert len(account.status()) == 1


def test_a_crash_while_withdrawing_never_leaves_the_draft_behind(account: Account) -> None:
    tracked_id = seed_sent(account)
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    account.server.deliver_lmtp(account.user, make_message(from_=BOB, subject="Re: Quote", in_reply_to=tracked_id))
    crashed = account.run("poll", now=now, check=False, FOLLOWUPD_CRASH_AT="after_delete")
    assert crashed.returncode == -9
    account.poll(now=now + timedelta(minutes=1))
    assert account.drafts() == []
    assert account.status()[0]["state"] == "replied"
    assert [e["state"] for e in account.outbox("--all")] == ["withdrawn"]


def test_a_template_that_fails_to_render_skips_the_draft_and_names_the_file(account: Account, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    for stage in ("first", "final"):
        (templates / stage).mkdir(parents=True)
    (templates / "first" / "broken.txt").write_text(
        "Subject: {{ reply_subject }}\n\nHi,\n\n{{ recipients[7].name }} said hello.\n{{ signature }}\n")
    (templates / "final" / "ask.txt").write_text("Subject: {{ reply_subject }}\n\nShall I stop?\n{{ signature }}\n")
    # disable = ["*"]: only these files, none of the built-in ones
    account.write_config(account.config_text + f'\n[templates]\ndir = "{templates}"\ndisable = ["*"]\n')
    seed_sent(account)
    result = account.poll(now=SENT_AT + timedelta(days=6))
    assert "broken.txt" in result.stderr and "line 5" in result.stderr
    assert account.drafts() == []
    assert account.status()[0]["state"] == "waiting"


def test_preview_prints_spaced_dates(account: Account) -> None:
    result = account.run("preview", now=SENT_AT)
    lines = [line for line in result.stdout.splitlines() if line[:1].isdigit()]
    assert len(lines) == 4
    assert "final" in lines[-1]
    days = [datetime.strptime(" ".join(line.split()[2:6]), "%a %d %b %Y").date() for line in lines]
    gaps = [(b - a).days for a, b in pairwise([SENT_AT.date(), *days])]
    assert all(gap >= 2 for gap in gaps), result.stdout


def test_outbox_and_status_are_empty_on_a_fresh_install(account: Account) -> None:
    assert account.outbox("--all") == []
    assert "No tracked threads yet" in account.run("status").stdout


@pytest.mark.parametrize("same_cycle", [True, False], ids=["same-cycle", "next-cycle"])
def test_a_reply_to_the_sent_follow_up_alone_closes_the_thread(account: Account, same_cycle: bool) -> None:
    seed_sent(account)
    now = SENT_AT + timedelta(days=6)
    account.poll(now=now)
    draft = only_draft(account)
    user_sends(account, draft, when=now + timedelta(minutes=10))
    if not same_cycle:
        account.poll(now=now + timedelta(minutes=20))
        assert account.status()[0]["touches"] == 1
    # Bob's client trims threading to the follow-up itself: no References, no original id.
    reply = make_message(from_=BOB, to=account.user.address, subject="Sorry for the delay",
                         in_reply_to=str(draft["Message-ID"]), date=now + timedelta(minutes=15))
    account.server.deliver_lmtp(account.user, reply)
    account.poll(now=now + timedelta(minutes=30))
    thread = account.status()[0]
    assert thread["touches"] == 1
    assert thread["state"] == "replied"
    assert thread["reply_probable"] is False


def test_a_sent_message_with_an_odd_message_id_still_gets_its_follow_up(account: Account) -> None:
    """Real clients emit ids RFC 5322 forbids (two "@"); the reply must still name it, and nothing may crash."""
    odd_id = "<123.456@host@example.com>"
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob <{BOB}>", subject="Odd id",
                       date=SENT_AT, bcc=account.tracking, message_id=odd_id)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    seed_sent(account, subject="A normal one", to="Carl <carl@example.org>")
    account.poll(now=SENT_AT + timedelta(days=6))
    drafts = {d["Subject"]: d for d in account.drafts()}
    assert set(drafts) == {"Re: Odd id", "Re: A normal one"}
    assert drafts["Re: Odd id"]["In-Reply-To"] == odd_id

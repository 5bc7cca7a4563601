"""End to end on a real Dovecot: a follow-up to a bare address greets the person by the name their own earlier
mail gave them, and with no name anywhere it greets gracefully (never "Hello ," nor "Hi bob,").

The name rules themselves are tested without a server in test_known_names.py.
"""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

BOB = "bob@example.com"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday: the first follow-up is due Monday the 9th


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def send_bare(account: Account) -> None:
    """The user writes to a bare address (no display name), the tracking address in Bcc."""
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=BOB, bcc=account.tracking,
                       subject="Quote for the garden shed", date=SENT_AT)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])


def bob_wrote_earlier(account: Account, from_: str, *, days_before: int = 20) -> None:
    when = SENT_AT - timedelta(days=days_before)
    raw = make_message(from_=from_, to=account.user.address, subject="Garden plans", date=when,
                       body="Hi Alex,\n\ncould you send me a quote for the shed?\n\nBob\n")
    account.server.append(account.user, "INBOX", raw, date=when, flags=[b"\\Seen"])


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode().replace("\r\n", "\n").strip()


def first_line(text: str) -> str:
    return text.strip().split("\n", 1)[0]


def draft_at_due(account: Account) -> tuple[Message, dict[str, object]]:
    """Poll once to track (and learn), preview the first touch, then poll when it is due: (draft, preview)."""
    account.poll(now=SENT_AT + timedelta(hours=1))
    thread = account.status()[0]
    due = datetime.fromisoformat(thread["next_due"])
    previewed = json.loads(account.run("preview", "--thread", thread["id"], "--json", now=due).stdout)
    account.poll(now=due)
    drafts = account.drafts()
    assert len(drafts) == 1
    return drafts[0], previewed["touches"][0]


def test_a_bare_address_is_greeted_by_the_name_from_their_earlier_mail(account: Account) -> None:
    bob_wrote_earlier(account, f"Bob Builder <{BOB}>")
    send_bare(account)
    draft, previewed = draft_at_due(account)

    body = body_of(draft)
    assert re.search(r"\bBob\b", first_line(body)), body  # "Hi Bob," / "Hello Bob," / "Hi Bob, one more note"
    assert "there," not in body and "Bob Builder" not in first_line(body)
    assert email.utils.getaddresses(draft.get_all("To", [])) == [("", BOB)]  # the To stays as the user wrote it

    # preview showed the very text the drafter wrote, and outbox show shows it too
    assert previewed["body"].strip() == body
    touch = account.outbox()[0]
    shown = json.loads(account.run("outbox", "show", touch["id"], "--json", now=SENT_AT + timedelta(days=6)).stdout)
    assert shown["body"].replace("\r\n", "\n").strip() == body

    explained = account.run("explain", touch["thread_id"], now=SENT_AT + timedelta(days=6)).stdout
    assert f"greets {BOB} as Bob Builder (from the From header of their own mail)" in explained
    as_json = json.loads(account.run("explain", touch["thread_id"], "--json").stdout)
    assert as_json["greeting_names"] == [{"email": BOB, "name": "Bob Builder", "source": "own"}]


def test_with_no_name_anywhere_the_greeting_is_graceful(account: Account) -> None:
    bob_wrote_earlier(account, BOB)                           # his own mail carries no name either
    bob_wrote_earlier(account, f"bob <{BOB}>", days_before=10)  # nor a machine-written local part
    send_bare(account)
    draft, previewed = draft_at_due(account)

    body = body_of(draft)
    greeting = first_line(body)
    assert "bob" not in greeting.lower(), greeting
    assert not re.search(r"\w\s+,", greeting) and not re.match(r"(Hi|Hello|Dear),", greeting), greeting
    assert previewed["body"].strip() == body
    explained = account.run("explain", account.status()[0]["id"]).stdout
    assert "greets" not in explained

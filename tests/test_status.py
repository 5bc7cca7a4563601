"""``status`` lists open threads (``--all``, ``--state``), says when a draft waits, and ``outbox show`` shows the
draft as it is in Drafts after the user edited it. Real Dovecot, real ``followupd`` command."""

from __future__ import annotations

import email
import email.utils
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account
from mailfactory import make_message

from followupd.cli import status_view as sv
from followupd.engine.draft_view import is_edited

BOB = "bob@example.org"
CAROL = "carol@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DUE = SENT_AT + timedelta(days=6)  # 3 business days later: Bob's follow-up is drafted
UTC_ZONE = ZoneInfo("UTC")


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed(account: Account, to: str, subject: str) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=SENT_AT,
                       bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


@pytest.fixture
def one_open_one_replied(account: Account) -> Account:
    """Bob's thread waits with a draft in Drafts; Carol answered hers."""
    seed(account, BOB, "Quote for the garden shed")
    carol_id = seed(account, CAROL, "Dinner on Friday?")
    account.server.deliver_lmtp(account.user, make_message(from_=CAROL, to=account.user.address,
                                                           subject="Re: Dinner on Friday?", in_reply_to=carol_id,
                                                           date=SENT_AT + timedelta(hours=2)))
    account.poll(now=DUE)
    assert len(account.drafts()) == 1
    return account


def test_status_lists_open_threads_and_says_a_draft_waits(one_open_one_replied: Account) -> None:
    text = one_open_one_replied.run("status", now=DUE + timedelta(days=2)).stdout
    assert "Quote for the garden shed" in text
    assert "Dinner on Friday?" not in text  # replied: closed
    assert "draft waiting since " + DUE.strftime("%a %d %b") in text
    assert "1 closed thread(s) not shown; `followupd status --all` lists every thread." in text


def test_status_all_and_state_filters(one_open_one_replied: Account) -> None:
    account = one_open_one_replied
    everything = account.run("status", "--all").stdout
    assert "Quote for the garden shed" in everything and "Dinner on Friday?" in everything
    assert "not shown" not in everything

    replied = account.run("status", "--state", "replied").stdout
    assert "Dinner on Friday?" in replied and "Quote for the garden shed" not in replied
    assert "1 thread(s) in other states not shown" in replied
    for args in (("--state", "replied,waiting"), ("--state", "replied", "--state", "waiting")):
        both = account.run("status", *args).stdout
        assert "Dinner on Friday?" in both and "Quote for the garden shed" in both, args
    assert "No threads in state failed." in account.run("status", "--state", "failed").stdout

    wrong = account.run("status", "--state", "answered", check=False)
    assert wrong.returncode == 2
    assert "unknown thread state 'answered'" in wrong.stderr and "waiting, replied" in wrong.stderr


def test_status_json_lists_every_thread_unless_filtered(one_open_one_replied: Account) -> None:
    account = one_open_one_replied
    every = {t["subject"]: t for t in account.status()}  # plain --json: every thread, as scripts expect
    assert set(every) == {"Quote for the garden shed", "Dinner on Friday?"}
    assert every["Dinner on Friday?"]["state"] == "replied"
    assert every["Dinner on Friday?"]["draft_waiting_since"] is None
    assert datetime.fromisoformat(every["Quote for the garden shed"]["draft_waiting_since"]) == DUE

    waiting = json.loads(account.run("status", "--json", "--state", "waiting").stdout)
    assert [t["subject"] for t in waiting] == ["Quote for the garden shed"]
    closed = json.loads(account.run("status", "--json", "--state", "closed").stdout)
    assert [t["subject"] for t in closed] == ["Dinner on Friday?"]
    assert len(json.loads(account.run("status", "--json", "--all").stdout)) == 2


def test_status_without_open_threads_points_to_all(account: Account) -> None:
    carol_id = seed(account, CAROL, "Dinner on Friday?")
    account.server.deliver_lmtp(account.user, make_message(from_=CAROL, to=account.user.address,
                                                           subject="Re: Dinner on Friday?", in_reply_to=carol_id))
    account.poll(now=DUE)
    text = account.run("status").stdout
    assert text.startswith("No open threads.")
    assert "1 closed thread(s) not shown" in text


def test_outbox_show_shows_the_draft_as_the_user_edited_it(account: Account) -> None:
    seed(account, BOB, "Quote for the garden shed")
    account.poll(now=DUE)
    (entry,) = account.outbox()
    untouched = account.run("outbox", "show", entry["id"], now=DUE).stdout
    assert "(in Drafts, as followupd wrote it)" in untouched.splitlines()[0]

    # The user edits the draft in their mail client: it saves a new message (without our header) and drops the old.
    ((old_uid, _flags, draft),) = account.messages("Drafts")
    edited = email.message_from_bytes(draft.as_bytes())
    del edited["X-Followupd-Id"]
    edited.set_payload("Hi Bob, shall we go with the smaller shed? Alex\n")
    account.server.append(account.user, "Drafts", edited.as_bytes(), flags=[b"\\Draft"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages([old_uid])
        client.expunge()
    before = account.server.snapshot(account.user)

    shown = account.run("outbox", "show", entry["id"][:6], now=DUE).stdout
    assert "edited in your mail client" in shown.splitlines()[0]
    assert "shall we go with the smaller shed?" in shown
    assert "Subject: Re: Quote for the garden shed" in shown
    assert account.server.snapshot(account.user) == before  # read with PEEK: no \Seen, nothing moved


def test_outbox_show_without_the_mailbox_shows_the_rendered_draft(account: Account) -> None:
    seed(account, BOB, "Quote for the garden shed")
    account.poll(now=DUE)
    (entry,) = account.outbox()
    account.write_config(account.config_text.replace(f"port = {account.user.port}", "port = 1"))
    result = account.run("outbox", "show", entry["id"], now=DUE)
    assert "could not read your Drafts folder" in result.stderr
    assert "Subject: Re: Quote for the garden shed" in result.stdout


# -- the pure rules ---------------------------------------------------------------------------------------------

def test_state_values_repeat_and_split_on_commas() -> None:
    assert sv.parse_states(["replied, failed", "waiting", "replied"]) == ("replied", "failed", "waiting")
    assert sv.parse_states(["open"]) == ("waiting",)
    assert set(sv.parse_states(["closed"])) == {"replied", "unanswered", "stopped", "failed", "declined"}
    with pytest.raises(ValueError, match="unknown thread state 'bogus'"):
        sv.parse_states(["waiting,bogus"])


def test_text_shows_open_threads_json_every_thread_by_default() -> None:
    assert sv.selection_for((), show_all=False, as_json=False).states == ("waiting",)
    assert sv.selection_for((), show_all=False, as_json=True).states is None
    assert sv.selection_for((), show_all=True, as_json=False).states is None
    assert sv.selection_for(("failed",), show_all=False, as_json=True).states == ("failed",)


def test_next_column_prefers_the_waiting_draft_over_a_past_due_time() -> None:
    drafted = datetime(2026, 11, 10, 9, 0, tzinfo=UTC)
    due = datetime(2026, 11, 10, 8, 0, tzinfo=UTC)
    since = sv.draft_waiting_since("waiting", [("sent", drafted - timedelta(days=9), drafted),
                                               ("queued", drafted, drafted - timedelta(minutes=1))])
    assert since == drafted
    assert sv.next_text(due, since, UTC_ZONE) == "draft waiting since Tue 10 Nov 09:00"
    assert sv.next_text(due, None, UTC_ZONE) == "Tue 10 Nov 08:00"
    assert sv.next_text(None, None, UTC_ZONE) == "-"
    assert sv.draft_waiting_since("replied", [("queued", drafted, drafted)]) is None
    assert sv.draft_waiting_since("waiting", [("planned", None, due)]) == due


def test_a_re_saved_but_unchanged_draft_is_not_called_edited() -> None:
    rendered = make_message(from_="alex@example.org", to=BOB, subject="Re: Quote", body="Hi Bob,\nany news?\nAlex\n")
    message = email.message_from_bytes(rendered)
    message.replace_header("Message-ID", email.utils.make_msgid(domain="example.org"))
    resaved = message.as_bytes().replace(b"\n", b"\r\n")
    assert not is_edited(rendered, resaved)
    message.set_payload("Hi Bob,\nany news on the shed?\nAlex\n")
    assert is_edited(rendered, message.as_bytes())

"""``followupd stats`` end to end (issue 15 point 2): real Dovecot, the real command, time pinned with FOLLOWUPD_NOW.

Four follow-up threads, three polls: one answered before any follow-up, one answered after its first follow-up,
one still waiting after it, one declined. What the numbers mean is tested from plain records in
tests/test_stats.py; here the point is that the command reads what the cycles recorded.
"""

from __future__ import annotations

import email
import email.utils
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, accounts_config, run_followupd
from mailfactory import make_message

SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DUE = SENT_AT + timedelta(days=6)  # 3 business days later: first follow-ups drafted
LATER = SENT_AT + timedelta(days=7, hours=1)


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed(account: Account, to: str, subject: str) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=SENT_AT,
                       bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def answer(account: Account, sender: str, in_reply_to: str, when: datetime, body: str) -> None:
    account.server.deliver_lmtp(account.user, make_message(from_=sender, to=account.user.address, subject="Re: it",
                                                           in_reply_to=in_reply_to, date=when, body=body))


def send_draft(account: Account, draft: Message, when: datetime) -> None:
    """What the user's mail client does on Send: a copy in Sent (the draft goes when all are deleted below)."""
    sent = email.message_from_bytes(draft.as_bytes())
    del sent["Date"]
    sent["Date"] = email.utils.format_datetime(when)
    account.server.append(account.user, "Sent", sent.as_bytes(), date=when, flags=[b"\\Seen"])


def stats(account: Account, *args: str, now: datetime) -> Any:
    (document,) = json.loads(account.run("stats", "--json", *args, now=now).stdout)
    return document


def test_stats_counts_what_the_cycles_recorded(account: Account) -> None:
    ids = {who: seed(account, f"{who}@example.org", f"Quote for {who}") for who in ("ann", "bob", "cat", "dan")}
    account.poll(now=SENT_AT + timedelta(hours=1))
    answer(account, "ann@example.org", ids["ann"], SENT_AT + timedelta(days=1), "Yes, that works for us.\n")
    answer(account, "dan@example.org", ids["dan"], SENT_AT + timedelta(days=2),
           "Not interested, please stop emailing me.\n")
    account.poll(now=DUE)
    drafts = {str(d["In-Reply-To"]): d for d in account.drafts()}
    assert set(drafts) == {ids["bob"], ids["cat"]}
    for tracked in (ids["bob"], ids["cat"]):
        send_draft(account, drafts[tracked], DUE + timedelta(minutes=10))
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages(client.search("ALL"))
        client.expunge()
    answer(account, "bob@example.org", str(drafts[ids["bob"]]["Message-ID"]), SENT_AT + timedelta(days=7),
           "Sorry for the delay: yes, go ahead.\n")
    account.poll(now=LATER)

    states = {t["message_id"]: (t["state"], t["touches"]) for t in account.status()}
    assert states == {ids["ann"]: ("replied", 0), ids["bob"]: ("replied", 1), ids["cat"]: ("waiting", 1),
                      ids["dan"]: ("declined", 0)}
    document = stats(account, now=LATER)
    assert document["account"] == account.user.username  # one [account]: named by its username
    assert datetime.fromisoformat(document["since"]) == LATER - timedelta(days=90)
    assert (document["tracked"], document["replied"], document["reply_rate"]) == (4, 2, 0.5)
    assert (document["declined"], document["bounced"]) == (1, 0)
    assert document["by_touch"] == [{"touch": 0, "replied": 1}, {"touch": 1, "replied": 1}]
    assert document["median_days_to_reply"] == 4.0  # 1 day (ann) and 7 days (bob)
    assert document["median_touches_to_reply"] == 0.5
    sent_touches = [e for e in account.outbox("--all") if e["state"] == "sent"]
    bobs = next(e["template"] for e in sent_touches if e["message_id"] == drafts[ids["bob"]]["Message-ID"])
    expected = Counter(e["template"] for e in sent_touches)
    assert sum(expected.values()) == 2
    assert document["by_template"] == [{"template": name, "sent": expected[name], "replied": int(name == bobs)}
                                       for name in sorted(expected)]

    text = account.run("stats", now=LATER).stdout
    assert "4 threads tracked, 2 replied (50 %), 1 declined, 0 bounced." in text
    assert "Median to a reply: 4 days, after 0.5 follow-ups." in text
    assert "█" in text and bobs in text

    recent = stats(account, "--since", "1d", now=LATER)  # everything was sent a week before
    assert (recent["tracked"], recent["by_touch"], recent["median_days_to_reply"]) == (0, [], None)
    assert "No follow-up threads tracked since" in account.run("stats", "--since", "2w", now=LATER + timedelta(
        days=30)).stdout


def test_a_bad_since_is_a_usage_error_naming_the_option(account: Account) -> None:
    for bad in ("3bd", "ninety", "0d"):
        result = account.run("stats", "--since", bad, check=False)
        assert result.returncode == 2, result
        assert "--since" in result.stderr and "e.g. --since 90d" in result.stderr and bad in result.stderr
        assert result.stdout == ""


def test_each_account_is_counted_apart(dovecot: DovecotServer, tmp_path: Path) -> None:
    users = {"work": dovecot.add_user(), "home": dovecot.add_user()}
    config, env = accounts_config(users, tmp_path, now=SENT_AT + timedelta(hours=1))

    def run(*args: str) -> str:
        result = run_followupd(["--config", str(config), *args], env=env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    work = users["work"]
    local, _, domain = work.address.partition("@")
    dovecot.append(work, "Sent", make_message(from_=work.address, to="bob@example.org", subject="Contract",
                                              date=SENT_AT, bcc=f"{local}+followup@{domain}"),
                   date=SENT_AT, flags=[b"\\Seen"])
    run("poll")
    documents = json.loads(run("stats", "--json"))
    assert [(d["account"], d["tracked"], d["replied"]) for d in documents] == [("work", 1, 0), ("home", 0, 0)]
    assert [d["by_touch"] for d in documents] == [[{"touch": 0, "replied": 0}], []]
    text = run("stats")
    assert text.index("account work:") < text.index("1 thread tracked") < text.index("account home:")
    assert "No follow-up threads tracked since" in text.split("account home:")[1]
    (only,) = json.loads(run("--account", "home", "stats", "--json"))
    assert only["account"] == "home" and only["tracked"] == 0

"""The weekly digest end to end (issue 15 points 1 and 5): real Dovecot, the real command, time pinned.

Exactly one digest per period lands in INBOX, unread, from the user, across several polls and across a
``kill -9`` at either side of its APPEND; none before the configured day and time; ``digest --preview`` shows
the next one and files nothing; the digest itself is never taken for mail (no thread is started from it).
The wording is tested from plain records in tests/test_digest.py.
"""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, accounts_config, default_config, run_followupd
from mailfactory import make_message

SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday; the period began on Monday 2 Nov, 08:00
NEXT_PERIOD = datetime(2026, 11, 9, 8, 0, tzinfo=UTC)  # Monday 08:00 (timezone UTC in the test config)


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    workdir = tmp_path / "acct"
    return Account(dovecot, mail_user, workdir, config_text=default_config(mail_user, workdir, digest=True))


def seed(account: Account, to: str, subject: str) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=SENT_AT,
                       bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def digests(account: Account) -> list[tuple[tuple[bytes, ...], Message]]:
    return [(flags, msg) for _uid, flags, msg in account.messages("INBOX")
            if str(msg["X-Followupd-Id"] or "").startswith("digest-")]


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode("utf-8")
    raise AssertionError("no text/plain part")


def test_one_digest_per_period_unread_from_the_user_with_what_changed(account: Account) -> None:
    ann = seed(account, "Ann Archer <ann@example.org>", "Quote for the shed")
    seed(account, "bob@example.org", "Lunch next week?")
    filed = account.poll(now=SENT_AT + timedelta(hours=1))  # the period of Monday 2 Nov has begun: it is due
    assert "internal error" not in filed.stderr  # a swallowed bug in the digest would be logged as one
    account.poll(now=SENT_AT + timedelta(hours=2))
    [(flags, first)] = digests(account)
    assert b"\\Seen" not in flags
    assert first.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in first.get_payload()] == ["text/plain", "text/html"]  # type: ignore[union-attr]
    assert str(first["From"]) == f"Alex Example <{account.user.address}>"
    assert str(first["X-Followupd-Id"]).endswith("-2026-11-02")
    text = text_of(first)
    assert "Who owes you a reply" in text and "Quote for the shed" in text and "Lunch next week?" in text
    assert "Ann Archer: Quote for the shed (0 days waiting, 0 follow-ups so far, next check-in" \
        in " ".join(text.split())
    assert max(len(line) for line in text.splitlines()) <= 78

    account.server.deliver_lmtp(account.user, make_message(
        from_="Ann Archer <ann@example.org>", to=account.user.address, subject="Re: Quote for the shed",
        in_reply_to=ann, date=SENT_AT + timedelta(days=1), body="Yes, that works for us.\n"))
    account.poll(now=SENT_AT + timedelta(days=2))
    assert len(digests(account)) == 1
    states = sorted((t["subject"], t["state"]) for t in json.loads(account.run("status", "--all", "--json").stdout))
    assert states == [("Lunch next week?", "waiting"), ("Quote for the shed", "replied")]  # the digest: no thread

    account.poll(now=NEXT_PERIOD - timedelta(minutes=1))  # not before the day and time
    assert len(digests(account)) == 1
    account.poll(now=NEXT_PERIOD + timedelta(minutes=1))
    account.poll(now=NEXT_PERIOD + timedelta(minutes=30))
    assert len(digests(account)) == 2
    second = text_of(digests(account)[1][1])
    assert str(digests(account)[1][1]["X-Followupd-Id"]).endswith("-2026-11-09")
    assert "Closed since the last digest" in second
    assert "Quote for the shed (Ann Archer): ann@example.org replied after 0 follow-ups" in " ".join(second.split())
    waiting = second.split("Closed since the last digest")[0]
    assert "Lunch next week?" in waiting and "Quote for the shed" not in waiting
    assert "Last 90 days" in second and "1 of 2 threads replied (50 %)" in second


def test_preview_shows_the_next_digest_and_files_nothing(account: Account, tmp_path: Path) -> None:
    seed(account, "bob@example.org", "Lunch next week?")
    assert account.run("digest", "--preview", now=SENT_AT).stdout.startswith("nothing to report")
    account.write_config(default_config(account.user, account.workdir, digest=True).replace(
        "[cadence]", '[digest]\nday = "fri"\n\n[cadence]'))  # the period began on Fri 30 Oct
    account.poll(now=SENT_AT + timedelta(hours=1))
    assert len(digests(account)) == 1  # filed for the period of Friday 30 Oct
    output = account.run("digest", "--preview", now=SENT_AT + timedelta(hours=2)).stdout
    assert output.startswith("Subject: Your follow-ups this week: 1 waiting\n")
    assert "Lunch next week?" in output
    html = tmp_path / "digest.html"
    account.run("digest", "--preview", "--html", str(html), now=SENT_AT + timedelta(hours=2))
    assert "Lunch next week?" in html.read_text() and "max-width" in html.read_text()
    document = json.loads(account.run("digest", "--preview", "--json", now=SENT_AT + timedelta(hours=2)).stdout)
    assert document["account"] == account.user.username and document["sections"] == ["waiting", "stats"]
    assert document["subject"].startswith("Your follow-ups") and "Lunch next week?" in document["text"]
    assert len(digests(account)) == 1  # the previews filed nothing


def test_a_promise_due_this_week_is_in_the_digest(account: Account) -> None:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to="Cleo <cleo@example.org>",
                       subject="The figures you asked for", date=SENT_AT, bcc=account.tracking_with("me-3d"))
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(hours=1))
    [(_flags, message)] = digests(account)
    text = " ".join(text_of(message).split())
    assert "Your promises due this week" in text and "Cleo: The figures you asked for (due" in text
    assert "Who owes you a reply" not in text  # a promise waits for the user, not for Cleo


def test_nothing_to_report_files_nothing(account: Account) -> None:
    account.poll(now=SENT_AT)
    account.poll(now=NEXT_PERIOD + timedelta(hours=1))
    assert digests(account) == []


@pytest.mark.parametrize("point", ["before_digest_append", "after_digest_append"])
def test_a_crash_around_the_append_never_files_two(account: Account, point: str) -> None:
    seed(account, "bob@example.org", "Lunch next week?")
    crashed = account.run("poll", now=SENT_AT + timedelta(hours=1), check=False, FOLLOWUPD_CRASH_AT=point)
    assert crashed.returncode == -9, crashed.stderr
    assert len(digests(account)) == (1 if point == "after_digest_append" else 0)
    account.poll(now=SENT_AT + timedelta(hours=1, minutes=1))
    account.poll(now=SENT_AT + timedelta(hours=1, minutes=2))
    [(flags, message)] = digests(account)
    assert b"\\Seen" not in flags and "Lunch next week?" in text_of(message)


def test_each_account_gets_its_own_digest_with_its_own_threads_only(dovecot: DovecotServer,
                                                                    tmp_path: Path) -> None:
    users = {"work": dovecot.add_user(), "home": dovecot.add_user()}
    config, env = accounts_config(users, tmp_path, now=SENT_AT + timedelta(hours=1))
    subjects = {"work": "Contract for the office", "home": "Birthday party"}
    for name, user in users.items():
        local, _, domain = user.address.partition("@")
        dovecot.append(user, "Sent", make_message(from_=user.address, to="bob@example.org", subject=subjects[name],
                                                  date=SENT_AT, bcc=f"{local}+followup@{domain}"),
                       date=SENT_AT, flags=[b"\\Seen"])
    preview = run_followupd(["--config", str(config), "--account", "home", "digest", "--preview"], env=env)
    assert preview.returncode == 0, preview.stderr
    assert preview.stdout.startswith("nothing to report")  # nothing tracked before the first poll
    result = run_followupd(["--config", str(config), "poll"], env=env)
    assert result.returncode == 0, result.stderr
    for name, user in users.items():
        with dovecot.connect(user) as client:
            client.select_folder("INBOX", readonly=True)
            fetched = client.fetch(client.search("ALL"), ["BODY.PEEK[]"])
        found = [email.message_from_bytes(data[b"BODY[]"]) for data in fetched.values()]
        [digest] = [m for m in found if str(m["X-Followupd-Id"] or "").startswith("digest-")]
        text = text_of(digest)
        other = subjects["home" if name == "work" else "work"]
        assert subjects[name] in text and other not in text, (name, text)
    preview = run_followupd(["--config", str(config), "--account", "home", "digest", "--preview"], env=env)
    assert subjects["home"] in preview.stdout and subjects["work"] not in preview.stdout


def test_a_command_sent_by_mail_is_confirmed_in_the_next_digest(account: Account) -> None:
    tracked = seed(account, "Ann Archer <ann@example.org>", "Quote for the shed")
    seed(account, "bob@example.org", "Lunch next week?")
    account.poll(now=SENT_AT + timedelta(hours=1))  # this period's digest: before the command
    stop = make_message(from_=f"Alex Example <{account.user.address}>", to=account.tracking_with("stop"),
                        subject="Re: Quote for the shed", in_reply_to=tracked, references=tracked,
                        date=SENT_AT + timedelta(days=1), body="stop\n")
    account.server.append(account.user, "Sent", stop, date=SENT_AT + timedelta(days=1), flags=[b"\\Seen"])
    account.poll(now=SENT_AT + timedelta(days=1, hours=1))
    assert len(digests(account)) == 1
    account.poll(now=NEXT_PERIOD + timedelta(minutes=1))
    latest = text_of(digests(account)[-1][1])
    assert "Your commands by mail" in latest
    assert "+followup-stop on Quote for the shed: you stopped following up" in " ".join(latest.split())

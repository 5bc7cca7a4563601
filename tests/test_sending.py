"""Review and send: outbox commands and SMTP sending exactly once, on a real Dovecot and a real SMTP server.

Every test drives the real ``followupd`` command; the SMTP side is aiosmtpd on loopback; crashes are real
SIGKILLs at named steps (FOLLOWUPD_CRASH_AT).
"""

from __future__ import annotations

import email
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, followupd_command
from mailfactory import make_message
from smtpsink import SmtpSink

BOB = "bob@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DUE = SENT_AT + timedelta(days=6)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def sending_config(account: Account, sink: SmtpSink, *, mode: str = "approve", extra: str = "",
                   cadence: str = "") -> None:
    text = account.config_text.split("\n[smtp]")[0]  # replace any earlier sending setup
    if cadence:
        text = text.replace('send_hours = "00:00-24:00"', cadence)
    account.write_config(text + f"""
[smtp]
host = "127.0.0.1"
port = {sink.port}
tls = "none"

[sending]
mode = "{mode}"
file_sent_copy = true
{extra}
""")


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, sink: SmtpSink) -> Account:
    acct = Account(dovecot, mail_user, tmp_path / "acct")
    sending_config(acct, sink)
    return acct


def seed(account: Account, *, to: str = f"Bob Builder <{BOB}>", subject: str = "Quote for the garden shed",
         when: datetime = SENT_AT) -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=when,
                       bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def queued_id(account: Account) -> str:
    (entry,) = account.outbox()
    return str(entry["id"])


def sent_copies(account: Account, message_id: str) -> int:
    return sum(1 for _u, _f, m in account.messages("Sent") if m["Message-ID"] == message_id)


def test_approve_sends_once_files_sent_and_removes_the_draft(account: Account, sink: SmtpSink) -> None:
    seed(account)
    account.poll(now=DUE)
    touch = queued_id(account)
    result = account.run("outbox", "approve", touch[:8], now=DUE + timedelta(minutes=5))
    assert "approved" in result.stdout

    assert len(sink.received) == 1
    delivered = sink.received[0]
    assert delivered.recipients == [BOB]
    assert delivered.sender == account.user.address
    message = delivered.message
    assert message["Bcc"] is None
    assert message["X-Followupd-Id"] is None
    assert message["Message-ID"] == account.outbox("--all")[0]["message_id"]
    assert message["Subject"] == "Re: Quote for the garden shed"
    assert account.drafts() == []
    assert sent_copies(account, str(message["Message-ID"])) == 1
    (entry,) = account.outbox("--all")
    assert entry["state"] == "sent" and entry["sent_by_followupd"] is True
    thread = account.status()[0]
    assert thread["touches"] == 1
    assert datetime.fromisoformat(thread["next_due"]) >= DUE + timedelta(days=7)

    for minutes in (10, 20):  # later cycles: the Sent copy is recognised, nothing is sent or filed again
        account.poll(now=DUE + timedelta(minutes=minutes))
    assert len(sink.received) == 1
    assert sent_copies(account, str(message["Message-ID"])) == 1
    assert account.status()[0]["touches"] == 1


def test_review_mode_never_sends_and_approve_says_why(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink, mode="review")
    seed(account)
    account.poll(now=DUE)
    result = account.run("outbox", "approve", queued_id(account), now=DUE, check=False)
    assert result.returncode == 2
    assert 'mode = "review"' in result.stderr
    account.poll(now=DUE + timedelta(days=3))
    assert sink.received == []


def test_auto_mode_sends_after_the_review_window_and_sends_the_users_edit(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink, mode="auto", extra='review_window = "4h"')
    seed(account)
    account.poll(now=DUE)
    (draft_uid, _flags, draft) = account.messages("Drafts")[0]
    # The user edits the draft in their mail client: a new version replaces the old, the Message-ID kept.
    edited = email.message_from_bytes(draft.as_bytes())
    edited.set_payload("Hi Bob, any news on the shed? Happy to adjust the size. Alex\n")
    account.server.append(account.user, "Drafts", edited.as_bytes(), flags=[b"\\Draft"])
    with account.server.connect(account.user) as client:
        client.select_folder("Drafts")
        client.delete_messages([draft_uid])
        client.expunge()

    account.poll(now=DUE + timedelta(hours=3))
    assert sink.received == []  # still inside the review window
    account.poll(now=DUE + timedelta(hours=5))
    assert sink.received == []  # the edit restarted the window
    account.poll(now=DUE + timedelta(hours=10))
    assert len(sink.received) == 1
    assert "Happy to adjust the size" in sink.received[0].data.decode()
    assert account.drafts() == []


def test_no_send_after_a_reply_even_when_approved(account: Account, sink: SmtpSink) -> None:
    tracked = seed(account)
    account.poll(now=DUE)
    touch = queued_id(account)
    sending_config(account, sink, cadence='send_hours = "09:00-10:00"')  # approval waits for tomorrow's window
    account.run("outbox", "approve", touch, now=DUE + timedelta(hours=2))
    assert sink.received == []
    account.server.deliver_lmtp(account.user, make_message(from_=BOB, subject="Re: Quote", in_reply_to=tracked))
    account.poll(now=DUE + timedelta(days=1, minutes=-30))
    assert sink.received == []
    assert account.status()[0]["state"] == "replied"
    assert account.drafts() == []


@pytest.mark.parametrize("point", ["before_smtp", "before_data", "after_smtp"])
def test_a_crash_around_smtp_never_sends_twice(account: Account, sink: SmtpSink, point: str) -> None:
    seed(account)
    account.poll(now=DUE)
    touch = queued_id(account)
    crashed = account.run("outbox", "approve", touch, now=DUE, check=False, FOLLOWUPD_CRASH_AT=point)
    assert crashed.returncode == -9
    for minutes in (5, 10, 15):
        account.poll(now=DUE + timedelta(minutes=minutes))
    assert len(sink.received) == 1  # before_smtp: sent after the restart; after_smtp: never again
    entries = account.outbox("--all")
    assert len(entries) == 1, entries
    (entry,) = entries
    if point in ("before_smtp", "before_data"):
        assert entry["state"] == "sent"
    else:
        # Accepted by the server but not confirmed, and not in Sent: followupd will not guess.
        assert entry["state"] == "failed"
        assert "unknown whether it went out" in entry["outcome"]
        assert any("unknown whether it went out" in p for p in account.status()[0]["problems"])


def test_after_a_crash_a_self_filing_server_tells_what_happened(
        account: Account, sink: SmtpSink, dovecot: DovecotServer) -> None:
    account.write_config(account.config_text.replace("file_sent_copy = true", "file_sent_copy = false"))
    sink.handler.on_accept = lambda data: dovecot.append(account.user, "Sent", data, flags=[b"\\Seen"])  # Gmail-like
    seed(account)
    account.poll(now=DUE)
    crashed = account.run("outbox", "approve", queued_id(account), now=DUE, check=False,
                          FOLLOWUPD_CRASH_AT="after_smtp")
    assert crashed.returncode == -9
    account.poll(now=DUE + timedelta(minutes=5))
    assert len(sink.received) == 1
    (entry,) = account.outbox("--all")
    assert entry["state"] == "sent"  # found in Sent: it did go out
    assert account.status()[0]["touches"] == 1
    assert sum(1 for _u, _f, m in account.messages("Sent") if m["Message-ID"] == entry["message_id"]) == 1


def test_a_permanent_rejection_marks_the_follow_up_failed_with_the_servers_words(
        account: Account, sink: SmtpSink) -> None:
    sink.handler.mode = "reject"
    seed(account)
    account.poll(now=DUE)
    result = account.run("outbox", "approve", queued_id(account), now=DUE)
    assert "approved" in result.stdout
    (entry,) = account.outbox("--all")
    assert entry["state"] == "failed"
    assert "550" in entry["outcome"] and "recipient does not accept mail" in entry["outcome"]
    assert any("550" in p for p in account.status()[0]["problems"])
    assert "failed" in account.run("outbox", "--all").stdout


def test_a_temporary_failure_is_retried_later_and_sent_once(account: Account, sink: SmtpSink) -> None:
    sink.handler.mode = "defer"
    seed(account)
    account.poll(now=DUE)
    account.run("outbox", "approve", queued_id(account), now=DUE)
    (entry,) = account.outbox()
    assert entry["state"] == "queued" and "retrying" in entry["outcome"]
    sink.handler.mode = "accept"
    account.poll(now=DUE + timedelta(seconds=30))
    assert sink.received == []  # back-off: not yet
    account.poll(now=DUE + timedelta(minutes=10))
    assert len(sink.received) == 1
    account.poll(now=DUE + timedelta(minutes=20))
    assert len(sink.received) == 1


def test_a_dropped_connection_during_data_is_never_resent_blindly(account: Account, sink: SmtpSink) -> None:
    sink.handler.mode = "drop"
    seed(account)
    account.poll(now=DUE)
    account.run("outbox", "approve", queued_id(account), now=DUE, check=False)
    sink.handler.mode = "accept"
    account.poll(now=DUE + timedelta(minutes=5))
    account.poll(now=DUE + timedelta(minutes=10))
    assert len(sink.received) == 1
    (entry,) = account.outbox("--all")
    assert entry["state"] == "failed"


def test_hourly_limit_holds_the_second_send(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink, extra="max_per_hour = 1")
    seed(account, to="Ann <ann@example.org>", subject="Proposal")
    seed(account, to="Carl <carl@example.org>", subject="Invoice", when=SENT_AT + timedelta(minutes=5))
    account.poll(now=DUE)
    ids = [e["id"] for e in account.outbox()]
    assert len(ids) == 2
    for touch in ids:
        account.run("outbox", "approve", touch, now=DUE)
    assert len(sink.received) == 1
    waiting = [e for e in account.outbox() if e["state"] == "queued"]
    assert len(waiting) == 1 and "hourly limit" in waiting[0]["outcome"]
    account.poll(now=DUE + timedelta(hours=1, minutes=5))
    assert len(sink.received) == 2


def test_outside_the_window_an_approved_send_waits_unless_now(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink, cadence='send_hours = "09:00-10:00"')
    seed(account)
    seed(account, to="Carl <carl@example.org>", subject="Invoice", when=SENT_AT + timedelta(minutes=5))
    account.poll(now=DUE.replace(hour=9, minute=30))
    by_recipient = {e["to"][0]: e["id"] for e in account.outbox()}
    first, second = by_recipient[BOB], by_recipient["carl@example.org"]
    late = DUE.replace(hour=15)
    account.run("outbox", "approve", first, now=late)
    assert sink.received == []
    assert "sending window" in next(e for e in account.outbox() if e["id"] == first)["outcome"]
    account.run("outbox", "approve", second, "--now", now=late)
    assert [r.recipients for r in sink.received] == [["carl@example.org"]]
    account.poll(now=late + timedelta(days=1) - timedelta(hours=5, minutes=20))  # 09:40 next day
    assert len(sink.received) == 2


def test_outbox_commands_resolve_prefixes_and_refuse_unknown_ids(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    touch = queued_id(account)
    shown = account.run("outbox", "show", touch[:6], now=DUE).stdout
    assert "Subject: Re: Quote for the garden shed" in shown and "In-Reply-To:" in shown
    unknown = account.run("outbox", "show", "zzzz", now=DUE, check=False)
    assert unknown.returncode == 2
    assert "no follow-up with an id starting 'zzzz'" in unknown.stderr
    unknown_thread = account.run("snooze", "zzzz", "2w", now=DUE, check=False)
    assert unknown_thread.returncode == 2 and "no thread" in unknown_thread.stderr


def test_skip_drops_the_draft_and_plans_the_next(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    result = account.run("outbox", "skip", queued_id(account), now=DUE)
    assert "skipped" in result.stdout
    assert account.drafts() == []
    thread = account.status()[0]
    assert thread["state"] == "waiting" and thread["touches"] == 0
    assert datetime.fromisoformat(thread["next_due"]) >= DUE + timedelta(days=7)


def test_stop_ends_the_thread_and_withdraws_its_draft(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    thread_id = account.status()[0]["id"]
    account.run("outbox", "stop", thread_id[:5], now=DUE)
    assert account.drafts() == []
    thread = account.status()[0]
    assert thread["state"] == "stopped" and thread["next_due"] is None
    account.poll(now=DUE + timedelta(days=30))
    assert account.drafts() == []


def test_snooze_holds_the_thread_and_note_reaches_the_template(account: Account, tmp_path: Path) -> None:
    seed(account)
    account.poll(now=SENT_AT + timedelta(days=1))
    thread_id = account.status()[0]["id"]
    account.run("note", thread_id, "Ask how the move to Leipzig went.", now=SENT_AT + timedelta(days=1))
    account.run("snooze", thread_id, "2w", now=SENT_AT + timedelta(days=1))
    due = datetime.fromisoformat(account.status()[0]["next_due"])
    assert due >= SENT_AT + timedelta(days=15)
    assert account.status()[0]["note"] == "Ask how the move to Leipzig went."
    account.poll(now=DUE)
    assert account.drafts() == []  # snoozed
    account.poll(now=due + timedelta(minutes=1))
    (draft,) = account.drafts()
    assert "Leipzig" in draft.get_payload(decode=True).decode()


def test_edit_replaces_the_draft_in_drafts(account: Account, tmp_path: Path) -> None:
    seed(account)
    account.poll(now=DUE)
    touch = queued_id(account)
    editor = tmp_path / "editor.py"
    editor.write_text("import sys\np = sys.argv[1]\nopen(p, 'w').write('Hi Bob, a shorter note from me. Alex\\n')\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    result = account.run("outbox", "edit", touch, now=DUE, EDITOR=f"{sys.executable} {editor}")
    assert "draft updated" in result.stdout
    (uid_flags_draft,) = account.messages("Drafts")
    _uid, flags, draft = uid_flags_draft
    assert b"\\Draft" in flags
    assert "a shorter note from me" in draft.get_payload(decode=True).decode()
    assert draft["Message-ID"] == account.outbox()[0]["message_id"]
    assert "a shorter note from me" in account.run("outbox", "show", touch, now=DUE).stdout


def test_approve_while_the_daemon_runs_is_handled_by_the_daemon(account: Account, sink: SmtpSink) -> None:
    seed(account)
    account.poll(now=DUE)
    touch = queued_id(account)
    log_path = account.workdir / "daemon.log"
    with log_path.open("w") as log:
        daemon = subprocess.Popen([*followupd_command(), "--config", str(account.config_path), "--log-level", "info",
                                   "run"], env=account.env(DUE), stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        # Wait for the daemon's first cycle to end (the lock file alone may be the earlier poll's, left on disk).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and ": cycle:" not in log_path.read_text():
            assert daemon.poll() is None, log_path.read_text()
            time.sleep(0.1)
        assert ": cycle:" in log_path.read_text(), log_path.read_text()
        result = account.run("outbox", "approve", touch, now=DUE, timeout=90)
        assert "approved" in result.stdout
        # "approved" is printed once the daemon applied the request; its send follows in the same cycle.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not sink.received:
            time.sleep(0.1)
        assert len(sink.received) == 1
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    assert daemon.returncode == 0
    assert os.environ.get("FOLLOWUPD_CRASH_AT") is None


def test_a_thread_id_stands_for_its_waiting_follow_up(account: Account, sink: SmtpSink) -> None:
    seed(account)
    account.poll(now=DUE)
    thread_id = account.status()[0]["id"]
    account.run("outbox", "approve", thread_id[:7], now=DUE)
    assert len(sink.received) == 1
    later = datetime.fromisoformat(account.status()[0]["next_due"]) + timedelta(minutes=1)
    account.poll(now=later)  # a second follow-up: the thread now has two touches
    account.run("outbox", "approve", thread_id, now=later)
    assert len(sink.received) == 2
    assert sink.received[1].message["Message-ID"] == account.outbox("--all")[1]["message_id"]
    assert sink.received[0].message["Message-ID"] != sink.received[1].message["Message-ID"]


def test_one_person_never_gets_two_sends_on_consecutive_days(account: Account, sink: SmtpSink) -> None:
    seed(account, subject="Quote for the shed")
    seed(account, subject="Invoice 1234", when=SENT_AT + timedelta(hours=1))
    account.poll(now=DUE)  # one draft today; the other thread with Bob is postponed by the drafting spacing
    later = DUE + timedelta(days=2, hours=1)
    account.poll(now=later)
    first, second = (e["id"] for e in account.outbox())
    account.run("outbox", "approve", first, now=later)
    account.run("outbox", "approve", second, "--now", now=later)
    assert len(sink.received) == 1  # --now skips the window, never the spacing
    held = next(e for e in account.outbox() if e["id"] == second)
    assert "too recently" in held["outcome"]
    account.poll(now=later + timedelta(days=2))
    assert len(sink.received) == 2


def test_daily_limit_holds_sends_until_the_next_day(account: Account, sink: SmtpSink) -> None:
    sending_config(account, sink, extra="max_per_day = 1")
    seed(account, to="Ann <ann@example.org>", subject="Proposal")
    seed(account, to="Carl <carl@example.org>", subject="Invoice", when=SENT_AT + timedelta(minutes=5))
    account.poll(now=DUE)
    for entry in account.outbox():
        account.run("outbox", "approve", entry["id"], now=DUE)
    assert len(sink.received) == 1
    assert "daily limit" in next(e for e in account.outbox() if e["state"] == "queued")["outcome"]
    account.poll(now=DUE + timedelta(hours=5))
    assert len(sink.received) == 1
    account.poll(now=DUE + timedelta(days=1, minutes=5))
    assert len(sink.received) == 2

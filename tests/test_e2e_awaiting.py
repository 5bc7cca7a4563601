"""End to end: awaiting a reply without the BCC (issue 14 point 2) on a real Dovecot, through the real command.

Alex sends mail from their client (a message APPENDed to Sent, as a client saving its copy would); replies
arrive by LMTP. The clock is pinned with FOLLOWUPD_NOW. What a user notices is checked through the CLI
(``suggestions``, ``status``, ``explain``, ``outbox``) and the Drafts folder; what followupd asked the server
is counted by a loopback proxy between the two.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config, followupd_command
from mailfactory import make_message
from netproxy import Fault, LoopbackProxy

BOB = "bob@example.org"
CAROL = "carol@colleague.example.com"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday
QUESTION = "Could you send me the quote by Friday?"


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[LoopbackProxy]:
    with LoopbackProxy(dovecot.host, dovecot.imap_port) as running:
        yield running


def make_account(dovecot: DovecotServer, user: MailUser, workdir: Path, *, auto: str | None,
                 tracking_extra: str = "", port: int | None = None) -> Account:
    """An account whose [tracking] has ``auto`` (None: the key left out, as in every existing config)."""
    text = default_config(user, workdir)
    local, _, domain = user.address.partition("@")
    address_line = f'address = "{local}+followup@{domain}"\n'
    assert address_line in text
    keys = (f'auto = "{auto}"\n' if auto is not None else "") + tracking_extra
    text = text.replace(address_line, address_line + keys)
    if port is not None:
        text = text.replace(f"port = {user.port}\n", f"port = {port}\n")
    return Account(dovecot, user, workdir, config_text=text)


@pytest.fixture
def suggest(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return make_account(dovecot, mail_user, tmp_path / "acct", auto="suggest")


def send(account: Account, *, body: str = f"Hi Bob,\n\n{QUESTION}\n\nThanks,\nAlex\n",
         subject: str = "Quote for the garden shed", to: str = f"Bob Builder <{BOB}>",
         when: datetime = NOW - timedelta(days=1), **headers: str) -> str:
    """Alex's client saves a sent message in Sent; returns its Message-ID."""
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=to, subject=subject, date=when,
                       body=body, **headers)
    account.server.append(account.user, "Sent", raw, date=when, flags=[b"\\Seen"])
    return next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                if line.lower().startswith("message-id:"))


def suggestions(account: Account, now: datetime = NOW) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = json.loads(account.run("suggestions", "--json", now=now).stdout)
    return result


def explain(account: Account, thread_id: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(account.run("explain", thread_id, "--json", now=NOW).stdout)
    return result


# ---------------------------------------------------------------------------------------------------- off


def body_tripwire(proxy: LoopbackProxy) -> Fault:
    """A fault that cuts the connection the moment followupd asks for a whole message (``BODY.PEEK[]``):
    a poll that reads a body fails, and ``fired`` says so."""
    return proxy.add_fault(Fault(b"BODY.PEEK[]", seen_from="client", acts_on="client", after=0, times=100))


def test_off_by_default_nothing_is_read_suggested_or_tracked(dovecot: DovecotServer, mail_user: MailUser,
                                                             tmp_path: Path, proxy: LoopbackProxy) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto=None, port=proxy.port)
    tripwire = body_tripwire(proxy)
    send(account)
    account.poll(now=NOW)
    assert proxy.commands.get("UID FETCH", 0) >= 1  # the headers were read...
    assert tripwire.fired == 0  # ...and no body
    assert account.status() == []
    assert suggestions(account) == []
    assert 'auto = "suggest"' in account.run("suggestions", now=NOW).stdout


# ---------------------------------------------------------------------------------------------------- suggest


def test_a_question_sent_without_the_bcc_is_suggested_with_its_evidence(suggest: Account) -> None:
    message_id = send(suggest)
    suggest.run("poll", "--dry-run", now=NOW)
    assert suggestions(suggest) == []  # a dry run writes nothing
    polled = suggest.poll(now=NOW)
    assert suggest.status() == []  # a suggestion is not a thread
    (entry,) = suggestions(suggest)
    assert f"suggested {entry['id']}" in polled.stdout + polled.stderr  # the cycle's summary says so
    assert entry["message_id"] == message_id
    assert entry["subject"] == "Quote for the garden shed"
    assert entry["recipients"] == [f"Bob Builder <{BOB}>"]
    assert entry["evidence"] == QUESTION
    assert datetime.fromisoformat(entry["sent_at"]) == NOW - timedelta(days=1)
    text = suggest.run("suggestions", now=NOW).stdout
    assert entry["id"] in text and "Could you send me the quote" in text
    suggest.poll(now=NOW + timedelta(minutes=5))  # read again: still one
    assert [e["id"] for e in suggestions(suggest)] == [entry["id"]]


def test_track_starts_a_manual_thread_whose_draft_comes_on_the_suffix_day(suggest: Account) -> None:
    sent_at = NOW - timedelta(days=1)  # Tuesday 1 Dec
    message_id = send(suggest, when=sent_at)
    suggest.poll(now=NOW)
    (entry,) = suggestions(suggest)
    result = suggest.run("track", entry["id"][:6], "--suffix", "5d", now=NOW)
    assert "tracking it as thread" in result.stdout
    assert suggestions(suggest) == []
    (thread,) = suggest.status()
    assert (thread["message_id"], thread["source"], thread["evidence"]) == (message_id, "manual", QUESTION)
    assert thread["recipients"] == [BOB] and thread["tracking_suffix"] == "5d"
    assert thread["promised"] == (sent_at + timedelta(days=5)).date().isoformat()
    assert datetime.fromisoformat(thread["next_due"]).date() == (sent_at + timedelta(days=5)).date()
    due = datetime.fromisoformat(thread["next_due"])
    suggest.poll(now=due - timedelta(hours=1))
    assert suggest.drafts() == []  # not before the promised day
    suggest.poll(now=due + timedelta(minutes=1))
    (draft,) = suggest.drafts()
    assert BOB in draft["To"] and draft["In-Reply-To"] == message_id
    assert "(manual)" in suggest.run("status", now=due).stdout
    shown = suggest.run("explain", thread["id"], now=due).stdout
    assert "source: manual" in shown and "followupd track" in shown and f"asks: {QUESTION}" in shown
    # a second `track` of the same suggestion is refused, clearly, before anything is queued
    again = suggest.run("track", entry["id"], now=NOW, check=False)
    assert again.returncode == 2 and "already tracked" in again.stderr and thread["id"] in again.stderr
    assert len(suggest.status()) == 1


def test_track_with_a_bad_suffix_or_an_unknown_id_is_refused(suggest: Account) -> None:
    send(suggest)
    suggest.poll(now=NOW)
    (entry,) = suggestions(suggest)
    bad = suggest.run("track", entry["id"], "--suffix", "someday", now=NOW, check=False)
    assert bad.returncode == 2 and "--suffix" in bad.stderr and "5d" in bad.stderr
    promise = suggest.run("track", entry["id"], "--suffix", "me-3d", now=NOW, check=False)
    assert promise.returncode == 2
    unknown = suggest.run("track", "zzzz", now=NOW, check=False)
    assert unknown.returncode == 2 and "no suggestion with an id starting 'zzzz'" in unknown.stderr
    assert suggest.status() == [] and len(suggestions(suggest)) == 1


def test_ignore_drops_a_suggestion_for_good(suggest: Account) -> None:
    send(suggest)
    suggest.poll(now=NOW)
    (entry,) = suggestions(suggest)
    result = suggest.run("ignore", entry["id"], "--json", now=NOW)
    applied = json.loads(result.stdout)
    assert (applied["kind"], applied["target"], applied["applied"], applied["ok"]) == \
        ("ignore", entry["id"], True, True)
    assert suggestions(suggest) == []
    suggest.poll(now=NOW + timedelta(hours=1))
    assert suggestions(suggest) == [] and suggest.status() == []
    refused = suggest.run("track", entry["id"], now=NOW, check=False)
    assert refused.returncode == 2 and "already ignored" in refused.stderr


def test_track_mode_tracks_at_once_with_source_auto(dovecot: DovecotServer, mail_user: MailUser,
                                                    tmp_path: Path) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="track")
    sent_at = NOW - timedelta(days=1)
    message_id = send(account, when=sent_at)
    send(account, subject="Thanks!", body="Hi Bob,\n\nthanks a lot for your help yesterday.\n\nAlex\n")
    account.poll(now=NOW)
    (thread,) = account.status()
    assert (thread["message_id"], thread["source"], thread["evidence"]) == (message_id, "auto", QUESTION)
    assert thread["tracking_suffix"] is None and thread["state"] == "waiting"
    # the default cadence: 3 business days after Tuesday's message
    assert datetime.fromisoformat(thread["next_due"]).date().isoformat() == "2026-12-04"
    assert suggestions(account) == []  # "track" makes threads, never suggestions
    assert "tracked at once" in account.run("suggestions", now=NOW).stdout
    shown = explain(account, thread["id"])
    assert (shown["thread"]["source"], shown["thread"]["evidence"]) == ("auto", QUESTION)
    assert any("without the BCC" in entry["evidence"] for entry in shown["timeline"])
    text = account.run("explain", thread["id"], now=NOW).stdout
    assert "source: auto" in text and f"asks: {QUESTION}" in text
    assert "(auto)" in account.run("status", now=NOW).stdout


def test_a_thank_you_or_information_only_is_not_suggested(suggest: Account) -> None:
    send(suggest, subject="Thanks!", body="Hi Bob,\n\nthanks a lot for your help yesterday, much appreciated.\n\n"
                                          "Best,\nAlex\n")
    send(suggest, subject="FYI: new address", body="Hi Bob,\n\nFYI, our office moves to Main Street 5 on Monday. "
                                                   "No need to reply.\n\nAlex\n")
    suggest.poll(now=NOW)
    assert suggestions(suggest) == [] and suggest.status() == []


def test_auto_exclude_drops_matching_recipients(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="track",
                           tracking_extra='auto_exclude = ["example.com"]\n')
    send(account, to=f"Carol <{CAROL}>", subject="Only a colleague")  # nobody left: skipped
    mixed = send(account, to=f"Carol <{CAROL}>, Bob Builder <{BOB}>", subject="Colleague and Bob")
    account.poll(now=NOW)
    (thread,) = account.status()
    assert thread["message_id"] == mixed
    assert thread["recipients"] == [BOB]  # Carol matched the pattern: never followed up without a BCC


def test_a_bcc_message_is_tracked_with_source_bcc_in_every_mode(dovecot: DovecotServer, tmp_path: Path) -> None:
    for mode in (None, "off", "suggest", "track"):
        account = make_account(dovecot, dovecot.add_user(), tmp_path / f"acct-{mode}", auto=mode)
        message_id = send(account, bcc=account.tracking)
        account.poll(now=NOW)
        (thread,) = account.status()
        assert (thread["message_id"], thread["source"], thread["evidence"]) == (message_id, "bcc", None), mode
        assert suggestions(account) == [], mode
        assert "source: bcc" in account.run("explain", thread["id"], now=NOW).stdout


def test_only_mail_within_suggest_days_is_read_and_suggestions_expire(dovecot: DovecotServer, mail_user: MailUser,
                                                                      tmp_path: Path,
                                                                      proxy: LoopbackProxy) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="suggest",
                           tracking_extra="suggest_days = 3\n", port=proxy.port)
    tripwire = body_tripwire(proxy)
    send(account, when=NOW - timedelta(days=4), subject="Too old")
    account.poll(now=NOW)
    assert tripwire.fired == 0 and suggestions(account) == []  # sent before the window: not even read
    proxy.clear_faults()
    recent = send(account, when=NOW - timedelta(days=1), subject="Recent")
    account.poll(now=NOW + timedelta(minutes=1))
    (entry,) = suggestions(account)
    assert entry["message_id"] == recent
    account.poll(now=NOW + timedelta(days=1, hours=23))  # sent 2 days 23 h ago: still open
    assert len(suggestions(account, NOW + timedelta(days=1, hours=23))) == 1
    account.poll(now=NOW + timedelta(days=2, hours=1))  # over 3 days: expired
    assert suggestions(account, NOW + timedelta(days=2, hours=1)) == []
    refused = account.run("track", entry["id"], now=NOW + timedelta(days=2, hours=1), check=False)
    assert refused.returncode == 2 and "already expired" in refused.stderr


def test_a_reply_before_tracking_closes_the_suggestion(suggest: Account) -> None:
    message_id = send(suggest)
    other = send(suggest, subject="Another question", body="Hi Bob,\n\nDoes Tuesday work for the visit?\n\nAlex\n",
                 when=NOW - timedelta(hours=2))
    suggest.poll(now=NOW)
    assert [e["message_id"] for e in suggestions(suggest)] == [other, message_id]  # newest first
    out_of_office = make_message(from_=BOB, to=suggest.user.address, subject="Automatic reply: Quote",
                                 in_reply_to=message_id, auto_submitted="auto-replied")
    suggest.server.deliver_lmtp(suggest.user, out_of_office, sender=BOB)
    suggest.poll(now=NOW + timedelta(minutes=1))
    assert len(suggestions(suggest)) == 2  # an auto-reply is no answer
    reply = make_message(from_=f"Bob <{BOB}>", to=suggest.user.address, subject="Re: Quote for the garden shed",
                         in_reply_to=message_id, references=message_id, body="Sure, attached.\n")
    suggest.server.deliver_lmtp(suggest.user, reply, sender=BOB)
    suggest.poll(now=NOW + timedelta(minutes=2))
    assert [e["message_id"] for e in suggestions(suggest)] == [other]
    assert suggest.status() == []


def test_a_reply_in_a_tracked_thread_and_followupd_s_own_mail_are_never_suggested(suggest: Account) -> None:
    tracked = send(suggest, bcc=suggest.tracking, subject="Tracked one")
    suggest.poll(now=NOW)
    send(suggest, subject="Re: Tracked one", in_reply_to=tracked, references=tracked,
         body="Hi Bob,\n\nany news on this? Could you let me know by Monday?\n\nAlex\n")
    send(suggest, to=f"Alex <{suggest.user.address}>", subject="Note to self", body="Can I remember this?\n")
    suggest.poll(now=NOW + timedelta(minutes=1))
    assert suggestions(suggest) == []
    assert [t["message_id"] for t in suggest.status()] == [tracked]


def test_a_crash_after_the_sync_never_gives_two_threads_or_suggestions(dovecot: DovecotServer,
                                                                       mail_user: MailUser,
                                                                       tmp_path: Path) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="track")
    send(account)
    crashed = account.run("poll", now=NOW, check=False, FOLLOWUPD_CRASH_AT="after_sync_commit")
    assert crashed.returncode != 0
    account.poll(now=NOW + timedelta(minutes=1))
    assert [t["source"] for t in account.status()] == ["auto"]
    # and the suggest + track path: a track applied in a cycle that is then killed counts once
    other = make_account(dovecot, dovecot.add_user(), tmp_path / "other", auto="suggest")
    send(other)
    other.poll(now=NOW)
    (entry,) = suggestions(other)
    killed = other.run("track", entry["id"], now=NOW, check=False, FOLLOWUPD_CRASH_AT="after_sync_commit")
    assert killed.returncode != 0
    other.poll(now=NOW + timedelta(minutes=1))
    assert [t["source"] for t in other.status()] == ["manual"] and suggestions(other) == []


def test_a_quiet_cycle_asks_the_server_nothing_more_with_auto_on(dovecot: DovecotServer, tmp_path: Path) -> None:
    """The same mailbox polled with auto off and on: the first sync reads the bodies of the recent sent mail
    only (read ahead, several per FETCH), a quiet cycle after it sends exactly the same commands as with auto off."""
    counts: dict[str, tuple[dict[str, int], dict[str, int]]] = {}
    bodies: dict[str, tuple[int, int]] = {}
    for mode in ("off", "suggest"):
        with LoopbackProxy(dovecot.host, dovecot.imap_port) as proxy:
            account = make_account(dovecot, dovecot.add_user(), tmp_path / mode, auto=mode, port=proxy.port)
            for day in range(1, 21):  # 20 days of sent mail, a question a day; suggest_days is 14 (the default)
                send(account, when=NOW - timedelta(days=day, hours=1), subject=f"Question {day}")
            account.poll(now=NOW)
            assert len(suggestions(account)) == (13 if mode == "suggest" else 0)
            first = dict(proxy.commands)
            bodies[mode] = (proxy.bodies, proxy.body_fetches)
            proxy.commands.clear()
            account.poll(now=NOW + timedelta(minutes=5))
            counts[mode] = (first, dict(proxy.commands))
    (off_first, off_quiet), (on_first, on_quiet) = counts["off"], counts["suggest"]
    assert on_quiet == off_quiet
    # one body per message of the last 14 days: days 1..13 (day 14's, sent 14 days and an hour ago, is out),
    # read ahead in one UID FETCH (not one per message)
    assert bodies == {"off": (0, 0), "suggest": (13, 1)}
    assert on_first.get("UID FETCH", 0) - off_first.get("UID FETCH", 0) == 1
    assert {k: v for k, v in on_first.items() if k != "UID FETCH"} == \
        {k: v for k, v in off_first.items() if k != "UID FETCH"}


def test_track_and_ignore_are_applied_once_by_a_running_daemon(suggest: Account) -> None:
    """With `followupd run` holding the account, `track` and `ignore` queue requests, wake it and wait: each is
    applied exactly once, by the daemon, and a repeat is refused."""
    send(suggest)
    send(suggest, subject="Visit", body="Hi Bob,\n\nDoes Tuesday work for the visit?\n\nAlex\n")
    suggest.poll(now=NOW)
    first, second = sorted(suggestions(suggest), key=lambda e: e["subject"])
    suggest.write_config(suggest.config_text.replace("[account]\n", "[account]\nidle = false\n", 1))
    log_path = suggest.workdir / "daemon.log"
    with log_path.open("wb") as log:
        daemon = subprocess.Popen([*followupd_command(), "--config", str(suggest.config_path), "--log-level", "info",
                                   "run"], env=suggest.env(NOW), stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "polling every" not in log_path.read_text(errors="replace"):
            assert daemon.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.05)
        tracked = json.loads(suggest.run("track", first["id"], "--json", now=NOW).stdout)
        ignored = json.loads(suggest.run("ignore", second["id"], "--json", now=NOW).stdout)
        assert (tracked["applied"], tracked["ok"], ignored["applied"], ignored["ok"]) == (True, True, True, True)
        again = suggest.run("track", first["id"], now=NOW, check=False)
        assert again.returncode == 2 and "already tracked" in again.stderr
    finally:
        daemon.terminate()
        daemon.wait(15)
    text = log_path.read_text(errors="replace")
    assert len(re.findall(r"request track \w+: tracking it as thread", text)) == 1, text
    assert len(re.findall(r"request ignore \w+: ignored", text)) == 1, text
    assert [(t["message_id"], t["source"]) for t in suggest.status()] == [(first["message_id"], "manual")]
    assert suggestions(suggest) == []


def test_the_phrases_of_replies_lang_decide_what_asks(dovecot: DovecotServer, mail_user: MailUser,
                                                      tmp_path: Path) -> None:
    """``[replies.en] asking`` adds a phrase of the user's own: a message only it finds is suggested."""
    body = "Hi Bob,\n\nHere are the drawings. Holler at the shop floor team for the fittings.\n\nAlex\n"
    plain = make_account(dovecot, mail_user, tmp_path / "plain", auto="suggest")
    send(plain, body=body, subject="Drawings")
    plain.poll(now=NOW)
    assert suggestions(plain) == []
    own = make_account(dovecot, dovecot.add_user(), tmp_path / "own", auto="suggest")
    own.write_config(own.config_text + '\n[replies.en]\nasking = ["holler at"]\n')
    send(own, body=body, subject="Drawings")
    own.poll(now=NOW)
    assert [e["evidence"] for e in suggestions(own)] == ["Holler at the shop floor team for the fittings."]


def test_turning_auto_on_later_reads_only_what_is_sent_from_then_on(dovecot: DovecotServer, mail_user: MailUser,
                                                                     tmp_path: Path) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="off")
    send(account, subject="Before")
    account.poll(now=NOW)
    account.write_config(account.config_text.replace('auto = "off"', 'auto = "suggest"'))
    after = send(account, subject="After", when=NOW + timedelta(minutes=1))
    account.poll(now=NOW + timedelta(minutes=2))
    assert [e["message_id"] for e in suggestions(account, NOW + timedelta(minutes=2))] == [after]


# ---------------------------------------------------------------------------------------------------- a Bcc dropped
MONDAY = NOW - timedelta(days=2)  # 30 Nov: the default cadence's first check-in is Thursday, "-fri" is Friday


def send_bcc_dropped(account: Account, suffix: str, *, deliver: bool = True) -> tuple[str, bytes]:
    """Alex BCCs ``+followup-<suffix>``; the client saves the Sent copy without its Bcc header (many do), and the
    delivered copy reaches INBOX with the tracking address only in its envelope (Delivered-To). Returns the
    Message-ID and the delivered copy (delivered here unless ``deliver`` is False)."""
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject="Quote for the garden shed", date=MONDAY,
                       body=f"Hi Bob,\n\n{QUESTION}\n\nThanks,\nAlex\n")
    account.server.append(account.user, "Sent", raw, date=MONDAY, flags=[b"\\Seen"])
    if deliver:
        deliver_copy(account, raw, suffix)
    message_id = next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                      if line.lower().startswith("message-id:"))
    return message_id, raw


def deliver_copy(account: Account, raw: bytes, suffix: str) -> None:
    account.server.deliver_lmtp(account.user, raw, sender=account.user.address,
                                recipients=[account.tracking_with(suffix)])


@pytest.mark.parametrize("later", [False, True], ids=["one-poll", "copy-a-poll-later"])
def test_track_mode_a_bcc_copy_arriving_after_its_sent_copy_keeps_its_suffix(
        dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path, later: bool) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="track")
    message_id, raw = send_bcc_dropped(account, "fri", deliver=not later)
    if later:
        account.poll(now=NOW)
        (auto,) = account.status()
        assert (auto["source"], auto["tracking_suffix"]) == ("auto", None)
        assert datetime.fromisoformat(auto["next_due"]).date().isoformat() == "2026-12-03"  # the default cadence
        deliver_copy(account, raw, "fri")
    account.poll(now=NOW + timedelta(minutes=5))
    (thread,) = account.status()
    assert (thread["message_id"], thread["source"], thread["tracking_suffix"]) == (message_id, "bcc", "fri")
    assert thread["state"] == "waiting"
    assert datetime.fromisoformat(thread["next_due"]).date().isoformat() == "2026-12-04"  # Friday, as asked
    assert suggestions(account) == []
    if later:
        shown = explain(account, thread["id"])
        assert any("BCC'd copy arrived" in entry["evidence"] for entry in shown["timeline"])


@pytest.mark.parametrize("later", [False, True], ids=["one-poll", "copy-a-poll-later"])
def test_suggest_mode_a_bcc_copy_closes_the_suggestion_of_its_sent_copy(suggest: Account, later: bool) -> None:
    message_id, raw = send_bcc_dropped(suggest, "fri", deliver=not later)
    if later:
        suggest.poll(now=NOW)
        (entry,) = suggestions(suggest)
        assert entry["message_id"] == message_id and suggest.status() == []
        deliver_copy(suggest, raw, "fri")
    suggest.poll(now=NOW + timedelta(minutes=5))
    assert suggestions(suggest, now=NOW + timedelta(minutes=5)) == []  # nothing left to decide
    (thread,) = suggest.status()
    assert (thread["message_id"], thread["source"], thread["tracking_suffix"]) == (message_id, "bcc", "fri")
    assert datetime.fromisoformat(thread["next_due"]).date().isoformat() == "2026-12-04"
    if later:  # the suggestion says where it went
        refused = suggest.run("track", entry["id"], now=NOW + timedelta(minutes=10), check=False)
        assert refused.returncode == 2
        assert f"is already tracked on Wed 02 Dec 2026 (thread {thread['id']}" in refused.stderr


def test_track_mode_a_late_bcc_copy_to_a_promise_suffix_makes_it_your_promise(dovecot: DovecotServer,
                                                                              mail_user: MailUser,
                                                                              tmp_path: Path) -> None:
    account = make_account(dovecot, mail_user, tmp_path / "acct", auto="track")
    message_id, raw = send_bcc_dropped(account, "me-fri", deliver=False)
    account.poll(now=NOW)
    assert account.status()[0]["kind"] == "nudge"
    deliver_copy(account, raw, "me-fri")
    account.poll(now=NOW + timedelta(minutes=5))
    (thread,) = account.status()
    assert (thread["message_id"], thread["source"], thread["kind"]) == (message_id, "bcc", "commitment")
    assert (thread["tracking_suffix"], thread["promised"]) == ("me-fri", "2026-12-04")

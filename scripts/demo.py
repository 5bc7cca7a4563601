#!/usr/bin/env python3
"""The whole follow-up loop on a throwaway local Dovecot, narrated for a human (``./scripts/demo``).

It drives followupd exactly as a user would: the real ``followupd`` command as a subprocess, a config file, a
real IMAP server, and a separate IMAP login to look at what ended up in the mailbox. The clock is pinned with
``FOLLOWUPD_NOW`` to a fixed Monday-to-Friday week (last week, in UTC), so the output has the same shape
whatever the weekday or time of day, and a week of cadence takes seconds.

The demo doubles as a smoke test: every step checks that what should have happened did, and the script exits
non-zero with a message naming the step otherwise. The mail server and every file live in temporary
directories that are removed at the end, also on an error or Ctrl-C.
"""

from __future__ import annotations

import argparse
import email
import json
import os
import signal
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path
from types import FrameType
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from dovecot import DovecotError, DovecotServer, MailUser  # noqa: E402
from harness import Account  # noqa: E402
from mailfactory import make_message  # noqa: E402

BOB = "bob@example.org"
CAROL = "carol@example.org"
BOB_SUBJECT = "Quote for the garden shed"
CAROL_SUBJECT = "Contract for the spring season"
INDENT = "    "


class DemoFailure(Exception):
    """A step did not do what it should; the message says which and what was seen instead."""


# ------------------------------------------------------------------------------------------------ output
@dataclass
class Style:
    """Bold headers on a terminal (unless NO_COLOR is set), plain text when piped or logged."""

    enabled: bool

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def good(self, text: str) -> str:
        return self._wrap("32", text)

    def bad(self, text: str) -> str:
        return self._wrap("31;1", text)


STYLE = Style(enabled=sys.stdout.isatty() and not os.environ.get("NO_COLOR"))


def say(text: str = "") -> None:
    print(text, flush=True)


def section(number: int, title: str) -> None:
    say()
    say(STYLE.bold(f"== {number}. {title}"))


def indented(text: str, prefix: str = INDENT) -> None:
    for line in text.rstrip("\n").splitlines():
        say((prefix + line).rstrip())


def ok(text: str) -> None:
    say(f"  {STYLE.good('ok')} {text}")


def fmt(moment: datetime, with_date: bool = True) -> str:
    local = moment.astimezone(UTC)
    return local.strftime("%a %d %b %H:%M") if with_date else local.strftime("%H:%M")


def expect(condition: bool, step: str, detail: str) -> None:
    """Fail the demo (and the smoke test) with a message that names the step and what was seen."""
    if not condition:
        raise DemoFailure(f"{step}: {detail}")


# ------------------------------------------------------------------------------------------------ the week
@dataclass(frozen=True)
class Week:
    """The demo's pinned calendar: last week's Monday to Friday, so every moment is in the past."""

    monday: date

    @classmethod
    def last_week(cls, today: date) -> Week:
        return cls(today - timedelta(days=today.weekday() + 7))

    def at(self, weekday: int, hour: int, minute: int = 0) -> datetime:
        day = self.monday + timedelta(days=weekday)
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


@dataclass
class Timeline:
    """What happened, when (pinned time), for the summary at the end."""

    entries: list[tuple[datetime, str]] = field(default_factory=list)

    def add(self, moment: datetime, text: str) -> None:
        self.entries.append((moment, text))

    def render(self) -> str:
        return "\n".join(f"{fmt(moment)}  {text}" for moment, text in sorted(self.entries, key=lambda e: e[0]))


# ------------------------------------------------------------------------------------------------ helpers
def header_value(raw: bytes, name: str) -> str:
    parsed = email.message_from_bytes(raw)
    return str(parsed.get(name, "")).strip()


def run_cli(account: Account, now: datetime, *args: str, shorten_after: str | None = None) -> str:
    """Run ``followupd ARGS`` with the clock pinned to ``now``, echo the command and its output; return stdout.

    ``shorten_after``: echo the output only up to the first line containing it (the whole output is still
    returned and checked), so a long listing does not bury the story."""
    shown = " ".join(args)
    say(f"  $ followupd {shown}" + STYLE.dim(f"      (clock pinned to {fmt(now)})"))
    proc = account.run(*args, now=now, check=False)
    if proc.stdout.strip():
        lines = proc.stdout.rstrip("\n").splitlines()
        cut = next((i for i, line in enumerate(lines) if shorten_after and shorten_after in line), None)
        indented("\n".join(lines if cut is None else lines[: cut + 1]))
        if cut is not None and cut + 1 < len(lines):
            say(STYLE.dim(f"{INDENT}... ({len(lines) - cut - 1} more lines: the full text of each follow-up)"))
    for line in proc.stderr.strip().splitlines():
        say(STYLE.dim(f"{INDENT}log: {line}"))
    expect(proc.returncode == 0, f"followupd {shown}",
           f"exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc.stdout


def poll(account: Account, now: datetime) -> str:
    return run_cli(account, now, "--log-level", "info", "poll")


def json_cli(account: Account, now: datetime, *args: str) -> list[dict[str, Any]]:
    """The ``--json`` form of a command, not echoed: the demo's own checks read it."""
    proc = account.run(*args, "--json", now=now, check=False)
    expect(proc.returncode == 0, f"followupd {' '.join(args)} --json", f"exited {proc.returncode}: {proc.stderr}")
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def thread_for(threads: list[dict[str, Any]], recipient: str) -> dict[str, Any]:
    found = [t for t in threads if recipient in t["recipients"]]
    expect(len(found) == 1, "followupd status --json",
           f"expected one thread waiting on {recipient}, got {len(found)}: {threads}")
    return found[0]


def drafts_folder(server: DovecotServer, user: MailUser) -> list[EmailMessage]:
    """Everything in Drafts, read through a separate IMAP login (EXAMINE + BODY.PEEK: changes nothing)."""
    with server.connect(user) as client:
        client.select_folder("Drafts", readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["BODY.PEEK[]"]) if uids else {}
    messages: list[EmailMessage] = []
    for uid in sorted(data):
        parsed = email.message_from_bytes(data[uid][b"BODY[]"], policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        messages.append(parsed)
    return messages


def show_draft(message: EmailMessage) -> None:
    for name in ("From", "To", "Cc", "Subject", "Date", "In-Reply-To", "X-Followupd-Id"):
        if message.get(name) is not None:
            say(f"{INDENT}{name + ':':<16}{message[name]}")
    body_part = message.get_body(preferencelist=("plain",))
    body = body_part.get_content() if isinstance(body_part, EmailMessage) else "(no text/plain part)"
    say(f"{INDENT}{'-' * 60}")
    indented(str(body), INDENT + "| ")


def send_from_client(server: DovecotServer, user: MailUser, draft: EmailMessage, when: datetime) -> None:
    """What a mail client does when the user presses Send on a draft: the message (same Message-ID) goes out and
    a copy is filed in Sent; the draft is deleted from Drafts."""
    sent = email.message_from_bytes(draft.as_bytes(), policy=policy.default)
    del sent["Date"]
    sent["Date"] = when
    server.append(user, "Sent", sent.as_bytes(), date=when, flags=[b"\\Seen"])
    with server.connect(user) as client:
        client.select_folder("Drafts")
        uids = client.search(["HEADER", "Message-ID", str(draft["Message-ID"])])
        if uids:
            client.delete_messages(uids)
            client.expunge()


def recipients_of(message: EmailMessage) -> list[str]:
    return [addr.lower() for _name, addr in getaddresses([str(message.get("To", ""))])]


@contextmanager
def terminate_cleanly() -> Iterator[None]:
    """SIGTERM/SIGHUP unwind like Ctrl-C, so the ``with DovecotServer()`` block still stops the server."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# ------------------------------------------------------------------------------------------------ the story
def demo(server: DovecotServer, workdir: Path, week: Week, timeline: Timeline) -> None:
    mon_send_bob, mon_send_carol = week.at(0, 9, 12), week.at(0, 9, 47)
    mon_poll, thu_poll, thu_reply, thu_poll2 = week.at(0, 10), week.at(3, 10), week.at(3, 11, 30), week.at(3, 12)
    fri_poll, fri_send, fri_poll2 = week.at(4, 10), week.at(4, 10, 20), week.at(4, 10, 30)

    # -- 1 -----------------------------------------------------------------------------------------------------
    section(1, "A throwaway mail server and a followupd config")
    user = server.add_user("alex")
    account = Account(server, user, workdir / "followupd")
    say(f"  Dovecot on 127.0.0.1 (IMAP port {server.imap_port}, LMTP port {server.lmtp_port}), "
        f"data in {server.directory}")
    say(f"  mailbox user:      {user.address}")
    say(f"  tracking address:  {account.tracking}   (BCC it on mail you want followed up)")
    say(f"  config:            {account.config_path}")
    say("  cadence:           gaps 3bd, 1w, 2w, 4w; window always open, no jitter (the test defaults)")
    run_cli(account, mon_poll, "config", "check")

    # -- 2 -----------------------------------------------------------------------------------------------------
    section(2, f"Monday {week.monday:%d %b}: Alex sends two messages from a mail client")
    bob_raw = make_message(from_=f"Alex Example <{user.address}>", to=f"Bob Builder <{BOB}>",
                           bcc=account.tracking, subject=BOB_SUBJECT, date=mon_send_bob,
                           body="Hi Bob,\n\ncould you send me a quote for the garden shed we discussed?\n\nAlex\n")
    bob_id = header_value(bob_raw, "Message-ID")
    server.append(user, "Sent", bob_raw, date=mon_send_bob, flags=[b"\\Seen"])
    say(f"  {fmt(mon_send_bob, False)}  To Bob Builder <{BOB}>, Bcc {account.tracking}")
    say(f"         Subject: {BOB_SUBJECT}   -> saved in Sent")
    timeline.add(mon_send_bob, f"Alex writes to Bob ({BOB_SUBJECT!r}), Bcc {account.tracking}")

    carol_tracking = account.tracking_with("fri")
    carol_raw = make_message(from_=f"Alex Example <{user.address}>", to=f"Carol Chen <{CAROL}>",
                             bcc=carol_tracking, subject=CAROL_SUBJECT, date=mon_send_carol,
                             body="Hi Carol,\n\nhere is the contract. I'll check back on Friday.\n\nAlex\n")
    server.append(user, "Sent", carol_raw, date=mon_send_carol, flags=[b"\\Seen"])
    say(f"  {fmt(mon_send_carol, False)}  To Carol Chen <{CAROL}>, Bcc {carol_tracking}")
    say(f"         Subject: {CAROL_SUBJECT}   -> saved in Sent")
    say("         (the -fri suffix is Alex's promise: \"I'll check back on Friday\")")
    timeline.add(mon_send_carol, f"Alex writes to Carol ({CAROL_SUBJECT!r}), Bcc {carol_tracking}: promise Friday")

    # -- 3 -----------------------------------------------------------------------------------------------------
    section(3, "Monday 10:00: followupd polls and starts tracking both")
    out = poll(account, mon_poll)
    expect("2 new tracked thread(s)" in out, "poll on Monday", f"expected 2 new tracked threads, got: {out.strip()}")
    run_cli(account, mon_poll, "status")
    threads = json_cli(account, mon_poll, "status")
    bob_thread, carol_thread = thread_for(threads, BOB), thread_for(threads, CAROL)
    for thread in (bob_thread, carol_thread):
        expect(thread["state"] == "waiting" and thread["touches"] == 0 and not thread["problems"],
               "status on Monday", f"expected a waiting thread with no problems, got {thread}")
    bob_due = datetime.fromisoformat(bob_thread["next_due"])
    expect(bob_due == week.at(3, 9, 12), "status on Monday",
           f"Bob's first check-in should be 3 business days after sending ({fmt(week.at(3, 9, 12))}), "
           f"got {bob_thread['next_due']}")
    carol_due = datetime.fromisoformat(carol_thread["next_due"])
    expect(carol_thread["promised"] == week.at(4, 0).date().isoformat() and carol_due.date() == week.at(4, 0).date(),
           "status on Monday", f"Carol's check-in should be the promised Friday, got {carol_thread}")
    ok(f"Bob's check-in is due {fmt(bob_due)} (3 business days); Carol's on the promised Friday ({fmt(carol_due)})")
    timeline.add(mon_poll, f"followupd starts tracking both threads; Bob due {fmt(bob_due)}, Carol due "
                           f"{fmt(carol_due)} (promised)")

    # -- 4 -----------------------------------------------------------------------------------------------------
    section(4, "Thursday 10:00: no answer from Bob, so a follow-up draft appears")
    out = poll(account, thu_poll)
    expect("1 follow-up draft(s) queued" in out, "poll on Thursday", f"expected one draft queued, got: {out.strip()}")
    drafts = drafts_folder(server, user)
    expect(len(drafts) == 1, "Drafts on Thursday", f"expected exactly one draft (Bob's), found {len(drafts)}")
    draft = drafts[0]
    say("  In the Drafts folder (read through a separate IMAP login, nothing marked read):")
    show_draft(draft)
    expect(recipients_of(draft) == [BOB], "Bob's draft", f"To should be Bob only, got {draft['To']}")
    expect(str(draft.get("In-Reply-To", "")).strip() == bob_id, "Bob's draft",
           f"In-Reply-To should be {bob_id}, got {draft.get('In-Reply-To')}")
    expect(str(draft.get("Subject", "")).startswith("Re: ") and BOB_SUBJECT in str(draft["Subject"]), "Bob's draft",
           f"Subject should reply in the thread, got {draft.get('Subject')!r}")
    expect(bool(draft.get("X-Followupd-Id")), "Bob's draft", "the X-Followupd-Id header is missing")
    expect(account.user.address not in str(draft.get("To", "")) + str(draft.get("Cc", ""))
           and "+followup" not in str(draft.get("To", "")) + str(draft.get("Cc", "")),
           "Bob's draft", "the draft must never go to Alex or the tracking address")
    run_cli(account, thu_poll, "outbox")
    queued = json_cli(account, thu_poll, "outbox")
    expect(len(queued) == 1 and queued[0]["to"] == [BOB] and queued[0]["state"] == "queued", "outbox on Thursday",
           f"expected one queued draft to Bob, got {queued}")
    carol_now = thread_for(json_cli(account, thu_poll, "status"), CAROL)
    expect(carol_now["state"] == "waiting" and carol_now["touches"] == 0, "status on Thursday",
           f"Carol's thread should still wait for Friday, got {carol_now}")
    ok(f"one draft, replying in Bob's thread ({draft['X-Followupd-Id']}); nothing for Carol before her Friday")
    timeline.add(thu_poll, f"Bob has not answered: follow-up draft {draft['X-Followupd-Id']} "
                           f"({queued[0]['template']}) put in Drafts")

    # -- 5 -----------------------------------------------------------------------------------------------------
    section(5, "Thursday 11:30: Bob replies before Alex sends the draft")
    reply = make_message(from_=f"Bob Builder <{BOB}>", to=f"Alex Example <{user.address}>",
                         subject=f"Re: {BOB_SUBJECT}", date=thu_reply, in_reply_to=bob_id, references=bob_id,
                         body="Hi Alex,\n\nsorry for the delay: the quote is attached.\n\nBob\n")
    server.deliver_lmtp(user, reply, sender=BOB)
    say(f"  delivered to INBOX over LMTP: From {BOB}, Subject 'Re: {BOB_SUBJECT}', In-Reply-To {bob_id}")
    timeline.add(thu_reply, "Bob replies (In-Reply-To the original message)")
    poll(account, thu_poll2)
    run_cli(account, thu_poll2, "status")
    bob_after = thread_for(json_cli(account, thu_poll2, "status"), BOB)
    expect(bob_after["state"] == "replied" and bob_after["replied_by"] == BOB and not bob_after["reply_probable"],
           "status after Bob's reply", f"expected replied by {BOB}, got {bob_after}")
    expect(bob_after["next_due"] is None, "status after Bob's reply",
           f"a replied thread has no next check-in, got {bob_after['next_due']}")
    left = drafts_folder(server, user)
    say(f"  messages in Drafts now: {len(left)}")
    expect(len(left) == 0, "Drafts after Bob's reply",
           f"the stale draft should have been withdrawn, found {[str(m.get('Subject')) for m in left]}")
    run_cli(account, thu_poll2, "outbox", "--all")
    history = json_cli(account, thu_poll2, "outbox", "--all")
    expect([e["state"] for e in history] == ["withdrawn"], "outbox --all after Bob's reply",
           f"expected Bob's draft listed as withdrawn, got {history}")
    expect(json_cli(account, thu_poll2, "outbox") == [], "outbox after Bob's reply", "nothing should be waiting")
    ok("thread closed as replied; the unsent draft was removed from Drafts and is listed as withdrawn")
    timeline.add(thu_poll2, "followupd sees the reply: thread closed as replied, the draft withdrawn from Drafts")

    # -- 6 -----------------------------------------------------------------------------------------------------
    section(6, "Friday 10:00: Carol's promised check-in")
    out = poll(account, fri_poll)
    expect("1 follow-up draft(s) queued" in out, "poll on Friday", f"expected Carol's draft, got: {out.strip()}")
    drafts = drafts_folder(server, user)
    expect(len(drafts) == 1 and recipients_of(drafts[0]) == [CAROL], "Drafts on Friday",
           f"expected one draft to Carol, found {[str(m.get('To')) for m in drafts]}")
    say("  In the Drafts folder:")
    show_draft(drafts[0])
    run_cli(account, fri_poll, "outbox")
    ok("the draft to Carol appeared on the day Alex promised, not on the default schedule")
    carol_draft = drafts[0]
    timeline.add(fri_poll, f"Carol's promised Friday: follow-up draft {carol_draft['X-Followupd-Id']} put in Drafts")

    # -- 7 -----------------------------------------------------------------------------------------------------
    section(7, "Friday 10:20: Alex sends the draft from the mail client; followupd counts it and plans the next")
    send_from_client(server, user, carol_draft, fri_send)
    say(f"  {fmt(fri_send, False)}  Alex presses Send: the follow-up goes to {CAROL}, a copy is filed in Sent and")
    say("         the draft leaves Drafts (what any mail client does)")
    timeline.add(fri_send, "Alex sends the follow-up to Carol from the mail client")
    out = poll(account, fri_poll2)
    carol_sent = thread_for(json_cli(account, fri_poll2, "status"), CAROL)
    expect(carol_sent["state"] == "waiting" and carol_sent["touches"] == 1, "status after Alex sent the draft",
           f"expected Carol's thread waiting with 1 follow-up sent, got {carol_sent}")
    carol_next = datetime.fromisoformat(carol_sent["next_due"]) if carol_sent["next_due"] else None
    expect(carol_next is not None and carol_next - fri_send >= timedelta(days=6), "status after Alex sent the draft",
           f"the next check-in should be a longer gap later (the 1w step), got {carol_sent['next_due']}")
    assert carol_next is not None
    run_cli(account, fri_poll2, "status")
    sent_entries = [e for e in json_cli(account, fri_poll2, "outbox", "--all") if e["to"] == [CAROL]]
    expect([e["state"] for e in sent_entries] == ["sent"], "outbox --all after the send",
           f"Carol's follow-up should be listed as sent, got {sent_entries}")
    expect(drafts_folder(server, user) == [], "Drafts after the send", "nothing should wait in Drafts")
    ok(f"touch 1 counted as sent; Carol's next check-in {fmt(carol_next)}, a week later, not the next day")
    timeline.add(fri_poll2, f"followupd sees the follow-up in Sent: touch 1 counted, next check-in {fmt(carol_next)}")

    # -- 8 -----------------------------------------------------------------------------------------------------
    section(8, "followupd preview: what comes next for Carol, and for a message sent now")
    out = run_cli(account, fri_poll2, "preview", "--thread", carol_sent["id"], shorten_after="closes as unanswered")
    expect("DRAFT APPEARS" in out and "Touch 2 of" in out, "preview --thread", f"unexpected output: {out}")
    out = run_cli(account, fri_poll2, "preview", "--suffix", "2w", shorten_after="closes as unanswered")
    expect("DRAFT APPEARS" in out and len(out.strip().splitlines()) >= 4, "preview --suffix 2w",
           f"unexpected output: {out}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.parse_args(argv)
    started = time.monotonic()
    week = Week.last_week(datetime.now(UTC).date())
    timeline = Timeline()
    say(STYLE.bold("followupd demo") + f": one week (Mon {week.monday:%d %b %Y} - Fri), clock pinned, all times UTC")
    try:
        with terminate_cleanly(), tempfile.TemporaryDirectory(prefix="followupd-demo-") as tmp, \
                DovecotServer() as server:
            demo(server, Path(tmp), week, timeline)
    except DemoFailure as exc:
        say()
        say(STYLE.bad("demo FAILED") + f" at {exc}")
        return 1
    except DovecotError as exc:
        say()
        say(STYLE.bad("demo FAILED") + f": the local Dovecot did not work: {exc}")
        return 1
    except KeyboardInterrupt:
        say()
        say("demo interrupted; the mail server was stopped and its files removed")
        return 130
    section(9, "Timeline")
    indented(timeline.render(), "  ")
    say()
    say(STYLE.good("demo passed") + f" in {time.monotonic() - started:.1f} s; the mail server and all files are gone")
    return 0


if __name__ == "__main__":
    sys.exit(main())

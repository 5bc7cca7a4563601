"""One account under attack: seeded threads, a user who replies and sends, followupd killed at random, and the
invariants checked from outside after every kill.

Everything is looked at the way a user (or an auditor) could: the IMAP folders through a separate connection,
what the SMTP server received, ``followupd status --json`` / ``outbox --all --json``, and the SQLite file with
the stdlib ``sqlite3`` module. The checks come in two strengths:

* after every kill, whatever half-done state it left: no draft twice in Drafts, no message twice in Sent, no
  Message-ID delivered twice over SMTP, no draft or delivery without its database record, no tracked thread
  gone, no closed thread with a draft still planned, no mail of the user's touched;
* after a clean cycle ("settled"): everything recovered, i.e. Drafts holds exactly the waiting drafts, every
  send followupd counted was delivered once and filed once, every reply the test delivered closed its thread,
  and the folder cursors sit on the last UID of each folder.
"""

from __future__ import annotations

import dataclasses
import email
import hashlib
import random
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from dovecot import DovecotServer, MailUser
from harness import Account, default_config, followupd_command
from mailfactory import make_message
from smtpsink import SmtpSink

from followupd.adapters.faults import CRASH_POINTS

from .conftest import Figures

#: A Wednesday morning; threads are sent over the following day and a half.
T0 = datetime(2026, 11, 4, 9, 0, tzinfo=UTC)
CADENCE = """
[cadence]
gaps = ["3bd", "1w", "2w", "4w"]
send_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
send_hours = "00:00-24:00"
jitter = "0m"
"""
THREAD_STATES = {"waiting", "replied", "unanswered", "stopped", "failed", "declined"}
TOUCH_STATES = {"planned", "queued", "sent", "skipped", "withdrawn", "sending", "failed"}
OPEN_TOUCH = {"planned", "queued", "sending", "failed"}
WITHDRAWABLE = {"planned", "queued", "failed"}
#: Crash points by what the cycle is doing; a step mostly picks points where there is work to die in.
DRAFT_POINTS = ("after_sync_commit", "before_append", "after_append", "after_delete")
SEND_POINTS = ("before_smtp", "before_data", "after_smtp")
HEADER_FIELDS = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID X-FOLLOWUPD-ID)]"


@dataclass
class Plan:
    """A message the user sent with the tracking address in Bcc, and what the test did to its thread since."""

    message_id: str
    thread_id: str
    recipient: str
    subject: str
    sent_at: datetime
    replied_at: datetime | None = None  # when the test delivered a human reply


@dataclass(frozen=True)
class Seen:
    """One message as an outside observer sees it."""

    folder: str
    uid: int
    flags: tuple[bytes, ...]
    size: int
    message_id: str
    followupd_id: str

    @property
    def ours(self) -> bool:
        """Written by followupd (a draft, a sent follow-up or its copy, a reminder), or a copy of one."""
        return bool(self.followupd_id) or self.message_id.startswith("<followupd.")


@dataclass
class DbView:
    threads: dict[str, dict[str, Any]]
    touches: dict[str, dict[str, Any]]
    cursors: dict[str, tuple[int, int]]
    integrity: str


def thread_id_for(message_id: str) -> str:
    """Same rule as followupd.engine.cycle.thread_id_for, restated: the test must not trust the code it checks."""
    return hashlib.sha256(message_id.encode()).hexdigest()[:12]


@dataclass
class World:
    server: DovecotServer
    user: MailUser
    workdir: Path
    sink: SmtpSink | None
    rng: random.Random
    figures: Figures
    name: str
    mode: str = "auto"           # [sending] mode, or "review" without SMTP
    self_filing: bool = False    # the SMTP side files the Sent copy itself (Gmail, Office 365)
    imap_port: int | None = None  # where followupd connects (a LoopbackProxy); the test itself goes direct
    mirror: World | None = None  # a control account that gets the same mail and runs without faults
    fault_plan: list[Any] = field(default_factory=list)  # network faults still to inject, in order
    plans: list[Plan] = field(default_factory=list)
    deleted_by_user: set[str] = field(default_factory=set)  # drafts the user deleted (skipped after a grace)
    now: datetime = T0
    kills: Counter[str] = field(default_factory=Counter)    # by kind: crash-point, kill-poll, kill-run, ...
    points: Counter[str] = field(default_factory=Counter)   # crash points that fired
    attempts: int = 0
    ever_tracked: set[str] = field(default_factory=set)
    expected_foreign: dict[tuple[str, int], tuple[tuple[bytes, ...], int]] = field(default_factory=dict)
    integrity: tuple[int, int, int] = (0, 0, 0)  # messages before, after, followupd's own after
    clean_seconds: float = 0.8   # running estimate of a clean poll's wall time; kill delays are drawn from it
    _accepted: int = 0

    def __post_init__(self) -> None:
        self._out = self.workdir / "last.stdout"
        self._err = self.workdir / "last.stderr"
        extra = ""
        if self.sink is not None and self.mode != "review":
            extra = f"""
[smtp]
host = "127.0.0.1"
port = {self.sink.port}
tls = "none"

[sending]
mode = "{self.mode}"
review_window = "1h"
max_per_hour = 500
max_per_day = 5000
file_sent_copy = {"false" if self.self_filing else "true"}
"""
        reached_as = dataclasses.replace(self.user, port=self.imap_port) if self.imap_port else self.user
        self.account = Account(self.server, self.user, self.workdir,
                               config_text=default_config(reached_as, self.workdir, cadence=CADENCE, extra=extra))
        if self.sink is not None and self.self_filing:
            # Like Gmail: an accepted message appears in Sent, filed by the server side before it says 250.
            def file_copy(data: bytes) -> None:
                self.server.append(self.user, "Sent", data, flags=[b"\\Seen"])
                self._accepted += 1

            self.sink.handler.on_accept = file_copy

    # ------------------------------------------------------------------------------------ the user's mail
    def seed_threads(self, count: int, *, spacing: timedelta = timedelta(hours=3)) -> None:
        """``count`` tracked messages in Sent, one recipient each, sent ``spacing`` apart from T0 (the mirror
        gets the same messages, from its own address, under the same Message-IDs)."""
        for i in range(count):
            when = T0 + i * spacing
            recipient = f"person{len(self.plans)}@client{len(self.plans)}.example"
            subject = f"Proposal {len(self.plans)} for the garden project"
            message_id = make_msgid(domain="example.test")
            for world in self._both():
                raw = make_message(from_=f"Alex Example <{world.user.address}>", to=recipient, subject=subject,
                                   date=when, bcc=world.account.tracking, message_id=message_id)
                world.server.append(world.user, "Sent", raw, date=when, flags=[b"\\Seen"])
                world.plans.append(Plan(message_id, thread_id_for(message_id), recipient, subject, when))
        for world in self._both():
            world.rebaseline()

    def _both(self) -> list[World]:
        return [self] if self.mirror is None else [self, self.mirror]

    def add_noise(self, folder: str, count: int, *, start: int = 0) -> None:
        """Unrelated mail (newsletters, colleagues), appended over one connection: bulk for the big tests."""
        raws = [make_message(from_=f"news{start + i}@lists.example", to=self.user.address,
                             subject=f"Weekly digest {start + i}", date=T0 - timedelta(days=1),
                             body="Lorem ipsum dolor sit amet. " * 20) for i in range(count)]
        for world in self._both():
            with world.server.connect(world.user) as client:
                for raw in raws:
                    client.append(folder, raw)
            world.rebaseline()

    def seed_user_mail(self) -> None:
        """Mail followupd must never touch: odd flags everywhere, a \\Deleted message nobody expunged yet, the
        user's own drafts, mail in folders it does not watch."""
        me = self.user.address
        samples: list[tuple[str, bytes, list[bytes]]] = [
            ("INBOX", make_message(from_="carol@example.org", to=me, subject="Lunch?"), []),
            ("INBOX", make_message(from_="dave@example.org", to=me, subject="Invoice"), [b"\\Seen", b"\\Flagged"]),
            ("INBOX", make_message(from_="erin@example.org", to=me, subject="Old"), [b"\\Seen", b"\\Deleted"]),
            ("INBOX", make_message(from_="frank@example.org", to=me, subject="Done"), [b"\\Answered", b"$Label1"]),
            ("INBOX", make_message(from_="gina@example.org", to=self.account.tracking, subject="Not from you"), []),
            ("Drafts", make_message(from_=me, to="carol@example.org", subject="Half-written"), [b"\\Draft"]),
            ("Drafts", make_message(from_=me, to="carol@example.org", subject="Binned"), [b"\\Draft", b"\\Deleted"]),
            ("Sent", make_message(from_=me, to="hank@example.org", subject="Untracked"), [b"\\Seen"]),
            ("Archive", make_message(from_="ivy@example.org", to=me, subject="Filed"), [b"\\Seen"]),
            ("Trash", make_message(from_="jo@example.org", to=me, subject="Binned mail"), [b"\\Seen", b"\\Deleted"]),
            ("Junk", make_message(from_="spam@example.net", to=me, subject="WIN"), []),
        ]
        for folder, raw, flags in samples:
            self.server.append(self.user, folder, raw, flags=flags)
        self.rebaseline()

    def deliver_reply(self, plan: Plan) -> None:
        """The recipient answers, replying to the latest message of the thread they got."""
        db = self.db()
        sent = [t for t in db.touches.values() if t["thread_id"] == plan.thread_id and t["state"] == "sent"]
        parent = max(sent, key=lambda t: t["number"])["message_id"] if sent else plan.message_id
        message_id = make_msgid(domain="client.example")
        for world in self._both():
            raw = make_message(from_=plan.recipient, to=world.user.address, subject=f"Re: {plan.subject}",
                               in_reply_to=parent, references=f"{plan.message_id} {parent}".strip(),
                               date=self.now, message_id=message_id,
                               body="Yes, that works for us. Let's go ahead.\n\nPat\n")
            world.server.deliver_lmtp(world.user, raw)
            twin = next(p for p in world.plans if p.message_id == plan.message_id)
            twin.replied_at = self.now
            world.rebaseline()

    def user_sends(self, touch_id: str) -> bool:
        """The user presses Send on our draft in their mail client: a Sent copy appears, the draft goes."""
        drafts = [s for s in self.view()["Drafts"] if s.followupd_id == touch_id]
        if len(drafts) != 1:
            return False
        with self.server.connect(self.user) as client:
            client.select_folder("Drafts")
            raw = client.fetch([drafts[0].uid], ["BODY.PEEK[]"])[drafts[0].uid][b"BODY[]"]
            client.delete_messages([drafts[0].uid])
            client.uid_expunge([drafts[0].uid])
        message = email.message_from_bytes(raw)
        del message["Date"]
        message["Date"] = email.utils.format_datetime(self.now)
        self.server.append(self.user, "Sent", message.as_bytes(), date=self.now, flags=[b"\\Seen"])
        self.rebaseline()
        return True

    def user_deletes_draft(self, touch_id: str) -> bool:
        drafts = [s for s in self.view()["Drafts"] if s.followupd_id == touch_id]
        if not drafts:
            return False
        with self.server.connect(self.user) as client:
            client.select_folder("Drafts")
            client.delete_messages([s.uid for s in drafts])
            client.uid_expunge([s.uid for s in drafts])
        self.deleted_by_user.add(touch_id)
        self.rebaseline()
        return True

    # ------------------------------------------------------------------------------------ running followupd
    def command(self, *args: str) -> list[str]:
        return [*followupd_command(), "--config", str(self.account.config_path), "--log-level", "info", *args]

    def spawn(self, *args: str, **env: str) -> subprocess.Popen[bytes]:
        """Start followupd with its output in files (a pipe nobody reads could block it; a file can be watched)."""
        with self._out.open("wb") as out, self._err.open("wb") as err:
            return subprocess.Popen(self.command(*args), env=self.account.env(self.now, **env), stdout=out,
                                    stderr=err)

    def poll_clean(self) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        result = self.account.run("--log-level", "info", "poll", now=self.now)
        assert "Traceback" not in result.stderr, result.stderr
        self.clean_seconds = 0.7 * self.clean_seconds + 0.3 * (time.monotonic() - started)
        return result

    def poll_may_fail(self) -> subprocess.CompletedProcess[str]:
        """A cycle that may meet a fault: it either works (exit 0) or says what broke in one line (exit 3)."""
        result = self.account.run("--log-level", "info", "poll", now=self.now, check=False)
        assert result.returncode in (0, 3), f"poll exited {result.returncode}:\n{result.stderr}"
        assert "Traceback" not in result.stderr, result.stderr
        if result.returncode == 3:
            assert "followupd: error:" in result.stderr, result.stderr
        return result

    def public_state(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """`status --json` and `outbox --all --json`, sorted: for comparing an account with its control."""
        def anonymous(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
            # Which account a row belongs to is the one thing an account and its control never share.
            return sorted(({k: v for k, v in e.items() if k != "account"} for e in entries), key=lambda e: e["id"])

        return anonymous(self.account.status()), anonymous(self.account.outbox("--all"))

    def _finished(self, proc: subprocess.Popen[bytes], what: str, *, allowed: Iterable[int] = (0,)) -> bool:
        """Collect a process; True when it died by SIGKILL. Any other unexpected end fails the test."""
        proc.wait(timeout=60)
        err = self._err.read_text(errors="replace")
        if proc.returncode == -signal.SIGKILL:
            return True
        if proc.returncode not in set(allowed):
            raise AssertionError(f"{what} exited {proc.returncode}\nstdout:\n"
                                 f"{self._out.read_text(errors='replace')}\nstderr:\n{err}")
        assert "Traceback" not in err, f"{what} printed a traceback:\n{err}"
        return False

    @staticmethod
    def _kill_after(proc: subprocess.Popen[bytes], delay: float) -> bool:
        """SIGKILL ``proc`` after ``delay`` s unless it ended first; True when the kill hit a live process."""
        try:
            proc.wait(timeout=delay)
            return False
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            return True

    def _wait_for_log(self, proc: subprocess.Popen[bytes], text: str, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and proc.poll() is None:
            if self._err.read_text(errors="replace").count(text) >= count:
                return True
            time.sleep(0.01)
        return False

    def kill_delay(self) -> float:
        """Somewhere inside a cycle: start-up is most of a process's life, so lean towards the end of it."""
        return self.rng.uniform(0.35, 1.05) * self.clean_seconds

    def likely_points(self) -> tuple[str, ...]:
        """Crash points the next cycle will probably reach, judged from the database: a point with no work
        to do there is never reached, and the process just runs to the end."""
        db = self.db()
        points: list[str] = []
        open_threads = {t["thread_id"] for t in db.touches.values() if t["state"] in OPEN_TOUCH}
        if any(t["state"] == "waiting" and t["next_due"] and _utc(t["next_due"]) <= self.now
               and t["id"] not in open_threads for t in db.threads.values()):
            points += ["before_append", "after_append"]
        if any(t["cleanup_pending"] for t in db.touches.values()) or any(
                p.replied_at is not None and p.thread_id in open_threads for p in self.plans):
            points.append("after_delete")
        window_passed = self.now - timedelta(hours=1)  # review_window in the config above
        if self.mode != "review" and any(
                t["state"] == "queued" and (t["approved_at"] or (self.mode == "auto" and t["drafted_at"]
                                                                 and _utc(t["drafted_at"]) <= window_passed))
                for t in db.touches.values()):
            points += list(SEND_POINTS)
        return tuple(points) or ("after_sync_commit",)  # every cycle passes that one

    def attempt_crash_point(self, points: tuple[str, ...] | None = None) -> bool:
        """``poll`` that SIGKILLs itself at a named step (followupd.adapters.faults), mostly one with work to die in."""
        choices = points or self.likely_points()
        point = self.rng.choice(choices if self.rng.random() < 0.9 else CRASH_POINTS)
        proc = self.spawn("poll", FOLLOWUPD_CRASH_AT=point)
        return self._record(self._finished(proc, f"poll with FOLLOWUPD_CRASH_AT={point}"), "crash-point", point)

    def attempt_kill_poll(self) -> bool:
        """``poll`` killed from outside after a random delay."""
        proc = self.spawn("poll")
        self._kill_after(proc, self.kill_delay())
        return self._record(self._finished(proc, "poll"), "kill-poll")

    def attempt_kill_run(self) -> bool:
        """``followupd run`` killed from outside: in its first cycle, or in a later one that SIGUSR1 started
        (the wake-up `outbox approve` uses)."""
        proc = self.spawn("run")
        if self.rng.random() < 0.5:
            self._kill_after(proc, self.kill_delay())
        elif self._wait_for_log(proc, "cycle:", 1, timeout=30):
            for _ in range(self.rng.randint(1, 3)):
                proc.send_signal(signal.SIGUSR1)  # handler installed: the first cycle has been logged
                if self._kill_after(proc, self.rng.uniform(0.0, 0.5) * self.clean_seconds):
                    break
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        return self._record(self._finished(proc, "run"), "kill-run")

    def attempt_cli(self, *args: str, allowed: Iterable[int] = (0, 2)) -> bool:
        """A CLI command that runs a cycle itself (``outbox approve`` with no daemon running): crashed at a
        named step or killed from outside."""
        if self.rng.random() < 0.4:
            point = self.rng.choice(("after_sync_commit", *SEND_POINTS))
            proc = self.spawn(*args, FOLLOWUPD_CRASH_AT=point)
            return self._record(self._finished(proc, " ".join(args), allowed=allowed), "crash-point", point)
        proc = self.spawn(*args)
        self._kill_after(proc, self.kill_delay())
        return self._record(self._finished(proc, " ".join(args), allowed=allowed), f"kill-{args[-2]}")

    def _record(self, killed: bool, kind: str, detail: str = "") -> bool:
        self.attempts += 1
        if killed:
            self.kills[kind] += 1
            self.figures.kills[kind] += 1
            if detail:
                self.points[detail] += 1
        self._wait_for_sink()
        return killed

    def _wait_for_sink(self) -> None:
        """With a self-filing sink, let a message the killed process finished handing over reach Sent first
        (a real provider files it before answering; our sink does it in the same handler)."""
        if self.sink is None or not self.self_filing:
            return
        deadline = time.monotonic() + 5
        while len(self.sink.received) != self._accepted and time.monotonic() < deadline:
            time.sleep(0.01)

    @property
    def total_kills(self) -> int:
        return sum(self.kills.values())

    # ------------------------------------------------------------------------------------ looking from outside
    def db(self) -> DbView:
        path = self.workdir / "state.db"
        if not path.exists():  # killed before it created the database (connect() would create an empty file)
            return DbView({}, {}, {}, "ok")
        conn = sqlite3.connect(path, timeout=10)
        conn.row_factory = sqlite3.Row
        try:
            integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
            threads = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM threads")}
            touches = {r["id"]: dict(r) for r in conn.execute("SELECT * FROM touches")}
            cursors = {r["folder"]: (r["uidvalidity"], r["last_uid"])
                       for r in conn.execute("SELECT * FROM folder_cursors")}
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return DbView({}, {}, {}, "ok")
            raise
        finally:
            conn.close()
        return DbView(threads, touches, cursors, integrity)

    def view(self) -> dict[str, list[Seen]]:
        """Every message of every folder: UID, flags (without \\Recent), size and our two ids, via EXAMINE.

        A draft carries no marker header any more (nothing of the tool may reach a recipient): a message is
        followupd's when its Message-ID is one the database recorded for a touch BEFORE appending or sending it
        (so a draft without a record shows up as foreign mail, and fails the check), or when it carries the
        X-Followupd-Id header that reminders and drafts of older versions have."""
        recorded = {t["message_id"]: t["id"] for t in self.db().touches.values() if t["message_id"]}
        result: dict[str, list[Seen]] = {}
        with self.server.connect(self.user) as client:
            for attributes, _delim, name in client.list_folders():
                if b"\\Noselect" in attributes:
                    continue
                client.select_folder(name, readonly=True)
                uids = client.search("ALL")
                data = client.fetch(uids, ["FLAGS", "RFC822.SIZE", HEADER_FIELDS]) if uids else {}
                seen = []
                for uid in sorted(data):
                    item = data[uid]
                    raw = next((v for k, v in item.items() if k.startswith(b"BODY[HEADER")), b"") or b""
                    header = email.message_from_bytes(raw)
                    message_id = str(header.get("Message-ID", "")).strip()
                    marker = str(header.get("X-Followupd-Id", "")).strip() or recorded.get(message_id, "")
                    seen.append(Seen(name, uid, tuple(sorted(f for f in item[b"FLAGS"] if f != b"\\Recent")),
                                     item[b"RFC822.SIZE"], message_id, marker))
                result[name] = seen
        return result

    def uid_status(self) -> dict[str, tuple[int, int]]:
        """folder -> (UIDVALIDITY, highest UID) as the server says now."""
        status: dict[str, tuple[int, int]] = {}
        with self.server.connect(self.user) as client:
            for folder in ("INBOX", "Sent", "Archive", "Drafts"):
                info = client.select_folder(folder, readonly=True)
                uids = client.search("ALL")
                status[folder] = (int(info[b"UIDVALIDITY"]), max(uids, default=0))
        return status

    def rebaseline(self) -> None:
        """The test itself changed the mailbox: what is not followupd's is now the expected state."""
        self.expected_foreign = {(s.folder, s.uid): (s.flags, s.size)
                                 for seen in self.view().values() for s in seen if not s.ours}

    # ------------------------------------------------------------------------------------ the invariants
    def check(self, *, settled: bool = False, public: bool = False) -> None:
        """Assert everything that must hold now; ``settled`` after clean cycles, when recovery is complete."""
        db = self.db()
        view = self.view()
        where = f"[{self.name} attempt {self.attempts}, {self.total_kills} kills]"
        assert db.integrity == "ok", f"{where} SQLite integrity_check: {db.integrity}"

        # The user's mail: nothing that is not followupd's changed, appeared or went.
        foreign = {(s.folder, s.uid): (s.flags, s.size) for seen in view.values() for s in seen if not s.ours}
        assert foreign == self.expected_foreign, f"{where} mail that is not followupd's changed: " + _diff(
            self.expected_foreign, foreign)

        # No lost thread: once tracked, always there; every thread and touch in a state that exists.
        assert self.ever_tracked <= set(db.threads), f"{where} threads lost: {self.ever_tracked - set(db.threads)}"
        self.ever_tracked |= set(db.threads)
        for thread in db.threads.values():
            assert thread["state"] in THREAD_STATES, f"{where} {thread['id']} in state {thread['state']!r}"
        by_thread: dict[str, list[dict[str, Any]]] = {}
        for touch in db.touches.values():
            assert touch["state"] in TOUCH_STATES, f"{where} {touch['id']} in state {touch['state']!r}"
            assert touch["thread_id"] in db.threads, f"{where} touch {touch['id']} without its thread"
            by_thread.setdefault(touch["thread_id"], []).append(touch)
        for thread_id, touches in by_thread.items():
            thread = db.threads[thread_id]
            open_ = [t["id"] for t in touches if t["state"] in OPEN_TOUCH]
            assert len(open_) <= 1, f"{where} {thread_id} has several follow-ups open at once: {open_}"
            if thread["state"] != "waiting":
                late = [t["id"] for t in touches if t["state"] in (WITHDRAWABLE if not settled else
                                                                    WITHDRAWABLE | {"sending"})]
                assert not late, f"{where} {thread_id} is {thread['state']} but still has {late} waiting\n" \
                                 + self.explain(late, db)
            if thread["kind"] == "nudge":
                sent = sum(1 for t in touches if t["state"] == "sent")
                assert thread["touches"] == sent, \
                    f"{where} {thread_id} counts {thread['touches']} touches but {sent} follow-ups were sent"

        # No duplicate draft, and no draft without the database record that makes it findable again.
        drafts = Counter(s.followupd_id for s in view["Drafts"] if s.followupd_id)
        twice = [i for i, n in drafts.items() if n > 1]
        assert not twice, f"{where} duplicate drafts in Drafts: {twice}"
        orphans = set(drafts) - set(db.touches)
        assert not orphans, f"{where} drafts with no record in the database: {orphans}"

        # No duplicate send: SMTP and Sent.
        sent_ids = Counter(s.message_id for s in view["Sent"] if s.ours)
        assert not [i for i, n in sent_ids.items() if n > 1], f"{where} a follow-up is twice in Sent: {sent_ids}"
        delivered = Counter(str(r.message["Message-ID"]).strip() for r in self.sink.received) if self.sink else {}
        again = [i for i, n in delivered.items() if n > 1]
        assert not again, f"{where} the SMTP server got the same follow-up twice: {again}"
        # The protocol's promise: SMTP DATA begins only after it was recorded (data_started_at, committed).
        recorded = {t["message_id"] for t in db.touches.values() if t["data_started_at"] or t["state"] == "sent"}
        unrecorded = set(delivered) - recorded
        assert not unrecorded, f"{where} delivered without a send on record: {unrecorded}\n" + self.explain(
            [t["id"] for t in db.touches.values() if t["message_id"] in unrecorded], db)

        # Folder cursors never run ahead of the server, and never out of their UIDVALIDITY.
        status = self.uid_status()
        for folder, (validity, last_uid) in db.cursors.items():
            if folder in status:
                assert validity == status[folder][0], f"{where} cursor of {folder} has a stale UIDVALIDITY"
                assert last_uid <= status[folder][1], f"{where} cursor of {folder} is past the last UID"

        if settled:
            self._check_settled(db, view, delivered, status, where)
        if public:
            self._check_public(db)

    def _check_settled(self, db: DbView, view: dict[str, list[Seen]], delivered: Counter[str] | dict[str, int],
                       status: dict[str, tuple[int, int]], where: str) -> None:
        tracked = {p.thread_id for p in self.plans if p.sent_at <= self.now}
        assert tracked <= set(db.threads), f"{where} tracked messages without a thread: {tracked - set(db.threads)}"
        for plan in self.plans:
            if plan.replied_at is not None:
                state = db.threads[plan.thread_id]["state"]
                assert state == "replied", f"{where} {plan.thread_id} got a reply but is {state}"
        states = Counter(t["state"] for t in db.touches.values())
        assert states["sending"] == 0 and states["planned"] == 0, f"{where} unfinished follow-ups: {states}"
        queued = {t["id"] for t in db.touches.values() if t["state"] == "queued"}
        failed = {t["id"] for t in db.touches.values() if t["state"] == "failed"}
        in_drafts = {s.followupd_id for s in view["Drafts"] if s.followupd_id}
        # A draft the user deleted stays "queued" for a grace period (drafts.MISSING_GRACE), noticed as missing.
        grace = {t["id"] for t in db.touches.values() if t["id"] in self.deleted_by_user and t["missing_since"]}
        queued -= grace
        assert queued <= in_drafts, f"{where} waiting follow-ups missing from Drafts: {queued - in_drafts}"
        stale = in_drafts - queued - failed
        assert not stale, f"{where} stale drafts left in Drafts: {stale}\n{self.explain(stale, db)}"
        ours = {t["message_id"] for t in db.touches.values() if t["sent_by_followupd"]}
        sent_copies = {s.message_id for s in view["Sent"] if s.ours}
        assert ours <= set(delivered), f"{where} counted as sent but never delivered: {ours - set(delivered)}"
        assert ours <= sent_copies, f"{where} sent but not filed in Sent: {ours - sent_copies}"
        uncertain = {t["message_id"] for t in db.touches.values()
                     if t["state"] in ("failed", "withdrawn") and t["data_started_at"]}
        assert set(delivered) <= ours | uncertain, f"{where} delivered but not recorded as sent: " \
                                                   f"{set(delivered) - ours - uncertain}"
        if self.self_filing:
            assert set(delivered) == ours, f"{where} a self-filing server leaves no doubt: {set(delivered) ^ ours}"
        for folder in ("INBOX", "Sent", "Archive"):
            # Read up to the end, except what followupd itself filed after its sync (a Sent copy): next cycle.
            unread = [s for s in view[folder] if s.uid > db.cursors.get(folder, (0, 0))[1]]
            assert all(s.ours for s in unread), f"{where} {folder} has mail beyond its cursor " \
                                                f"{db.cursors.get(folder)}: {[s for s in unread if not s.ours]}"

    def explain(self, touch_ids: Iterable[str], db: DbView) -> str:
        """For a failure message: the rows and the thread's timeline (`followupd explain`)."""
        lines = []
        for touch_id in sorted(touch_ids):
            touch = {k: v for k, v in db.touches.get(touch_id, {}).items() if k not in ("raw", "sent_raw")}
            lines.append(f"touch {touch}")
            if touch:
                lines.append(self.account.run("explain", touch["thread_id"], check=False).stdout)
        return "\n".join(lines)

    def _check_public(self, db: DbView) -> None:
        """`status --json` and `outbox --all --json` tell the same story as the database."""
        threads = {t["id"]: t for t in self.account.status()}
        assert set(threads) == set(db.threads)
        assert all(threads[i]["state"] == db.threads[i]["state"] for i in threads)
        assert all(threads[i]["touches"] == db.threads[i]["touches"] for i in threads)
        outbox = {e["id"]: e for e in self.account.outbox("--all")}
        assert set(outbox) == set(db.touches)
        assert all(outbox[i]["state"] == db.touches[i]["state"] for i in outbox)

    def settle(self, *, public: bool = False) -> None:
        """Two clean cycles must repair whatever the kills left (issue 8: "recovery within two cycles"; e.g. a
        send interrupted before DATA is withdrawn by the first when its thread got a reply, and its draft goes
        in the second); then the full checks (with ``public``, also against what `status --json` and
        `outbox --all --json` say)."""
        self.poll_clean()
        self.poll_clean()
        self.check(settled=True, public=public)


def _utc(text: str) -> datetime:
    """A time as SQLAlchemy stores it in SQLite (naive UTC text)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _diff(expected: dict[Any, Any], actual: dict[Any, Any]) -> str:
    gone = {k: expected[k] for k in expected.keys() - actual.keys()}
    new = {k: actual[k] for k in actual.keys() - expected.keys()}
    changed = {k: (expected[k], actual[k]) for k in expected.keys() & actual.keys() if expected[k] != actual[k]}
    return f"gone {gone}, new {new}, changed {changed}"


def run_timeline(world: World, *, kills: int, attempt: Callable[[World], bool], max_attempts: int,
                 settle_every: int = 10, user_acts: Callable[[World], None] | None = None,
                 reply_probability: float = 0.12) -> None:
    """Advance the clock step by step; each step may bring a reply or a user action, then one followupd process
    that is usually killed. Stops after ``kills`` kills (the suite's quota) and a final settle.

    Around the whole scenario, a snapshot of every folder (DovecotServer.snapshot: UIDs, flags, sizes): the
    user's mail is all still there, unchanged, and anything new is followupd's own or what the test delivered."""
    before = world.server.snapshot(world.user)
    steps = 0
    while world.total_kills < kills:
        assert world.attempts < max_attempts, (
            f"{world.name}: only {world.total_kills} kills in {world.attempts} attempts; the kill delays miss")
        steps += 1
        world.now += world.rng.choice([timedelta(minutes=20), timedelta(hours=1), timedelta(hours=3),
                                       timedelta(hours=12), timedelta(days=1)])
        waiting = [p for p in world.plans if p.replied_at is None and p.sent_at <= world.now]
        if waiting and world.rng.random() < reply_probability:
            # Mostly to a thread with a draft waiting: the reply must withdraw it (a kill may come mid-way).
            drafted = {t["thread_id"] for t in world.db().touches.values() if t["state"] in ("planned", "queued")}
            pool = [p for p in waiting if p.thread_id in drafted]
            world.deliver_reply(world.rng.choice(pool if pool and world.rng.random() < 0.7 else waiting))
        if user_acts is not None:
            user_acts(world)
        attempt(world)
        world.check()
        if steps % settle_every == 0:
            world.settle()
    world.settle(public=True)
    after = world.server.snapshot(world.user)
    ours = {(s.folder, s.uid) for seen in world.view().values() for s in seen if s.ours}
    for folder, entries in before.items():
        for entry in entries:
            assert entry in after.get(folder, []), f"{folder}: the user's message {entry} changed or went"
    for folder, entries in after.items():
        for uid, flags, size in entries:
            if (folder, uid) not in ours:
                assert world.expected_foreign.get((folder, uid)) == (flags, size), \
                    f"{folder}:{uid} {flags} {size} is neither followupd's nor the unchanged mail of the test"
    world.integrity = (sum(map(len, before.values())), sum(map(len, after.values())), len(ours))

"""``followupd run``: the real daemon as a subprocess against the real Dovecot, every test bounded in time.

What a user relies on: the first cycle runs at once, a follow-up appears when it falls due without waiting
for the next poll, SIGTERM/SIGINT stop it cleanly (exit 0) after the running cycle, one instance per account,
broken templates refuse start-up, a dead server is survived with back-off, and systemd hears READY=1,
WATCHDOG=1 and STOPPING=1. Each daemon is killed in teardown whatever happens.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, default_config, followupd_command
from mailfactory import make_message

from followupd.runtime.daemon import BACKOFF_CAP, BACKOFF_START, backoff_delay

BOB = "bob@example.org"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "  # every log line outside the journal starts with the local time
CYCLE_LINE = re.compile(rf"^{STAMP}INFO followupd\.daemon: \S+: cycle: (.*)$", re.MULTILINE)


# ------------------------------------------------------------------------------------------------ helpers
def wait_until(predicate: Callable[[], bool], timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


class RunningDaemon:
    """One ``followupd run`` subprocess; stderr goes to a file so the test can read the log while it runs."""

    def __init__(self, account: Account, env_extra: dict[str, str]) -> None:
        self.log_path = account.workdir / f"daemon-{time.monotonic_ns()}.log"
        env = account.env()
        for inherited in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):  # only what the test sets
            env.pop(inherited, None)
        env.update(env_extra)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [*followupd_command(), "--config", str(account.config_path), "--log-level", "info", "run"],
                env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 20, count: int = 1) -> list[re.Match[str]]:
        """Wait until ``pattern`` (a regex, multiline) matched ``count`` times; fail early if the process died."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while True:
            matches = list(regex.finditer(self.log()))
            if len(matches) >= count:
                return matches
            if self.proc.poll() is not None:
                raise AssertionError(f"followupd run exited {self.proc.returncode} before logging {pattern!r}:\n"
                                     f"{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} (x{count}) in the log within {timeout:g} s:\n{self.log()}")
            time.sleep(0.05)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 15) -> int:
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"followupd run did not exit within {timeout:g} s of "
                                 f"{signal.Signals(signum).name}:\n{self.log()}") from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def start_daemon() -> Iterator[Callable[..., RunningDaemon]]:
    """``start_daemon(account, idle=False, **env)``; every daemon started is killed at teardown, pass or fail.

    Polling only by default: these tests count cycles, and with IDLE each watcher's first connection triggers
    one more (quiet) cycle by design; test_idle.py covers push."""
    started: list[RunningDaemon] = []

    def start(account: Account, *, idle: bool = False, **env_extra: str) -> RunningDaemon:
        if not idle and "idle = false" not in account.config_text:
            account.write_config(account.config_text.replace("[account]\n", "[account]\nidle = false\n", 1))
        daemon = RunningDaemon(account, env_extra)
        started.append(daemon)
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.kill()


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed_tracked(account: Account, *, sent_at: datetime, subject: str = "Quote for the garden shed",
                 bcc: str | None = None) -> str:
    """A sent message BCC'd to the tracking address, saved in Sent as a mail client would; returns its id."""
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=f"Bob Builder <{BOB}>",
                       subject=subject, date=sent_at, bcc=bcc or account.tracking)
    message_id = next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                      if line.lower().startswith("message-id:"))
    account.server.append(account.user, "Sent", raw, date=sent_at, flags=[b"\\Seen"])
    return message_id


def with_port(account: Account, port: int) -> None:
    account.write_config(account.config_text.replace(f"port = {account.user.port}\n", f"port = {port}\n", 1))
    assert f"port = {port}\n" in account.config_text


class SlowProxy:
    """A loopback TCP proxy that holds each new connection for ``delay`` seconds before forwarding it.

    It makes a cycle take long enough for a signal to land in the middle of it, and counts connections
    (one per cycle), so a test can tell when a cycle has started.
    """

    def __init__(self, upstream: tuple[str, int], delay: float) -> None:
        self.upstream = upstream
        self.delay = delay
        self.connections = 0
        self.connected = threading.Event()
        self._closing = threading.Event()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            self.connected.set()
            self._sockets.append(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        if self._closing.wait(self.delay):
            return
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        self._sockets.append(server)
        threading.Thread(target=self._pump, args=(server, client), daemon=True).start()
        self._pump(client, server)

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for sock in self._sockets:
            sock.close()
        self._thread.join(5)


class NotifySocket:
    """What systemd does for Type=notify: a unix datagram socket the service sends its state lines to."""

    def __init__(self, directory: Path) -> None:
        path = directory / "notify.sock"
        if len(str(path).encode()) >= 100:  # sun_path is 108 bytes; pytest's tmp_path can be longer
            self._tmp: tempfile.TemporaryDirectory[str] | None = tempfile.TemporaryDirectory(prefix="fud-")
            path = Path(self._tmp.name) / "notify.sock"
        else:
            self._tmp = None
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[str] = []

    def wait_for(self, message: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while message not in self.received:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {message!r} on NOTIFY_SOCKET within {timeout:g} s; got {self.received}")
            self.sock.settimeout(remaining)
            try:
                self.received.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def drain(self) -> None:
        self.sock.settimeout(0.2)
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except TimeoutError:
                return

    def close(self) -> None:
        self.sock.close()
        if self._tmp is not None:
            self._tmp.cleanup()


# ------------------------------------------------------------------------------------------------ unit
def test_backoff_delay_grows_and_is_capped() -> None:
    assert backoff_delay(0) == timedelta(0)
    assert backoff_delay(1) == BACKOFF_START == timedelta(seconds=15)
    delays = [backoff_delay(n) for n in range(1, 12)]
    assert delays[:4] == [timedelta(seconds=s) for s in (15, 30, 60, 120)]
    for earlier, later in itertools.pairwise(delays):
        assert later == min(2 * earlier, BACKOFF_CAP)  # doubles each failure until the cap
    assert timedelta(minutes=30) == BACKOFF_CAP
    assert max(delays) == BACKOFF_CAP
    assert backoff_delay(8) == BACKOFF_CAP  # 15 s * 2**7 = 32 min: capped
    assert backoff_delay(10_000) == BACKOFF_CAP  # no overflow after days of outage


# ------------------------------------------------------------------------------------------------ daemon
def test_first_cycle_runs_at_once_and_drafts_exactly_once(account: Account,
                                                          start_daemon: Callable[..., RunningDaemon]) -> None:
    tracked_id = seed_tracked(account, sent_at=datetime.now(UTC) - timedelta(days=10))
    daemon = start_daemon(account)
    daemon.wait_for_log(r"followupd running for .*; polling every 0:05:00")
    wait_until(lambda: len(account.messages("Drafts")) >= 1, 20, "the follow-up draft in Drafts")
    first = daemon.wait_for_log(CYCLE_LINE.pattern)[0].group(1)
    assert "1 new tracked thread(s)" in first and "1 follow-up draft(s) queued" in first, daemon.log()

    drafts = account.messages("Drafts")
    assert len(drafts) == 1, daemon.log()
    _uid, flags, draft = drafts[0]
    assert b"\\Draft" in flags
    assert draft["In-Reply-To"] == tracked_id
    assert draft["Message-ID"] == account.outbox()[0]["message_id"]
    assert draft["Subject"] == "Re: Quote for the garden shed"
    assert BOB in draft["To"] and account.tracking not in str(draft["To"])

    assert daemon.stop(signal.SIGTERM) == 0, daemon.log()
    assert len(CYCLE_LINE.findall(daemon.log())) == 1  # 5 min poll interval: no second cycle yet
    assert len(account.drafts()) == 1
    assert "Traceback" not in daemon.log()


def test_wakes_up_when_a_follow_up_falls_due_without_waiting_for_the_poll(
        account: Account, start_daemon: Callable[..., RunningDaemon]) -> None:
    # "2d" keeps the time of day, so the first follow-up is due a few seconds from now; polling is every 5 min.
    cadence = """
[cadence]
gaps = ["2d", "1w"]
send_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
send_hours = "00:00-24:00"
jitter = "0m"
"""
    account.write_config(default_config(account.user, account.workdir, cadence=cadence))
    due_in = timedelta(seconds=15)  # far enough that a loaded machine's start-up and first cycle end before it
    sent_at = (datetime.now(UTC) - timedelta(days=2) + due_in).replace(microsecond=0)
    seed_tracked(account, sent_at=sent_at)
    daemon = start_daemon(account)
    first = daemon.wait_for_log(CYCLE_LINE.pattern)[0]
    assert "1 new tracked thread(s)" in first.group(1)
    if datetime.now(UTC) < sent_at + timedelta(days=2):  # on a very slow machine the first cycle may be late
        assert "draft" not in first.group(1), daemon.log()
        assert account.drafts() == []
    wait_until(lambda: len(account.messages("Drafts")) == 1, 40, "the draft due a few seconds after start-up")
    cycles = [m.group(1) for m in daemon.wait_for_log(CYCLE_LINE.pattern, count=2)]
    assert len(cycles) == 2, daemon.log()
    assert "1 follow-up draft(s) queued" in cycles[1]
    assert daemon.stop() == 0, daemon.log()
    assert len(account.drafts()) == 1
    assert "cycle failed" not in daemon.log()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_idle_daemon_with_exit_0(account: Account, start_daemon: Callable[..., RunningDaemon],
                                                  signum: signal.Signals) -> None:
    daemon = start_daemon(account)
    daemon.wait_for_log(CYCLE_LINE.pattern)
    started = time.monotonic()
    assert daemon.stop(signum) == 0, daemon.log()
    assert time.monotonic() - started < 5  # an idle daemon stops at once, it does not wait for the next poll
    log = daemon.log()
    assert f"received {signum.name}: finishing the current cycle, then exiting" in log
    assert log.rstrip().endswith("INFO followupd.daemon: followupd stopped"), log
    assert "Traceback" not in log and "Aborted" not in log
    account.poll()  # the account lock was released on exit


def test_stop_finishes_the_running_cycle_first(account: Account, start_daemon: Callable[..., RunningDaemon]) -> None:
    seed_tracked(account, sent_at=datetime.now(UTC) - timedelta(days=10))
    proxy = SlowProxy((account.user.host, account.user.port), delay=2.0)
    try:
        with_port(account, proxy.port)
        daemon = start_daemon(account)
        assert proxy.connected.wait(20), daemon.log()  # the first cycle has begun (and is held by the proxy)
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.wait_for_log(r"received SIGTERM")
        assert daemon.stop(signal.SIGINT) == 0, daemon.log()  # an impatient second signal changes nothing
    finally:
        proxy.close()
    log = daemon.log()
    cycle = CYCLE_LINE.search(log)
    order = [log.find("received SIGTERM"), cycle.start() if cycle else -1, log.find("followupd stopped")]
    assert -1 not in order and order == sorted(order), log  # the cycle ended between the signal and the exit
    assert "Traceback" not in log and "cycle failed" not in log, log  # the second signal broke nothing
    assert "received SIGINT again: already stopping" in log
    assert "1 follow-up draft(s) queued" in log
    assert proxy.connections == 1  # no new cycle was started after the stop request
    assert len(account.drafts()) == 1


def test_a_second_instance_is_refused_while_the_daemon_runs(account: Account,
                                                            start_daemon: Callable[..., RunningDaemon]) -> None:
    daemon = start_daemon(account)
    daemon.wait_for_log(CYCLE_LINE.pattern)
    for command in ("poll", "run"):
        result = account.run(command, check=False, timeout=20)
        assert result.returncode == 3, (command, result.stderr)
        assert "already running" in result.stderr, result.stderr
        assert f"pid {daemon.proc.pid}" in result.stderr
        assert "Traceback" not in result.stderr
    assert daemon.proc.poll() is None  # the refused ones did not disturb the running daemon
    assert daemon.stop() == 0, daemon.log()
    account.poll()  # and after it stops, the account is free again


def test_broken_template_refuses_to_start_with_exit_2(account: Account, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "first").mkdir(parents=True)
    (templates / "first" / "fine.txt").write_text("Subject: {{ reply_subject }}\n\nHello again.\n")
    broken = templates / "first" / "broken.txt"
    broken.write_text("Subject: {{ reply_subject }}\n\nHi,\n{% if first_names %}no endif here\n")
    account.write_config(account.config_text + f'\n[templates]\ndir = "{templates}"\n')
    result = account.run("run", check=False, timeout=20)  # a daemon that does start gets killed by the timeout
    assert result.returncode == 2, result.stderr
    assert str(broken) in result.stderr, result.stderr
    assert re.search(r"broken\.txt line \d+", result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert "followupd running" not in result.stderr


def test_unreachable_server_is_survived_with_back_off(account: Account, tmp_path: Path,
                                                      start_daemon: Callable[..., RunningDaemon]) -> None:
    # A bound but never listening socket: nothing can take the port, and connecting is refused at once.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        with_port(account, placeholder.getsockname()[1])
        notify = NotifySocket(tmp_path)
        try:
            daemon = start_daemon(account, NOTIFY_SOCKET=str(notify.path))
            failed = daemon.wait_for_log(
                rf"^{STAMP}ERROR followupd\.daemon: \S+: cycle failed \((.*)\); retrying in (\S+)$")[0]
            assert str(account.user.host) in failed.group(1) or "connect" in failed.group(1).lower(), failed
            assert failed.group(2) in {f"0:00:{n}" for n in range(12, 19)}, failed  # 15 s +- 20 % jitter
            time.sleep(2)
            assert daemon.proc.poll() is None, daemon.log()  # still running
            assert daemon.log().count("cycle failed") == 1  # backing off, not hammering the server
            assert daemon.stop() == 0, daemon.log()
            notify.drain()
        finally:
            notify.close()
    log = daemon.log()
    assert "followupd stopped" in log
    assert "Traceback" not in log
    assert account.user.password not in log
    assert "READY=1" not in notify.received  # READY only after a good cycle
    assert notify.received[-1:] == ["STOPPING=1"], notify.received


def test_systemd_hears_ready_watchdog_and_stopping(account: Account, tmp_path: Path,
                                                   start_daemon: Callable[..., RunningDaemon]) -> None:
    seed_tracked(account, sent_at=datetime.now(UTC) - timedelta(days=10))
    notify = NotifySocket(tmp_path)
    try:
        daemon = start_daemon(account, NOTIFY_SOCKET=str(notify.path), WATCHDOG_USEC="2000000")
        notify.wait_for("READY=1", 20)
        assert len(account.drafts()) == 1  # READY=1 comes after the first cycle has done its work
        assert notify.received[0] == "READY=1", notify.received
        assert CYCLE_LINE.search(daemon.log()), daemon.log()
        notify.wait_for("WATCHDOG=1", 5)  # WATCHDOG_USEC=2 s: a ping every second
        assert daemon.stop() == 0, daemon.log()
        notify.drain()
    finally:
        notify.close()
    assert notify.received.count("READY=1") == 1
    assert notify.received[-1] == "STOPPING=1", notify.received
    assert "could not notify systemd" not in daemon.log()


# ------------------------------------------------------------------------------------------------ push (IDLE)
# The poll interval is 5 minutes here, so anything noticed within seconds was noticed through IDLE.
REPLY_DEADLINE_SECONDS = 5.0  # the bound; measured ~1.5 s on Dovecot (debounce + coalescing + a cycle)


def _state(account: Account, message_id: str) -> str:
    return next(t["state"] for t in account.status() if t["message_id"] == message_id)


def test_a_reply_appended_to_inbox_closes_its_thread_within_5_seconds(
        account: Account, start_daemon: Callable[..., RunningDaemon]) -> None:
    tracked_id = seed_tracked(account, sent_at=datetime.now(UTC) - timedelta(days=1))
    daemon = start_daemon(account, idle=True)
    daemon.wait_for_log(r"watching INBOX, Archive with IDLE")
    daemon.wait_for_log(r": cycle: ", count=2)  # the first cycle, and the one the watchers' start asks for
    time.sleep(1.5)  # let the start-up wake-ups settle, so the next cycle can only come from the reply
    assert _state(account, tracked_id) == "waiting"

    reply = make_message(from_=f"Bob Builder <{BOB}>", to=account.user.address, subject="Re: Quote for the garden shed",
                         in_reply_to=tracked_id, references=tracked_id)
    appended_at = time.monotonic()
    account.server.append(account.user, "INBOX", reply)
    while _state(account, tracked_id) != "replied":
        assert time.monotonic() - appended_at < REPLY_DEADLINE_SECONDS, daemon.log()
        time.sleep(0.1)
    assert "new activity in INBOX" in daemon.log()
    assert daemon.stop() == 0, daemon.log()
    assert "Traceback" not in daemon.log()


def test_idle_false_polls_only(account: Account, start_daemon: Callable[..., RunningDaemon]) -> None:
    seed_tracked(account, sent_at=datetime.now(UTC) - timedelta(days=1))
    daemon = start_daemon(account)  # idle = false
    daemon.wait_for_log(r": cycle: ")
    time.sleep(1.5)
    assert "IDLE" not in daemon.log()
    assert daemon.stop() == 0

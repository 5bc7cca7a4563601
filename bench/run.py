"""followupd benchmarks against the server's own limit: one command, a table, and JSON. Not part of the tests.

    bench/run                       # 1k, 10k, 100k messages (100 tracked threads) + 100k with 10,000 threads
    bench/run --quick               # 1k and 10k only (about a minute)
    python bench/run.py --sizes 1k,10k --json out.json

Method (see bench/README.md for the why):

1. A throwaway Dovecot 2.3 on loopback (tests/dovecot.py). Each scenario is a fresh user whose Maildir is
   written directly (bench/seed.py) with realistic mail (bench/mailgen.py), then warmed up: Dovecot indexes it
   and caches the header fields followupd reads. The warm-up is excluded from every figure.
2. A counting proxy (bench/imapproxy.py, its own process) sits between the clients and Dovecot; both the
   baseline and followupd go through it, and every command is logged from the wire.
3. Baseline: raw imapclient ``UID FETCH 1:*`` of followupd's header fields, INTERNALDATE, RFC822.SIZE and FLAGS
   for each watched folder, one command per folder, then the stdlib compat32 header parser on every message.
   That is what reading the mailbox costs on this machine, with nothing else done.
4. followupd: the real ``followupd poll`` command as a subprocess, FOLLOWUPD_NOW pinned: the initial sync
   (before the sending window, so it only reads and plans), a drafting cycle (inside the window: the due
   drafts land in Drafts), three quiet cycles (nothing new), and a cycle after 100 new messages (10 replies to
   waiting threads) arrived by LMTP and APPEND. Peak RSS from wait4() of that process.
5. Cadence planning for 10,000 threads, in-process (bench/planning.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "bench"), str(ROOT / "tests")]

import mailgen  # noqa: E402
import planning  # noqa: E402
import seed  # noqa: E402
from dovecot import DovecotServer, MailUser  # noqa: E402
from imapclient import IMAPClient  # noqa: E402
from imapclient.response_parser import parse_fetch_response  # noqa: E402

from followupd.mail.headers import FETCH_HEADER_FIELDS  # noqa: E402
from followupd.planning.cadence import CadenceSettings  # noqa: E402

PASSWORD_ENV = "FOLLOWUPD_BENCH_PASSWORD"
WATCHED = (mailgen.SENT, mailgen.INBOX, mailgen.ARCHIVE)  # followupd's default: Sent, INBOX and the \Archive
SESSION_COMMANDS = {"CAPABILITY", "LOGIN", "AUTHENTICATE", "LOGOUT", "LIST", "NOOP", "ID", "ENABLE", "NAMESPACE",
                    "STARTTLS"}
FETCH_ITEMS = [f"BODY.PEEK[HEADER.FIELDS ({' '.join(FETCH_HEADER_FIELDS)})]", "INTERNALDATE", "RFC822.SIZE", "FLAGS"]

# A Tuesday. The initial sync runs before the 09:00 sending window (it reads and plans, drafts nothing); the
# drafting cycle runs inside it; the quiet cycles follow seconds later, so nothing new can fall due in between.
T_SYNC = datetime(2026, 3, 10, 7, 0, tzinfo=UTC)
T_DRAFT = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
T_QUIET = (T_DRAFT + timedelta(seconds=10), T_DRAFT + timedelta(seconds=20), T_DRAFT + timedelta(seconds=30))
T_NEW = datetime(2026, 3, 10, 10, 30, tzinfo=UTC)
CADENCE = CadenceSettings(send_days=frozenset(range(5)), send_start=dtime(9), send_end=dtime(17))

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000}
TARGETS = {"sync_ratio": 1.3, "imap_tools_ratio": 1.0, "big_sync_ratio": 2.0, "quiet_commands_per_folder": 3.0,
           "quiet_growth": 1.5, "rss_mb": 150.0,
           "planning_s": 1.0}


@dataclass
class Scenario:
    label: str
    total: int
    threads: int

    @property
    def name(self) -> str:
        return f"{self.label}/{self.threads}"


@dataclass
class Phase:
    """One followupd run (or the baseline): what it cost, as seen from outside and on the wire."""

    wall_s: float
    commands: list[dict[str, Any]] = field(default_factory=list)
    rss_mb: float | None = None
    output: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def imap_span_s(self) -> float:
        """First to last command on the wire: the cycle's IMAP time, without interpreter start-up."""
        if not self.commands:
            return 0.0
        return self.commands[-1]["t"] - self.commands[0]["t"]

    def histogram(self) -> dict[str, int]:
        return dict(Counter(c["cmd"] for c in self.commands).most_common())

    def folder_commands(self) -> int:
        return sum(1 for c in self.commands if c["cmd"] not in SESSION_COMMANDS)

    def as_json(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 4), "imap_span_s": round(self.imap_span_s, 4),
                "rss_mb": None if self.rss_mb is None else round(self.rss_mb, 1),
                "commands": len(self.commands), "folder_commands": self.folder_commands(),
                "histogram": self.histogram(), "output": _cut(self.output.strip()), **self.extra}


def _cut(text: str, limit: int = 400) -> str:
    """followupd's summary line names every change: thousands in a first sync. Its start says enough."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


class Proxy:
    """The counting proxy as a child process; ``mark()`` and ``since()`` cut its log into phases."""

    def __init__(self, upstream_port: int, workdir: Path) -> None:
        self.log = workdir / "commands.jsonl"
        self.log.touch()
        self.proc = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / "imapproxy.py"), "--upstream", f"127.0.0.1:{upstream_port}",
             "--log", str(self.log)], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "LISTENING":
            raise RuntimeError(f"the counting proxy did not start: {line}")
        self.port = int(line[1])

    def mark(self) -> int:
        return self.log.stat().st_size

    def since(self, offset: int) -> list[dict[str, Any]]:
        time.sleep(0.05)  # the proxy logs before forwarding; this only lets its last write land
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return [json.loads(line) for line in handle.read().splitlines() if line.strip()]

    def stop(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.proc.kill()


def followupd_command() -> list[str]:
    script = Path(sys.executable).parent / "followupd"
    return [str(script)] if script.exists() else [sys.executable, "-m", "followupd.cli"]


def write_config(user: MailUser, port: int, workdir: Path) -> Path:
    local, _, domain = user.address.partition("@")
    path = workdir / "config.toml"
    path.write_text(f"""
[account]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "{user.username}"
password_env = "{PASSWORD_ENV}"

[identity]
name = "Alex Example"
addresses = ["{user.address}"]
timezone = "UTC"
signature = "Alex"

[tracking]
address = "{local}+followup@{domain}"

[database]
url = "sqlite:///{workdir / 'state.db'}"

[cadence]
gaps = ["3bd", "1w", "2w", "4w"]
send_days = ["mon", "tue", "wed", "thu", "fri"]
send_hours = "09:00-17:00"
jitter = "0m"
""")
    path.chmod(0o600)
    return path


def followupd_env(user: MailUser, workdir: Path, now: datetime) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUPD_")}
    env.update({PASSWORD_ENV: user.password, "XDG_DATA_HOME": str(workdir / "data"),
                "XDG_CONFIG_HOME": str(workdir / "xdg"), "FOLLOWUPD_NOW": now.isoformat()})
    return env


class PeakRss:
    """Polls ``VmHWM`` (the kernel's high-water mark of resident memory) of one process until it exits.

    Not ``ru_maxrss`` from wait4(): for a child that was forked from this (large) bench process, that counts the
    parent's memory the child shared before its exec, so every followupd run would report the bench's size."""

    def __init__(self, pid: int, interval: float = 0.02) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        path = Path(f"/proc/{self.pid}/status")
        while True:
            try:
                text = path.read_text()
            except OSError:
                return
            for line in text.splitlines():
                if line.startswith("VmHWM:"):
                    self.peak_kb = max(self.peak_kb, int(line.split()[1]))
                    break
            else:
                return  # a zombie has no memory lines: it has exited
            time.sleep(self.interval)

    def stop(self) -> float:
        self._thread.join(timeout=5)
        return self.peak_kb / 1024


def run_poll(config: Path, env: dict[str, str], proxy: Proxy, workdir: Path) -> Phase:
    """``followupd poll`` as a user runs it; wall time, peak RSS of that process, and the commands it sent."""
    mark = proxy.mark()
    out_path, err_path = workdir / "poll.out", workdir / "poll.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen([*followupd_command(), "--config", str(config), "--log-level", "warning", "poll"],
                                env=env, stdout=out, stderr=err)
        rss = PeakRss(proc.pid)
        proc.wait()
        wall = time.perf_counter() - start
        peak = rss.stop()
    output = out_path.read_text(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"followupd poll exited {proc.returncode}:\n{output}\n{err_path.read_text()}")
    return Phase(wall, proxy.since(mark), rss_mb=peak, output=output)


def baseline(user: MailUser, port: int, proxy: Proxy | None) -> Phase:
    """The physical limit: one UID FETCH 1:* per watched folder and the cheapest stdlib header parse."""
    mark = proxy.mark() if proxy else 0
    parser = BytesHeaderParser(policy=policy.compat32)
    messages = fetch_s = parse_s = 0.0
    total_bytes = 0
    start = time.perf_counter()
    client = IMAPClient("127.0.0.1", port=port, ssl=False, timeout=120)
    client.login(user.username, user.password)
    wire_s = 0.0
    for folder in WATCHED:
        client.select_folder(folder, readonly=True)
        t0 = time.perf_counter()
        raw = seed.raw_fetch(client, FETCH_ITEMS)
        wire_s += time.perf_counter() - t0  # imaplib framing lines and literals: no client reads faster
        parsed = parse_fetch_response(raw, True, True)
        t1 = time.perf_counter()
        for data in parsed.values():
            header = next((v for k, v in data.items() if isinstance(k, bytes) and k.startswith(b"BODY[HEADER")), b"")
            total_bytes += len(header)
            msg = parser.parsebytes(header)
            for name in ("Message-ID", "In-Reply-To", "References", "From", "To", "Cc", "Subject", "Date"):
                msg.get(name)
            messages += 1
        fetch_s += t1 - t0
        parse_s += time.perf_counter() - t1
    client.logout()
    wall = time.perf_counter() - start
    phase = Phase(wall, proxy.since(mark) if proxy else [])
    phase.extra = {"messages": int(messages), "header_mb": round(total_bytes / 2**20, 1),
                   "fetch_s": round(fetch_s, 3), "parse_s": round(parse_s, 3), "wire_s": round(wire_s, 3)}
    return phase


def imap_tools_race(user: MailUser, port: int, proxy: Proxy, workdir: Path) -> Phase:
    """What a user would pick instead: a script reading every header with imap-tools (bench/race.py), run
    as its own process like ``followupd poll`` is, so both pay an interpreter start, imports and LOGIN."""
    mark = proxy.mark()
    env = {**os.environ, PASSWORD_ENV: user.password}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, str(ROOT / "bench" / "race.py"), "--port", str(port), "--user",
                           user.username, "--password-env", PASSWORD_ENV, *WATCHED], env=env, capture_output=True,
                          text=True, timeout=3600)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"the imap-tools race failed (pip install -e '.[bench]'?):\n{proc.stderr}")
    phase = Phase(wall, proxy.since(mark))
    phase.extra = json.loads(proc.stdout.strip().splitlines()[-1])
    return phase


def db_size(workdir: Path) -> int:
    return sum(p.stat().st_size for p in workdir.glob("state.db*"))


def per_folder(phase: Phase) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for command in phase.commands:
        key = "(session)" if command["cmd"] in SESSION_COMMANDS else command["folder"] or "?"
        table.setdefault(key, Counter())[command["cmd"]] += 1
    return {folder: dict(counts) for folder, counts in table.items()}


def run_scenario(server: DovecotServer, proxy: Proxy, scenario: Scenario, root: Path, log: Any) -> dict[str, Any]:
    workdir = root / scenario.name.replace("/", "-")
    workdir.mkdir()
    user = server.add_user(f"alex{scenario.label}t{scenario.threads}")
    local, _, domain = user.address.partition("@")
    tracking = f"{local}+followup@{domain}"
    result: dict[str, Any] = {"scenario": scenario.name, "messages": scenario.total, "threads": scenario.threads}

    t0 = time.perf_counter()
    box = mailgen.build(total=scenario.total, threads=scenario.threads, user=user.address, tracking=tracking,
                        now=T_SYNC, cadence=CADENCE)
    home = server.directory / "mail" / user.username
    seed.write_maildir(home, box.messages)
    result["seed_s"] = round(time.perf_counter() - t0, 2)
    result["folders"] = box.counts
    result["fates"] = box.fates
    log(f"  seeded {sum(box.counts.values())} messages {box.counts} in {result['seed_s']} s; fates {box.fates}")

    with server.connect(user) as client:
        took = seed.warm_up(client, [*WATCHED, mailgen.DRAFTS], FETCH_ITEMS)
    result["warm_up_s"] = round(sum(took.values()), 2)
    log(f"  warm-up (excluded): {result['warm_up_s']} s")

    direct = baseline(user, user.port, None)
    via = baseline(user, proxy.port, proxy)
    result["baseline_direct"] = direct.as_json()
    result["baseline"] = via.as_json()
    log(f"  baseline: {via.wall_s:.2f} s through the proxy, {direct.wall_s:.2f} s direct "
        f"({via.extra['messages']} messages, fetch {via.extra['fetch_s']} s, parse {via.extra['parse_s']} s)")

    race = imap_tools_race(user, proxy.port, proxy, workdir)
    result["imap_tools"] = race.as_json()
    log(f"  imap-tools: {race.wall_s:.2f} s as a script ({race.extra['messages']} messages, reading "
        f"{race.extra['work_s']} s); wire alone (imaplib framing, no parse) {via.extra['wire_s']} s")

    config = write_config(user, proxy.port, workdir)
    sync = run_poll(config, followupd_env(user, workdir, T_SYNC), proxy, workdir)
    result["sync"] = sync.as_json()
    result["sync"]["ratio"] = round(sync.wall_s / via.wall_s, 2)
    result["sync"]["ratio_imap_tools"] = round(sync.wall_s / race.wall_s, 2)
    result["sync"]["baseline_wall_s"] = round(via.wall_s, 4)
    result["db_bytes_after_sync"] = db_size(workdir)
    log(f"  initial sync: {sync.wall_s:.2f} s (ratio {sync.wall_s / via.wall_s:.2f}, "
        f"{sync.wall_s / race.wall_s:.2f} of imap-tools), {len(sync.commands)} "
        f"commands, RSS {sync.rss_mb:.0f} MB: {sync.output.strip()[:150]}")

    drafting = run_poll(config, followupd_env(user, workdir, T_DRAFT), proxy, workdir)
    result["drafting"] = drafting.as_json()
    log(f"  drafting cycle: {drafting.wall_s:.2f} s, {len(drafting.commands)} commands: "
        f"{drafting.output.strip()[:150]}")

    quiet = [run_poll(config, followupd_env(user, workdir, now), proxy, workdir) for now in T_QUIET]
    median = sorted(quiet, key=lambda p: p.wall_s)[len(quiet) // 2]
    result["quiet"] = median.as_json()
    result["quiet"]["runs_wall_s"] = [round(p.wall_s, 3) for p in quiet]
    result["quiet"]["per_folder"] = per_folder(median)
    result["quiet"]["commands_per_watched_folder"] = round(len(median.commands) / len(WATCHED), 2)
    result["quiet"]["folder_commands_per_watched_folder"] = round(median.folder_commands() / len(WATCHED), 2)
    first = median.commands[0]["t"] if median.commands else 0.0
    # What every run pays before and after its cycle (interpreter, imports, config, database, LOGIN): the
    # quiet cycle is nothing else. The sync without it shows how the cycle itself compares with the baseline.
    startup = max(median.wall_s - median.imap_span_s, 0.0)
    result["quiet"]["startup_s"] = round(startup, 3)
    result["sync"]["ratio_without_startup"] = round((sync.wall_s - startup) / via.wall_s, 2)
    result["quiet"]["wire"] = [f"+{(c['t'] - first) * 1000:6.1f} ms  {c['tag']} {c['cmd']} {c['args']}".rstrip()
                               for c in median.commands]
    log(f"  quiet cycle: {statistics.median(p.wall_s for p in quiet):.3f} s, {len(median.commands)} commands "
        f"({median.histogram()})")

    new, answered = mailgen.new_mail(mailbox=box, user=user.address, tracking=tracking, now=T_NEW)
    incoming = [m for m in new if m.folder == mailgen.INBOX]
    outgoing = [m for m in new if m.folder != mailgen.INBOX]
    seed.deliver_lmtp(server.host, server.lmtp_port, user.address, incoming)
    with server.connect(user) as client:
        seed.append_all(client, outgoing)
    fresh = run_poll(config, followupd_env(user, workdir, T_NEW), proxy, workdir)
    result["new_mail"] = fresh.as_json()
    result["new_mail"]["delivered"] = {"lmtp": len(incoming), "append": len(outgoing), "replies": len(answered)}
    log(f"  new-mail cycle: {fresh.wall_s:.2f} s, {len(fresh.commands)} commands: {fresh.output.strip()[:200]}")

    result["db_bytes"] = db_size(workdir)
    result["config"] = str(config)
    return result


def scenarios_for(sizes: list[str], big_threads: int) -> list[Scenario]:
    chosen = [Scenario(label, SIZES[label], 100) for label in sizes]
    largest = max(chosen, key=lambda s: s.total)
    if largest.total >= 100_000:
        chosen.append(Scenario(largest.label, largest.total, big_threads))
    return chosen


def verdicts(results: list[dict[str, Any]], plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target, met or missed, with the figure it was judged on."""
    out: list[dict[str, Any]] = []
    for r in results:
        value = r["sync"]["ratio_imap_tools"]
        out.append({"target": f"initial sync / imap-tools <= {TARGETS['imap_tools_ratio']} ({r['scenario']})",
                    "value": value, "met": value <= TARGETS["imap_tools_ratio"]})
    for r in results:
        limit = TARGETS["big_sync_ratio"] if r["threads"] > 1_000 else TARGETS["sync_ratio"]
        out.append({"target": f"initial sync / baseline <= {limit} ({r['scenario']})",
                    "value": r["sync"]["ratio"], "met": r["sync"]["ratio"] <= limit})
    for r in results:
        value = r["quiet"]["commands_per_watched_folder"]
        out.append({"target": f"quiet cycle commands per watched folder <= 3 ({r['scenario']})",
                    "value": value, "met": value <= TARGETS["quiet_commands_per_folder"]})
    smallest = min(results, key=lambda r: (r["messages"], r["threads"]))
    for r in results:
        if r is smallest:
            continue
        # The target is the wall time's growth with mailbox size, so it compares scenarios with the same number
        # of threads; the IMAP part alone and the 10,000-thread scenario are shown beside it for information.
        same_threads = r["threads"] == smallest["threads"]
        for key in ("wall_s", "imap_span_s"):
            base = smallest["quiet"][key]
            ratio = r["quiet"][key] / base if base else float("inf")
            judged = same_threads and key == "wall_s"
            out.append({"target": f"quiet cycle {key} {r['scenario']} / {smallest['scenario']}"
                                  + (" <= 1.5" if judged else " (information)"),
                        "value": round(ratio, 2), "met": ratio <= TARGETS["quiet_growth"] if judged else None})
    for r in results:
        if r["messages"] >= 100_000:
            out.append({"target": f"peak RSS of the initial sync <= 150 MB ({r['scenario']})",
                        "value": r["sync"]["rss_mb"], "met": r["sync"]["rss_mb"] <= TARGETS["rss_mb"]})
    for key in ("pure_due_time", "engine_replan"):
        value = plan[key]["seconds"]
        out.append({"target": f"cadence planning of {plan[key]['threads']} threads ({key}) < 1 s",
                    "value": round(value, 3), "met": value < TARGETS["planning_s"]})
    return out


def table(results: list[dict[str, Any]], plan: dict[str, Any]) -> str:
    head = ["scenario", "wire s", "baseline s", "imap-tools s", "sync s", "ratio", "vs imap-tools", "w/o start",
            "sync cmds", "RSS MB", "DB MB", "drafts",
            "quiet s", "quiet IMAP ms", "quiet cmds", "per folder", "new-mail s", "new-mail cmds"]
    rows = []
    for r in results:
        drafted = r["drafting"]["output"]
        rows.append([r["scenario"], f"{r['baseline']['wire_s']:.2f}", f"{r['baseline']['wall_s']:.2f}",
                     f"{r['imap_tools']['wall_s']:.2f}", f"{r['sync']['wall_s']:.2f}",
                     f"{r['sync']['ratio']:.2f}", f"{r['sync']['ratio_imap_tools']:.2f}",
                     f"{r['sync']['ratio_without_startup']:.2f}",
                     str(r["sync"]["commands"]), f"{r['sync']['rss_mb']:.0f}",
                     f"{r['db_bytes'] / 2**20:.1f}", _drafts(drafted), f"{r['quiet']['wall_s']:.2f}",
                     f"{r['quiet']['imap_span_s'] * 1000:.0f}", str(r["quiet"]["commands"]),
                     f"{r['quiet']['commands_per_watched_folder']:.2f}", f"{r['new_mail']['wall_s']:.2f}",
                     str(r["new_mail"]["commands"])])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)),
             "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    pure, replan = plan["pure_due_time"], plan["engine_replan"]
    lines.append(f"cadence planning, {pure['threads']} threads: due_time {pure['seconds'] * 1000:.0f} ms; "
                 f"engine re-plan after a cadence change {replan['seconds'] * 1000:.0f} ms")
    return "\n".join(lines)


def _dovecot_version(server: DovecotServer) -> str:
    binary = server._binary or "dovecot"
    with contextlib.suppress(OSError):
        return subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip()
    return ""


def _drafts(summary: str) -> str:
    for part in summary.split(";"):
        if "draft(s) queued" in part:
            return part.strip().split()[0]
    return "0"


def compile_bytecode() -> None:
    """Compile followupd's modules to bytecode once, as ``pip install`` does for an installed package.

    An editable install (this checkout's venv) has none, and where ``PYTHONDONTWRITEBYTECODE`` is set (it is on
    the shared development machine) every ``followupd`` process compiled every module it imported again: about
    a third of a 10k first sync's wall time in a profile, which no user pays. imap-tools, installed from its
    wheel, has its bytecode; now both run as installed."""
    import compileall

    compileall.compile_dir(ROOT / "followupd", quiet=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="followupd benchmarks (see bench/README.md)")
    parser.add_argument("--sizes", default="1k,10k,100k", help="comma-separated: 1k,10k,100k")
    parser.add_argument("--quick", action="store_true", help="1k and 10k only")
    parser.add_argument("--big-threads", type=int, default=10_000,
                        help="tracked threads of the extra scenario at the largest size (>= 100k)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results.json", help="where to write JSON")
    args = parser.parse_args(argv)
    sizes = ["1k", "10k"] if args.quick else [s.strip() for s in args.sizes.split(",") if s.strip()]
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}; choose from {', '.join(SIZES)}")
    if not DovecotServer.available():
        parser.error("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")

    def log(text: str) -> None:
        print(text, flush=True)

    compile_bytecode()
    started = time.perf_counter()
    results = []
    dovecot_version = ""
    with tempfile.TemporaryDirectory(prefix="followupd-bench-") as tmp, DovecotServer() as server:
        root = Path(tmp)
        dovecot_version = _dovecot_version(server)
        proxy = Proxy(server.imap_port, root)
        try:
            for scenario in scenarios_for(sizes, args.big_threads):
                log(f"== {scenario.name}: {scenario.total} messages, {scenario.threads} tracked threads")
                results.append(run_scenario(server, proxy, scenario, root, log))
            log("== cadence planning")
            plan = planning.run(10_000, T_DRAFT, Path(results[0]["config"]),
                                {PASSWORD_ENV: "unused"})
        finally:
            proxy.stop()
    checks = verdicts(results, plan)
    print()
    print(table(results, plan))
    print()
    for check in checks:
        mark = "info  " if check["met"] is None else "met   " if check["met"] else "MISSED"
        print(f"{mark}  {check['target']}: {check['value']}")
    biggest = max(results, key=lambda r: (r["messages"], r["threads"]))
    print(f"\nquiet cycle on the wire ({biggest['scenario']}):")
    for line in biggest["quiet"]["wire"]:
        print(f"  {line}")
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "dovecot": dovecot_version},
        "total_s": round(time.perf_counter() - started, 1),
        "scenarios": results, "planning": plan, "targets": checks,
    }
    for r in results:
        r.pop("config", None)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON: {args.json}   total {report['total_s']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

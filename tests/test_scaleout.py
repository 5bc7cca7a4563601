"""Scale-out on PostgreSQL: two `followupd run` processes share four accounts through leases.

They split the accounts, each account's follow-up is drafted exactly once, a manual `poll` of an account that a
daemon runs is refused, and after one daemon is killed with SIGKILL the other takes its accounts over within a
lease period, again drafting each follow-up exactly once. The two daemons use different data directories, as
on two hosts, so only the leases keep them apart.
"""

from __future__ import annotations

import email
import os
import re
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer, MailUser
from harness import followupd_command
from mailfactory import make_message

LEASE_SECONDS = 6
NAMES = ("ann", "ben", "cat", "dan")


class Team:
    def __init__(self, dovecot: DovecotServer, pg_url: str, tmp_path: Path) -> None:
        self.server = dovecot
        self.users: dict[str, MailUser] = {name: dovecot.add_user() for name in NAMES}
        self.dir = tmp_path
        self.config_path = tmp_path / "team.toml"
        blocks = "".join(f"""
[[accounts]]
name = "{name}"
host = "{user.host}"
port = {user.port}
tls = "none"
username = "{user.username}"
password_env = "PW_{name.upper()}"
[accounts.tracking]
address = "{user.address.replace('@', '+followup@')}"
[accounts.identity]
addresses = ["{user.address}"]
timezone = "UTC"
""" for name, user in self.users.items())
        self.config_path.write_text(f"""
[database]
url = "{pg_url}"
lease_period = "{LEASE_SECONDS}s"
[cadence]
gaps = ["3bd", "1w", "2w", "4w"]
send_hours = "00:00-24:00"
jitter = "0m"
poll_interval = "1m"
{blocks}""")
        self.config_path.chmod(0o600)

    def env(self, host: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUPD_", "NOTIFY_SOCKET"))}
        env.update({f"PW_{name.upper()}": user.password for name, user in self.users.items()})
        env["XDG_DATA_HOME"] = str(self.dir / host)  # its own lock files: another host, as far as locks go
        return env

    def start(self, host: str) -> subprocess.Popen[bytes]:
        log = (self.dir / f"{host}.log").open("wb")
        return subprocess.Popen([*followupd_command(), "--config", str(self.config_path), "--log-level", "info",
                                 "run"], env=self.env(host), stdout=log, stderr=subprocess.STDOUT)

    def log(self, host: str) -> str:
        return (self.dir / f"{host}.log").read_text(errors="replace")

    def send_tracked(self, name: str, subject: str, to: str) -> None:
        user = self.users[name]
        when = datetime.now(UTC) - timedelta(days=10)
        raw = make_message(from_=f"{name} <{user.address}>", to=to, subject=subject, date=when,
                           bcc=user.address.replace("@", "+followup@"))
        self.server.append(user, "Sent", raw, date=when, flags=[b"\\Seen"])
        # The Bcc copy the tracking address receives (plus-addressing): it lands in INBOX, which IDLE watches.
        self.server.deliver_lmtp(user, raw, recipients=[user.address.replace("@", "+followup@")])

    def draft_markers(self, name: str) -> list[str]:
        with self.server.connect(self.users[name]) as client:
            client.select_folder("Drafts", readonly=True)
            uids = client.search("ALL")
            fetched = client.fetch(uids, ["BODY.PEEK[HEADER]"]) if uids else {}
        return [str(email.message_from_bytes(data[b"BODY[HEADER]"])["Message-ID"]) for data in fetched.values()]

    def wait_for_drafts(self, per_account: int, timeout: float) -> dict[str, list[str]]:
        deadline = time.monotonic() + timeout
        while True:
            markers = {name: self.draft_markers(name) for name in NAMES}
            if all(len(m) >= per_account for m in markers.values()) or time.monotonic() > deadline:
                return markers
            time.sleep(0.5)


def _owners(log: str) -> set[str]:
    return set(re.findall(r"(\w+): lease taken; running it here", log))


@pytest.fixture
def team(dovecot: DovecotServer, postgres: Any, tmp_path: Path) -> Iterator[Team]:
    yield Team(dovecot, postgres.create_database(), tmp_path)


def test_two_daemons_split_the_accounts_and_one_takes_over_when_the_other_is_killed(team: Team) -> None:
    for name in NAMES:
        team.send_tracked(name, f"Proposal for {name}", "Bob <bob@example.org>")
    first = team.start("host-a")
    time.sleep(1.5)  # host-a registers first; host-b then joins and gets its share once host-a's surplus expires
    second = team.start("host-b")
    try:
        markers = team.wait_for_drafts(1, timeout=60)
        assert all(len(m) == 1 for m in markers.values()), (markers, team.log("host-a"), team.log("host-b"))
        deadline = time.monotonic() + 4 * LEASE_SECONDS
        while time.monotonic() < deadline and not (_owners(team.log("host-a")) and _owners(team.log("host-b"))):
            time.sleep(0.5)
        a, b = _owners(team.log("host-a")), _owners(team.log("host-b"))
        assert a and b, (team.log("host-a"), team.log("host-b"))  # both got a share

        manual = subprocess.run([*followupd_command(), "--config", str(team.config_path), "poll"],
                                env=team.env("host-c"), capture_output=True, text=True, timeout=60)
        assert manual.returncode == 3, manual.stderr
        assert "already running" in manual.stderr and "lease until" in manual.stderr, manual.stderr

        first.send_signal(signal.SIGKILL)  # no clean hand-over: host-b must wait for the leases to run out
        first.wait(10)
        killed_at = time.monotonic()
        for name in NAMES:
            # Another recipient: Bob just got a follow-up, and one person never gets two on one day.
            team.send_tracked(name, f"Second proposal for {name}", "Carol <carol@example.org>")
        markers = team.wait_for_drafts(2, timeout=6 * LEASE_SECONDS)
        took = time.monotonic() - killed_at
        log_b = team.log("host-b")
        assert _owners(log_b) == set(NAMES), log_b  # host-b runs every account now
        for name, found in markers.items():
            assert len(found) == 2 and max(Counter(found).values()) == 1, (name, found, log_b)
        assert took < 4 * LEASE_SECONDS, took
    finally:
        for proc in (first, second):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(30)
    assert second.returncode == 0, team.log("host-b")
    assert "Traceback" not in team.log("host-a") + team.log("host-b")

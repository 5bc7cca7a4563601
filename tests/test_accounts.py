"""Several accounts in one config ([[accounts]]), account health ("degraded"), and choosing an account.

Config tests are pure; the end-to-end ones run the real ``followupd`` against two users of the test Dovecot.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dovecot import DovecotServer
from harness import PASSWORD_ENV, SHARED_ENV, followupd_command, run_followupd
from mailfactory import make_message

from followupd.config import parse_accounts
from followupd.errors import ConfigError

NOW = datetime.now(UTC)
BOB = "bob@example.org"


def _parse(text: str, tmp_path: Path, env: dict[str, str] | None = None) -> list[Any]:
    import tomllib

    return parse_accounts(tomllib.loads(text), path=tmp_path / "config.toml",
                          env=env or {"HOME": str(tmp_path), "TZ": "UTC"})


TWO = """
[tracking]
address = "me+followup@example.com"
[cadence]
gaps = ["3bd", "1w"]
[database]
url = "sqlite:////srv/followupd/state.db"

[[accounts]]
name = "work"
host = "imap.example.com"
username = "me@example.com"
password_env = "PW"
[accounts.cadence]
gaps = ["1w", "2w", "3w"]

[[accounts]]
host = "imap.example.org"
username = "alex@example.org"
password_env = "PW2"
idle = false
[accounts.tracking]
address = "alex+fu@example.org"
"""


# ------------------------------------------------------------------------------------------------ config
def test_each_account_gets_top_level_sections_with_its_own_overrides(tmp_path: Path) -> None:
    work, other = _parse(TWO, tmp_path)
    assert (work.name, other.name) == ("work", "alex@example.org")  # no name: the username
    assert work.tracking.address == "me+followup@example.com"       # inherited
    assert other.tracking.address == "alex+fu@example.org"          # its own
    assert [g.amount for g in work.cadence.gaps] == [1, 2, 3]       # its own
    assert [g.amount for g in other.cadence.gaps] == [3, 1]         # inherited
    assert work.account.idle and not other.account.idle
    assert work.identity.addresses == ("me@example.com",) and other.identity.addresses == ("alex@example.org",)


def test_each_account_keeps_its_state_apart(tmp_path: Path) -> None:
    work, other = _parse(TWO, tmp_path)
    assert work.database.url == "sqlite:////srv/followupd/state-work.db"
    assert other.database.url == "sqlite:////srv/followupd/state-alex_example_org.db"
    pg = _parse(TWO.replace("sqlite:////srv/followupd/state.db", "postgresql+psycopg://fu@db/followupd"), tmp_path)
    assert [c.database.schema for c in pg] == ["followupd_work", "followupd_alex_example_org"]
    assert {c.database.url for c in pg} == {"postgresql+psycopg://fu@db/followupd"}


def test_single_account_file_is_unchanged(tmp_path: Path) -> None:
    (config,) = _parse('[account]\nhost = "imap.example.com"\nusername = "me@example.com"\npassword_env = "PW"\n'
                       '[tracking]\naddress = "me+followup@example.com"\n[database]\nurl = "sqlite:////x/f.db"\n',
                       tmp_path)
    assert config.database.url == "sqlite:////x/f.db" and config.database.schema is None
    assert config.name == "me@example.com"


@pytest.mark.parametrize(("change", "expected"), [
    (lambda t: t.replace('[[accounts]]\nname = "work"', '[account]\nhost = "x"\n[[accounts]]\nname = "work"'),
     "has both [account] and [[accounts]]"),
    (lambda t: t.replace('name = "work"', 'name = "my work"'), '[[accounts]] name = "my work" is not allowed'),
    (lambda t: t.replace('idle = false', 'idle = false\ncolour = "red"'),
     "[[accounts]] #2: unknown key [[accounts]] colour"),
    (lambda t: t.replace('address = "alex+fu@example.org"', 'adress = "alex+fu@example.org"'),
     'unknown key [accounts.tracking] adress; did you mean "address"?'),
    (lambda t: t + '[accounts.database]\nurl = "sqlite:////x.db"\n', "[accounts.database] cannot be set per account"),
    (lambda t: t.replace('host = "imap.example.org"\nusername = "alex@example.org"',
                         'host = "imap.example.com"\nusername = "me@example.com"'), "are the same login"),
    (lambda t: t.replace('host = "imap.example.org"', 'name = "Work"\nhost = "imap.example.org"'),
     "need different names"),
])
def test_account_mistakes_name_the_account_and_the_key(tmp_path: Path, change: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _parse(change(TWO), tmp_path)
    assert expected in str(caught.value), str(caught.value)


def test_a_problem_in_one_account_is_labelled_and_a_shared_one_reported_once(tmp_path: Path) -> None:
    text = TWO.replace('gaps = ["3bd", "1w"]', 'gaps = ["3bd", "1w"]\nbogus = 1').replace(
        'host = "imap.example.com"', 'host = "imaps://imap.example.com"')
    with pytest.raises(ConfigError) as caught:
        _parse(text, tmp_path)
    message = str(caught.value)
    assert message.count("unknown key [cadence] bogus") == 1
    assert re.search(r"\[\[accounts\]\] #1 \(work\): \[\[accounts\]\] host = \"imaps://imap.example.com\"", message)


# ------------------------------------------------------------------------------------------------ end to end
class TwoAccounts:
    """Two users of the test Dovecot in one followupd config."""

    def __init__(self, dovecot: DovecotServer, tmp_path: Path) -> None:
        self.server = dovecot
        self.users = {"work": dovecot.add_user(), "home": dovecot.add_user()}
        self.dir = tmp_path
        self.config_path = tmp_path / "config.toml"
        self.write()

    def write(self, *, home_port: int | None = None, extra: str = "") -> None:
        blocks = []
        for name, user in self.users.items():
            local, _, domain = user.address.partition("@")
            port = home_port if name == "home" and home_port else user.port
            blocks.append(f"""
[[accounts]]
name = "{name}"
host = "{user.host}"
port = {port}
tls = "none"
username = "{user.username}"
password_env = "PW_{name.upper()}"
idle = false
[accounts.tracking]
address = "{local}+followup@{domain}"
[accounts.identity]
addresses = ["{user.address}"]
timezone = "UTC"
""")
        self.config_path.write_text(f"""
[database]
url = "sqlite:///{self.dir / 'state.db'}"
[cadence]
gaps = ["3bd", "1w", "2w", "4w"]
send_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
send_hours = "00:00-24:00"
jitter = "0m"
{extra}
{''.join(blocks)}""")
        self.config_path.chmod(0o600)

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUPD_") or k in SHARED_ENV}
        env.update({f"PW_{name.upper()}": user.password for name, user in self.users.items()})
        env.pop(PASSWORD_ENV, None)
        env["XDG_DATA_HOME"] = str(self.dir / "data")
        return env

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = run_followupd(["--config", str(self.config_path), *args], env=self.env())
        if check and proc.returncode != 0:
            raise AssertionError(f"followupd {' '.join(args)} exited {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def send_tracked(self, name: str, subject: str) -> str:
        user = self.users[name]
        local, _, domain = user.address.partition("@")
        when = NOW - timedelta(days=10)
        raw = make_message(from_=f"Alex <{user.address}>", to=f"Bob <{BOB}>", subject=subject, date=when,
                           bcc=f"{local}+followup@{domain}")
        self.server.append(user, "Sent", raw, date=when, flags=[b"\\Seen"])
        return next(line.split(":", 1)[1].strip() for line in raw.decode().split("\r\n")
                    if line.lower().startswith("message-id:"))

    def status(self, *args: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.run(*args, "status", "--json").stdout)
        return result

    def drafts(self, name: str) -> list[bytes]:
        with self.server.connect(self.users[name]) as client:
            client.select_folder("Drafts", readonly=True)
            uids = client.search("ALL")
            return [data[b"BODY[]"] for data in client.fetch(uids, ["BODY.PEEK[]"]).values()] if uids else []


@pytest.fixture
def two(dovecot: DovecotServer, tmp_path: Path) -> TwoAccounts:
    return TwoAccounts(dovecot, tmp_path)


def test_one_config_serves_two_accounts_apart(two: TwoAccounts) -> None:
    work_id = two.send_tracked("work", "Contract renewal")
    home_id = two.send_tracked("home", "Roof repair quote")
    result = two.run("--log-level", "info", "poll")
    assert result.stdout.count("1 new tracked thread(s)") == 2, result.stdout
    threads = {t["message_id"]: t for t in two.status()}
    assert threads[work_id]["account"] == "work" and threads[home_id]["account"] == "home"
    assert all(t["account_state"] == "ok" for t in threads.values())
    # Each account's follow-up lands in its own Drafts folder, never the other's.
    assert len(two.drafts("work")) == 1 and b"Contract renewal" in two.drafts("work")[0]
    assert len(two.drafts("home")) == 1 and b"Roof repair quote" in two.drafts("home")[0]
    assert [t["message_id"] for t in two.status("--account", "home")] == [home_id]
    assert (two.dir / "state-work.db").exists() and (two.dir / "state-home.db").exists()
    # A thread id is found in whichever account has it.
    home_thread = threads[home_id]["id"]
    stopped = two.run("outbox", "stop", home_thread[:6])
    assert "stop" in stopped.stdout.lower(), stopped.stdout
    states = {t["message_id"]: t["state"] for t in two.status()}
    assert states == {work_id: "waiting", home_id: "stopped"}
    assert len(two.drafts("home")) == 0 and len(two.drafts("work")) == 1


def test_one_failing_account_never_stops_the_other(two: TwoAccounts) -> None:
    work_id = two.send_tracked("work", "Contract renewal")
    two.write(home_port=1)  # nothing listens there: the home account cannot connect
    result = two.run("poll", check=False)
    assert result.returncode == 3, result.stderr
    assert "home:" in result.stderr and "Traceback" not in result.stderr
    assert "work: read 1 new message(s)" in result.stdout
    threads = two.status()
    assert [t["message_id"] for t in threads] == [work_id]
    text = two.run("status").stdout
    assert re.search(r"account home: degraded since .*1 failed cycle\(s\)", text), text
    assert "account work: ok" in text
    two.write()  # fixed: the next cycle clears it
    two.run("poll")
    assert "account home: ok" in two.run("status").stdout


def test_daemon_runs_every_account_and_survives_a_broken_one(two: TwoAccounts) -> None:
    two.send_tracked("work", "Contract renewal")
    two.write(home_port=1)
    proc = subprocess.Popen([*followupd_command(), "--config", str(two.config_path), "--log-level", "info", "run"],
                            env=two.env(), stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not two.drafts("work"):
            time.sleep(0.3)
        assert len(two.drafts("work")) == 1  # the good account works while the other one fails
        assert proc.poll() is None
        second = subprocess.run([*followupd_command(), "--config", str(two.config_path), "run"], env=two.env(),
                                capture_output=True, text=True, timeout=30)
        assert second.returncode == 3 and "already running" in second.stderr, second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, log = proc.communicate(timeout=30)
    assert proc.returncode == 0, log
    assert re.search(r"ERROR followupd\.daemon: home: cycle failed \(.*\); retrying in", log), log
    assert "work: cycle: read 1 new message(s)" in log
    assert "Traceback" not in log

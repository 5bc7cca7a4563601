"""An account wired to the test Dovecot: writes a followupd config and runs the real ``followupd`` command.

Used by the end-to-end tests and by ``scripts/demo``: both drive followupd exactly as a user would, as a
subprocess with a config file, and look at the mailbox through a separate IMAP connection.
"""

from __future__ import annotations

import email
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from pathlib import Path
from typing import Any

import forkserver
from dovecot import DovecotServer, MailUser

PASSWORD_ENV = "FOLLOWUPD_TEST_PASSWORD"
#: Kept from the test run's environment: the run-wide template check cache (tests/conftest.py).
SHARED_ENV = frozenset({"FOLLOWUPD_CACHE_DIR"})


def followupd_command() -> list[str]:
    """The installed console script next to this Python, else ``python -m followupd.cli``."""
    script = Path(sys.executable).parent / "followupd"
    if script.exists():
        return [str(script)]
    found = shutil.which("followupd")
    return [found] if found else [sys.executable, "-m", "followupd.cli"]


def run_followupd(args: list[str], *, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``followupd ARGS`` in a process of its own, its output captured as text: forked from a process that has
    imported followupd (tests/forkserver.py), or exec'd when that is turned off. Not for ``run``: the daemon tests
    exec the daemon themselves."""
    if forkserver.enabled():
        return refuse_swallowed_bugs(forkserver.run(args, env=env, timeout=timeout), args)
    return refuse_swallowed_bugs(subprocess.run([*followupd_command(), *args], env=env, capture_output=True,
                                                text=True, timeout=timeout), args)


#: What followupd.mail.internal_errors logs (lower case; Dovecot's own "Internal error" is capitalised).
SWALLOWED_BUG = re.compile(r"\binternal error\b")


def refuse_swallowed_bugs(proc: subprocess.CompletedProcess[str],
                          args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Rule 10 for the end-to-end tests: a bug that never-raise code caught and recorded (it logs "internal
    error" once) fails the test that ran the command, whatever the command's exit code says."""
    if SWALLOWED_BUG.search(proc.stderr or ""):
        raise AssertionError(f"followupd {' '.join(args)} swallowed a bug (internal error logged)\n"
                             f"stderr:\n{proc.stderr}")
    return proc


def accounts_config(users: dict[str, MailUser], workdir: Path, *, now: datetime) -> tuple[Path, dict[str, str]]:
    """One config file with an ``[[accounts]]`` table per user (named by its key, password from ``PW_<NAME>``,
    time zone UTC, no IDLE), one SQLite database, and the environment to run it with at ``now``."""
    blocks = []
    for name, user in users.items():
        local, _, domain = user.address.partition("@")
        blocks.append(f"""
[[accounts]]
name = "{name}"
host = "{user.host}"
port = {user.port}
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
    config = workdir / "config.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{workdir / "state.db"}"\n' + "".join(blocks))
    config.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUPD_") or k in SHARED_ENV}
    env.update({f"PW_{name.upper()}": user.password for name, user in users.items()},
               XDG_DATA_HOME=str(workdir / "data"), FOLLOWUPD_NOW=now.isoformat())
    return config, env


def default_config(user: MailUser, workdir: Path, *, cadence: str | None = None, extra: str = "",
                   digest: bool = False) -> str:
    """A config for one test user. The weekly digest is off unless ``digest``: it lands in INBOX once a week,
    and only tests/test_e2e_digest.py is about that; with it on, the defaults ([digest] left out) apply."""
    local, _, domain = user.address.partition("@")
    cadence_section = cadence if cadence is not None else """
[cadence]
gaps = ["3bd", "1w", "2w", "4w"]
send_days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
send_hours = "00:00-24:00"
jitter = "0m"
"""
    return f"""
[account]
host = "{user.host}"
port = {user.port}
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
{cadence_section}
{"" if digest else "[digest]" + chr(10) + "enabled = false" + chr(10)}
{extra}
"""


@dataclass
class Account:
    """One user's followupd installation: config, state dir, and the mailbox it watches."""

    server: DovecotServer
    user: MailUser
    workdir: Path
    config_text: str = ""
    env_extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.config_text:
            self.config_text = default_config(self.user, self.workdir)
        self.write_config(self.config_text)

    @property
    def config_path(self) -> Path:
        return self.workdir / "config.toml"

    @property
    def tracking(self) -> str:
        local, _, domain = self.user.address.partition("@")
        return f"{local}+followup@{domain}"

    def tracking_with(self, suffix: str) -> str:
        local, _, domain = self.user.address.partition("@")
        return f"{local}+followup-{suffix}@{domain}"

    def write_config(self, text: str) -> None:
        self.config_text = text
        self.config_path.write_text(text)
        self.config_path.chmod(0o600)

    def env(self, now: datetime | None = None, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FOLLOWUPD_") or k in SHARED_ENV}
        env[PASSWORD_ENV] = self.user.password
        env["XDG_DATA_HOME"] = str(self.workdir / "data")
        env["XDG_CONFIG_HOME"] = str(self.workdir / "xdg-config")
        if now is not None:
            env["FOLLOWUPD_NOW"] = now.isoformat()
        env.update(self.env_extra)
        env.update(extra)
        return env

    def run(self, *args: str, now: datetime | None = None, check: bool = True, timeout: float = 60,
            **extra_env: str) -> subprocess.CompletedProcess[str]:
        """``followupd --config ... ARGS`` as a subprocess; ``check`` asserts exit 0 with its output shown."""
        argv = ["--config", str(self.config_path), *args]
        if forkserver.enabled() and args[-1:] != ("run",) and "run" not in args[:3]:
            proc = forkserver.run(argv, env=self.env(now, **extra_env), timeout=timeout)
        else:  # the daemon is exec'd: its start-up is part of what the daemon tests look at
            proc = subprocess.run([*followupd_command(), *argv], env=self.env(now, **extra_env), capture_output=True,
                                  text=True, timeout=timeout)
        refuse_swallowed_bugs(proc, args)
        if check and proc.returncode != 0:
            raise AssertionError(f"followupd {' '.join(args)} exited {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def poll(self, now: datetime | None = None, **extra_env: str) -> subprocess.CompletedProcess[str]:
        env_only: dict[str, Any] = dict(extra_env)  # environment variables only, never run()'s check/timeout
        return self.run("--log-level", "info", "poll", now=now, **env_only)

    def status(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.run("status", "--json").stdout)
        return result

    def outbox(self, *flags: str) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = json.loads(self.run("outbox", "--json", *flags).stdout)
        return result

    # -------------------------------------------------------------- looking at the mailbox from outside
    def messages(self, folder: str) -> list[tuple[int, tuple[bytes, ...], Message]]:
        """Every message in ``folder`` as (uid, flags, parsed message), read with PEEK through EXAMINE."""
        with self.server.connect(self.user) as client:
            client.select_folder(folder, readonly=True)
            uids = client.search("ALL")
            if not uids:
                return []
            data = client.fetch(uids, ["FLAGS", "BODY.PEEK[]"])
        return [(uid, tuple(data[uid][b"FLAGS"]), email.message_from_bytes(data[uid][b"BODY[]"]))
                for uid in sorted(data)]

    def drafts(self) -> list[Message]:
        return [msg for _uid, _flags, msg in self.messages("Drafts")]

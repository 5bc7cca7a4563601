"""A throwaway, real Dovecot 2.3 on loopback, for tests and demo scripts.

Why a real server: the IMAP adapter's whole job is to cope with what a server actually says (APPENDUID text,
SPECIAL-USE attributes, the ``n:*`` quirk, ``\\Seen`` side effects). A fake would only echo our own beliefs.

One :class:`DovecotServer` owns a temporary directory (config, runtime sockets, state, log, maildirs, passwd
files), listens for IMAP and LMTP on free 127.0.0.1 ports, and throws everything away on :meth:`stop`. Users
are cheap: :meth:`DovecotServer.add_user` writes one more passwd-file, which Dovecot picks up on the next
login, so a whole test session shares one server while every test still gets an empty mailbox of its own.

This module must stay importable without pytest (demo scripts use it), so it raises plain exceptions;
``tests/conftest.py`` decides whether a missing Dovecot means skip or fail.

Usage::

    from dovecot import DovecotServer
    from mailfactory import make_message

    with DovecotServer() as server:
        alice = server.add_user()
        server.deliver_lmtp(alice, make_message(subject="hello"))
        with server.connect(alice) as client:
            client.select_folder("INBOX")
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import smtplib
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import TracebackType

from imapclient import IMAPClient

__all__ = ["DovecotError", "DovecotServer", "MailUser", "Snapshot"]

#: Where Debian/Ubuntu put the binary; ``FOLLOWUPD_TEST_DOVECOT`` overrides it (e.g. a locally built 2.3).
_DEFAULT_BINARIES = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot")

#: folder -> [(uid, flags without \Recent, size)], sorted by uid.
Snapshot = dict[str, list[tuple[int, tuple[bytes, ...], int]]]

_APPENDUID = re.compile(rb"\[APPENDUID (\d+) (\d+)\]", re.IGNORECASE)
_user_counter = itertools.count(1)
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


class DovecotError(RuntimeError):
    """The test server could not be started or did not behave; the message carries Dovecot's own log."""


@dataclass(frozen=True)
class MailUser:
    """Everything a client needs to reach one test mailbox; ``username`` is also its e-mail address."""

    host: str
    port: int
    username: str
    password: str = field(repr=False)
    lmtp_port: int

    @property
    def address(self) -> str:
        """The user's e-mail address (Dovecot's username is the full address here)."""
        return self.username


def _free_port(host: str) -> int:
    """Ask the kernel for a free port; the tiny race until Dovecot binds it is handled by retrying start()."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Linux: have the kernel SIGKILL dovecot if the process that started it dies without calling stop().

    Runs in the child between fork and exec. Without it a ``kill -9`` of pytest would leave a root-owned
    Dovecot listening until reboot; its own children exit when the master goes. (PR_SET_PDEATHSIG fires when
    the starting *thread* ends, so start the server from a thread that outlives it, as pytest does.)
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _find_binary() -> str | None:
    override = os.environ.get("FOLLOWUPD_TEST_DOVECOT")
    if override:
        return override if os.access(override, os.X_OK) else None
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in _DEFAULT_BINARIES:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


class DovecotServer:
    """One Dovecot master process with its own config and data, listening on loopback only.

    Root and non-root runs differ (Dovecot refuses to deliver mail as root, and its login/auth processes want
    unprivileged users): as root we use ``dovecot``/``dovenull`` for the internal and login users and
    ``nobody`` as the mail owner; as anyone else, the current user plays every role.
    """

    def __init__(self, *, host: str = "127.0.0.1", binary: str | None = None, start_timeout: float = 10.0,
                 domain: str = "example.test", extra_config: str = "") -> None:
        """``extra_config`` is appended to the generated dovecot.conf (2.3 syntax; a later setting wins), e.g.
        an OAuth2 passdb for a test that needs one."""
        self.host = host
        self.extra_config = extra_config
        self.domain = domain
        self.start_timeout = start_timeout
        self._binary = binary
        self.imap_port = 0
        self.lmtp_port = 0
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._users: set[str] = set()
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            self._mail_uid, self._mail_gid = nobody.pw_uid, nobody.pw_gid
            self._internal_user, self._login_user = "dovecot", "dovenull"
            self._internal_gid = pwd.getpwnam("dovecot").pw_gid
        else:
            me = pwd.getpwuid(os.geteuid())
            self._mail_uid, self._mail_gid = me.pw_uid, me.pw_gid
            self._internal_user = self._login_user = me.pw_name
            # Sockets for stats, dict etc. get chowned to this group; a non-root master can only use its own.
            self._internal_gid = me.pw_gid

    # -- lifecycle -------------------------------------------------------------------------------------------

    @staticmethod
    def available() -> bool:
        """True when a dovecot binary is installed (tests skip, or fail under CI, when it is not)."""
        return _find_binary() is not None

    @property
    def directory(self) -> Path:
        """The server's temporary directory (config, log, maildirs); only valid while it runs."""
        if self._dir is None:
            raise DovecotError("the Dovecot test server is not running")
        return self._dir

    @property
    def log_path(self) -> Path:
        return self.directory / "dovecot.log"

    @property
    def users_path(self) -> Path:
        """Directory of per-user passwd-files (see the comment in the generated config for why per user)."""
        return self.directory / "users"

    def start(self) -> DovecotServer:
        """Write a config, start ``dovecot -F`` and wait until both IMAP and LMTP greet; returns self.

        Ports are picked free just before the start, so another process can grab one in between: when the log
        says "Address already in use" we retry with fresh ports a couple of times.
        """
        if self._proc is not None:
            raise DovecotError("the Dovecot test server is already running")
        binary = self._binary or _find_binary()
        if binary is None:
            raise DovecotError("dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)")
        self._binary = binary
        last_error: DovecotError | None = None
        for _attempt in range(3):
            self._prepare_directory()
            try:
                self._launch()
                return self
            except DovecotError as exc:
                last_error = exc
                in_use = "Address already in use" in str(exc)
                self.stop()
                if not in_use:
                    break
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """Kill the process group (instant; SIGTERM would cost ~1 s) and delete the temp dir. Idempotent."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)
        self._users.clear()

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log_text(self) -> str:
        """Dovecot's log so far (auth failures, config errors); handy in assertion messages."""
        parts = []
        for name in ("dovecot.log", "dovecot.stderr"):
            path = self.directory / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "".join(parts)

    def _prepare_directory(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="followupd-dovecot-"))
        # mkdtemp gives 0700; the unprivileged login/auth processes must traverse it to reach base_dir sockets
        # and the passwd files.
        root.chmod(0o755)
        for sub in ("run", "state"):
            (root / sub).mkdir()
        mail = root / "mail"
        mail.mkdir(mode=0o700)
        os.chown(mail, self._mail_uid, self._mail_gid)
        # The auth process runs as the internal user and must read the passwd-files; nobody else should.
        users = root / "users"
        users.mkdir(mode=0o750)
        os.chown(users, -1, self._internal_gid)
        self._dir = root
        self.imap_port = _free_port(self.host)
        self.lmtp_port = _free_port(self.host)
        while self.lmtp_port == self.imap_port:
            self.lmtp_port = _free_port(self.host)
        (root / "dovecot.conf").write_text(self._config())

    def _config(self) -> str:
        root = self.directory
        mailboxes = "\n".join(
            f"  mailbox {name} {{\n    special_use = \\{name}\n    auto = subscribe\n  }}"
            for name in ("Drafts", "Sent", "Archive", "Trash", "Junk")
        )
        return f"""\
# Generated by tests/dovecot.py for one test run; Dovecot 2.3 syntax (2.4 rejects it).
base_dir = {root}/run
state_dir = {root}/state
instance_name = followupd-test-{root.name}
log_path = {root}/dovecot.log
protocols = imap lmtp
listen = {self.host}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Dovecot delays every failed login by 2 s by default; tests of refused logins should not pay that. (It still
# answers a failure only on its next 500 ms tick, so a refused login costs ~0.5 s.)
auth_failure_delay = 0
auth_verbose = yes
default_internal_user = {self._internal_user}
default_login_user = {self._login_user}
default_internal_group = {grp.getgrgid(self._internal_gid).gr_name}
first_valid_uid = 1
mail_location = maildir:~/Maildir
# Test data is thrown away; skip fsync for speed.
mail_fsync = never
# me+followup@... is delivered to me@... (the tracking address scheme).
recipient_delimiter = +

# One passwd-file per user: Dovecot re-stats a passwd-file at most once per second (db-passwd-file.c keeps
# last_sync_time), so a user appended to a shared file right after a login would stay unknown for up to a
# second. A path template gives each new user a file Dovecot has never opened.
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users/%u
}}
userdb {{
  driver = passwd-file
  args = {root}/users/%u
}}

namespace inbox {{
  inbox = yes
{mailboxes}
}}

service imap-login {{
  chroot =
  inet_listener imap {{
    address = {self.host}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = {self.host}
    port = {self.lmtp_port}
  }}
}}
service anvil {{
  chroot =
  # Besides auth_failure_delay, anvil's per-IP auth penalty (2, 4, 8, 15 s after each failure, applied to the
  # next attempt from the IP, successful or not) would make each refused-login test slow down the ones after.
  # 2.3 has no setting for it (login_trusted_networks did not help here); without a usable penalty socket the
  # auth process skips the check. Measured: 0.5, 4.5, 8.5 s for three failures in a row before, 0.5 s each
  # after.
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
{self.extra_config}
"""

    def _launch(self) -> None:
        assert self._binary is not None
        root = self.directory
        stderr = (root / "dovecot.stderr").open("wb")
        with stderr:
            # Own session/process group, so stop() can kill master and children in one signal.
            self._proc = subprocess.Popen(
                [self._binary, "-F", "-c", str(root / "dovecot.conf")],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + self.start_timeout
        pending = {self.imap_port: b"* OK", self.lmtp_port: b"220 "}
        while pending:
            if self._proc.poll() is not None:
                raise DovecotError(f"dovecot exited with status {self._proc.returncode} during start-up:\n"
                                   f"{self.log_text()}")
            for port, greeting in list(pending.items()):
                if self._greets(port, greeting):
                    del pending[port]
            if pending and time.monotonic() > deadline:
                raise DovecotError(f"dovecot did not answer on {self.host}:{sorted(pending)} within "
                                   f"{self.start_timeout:.0f} s:\n{self.log_text()}")
            if pending:
                time.sleep(0.02)

    def _greets(self, port: int, greeting: bytes) -> bool:
        try:
            with socket.create_connection((self.host, port), timeout=1.0) as sock:
                return sock.recv(256).startswith(greeting)
        except OSError:
            return False

    # -- users -----------------------------------------------------------------------------------------------

    def add_user(self, name: str | None = None) -> MailUser:
        """Create a fresh mailbox user and return its credentials.

        Each user gets a passwd-file of their own (``users/<name>``): Dovecot does re-read a changed
        passwd-file, but at most once per second, so appending to one shared file made a user created right
        after another user's login unknown for up to a second. A new file is read on first use: no reload, no
        restart, no sleep. Names are lower-cased because Dovecot's default ``auth_username_format = %Lu``
        lower-cases the login name before the lookup.
        """
        if name is None:
            name = f"user{next(_user_counter)}-{secrets.token_hex(3)}"
        username = (name if "@" in name else f"{name}@{self.domain}").lower()
        if not re.fullmatch(r"[a-z0-9._+-]+@[a-z0-9.-]+", username):
            raise ValueError(f"unusable test user name {username!r}")
        if username in self._users:
            raise ValueError(f"user {username!r} already exists on this server")
        password = secrets.token_urlsafe(12)
        home = self.directory / "mail" / username
        home.mkdir(mode=0o700)
        os.chown(home, self._mail_uid, self._mail_gid)
        line = f"{username}:{{PLAIN}}{password}:{self._mail_uid}:{self._mail_gid}::{home}::\n"
        # Write then rename, so the auth process never reads half a line.
        tmp = self.users_path / f".{username}.tmp"
        tmp.write_text(line)
        tmp.chmod(0o640)
        os.chown(tmp, -1, self._internal_gid)
        tmp.rename(self.users_path / username)
        self._users.add(username)
        return MailUser(self.host, self.imap_port, username, password, self.lmtp_port)

    # -- helpers for tests -----------------------------------------------------------------------------------

    def connect(self, user: MailUser) -> IMAPClient:
        """A logged-in plain-text IMAPClient for ``user``; the caller logs out (``with`` does it)."""
        client = IMAPClient(user.host, port=user.port, ssl=False, timeout=10)
        try:
            client.login(user.username, user.password)
        except Exception:
            client.shutdown()
            raise
        return client

    def append(self, user: MailUser, folder: str, raw: bytes, *, date: datetime | None = None,
               flags: Iterable[bytes] = ()) -> int:
        """APPEND ``raw`` to ``folder`` (as a mail client saving Sent would) and return the new UID."""
        with self.connect(user) as client:
            response = client.append(folder, raw, flags=tuple(flags), msg_time=date)
        match = _APPENDUID.search(response)
        if match is None:
            raise DovecotError(f"APPEND answered without APPENDUID: {response!r}")
        return int(match.group(2))

    def deliver_lmtp(self, user: MailUser, raw: bytes, *, sender: str = "sender@example.org",
                     recipients: Sequence[str] | None = None) -> None:
        """Deliver ``raw`` through LMTP, like an MTA would; it is in the INBOX when this returns.

        ``recipients`` defaults to the user's address; pass ``user+followup@...`` to exercise detail
        addresses (``recipient_delimiter = +`` files them into the same user's INBOX).
        """
        with smtplib.LMTP(user.host, user.lmtp_port, timeout=10) as lmtp:
            refused = lmtp.sendmail(sender, list(recipients or [user.address]), raw)
        if refused:
            raise DovecotError(f"LMTP refused recipients: {refused}")

    def snapshot(self, user: MailUser) -> Snapshot:
        """Every folder's (uid, flags, size), for "the code under test changed nothing" assertions.

        ``\\Recent`` is dropped: it belongs to whichever session saw the message first (RFC 3501 §2.3.2), so
        it changes merely by looking. Folders are opened with EXAMINE: taking a snapshot changes nothing.
        """
        result: Snapshot = {}
        with self.connect(user) as client:
            for attributes, _delimiter, name in client.list_folders():
                if b"\\Noselect" in attributes or b"\\NonExistent" in attributes:
                    continue
                client.select_folder(name, readonly=True)
                uids = client.search("ALL")
                fetched = client.fetch(uids, ["FLAGS", "RFC822.SIZE"]) if uids else {}
                result[name] = sorted(
                    (uid, tuple(sorted(f for f in data[b"FLAGS"] if f != b"\\Recent")), data[b"RFC822.SIZE"])
                    for uid, data in fetched.items()
                )
        return result

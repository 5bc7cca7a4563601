"""A throwaway, real Postfix on loopback that hands mail to the test Dovecot over LMTP, for delivery-trace tests.

Why a real Postfix: the trace a BCC'd tracking address leaves in the INBOX copy depends on how Postfix batches
recipients into one LMTP transaction (``lmtp_destination_recipient_limit``); a fixture would only repeat our
belief about it. One :class:`PostfixServer` owns a temporary directory (main.cf, master.cf, queue, log), runs
``master -d`` in the foreground in its own process group on a free 127.0.0.1 port, relays the Dovecot's domain
to its LMTP port, and throws everything away on :meth:`stop`. No DNS, no port 25, nothing beyond loopback.

Postfix needs root (its queue is owned by the ``postfix`` user); :meth:`available` says whether it can run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["PostfixError", "PostfixServer"]

_POSTFIX = "/usr/sbin/postfix"
_POSTCONF = "/usr/sbin/postconf"
_MASTER = "/usr/lib/postfix/sbin/master"

# The services a relay to LMTP needs, none chrooted (a chroot would need the temp dir copied into it).
_MASTER_CF = """\
{host}:{port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
lmtp      unix  -       -       n       -       -       lmtp
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixError(RuntimeError):
    """The test Postfix could not be started; the message carries its log."""


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class PostfixServer:
    """Postfix accepting SMTP on loopback and delivering ``domain`` to ``lmtp_host:lmtp_port`` over LMTP."""

    def __init__(self, *, domain: str, lmtp_port: int, lmtp_host: str = "127.0.0.1", host: str = "127.0.0.1",
                 settings: dict[str, str] | None = None, start_timeout: float = 20.0) -> None:
        self.domain = domain
        self.lmtp = f"{lmtp_host}:{lmtp_port}"
        self.host = host
        self.port = 0
        self.settings = dict(settings or {})
        self.start_timeout = start_timeout
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Installed (apt-get install postfix) and we are root, as its queue ownership requires."""
        return os.geteuid() == 0 and all(os.access(p, os.X_OK) for p in (_POSTFIX, _POSTCONF, _MASTER))

    @property
    def config_dir(self) -> Path:
        if self._dir is None:
            raise PostfixError("the Postfix test server is not running")
        return self._dir / "etc"

    def log_text(self) -> str:
        path = self.config_dir.parent / "postfix.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def _main_cf(self) -> str:
        root = self.config_dir.parent
        lines = {
            "compatibility_level": "3.6",
            "queue_directory": f"{root}/spool",
            "data_directory": f"{root}/data",
            "maillog_file": f"{root}/postfix.log",
            "maillog_file_prefixes": str(root),  # the default allows only /var and /dev/stdout
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": f"mail.{self.domain}",
            "mydomain": self.domain,
            "myorigin": "$mydomain",
            "mydestination": "",
            "inet_interfaces": self.host,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": self.domain,
            "relay_transport": f"lmtp:inet:{self.lmtp}",  # relay_domains go to Dovecot's LMTP
            "default_transport": "error:tests deliver nothing beyond loopback",
            "smtpd_relay_restrictions": "permit_mynetworks, reject",
            "local_recipient_maps": "",
            "relay_recipient_maps": "",
            "alias_maps": "",
            "alias_database": "",
            "smtp_host_lookup": "native",
            "lmtp_host_lookup": "native",
            "smtputf8_enable": "no",
            "biff": "no",
            "smtpd_banner": "$myhostname ESMTP",
            **self.settings,
        }
        return "".join(f"{key} = {value}\n" for key, value in lines.items())

    def start(self) -> PostfixServer:
        if not self.available():
            raise PostfixError("postfix is not installed (apt-get install postfix), or this is not root")
        root = Path(tempfile.mkdtemp(prefix="followupd-postfix-"))
        root.chmod(0o755)
        self._dir = root
        etc = root / "etc"
        etc.mkdir()
        (root / "spool").mkdir()  # root-owned; "postfix check" fills it
        data = root / "data"
        data.mkdir(mode=0o700)
        shutil.chown(data, "postfix")
        self.port = _free_port(self.host)
        (etc / "main.cf").write_text(self._main_cf())
        (etc / "master.cf").write_text(_MASTER_CF.format(host=self.host, port=self.port))
        env = {**os.environ, "MAIL_CONFIG": str(etc)}
        # "postfix check" creates the queue directories with the ownership Postfix insists on.
        checked = subprocess.run([_POSTFIX, "-c", str(etc), "check"], env=env, capture_output=True, text=True,
                                 timeout=60)
        if checked.returncode != 0:
            self.stop()
            raise PostfixError(f"postfix check failed: {checked.stdout}{checked.stderr}")
        self._launch()
        return self

    def _launch(self) -> None:
        """``master -d``: in the foreground, in a process group of its own, so stop() can kill it and its
        children with one signal; returns once smtpd greets."""
        root = self.config_dir.parent
        env = {**os.environ, "MAIL_CONFIG": str(self.config_dir)}
        stderr = (root / "master.stderr").open("ab")
        with stderr:
            self._proc = subprocess.Popen([_MASTER, "-c", str(self.config_dir), "-d"], env=env,
                                          stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                          start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while not self._greets():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                log = (root / "master.stderr").read_text(errors="replace") + self.log_text()
                self.stop()
                raise PostfixError(f"postfix did not answer on {self.host}:{self.port}:\n{log}")
            time.sleep(0.05)

    def _greets(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1.0) as sock:
                return sock.recv(256).startswith(b"220 ")
        except OSError:
            return False

    def reconfigure(self, **settings: str) -> None:
        """``postconf -e`` and a restart, as an administrator applies a fix. A restart rather than ``postfix
        reload``: after a reload the queue manager picks the new limits up only when it next restarts, so a
        message sent right after could still go out under the old ones. Call it with the queue empty."""
        self.settings.update(settings)
        subprocess.run([_POSTCONF, "-c", str(self.config_dir), "-e", *(f"{k}={v}" for k, v in settings.items())],
                       check=True, capture_output=True, timeout=30)
        self._kill()
        self._launch()

    def stop(self) -> None:
        """Kill the process group (master and every child) and delete the temp dir. Idempotent."""
        self._kill()
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            (self.config_dir.parent / "spool" / "pid" / "master.pid").unlink(missing_ok=True)

    def __enter__(self) -> PostfixServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

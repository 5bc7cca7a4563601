"""A throwaway, real PostgreSQL on loopback, for tests: the Debian package's binaries, a cluster in a temp dir.

Why a real server: followupd on PostgreSQL means schemas, ``search_path``, advisory locks, ``now()`` as the one
clock shared by several hosts, and row locks under concurrency. SQLite can stand in for none of them.

One :class:`PostgresServer` runs ``initdb`` into a temporary directory and starts ``postgres`` listening on a
free 127.0.0.1 port (and a unix socket inside the directory, never in /var/run), with trust authentication for
the ``postgres`` role and durability switched off (``fsync=off``: test data is thrown away). Databases are
cheap: :meth:`PostgresServer.create_database` makes a fresh one per test and returns its SQLAlchemy URL.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` OS user (the Debian
package creates it) and the processes switch to it; as anyone else they run as the current user.

This module must stay importable without pytest; ``tests/conftest.py`` decides whether a missing PostgreSQL
means skip or fail.

Usage::

    from postgres import PostgresServer

    with PostgresServer() as server:
        url = server.create_database()      # postgresql+psycopg://postgres@127.0.0.1:PORT/followupd_1_ab12cd
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg

__all__ = ["PostgresError", "PostgresServer", "find_bin_dir"]

_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_database_counter = itertools.count(1)


class PostgresError(RuntimeError):
    """The test server could not be started or did not behave; the message carries the server's own log."""


def find_bin_dir() -> Path | None:
    """The newest ``/usr/lib/postgresql/<major>/bin`` with ``initdb`` and ``postgres``;
    ``FOLLOWUPD_TEST_PGBIN`` overrides it (e.g. a locally built server)."""
    override = os.environ.get("FOLLOWUPD_TEST_PGBIN")
    candidates = [Path(override)] if override else sorted(
        (Path(p) for p in glob.glob(_BIN_GLOB)), key=lambda p: _version_key(p.parent.name), reverse=True)
    for directory in candidates:
        if all(os.access(directory / name, os.X_OK) for name in ("initdb", "postgres")):
            return directory
    return None


def _version_key(name: str) -> tuple[int, ...]:
    """"15" < "16", and "9.6" < "10" (string order would get both wrong)."""
    return tuple(int(part) for part in re.findall(r"\d+", name)) or (0,)


def _free_port(host: str) -> int:
    """Ask the kernel for a free port; the race until postgres binds it is handled by retrying start()."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _die_with_parent() -> None:
    """Linux: have the kernel send SIGQUIT (PostgreSQL's "immediate shutdown") to the postmaster if the process
    that started it dies without calling stop(): a ``kill -9`` of pytest must not leave a server running.

    Runs in the child after the switch to the ``postgres`` user (Python sets the ids before calling it), which
    matters: a credential change clears the parent-death signal. SIGQUIT rather than SIGKILL so the postmaster
    takes its backends down and releases its shared memory itself."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT)


class PostgresServer:
    """One PostgreSQL cluster and postmaster, listening on loopback only, deleted on :meth:`stop`."""

    superuser = "postgres"

    def __init__(self, *, host: str = "127.0.0.1", bin_dir: Path | None = None, start_timeout: float = 30.0) -> None:
        self.host = host
        self.port = 0
        self.start_timeout = start_timeout
        self._bin_dir = bin_dir
        self._dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        # Root may not run PostgreSQL: hand the cluster to the postgres OS user. Anyone else runs it as themself.
        self._run_as: pwd.struct_passwd | None = pwd.getpwnam("postgres") if os.geteuid() == 0 else None

    # -- lifecycle -------------------------------------------------------------------------------------------

    @staticmethod
    def available() -> bool:
        """True when the server binaries are installed (and, as root, the postgres OS user exists)."""
        if find_bin_dir() is None:
            return False
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                return False
        return True

    @property
    def directory(self) -> Path:
        if self._dir is None:
            raise PostgresError("the PostgreSQL test server is not running")
        return self._dir

    @property
    def socket_dir(self) -> Path:
        return self.directory / "run"

    @property
    def log_path(self) -> Path:
        return self.directory / "postgres.log"

    def start(self) -> PostgresServer:
        """initdb, then start postgres and wait until it accepts a login; returns self. Retries with a fresh
        port when another process grabbed the one picked."""
        if self._proc is not None:
            raise PostgresError("the PostgreSQL test server is already running")
        bin_dir = self._bin_dir or find_bin_dir()
        if bin_dir is None:
            raise PostgresError(f"PostgreSQL is not installed (no initdb/postgres in {_BIN_GLOB}); "
                                "apt-get install postgresql")
        self._bin_dir = bin_dir
        self._prepare_directory()
        last_error: PostgresError | None = None
        try:
            self._initdb()
            for _attempt in range(3):
                self.port = _free_port(self.host)
                try:
                    self._launch()
                    return self
                except PostgresError as exc:
                    last_error = exc
                    self._kill()
                    if "already in use" not in str(exc):
                        break
        except BaseException:
            self.stop()
            raise
        self.stop()
        assert last_error is not None
        raise last_error

    def stop(self) -> None:
        """SIGQUIT (immediate shutdown: milliseconds, and the shared memory is released), then delete the
        directory. Idempotent."""
        self._kill()
        directory, self._dir = self._dir, None
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def log_text(self) -> str:
        """The server's log so far (start-up errors, failed statements); handy in assertion messages."""
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def _prepare_directory(self) -> None:
        root = Path(tempfile.mkdtemp(prefix="followupd-postgres-"))
        (root / "run").mkdir()
        (root / "postgres.log").touch()
        if self._run_as is not None:
            for path in (root, root / "run", root / "postgres.log"):
                os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
        self._dir = root

    def _popen_options(self) -> dict[str, Any]:
        if self._run_as is None:
            return {}
        return {"user": self._run_as.pw_uid, "group": self._run_as.pw_gid, "extra_groups": [],
                "env": {**os.environ, "HOME": str(self.directory), "USER": "postgres", "LOGNAME": "postgres"}}

    def _initdb(self) -> None:
        assert self._bin_dir is not None
        result = subprocess.run(
            [str(self._bin_dir / "initdb"), "-D", str(self.directory / "data"), "-U", self.superuser,
             "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"],
            capture_output=True, text=True, timeout=120, cwd=self.directory, **self._popen_options())
        if result.returncode != 0:
            raise PostgresError(f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")

    def _launch(self) -> None:
        assert self._bin_dir is not None
        settings = {
            "listen_addresses": self.host,
            "port": str(self.port),
            "unix_socket_directories": str(self.socket_dir),
            # Test data is thrown away: durability costs time for nothing.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "32MB",
            "max_connections": "200",
            "logging_collector": "off",
            "log_min_messages": "warning",
        }
        args = [str(self._bin_dir / "postgres"), "-D", str(self.directory / "data")]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        with self.log_path.open("ab") as log:
            # Own session/process group, so a stuck server can still be killed whole.
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                          start_new_session=True, preexec_fn=_die_with_parent,
                                          cwd=self.directory, **self._popen_options())
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self._proc.poll() is not None:
                raise PostgresError(f"postgres exited with status {self._proc.returncode} during start-up:\n"
                                    f"{self.log_text()}")
            try:
                with self.connect():
                    return
            except psycopg.OperationalError as exc:
                if time.monotonic() > deadline:
                    raise PostgresError(f"postgres did not accept a login on {self.host}:{self.port} within "
                                        f"{self.start_timeout:.0f} s ({exc}):\n{self.log_text()}") from exc
            time.sleep(0.05)

    # -- helpers for tests -----------------------------------------------------------------------------------

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        """An autocommit connection as the superuser (CREATE DATABASE refuses to run inside a transaction)."""
        return psycopg.connect(host=self.host, port=self.port, user=self.superuser, dbname=dbname,
                               autocommit=True, connect_timeout=5)

    def url(self, dbname: str) -> str:
        """The SQLAlchemy URL followupd takes in ``[database] url``."""
        return f"postgresql+psycopg://{self.superuser}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """A brand-new empty database; returns its SQLAlchemy URL."""
        if name is None:
            name = f"followupd_{next(_database_counter)}_{secrets.token_hex(3)}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
            raise ValueError(f"unusable test database name {name!r}")
        with self.connect() as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def run_sql(self, dbname: str, sql: str) -> None:
        """Run a script of several statements (e.g. a ``pg_dump --inserts`` file, minus psql's backslash lines)."""
        with self.connect(dbname) as conn:
            conn.execute(sql)

    def dump_schema(self, dbname: str) -> str:
        """``pg_dump --schema-only``: the DDL as PostgreSQL itself sees it, for "these two schemas are the same"."""
        assert self._bin_dir is not None
        result = subprocess.run(
            [str(self._bin_dir / "pg_dump"), "--schema-only", "--no-owner", "--no-privileges", "-h", self.host,
             "-p", str(self.port), "-U", self.superuser, dbname], capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise PostgresError(f"pg_dump failed ({result.returncode}): {result.stderr}")
        # pg_dump 15.14+ brackets its output in \restrict KEY ... \unrestrict KEY with a random key.
        return "\n".join(line for line in result.stdout.splitlines() if not line.startswith(("\\", "--")))

    def drop_database(self, name: str) -> None:
        with self.connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

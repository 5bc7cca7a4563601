"""Run the ``followupd`` command for the tests in a fresh process forked from one that has already imported it.

Why: the end-to-end tests start the real command thousands of times, and most of each start was Python
importing followupd, SQLAlchemy, Jinja and the rest (the suite is CPU-bound on two cores: the processes, not the
test code, fill them). A fork of a process that has done those imports starts in milliseconds. What runs is
still the real command in a process of its own: its own pid, environment, working directory, stdin/stdout/stderr
and exit status; ``kill -9`` and the crash points kill that process alone, and a signal shows as a negative exit
code, as with ``subprocess``. Nothing of followupd has run in the parent (only imports), so no state is shared.

Differences from ``exec`` that matter, and how they are handled: the environment is replaced in the child
(``os.environ`` and ``time.tzset()``), the random generator is reseeded, ``atexit`` handlers run before the child
exits, the first bytes of the parent's buffers are never inherited (it writes nothing). The daemon tests, the
fault suite's timed kills and the start-up tests still ``exec`` the command (they measure or race the start).

``FOLLOWUPD_TEST_FORKSERVER=0`` turns it off: every command is then exec'd as before.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: What the parent imports before it forks: everything the commands the tests run load anyway.
PRELOAD = ("followupd.cli.groups", "followupd.cli.root", "followupd.cli.threads", "followupd.cli.outbox",
           "followupd.cli.items", "followupd.cli.stats", "followupd.cli.digest", "followupd.cli.db",
           "followupd.cli.templates",
           "followupd.runtime.app", "followupd.engine.cycle", "followupd.adapters.imap", "followupd.adapters.smtp",
           "followupd.adapters.store", "followupd.compose.checks", "followupd.compose.library",
           "sqlalchemy.dialects.sqlite")

_server: tuple[subprocess.Popen[bytes], str] | None = None
_lock = threading.Lock()


def enabled() -> bool:
    return os.environ.get("FOLLOWUPD_TEST_FORKSERVER", "1") != "0" and hasattr(socket, "send_fds")


# ---------------------------------------------------------------------------------------------------- client


def run(args: list[str], *, env: dict[str, str], timeout: float, cwd: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    """Like ``subprocess.run(["followupd", *args], env=env, capture_output=True, text=True, timeout=timeout)``."""
    path = _socket_path()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    stdin = os.open(os.devnull, os.O_RDONLY)
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.connect(path)
        payload = json.dumps({"args": args, "env": env, "cwd": cwd or os.getcwd()}).encode()
        socket.send_fds(conn, [len(payload).to_bytes(8, "big") + payload], [stdin, out_w, err_w])
    finally:
        for fd in (stdin, out_w, err_w):
            os.close(fd)
    reader = conn.makefile("rb")
    pid = int(reader.readline() or b"0")
    deadline = time.monotonic() + timeout
    try:
        out, err = _read_both(out_r, err_r, deadline)
    except subprocess.TimeoutExpired:
        if pid:
            os.kill(pid, signal.SIGKILL)
        raise subprocess.TimeoutExpired(["followupd", *args], timeout) from None
    finally:
        os.close(out_r)
        os.close(err_r)
    line = reader.readline()
    conn.close()
    if not line:
        raise RuntimeError(f"the fork server lost followupd {' '.join(args)} (pid {pid})")
    return subprocess.CompletedProcess(["followupd", *args], int(line), out.decode(errors="replace"),
                                       err.decode(errors="replace"))


def _read_both(out_fd: int, err_fd: int, deadline: float) -> tuple[bytes, bytes]:
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    selector = selectors.DefaultSelector()
    for fd in chunks:
        selector.register(fd, selectors.EVENT_READ)
    open_fds = set(chunks)
    while open_fds:
        left = deadline - time.monotonic()
        if left <= 0:
            raise subprocess.TimeoutExpired("followupd", 0)
        for key, _ in selector.select(timeout=left):
            fd = int(key.fd)
            data = os.read(fd, 65536)
            if data:
                chunks[fd].append(data)
            else:
                selector.unregister(fd)
                open_fds.discard(fd)
    selector.close()
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def _socket_path() -> str:
    """The server of this test process, started on first use (each xdist worker has its own)."""
    global _server
    with _lock:
        if _server is not None and _server[0].poll() is None:
            return _server[1]
        folder = tempfile.mkdtemp(prefix="followupd-forkserver-")
        path = str(Path(folder) / "socket")
        proc = subprocess.Popen([sys.executable, __file__, path, str(os.getpid())], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError("the followupd fork server did not start")
        atexit.register(_stop, proc, folder)
        _server = (proc, path)
        return path


def _stop(proc: subprocess.Popen[bytes], folder: str) -> None:
    """Stop the server and remove its socket folder, so test runs leave nothing behind in /tmp."""
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------- server


def serve(path: str, parent: int) -> None:
    for module in PRELOAD:
        __import__(module)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    waiting: dict[int, socket.socket] = {}
    while os.getppid() == parent:
        for _key, _ in selector.select(timeout=0.005 if waiting else 0.5):
            conn, _ = listener.accept()
            request, fds = _receive(conn)
            pid = os.fork()
            if pid == 0:
                selector.close()
                listener.close()
                _child(conn, request, fds)
            for fd in fds:
                os.close(fd)
            waiting[pid] = conn
            _tell(conn, pid)
        while waiting:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break
            done = waiting.pop(pid, None)
            if done is not None:
                _tell(done, os.waitstatus_to_exitcode(status))
                done.close()


def _tell(conn: socket.socket, number: int) -> None:
    """A line to the test; one that gave up (a timeout) has closed its end, which is no reason to stop serving."""
    with contextlib.suppress(OSError):
        conn.sendall(f"{number}\n".encode())


def _receive(conn: socket.socket) -> tuple[dict[str, Any], list[int]]:
    data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, 3)
    size = int.from_bytes(data[:8], "big")
    body = data[8:]
    while len(body) < size:
        more = conn.recv(size - len(body))
        if not more:
            break
        body += more
    return json.loads(body), list(fds)


def _child(conn: socket.socket, request: dict[str, Any], fds: list[int]) -> None:
    """The forked command: its own environment, directory and standard streams, then ``followupd ARGS``."""
    code = 1
    try:
        conn.close()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        os.environ.clear()
        os.environ.update(request["env"])
        time.tzset()
        os.chdir(request["cwd"])
        import random

        random.seed()
        sys.argv = ["followupd", *request["args"]]
        from followupd.cli.groups import main

        try:
            main(args=request["args"], prog_name="followupd")
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                sys.stderr.write(f"{exc.code}\n")
                code = 1
        except BaseException:  # what an uncaught exception does to a real interpreter
            import traceback

            traceback.print_exc()
            code = 1
        atexit._run_exitfuncs()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))

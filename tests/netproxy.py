"""A loopback TCP proxy for tests: forwards bytes both ways, counts connections, and breaks them on request.

Why a proxy and not a fake server: the interesting failures (a connection cut half-way through a FETCH
response, an APPEND whose literal never fully arrives, a server that stores the APPEND but whose "OK" never
reaches the client, a server that stops answering) happen between two real programs. Putting this in the
middle lets the real followupd talk to the real Dovecot and still lose the connection at an exact byte.

A :class:`Fault` says *when* (a byte pattern seen in one direction, e.g. ``b"APPEND "`` sent by the client)
and *what* (``cut``: both sockets closed at once; ``stall``: that direction stops moving until
:meth:`LoopbackProxy.release`), after letting ``after`` more bytes through in the direction it acts on.
Patterns are plain bytes, matched across chunk boundaries; IMAP clients send commands in upper case.

    with LoopbackProxy("127.0.0.1", dovecot.imap_port) as proxy:
        proxy.add_fault(Fault(b"BODY.PEEK[HEADER", acts_on="server", after=700))  # cut mid-FETCH response
        ... point the client at proxy.port ...
        assert proxy.faults_fired == 1

This module has no pytest dependency; the counters are for test output and for the benchmarks.
"""

from __future__ import annotations

import contextlib
import re
import socket
import struct
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

__all__ = ["Fault", "LoopbackProxy"]

Side = Literal["client", "server"]
Action = Literal["cut", "stall"]

_CHUNK = 65536
# An IMAP command line as a client sends it: "<tag> [UID ]<COMMAND>" at the start of a line.
_COMMAND = re.compile(rb"(?:^|\r\n)[A-Za-z0-9.]+ ((?:UID )?[A-Z]+)")
#: A client's request for whole messages: ``UID FETCH 4,7:9 (... BODY.PEEK[] ...)``; the UID set says how many.
_BODY_FETCH = re.compile(rb"UID FETCH ([\d:,]+) \([^)\r\n]*BODY\.PEEK\[\]")


@dataclass
class Fault:
    """One planned failure.

    ``pattern`` is looked for in the bytes that ``seen_from`` sends. Once found (after ``skip`` earlier
    matches were let pass), the direction ``acts_on`` (the bytes *that* side sends) lets ``after`` more bytes
    through, then ``action`` happens. When both sides are the same, ``after`` counts from the first byte of
    the match (``after=0``: the matched bytes never arrive). ``times`` faults of this kind fire in total, each
    on a different connection.
    """

    pattern: bytes
    seen_from: Side = "client"
    acts_on: Side = "server"
    after: int = 0
    action: Action = "cut"
    skip: int = 0
    times: int = 1
    fired: int = field(default=0, init=False)
    _seen: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if not self.pattern:
            raise ValueError("a fault needs a non-empty pattern")
        if self.after < 0 or self.skip < 0 or self.times < 1:
            raise ValueError("after and skip must be >= 0, times >= 1")


class _Connection:
    """One client connection and its upstream twin, plus the pending fault per direction."""

    def __init__(self, proxy: LoopbackProxy, client: socket.socket, server: socket.socket, number: int) -> None:
        self.proxy = proxy
        self.sockets: dict[Side, socket.socket] = {"client": client, "server": server}
        self.number = number
        self.lock = threading.Lock()
        # Per sending side: (bytes still allowed through, fault) once a fault is armed on that direction.
        self.armed: dict[Side, tuple[int, Fault] | None] = {"client": None, "server": None}
        self.tails: dict[Side, bytes] = {"client": b"", "server": b""}
        self.closed = False

    def start(self) -> None:
        for side in ("client", "server"):
            threading.Thread(target=self._pump, args=(side,), daemon=True,
                             name=f"netproxy-{self.number}-{side}").start()

    def cut(self) -> None:
        """Close both sockets at once, with a reset (SO_LINGER 0), as a crashing server or network would."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
        for sock in self.sockets.values():
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # shutdown() wakes the other pump thread blocked in recv(); close() alone would not, on Linux.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _pump(self, side: Side) -> None:
        """Move what ``side`` sends to the other side, applying faults; ends on EOF, error or cut."""
        source = self.sockets[side]
        target = self.sockets["server" if side == "client" else "client"]
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    with contextlib.suppress(OSError):
                        target.shutdown(socket.SHUT_WR)  # pass the half-close on
                    return
                self.proxy._count(side, data)
                self._arm_from(side, data)
                if not self._forward(side, target, data):
                    return
        except OSError:
            self.cut()
        finally:
            if side == "server":
                self.proxy._forget(self)

    def _arm_from(self, side: Side, data: bytes) -> None:
        """Look for fault patterns in what ``side`` sends; arm the direction the fault acts on."""
        window = self.tails[side] + data
        for fault in self.proxy._faults_for(side):
            for match in re.finditer(re.escape(fault.pattern), window):
                if match.end() <= len(self.tails[side]):
                    continue  # matched entirely inside bytes already looked at
                with self.proxy._lock:
                    if fault.fired >= fault.times:
                        break
                    fault._seen += 1
                    if fault._seen <= fault.skip:
                        continue
                    fault.fired += 1
                    self.proxy.faults_fired += 1
                if fault.acts_on == side:
                    start_in_data = max(0, match.start() - len(self.tails[side]))
                    budget = start_in_data + fault.after
                else:
                    budget = fault.after
                with self.lock:
                    self.armed[fault.acts_on] = (budget, fault)
                break
        keep = max((len(f.pattern) for f in self.proxy.faults), default=1) - 1
        self.tails[side] = window[-keep:] if keep else b""

    def _forward(self, side: Side, target: socket.socket, data: bytes) -> bool:
        """Send ``data`` on, stopping at an armed fault; False when the connection is finished."""
        with self.lock:
            armed = self.armed[side]
        if armed is None:
            target.sendall(data)
            return True
        budget, fault = armed
        if budget > len(data):
            target.sendall(data)
            with self.lock:
                self.armed[side] = (budget - len(data), fault)
            return True
        if budget:
            target.sendall(data[:budget])
        with self.lock:
            self.armed[side] = None
        if fault.action == "cut":
            self.cut()
            return False
        # stall: nothing moves in this direction until the test releases it (or gives up waiting)
        self.proxy.stalled.set()
        self.proxy._released.wait(timeout=self.proxy.stall_timeout)
        rest = data[budget:]
        if rest:
            target.sendall(rest)
        return True


class LoopbackProxy:
    """Listens on 127.0.0.1 (a free port), forwards each connection to ``upstream``; see the module docstring."""

    def __init__(self, upstream_host: str, upstream_port: int, *, stall_timeout: float = 60.0) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.stall_timeout = stall_timeout
        self.faults: list[Fault] = []
        self.connections = 0          # accepted so far
        self.faults_fired = 0
        self.bytes_from: dict[Side, int] = {"client": 0, "server": 0}
        self.commands: dict[str, int] = {}  # IMAP command name -> how many times a client sent it
        self.bodies = 0                     # whole messages (BODY.PEEK[]) a client asked for, counted by UID
        self.body_fetches = 0               # the commands that asked for them
        self.stalled = threading.Event()
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._live: set[_Connection] = set()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, daemon=True, name="netproxy-accept")
        self._running = False

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> LoopbackProxy:
        self._running = True
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop accepting, cut every live connection and release any stall. Idempotent."""
        self._running = False
        self._released.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            live = list(self._live)
        for conn in live:
            conn.cut()

    def __enter__(self) -> LoopbackProxy:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- control -----------------------------------------------------------------------------------------------

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Forget faults that have not fired yet (those that did are still counted in faults_fired)."""
        with self._lock:
            self.faults.clear()

    def release(self) -> None:
        """Let stalled directions move again (a dead upstream then shows up as EOF to the client)."""
        self._released.set()

    def rearm_stall(self) -> None:
        """Make the next stall wait again (after a release)."""
        self.stalled.clear()
        self._released.clear()

    def cut_all(self) -> None:
        """Cut every live connection now: what a network outage or a server crash looks like to clients."""
        with self._lock:
            live = list(self._live)
        for conn in live:
            conn.cut()

    @property
    def live_connections(self) -> int:
        with self._lock:
            return len(self._live)

    # -- internals ---------------------------------------------------------------------------------------------

    def _faults_for(self, side: Side) -> list[Fault]:
        with self._lock:
            return [f for f in self.faults if f.seen_from == side and f.fired < f.times]

    def _count(self, side: Side, data: bytes) -> None:
        with self._lock:
            self.bytes_from[side] += len(data)
            if side == "client":
                for match in _COMMAND.finditer(data):
                    name = match.group(1).decode("ascii")
                    self.commands[name] = self.commands.get(name, 0) + 1
                for uid_set in _BODY_FETCH.findall(data):
                    self.body_fetches += 1
                    for part in uid_set.split(b","):
                        first, _, last = part.partition(b":")
                        self.bodies += int(last) - int(first) + 1 if last else 1

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._live.discard(conn)

    def _accept_loop(self) -> None:
        while self._running:
            try:
                client, _addr = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=10)
                server.settimeout(None)
            except OSError:
                # Upstream down (a server restart in progress): the client sees the refusal as a closed socket.
                with contextlib.suppress(OSError):
                    client.close()
                with self._lock:
                    self.connections += 1
                continue
            with self._lock:
                self.connections += 1
                conn = _Connection(self, client, server, self.connections)
                self._live.add(conn)
            conn.start()

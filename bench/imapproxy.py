"""A loopback IMAP proxy that counts the commands a client sends, for the benchmarks (not for tests).

Why a proxy and not imapclient's logging: the benchmark runs the real ``followupd`` command as a subprocess, and
counts must come from the wire, whatever library or code path sent them. Why a separate process: the bench times
an in-process baseline while the proxy forwards; sharing one interpreter (and its GIL) would slow the baseline and
flatter followupd's ratio.

It forwards bytes unchanged in both directions. The client-to-server stream is also parsed just enough to find
command lines (RFC 3501 §2.2.1: ``tag SP command [SP args] CRLF``), skipping literals (``{n}`` / ``{n+}``, §4.3),
so an APPENDed message body is never mistaken for commands. Continuation lines that are not commands (IDLE's
``DONE``, AUTHENTICATE responses) have no space-separated tag and command, and are not counted.

Each command becomes one JSON line in the log file: connection number, monotonic time, tag, command name
(``UID FETCH`` for UID commands), the folder it names (SELECT/EXAMINE/STATUS/APPEND/...) or the folder selected
at the time, and the arguments cut to 160 characters. Arguments of LOGIN and AUTHENTICATE are never written.

    python bench/imapproxy.py --upstream 127.0.0.1:1143 --log /tmp/commands.jsonl
    # prints "LISTENING <port>" on stdout once it accepts connections; stop it with SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import IO

_LITERAL = re.compile(rb"\{(\d+)\+?\}$")
_COMMAND = re.compile(rb"^(\S+) ([A-Za-z][A-Za-z0-9-]*)(?: (.*))?$", re.DOTALL)
_SECRET_COMMANDS = {"LOGIN", "AUTHENTICATE"}
_FOLDER_COMMANDS = {"SELECT", "EXAMINE", "STATUS", "APPEND", "CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"}
_ARG_LIMIT = 160
_BUFFER = 256 * 1024
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)


class CommandLog:
    """Appends one JSON line per command; shared by all connections, so writes are serialised."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write(self, record: dict[str, object]) -> None:
        line = json.dumps(record, separators=(",", ":"))
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


def _first_word(text: str) -> str:
    """The first IMAP string of ``text``: a quoted string (unescaped) or an atom."""
    text = text.strip()
    if text.startswith('"'):
        out = []
        escaped = False
        for ch in text[1:]:
            if escaped:
                out.append(ch)
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                break
            else:
                out.append(ch)
        return "".join(out)
    return text.split(" ", 1)[0]


class CommandParser:
    """Feed it the client's bytes in whatever chunks they arrive; it calls ``on_command`` once per command."""

    def __init__(self, conn_id: int, log: CommandLog) -> None:
        self.conn_id = conn_id
        self.log = log
        self._buffer = bytearray()
        self._literal_left = 0
        self._line = bytearray()  # the current command's text so far, literals replaced by "{n}"
        self.selected = ""

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if self._literal_left:
                take = min(self._literal_left, len(view))
                self._literal_left -= take
                view = view[take:]
                continue
            self._buffer += view
            view = memoryview(b"")
            while not self._literal_left:
                end = self._buffer.find(b"\r\n")
                if end < 0:
                    break
                piece = bytes(self._buffer[:end])
                del self._buffer[:end + 2]
                self._line += piece
                literal = _LITERAL.search(piece)
                if literal:
                    self._literal_left = int(literal.group(1))
                    # Whatever followed the line in this chunk belongs to the literal first.
                    rest = bytes(self._buffer)
                    self._buffer.clear()
                    take = min(self._literal_left, len(rest))
                    self._literal_left -= take
                    self._buffer += rest[take:]
                    continue
                self._finish(bytes(self._line))
                self._line.clear()

    def _finish(self, line: bytes) -> None:
        match = _COMMAND.match(line)
        if match is None:
            return  # DONE after IDLE, an AUTHENTICATE response line, or noise: not a command
        tag = match.group(1).decode("ascii", "replace")
        name = match.group(2).decode("ascii", "replace").upper()
        args = (match.group(3) or b"").decode("utf-8", "replace")
        if name == "UID" and args:
            sub, _, args = args.partition(" ")
            name = f"UID {sub.upper()}"
        folder = self.selected
        if name in _FOLDER_COMMANDS:
            folder = _first_word(args)
            if name in ("SELECT", "EXAMINE"):
                self.selected = folder
        elif name in ("CLOSE", "UNSELECT", "LOGOUT"):
            self.selected = ""
        if name in _SECRET_COMMANDS:
            args = "***"
        self.log.write({"conn": self.conn_id, "t": round(time.monotonic(), 6), "tag": tag, "cmd": name,
                        "folder": folder, "args": args[:_ARG_LIMIT]})


def _pump(source: socket.socket, sink: socket.socket, parser: CommandParser | None) -> None:
    buffer = bytearray(_BUFFER)
    view = memoryview(buffer)
    try:
        while True:
            n = source.recv_into(buffer)
            if n == 0:
                break
            if parser is not None:
                parser.feed(bytes(view[:n]))
            sink.sendall(view[:n])
            if _QUICKACK is not None:
                # ACK at once, as the server would: a client with Nagle's algorithm on (imaplib) holds the
                # CRLF after an APPEND literal until its literal is acknowledged, and a proxy that delays its
                # ACK (Linux: up to 40 ms) would add that to every APPEND. Linux resets the flag: set it each time.
                with contextlib.suppress(OSError):
                    source.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
    except OSError:
        pass
    finally:
        for sock in (sink, source):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


def _serve(client: socket.socket, upstream: tuple[str, int], conn_id: int, log: CommandLog) -> None:
    try:
        server = socket.create_connection(upstream, timeout=10)
    except OSError:
        client.close()
        return
    server.settimeout(None)
    for sock in (client, server):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    down = threading.Thread(target=_pump, args=(server, client, None), daemon=True)
    down.start()
    _pump(client, server, CommandParser(conn_id, log))
    down.join()
    client.close()
    server.close()


def serve_forever(listener: socket.socket, upstream: tuple[str, int], log: CommandLog) -> None:
    counter = itertools.count(1)
    while True:
        client, _addr = listener.accept()
        threading.Thread(target=_serve, args=(client, upstream, next(counter), log), daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upstream", required=True, help="host:port of the IMAP server (loopback)")
    parser.add_argument("--listen", default="127.0.0.1:0", help="host:port to listen on (default: a free port)")
    parser.add_argument("--log", required=True, type=Path, help="file to append one JSON line per command to")
    args = parser.parse_args(argv)
    up_host, _, up_port = args.upstream.rpartition(":")
    host, _, port = args.listen.rpartition(":")
    if not (host.startswith("127.") or host in ("localhost", "::1")) or \
            not (up_host.startswith("127.") or up_host in ("localhost", "::1")):
        parser.error("the benchmark proxy only listens on and connects to loopback addresses")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    listener = socket.create_server((host, int(port)))
    with args.log.open("a", encoding="utf-8") as stream:
        print(f"LISTENING {listener.getsockname()[1]}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            serve_forever(listener, (up_host, int(up_port)), CommandLog(stream))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, and can misbehave on request.

``mode`` decides how it answers DATA: "accept", "reject" (550), "defer" (451), or "drop" (close the connection
after reading the message, without answering: the "did it go through?" case). ``on_accept`` lets a test act like
Gmail, which files an accepted message in the sender's Sent folder itself.
"""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


def free_port() -> int:
    # aiosmtpd's port=0 is broken (aiosmtpd#388): pick a free port ourselves.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.data)


@dataclass
class SinkHandler:
    mode: str = "accept"
    received: list[Received] = field(default_factory=list)
    on_accept: Callable[[bytes], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        if self.mode == "reject":
            return "550 5.7.1 Message rejected: recipient does not accept mail from you"
        if self.mode == "defer":
            return "451 4.3.0 Temporary local problem, try again later"
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], data))
        if self.on_accept is not None:
            self.on_accept(data)
        if self.mode == "drop":
            transport: Any = session.transport
            transport.close()  # accepted, but the client never hears so
            return "250 never seen"
        return "250 2.0.0 Ok: queued"


class SmtpSink:
    def __init__(self) -> None:
        self.handler = SinkHandler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

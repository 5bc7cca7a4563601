"""``outbox show`` for a waiting draft: what is in Drafts now, and whether the user changed it.

Why read the server: once a draft is in Drafts it is the user's text. They may edit it in their mail client
(re-saving replaces it with a new message, often without our custom header), and then the copy followupd kept
of what it rendered is no longer what Bob would get. Reading is header-only to find the draft (the same
:class:`~followupd.engine.drafts.DraftsIndex` the cycle uses) and ``BODY.PEEK[]`` for the one message, in a folder
opened read-only: looking never changes the mailbox.
"""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass
from email.message import EmailMessage, Message
from typing import Protocol

from followupd.adapters import store as st
from followupd.engine.drafts import DraftsIndex, DraftsPort


class DraftReader(DraftsPort, Protocol):
    """What reading the current draft needs from the IMAP adapter."""

    def fetch_full(self, folder: str, uid: int) -> bytes | None: ...


@dataclass(frozen=True)
class CurrentDraft:
    """The draft as it is in Drafts now (``raw`` None: no draft of this follow-up is there any more)."""

    raw: bytes | None
    edited: bool


def read_current(mailbox: DraftReader, folder: str, touch: st.Touch) -> CurrentDraft:
    """Find ``touch``'s draft in ``folder`` (our marker, our Message-ID, or any draft replying to the thread,
    newest first, as the cycle does) and compare it with what followupd rendered."""
    uid = DraftsIndex.read(mailbox, folder).find(touch)
    raw = mailbox.fetch_full(folder, uid) if uid is not None else None
    if raw is None:
        return CurrentDraft(None, edited=False)
    return CurrentDraft(raw, edited=is_edited(touch.raw or b"", raw))


def _text(message: Message) -> str:
    body = message.get_body(("plain",)) if isinstance(message, EmailMessage) else None
    if body is not None:
        content = body.get_content()
        return str(content)
    payload = message.get_payload(decode=True)
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _comparable(raw: bytes) -> tuple[str, ...]:
    """What the recipient would see: subject, recipients and the text, with line endings and trailing spaces
    evened out (a client re-saving a draft re-encodes and re-folds it without the user changing a word)."""
    message = email.message_from_bytes(raw, policy=email.policy.default)
    lines = [line.rstrip() for line in _text(message).replace("\r\n", "\n").strip().split("\n")]
    heads = [" ".join(str(message.get(name, "")).split()) for name in ("Subject", "To", "Cc")]
    return (*heads, "\n".join(lines))


def is_edited(rendered: bytes, current: bytes) -> bool:
    """True when the draft in Drafts differs from what followupd rendered in anything a recipient would see."""
    return _comparable(rendered) != _comparable(current)

"""What a forward says about the message it forwards: its Message-ID, or else the header block a client shows.

Forward formats in the wild (issue 15, commands by mail):

- as an attachment (Outlook "Forward as Attachment", Apple Mail "Forward as Attachment", Thunderbird's
  default in some setups): a ``message/rfc822`` part whose own headers carry the original ``Message-ID``;
- inline, with the original's header block in the text. Gmail ("---------- Forwarded message ---------",
  From/Date/Subject/To), Outlook ("From:/Sent:/To:/Subject:") and Apple Mail ("Begin forwarded message:",
  From/Subject/Date/To) show NO Message-ID; some clients (Thunderbird, mutt) do show one.

So this module returns both: the forwarded Message-IDs it can see, and the inline header blocks (sender,
subject, recipients) for the caller's narrower fallback by subject and recipients. The MIME tree is read
with the stdlib parser (a library for a known format); only the inline block, which is no standard format but
each client's own text, is read by hand, line by line.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from email.utils import getaddresses

from followupd.mail import internal_errors
from followupd.mail.bodytext import readable_text
from followupd.mail.patterns import lazy_pattern

logger = logging.getLogger(__name__)

__all__ = ["Forwarded", "ForwardedBlock", "read_forwarded"]

_MESSAGE_ID = lazy_pattern(r"<[^<>\s]+@[^<>\s]+>")
# One line of an inline header block: "From: ...", "*Subject:* ...", "> To: ...", with the labels every client
# named above uses in English (a translated label simply finds nothing, and the command becomes a problem).
_FIELD_LINE = lazy_pattern(r"^[>\s*]*(from|sent|date|to|cc|subject|message-id)\s*:\**\s*(.*)$", re.IGNORECASE)
_MAX_PARTS = 50


@dataclass(frozen=True)
class ForwardedBlock:
    """An inline forward's header block, as far as it shows one."""

    sender: str               # the bare address of its From line ("" when it shows none)
    subject: str
    recipients: tuple[str, ...]  # bare addresses of its To and Cc lines


@dataclass(frozen=True)
class Forwarded:
    """Message-IDs of forwarded messages (attachments first, then inline blocks), and the inline blocks."""

    message_ids: tuple[str, ...]
    blocks: tuple[ForwardedBlock, ...]


def read_forwarded(raw: bytes | None) -> Forwarded:
    """What the message forwards; empty when nothing is forwarded or the message cannot be read. Never raises:
    mail is hostile, and a command that cannot be tied to a thread becomes a problem, not a crash."""
    if not raw:
        return Forwarded((), ())
    try:
        message = BytesParser(policy=compat32).parsebytes(bytes(raw))
        ids = list(_attached_ids(message))
    except Exception as exc:  # last resort: hostile mail must not stop a cycle, and the bug must not hide
        internal_errors.record("forwarded", exc, logger=logger,
                               doing="reading the messages a message forwards; none are used")
        ids = []
    blocks = _inline_blocks(readable_text(raw))
    for block_ids in (b[1] for b in blocks):
        ids.extend(i for i in block_ids if i not in ids)
    return Forwarded(tuple(dict.fromkeys(ids)), tuple(b[0] for b in blocks))


def _attached_ids(message: Message) -> list[str]:
    """The Message-ID of every ``message/rfc822`` part (its first-level headers), in order."""
    found: list[str] = []
    for count, part in enumerate(message.walk()):
        if count > _MAX_PARTS:
            break
        if part.get_content_type() != "message/rfc822":
            continue
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        if isinstance(inner, Message):
            match = _MESSAGE_ID.search(str(inner.get("Message-ID", "")))
            if match:
                found.append(match.group(0))
    return found


def _inline_blocks(text: str) -> list[tuple[ForwardedBlock, list[str]]]:
    """Each run of header-like lines that names at least a From and a Subject, with the ids it shows."""
    blocks: list[tuple[ForwardedBlock, list[str]]] = []
    fields: dict[str, str] = {}

    def close() -> None:
        if "from" in fields and "subject" in fields:
            sender = getaddresses([fields["from"]])
            recipients = [addr.lower() for _name, addr in getaddresses([fields.get("to", ""), fields.get("cc", "")])
                          if "@" in addr]
            ids = _MESSAGE_ID.findall(fields.get("message-id", ""))
            blocks.append((ForwardedBlock(sender=sender[0][1].lower() if sender else "",
                                          subject=fields["subject"].strip(), recipients=tuple(recipients)), ids))
        fields.clear()

    for line in text.splitlines():
        match = _FIELD_LINE.match(line)
        if match:
            name = match.group(1).lower()
            if name in fields:  # a second From: a new block begins
                close()
            fields[name] = match.group(2).strip()
        elif fields and line.strip():
            close()
    close()
    return blocks

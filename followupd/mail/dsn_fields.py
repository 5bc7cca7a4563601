"""The vocabulary of RFC 3464 delivery reports (recipient blocks, actions, RFC 3463 status codes) and the
headers of the returned original.

Shared by the structured reader (dsn.py) and the text-bounce readers (dsn_text.py): a status code found in an
Exim transcript means what it means in a ``message/delivery-status`` part, and both name the original the
same way.
"""

from __future__ import annotations

import base64
import binascii
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from typing import Literal

from followupd.mail.bodytext import decode_bytes, decode_payload
from followupd.mail.headers import MessageMeta, extract_message_ids, parse_headers
from followupd.mail.patterns import lazy_pattern

Action = Literal["failed", "delayed", "delivered", "relayed", "expanded"]
_ACTIONS: tuple[Action, ...] = ("failed", "delayed", "delivered", "relayed", "expanded")

#: Longest diagnostic kept (a remote server may return kilobytes).
_MAX_DIAGNOSTIC = 500
#: At most this many recipients per report (a hostile one could list millions).
MAX_RECIPIENTS = 500
#: Only the start of a text bounce is searched for recipients; the returned message follows it.
MAX_TEXT = 200_000


@dataclass(frozen=True)
class RecipientStatus:
    """What happened to one recipient."""

    address: str       # lower-case, no "rfc822;" and no angle brackets
    action: Action
    status: str        # RFC 3463 "5.1.1"; inferred from the diagnostic in text bounces ("5.0.0" if unknown)
    diagnostic: str    # the remote server's words, whitespace squeezed, at most 500 characters
    permanent: bool    # action "failed": the MTA gave up (a 4.x.x it stopped retrying is as final as a 5.x.x)


STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
ORIGINAL_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers",
                   "message/rfc822-headers", "text/rfc822-header")


def _part_text(part: Message) -> str:
    """The text of a status part, whichever way the parser split it, transfer encoding undone."""
    payload = part.get_payload()
    if isinstance(payload, list):  # compat32 parses message/delivery-status into one Message per block
        blocks = []
        for block in payload:
            if not isinstance(block, Message):
                continue
            lines = [f"{name}: {value}" for name, value in block.raw_items()]
            body = block.get_payload()
            if isinstance(body, str) and body.strip():
                lines.append(body)
            blocks.append("\n".join(lines))
        text = "\n\n".join(blocks)
    elif isinstance(payload, str):
        text = payload
    else:
        return ""
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    data = text.encode("utf-8", "surrogateescape")
    if encoding == "base64":
        try:
            data = base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", data) + b"==", validate=False)
        except (binascii.Error, ValueError):
            return ""
    elif encoding == "quoted-printable":
        data = quopri.decodestring(data)
    return decode_bytes(data, "utf-8")


def status_blocks(part: Message) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Per-message fields and per-recipient blocks (RFC 3464 §2.1) of a status part."""
    return field_blocks(_part_text(part))


def field_blocks(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Per-message fields and per-recipient blocks, names lower-cased, first value wins.

    Blocks end at a blank line, and also where a recipient's fields start again without one (Courier, some
    appliances run the blocks together: "Final-Recipient" after a block that already has one)."""
    blocks: list[dict[str, str]] = []
    for chunk in re.split(r"\n[ \t]*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        fields: dict[str, str] = {}
        name = ""
        for line in chunk.split("\n"):
            if line[:1] in (" ", "\t") and name:
                fields[name] += " " + line.strip()
                continue
            key, sep, value = line.partition(":")
            if sep and key.strip() and " " not in key.strip():
                name = key.strip().lower()
                if name in _RECIPIENT_FIELDS and "final-recipient" in fields and (
                        name == "final-recipient" or "original-recipient" in fields):
                    blocks.append(fields)  # the next recipient's block, with no blank line before it
                    fields = {}
                if name in fields:
                    name = f"{name}#"  # a repeat: kept apart, never used
                fields[name] = value.strip()
        if fields:
            blocks.append(fields)
    if not blocks:
        return {}, []
    if any(k in blocks[0] for k in _RECIPIENT_FIELDS):
        return {}, blocks  # no per-message block (seen from broken MTAs)
    return blocks[0], blocks[1:]


_RECIPIENT_FIELDS = ("final-recipient", "original-recipient")


def read_recipient(fields: dict[str, str]) -> RecipientStatus | None:
    address = bare_address(fields.get("final-recipient", "")) or bare_address(fields.get("original-recipient", ""))
    if not address:
        return None
    diagnostic = squeeze_diagnostic(after_type(fields.get("diagnostic-code", "")))
    status = status_code(fields.get("status", ""))
    words = fields.get("action", "").strip().lower().split()
    named = words[0].split("(", 1)[0] if words else ""
    action: Action | None = named if named in _ACTIONS else None
    if not status:
        status = status_code(diagnostic) or basic_status(diagnostic, action)
    if action is None:  # missing or unknown: the status class says it (RFC 3463 §3.1)
        action = _ACTION_BY_CLASS.get(status[:1], "failed")
    if action == "failed" and not status:
        status = "5.0.0"
    return make_status(address, action, status, diagnostic)


def make_status(address: str, action: Action, status: str, diagnostic: str) -> RecipientStatus:
    return RecipientStatus(address=address, action=action, status=status, diagnostic=diagnostic,
                           permanent=action == "failed")


_ACTION_BY_CLASS: dict[str, Action] = {"5": "failed", "4": "delayed", "2": "delivered"}
ENHANCED = lazy_pattern(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
BASIC = lazy_pattern(r"(?<![\d.#])([245])\d\d(?=[\s-]|$)")
#: An address in text; the local part may be quoted (RFC 5321 §4.1.2: ``"a..b"@example.org``).
ADDRESS = lazy_pattern(r"(?:\"[^\"\r\n<>]{1,64}\"|[^\s<>()\[\]\"',;:]+)@[^\s<>()\[\]\"',;:]+[^\s<>()\[\]\"',;:.]")


def status_code(text: str) -> str:
    match = ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def basic_status(diagnostic: str, action: Action | None) -> str:
    """An SMTP reply code ("550") as a class-only status, when no enhanced code was given."""
    match = BASIC.search(diagnostic)
    if match:
        return f"{match.group(1)}.0.0"
    if _EXPIRED.search(diagnostic):
        return "4.4.7"
    if action == "delayed":
        return "4.0.0"
    return ""


_EXPIRED = lazy_pattern(r"retry timeout exceeded|retry time not reached|delivery time expired"
                        r"|been in the queue too long"
                      r"|message expired|queue lifetime", re.IGNORECASE)


def after_type(value: str) -> str:
    """ "rfc822; bob@x" -> "bob@x", "smtp; 550 ..." -> "550 ...", "dns; mx" -> "mx"."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and kind.strip() and " " not in kind.strip() else value.strip()


def bare_address(value: str) -> str:
    text = after_type(value).strip().strip("<>").strip()
    match = ADDRESS.search(text)
    return match.group().lower()[:320] if match else ""


def squeeze_diagnostic(text: str) -> str:
    return " ".join(text.split())[:_MAX_DIAGNOSTIC]


def original_headers(parts: list[Message]) -> MessageMeta | None:
    for part in parts:
        kind = part.get_content_type()
        if kind not in ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            block = "\r\n".join(f"{name}: {value}" for name, value in payload[0].raw_items())
            return parse_headers(block.encode("utf-8", "surrogateescape") + b"\r\n\r\n")
        if isinstance(payload, str):
            text = decode_payload(part)
            return parse_headers(_repair_folding(text.lstrip()).encode("utf-8", "replace"))
    return None


_FIELD_NAME = lazy_pattern(r"[!-9;-~]{1,76}:")


def _repair_folding(text: str) -> str:
    """Undo a relay's mangling of a header copy: a continuation line that lost its indentation (RFC 5322
    §2.2.3 wants it) is folded back into the field above instead of ending the header block there."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    for line in lines:
        if not line.strip():
            break
        if out and line[:1] not in (" ", "\t") and not _FIELD_NAME.match(line):
            out.append(" " + line)
        else:
            out.append(line)
    return "\r\n".join(out) + "\r\n\r\n"


INLINE_ORIGINAL = lazy_pattern(
    r"^[ \t]*(?:-{3,} ?This is a copy of the message(?:'s headers)?.*"
    r"|-{2,} ?Below this line is a copy of the message.*"
    r"|-{3,} ?Original message ?-{3,}"
    r"|Original message headers:"
    r"|-{3,} ?The header of the original message is following.*"
    r"|-{3,} ?Returned message ?-{3,}"
    r"|Message headers follow\.?"
    r"|-{3,} ?(?:Unsent|Undelivered|Original) message (?:follows|below|header[s]?) ?-{0,}"
    r"|-{3,} ?Original message header[s]?:? ?-{0,})[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)


def inline_original(text: str, own_id: str | None = None) -> MessageMeta | None:
    """Headers of the original as text after a marker line (Exim, qmail, old Gmail, Exchange), else the header
    block around the first ``Message-ID:`` line that is not the notice's own (DragonFly "Message headers
    follow.", Domino, Zoho, appliances write their own marker, or none)."""
    match = INLINE_ORIGINAL.search(text)
    if match is not None:
        rest = text[match.end() :].lstrip("\n")
        meta = parse_headers(rest[:100_000].encode("utf-8", "replace"))
        if meta.message_id or meta.to or meta.subject:
            return meta
    for found in _ID_LINE.finditer(text[:MAX_TEXT]):
        ids = extract_message_ids(found.group(1))
        if not ids or ids[0] == own_id:
            continue
        start = max(text.rfind("\n\n", 0, found.start()), found.start() - 5000, 0)
        block = "\n".join(line.lstrip(" \t>") for line in text[start : found.end() + 5000].lstrip("\n").split("\n"))
        meta = parse_headers(block.encode("utf-8", "replace"))
        if meta.message_id:
            return meta
        return MessageMeta(message_id=ids[0])
    return None


_ID_LINE = lazy_pattern(r"^[ \t>]*Message-ID[ \t]*:[ \t]*(.*(?:\n[ \t]+.*)?)$", re.IGNORECASE | re.MULTILINE)

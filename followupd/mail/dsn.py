"""A full raw bounce -> who failed, how, and which sent message it was about.

Pure: no network, no clock, no database. headers.py already decided from the header block that a message is a
bounce (``MessageKind.BOUNCE``); the engine fetches the whole message (``BODY.PEEK[]``) and asks this module
for the details, because the header block cannot say *which* recipient failed or whether it is final.

Formats read, most trusted first:

* RFC 3464 delivery status inside an RFC 6522 ``multipart/report; report-type=delivery-status`` (Postfix,
  Exim 4.9x, sendmail, Gmail, Exchange/Office 365, Dovecot's LMTP rejections relayed by Postfix), also
  ``message/global-delivery-status`` (RFC 6533). Per recipient: ``Final-Recipient`` (else
  ``Original-Recipient``), ``Action``, ``Status`` (RFC 3463), ``Diagnostic-Code``.
* Dovecot LDA / Pigeonhole Sieve ``reject``: an RFC 8098 ``disposition-notification`` with ``...; deleted``
  and "Your message to <x> was automatically rejected:" (a read receipt is never read as a bounce).
* Plain-text bounces: Exim "This message was created automatically by mail delivery software" (failed and
  delayed), qmail / Yahoo "I'm afraid I wasn't able to deliver" / "Sorry, we were unable to deliver" with
  ``<addr>:`` blocks, Exchange "Delivery has failed to these recipients or groups:" / "Your message to X
  couldn't be delivered", old Gmail "Delivery to the following recipient failed permanently:" and the
  current "Address not found ... wasn't delivered to X". Only from a mail system (MAILER-DAEMON,
  postmaster, a null Return-Path, ``X-Failed-Recipients``, or what headers.py judged a bounce): a person
  forwarding a bounce is not one.
* RFC 3464 fields written into a text part (quoted-printable or base64; Amazon WorkMail, appliances), and
  recipient blocks run together without the blank line between them.
* Amazon SES bounce notifications (JSON, ``"notificationType": "Bounce"``).
* ``X-Failed-Recipients``, then the prose of any other mail system (DragonFly, Domino, Exchange 2003,
  GroupWise-style, appliances, carriers, Sendmail V5 transcripts, notices in other languages): the
  addresses it names before the copy of the original, each with the code or reason words written after it
  (:func:`_generic`). A notice that says the MTA is still trying is a delay.

The original is named by the ``message/rfc822`` / ``text/rfc822-headers`` part (its folding repaired when a
relay mangled it), an inline copy after a marker line, or the first ``Message-ID:`` line in the text that is
not the notice's own.

``permanent`` is True for ``Action: failed``, whatever the status class: an MTA that gave up on a 4.x.x
("retry timeout exceeded", 4.4.7) has dropped the message, and it will never arrive. "delayed" is never
permanent. A "failed" without any code (an MTA that gave up but did not say why) is read as 5.0.0.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import quopri
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Literal, cast

from followupd.mail import internal_errors
from followupd.mail.bodytext import decode_bytes, decode_payload, readable_text
from followupd.mail.headers import MessageKind, MessageMeta, extract_message_ids, parse_headers
from followupd.mail.internal_errors import INTERNAL_ERROR

__all__ = ["INTERNAL_ERROR", "Action", "DeliveryReport", "RecipientStatus", "classify_notice", "parse_dsn"]

logger = logging.getLogger(__name__)


Action = Literal["failed", "delayed", "delivered", "relayed", "expanded"]
_ACTIONS: tuple[Action, ...] = ("failed", "delayed", "delivered", "relayed", "expanded")

#: Longest diagnostic kept (a remote server may return kilobytes).
_MAX_DIAGNOSTIC = 500
#: At most this many recipients per report (a hostile one could list millions).
_MAX_RECIPIENTS = 500
#: Only the start of a text bounce is searched for recipients; the returned message follows it.
_MAX_TEXT = 200_000
_MAX_DEPTH = 20


@dataclass(frozen=True)
class RecipientStatus:
    """What happened to one recipient."""

    address: str       # lower-case, no "rfc822;" and no angle brackets
    action: Action
    status: str        # RFC 3463 "5.1.1"; inferred from the diagnostic in text bounces ("5.0.0" if unknown)
    diagnostic: str    # the remote server's words, whitespace squeezed, at most 500 characters
    permanent: bool    # action "failed": the MTA gave up (a 4.x.x it stopped retrying is as final as a 5.x.x)


@dataclass(frozen=True)
class DeliveryReport:
    """A parsed bounce or delay notice."""

    recipients: tuple[RecipientStatus, ...]
    original_message_id: str | None        # "<id@host>" of the message that bounced
    original_recipients: tuple[str, ...]   # To and Cc of the returned original (lower-case), when included
    original_subject: str = ""
    reporting_mta: str = ""
    source: str = ""                       # "rfc3464", "dovecot-reject", "exim", "qmail", "exchange", ...
    internal_error: str = ""               # the marker internal_errors.record gave when a reader had a bug

    @property
    def failed(self) -> tuple[RecipientStatus, ...]:
        return tuple(r for r in self.recipients if r.action == "failed")

    @property
    def permanent_failures(self) -> tuple[RecipientStatus, ...]:
        return tuple(r for r in self.recipients if r.permanent)

    @property
    def is_failure(self) -> bool:
        """Some recipient did not get the message and the MTA has stopped trying."""
        return bool(self.failed)


def parse_dsn(raw: bytes) -> DeliveryReport | None:
    """The delivery report in a raw message, or None when it is not a bounce/delay notice; never raises."""
    try:
        return _parse(bytes(raw))
    except Exception as exc:  # last resort for a bug here: one odd message must not stop a cycle
        marker = internal_errors.record("dsn", exc, logger=logger,
                                        doing="reading a delivery report; the message is judged by its headers")
        return DeliveryReport(recipients=(), original_message_id=None, original_recipients=(),
                              internal_error=marker)


def classify_notice(raw: bytes | None, meta: MessageMeta | None = None) -> str | None:
    """Evidence that a message is a delivery notice by its text, else None; never raises.

    Runs before a message may count as a reply: a postmaster answering with "Re: <subject>" and In-Reply-To,
    a Java mail server's rejection or a list manager's "you are not a member" are machines, whatever their
    headers say.
    """
    if not raw:
        return None
    try:
        return _notice(bytes(raw), meta if meta is not None else parse_headers(raw))
    except Exception as exc:
        return internal_errors.record("dsn", exc, logger=logger,
                                      doing="reading a notice; the message is judged by its headers")


def _notice(raw: bytes, meta: MessageMeta) -> str | None:
    report = _parse(raw)
    if report is not None and report.recipients:
        return f"delivery report ({report.source}) for {', '.join(r.address for r in report.recipients[:3])}"
    return None


# ------------------------------------------------------------------------------------------------ parsing

def _parse(raw: bytes) -> DeliveryReport | None:
    msg = BytesParser(policy=compat32).parsebytes(raw)
    outer = parse_headers(raw)
    parts = _walk(msg)
    original = _original_headers(parts)
    status_part = next((p for p in parts if p.get_content_type() in _STATUS_TYPES), None)
    if status_part is not None:
        per_message, blocks = _status_blocks(status_part)
        recipients = [r for r in (_recipient(block) for block in blocks) if r is not None]
        if not recipients:
            recipients = _from_text(raw, outer, original)[1]
        return _report(recipients, outer, original, per_message, "rfc3464")
    mdn = next((p for p in parts if p.get_content_type() == "message/disposition-notification"), None)
    if mdn is not None:
        rejected = _dovecot_reject(raw, mdn)
        return _report(rejected, outer, original, _mdn_fields(mdn), "dovecot-reject") if rejected else None
    if not _from_mail_system(outer, msg):
        return None
    if original is None:
        original = _inline_original(readable_text(raw, max_chars=_MAX_TEXT * 2), outer.message_id)
    source, recipients = _from_text(raw, outer, original)
    if not recipients:
        return None
    per_message = _embedded_per_message(readable_text(raw, max_chars=_MAX_TEXT)) if source == "rfc3464-text" else {}
    return _report(recipients, outer, original, per_message, source)


_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_TYPES = ("message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers",
                   "message/rfc822-headers", "text/rfc822-header")


def _walk(msg: Message) -> list[Message]:
    """Every part, depth-first in order, without recursion (hostile mail nests deeply)."""
    out: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack and len(out) < 1000:
        part, depth = stack.pop()
        out.append(part)
        if depth >= _MAX_DEPTH or part.get_content_type() in _STATUS_TYPES:
            continue
        if part.get_content_type() in _ORIGINAL_TYPES or part.get_content_type() == "message/disposition-notification":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
    return out


def _report(recipients: list[RecipientStatus], outer: MessageMeta, original: MessageMeta | None,
            per_message: dict[str, str], source: str) -> DeliveryReport:
    unique: dict[str, RecipientStatus] = {}
    for recipient in recipients[:_MAX_RECIPIENTS]:
        unique.setdefault(recipient.address, recipient)
    original_id = original.message_id if original else None
    if original_id is None:
        original_id = _first_id(per_message.get("x-original-message-id", ""),
                                per_message.get("original-message-id", ""))
    if original_id is None:
        original_id = outer.exchange_parent_id or (outer.in_reply_to[0] if outer.in_reply_to else None)
    if original_id is None and outer.references:
        original_id = outer.references[-1]
    addresses = tuple(dict.fromkeys(a.email for a in (*original.to, *original.cc))) if original else ()
    return DeliveryReport(
        recipients=tuple(unique.values()),
        original_message_id=original_id,
        original_recipients=addresses,
        original_subject=original.subject if original else "",
        reporting_mta=_after_type(per_message.get("reporting-mta", "") or per_message.get("reporting-ua", "")),
        source=source,
    )


def _first_id(*values: str) -> str | None:
    for value in values:
        ids = extract_message_ids(value)
        if ids:
            return ids[0]
    return None


# ------------------------------------------------------------------------------------- RFC 3464 fields

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


def _status_blocks(part: Message) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Per-message fields and per-recipient blocks (RFC 3464 §2.1) of a status part."""
    return _field_blocks(_part_text(part))


def _field_blocks(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
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


def _recipient(fields: dict[str, str]) -> RecipientStatus | None:
    address = _address(fields.get("final-recipient", "")) or _address(fields.get("original-recipient", ""))
    if not address:
        return None
    diagnostic = _squeeze(_after_type(fields.get("diagnostic-code", "")))
    status = _status_code(fields.get("status", ""))
    words = fields.get("action", "").strip().lower().split()
    named = words[0].split("(", 1)[0] if words else ""
    action: Action | None = named if named in _ACTIONS else None
    if not status:
        status = _status_code(diagnostic) or _basic_status(diagnostic, action)
    if action is None:  # missing or unknown: the status class says it (RFC 3463 §3.1)
        action = _ACTION_BY_CLASS.get(status[:1], "failed")
    if action == "failed" and not status:
        status = "5.0.0"
    return _status(address, action, status, diagnostic)


def _status(address: str, action: Action, status: str, diagnostic: str) -> RecipientStatus:
    return RecipientStatus(address=address, action=action, status=status, diagnostic=diagnostic,
                           permanent=action == "failed")


_ACTION_BY_CLASS: dict[str, Action] = {"5": "failed", "4": "delayed", "2": "delivered"}
_ENHANCED = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?!\d|\.\d)")
_BASIC = re.compile(r"(?<![\d.#])([245])\d\d(?=[\s-]|$)")
#: An address in text; the local part may be quoted (RFC 5321 §4.1.2: ``"a..b"@example.org``).
_ADDRESS = re.compile(r"(?:\"[^\"\r\n<>]{1,64}\"|[^\s<>()\[\]\"',;:]+)@[^\s<>()\[\]\"',;:]+[^\s<>()\[\]\"',;:.]")


def _status_code(text: str) -> str:
    match = _ENHANCED.search(text)
    return ".".join(match.groups()) if match else ""


def _basic_status(diagnostic: str, action: Action | None) -> str:
    """An SMTP reply code ("550") as a class-only status, when no enhanced code was given."""
    match = _BASIC.search(diagnostic)
    if match:
        return f"{match.group(1)}.0.0"
    if _EXPIRED.search(diagnostic):
        return "4.4.7"
    if action == "delayed":
        return "4.0.0"
    return ""


_EXPIRED = re.compile(r"retry timeout exceeded|retry time not reached|delivery time expired|been in the queue too long"
                      r"|message expired|queue lifetime", re.IGNORECASE)


def _after_type(value: str) -> str:
    """ "rfc822; bob@x" -> "bob@x", "smtp; 550 ..." -> "550 ...", "dns; mx" -> "mx"."""
    kind, sep, rest = value.partition(";")
    return rest.strip() if sep and kind.strip() and " " not in kind.strip() else value.strip()


def _address(value: str) -> str:
    text = _after_type(value).strip().strip("<>").strip()
    match = _ADDRESS.search(text)
    return match.group().lower()[:320] if match else ""


def _squeeze(text: str) -> str:
    return " ".join(text.split())[:_MAX_DIAGNOSTIC]


# ------------------------------------------------------------------------------------ original message

def _original_headers(parts: list[Message]) -> MessageMeta | None:
    for part in parts:
        kind = part.get_content_type()
        if kind not in _ORIGINAL_TYPES:
            continue
        payload = part.get_payload()
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            block = "\r\n".join(f"{name}: {value}" for name, value in payload[0].raw_items())
            return parse_headers(block.encode("utf-8", "surrogateescape") + b"\r\n\r\n")
        if isinstance(payload, str):
            text = decode_payload(part)
            return parse_headers(_repair_folding(text.lstrip()).encode("utf-8", "replace"))
    return None


_FIELD_NAME = re.compile(r"[!-9;-~]{1,76}:")


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


_INLINE_ORIGINAL = re.compile(
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


def _inline_original(text: str, own_id: str | None = None) -> MessageMeta | None:
    """Headers of the original as text after a marker line (Exim, qmail, old Gmail, Exchange), else the header
    block around the first ``Message-ID:`` line that is not the notice's own (DragonFly "Message headers
    follow.", Domino, Zoho, appliances write their own marker, or none)."""
    match = _INLINE_ORIGINAL.search(text)
    if match is not None:
        rest = text[match.end() :].lstrip("\n")
        meta = parse_headers(rest[:100_000].encode("utf-8", "replace"))
        if meta.message_id or meta.to or meta.subject:
            return meta
    for found in _ID_LINE.finditer(text[:_MAX_TEXT]):
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


_ID_LINE = re.compile(r"^[ \t>]*Message-ID[ \t]*:[ \t]*(.*(?:\n[ \t]+.*)?)$", re.IGNORECASE | re.MULTILINE)


# ---------------------------------------------------------------------------------------- text bounces

_MAIL_SYSTEM_LOCALS = frozenset({"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mail.daemon"})


def _from_mail_system(outer: MessageMeta, msg: Message) -> bool:
    """Only machines send bounces; a person forwarding one (or quoting one) is not a bounce."""
    if outer.kind is MessageKind.BOUNCE:
        return True  # headers.py: a mail system's or list manager's address, a null sender with a notice subject
    sender = outer.from_.email if outer.from_ else ""
    if sender.split("@", 1)[0] in _MAIL_SYSTEM_LOCALS:
        return True
    if msg.get("x-failed-recipients"):
        return True
    return str(msg.get("return-path", "")).strip() == "<>"  # RFC 5321 §4.5.5: bounces have a null sender


def _from_text(raw: bytes, outer: MessageMeta, original: MessageMeta | None) -> tuple[str, list[RecipientStatus]]:
    """Recipients from the human-readable text (each known format), else from X-Failed-Recipients, else from
    the prose of a notice whose format nobody documented (see :func:`_generic`)."""
    text = readable_text(raw, max_chars=_MAX_TEXT).replace("\r", "")
    if not text.strip():
        text = _raw_body(raw)
    for source, reader in _TEXT_READERS:
        found = reader(text)
        if found:
            return source, found
    failed = _failed_recipients_header(raw)
    if failed:
        status = _status_code(text) or _basic_status(text[:5000], "failed") or "5.0.0"
        diagnostic = _squeeze(_diagnostic_near(text)) or _nearest_status(_until_copy(text)[:50_000], 0, 0, "failed")[1]
        return "x-failed-recipients", [_status(a, "failed", status, diagnostic) for a in failed]
    found = _generic(text, outer, original)
    return ("text", found) if found else ("", [])


def _raw_body(raw: bytes) -> str:
    """The body as plain text when the MIME structure cannot be walked (a relay unfolded ``boundary=`` onto a
    line of its own, so no part is found): what a person opening the message would still read."""
    _, sep, body = raw.replace(b"\r\n", b"\n").partition(b"\n\n")
    return decode_bytes(body[:_MAX_TEXT], "utf-8") if sep else ""


def _failed_recipients_header(raw: bytes) -> list[str]:
    msg = BytesParser(policy=compat32).parsebytes(raw, headersonly=True)
    values = msg.get_all("x-failed-recipients") or []
    found: list[str] = []
    for value in values:
        found.extend(m.group().lower() for m in _ADDRESS.finditer(str(value)))
    return list(dict.fromkeys(found))


def _diagnostic_near(text: str) -> str:
    match = _ENHANCED.search(text) or _BASIC.search(text)
    if not match:
        return ""
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start : end if end >= 0 else len(text)]


def _text_recipient(address_text: str, action: Action, diagnostic: str) -> RecipientStatus | None:
    match = _ADDRESS.search(address_text)
    if match is None:
        return None
    diagnostic = _squeeze(diagnostic)
    status = _status_code(diagnostic) or _basic_status(diagnostic, action)
    if action == "failed" and not status:
        status = "5.0.0"
    return _status(match.group().lower(), action, status, diagnostic)


def _until_copy(text: str) -> str:
    match = _INLINE_ORIGINAL.search(text)
    return text[: match.start()] if match else text


# Exim: "The following address(es) failed:" then "  addr" lines with more-indented detail lines.
_EXIM_FAILED = re.compile(r"following address(?:\(es\)|es)? failed:[ \t]*\n", re.IGNORECASE)
_EXIM_DELAYED = re.compile(r"address(?:es)? to which the message has not yet been delivered (?:is|are):[ \t]*\n",
                           re.IGNORECASE)


def _exim(text: str) -> list[RecipientStatus]:
    if "mail delivery software" not in text.lower():
        return []
    body = _until_copy(text)
    out: list[RecipientStatus] = []
    for pattern, action in ((_EXIM_FAILED, "failed"), (_EXIM_DELAYED, "delayed")):
        match = pattern.search(body)
        if match is None:
            continue
        entries: list[tuple[str, list[str]]] = []
        for line in body[match.end() :].split("\n"):
            if not line.strip():
                if entries and entries[-1][1]:
                    continue
                continue
            indent = len(line) - len(line.lstrip())
            if indent <= 2 and "@" in line and len(line.split()) <= 4:
                entries.append((line.strip(), []))
            elif indent > 2 and entries:
                entries[-1][1].append(line.strip())
            elif entries:
                break  # the paragraph after the list
        for address, detail in entries:
            found = _text_recipient(address, cast(Action, action), " ".join(detail))
            if found is not None:
                out.append(found)
    return out


# qmail (and Yahoo, which kept its format): "<addr>:" then the reason, blocks separated by blank lines.
_QMAIL_START = re.compile(
    r"wasn't able to deliver your message to the following addresses"
    r"|unable to deliver your message to the following address",
    re.IGNORECASE,
)
_QMAIL_ENTRY = re.compile(r"^<([^<>\s]+@[^<>\s]+)>:?[ \t]*\n((?:.+\n?)*)", re.MULTILINE)


def _qmail(text: str) -> list[RecipientStatus]:
    start = _QMAIL_START.search(text)
    if start is None:
        return []
    body = _until_copy(text[start.end() :])
    out: list[RecipientStatus] = []
    for match in _QMAIL_ENTRY.finditer(body):
        found = _text_recipient(match.group(1), "failed", match.group(2))
        if found is not None:
            out.append(found)
    return out


# Exchange / Office 365 text.
_EXCHANGE_LIST = re.compile(r"Delivery (has failed|is delayed) to these recipients or groups:[ \t]*\n",
                            re.IGNORECASE)
_EXCHANGE_YOUR = re.compile(r"Your message to (\S+@\S+?) (couldn't|could not|can't|cannot) be delivered",
                            re.IGNORECASE)
_EXCHANGE_RECIPIENT_LINE = re.compile(
    r"[ \t]*(?:[^@()\n]{0,80}\(|<)?([^\s<>()\[\]\"',;:]+@[^\s<>()\[\]\"',;:]+[^\s<>()\[\]\"',;:.])"
    r"(?:\)|>)?(?:<mailto:[^>\s]*>)?[ \t]*$")
_EXCHANGE_REMOTE = re.compile(r"Remote Server returned '([^'\n]{1,600})'|#([45]\d\d [245]\.\d{1,3}\.\d{1,3}[^#\n]*)",
                              re.IGNORECASE)


def _exchange(text: str) -> list[RecipientStatus]:
    body = _until_copy(text)
    admin_at = body.lower().find("diagnostic information for administrators")
    admin = body[admin_at:] if admin_at >= 0 else ""
    pairs: list[tuple[str, Action]] = []
    listed = _EXCHANGE_LIST.search(body)
    if listed is not None:
        action: Action = "failed" if listed.group(1).lower().startswith("has") else "delayed"
        end = admin_at if admin_at > listed.end() else len(body)
        for line in body[listed.end() : end].split("\n")[:200]:
            match = _EXCHANGE_RECIPIENT_LINE.match(line)  # "Bob Builder (bob@x)", "bob@x"; not reason text
            if match:
                pairs.append((match.group(1).lower(), action))
    for match in _EXCHANGE_YOUR.finditer(body):
        named = _ADDRESS.search(match.group(1))
        if named:
            pairs.append((named.group().lower(), "failed"))
    out: list[RecipientStatus] = []
    for address, action in pairs:
        out.append(_status(address, action, *_exchange_status(admin or body, address, action)))
    return out


def _exchange_status(text: str, address: str, action: Action) -> tuple[str, str]:
    at = text.lower().find(address)
    remote = _EXCHANGE_REMOTE.search(text, max(at, 0))
    diagnostic = _squeeze((remote.group(1) or remote.group(2)) if remote else "")
    status = (_status_code(diagnostic) or _basic_status(diagnostic, action)
              or ("5.0.0" if action == "failed" else "4.0.0"))
    return status, diagnostic


# Gmail, old text format and the current human part.
_GMAIL_OLD = re.compile(r"Delivery to the following recipients? (failed permanently|has been delayed):[ \t]*\n",
                        re.IGNORECASE)
_GMAIL_NEW_FAILED = re.compile(r"(?:Your message wasn't delivered to|couldn't be delivered to) (\S+@\S+?)[ .]",
                               re.IGNORECASE)
_GMAIL_NEW_DELAYED = re.compile(r"There was a temporary problem delivering your message to (\S+@\S+?)[ .]",
                                re.IGNORECASE)
_GMAIL_DETAIL = re.compile(r"(?:Technical details of (?:permanent|temporary) failure:|The response (?:from the remote "
                           r"server )?was:|The error that the other server returned was:)\s*\n((?:.+\n?){1,6})",
                           re.IGNORECASE)


def _gmail(text: str) -> list[RecipientStatus]:
    body = _until_copy(text)
    detail = _GMAIL_DETAIL.search(body)
    diagnostic = detail.group(1) if detail else ""
    old = _GMAIL_OLD.search(body)
    out: list[RecipientStatus] = []
    if old is not None:
        action: Action = "failed" if old.group(1).lower().startswith("failed") else "delayed"
        paragraph = re.split(r"\n[ \t]*\n", body[old.end() :].lstrip("\n"), maxsplit=1)[0]
        for line in paragraph.split("\n")[:50]:
            found = _text_recipient(line, action, diagnostic)
            if found is not None:
                out.append(found)
        return out
    for pattern, action in ((_GMAIL_NEW_FAILED, "failed"), (_GMAIL_NEW_DELAYED, "delayed")):
        for match in pattern.finditer(body):
            found = _text_recipient(match.group(1), action, diagnostic)
            if found is not None:
                out.append(found)
    return out




# ------------------------------------------------------------------------------ Dovecot / Sieve reject

_REJECTED = re.compile(r"Your message to <?([^<>\s]+@[^<>\s]+?)>? was automatically rejected:?\s*\n?((?:.+\n?){0,5})",
                       re.IGNORECASE)


def _mdn_fields(mdn: Message) -> dict[str, str]:
    """An MDN is one block of fields (RFC 8098 §3.1), though some agents split it."""
    per_message, blocks = _status_blocks(mdn)
    return {**per_message, **(blocks[0] if blocks else {})}


def _dovecot_reject(raw: bytes, mdn: Message) -> list[RecipientStatus]:
    """A rejection sent as an MDN (Dovecot LDA quota, Pigeonhole ``reject``); a read receipt is not one."""
    fields = _mdn_fields(mdn)
    disposition = fields.get("disposition", "").lower()
    if "deleted" not in disposition and "denied" not in disposition and "failed" not in disposition:
        return []
    text = readable_text(raw, max_chars=20_000)
    match = _REJECTED.search(text)
    agent = fields.get("reporting-ua", "").lower()
    if match is None and not any(word in agent for word in ("dovecot", "pigeonhole", "sieve")):
        return []  # "Not read: ..." receipts are deleted-unread notices from mail clients
    reason = _squeeze(match.group(2)) if match else ""
    address = _address(fields.get("final-recipient", "")) or (match.group(1).lower() if match else "")
    if not address:
        return []
    status = _status_code(reason) or ("5.2.2" if re.search(r"quota|mailbox .*full", reason, re.IGNORECASE)
                                      else "5.7.1")
    return [_status(address, "failed", status, reason)]


# ------------------------------------------------------------------------------ fields inside text parts

_FIELD_LINE = re.compile(r"^[ \t]*(?:final-recipient|original-recipient)[ \t]*:", re.IGNORECASE | re.MULTILINE)


def _embedded_fields(text: str) -> list[RecipientStatus]:
    """RFC 3464 fields written into a text part (Amazon WorkMail, appliances, quoted-printable or base64 text
    with no ``message/delivery-status`` part): read like the real thing once the transfer encoding is undone."""
    body = _until_copy(text)
    first = _FIELD_LINE.search(body)
    if first is None:
        return []
    start = body.rfind("\n\n", 0, first.start())
    chunk = "\n".join(line.strip() for line in body[start + 1 if start >= 0 else 0 :].split("\n"))
    _, blocks = _field_blocks(chunk)
    return [r for r in (_recipient(block) for block in blocks) if r is not None]


def _embedded_per_message(text: str) -> dict[str, str]:
    body = _until_copy(text)
    first = _FIELD_LINE.search(body)
    if first is None:
        return {}
    per_message, _ = _field_blocks("\n".join(line.strip() for line in body[: first.start()].split("\n")[-8:]))
    return per_message


# ------------------------------------------------------------------------ Amazon SES JSON notifications

def _ses_notification(text: str) -> list[RecipientStatus]:
    """Amazon SES bounce notifications by SNS or e-mail: a JSON document, ``"notificationType": "Bounce"``."""
    at = text.find('"notificationType"')
    if at < 0:
        return []
    start = text.rfind("{", 0, at)
    try:
        document, _ = json.JSONDecoder(strict=False).raw_decode(text[start:]) if start >= 0 else ({}, 0)
    except ValueError:
        return []
    if isinstance(document, dict) and isinstance(document.get("Message"), str):
        try:
            document = json.loads(document["Message"])  # an SNS envelope around the notification
        except ValueError:
            return []
    if not isinstance(document, dict) or str(document.get("notificationType", "")).lower() != "bounce":
        return []
    bounce = document.get("bounce")
    if not isinstance(bounce, dict):
        return []
    final = str(bounce.get("bounceType", "")).lower() != "transient"
    out: list[RecipientStatus] = []
    for entry in bounce.get("bouncedRecipients") or []:
        if not isinstance(entry, dict):
            continue
        address = _address(str(entry.get("emailAddress", "")))
        if not address:
            continue
        diagnostic = _squeeze(_after_type(str(entry.get("diagnosticCode", ""))))
        status = _status_code(str(entry.get("status", ""))) or _status_code(diagnostic) or (
            "5.0.0" if final else "4.0.0")
        out.append(_status(address, "failed" if final else "delayed", status, diagnostic))
    return out


# ------------------------------------------------------------------------------- prose of any mail system

#: The notice says the MTA is still trying: a delay, whatever else it says.
_STILL_TRYING = re.compile(
    r"will (?:continue to |keep )?(?:try|retry|attempt)|will (?:keep|continue) (?:trying|attempting)"
    r"|will be retried|not yet been delivered|still trying|delivery attempts will continue"
    r"|delivery (?:is |has been |was )?delayed|delayed delivery|is being retried|temporarily deferred"
    r"|no need to (?:re)?send|do not need to resend|not been delivered yet|zustellung verz[öo]gert",
    re.IGNORECASE)
#: ... unless it also says it gave up.
_GAVE_UP = re.compile(r"given up|giving up|gave up|not going to try|will not be (?:retried|delivered|attempted)"
                      r"|no further (?:attempts|retries)|permanent(?:ly)? (?:error|fail)", re.IGNORECASE)
#: Words of a failure, in the languages mail systems write notices in.
_FAILURE_WORDS = re.compile(
    r"could(?:n't| not) be delivered|undeliverable|unable to deliver|not delivered|delivery (?:has )?failed"
    r"|failed|error|rejected|refused|denied|does not exist|doesn't exist|unknown|no such|not found|invalid"
    r"|mailbox (?:is )?(?:full|unavailable)|quota|over ?quota|blocked|not (?:allowed|accepted|permitted)"
    r"|did not reach|returned|bounced|nicht zugestellt|unzustellbar|fehlgeschlagen|n'a pas pu être"
    r"|non remis|échec|no se pudo entregar|non è stato possibile|kon niet worden bezorgd"
    r"|不達|エラー|宛先不明|届きません|送信できません|失败|退信|無法|반송|실패|не доставлено|ошибк",
    re.IGNORECASE)
_HEADER_LINE = re.compile(r"^[ \t>]*(?:message-id|in-reply-to|references|from|reply-to|return-path|sender|"
                          r"received|dkim-signature|x-[\w-]+|content-[\w-]+|mime-version|list-[\w-]+)[ \t]*:",
                          re.IGNORECASE)
_SYSTEM_LOCAL = re.compile(r"(?:mailer[-_.]?daemon|postmaster|post[-_.]master|mail[-_.]?daemon|abuse|hostmaster"
                           r"|no[-_.]?reply|root)$|.+-(?:owner|admin|request|bounces)$", re.IGNORECASE)
_MAX_GENERIC = 20
_TOKEN = re.compile(r"\S+")


def _generic(text: str, outer: MessageMeta, original: MessageMeta | None) -> list[RecipientStatus]:
    """Recipients of a notice in a mail system's own prose (DragonFly, Domino, Exchange 2003, GroupWise-style,
    appliances, carriers, Sendmail V5 transcripts, non-English notices): the addresses it names before the
    copy of the original, that are not the notice's or the original's sender, each with the status code
    written nearest after it.

    Hand-written on purpose: these formats have no grammar and no library reads them (flufl.bounce's
    per-vendor heuristics were measured and recognise fewer of them, see bench/bounces.py). Only reached for
    mail that headers.py judged a notice from a mail system, and only when none of the known formats matched.
    """
    body = _until_copy(text)[:50_000]
    if not body.strip() or '"notificationType"' in body:
        return []  # an Amazon SES delivery or complaint notification: about the sender, not a failure
    trying = bool(_STILL_TRYING.search(body)) and not _GAVE_UP.search(body)
    failing = bool(_FAILURE_WORDS.search(body) or _REASON_WORDS.search(body) or _ENHANCED.search(body)
                   or _SMTP_REPLY.search(body))
    if not trying and not failing:
        return []
    action: Action = "delayed" if trying else "failed"
    excluded = _not_recipients(outer, original)
    wanted = {a.email for a in (*original.to, *original.cc)} if original else set()
    found: list[tuple[str, int]] = []
    offset = 0
    for line in body.split("\n"):
        if "@" in line and not _HEADER_LINE.match(line):
            for token in _TOKEN.finditer(line):  # per word: the address pattern stays linear on hostile text
                if "@" not in token.group():
                    continue
                match = _ADDRESS.search(token.group()[:400])
                address = _clean_address(match.group()) if match else ""
                if address and address not in excluded and not _SYSTEM_LOCAL.match(address.split("@", 1)[0]):
                    found.append((address, offset + token.start() + match.end() if match else 0))
        offset += len(line) + 1
    if not found:
        if not wanted or len(wanted) > 5 or not (failing or trying):
            return []
        return [_status(address, action, *_nearest_status(body, 0, len(body), action)) for address in sorted(wanted)]
    out: list[RecipientStatus] = []
    seen: set[str] = set()
    for index, (address, end) in enumerate(found[: _MAX_GENERIC * 4]):
        if address in seen:
            continue
        seen.add(address)
        following = [e for a, e in found[index + 1 :] if a != address]
        stop = min(following[0] if following else len(body), end + 800)
        out.append(_status(address, action, *_nearest_status(body, end, stop, action)))
        if len(out) >= _MAX_GENERIC:
            break
    return out


def _not_recipients(outer: MessageMeta, original: MessageMeta | None) -> set[str]:
    """Who a notice names without being the failed recipient: itself, its addressee, the original's sender."""
    people = [outer.from_, outer.sender, *outer.to, *outer.cc, *outer.reply_to]
    if original is not None:
        people += [original.from_, original.sender, *original.reply_to]
    return {p.email for p in people if p is not None and p.email}


def _clean_address(text: str) -> str:
    address = text.strip().strip("<>").lower()
    if address.startswith("mailto:"):
        address = address[7:]
    address = address.rstrip(".")
    return address[:320] if "@" in address[1:-1] else ""


def _nearest_status(body: str, start: int, stop: int, action: Action) -> tuple[str, str]:
    """(status, diagnostic) for an address: the code written after it, else the reason words after it, else
    the first code or reason anywhere in the notice."""
    window = body[start:stop]
    code = _ENHANCED.search(window) or _SMTP_REPLY.search(window)
    if code is not None:
        return _code_status(code), _line_at(window, code.start(), code.end())
    reason = _REASON_WORDS.search(window) or _REASON_WORDS.search(body)
    where = window if reason is not None and reason.string is window else body
    code = _ENHANCED.search(body) or _SMTP_REPLY.search(body)
    status = _code_status(code) if code else ("4.0.0" if action == "delayed" else "5.0.0")
    if reason is not None:
        return status, _line_at(where, reason.start(), reason.end())
    if code is not None:
        return status, _line_at(body, code.start(), code.end())
    return status, ""


#: An SMTP reply code in prose: "550 5.1.1", "550-5.7.26", "<<< 550 <x>"; not "Size (in bytes): 512".
_SMTP_REPLY = re.compile(r"(?<![\d.#:])(?<!: )\b([45])[0-5]\d(?=[ -]\S)")
#: Why a recipient failed, in words (tried before the generic failure words for the diagnostic).
_REASON_WORDS = re.compile(
    r"user unknown|unknown user|no such (?:user|mailbox|address)|not (?:listed|recognized|found)"
    r"|does(?:n't| not) exist|permission to post|not allowed to post|not a member"
    r"|mailbox (?:is )?(?:full|unavailable|disabled)|quota|disabled|blocked|rejected|refused|denied|invalid"
    r"|unbekannt|n'existe pas|invalide|inexistente|宛先不明|存在しません", re.IGNORECASE)


def _code_status(code: re.Match[str]) -> str:
    return ".".join(code.groups()) if code.re is _ENHANCED else f"{code.group(1)}.0.0"


def _line_at(text: str, begin: int, end: int) -> str:
    line_start = text.rfind("\n", 0, begin) + 1
    line_end = text.find("\n", end)
    return _squeeze(text[line_start : line_end if line_end >= 0 else len(text)])


_TEXT_READERS = (("rfc3464-text", _embedded_fields), ("exim", _exim), ("qmail", _qmail), ("exchange", _exchange),
                 ("gmail", _gmail), ("ses-notification", _ses_notification))

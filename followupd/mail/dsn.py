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
  (``dsn_text.py``). A notice that says the MTA is still trying is a delay.

The original is named by the ``message/rfc822`` / ``text/rfc822-headers`` part (its folding repaired when a
relay mangled it), an inline copy after a marker line, or the first ``Message-ID:`` line in the text that is
not the notice's own.

``permanent`` is True for ``Action: failed``, whatever the status class: an MTA that gave up on a 4.x.x
("retry timeout exceeded", 4.4.7) has dropped the message, and it will never arrive. "delayed" is never
permanent. A "failed" without any code (an MTA that gave up but did not say why) is read as 5.0.0.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32

from followupd.mail import internal_errors
from followupd.mail.bodytext import readable_text
from followupd.mail.dsn_fields import (
    MAX_RECIPIENTS,
    MAX_TEXT,
    ORIGINAL_TYPES,
    STATUS_TYPES,
    Action,
    RecipientStatus,
    after_type,
    bare_address,
    inline_original,
    make_status,
    original_headers,
    read_recipient,
    squeeze_diagnostic,
    status_blocks,
    status_code,
)
from followupd.mail.dsn_text import embedded_per_message, from_mail_system, from_text
from followupd.mail.headers import MessageMeta, extract_message_ids, parse_headers
from followupd.mail.internal_errors import INTERNAL_ERROR
from followupd.mail.patterns import lazy_pattern

__all__ = ["INTERNAL_ERROR", "Action", "DeliveryReport", "RecipientStatus", "classify_notice", "parse_dsn"]

logger = logging.getLogger(__name__)


_MAX_DEPTH = 20


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
    original = original_headers(parts)
    status_part = next((p for p in parts if p.get_content_type() in STATUS_TYPES), None)
    if status_part is not None:
        per_message, blocks = status_blocks(status_part)
        recipients = [r for r in (read_recipient(block) for block in blocks) if r is not None]
        if not recipients:
            recipients = from_text(raw, outer, original)[1]
        return _report(recipients, outer, original, per_message, "rfc3464")
    mdn = next((p for p in parts if p.get_content_type() == "message/disposition-notification"), None)
    if mdn is not None:
        rejected = _dovecot_reject(raw, mdn)
        return _report(rejected, outer, original, _mdn_fields(mdn), "dovecot-reject") if rejected else None
    if not from_mail_system(outer, msg):
        return None
    if original is None:
        original = inline_original(readable_text(raw, max_chars=MAX_TEXT * 2), outer.message_id)
    source, recipients = from_text(raw, outer, original)
    if not recipients:
        return None
    per_message = embedded_per_message(readable_text(raw, max_chars=MAX_TEXT)) if source == "rfc3464-text" else {}
    return _report(recipients, outer, original, per_message, source)


def _walk(msg: Message) -> list[Message]:
    """Every part, depth-first in order, without recursion (hostile mail nests deeply)."""
    out: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack and len(out) < 1000:
        part, depth = stack.pop()
        out.append(part)
        if depth >= _MAX_DEPTH or part.get_content_type() in STATUS_TYPES:
            continue
        if part.get_content_type() in ORIGINAL_TYPES or part.get_content_type() == "message/disposition-notification":
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
    return out


def _report(recipients: list[RecipientStatus], outer: MessageMeta, original: MessageMeta | None,
            per_message: dict[str, str], source: str) -> DeliveryReport:
    unique: dict[str, RecipientStatus] = {}
    for recipient in recipients[:MAX_RECIPIENTS]:
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
        reporting_mta=after_type(per_message.get("reporting-mta", "") or per_message.get("reporting-ua", "")),
        source=source,
    )


def _first_id(*values: str) -> str | None:
    for value in values:
        ids = extract_message_ids(value)
        if ids:
            return ids[0]
    return None


# ------------------------------------------------------------------------------------- RFC 3464 fields


# ------------------------------------------------------------------------------------ original message


# ---------------------------------------------------------------------------------------- text bounces


# ------------------------------------------------------------------------------ Dovecot / Sieve reject

_REJECTED = lazy_pattern(r"Your message to <?([^<>\s]+@[^<>\s]+?)>? was automatically rejected:?\s*\n?((?:.+\n?){0,5})",
                       re.IGNORECASE)


def _mdn_fields(mdn: Message) -> dict[str, str]:
    """An MDN is one block of fields (RFC 8098 §3.1), though some agents split it."""
    per_message, blocks = status_blocks(mdn)
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
    reason = squeeze_diagnostic(match.group(2)) if match else ""
    address = bare_address(fields.get("final-recipient", "")) or (match.group(1).lower() if match else "")
    if not address:
        return []
    status = status_code(reason) or ("5.2.2" if re.search(r"quota|mailbox .*full", reason, re.IGNORECASE)
                                      else "5.7.1")
    return [make_status(address, "failed", status, reason)]

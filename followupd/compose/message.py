"""The draft as RFC 5322 bytes: a reply in the tracked thread, the reminder of a promise to the user, and the
weekly digest.

Pure like the rest of compose: the caller passes the rendered text, the addresses and the date. Everything
reused in a header is sanitised (:mod:`followupd.compose.clean`) and every header name validated, so nothing
in a draft can be used to smuggle headers; mail clients thread it by In-Reply-To and References.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from email import policy as email_policy
from email.headerregistry import Address as EmailAddress
from email.message import EmailMessage
from email.policy import Policy
from typing import TYPE_CHECKING

from followupd.compose.clean import clean_text, sanitize_header_value
from followupd.mail.headers import Address
from followupd.mail.patterns import lazy_pattern

if TYPE_CHECKING:
    from followupd.compose.render import Rendered


#: References keeps the first id (the thread root) and the most recent ones, as RFC 5322 §3.6.4 allows.
MAX_REFERENCES = 20

_MSG_ID = lazy_pattern(r"<[^<>\s@]+@[^<>\s@]+>")
# Ids of other people's messages are repeated as they came: real ones break RFC 5322 (two "@", no "@"), and a
# reply must still name them. Only what could break the header (space, CR/LF, angle brackets) is refused.
_FOREIGN_MSG_ID = lazy_pattern(r"<[^<>\s]+>")
_SAFE_ID_PART = lazy_pattern(r"[A-Za-z0-9_-]{1,64}")
_DOMAIN_LABEL = lazy_pattern(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: Headers build_draft writes itself; extra_headers may not override them.
_OWN_HEADERS = frozenset({
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references", "x-followupd-id",
    "mime-version", "content-type", "content-transfer-encoding", "sender", "reply-to",
})


def validate_header_name(name: str) -> str:
    """RFC 5322 §2.2 field name: printable US-ASCII except colon. Python 3.11 predates CVE-2024-6923's fix."""
    if not name or any(not 33 <= ord(ch) <= 126 or ch == ":" for ch in name):
        raise ValueError(f"invalid header name {name!r}")
    return name


def draft_message_id(thread_id: str, touch_number: int, domain: str) -> str:
    """``<uuid@domain>``, the form Thunderbird and many other clients write, on the user's own domain.

    Deterministic (a UUID built from sha256 of the thread and touch, shaped as a version 4 UUID): the same
    touch always gets the same id, so a restart that re-appends a draft finds the first copy, and the Sent
    copy of the draft is recognised by this id alone. Nothing in it names followupd or follows a pattern a
    recipient could tell from a mail client's random id (issue 18): the id never leaves the user's mailbox
    with a trace of the tool. Older versions wrote ``<followupd.{thread}.{touch}@{domain}>``; those ids stay
    in the database and are still recognised, because recognition is by the recorded id, not by its shape.
    """
    if touch_number < 1:
        raise ValueError(f"touch number must be >= 1, got {touch_number}")
    digest = hashlib.sha256(f"draft\x00{thread_id}\x00{touch_number}".encode()).digest()
    token = uuid.UUID(bytes=digest[:16], version=4)
    return f"<{token}@{_ascii_domain(domain)}>"


def reminder_message_id(thread_id: str, number: int, domain: str) -> str:
    """``<followupd.{thread}.r{n}@{domain}>`` for the n-th reminder about a promise: deterministic like a draft's.

    A reminder is filed in the user's own INBOX and never reaches anyone else, so it keeps a readable marker
    (issue 18 allows it); it can never equal (nor, for IMAP's substring SEARCH, be contained in) a draft's id.
    A thread id outside ``[A-Za-z0-9_-]`` is replaced by a hash of it, which keeps the id valid and distinct.
    """
    if number < 1:
        raise ValueError(f"reminder number must be >= 1, got {number}")
    thread = str(thread_id)
    if not _SAFE_ID_PART.fullmatch(thread):
        thread = "h" + hashlib.sha256(thread.encode()).hexdigest()[:24]
    return f"<followupd.{thread}.r{number}@{_ascii_domain(domain)}>"


def _ascii_domain(domain: str) -> str:
    """A dot-atom domain in ASCII (IDNA for international names), or ValueError."""
    cleaned = domain.strip().rstrip(".").lower()
    try:
        ascii_domain = cleaned.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise ValueError(f"invalid domain {domain!r}") from exc
    labels = ascii_domain.split(".")
    if not ascii_domain or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"invalid domain {domain!r}")
    return ascii_domain


# ---------------------------------------------------------------------------------------------------- drafts


class _IdListHeader(str):
    """A header of msg-ids that folds only between ids.

    The stdlib folder RFC 2047-encodes a word that does not fit in 78 columns, and In-Reply-To / References
    have no structured parser in 3.11, so a long id came out as ``=?utf-8?q?=3C...?=`` and broke threading.
    EmailPolicy accepts any value with ``name`` and ``fold()`` as a ready-made header.
    """

    name: str
    ids: tuple[str, ...]

    def __new__(cls, name: str, ids: Sequence[str]) -> _IdListHeader:
        header = super().__new__(cls, " ".join(ids))
        header.name = validate_header_name(name)
        header.ids = tuple(ids)
        return header

    def fold(self, *, policy: Policy) -> str:
        width = policy.max_line_length or 998
        lines = [f"{self.name}:"]
        for mid in self.ids:
            if len(lines[-1]) + 1 + len(mid) > width and lines[-1] != f"{self.name}:":
                lines.append("")
            lines[-1] += f" {mid}"
        return policy.linesep.join(lines) + policy.linesep


def build_draft(
    *,
    rendered: Rendered,
    from_: Address,
    to: Sequence[Address],
    cc: Sequence[Address],
    in_reply_to: str,
    references: Sequence[str],
    message_id: str,
    date: datetime,
    exclude: Collection[str] = (),
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The follow-up as RFC 5322 bytes (CRLF, folded) for IMAP APPEND to Drafts.

    Nothing in it names followupd (issue 18): the user sends this draft to people, and a note that says a tool
    wrote it undoes the humble tone. followupd finds it again by its deterministic ``message_id``
    (:func:`draft_message_id`), recorded before the APPEND; there is no marker header, no User-Agent, and a
    single text/plain part, so no MIME boundary either.

    ``from_`` and every address in ``exclude`` (the tracking address, the user's aliases) are removed from
    To/Cc even if the caller forgot to; duplicates are dropped and an address in To is not repeated in Cc.
    Every value is sanitised and every header name validated, since this Python does not validate names;
    ``extra_headers`` (e.g. a configured X-Mailer) may add headers but not replace the ones set here.
    Unusable input (no recipients left, a bad id or address, a naive date) is a ValueError: a caller bug.
    """
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the draft Date must be timezone-aware")
    skip = {email.strip().lower() for email in (*exclude, from_.email)}
    to_list = _recipients(to, skip)
    cc_list = _recipients(cc, skip | {a.addr_spec.lower() for a in to_list})
    if not to_list and not cc_list:
        raise ValueError("no recipients left for the draft after excluding the user and tracking addresses")
    parent = _normalise_msg_id(in_reply_to, "In-Reply-To")
    msg = EmailMessage(policy=email_policy.SMTP)
    _set(msg, "From", _email_address(from_))
    if to_list:
        _set(msg, "To", to_list)
    if cc_list:
        _set(msg, "Cc", cc_list)
    _set(msg, "Subject", sanitize_header_value(rendered.subject))
    _set(msg, "Date", date)
    _set(msg, "Message-ID", _IdListHeader("Message-ID", [_normalise_msg_id(message_id, "Message-ID")]))
    _set(msg, "In-Reply-To", _IdListHeader("In-Reply-To", [parent]))
    _set(msg, "References", _IdListHeader("References", reference_chain(references, parent)))
    for name, value in extra_headers:
        if validate_header_name(name).lower() in _OWN_HEADERS:
            raise ValueError(f"extra header {name!r} would override one followupd sets itself")
        _set(msg, name, sanitize_header_value(value))
    _set(msg, "MIME-Version", "1.0")
    body = clean_text(rendered.body)
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))
    return msg.as_bytes(policy=email_policy.SMTP)


def build_reminder(
    *,
    rendered: Rendered,
    from_: Address,
    to: Address,
    message_id: str,
    followupd_id: str,
    date: datetime,
) -> bytes:
    """A note from followupd to the user (a promise is due), as RFC 5322 bytes for IMAP APPEND to INBOX.

    Not a reply to anything: threading it into the conversation would show it among the messages the
    recipients see in some clients, and "reply" on it would go to the user. ``Auto-Submitted: auto-generated``
    (RFC 3834) says what it is, so no autoresponder answers it and followupd never takes it for mail.
    """
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the reminder Date must be timezone-aware")
    msg = EmailMessage(policy=email_policy.SMTP)
    _set(msg, "From", _email_address(from_))
    _set(msg, "To", _email_address(to))
    _set(msg, "Subject", sanitize_header_value(rendered.subject))
    _set(msg, "Date", date)
    _set(msg, "Message-ID", _IdListHeader("Message-ID", [_normalise_msg_id(message_id, "Message-ID")]))
    _set(msg, "X-Followupd-Id", _required(followupd_id, "X-Followupd-Id"))
    _set(msg, "Auto-Submitted", "auto-generated")
    _set(msg, "MIME-Version", "1.0")
    body = clean_text(rendered.body)
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))
    return msg.as_bytes(policy=email_policy.SMTP)


def build_digest_message(*, subject: str, text: str, html: str, from_: Address, message_id: str,
                         followupd_id: str, date: datetime) -> bytes:
    """The weekly digest (:mod:`followupd.compose.digest`) as RFC 5322 bytes for IMAP APPEND to INBOX.

    multipart/alternative, the plain text first (RFC 2046 §5.1.4: the last part is the richest). From and To are
    the user, so no filter takes it for spam; like a reminder it is ``Auto-Submitted: auto-generated`` and
    carries an ``X-Followupd-Id``, so followupd never reads it as mail and finds it again after a crash."""
    if date.tzinfo is None or date.utcoffset() is None:
        raise ValueError("the digest Date must be timezone-aware")
    msg = EmailMessage(policy=email_policy.SMTP)
    _set(msg, "From", _email_address(from_))
    _set(msg, "To", _email_address(from_))
    _set(msg, "Subject", sanitize_header_value(subject))
    _set(msg, "Date", date)
    _set(msg, "Message-ID", _IdListHeader("Message-ID", [_normalise_msg_id(message_id, "Message-ID")]))
    _set(msg, "X-Followupd-Id", _required(followupd_id, "X-Followupd-Id"))
    _set(msg, "Auto-Submitted", "auto-generated")
    _set(msg, "MIME-Version", "1.0")
    body = clean_text(text)
    msg.set_content(body, subtype="plain", charset="utf-8", cte=_transfer_encoding(body))
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg.as_bytes(policy=email_policy.SMTP)


def _set(msg: EmailMessage, name: str, value: object) -> None:
    """Every header goes through here, so no name escapes validation."""
    msg[validate_header_name(name)] = value


def reference_chain(references: Sequence[str], in_reply_to: str) -> list[str]:
    """Thread ids plus the parent last, deduplicated; when long, keep the root and the most recent ones.

    Unusable ids (no angle brackets, whitespace, no @) are dropped: they come from other people's headers.
    """
    parent = _normalise_msg_id(in_reply_to, "In-Reply-To")
    chain = list(dict.fromkeys(mid for mid in (r.strip() for r in references)
                               if _FOREIGN_MSG_ID.fullmatch(mid) and mid.isascii()))
    chain = [mid for mid in chain if mid != parent] + [parent]
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1):]]
    return chain


def _normalise_msg_id(value: str, what: str) -> str:
    mid = value.strip()
    if mid and not mid.startswith("<"):
        mid = f"<{mid}>"
    pattern = _MSG_ID if what == "Message-ID" else _FOREIGN_MSG_ID
    if not pattern.fullmatch(mid) or not mid.isascii():
        raise ValueError(f"invalid {what} {value!r}")
    return mid


def _required(value: str, what: str) -> str:
    cleaned = sanitize_header_value(value)
    if not cleaned:
        raise ValueError(f"{what} must not be empty")
    return cleaned


def _recipients(addresses: Sequence[Address], skip: set[str]) -> list[EmailAddress]:
    result: list[EmailAddress] = []
    for address in addresses:
        converted = _email_address(address)
        key = converted.addr_spec.lower()
        if key not in skip and address.email.strip().lower() not in skip:
            skip.add(key)
            result.append(converted)
    return result


def _email_address(address: Address) -> EmailAddress:
    """followupd Address -> stdlib Address: name sanitised, domain in IDNA, ASCII local part required."""
    email = sanitize_header_value(address.email)
    local, at, domain = email.rpartition("@")
    if not at or not local or not local.isascii():
        raise ValueError(f"unusable address {address.email!r} (needs an ASCII local part and a domain)")
    return EmailAddress(display_name=sanitize_header_value(address.name), username=local,
                        domain=_ascii_domain(domain))


def _transfer_encoding(body: str) -> str:
    """7bit when it already is, else quoted-printable: it survives any IMAP server and stays legible."""
    if body.isascii() and all(len(line) <= 78 for line in body.split("\n")):
        return "7bit"
    return "quoted-printable"

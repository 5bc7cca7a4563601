"""Raw RFC 5322 header block -> MessageMeta: ids, participants, dates and automatic-mail markers.

Pure: no network, no database, no clock. This runs once per fetched message, so the hot path uses the stdlib
``BytesHeaderParser`` (compat32, ~30 µs a message) rather than mail-parser (~450 µs); see shared FACTS.md.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from followupd.mail import internal_errors
from followupd.mail.classify import Fields as _Fields
from followupd.mail.classify import MessageKind, classify
from followupd.mail.classify import first as _first
from followupd.mail.headerblock import split_plain
from followupd.mail.patterns import lazy_pattern
from followupd.mail.subjects import CONTROL as _CONTROL
from followupd.mail.subjects import base_subject
from followupd.mail.subjects import squeeze as _squeeze
from followupd.mail.traces import extra_recipients, received_for

# MessageKind and base_subject live in classify.py and subjects.py; they stay importable from here, where most
# callers meet them beside MessageMeta.
__all__ = ["FETCH_HEADER_FIELDS", "Address", "MessageKind", "MessageMeta", "base_subject", "classify_headers",
           "extract_message_ids", "parse_headers"]

logger = logging.getLogger(__name__)

#: The header fields followupd fetches (``BODY.PEEK[HEADER.FIELDS (...)]``).
#: Everything headers.py reads must be here.
FETCH_HEADER_FIELDS: tuple[str, ...] = (
    "MESSAGE-ID", "IN-REPLY-TO", "REFERENCES", "FROM", "SENDER", "TO", "CC", "BCC", "REPLY-TO", "SUBJECT",
    "DATE",
    "AUTO-SUBMITTED", "X-AUTOREPLY", "X-AUTORESPOND", "X-AUTO-RESPONSE-SUPPRESS", "PRECEDENCE", "LIST-ID",
    "LIST-UNSUBSCRIBE", "CONTENT-TYPE", "RETURN-PATH", "DELIVERED-TO", "X-ORIGINAL-TO", "THREAD-INDEX",
    "THREAD-TOPIC", "X-MS-EXCHANGE-PARENT-MESSAGE-ID", "X-MS-EXCHANGE-GENERATED-MESSAGE-SOURCE",
    "X-MS-EXCHANGE-INBOX-RULES-LOOP", "X-FAILED-RECIPIENTS", "X-FOLLOWUPD-ID", "X-LOOP",
    # Delivery traces beyond Delivered-To / X-Original-To: where a BCC'd tracking address may still show.
    # (Received is read apart, for the few messages that need it: see Engine._add_received.)
    "X-DELIVERED-TO", "ENVELOPE-TO", "X-ENVELOPE-TO", "X-FORWARDED-TO", "X-FORWARDED-FOR",
)


@dataclass(frozen=True)
class Address:
    """One mailbox: ``email`` is lower-cased and stripped; ``name`` is decoded display name or ''."""

    email: str
    name: str = ""


@dataclass(frozen=True)
class MessageMeta:
    """Everything followupd needs to know about one message, parsed from its header block."""

    message_id: str | None                 # normalised "<local@domain>", or None when missing/unusable
    in_reply_to: tuple[str, ...] = ()      # ids only, comments and junk dropped, in order
    references: tuple[str, ...] = ()       # ids only, in order, duplicates removed
    from_: Address | None = None
    sender: Address | None = None
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    bcc: tuple[Address, ...] = ()
    reply_to: tuple[Address, ...] = ()
    delivered_to: tuple[str, ...] = ()     # Delivered-To, X-Original-To and other envelope-recipient traces
    received_for: tuple[str, ...] = ()     # Received "for" clauses of any hop: may name other people's addresses
    subject: str = ""                      # decoded, whitespace-normalised (no CR/LF)
    date: datetime | None = None           # aware; from Date:, None when missing/unparseable
    kind: MessageKind = MessageKind.PERSONAL
    kind_evidence: str = ""                # which header made the kind, e.g. "Auto-Submitted: auto-replied"
    exchange_parent_id: str | None = None  # X-MS-Exchange-Parent-Message-Id (OOO replies without In-Reply-To)
    followupd_id: str | None = None        # our own X-Followupd-Id marker, when we wrote this message
    thread_index: str | None = None        # Exchange/Outlook Thread-Index (base64), its conversation GUID inside
    thread_topic: str | None = None        # Exchange/Outlook Thread-Topic: the conversation's normalised subject
    problems: tuple[str, ...] = field(default=())  # non-fatal oddities worth logging (bad date, bad id, ...)

    @property
    def referenced_ids(self) -> tuple[str, ...]:
        """In-Reply-To first, then References, then the Exchange parent id, without duplicates."""
        seen: dict[str, None] = {}
        parent = (self.exchange_parent_id,) if self.exchange_parent_id else ()
        for mid in (*self.in_reply_to, *self.references, *parent):
            seen.setdefault(mid, None)
        return tuple(seen)

    def all_recipients(self) -> tuple[Address, ...]:
        """To, Cc and Bcc together: where a tracking address or a participant may hide."""
        return (*self.to, *self.cc, *self.bcc)


# ----------------------------------------------------------------------------------------- public parsing API

def parse_headers(raw: bytes) -> MessageMeta:
    """Parse one fetched header block (or a whole message) into a MessageMeta; never raises.

    Mail is hostile input and one odd message must not stop a cycle, so every field degrades on its own and
    says what was odd in ``problems``. The outer ``except`` is a last resort for a bug in this module: it
    records the bug (internal_errors.py), and the tests feed arbitrary bytes and assert it never fires.
    """
    try:
        return _parse(bytes(raw))
    except Exception as exc:
        internal_errors.record("headers", exc, logger=logger, doing="parsing headers; the message is skipped")
        problem = f"internal error parsing headers: {type(exc).__name__}"
        return MessageMeta(message_id=None, problems=(problem,))


def classify_headers(msg: Message) -> tuple[MessageKind, str]:
    """What kind of mail this is, and the header that says so, from headers alone.

    Runs before any matching because bounces and out-of-office replies usually carry In-Reply-To too.
    """
    problems: list[str] = []
    fields = _collect(msg, problems)
    sender = _first_address(fields, "from", problems)
    return classify(fields, sender.email if sender else "", _subject(fields, problems))


def extract_message_ids(value: str) -> tuple[str, ...]:
    """Message ids in In-Reply-To/References-like text, in order, without duplicates, as ``<local@domain>``.

    The fields are SHOULDs and in the wild carry comments (``<id> (Bob's message of "...")``) and junk, so
    only ``<...@...>`` tokens count (RFC 5322 §3.6.4); a value that is nothing but a bare ``id@host`` is
    accepted too because some clients write it that way.
    """
    text = _drop_comments(value)
    found: dict[str, None] = {}
    for token in _ANGLE_TOKEN.findall(text):
        if _is_id_text(token):
            found.setdefault(f"<{token}>", None)
    if not found:
        bare = value.strip()
        if _BARE_ID.fullmatch(bare) and _is_id_text(bare):
            found[f"<{bare}>"] = None
    return tuple(found)


# ---------------------------------------------------------------------------------------------- internals

#: compat32 is the fast path (FACTS.md); it keeps raw values, so all decoding below is ours and cannot raise.
_PARSER = BytesHeaderParser()

#: Longest decoded subject / display name / address kept: a 1 MB hostile Subject must not reach the database.
_MAX_SUBJECT = 1000
_MAX_NAME = 200
_MAX_EMAIL = 320
#: Address fields are cut here: the stdlib address parser needs ~1 s for a hostile 1 MB To:, and 64 KiB is
#: already some 1,500 recipients.
_MAX_ADDRESS_FIELD = 64 * 1024
#: Address fields up to this long are parsed once per process and remembered (at most 8192 values, ~5 MB).
_CACHED_ADDRESS_FIELD = 1024
#: Header blocks bigger than this are odd enough to mention (real ones rarely pass a few KiB).
_LARGE_BLOCK = 64 * 1024
#: Fields RFC 5322 §3.6 allows once; a repeat is worth a note because only the first is used.
_SINGLE_FIELDS = ("message-id", "from", "subject", "date", "in-reply-to", "references")


# RFC 2047 §2: =?charset?encoding?text?=. Text may not contain "?"; broken mailers fold inside a word, so
# whitespace is tolerated here and squeezed out of the result.
_ENCODED_WORD = lazy_pattern(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?]*)\?=")
_NOT_BASE64 = lazy_pattern(rb"[^A-Za-z0-9+/]")
# Linear on hostile input (no nested quantifiers); the "@" test is done in Python, see _is_id_text.
_ANGLE_TOKEN = lazy_pattern(r"<([^<>\s]*)>")
_BARE_ID = lazy_pattern(r"[^<>\s@]+@[^<>\s]+")
_PAREN = lazy_pattern(r"[()]")


def _parse(raw: bytes) -> MessageMeta:
    problems: list[str] = []
    if b"\x00" in raw:
        problems.append("NUL bytes in the header block")
    if len(raw) > _LARGE_BLOCK:
        problems.append(f"unusually large header block ({len(raw)} bytes)")
    # The stdlib's answer without its FeedParser, for blocks it would find no defect in (headerblock.py).
    items: Iterable[tuple[str, Any]] | None = split_plain(raw)
    if items is None:
        msg = _PARSER.parsebytes(raw)
        problems.extend(f"header defect: {type(defect).__name__}" for defect in msg.defects)
        items = msg.raw_items()
    fields = _collect_items(items, problems)
    sender = _first_address(fields, "from", problems)
    subject = _subject(fields, problems)
    kind, evidence = classify(fields, sender.email if sender else "", subject)
    parent_ids = _ids(fields, "x-ms-exchange-parent-message-id")
    return MessageMeta(
        message_id=_message_id(fields, problems),
        in_reply_to=_ids(fields, "in-reply-to"),
        references=_ids(fields, "references"),
        from_=sender,
        sender=_first_address(fields, "sender", problems),
        to=_addresses(fields.get("to", []), problems, "To"),
        cc=_addresses(fields.get("cc", []), problems, "Cc"),
        bcc=_addresses(fields.get("bcc", []), problems, "Bcc"),
        reply_to=_addresses(fields.get("reply-to", []), problems, "Reply-To"),
        delivered_to=_delivered_to(fields, problems),
        received_for=received_for(fields.get("received", ())),
        subject=subject,
        date=_date(fields, problems),
        kind=kind,
        kind_evidence=evidence,
        exchange_parent_id=parent_ids[0] if parent_ids else None,
        followupd_id=_squeeze(_first(fields, "x-followupd-id"), 200) or None,
        thread_index=_squeeze(_first(fields, "thread-index"), 400) or None,
        thread_topic=_squeeze(_decode_words(_first(fields, "thread-topic"), problems, "Thread-Topic"),
                              _MAX_SUBJECT) or None,
        problems=tuple(dict.fromkeys(problems)),
    )


def _collect(msg: Message, problems: list[str]) -> _Fields:
    """One pass over the fields; ``raw_items`` stops compat32 making Header objects of 8-bit values."""
    return _collect_items(msg.raw_items(), problems)


def _collect_items(items: Iterable[tuple[str, Any]], problems: list[str]) -> _Fields:
    fields: _Fields = {}
    for name, value in items:
        key = str(name).strip().lower()
        text, guessed = _unescape(str(value))
        if guessed:
            problems.append(f"raw non-UTF-8 bytes in {key}, read as cp1252")
        fields.setdefault(key, []).append(text)
    problems.extend(f"{key} appears {len(fields[key])} times" for key in _SINGLE_FIELDS
                    if len(fields.get(key, ())) > 1)
    return fields


def _unescape(value: str) -> tuple[str, bool]:
    """Recover 8-bit bytes the parser kept as surrogates: UTF-8 (RFC 6532) when valid, else cp1252.

    Returns the text and whether the charset had to be guessed (raw UTF-8 is legitimate, a guess is not).
    """
    if value.isascii():
        return value, False
    try:
        raw = value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return value.encode("utf-8", "replace").decode("utf-8", "replace"), True
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace"), True


# ---------------------------------------------------------------------------------------- RFC 2047 words

def _decode_words(value: str, problems: list[str], where: str) -> str:
    """RFC 2047 decoding that never raises, joining adjacent words before decoding their bytes.

    Joining matters because senders split one multi-byte character across two words; whitespace between
    adjacent encoded words is not part of the text (RFC 2047 §6.2).
    """
    if "=?" not in value:
        return value
    gaps: list[str] = []
    words: list[tuple[str, bytes]] = []
    pos = 0
    for match in _ENCODED_WORD.finditer(value):
        payload = _word_bytes(match.group(2), match.group(3))
        if payload is None:
            problems.append(f"undecodable encoded-word in {where}")
            continue  # stays literal: it becomes part of the next gap
        gaps.append(value[pos : match.start()])
        words.append((match.group(1).lower(), payload))
        pos = match.end()
    gaps.append(value[pos:])
    return _join_words(gaps, words, problems, where)


def _join_words(gaps: list[str], words: list[tuple[str, bytes]], problems: list[str], where: str) -> str:
    """Interleave gaps and decoded words; ``len(gaps) == len(words) + 1``."""
    if not words:
        return gaps[0]
    out = [gaps[0]]
    charset, payload = words[0][0], bytearray(words[0][1])
    for (next_charset, next_payload), gap in zip(words[1:], gaps[1:-1], strict=True):
        if not gap.strip() and next_charset == charset:
            payload.extend(next_payload)
            continue
        out.append(_charset_decode(bytes(payload), charset, problems, where))
        if gap.strip():
            out.append(gap)
        charset, payload = next_charset, bytearray(next_payload)
    out.append(_charset_decode(bytes(payload), charset, problems, where))
    out.append(gaps[-1])
    return "".join(out)


def _word_bytes(encoding: str, text: str) -> bytes | None:
    """The payload of one encoded word, or None when it cannot be decoded at all."""
    if encoding in "qQ":
        return binascii.a2b_qp(text.encode("utf-8", "replace"), header=True)
    data = _NOT_BASE64.sub(b"", text.encode("ascii", "ignore"))
    if len(data) % 4 == 1:  # one stray character cannot be decoded; drop it rather than the whole word
        data = data[:-1]
    try:
        return base64.b64decode(data + b"=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return None


def _charset_decode(payload: bytes, charset: str, problems: list[str], where: str) -> str:
    """Decode with the declared charset; unknown or non-text charsets fall back to UTF-8 with replacement."""
    name = charset.split("*", 1)[0].strip()  # RFC 2231 §5 language suffix: utf-8*en
    try:
        return payload.decode(name, "replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        problems.append(f"unknown charset {name[:40]!r} in {where}")
        return payload.decode("utf-8", "replace")


# --------------------------------------------------------------------------------------------- fields

def _subject(fields: _Fields, problems: list[str]) -> str:
    return _squeeze(_decode_words(_first(fields, "subject"), problems, "Subject"), _MAX_SUBJECT)


def _addresses(values: list[str], problems: list[str], where: str) -> tuple[Address, ...]:
    """Mailboxes of address fields: emails lower-cased, display names decoded; junk entries dropped.

    The same few values (the user's own address, regular correspondents) fill most of a mailbox's address
    fields, so short ones are parsed once per process (`_addresses_cached`); the result depends on nothing else.
    """
    if not values:
        return ()
    if sum(len(value) for value in values) <= _CACHED_ADDRESS_FIELD:
        found, noted = _addresses_cached(tuple(values), where)
        problems.extend(noted)
        return found
    return _parse_addresses(values, problems, where)


@lru_cache(maxsize=8192)
def _addresses_cached(values: tuple[str, ...], where: str) -> tuple[tuple[Address, ...], tuple[str, ...]]:
    problems: list[str] = []
    return _parse_addresses(list(values), problems, where), tuple(problems)


def _parse_addresses(values: list[str], problems: list[str], where: str) -> tuple[Address, ...]:
    if sum(len(value) for value in values) > _MAX_ADDRESS_FIELD:
        problems.append(f"{where} longer than {_MAX_ADDRESS_FIELD} characters, only the start read")
        values = [" ".join(values)[:_MAX_ADDRESS_FIELD]]
    try:
        pairs = _getaddresses(values)
    except (ValueError, IndexError, TypeError, AttributeError, RecursionError):
        # RecursionError: the stdlib parses nested comments recursively, "((((((" is enough.
        problems.append(f"unparseable {where}")
        return ()
    out: list[Address] = []
    for name, email in pairs:
        address = _squeeze(email, _MAX_EMAIL + 1).lower()
        if not address:
            continue
        if " " in address or len(address) > _MAX_EMAIL:
            problems.append(f"unusable address in {where}: {address[:60]!r}")
            continue
        out.append(Address(email=address, name=_squeeze(_decode_words(name, problems, where), _MAX_NAME)))
    return tuple(out)


def _getaddresses(values: list[str]) -> list[tuple[str, str]]:
    """``email.utils.getaddresses``, with the plain forms most mail uses read by one regex (~10x faster).

    ``_simple_addresses`` gives exactly what ``getaddresses`` gives or declines (tests/test_headers.py runs both
    over every sample and generated lists); anything unusual is left to the stdlib.
    """
    simple = _simple_addresses(", ".join(values))
    return getaddresses(values) if simple is None else simple


# The plain forms: ``local@domain``, ``Name <local@domain>``, ``"Quoted, Name" <local@domain>`` and lists of
# them. Dot-atoms of RFC 5322 atext only, printable ASCII, no comments, groups, routes, domain literals,
# backslashes or whitespace inside an address. Encoded words are atext, so ``=?utf-8?q?...?= <a@b>`` is
# plain too: getaddresses keeps them literal and ``_decode_words`` decodes them afterwards either way.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDR_SPEC = rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})*"
_WORD = r"(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+|\"[ !#-\[\]-~]*\")"  # a phrase allows "." in its atoms
_FWS = r"[ \t\r\n]*"
_SIMPLE_ITEM = lazy_pattern(
    rf"{_FWS}(?:(?P<bare>{_ADDR_SPEC})|(?P<phrase>{_WORD}(?:[ \t\r\n]+{_WORD})*)?{_FWS}<(?P<angle>{_ADDR_SPEC})>)"
    rf"{_FWS}(?:,|\Z)"
)
_PHRASE_WORD = lazy_pattern(r'"([^"]*)"|([^ \t\r\n"]+)')


def _simple_addresses(text: str) -> list[tuple[str, str]] | None:
    """(name, email) pairs as ``getaddresses`` makes them, or None when ``text`` is not made of plain forms."""
    if not text.isascii():
        return None
    out: list[tuple[str, str]] = []
    pos, end = 0, len(text)
    while pos < end:
        match = _SIMPLE_ITEM.match(text, pos)
        if match is None:
            return None
        bare, phrase, angle = match.group("bare", "phrase", "angle")
        if bare is not None:
            out.append(("", bare))
        else:
            words = _PHRASE_WORD.findall(phrase) if phrase else ()
            out.append((" ".join(quoted or atom for quoted, atom in words), angle))
        pos = match.end()
    if not out or text[-1] == ",":  # getaddresses makes ('', '') of empty entries; leave those to it
        return None
    return out


def _first_address(fields: _Fields, name: str, problems: list[str]) -> Address | None:
    values = fields.get(name)
    found = _addresses(values[:1], problems, name.title()) if values else ()
    return found[0] if found else None


def _delivered_to(fields: _Fields, problems: list[str]) -> tuple[str, ...]:
    """Envelope recipients the delivery agent recorded; a BCC'd tracking address shows up only here.

    Delivered-To and X-Original-To first (RFC 5322 parser, as ever), then the fields other setups write
    (Fastmail's X-Delivered-To, Exim's Envelope-To, Gmail's X-Forwarded-To/-For...: see followupd.mail.traces)."""
    values = [*fields.get("delivered-to", ()), *fields.get("x-original-to", ())]
    found = _addresses(values, problems, "Delivered-To")
    return tuple(dict.fromkeys([*(address.email for address in found), *extra_recipients(fields)]))


def _ids(fields: _Fields, name: str) -> tuple[str, ...]:
    values = fields.get(name)
    return extract_message_ids(" ".join(values)) if values else ()


def _message_id(fields: _Fields, problems: list[str]) -> str | None:
    value = _first(fields, "message-id")
    if not value.strip():
        problems.append("no Message-ID")
        return None
    ids = extract_message_ids(value)
    if not ids:
        problems.append(f"unusable Message-ID {_squeeze(value, 80)!r}")
        return None
    return ids[0]


def _date(fields: _Fields, problems: list[str]) -> datetime | None:
    """Date: as an aware datetime; "-0000" and zone-less dates are read as UTC (RFC 5322 §3.3)."""
    text = _squeeze(_first(fields, "date"), 200)
    if not text:
        problems.append("no Date")
        return None
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        problems.append(f"unparseable Date {text[:80]!r}")
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _drop_comments(value: str) -> str:
    """Remove balanced RFC 5322 comments, so an address inside ``(message from Bob <bob@x>)`` is no id.

    An unbalanced "(" keeps the text after it: losing a real id is worse than keeping junk.
    """
    if "(" not in value:
        return value
    out: list[str] = []
    depth, keep_from, opened = 0, 0, 0
    for match in _PAREN.finditer(value):
        if match.group() == "(":
            if depth == 0:
                out.append(value[keep_from : match.start()])
                opened = match.start()
            depth += 1
        elif depth:  # a stray ")" outside any comment is ordinary text
            depth -= 1
            if depth == 0:
                out.append(" ")
                keep_from = match.end()
    out.append(value[opened:] if depth else value[keep_from:])
    return "".join(out)


def _is_id_text(token: str) -> bool:
    """``local@domain`` with something on both sides of an "@" and no control characters."""
    return len(token) >= 3 and "@" in token[1:-1] and not _CONTROL.search(token)

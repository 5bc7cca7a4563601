"""Raw RFC 5322 header block -> MessageMeta: ids, participants, dates and automatic-mail markers.

Pure: no network, no database, no clock. This runs once per fetched message, so the hot path uses the stdlib
``BytesHeaderParser`` (compat32, ~30 µs a message) rather than mail-parser (~450 µs); see shared FACTS.md.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from followupd.mail import internal_errors
from followupd.mail.headerblock import split_plain
from followupd.mail.traces import extra_recipients, received_for

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


class MessageKind(enum.Enum):
    """What a message is, decided from headers alone, before any matching (bounces carry In-Reply-To too)."""

    PERSONAL = "personal"        # written by a person: may be a reply
    AUTO_REPLY = "auto_reply"    # out-of-office / vacation / autoresponder (RFC 3834 and vendor markers)
    BOUNCE = "bounce"            # delivery status notification (RFC 3464) or mailer-daemon failure notice
    RECEIPT = "receipt"          # read receipt / MDN (RFC 8098)
    LIST = "list"                # mailing-list or bulk mail
    AUTOMATED = "automated"      # other machine-generated mail (Auto-Submitted: auto-generated, ...)


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
    return _classify(_Facts(fields, sender.email if sender else "", _subject(fields, problems)))


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


def base_subject(subject: str) -> str:
    """The subject a thread keeps through replies, forwards and auto-replies, for comparing across messages.

    Clients stack localized prefixes ("AW: Re[2]: Fwd:"), lists and gateways add "[tag]"s, and auto-replies
    prepend "Automatic reply:"; none of that says which conversation a message belongs to.
    """
    text = unicodedata.normalize("NFKC", _CONTROL.sub(" ", subject))
    pos = 0
    while match := (_PREFIX.match(text, pos) or _TAG.match(text, pos)):
        if match.end() == pos:
            break
        pos = match.end()
    folded = " ".join(text[pos:].casefold().split())
    while folded.endswith("(fwd)"):  # RFC 5256 §2.1: a trailing "(fwd)" is a forward marker too
        folded = folded[: -len("(fwd)")].rstrip()
    return folded


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

_Fields = dict[str, list[str]]  # lower-case field name -> values in order, 8-bit bytes already recovered

# RFC 2047 §2: =?charset?encoding?text?=. Text may not contain "?"; broken mailers fold inside a word, so
# whitespace is tolerated here and squeezed out of the result.
_ENCODED_WORD = re.compile(r"=\?([^?\s]{1,75})\?([bBqQ])\?([^?]*)\?=")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
# Linear on hostile input (no nested quantifiers); the "@" test is done in Python, see _is_id_text.
_ANGLE_TOKEN = re.compile(r"<([^<>\s]*)>")
_BARE_ID = re.compile(r"[^<>\s@]+@[^<>\s]+")
_PAREN = re.compile(r"[()]")


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
    kind, evidence = _classify(_Facts(fields, sender.email if sender else "", subject))
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


def _first(fields: _Fields, name: str) -> str:
    values = fields.get(name)
    return values[0] if values else ""


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


def _squeeze(text: str, limit: int) -> str:
    """Control characters and whitespace runs (a CR/LF smuggled in an encoded word too) become one space.

    Byte-order marks go: joined UTF-16 words leave one per word inside the text.
    """
    if text.isascii() and text.isprintable() and "  " not in text and not text.startswith(" ") \
            and not text.endswith(" "):
        return text[:limit]  # the usual value, nothing to squeeze: this runs ~17 times a message
    return _squeeze_any(text, limit)


def _squeeze_any(text: str, limit: int) -> str:
    """``_squeeze`` without its shortcut; the tests hold the two equal."""
    return " ".join(_CONTROL.sub(" ", text.replace("\ufeff", "")).split())[:limit]


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
_SIMPLE_ITEM = re.compile(
    rf"{_FWS}(?:(?P<bare>{_ADDR_SPEC})|(?P<phrase>{_WORD}(?:[ \t\r\n]+{_WORD})*)?{_FWS}<(?P<angle>{_ADDR_SPEC})>)"
    rf"{_FWS}(?:,|\Z)"
)
_PHRASE_WORD = re.compile(r'"([^"]*)"|([^ \t\r\n"]+)')


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


# ------------------------------------------------------------------------------------------ subjects

def _alternation(words: tuple[str, ...]) -> str:
    """Regex alternation, longest first, where a space in a phrase matches any whitespace run."""
    return "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))


#: Reply/forward prefixes across clients and languages. All need a colon after them, which is what keeps
#: "Return policy" or "I think" intact while still stripping the Italian "I:" and "R:".
_REPLY_WORDS = (
    "re", "fwd", "fw", "aw", "wg", "sv", "vs", "vl", "antw", "antwort", "doorst", "odp", "rif", "i", "r",
    "res", "rv", "enc", "tr", "ynt", "réf", "отв", "ответ", "απ", "σχετ",
    "回复", "回覆", "答复", "转发", "轉寄",
)
#: Out-of-office / autoresponder subject prefixes (Exchange, Gmail, Apple, Zimbra... in their UI languages).
_AUTO_REPLY_WORDS = (
    "automatic reply", "auto reply", "auto-reply", "autoreply", "auto response", "auto-response",
    "out of office", "out of office reply", "out of the office", "automatische antwort", "abwesenheitsnotiz",
    "réponse automatique", "respuesta automática", "respuesta automatica", "risposta automatica",
    "automatisch antwoord", "resposta automática", "autosvar", "automatisk svar", "automaattinen vastaus",
    "automatyczna odpowiedź", "автоматический ответ", "自动回复", "自動回覆", "自動返信", "自動応答",
)
#: Read-receipt subject prefixes (Outlook/Exchange in several languages); only trusted with another marker.
_RECEIPT_WORDS = (
    "read", "not read", "gelesen", "nicht gelesen", "lu", "non lu", "leído", "leido", "letto", "gelezen",
    "läst", "læst", "luettu", "lido", "odczytano", "прочитано", "已读", "已讀",
)
_COLON = r"\s*[:\uff1a]"
_COUNTER = r"(?:\s*\[\d{1,5}\]|\s*\(\d{1,5}\)|\^\d{1,5})?"
_PREFIX = re.compile(
    rf"\s*(?:(?:{_alternation(_REPLY_WORDS)}){_COUNTER}|{_alternation(_AUTO_REPLY_WORDS)}){_COLON}\s*",
    re.IGNORECASE,
)
_TAG = re.compile(r"\s*\[[^\[\]]{0,80}\]\s*")
_AUTO_REPLY_SUBJECT = re.compile(rf"\s*(?:{_alternation(_AUTO_REPLY_WORDS)}){_COLON}", re.IGNORECASE)
_RECEIPT_SUBJECT = re.compile(rf"\s*(?:{_alternation(_RECEIPT_WORDS)}){_COLON}", re.IGNORECASE)
#: Non-delivery subjects of Postfix, Exim, sendmail, qmail, Exchange (several languages) and Gmail.
_FAILURE_SUBJECT = re.compile(
    r"undeliver|delivery status notification \(failure\)|mail delivery failed|delivery failure"
    r"|returned mail|failure notice|non-?delivery|could not be delivered|delivery has failed"
    r"|returned to sender|unzustellbar|nicht zustellbar|non remis|no se puede entregar|non recapitabile"
    r"|onbestelbaar",
    re.IGNORECASE,
)
#: Wider: what a notice from a machine sender (null Return-Path, no-reply, a list manager) may be titled. Only
#: trusted together with such a sender; a person may well write "Delivery of the chairs".
_NOTICE_SUBJECT = re.compile(
    r"deliver|fail|error|bounce|returned|notification|blocked|quarantin"
    r"|rejected|undeliver|unzustellbar|zustellung|non remis|échec|echec"
    r"|rechazado|no entregado|non consegnato|niet afgeleverd|loop alert|not a member|non-member"
    r"|エラー|不達|配信|退信|未送达|退回|失败|반송|전송 ?실패|ошибк|недостав",
    re.IGNORECASE,
)
#: Hotmail's and others' abuse complaints before ARF (RFC 5965) had a content type.
_COMPLAINT_SUBJECT = re.compile(r"\s*(?:complaint about message from|abuse report|spam report)\b", re.IGNORECASE)
#: Local parts of mail systems and list managers; "Mail.Delivery.System@", "post_master@", "MAILER_DAEMON@".
_MAIL_SYSTEM_LOCAL = re.compile(
    r"(?:mailer[-_.]?daemon|mail[-_.]?daemon|postmaster|post[-_.]master|poostmaster|mail[-_.]?delivery[-_.\w]*"
    r"|mdaemon|mail[-_.]?administrator|mailadmin|ndr|bounces?|microsoftexchange[0-9a-f]{32})$"
    r"|.+-(?:admin|owner|bounces?|request)$",
    re.IGNORECASE,
)
#: Display names mail systems sign with, for ``From: MAILER-DAEMON <>`` where no address is left.
_MAIL_SYSTEM_NAME = re.compile(r"mailer[-_ ]?daemon|mail delivery (?:sub)?system|mail delivery service"
                               r"|\bpostmaster\b|ndr administrator|mail administrator", re.IGNORECASE)
#: Senders that only machines use; with a notice subject their mail is a notice, not a person's answer.
_MACHINE_LOCAL = re.compile(r"no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|sysadmin|system|daemon|admin",
                            re.IGNORECASE)

#: Delivery reports that are delay warnings or success notices, not failures (the Action field is in the
#: body, which is not fetched, so the subject is the only hint). Anchored: "Undeliverable: Re: Delayed..."
#: stays a failure.
_NOT_FAILURE_SUBJECT = re.compile(
    r"\s*(?:delayed mail|delivery delayed|delivery status notification \((?:delay|success|relay)\)"
    r"|warning: message \S+ delayed|warning: could not send message|successful mail delivery"
    r"|delivered:|relayed:|zustellung verzögert|übermittelt:"
    r"|delivery status notification: delayed|mail delivery delayed|delayed delivery"
    r"|postfix smtp server: errors from)",  # Postfix's notice to its own postmaster about a client session
    re.IGNORECASE,
)


def _skip_tags(subject: str) -> int:
    """Position after leading "[tag]"s (a list or an "[EXTERNAL]" gateway may put one before the prefix)."""
    pos = 0
    while (match := _TAG.match(subject, pos)) and match.end() > pos:
        pos = match.end()
    return pos


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


# ------------------------------------------------------------------------------------- classification

@dataclass(frozen=True)
class _Facts:
    """What classification looks at, parsed once."""

    fields: _Fields
    from_email: str
    subject: str

    def value(self, name: str, limit: int = 120) -> str:
        """First value of a field, squeezed and cut short enough to quote in evidence."""
        values = self.fields.get(name)  # most rules ask for fields a message does not have
        return _squeeze(values[0], limit) if values else ""

    def token(self, name: str) -> str:
        """First word of a field, lower-cased: "auto-replied (vacation)" -> "auto-replied"."""
        value = self.value(name)
        return _TOKEN_END.split(value.lower(), maxsplit=1)[0] if value else ""

    def content_type(self) -> tuple[str, dict[str, str]]:
        """MIME type and parameters; parameter order and case vary between mailers."""
        mime, *rest = _first(self.fields, "content-type").split(";")
        params: dict[str, str] = {}
        for item in rest:
            key, sep, val = item.partition("=")
            if sep:
                params.setdefault(key.strip().lower(), val.strip().strip('"').strip().lower())
        return "".join(mime.split()).lower(), params


_TOKEN_END = re.compile(r"[\s;(]+")
_Rule = Callable[[_Facts], "tuple[MessageKind, str] | None"]


def _classify(facts: _Facts) -> tuple[MessageKind, str]:
    """First rule that fires wins; the order is the point (a Postfix bounce says auto-replied too)."""
    for rule in _RULES:
        found = rule(facts)
        if found is not None:
            return found
    if "x-auto-response-suppress" in facts.fields:
        # Exchange adds it to people's mail sent to groups (GLPI #2170, osTicket #5320): not automatic alone.
        return MessageKind.PERSONAL, "X-Auto-Response-Suppress alone, taken as a person's mail"
    return MessageKind.PERSONAL, ""


def _report_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 6522 reports: delivery status (RFC 3464) or disposition notification (RFC 8098)."""
    mime, params = facts.content_type()
    report = params.get("report-type", "")
    if mime != "multipart/report" or report not in ("delivery-status", "disposition-notification"):
        return None
    evidence = f"Content-Type: multipart/report; report-type={report}"
    if report == "disposition-notification":
        return MessageKind.RECEIPT, evidence
    if _NOT_FAILURE_SUBJECT.match(facts.subject):
        return MessageKind.AUTOMATED, f'{evidence}, but subject "{_short(facts.subject)}" is no failure'
    return MessageKind.BOUNCE, evidence


def _failed_recipients_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """Exim and Gmail name the failed addresses in X-Failed-Recipients, also in plain-text bounces."""
    value = facts.value("x-failed-recipients")
    return (MessageKind.BOUNCE, f"X-Failed-Recipients: {value}") if value else None


def _mail_system_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """Mail from a mail system or a list manager is a notice, never a person's reply, whatever its Subject and
    In-Reply-To say (a carrier's postmaster answers "Re: <subject>"). Its body decides what it reports, so it
    is read like any bounce; only delay and success notices by their subject are left as plain notices."""
    sender = _mail_system_sender(facts)
    if sender is None:
        if _null_sender(facts) and _FAILURE_SUBJECT.search(facts.subject):
            # Before the auto-reply rule: Exchange sends its NDRs "Auto-Submitted: auto-replied" too.
            return MessageKind.BOUNCE, f'Return-Path: <> with subject "{_short(facts.subject)}"'
        return None
    if _NOT_FAILURE_SUBJECT.match(facts.subject):
        return MessageKind.AUTOMATED, f"From {sender}, a delay or success notice by its subject"
    if _FAILURE_SUBJECT.search(facts.subject) or _NOTICE_SUBJECT.search(facts.subject):
        return MessageKind.BOUNCE, f'From {sender} with subject "{_short(facts.subject)}"'
    if "in-reply-to" in facts.fields or "references" in facts.fields or _PREFIX.match(facts.subject):
        return MessageKind.BOUNCE, f'From {sender}, answering in the thread: "{_short(facts.subject)}"'
    if _null_sender(facts):
        return MessageKind.BOUNCE, f'From {sender} with a null Return-Path, subject "{_short(facts.subject)}"'
    return MessageKind.AUTOMATED, f"From {sender}, subject not a delivery failure"


def _null_sender(facts: _Facts) -> bool:
    return _first(facts.fields, "return-path").strip().replace(" ", "") in ("<>", "<<>>")


def _mail_system_sender(facts: _Facts) -> str | None:
    local = facts.from_email.split("@", 1)[0]
    if local and _MAIL_SYSTEM_LOCAL.match(local):
        return facts.from_email
    if not facts.from_email and _MAIL_SYSTEM_NAME.search(_first(facts.fields, "from")):
        return _short(_squeeze(_first(facts.fields, "from"), 80))
    return None


def _null_sender_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 5321 §4.5.5: notices go out with a null reverse path; with a notice subject (or from a machine's
    address, or an abuse report) that is a delivery notice. After the auto-reply rule: vacation programs use
    the null sender too."""
    mime, params = facts.content_type()
    if mime == "multipart/report" and params.get("report-type", "") == "feedback-report":
        return MessageKind.AUTOMATED, "Content-Type: multipart/report; report-type=feedback-report (RFC 5965)"
    if _COMPLAINT_SUBJECT.match(facts.subject):
        return MessageKind.AUTOMATED, f'subject "{_short(facts.subject)}": an abuse complaint, not a reply'
    null = _null_sender(facts)
    local = facts.from_email.split("@", 1)[0]
    machine = bool(local) and bool(_MACHINE_LOCAL.search(local))
    if not (null and machine) and (not (null or machine) or not _NOTICE_SUBJECT.search(facts.subject)):
        return None  # a machine's address with a null sender is a notice, whatever its subject ("Mail")
    marker = "Return-Path: <>" if null else f"From {facts.from_email}"
    return MessageKind.BOUNCE, f'{marker} with subject "{_short(facts.subject)}"'


def _receipt_subject_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """Outlook-style "Read: ..." receipts; the subject alone could be a person's, so want a machine marker."""
    if not _RECEIPT_SUBJECT.match(facts.subject):
        return None
    mime, _ = facts.content_type()
    auto = facts.token("auto-submitted")
    if mime == "multipart/report":
        marker = f"Content-Type: {mime}"
    elif auto and auto != "no":
        marker = f"Auto-Submitted: {auto}"
    elif source := facts.value("x-ms-exchange-generated-message-source"):
        marker = f"X-MS-Exchange-Generated-Message-Source: {source}"
    else:
        return None
    return MessageKind.RECEIPT, f'subject "{_short(facts.subject)}" with {marker}'


def _auto_reply_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    marker = _auto_reply_marker(facts)
    return (MessageKind.AUTO_REPLY, marker) if marker else None


def _auto_reply_marker(facts: _Facts) -> str | None:
    """RFC 3834, the common X- headers, Exchange's rule-agent headers, then the localized subject prefix."""
    if facts.token("auto-submitted") == "auto-replied":
        return f"Auto-Submitted: {facts.value('auto-submitted')}"
    if "x-autoreply" in facts.fields and facts.token("x-autoreply") not in ("no", "false", "0"):
        return f"X-Autoreply: {facts.value('x-autoreply')}"
    if "x-autorespond" in facts.fields:
        return f"X-Autorespond: {facts.value('x-autorespond')}"
    if facts.token("precedence") == "auto_reply":
        return "Precedence: auto_reply"
    if "x-ms-exchange-inbox-rules-loop" in facts.fields:
        return f"X-MS-Exchange-Inbox-Rules-Loop: {facts.value('x-ms-exchange-inbox-rules-loop')}"
    source = facts.value("x-ms-exchange-generated-message-source")
    if "mailbox rules agent" in source.lower():
        return f"X-MS-Exchange-Generated-Message-Source: {source}"
    match = _AUTO_REPLY_SUBJECT.match(facts.subject, _skip_tags(facts.subject))
    if match:
        return f'subject starts with "{match.group().strip()}"'
    return None


def _list_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 2919 List-Id, or bulk/list precedence (after the auto-reply rule: vacation programs use bulk)."""
    list_id = facts.value("list-id")
    if list_id:
        return MessageKind.LIST, f"List-Id: {list_id}"
    precedence = facts.token("precedence")
    if precedence in ("bulk", "junk", "list"):
        return MessageKind.LIST, f"Precedence: {precedence}"
    return None


def _automated_rule(facts: _Facts) -> tuple[MessageKind, str] | None:
    """RFC 3834: any Auto-Submitted value but "no" is machine mail; without reply markers, not an OOO."""
    auto = facts.token("auto-submitted")
    if auto and auto != "no":
        return MessageKind.AUTOMATED, f"Auto-Submitted: {facts.value('auto-submitted')}"
    return None


_RULES: tuple[_Rule, ...] = (
    _report_rule, _failed_recipients_rule, _mail_system_rule, _receipt_subject_rule, _auto_reply_rule,
    _null_sender_rule, _list_rule, _automated_rule,
)

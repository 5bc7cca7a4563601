"""Exchange / Outlook conversation headers: ``Thread-Index`` and ``Thread-Topic``.

Pure: no network, no clock, no database. Outlook, Exchange and Office 365 keep these on every message of a
conversation, including replies that lost In-Reply-To/References (some mobile clients, "reply" from an
older copy) and out-of-office notices, so they are a second, weaker thread key.

``Thread-Index`` ([MS-OXOMSG] §2.2.1.3, PidTagConversationIndex) is base64 of a 22-byte header block, then
5 bytes per reply level:

====== ======= ====================================================================================
offset length
====== ======= ====================================================================================
0      1       reserved, always 0x01 (it is also the top byte of the 64-bit FILETIME until 2057)
1      5       the next 40 bits of the FILETIME (100 ns ticks since 1601) when the conversation began
6      16      the conversation GUID: the same on every message of the conversation
22     5 * n   one child block per reply/forward (time delta and random bits)
====== ======= ====================================================================================

A value that does not decode to exactly that shape is refused (None): matching a conversation on a
malformed index would tie unrelated mail together.
"""

from __future__ import annotations

import base64
import binascii
import email.header
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from followupd.mail import internal_errors
from followupd.mail.patterns import lazy_pattern
from followupd.mail.subjects import base_subject

__all__ = ["ThreadIndexInfo", "thread_index_guid", "thread_index_info", "thread_topic_key"]

logger = logging.getLogger(__name__)

_HEADER_BLOCK = 22
_CHILD_BLOCK = 5
_RESERVED = 0x01
#: No real index has hundreds of reply levels; a longer value is junk (and bounds the work).
_MAX_LENGTH = 2000
_NOT_BASE64 = lazy_pattern(r"[^A-Za-z0-9+/=]")
_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ThreadIndexInfo:
    """A decoded ``Thread-Index``."""

    guid: str                  # 32 lower-case hex digits: the conversation
    started: datetime | None   # when the conversation began (to ~6.5 ms), None if out of range
    depth: int                 # reply levels after the first message (number of 5-byte child blocks)


def thread_index_guid(value: str) -> str | None:
    """The conversation GUID (32 lower-case hex digits) of a ``Thread-Index`` value, or None if malformed."""
    info = thread_index_info(value)
    return info.guid if info else None


def thread_index_info(value: str) -> ThreadIndexInfo | None:
    """The parts of a ``Thread-Index`` value, or None when it is not one; never raises."""
    try:
        data = _decode(value)
    except Exception as exc:  # last resort for a bug in _decode, which handles bad base64 itself
        internal_errors.record("exchange", exc, logger=logger, doing="reading a Thread-Index; it is ignored")
        return None
    if data is None or len(data) < _HEADER_BLOCK or (len(data) - _HEADER_BLOCK) % _CHILD_BLOCK:
        return None
    if data[0] != _RESERVED:
        return None
    guid = data[6:_HEADER_BLOCK]
    if guid == bytes(16):
        return None  # an all-zero GUID would make every such message one conversation
    ticks = int.from_bytes(data[0:6], "big") << 16
    try:
        started: datetime | None = _FILETIME_EPOCH + timedelta(microseconds=ticks // 10)
    except OverflowError:
        started = None
    return ThreadIndexInfo(guid=guid.hex(), started=started,
                           depth=(len(data) - _HEADER_BLOCK) // _CHILD_BLOCK)


def thread_topic_key(value: str) -> str:
    """A ``Thread-Topic`` (or any subject) normalised for comparison; "" when there is nothing to compare.

    Exchange writes the subject without reply prefixes, but other gateways copy the subject as is and may
    encode it (RFC 2047), so the value is decoded and put through :func:`subjects.base_subject`: equal keys
    mean the same conversation topic, and a key compares equal to ``base_subject()`` of the tracked subject.
    """
    try:
        return base_subject(_decode_words(value[:_MAX_LENGTH]))
    except Exception as exc:
        internal_errors.record("exchange", exc, logger=logger, doing="reading a Thread-Topic; it is ignored")
        return ""


def _decode(value: str) -> bytes | None:
    text = "".join(value.split())
    if not text or len(text) > _MAX_LENGTH or _NOT_BASE64.search(text):
        return None
    core = text.rstrip("=")
    if "=" in core or len(core) % 4 == 1:
        return None  # padding in the middle, or a length no base64 text can have
    try:
        return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def _decode_words(value: str) -> str:
    if "=?" not in value:
        return value
    try:
        parts = email.header.decode_header(value)
    except Exception:
        return value
    out: list[str] = []
    for chunk, charset in parts:
        if isinstance(chunk, str):
            out.append(chunk)
            continue
        try:
            out.append(chunk.decode(charset or "utf-8", "replace"))
        except (LookupError, UnicodeError, ValueError):
            out.append(chunk.decode("utf-8", "replace"))
    return "".join(out)

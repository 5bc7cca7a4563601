"""A whole message -> does it expect an answer: from its recipients (mail the user sent) or from the user
(mail the user received), with the sentence that asks.

Pure: no network, no clock, no config import (config builds :class:`AskSettings` from ``[replies.<lang>]``'s
``asking``/``not_asking``/``remove``/``replace``). Never raises: a bug is recorded (internal_errors.py) and
the message reads as expecting nothing, the safe side: a false "awaiting a reply" nags someone for nothing.

Two steps, the first that decides wins:

1. Headers (cheap, and they say what no text can): list mail (List-Id, Precedence: bulk/list; a newsletter
   when only List-Unsubscribe says so), automatic mail (classify.py: Auto-Submitted, out-of-office and
   vendor markers, bounces, receipts), calendar responses (a ``text/calendar`` part with METHOD:REPLY, or an
   "Accepted:"/"Declined:" subject), no-reply addresses, and the people: sent mail only to the user's own
   addresses asks nobody; received mail asks the user only when one of the user's addresses is in To or Cc.
2. The new text (bodytext.py: plain text preferred, HTML converted, quoted history and signature cut), read
   sentence by sentence by ask_sentences.py against the phrase lists of ask_phrases.py.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import compat32
from typing import Literal

from followupd.mail import internal_errors
from followupd.mail.ask_phrases import AskChange, AskPhraseSet, merge_ask_phrases
from followupd.mail.ask_sentences import detect_language, read_text
from followupd.mail.bodytext import decode_payload, message_text
from followupd.mail.headers import Address, MessageKind, MessageMeta, parse_headers
from followupd.mail.patterns import lazy_pattern

__all__ = ["AskPhrases", "AskReading", "AskSettings", "Direction", "read_ask"]

logger = logging.getLogger(__name__)

Direction = Literal["sent", "received"]

#: Parts walked looking for a calendar part (hostile mail nests thousands).
_MAX_PARTS = 60


@dataclass(frozen=True)
class AskPhrases:
    """One language's changes, built by config from ``[replies.<lang>]``."""

    asking: tuple[str, ...] = ()      # phrases that ask something (added to the built-in ones)
    not_asking: tuple[str, ...] = ()  # phrases that mean "no answer needed" (added)
    remove: tuple[str, ...] = ()      # built-in phrases of that language to drop
    replace: bool = False             # asking/not_asking above are that language's whole lists


@dataclass(frozen=True)
class AskSettings:
    """The user's phrase changes, by language code ("en", "de", ...)."""

    phrases: Mapping[str, AskPhrases] = field(default_factory=dict)


@dataclass(frozen=True)
class AskReading:
    """What the reader decided, in words a user reads."""

    expects: bool          # the message asks something of its recipients (sent) / of the user (received)
    evidence: str          # the sentence that asks, as written, trimmed to <= 200 chars; "" when expects is False
    reason: str            # "asks a question", "says no reply is needed", "mailing list", ... (module docstring)
    language: str | None   # "en", "de", "fr", "es" or None


def read_ask(raw: bytes, *, direction: Direction, own_addresses: Collection[str],
             settings: AskSettings | None = None) -> AskReading:
    """Read one whole RFC 5322 message (see the module docstring); never raises."""
    try:
        return _read(bytes(raw), direction, {_base(a) for a in own_addresses}, settings or AskSettings())
    except Exception as exc:  # last resort: hostile mail must never stop a cycle; expecting nothing is safe
        internal_errors.record("asks", exc, logger=logger, doing="reading whether a message asks something; "
                               "taken as asking nothing")
        return AskReading(False, "", "no text", None)


def _read(raw: bytes, direction: Direction, own: set[str], settings: AskSettings) -> AskReading:
    meta = parse_headers(raw)
    msg = BytesParser(policy=compat32).parsebytes(raw)
    header_reason = _header_reason(meta, msg, direction, own)
    if header_reason is not None:
        return AskReading(False, "", header_reason, None)
    text = message_text(raw)
    language = detect_language(text)
    found = read_text(text, _phrases(settings))
    return AskReading(found.expects, found.evidence if found.expects else "", found.reason, language)


def _phrases(settings: AskSettings) -> dict[str, AskPhraseSet]:
    changes = {lang: AskChange(asking=tuple(p.asking), not_asking=tuple(p.not_asking), remove=tuple(p.remove),
                               replace=p.replace) for lang, p in settings.phrases.items()}
    return merge_ask_phrases(changes)


# ------------------------------------------------------------------------------------------------ headers

def _header_reason(meta: MessageMeta, msg: Message, direction: Direction, own: set[str]) -> str | None:
    """Why the headers alone say the message expects nothing, or None."""
    if meta.kind is MessageKind.LIST:
        if "list-id" not in _lower_keys(msg) and msg.get("list-unsubscribe"):
            return "newsletter"
        return "mailing list"
    if msg.get("list-unsubscribe"):
        return "newsletter"
    if meta.kind is not MessageKind.PERSONAL:
        return "automatic mail"
    if _is_calendar_response(msg, meta.subject):
        return "calendar response"
    if direction == "sent":
        others = [a for a in meta.all_recipients() if a.email and _base(a.email) not in own]
        if not others:
            return "only your own addresses"
        if any(_LIST_ADDRESS.search(a.email) for a in others):
            return "mailing list"
        if all(_NO_REPLY.search(a.email.split("@", 1)[0]) for a in others):
            return "no-reply address"
        return None
    sender = meta.from_ or Address("")
    if sender.email and _NO_REPLY.search(sender.email.split("@", 1)[0]):
        return "no-reply address"
    if not any(_base(a.email) in own for a in (*meta.to, *meta.cc)):
        return "not addressed to you"
    return None


def _is_calendar_response(msg: Message, subject: str) -> bool:
    if _CALENDAR_SUBJECT.match(subject):
        return True
    seen = 0
    for part in msg.walk():
        seen += 1
        if seen > _MAX_PARTS:
            break
        if part.get_content_type() != "text/calendar":
            continue
        method = str(part.get_param("method") or "").upper()
        if method == "REPLY" or (not method and "METHOD:REPLY" in decode_payload(part)[:4000].upper()):
            return True
    return False


def _lower_keys(msg: Message) -> set[str]:
    return {str(k).lower() for k in msg}


def _base(address: str) -> str:
    """Lower-cased, without a "+tag": "Alex+track@Example.com" is alex@example.com."""
    local, at, domain = address.strip().lower().partition("@")
    return f"{local.split('+', 1)[0]}{at}{domain}"


_NO_REPLY = lazy_pattern(r"(?i)(?:^|[-_.])(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|donotreply|noreply|notifications?"
                         r"|mailer[-_.]?daemon|bounces?|ne[-_.]?pas[-_.]?repondre|nepasrepondre|no[-_.]?responder"
                         r"|noresponder|no[-_.]?contestar|keine[-_.]?antwort|nicht[-_.]?antworten)(?:$|[-_.+])")
#: Addresses that are mailing lists by their shape: "dev-l@", "users@lists.x.org", "team@googlegroups.com".
_LIST_ADDRESS = lazy_pattern(r"(?i)(?:-(?:l|list|users|devel|dev|announce|discuss|general)@|@(?:lists?|groups)\."
                             r"|@googlegroups\.com$|@freelists\.)")
_CALENDAR_SUBJECT = lazy_pattern(
    r"(?i)\s*(?:accepted|declined|tentative|tentatively accepted|angenommen|abgelehnt|mit vorbehalt angenommen"
    r"|vorläufig angenommen|accepté|refusé|provisoire|accepté provisoirement|aceptado|rechazado"
    r"|aceptado provisionalmente|provisional)\s*:"
)

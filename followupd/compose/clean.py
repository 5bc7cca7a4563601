"""Text from other people, made safe to reuse: in a header (one line, no control characters) or in a body.

A decoded hostile encoded-word can carry CR/LF; everything a template or a header reuses passes here, so no
value can smuggle a header into a draft.

``reply_subject("")`` is ``"Re:"``, what mail clients produce; Gmail threads on the normalised subject, and
an invented ``(no subject)`` would not match the empty original.
"""

from __future__ import annotations

import re
import unicodedata

from followupd.mail.patterns import lazy_pattern

#: Reply and forward prefixes, stacked or numbered ("RE[2]:"), that a reply subject drops.
REPLY_PREFIX = lazy_pattern(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|odp|res)\s*(?:\[\d+\]|\(\d+\))?\s*[:\uff1a]\s*", re.IGNORECASE
)


def clean_text(text: str) -> str:
    """Body text: newlines normalised to LF, tabs kept, other control characters dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROL_CHARS.sub("", text)


def reply_subject(original: str) -> str:
    """"Re: " + the original without stacked Re:/Fwd:/AW:/SV:/RE[2]: prefixes, the original's case kept."""
    base = strip_reply_prefixes(sanitize_header_value(original))
    return f"Re: {base}" if base else "Re:"


def strip_reply_prefixes(subject: str) -> str:
    while True:
        stripped = REPLY_PREFIX.sub("", subject, count=1)
        if stripped == subject:
            return subject.strip()
        subject = stripped


def sanitize_header_value(value: str) -> str:
    """CR, LF and every other control or line-separator character become a space; whitespace collapses.

    A decoded hostile encoded-word can carry CR/LF (shared FACTS.md): anything reused in a header passes here.
    """
    return " ".join(_CONTROL_CHARS.sub(" ", value).split())


#: Exactly the characters :func:`_is_control` accepts (Unicode categories Cc, Zl and Zp: a test holds the line),
#: as one pattern: checking them a character at a time made cleaning most of the cost of a render, and the
#: start-up check renders every template for every sample.
_CONTROL_CHARS = lazy_pattern("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
#: The same without tab and newline, which a body keeps.
_BODY_CONTROL_CHARS = lazy_pattern("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _is_control(ch: str) -> bool:
    return unicodedata.category(ch) in ("Cc", "Zl", "Zp")

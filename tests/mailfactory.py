"""Build raw RFC 5322 messages in one line, for tests and demos.

Why raw bytes and not ``EmailMessage``: tests must be able to feed the server (and our parsers) exactly what
real clients send, including things ``EmailMessage`` would normalise or refuse: repeated headers, comments in
In-Reply-To, odd folding. So this writes the header lines itself and only helps with the boring parts (CRLF,
defaults, a unique Message-ID, encoded words for non-ASCII text).

    raw = make_message(subject="Quote", to="bob@example.org", bcc="me+followup@example.test",
                       x_followupd_id="abc", body="Hi Bob")

Keyword names map to header names: ``_`` becomes ``-``, words are capitalised, and the usual acronyms are kept
(``message_id`` -> ``Message-ID``, ``mime_version`` -> ``MIME-Version``, ``x_followupd_id`` ->
``X-Followupd-Id``); ``from_`` is ``From``. A key that already contains ``-`` is used verbatim:
``make_message(**{"X-Weird_Name": "v"})``. A value of ``None`` drops a default header; a list or tuple repeats
the header once per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from email.header import Header
from email.utils import format_datetime, make_msgid

__all__ = ["header_name", "make_message"]

HeaderValue = str | datetime | Sequence[str] | None

_SPECIAL_WORDS = {"mime": "MIME", "spf": "SPF", "dkim": "DKIM", "arc": "ARC", "ms": "MS"}
# Standard names whose spelling the generic rule would miss (header names are case-insensitive, RFC 5322
# §1.2.2, but readable fixtures use the spelling people grep for). Anything else ending in _id becomes "-Id".
_KNOWN_NAMES = {
    "message_id": "Message-ID",
    "resent_message_id": "Resent-Message-ID",
    "content_id": "Content-ID",
    "list_id": "List-Id",
}
_DEFAULT_DOMAIN = "example.test"


def header_name(key: str) -> str:
    """Turn a Python keyword (``in_reply_to``) into a header name (``In-Reply-To``)."""
    if "-" in key:
        return key
    if key.lower() in _KNOWN_NAMES:
        return _KNOWN_NAMES[key.lower()]
    words = [word for word in key.split("_") if word]
    return "-".join(_SPECIAL_WORDS.get(word.lower(), word.capitalize()) for word in words)


def _encode(value: str) -> str:
    """Leave ASCII alone; wrap anything else in an RFC 2047 encoded word, as a mail client would."""
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


def make_message(*, body: str = "Hello,\n\njust checking in.\n", domain: str = _DEFAULT_DOMAIN,
                 **headers: HeaderValue) -> bytes:
    """A complete message as CRLF bytes, with From/To/Subject/Date/Message-ID defaults.

    ``date`` may be a ``datetime`` (aware, or naive meaning UTC). A non-ASCII body is sent as 8bit UTF-8 with
    the MIME headers it needs; the caller can override those too.
    """
    values: dict[str, HeaderValue] = {
        "From": f"Alice <alice@{domain}>",
        "To": "Bob <bob@example.org>",
        "Subject": "Hello",
        "Date": datetime.now(UTC),
        "Message-ID": make_msgid(domain=domain),  # domain= so it never depends on the host name
    }
    if not body.isascii():
        values["MIME-Version"] = "1.0"
        values["Content-Type"] = 'text/plain; charset="utf-8"'
        values["Content-Transfer-Encoding"] = "8bit"
    # Later keys win, case-insensitively, but keep the caller's spelling and order after the defaults.
    for key, value in headers.items():
        name = "From" if key == "from_" else header_name(key)
        for existing in [k for k in values if k.lower() == name.lower()]:
            del values[existing]
        values[name] = value

    lines: list[str] = []
    for name, value in values.items():
        if value is None:
            continue
        items: Sequence[str | datetime] = (
            [value] if isinstance(value, str | datetime) else list(value)
        )
        for item in items:
            if isinstance(item, datetime):
                text = format_datetime(item if item.tzinfo else item.replace(tzinfo=UTC))
            else:
                text = _encode(item)
            # Folding (a line break followed by white space, RFC 5322 §2.2.3) is allowed so tests can send
            # folded headers; any other line break would start a new header and is refused.
            text = text.replace("\r\n", "\n")
            if "\r" in text or any(part[:1] not in (" ", "\t") for part in text.split("\n")[1:]):
                raise ValueError(f"header {name} contains a line break that is not folding: {text!r}")
            lines.append(f"{name}: {text}".replace("\n", "\r\n"))
    text_body = body.replace("\r\n", "\n").replace("\n", "\r\n")
    return ("\r\n".join(lines) + "\r\n\r\n" + text_body).encode("utf-8")

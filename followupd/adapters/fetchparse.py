"""A reader for the untagged FETCH answers of a bulk header fetch, as imaplib hands them over.

Why not imapclient's parser: ``imapclient.response_parser.parse_fetch_response`` runs every byte of the answer
through a pure-Python lexer, one character at a time. Measured on a 20,000-message first sync it was about 80 %
of the whole run, and it is what kept followupd's first sync 4-5x slower than a client that reads the same
bytes (imap-tools). imaplib, underneath imapclient, has already done the hard part when we get the data: it
read each response line and each literal (``{N}`` followed by N raw bytes, RFC 3501 §4.3) exactly, so no
byte of a header is ever scanned for syntax. What is left is the short line around the literals
(``12 (UID 40 FLAGS (\\Seen) INTERNALDATE "..." BODY[HEADER.FIELDS (...)] {345}``), which one compiled regex
splits into tokens in C. No maintained library parses *that* shape (imaplib's own ``ParseFlags`` and
``Internaldate2tuple`` read one item each from a whole line and accept no literals; imap-tools keeps the raw
lines and slices them with regexes per attribute), so this module is ours, kept small and pure.

The shape (RFC 3501 §7.4.2, §9 ``msg-att``): ``seq (NAME value NAME value ...)``, where a value is a number, an
atom, ``NIL``, a quoted string, a literal, or a parenthesised list of those. Names are compared upper-case; a
section name keeps its ``[...]`` part (``BODY[HEADER.FIELDS (A B)]``) and partial origin (``<0>``). imaplib
gives one message's answer as zero or more ``(text ending in {N}, literal)`` pairs followed by the closing text.

Nothing here touches the network: :func:`parse_fetch_data` takes what ``imaplib.IMAP4._untagged_response``
returned and gives ``(sequence number, {name: value})`` per message; an answer it cannot read raises
:class:`FetchSyntaxError` for that message only, so the caller can log it and go on with the rest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

from followupd.errors import FetchSyntaxError
from followupd.mail.patterns import lazy_pattern

__all__ = ["FetchItem", "FetchValue", "parse_fetch_data", "parse_internaldate",
           "parse_message"]

#: A parsed value: a number, bytes (atom, quoted string or literal), None (``NIL``) or a list of values.
FetchValue = int | bytes | None | tuple["FetchValue", ...]
#: What imaplib stores per untagged FETCH line: plain text, or (text ending in ``{N}``, the N bytes read).
FetchItem = bytes | tuple[bytes, bytes] | None


# One alternative per token kind, the commonest first; findall walks a whole line in C and whitespace between
# tokens is skipped because nothing matches it. Anything that fits no kind lands in the last group and makes
# the line invalid.
_TOKENS = lazy_pattern(
    rb"""
      ([^\x00-\x20\x7f()"{}\[\]]+(?:\[[^\]\r\n]*\](?:<\d+>)?)?)  # 1: atom or number, maybe with a [section]<n>
    | (\()                                             # 2: list opens
    | (\))                                             # 3: list closes
    | "((?:[^"\\\r\n]|\\["\\])*)"                      # 4: quoted string, only \" and \\ escaped (RFC 3501 4.3)
    | \{(\d+)\+?\}[ \t]*\Z                             # 5: literal announced at the end of the line
    | (\S)                                             # 6: anything else: not IMAP
    """,
    re.VERBOSE,
)
_UNESCAPE = lazy_pattern(rb"\\([\"\\])")


class _Mark:
    """A list bracket in the token list: never equal to any value (values are int, bytes or None)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


_OPEN, _CLOSE = _Mark("'('"), _Mark("')'")
_Token = FetchValue | _Mark


def _tokens(parts: Sequence[tuple[bytes, bytes | None]]) -> list[_Token]:
    """One message's answer as a flat list: values, and the marks for list brackets; literals spliced in."""
    tokens: list[_Token] = []
    append = tokens.append
    for text, literal in parts:
        announced = False
        for atom, opened, closed, quoted, size, bad in _TOKENS.findall(text):
            if atom:
                if atom.isdigit():
                    append(int(atom))
                elif atom.upper() == b"NIL":
                    append(None)
                else:
                    append(atom)
            elif opened:
                append(_OPEN)
            elif closed:
                append(_CLOSE)
            elif size:
                if literal is None or len(literal) != int(size):
                    raise FetchSyntaxError(f"literal of {int(size)} bytes announced, "
                                           f"{'none' if literal is None else len(literal)} bytes followed")
                announced = True
                append(literal)
            elif bad:
                raise FetchSyntaxError(f"unexpected {bad!r} in {text[:120]!r}")
            else:  # a quoted string (empty or not: every other group is empty)
                append(_UNESCAPE.sub(rb"\1", quoted) if b"\\" in quoted else quoted)
        if literal is not None and not announced:
            raise FetchSyntaxError(f"a literal followed a line that announced none: {text[:120]!r}")
    return tokens


def parse_message(parts: Sequence[tuple[bytes, bytes | None]]) -> tuple[int, dict[bytes, FetchValue]]:
    """One message's answer, ``seq (NAME value ...)``, as its sequence number and a dict of upper-case names.

    A name given twice keeps its last value (a server that repeats FLAGS means the later one).
    """
    tokens = _tokens(parts)
    count = len(tokens)
    seq = tokens[0] if tokens else None
    if not isinstance(seq, int):
        raise FetchSyntaxError(f"a FETCH answer must start with a message number, not {parts[0][0][:60]!r}")
    if count < 2 or tokens[1] is not _OPEN:
        raise FetchSyntaxError("the message number is not followed by '('", seq)
    items: dict[bytes, FetchValue] = {}
    at = 2
    while True:
        if at >= count:
            raise FetchSyntaxError("the list of items is not closed", seq)
        name = tokens[at]
        if name is _CLOSE:
            at += 1
            break
        if not isinstance(name, bytes):
            raise FetchSyntaxError(f"expected an item name, found {name!r}", seq)
        if at + 1 >= count:
            raise FetchSyntaxError("an item has no value", seq)
        value = tokens[at + 1]
        if value is _OPEN:
            value, at = _list(tokens, at + 2, seq)
        elif value is _CLOSE:
            raise FetchSyntaxError("')' where a value belongs", seq)
        else:
            at += 2
        items[name.upper()] = value  # type: ignore[assignment]  # a _Mark never gets here
    if at != count:
        raise FetchSyntaxError("text after the closing ')'", seq)
    return seq, items


def _list(tokens: list[_Token], at: int, seq: int) -> tuple[FetchValue, int]:
    """The list whose '(' came just before ``at``, maybe nested (BODYSTRUCTURE, X-GM-LABELS), and where it ends.

    An explicit stack, so hostile nesting cannot recurse."""
    stack: list[list[FetchValue]] = [[]]
    count = len(tokens)
    while at < count:
        token = tokens[at]
        at += 1
        if token is _OPEN:
            stack.append([])
        elif token is _CLOSE:
            done = tuple(stack.pop())
            if not stack:
                return done, at
            stack[-1].append(done)
        else:
            stack[-1].append(token)  # type: ignore[arg-type]  # not a _Mark: both were handled above
    raise FetchSyntaxError("a list is not closed", seq)


def parse_fetch_data(data: Sequence[FetchItem]) -> Iterator[tuple[int, dict[bytes, FetchValue]] | FetchSyntaxError]:
    """Every message in imaplib's untagged FETCH list, in order; a message that cannot be read comes as the error.

    imaplib keeps ``None`` for "no FETCH answer at all"; it is skipped. Answers are grouped by imaplib's
    own framing (pairs up to the plain closing line), so one malformed message never shifts the next.
    """
    pending: list[tuple[bytes, bytes | None]] = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            pending.append((bytes(item[0]), bytes(item[1])))
            continue
        pending.append((bytes(item), None))
        try:
            yield parse_message(pending)
        except FetchSyntaxError as exc:
            yield exc
        pending = []
    if pending:
        yield FetchSyntaxError(f"a FETCH answer ends after a literal: {pending[0][0][:60]!r}")


_MONTHS = {name: number for number, name in enumerate(
    (b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"), start=1)}
# RFC 3501 §9 date-time: "dd-Mon-yyyy hh:mm:ss +zzzz", the day space-padded or two digits.
_INTERNALDATE = lazy_pattern(rb" ?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")


def parse_internaldate(value: FetchValue) -> datetime | None:
    """INTERNALDATE as an aware datetime, or None when absent or unreadable.

    By hand for the RFC's fixed format because ``strptime``'s ``%b`` follows the process locale and costs
    about 10 µs; anything else a server sends is tried as an RFC 5322 date (``email.utils``).
    """
    if not isinstance(value, bytes):
        return None
    match = _INTERNALDATE.fullmatch(value)
    if match is not None:
        day, month, year, hour, minute, second, sign, zh, zm = match.groups()
        number = _MONTHS.get(month.upper())
        if number is not None:
            offset = timedelta(hours=int(zh), minutes=int(zm))
            try:
                return datetime(int(year), number, int(day), int(hour), int(minute), int(second),
                                tzinfo=timezone(-offset if sign == b"-" else offset))
            except ValueError:
                return None
    try:
        parsed = parsedate_to_datetime(value.decode("ascii", "replace"))
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None

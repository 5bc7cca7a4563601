"""The bulk header FETCH reader (followupd.adapters.fetchparse), on the shapes real and odd servers send.

Pure: the inputs are what imaplib stores for untagged FETCH answers (plain lines, and (line ending in {N},
literal) pairs). The same reader on a real Dovecot is covered by tests/test_imap.py and tests/faults/ (hostile
batch, connections cut mid header FETCH); here every branch of the grammar, compared with imapclient's own
parser where both read the same answer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from imapclient.response_parser import parse_fetch_response

from followupd.adapters.fetchparse import parse_fetch_data, parse_internaldate, parse_message
from followupd.errors import FetchSyntaxError

HEADER = b"Message-ID: <a@example.org>\r\nSubject: Hello\r\n\r\n"


def _ok(data: list[bytes | tuple[bytes, bytes] | None]) -> list[tuple[int, dict[bytes, object]]]:
    out = list(parse_fetch_data(data))
    assert not [e for e in out if isinstance(e, FetchSyntaxError)], out
    return out  # type: ignore[return-value]


def test_dovecot_shape_with_a_literal() -> None:
    data = [(b'12 (UID 40 INTERNALDATE "09-Nov-2026 10:00:00 +0100" RFC822.SIZE 2345 FLAGS (\\Seen $Junk) '
             b'BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)] {%d}' % len(HEADER), HEADER), b")"]
    [(seq, items)] = _ok(data)
    assert seq == 12
    assert items == {b"UID": 40, b"INTERNALDATE": b"09-Nov-2026 10:00:00 +0100", b"RFC822.SIZE": 2345,
                     b"FLAGS": (b"\\Seen", b"$Junk"), b"BODY[HEADER.FIELDS (MESSAGE-ID SUBJECT)]": HEADER}


def test_literal_in_the_middle_and_two_literals() -> None:
    other = b"X-A: 1\r\n\r\n"
    data = [(b"3 (BODY[HEADER.FIELDS (SUBJECT)] {%d}" % len(HEADER), HEADER),
            (b" BODY[HEADER.FIELDS (X-A)] {%d}" % len(other), other),
            b' UID 7 FLAGS ())']
    [(seq, items)] = _ok(data)
    assert (seq, items[b"UID"], items[b"FLAGS"]) == (3, 7, ())
    assert items[b"BODY[HEADER.FIELDS (SUBJECT)]"] == HEADER and items[b"BODY[HEADER.FIELDS (X-A)]"] == other


def test_odd_servers_quoted_body_nil_lower_case_quoted_field_names_and_partial() -> None:
    data = [b'1 (uid 5 body[header.fields ("MESSAGE-ID" "SUBJECT")] "" rfc822.size 0 flags (\\Recent))',
            b"2 (UID 6 BODY[HEADER.FIELDS (SUBJECT)] NIL FLAGS ())",
            b'3 (UID 8 BODY[HEADER]<0> "Subject: a \\"quoted\\" \\\\ one")',
            (b"4 (UID 9 BODY[HEADER] {0}", b""), b" X-GM-LABELS (\\Inbox (nested x) \"a b\"))"]
    parsed = dict(_ok(data))
    assert parsed[1] == {b"UID": 5, b'BODY[HEADER.FIELDS ("MESSAGE-ID" "SUBJECT")]': b"", b"RFC822.SIZE": 0,
                         b"FLAGS": (b"\\Recent",)}
    assert parsed[2][b"BODY[HEADER.FIELDS (SUBJECT)]"] is None
    assert parsed[3][b"BODY[HEADER]<0>"] == b'Subject: a "quoted" \\ one'
    assert parsed[4] == {b"UID": 9, b"BODY[HEADER]": b"", b"X-GM-LABELS": (b"\\Inbox", (b"nested", b"x"), b"a b")}


def test_literal_plus_marker_and_literal_bytes_that_look_like_syntax() -> None:
    nasty = b'") {5}\r\n* 9 FETCH (UID 1)\r\n(((\r\n\r\n'
    data = [(b"5 (UID 50 BODY[HEADER] {%d+}" % len(nasty), nasty), b")"]
    [(_, items)] = _ok(data)
    assert items[b"BODY[HEADER]"] == nasty  # a literal is data, never read for syntax


@pytest.mark.parametrize("data", [
    [b"(UID 5)"],                                   # no message number
    [b"5 UID 5"],                                   # no list
    [b"5 (UID 5"],                                  # list not closed
    [b"5 (UID)"],                                   # item without a value
    [b"5 (UID 5) trailing"],                        # text after the list
    [b'5 (UID 5 INTERNALDATE "unterminated)'],      # broken quoted string
    [b"5 (UID 5 FLAGS (\\Seen)"],                   # inner list closes, outer does not
    [b"5 (UID 5 BODY[HEADER] {12})"],               # literal announced mid-line
    [(b"5 (UID 5 BODY[HEADER] {10}", b"short"), b")"],  # literal shorter than announced
    [(b"5 (UID 5 BODY[HEADER] NIL", b"x"), b")"],   # literal nobody announced
    [b"5 (UID 5 ] x)"],                             # stray bracket
    [b"5 (5 6)"],                                   # a number where a name belongs
])
def test_malformed_answers_are_errors_for_that_message_only(data: list[bytes | tuple[bytes, bytes]]) -> None:
    good = b"6 (UID 66 FLAGS ())"
    out = list(parse_fetch_data([*data, good]))
    assert isinstance(out[0], FetchSyntaxError)
    assert out[-1] == (6, {b"UID": 66, b"FLAGS": ()})  # the next message is read as if nothing happened


def test_error_names_the_message_number() -> None:
    with pytest.raises(FetchSyntaxError) as caught:
        parse_message([(b"17 (UID 5 FLAGS (\\Seen", None)])
    assert caught.value.seq == 17


def test_none_means_no_answer_and_a_dangling_literal_is_an_error() -> None:
    assert list(parse_fetch_data([None])) == []
    [error] = list(parse_fetch_data([(b"1 (BODY[HEADER] {1}", b"x")]))
    assert isinstance(error, FetchSyntaxError)


def test_deep_nesting_does_not_recurse() -> None:
    deep = b"1 (X " + b"(" * 50_000 + b")" * 50_000 + b")"
    [(seq, items)] = _ok([deep])
    assert seq == 1 and isinstance(items[b"X"], tuple)


def test_internaldate() -> None:
    assert parse_internaldate(b"09-Nov-2026 10:00:00 +0100") == datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    assert parse_internaldate(b" 9-nov-2026 10:00:00 -0230") == datetime(
        2026, 11, 9, 10, 0, tzinfo=timezone(-timedelta(hours=2, minutes=30)))
    # Not the RFC's format but a date all the same (some servers send RFC 5322 dates).
    assert parse_internaldate(b"Mon, 09 Nov 2026 10:00:00 +0000") == datetime(2026, 11, 9, 10, 0, tzinfo=UTC)
    for bad in (b"31-Feb-2026 10:00:00 +0000", b"09-Foo-2026 10:00:00 +0000", b"yesterday", b"", None, 5):
        assert parse_internaldate(bad) is None


_atoms = st.from_regex(rb"\A[A-Za-z$\\][A-Za-z0-9$.-]{0,8}\Z").filter(lambda a: a.upper() != b"NIL")
_quoted = st.binary(max_size=30).map(lambda b: bytes(c for c in b if 32 <= c < 127))


@given(uid=st.integers(1, 2**32 - 1), size=st.integers(0, 10**9), flags=st.lists(_atoms, max_size=5),
       header=st.binary(max_size=300), date=_quoted)
def test_agrees_with_imapclient(uid: int, size: int, flags: list[bytes], header: bytes, date: bytes) -> None:
    """Where imapclient's parser reads an answer, ours reads the same values (imapclient converts dates)."""
    escaped = date.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
    head = (b'1 (UID %d RFC822.SIZE %d FLAGS (%s) X-DATE "%s" BODY[HEADER.FIELDS (SUBJECT)] {%d}'
            % (uid, size, b" ".join(flags), escaped, len(header)))
    data = [(head, header), b")"]
    [(seq, ours)] = _ok(data)
    theirs = parse_fetch_response(data, normalise_times=False, uid_is_key=True)[uid]
    assert seq == theirs[b"SEQ"] and ours[b"UID"] == uid  # imapclient keys its answer by UID
    for key in (b"RFC822.SIZE", b"FLAGS", b"BODY[HEADER.FIELDS (SUBJECT)]", b"X-DATE"):
        assert ours[key] == theirs[key], key

"""The header-block fast path (followupd.mail.headerblock) gives exactly the stdlib's compat32 fields, or declines.

Equal means: where :func:`split_plain` answers, ``BytesHeaderParser(policy=compat32)`` finds no defect and
its ``raw_items()`` are the same list; where it declines, the stdlib runs as before. Held on the real-world
and hostile corpora, on generated real-world header blocks (bench/mailgen.py), on every one of them cut as a
HEADER.FIELDS FETCH returns it, and on hypothesis-made blocks built from the characters that matter.
"""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from email import policy
from email.parser import BytesHeaderParser
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from followupd.mail.headerblock import split_plain
from followupd.mail.headers import FETCH_HEADER_FIELDS, parse_headers

DATA = Path(__file__).parent / "data"
sys.path.insert(0, str(Path(__file__).parent.parent / "bench"))
_STDLIB = BytesHeaderParser(policy=policy.compat32)


def _check(raw: bytes) -> bool:
    """True when the fast path answered (and agreed); False when it declined."""
    fast = split_plain(raw)
    if fast is None:
        return False
    msg = _STDLIB.parsebytes(raw)
    assert msg.defects == [], (raw[:300], msg.defects)
    assert fast == list(msg.raw_items()), raw[:300]
    return True


def _only_fetched(raw: bytes) -> bytes:
    """The header block as ``BODY.PEEK[HEADER.FIELDS (...)]`` returns it: only the fetched fields, blank line."""
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    wanted = {f.lower().encode() for f in FETCH_HEADER_FIELDS}
    out, keep = [], False
    for line in head.replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if keep:
                out.append(line)
            continue
        keep = line.split(b":", 1)[0].strip().lower() in wanted
        if keep:
            out.append(line)
    return b"\r\n".join(out) + b"\r\n\r\n"


def _corpus() -> list[bytes]:
    files = sorted(DATA.glob("mail/**/*.eml")) + sorted(DATA.glob("hostile/*.eml"))
    return [path.read_bytes() for path in files]


def test_real_world_and_hostile_mail_whole_and_as_fetched() -> None:
    answered = 0
    for raw in _corpus():
        for block in (raw, _only_fetched(raw)):
            answered += _check(block)
    assert answered >= 30  # the fast path does serve ordinary mail


def test_generated_real_world_header_blocks() -> None:
    import mailgen

    box = mailgen.build(total=1_500, threads=60, user="alex@example.test", tracking="alex+followup@example.test",
                        now=datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    answered = sum(_check(_only_fetched(m.raw)) for m in box.messages)
    assert answered == len(box.messages)  # every generated block is plain: all take the fast path
    for message in box.messages[:300]:
        _check(message.raw)


def test_mutated_blocks() -> None:
    rng = random.Random(16)
    pieces = [b"\r\n", b"\n", b"\r", b" ", b"\t", b":", b"From ", b"\xe9", b"\x00", b"X", b"\r\n \r\n", b"\r\n\r\n"]
    for raw in _corpus():
        block = _only_fetched(raw)
        for _ in range(40):
            cut = bytearray(block)
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(cut) + 1)
                cut[at:at + rng.randint(0, 3)] = rng.choice(pieces)
            _check(bytes(cut))


_LINE = st.lists(st.sampled_from([b"Subject", b"From", b"To", b"X-A", b"From ", b" ", b"\t", b":", b": ", b"a",
                                  b"\xe9", b"\x00", b"\r", b"\r\n", b"\n", b"<id@x>", b"=?utf-8?q?x?="]),
                 max_size=12).map(b"".join)


@settings(max_examples=400)
@given(st.lists(_LINE, max_size=8), st.sampled_from([b"\r\n", b"\n"]))
def test_hypothesis_blocks(lines: list[bytes], newline: bytes) -> None:
    _check(newline.join(lines) + newline + newline)
    _check(newline.join(lines))


def test_parse_headers_reports_the_same_problems_either_way() -> None:
    """A block the fast path takes and the same block with a defect in front: the defect is still named."""
    plain = b"Message-ID: <a@example.org>\r\nSubject: Hi\r\n\r\n"
    assert split_plain(plain) is not None
    assert not [p for p in parse_headers(plain).problems if p.startswith("header defect")]
    broken = b" continued first\r\n" + plain
    assert split_plain(broken) is None
    assert "header defect: FirstHeaderLineIsContinuationDefect" in parse_headers(broken).problems

"""Hostile mail: the hand-made corpus, the big generated ones, a hypothesis strategy, and the pure pipeline.

:func:`run_pipeline` takes one raw message the whole way a cycle would, without a server: parse, classify,
look for the tracking address, match against open threads, then read the body as the engine does for replies,
out-of-office notices and bounces. The parsers end in a last-resort ``except Exception`` (one bad message must
never stop a cycle), which would also hide a real crash from a test; so where a module has an inner function
without that net, the pipeline calls it directly: a crash there is a bug even if users would never see it.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from followupd.mail import bodytext, dsn, exchange, headers, intent, internal_errors, ooo
from followupd.mail.headers import MessageKind, parse_headers
from followupd.planning import interpret
from followupd.planning.cadence import CadenceSettings
from followupd.planning.interpret import ReplySettings
from followupd.planning.matching import ThreadIndex, ThreadKey, match_message
from followupd.planning.tracking import find_tracking

CORPUS = Path(__file__).parent.parent / "data" / "hostile"
OWN = "alex@example.test"
TRACKING = "alex+followup@example.test"
TRACKED_ID = "<tracked-hostile@example.test>"
SENT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
RECEIVED = datetime(2026, 11, 9, 12, 0, tzinfo=UTC)
TZ = ZoneInfo("Europe/Berlin")
INDEX_THREADS = (
    ThreadKey("tracked", frozenset({TRACKED_ID, "<followupd.tracked.1@example.test>"}),
              frozenset({"bob@example.org"}), headers.base_subject("Quote for the garden shed"), SENT),
    ThreadKey("loops", frozenset({"<loop-a@example.org>"}), frozenset({"carol@example.org"}), "loop", SENT),
)
_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


def hand_made() -> list[tuple[str, bytes]]:
    """The files in tests/data/hostile, by name."""
    return [(path.name, path.read_bytes()) for path in sorted(CORPUS.glob("*.eml"))]


def generated() -> list[tuple[str, bytes]]:
    """Inputs too big to keep in the repository: 1 MB headers, 10,000 header lines, deep MIME nesting."""
    top = b"From: Mallory <mallory@evil.example>\r\nTo: alex@example.test\r\nDate: Mon, 09 Nov 2026 10:00:00 +0000\r\n"
    words = b"\r\n ".join([b"word " * 14] * 15_000)
    ids = b"\r\n ".join(b"<id%d@flood.example>" % i for i in range(25_000)) + b"\r\n <loop-a@example.org>"
    rcpts = b",\r\n ".join(b"r%d@flood.example" % i for i in range(30_000))
    nested = b"".join(b'--b%d\r\nContent-Type: multipart/mixed; boundary="b%d"\r\n\r\n' % (i, i + 1)
                      for i in range(300))
    return [
        ("1mb-subject", top + b"Message-ID: <big-subject@evil.example>\r\nSubject: " + words + b"\r\n\r\nx\r\n"),
        ("1mb-references", top + b"Message-ID: <big-refs@evil.example>\r\nSubject: Re: refs\r\nReferences: " + ids
         + b"\r\n\r\nx\r\n"),
        ("1mb-to-list", b"From: Mallory <mallory@evil.example>\r\nMessage-ID: <big-to@evil.example>\r\nTo: " + rcpts
         + b"\r\nSubject: everyone\r\n\r\nx\r\n"),
        ("1mb-unfolded-line", top + b"Message-ID: <big-line@evil.example>\r\nSubject: long\r\nIn-Reply-To: "
         + b"<" + b"x" * 1_000_000 + b"@example.test>\r\n\r\nx\r\n"),
        ("10k-header-lines", top + b"".join(b"Received: from hop%d by hop%d\r\n" % (i, i + 1) for i in range(10_000))
         + b"Message-ID: <many-lines@evil.example>\r\nSubject: hops\r\n\r\nx\r\n"),
        ("mime-nested-300", top + b'Message-ID: <nested@evil.example>\r\nSubject: nest\r\nMIME-Version: 1.0\r\n'
         b'Content-Type: multipart/mixed; boundary="b0"\r\n\r\n' + nested + b"deep\r\n"),
    ]


def mutated(rng: random.Random, count: int) -> list[tuple[str, bytes]]:
    """``count`` hand-made messages with random bytes inserted, deleted or swapped (for the Dovecot batch)."""
    base = hand_made()
    out = []
    for n in range(count):
        name, raw = rng.choice(base)
        data = bytearray(raw[:20_000])
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data) + 1)
            op = rng.random()
            if op < 0.4:
                data[at:at] = rng.choice([b"\x00", b"\r\n", b"=?", b"?=", b"<", b">", b"\r\n\r\n", b"\xff",
                                          b": ", b"--", TRACKED_ID.encode()])
            elif op < 0.7:
                del data[at:at + rng.randint(1, 40)]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 10)))
        out.append((f"mutated-{n}-{name}", bytes(data)))
    return out


# ------------------------------------------------------------------------------------------ hypothesis

_NAMES = ["From", "To", "Cc", "Bcc", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "Reply-To",
          "Sender", "Auto-Submitted", "X-Autoreply", "X-Autorespond", "Precedence", "List-Id", "Return-Path",
          "Delivered-To", "X-Original-To", "Thread-Index", "Thread-Topic", "X-MS-Exchange-Parent-Message-Id",
          "X-Failed-Recipients", "X-Followupd-Id", "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
          "X-Auto-Response-Suppress", "List-Unsubscribe"]
_FRAGMENTS = [TRACKED_ID, OWN, TRACKING, "alex+followup-fri@example.test", "alex+followup-me@example.test",
              "bob@example.org", "Bob <bob@example.org>", "<a@b>", "<>", "<@>", "=?utf-8?q?x=0D=0AY:_z?=",
              "=?utf-8?b?", "?=", "=?x-bad?q?y?=", "\x00", "\r\n ", "\r\n", "\t", "(", ")", "<", ">", ",", ";",
              '"', "\\", ":", "auto-replied", "auto-generated", "no", "bulk", "junk",
              "multipart/report; report-type=delivery-status; boundary=b", "multipart/mixed; boundary=",
              "text/plain; charset=utf-16", "text/html", "base64", "quoted-printable", "Re: ", "AW: ",
              "Automatic reply: ", "Quote for the garden shed", "Mon, 09 Nov 2026 10:00:00 +0000",
              "31 Feb 2026 99:99", "AQHX", "é", "\u202e", "\ufeff", "😀"]
_VALUE = st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=12), max_size=8).map("".join)
_BODIES = st.one_of(
    st.binary(max_size=400),
    st.lists(st.sampled_from([b"--b\r\n", b"Content-Type: message/delivery-status\r\n\r\n",
                              b"Final-Recipient: rfc822; bob@example.org\r\n", b"Action: failed\r\n",
                              b"Status: 5.1.1\r\n", b"Content-Type: text/plain; charset=utf-8\r\n\r\n",
                              b"I am out of the office until Monday 16 November.\r\n",
                              b"I'll get back to you next week.\r\n", b"No thanks, not interested.\r\n",
                              b"> quoted\r\n", b"On Mon, Bob wrote:\r\n", b"<div><p>html", b"=C3=A9=\r\n",
                              b"--b--\r\n", b"\x00\xff"]), max_size=15).map(b"".join),
)


@st.composite
def messages(draw: Callable[[Any], Any]) -> bytes:
    """Whole messages built from header names followupd reads and values made of nasty fragments."""
    lines = []
    for name, value in draw(st.lists(st.tuples(st.sampled_from(_NAMES), _VALUE), max_size=14)):
        lines.append(name.encode() + b": " + value.encode("utf-8", "surrogatepass"))
    separator = draw(st.sampled_from([b"\r\n\r\n", b"\n\n", b"\r\n", b""]))
    return b"\r\n".join(lines) + separator + draw(_BODIES)


# ------------------------------------------------------------------------------------------ the pipeline

def run_pipeline(raw: bytes) -> dict[str, Any]:
    """One message through parse, classify, tracking, matching and the body readers; returns what it found.

    Raises (AssertionError or the bug's own exception) on anything a cycle must never see, and fails when a
    never-raise reader swallowed a bug of its own (followupd/mail/internal_errors.py)."""
    internal_errors.clear()
    meta = parse_headers(raw)
    assert not any(p.startswith("internal error") for p in meta.problems), meta.problems
    assert "\r" not in meta.subject and "\n" not in meta.subject and "\x00" not in meta.subject
    for mid in (meta.message_id, *meta.in_reply_to, *meta.references):
        if mid is not None:
            assert _ID.fullmatch(mid), f"not a usable message id: {mid!r}"
    assert isinstance(meta.kind, MessageKind)
    candidates = [a.email for a in meta.all_recipients()] + list(meta.delivered_to)
    for address in candidates:
        assert "\r" not in address and "\n" not in address
    find_tracking(candidates, TRACKING, sent_on=date(2026, 11, 4))

    index = ThreadIndex(INDEX_THREADS)
    events = match_message(meta, index, own_addresses=frozenset({OWN}), arrived_at=RECEIVED)
    known = {mid for key in INDEX_THREADS for mid in key.message_ids}
    if meta.message_id in known:
        assert events == [], "a copy of a known message (or one posing as it) changed a thread"
    for event in events:
        assert event.thread_id in {key.thread_id for key in INDEX_THREADS}
        assert event.evidence and "\n" not in event.evidence

    text = bodytext.strip_quoted(bodytext.readable_text(raw))
    report = dsn.parse_dsn(raw)
    assert report is None or not report.internal_error, report
    # The public readers: a bug they swallow is recorded, and the check at the end fails on it.
    ooo.find_return(text, received=RECEIVED, tz=TZ)
    intent.reply_intent(text, received=RECEIVED, tz=TZ)
    replies, cadence = ReplySettings(), CadenceSettings()
    hold = interpret.out_of_office(raw, meta.subject, received=RECEIVED, replies=replies, cadence=cadence, tz=TZ)
    assert hold.until >= RECEIVED - timedelta(days=1)
    reading = interpret.human_reply(raw, received=RECEIVED, replies=replies, tz=TZ)
    assert "internal error" not in reading.evidence, reading
    if reading.kind == "holding":
        interpret.holding_until(reading, received=RECEIVED, replies=replies, cadence=cadence, tz=TZ)
    if meta.thread_index:
        exchange.thread_index_info(meta.thread_index)
        exchange.thread_topic_key(meta.thread_topic or meta.subject)
    dsn.classify_notice(raw, meta)
    bodytext.message_text(raw)
    recorded = internal_errors.recorded()
    assert not recorded, f"a never-raise reader caught its own bug: {recorded}; its traceback is in the log"
    return {"kind": meta.kind.value, "events": [e.kind.value for e in events], "problems": len(meta.problems)}

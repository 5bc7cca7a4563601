"""The sample weekly digest: every section filled, for the browser check and the README's snapshot.

Why one module: ``tests/test_digest_render.py`` renders exactly what ``scripts/digest-snapshot`` photographs for
``docs/digest.png``, so the picture in the README is of a digest the tests checked. ``sample()`` reads like a
real week; ``worst_case()`` is the same week written by people who make layouts break: a 200-character subject
without a space, a long address, a long unbroken user name, five-digit counts, eleven follow-ups of stats and
more open threads than a section lists (its "... and 4 more" line).
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import fields, replace
from datetime import date
from pathlib import Path

from followupd.compose.digest import (
    DigestClosed,
    DigestCommand,
    DigestDraft,
    DigestInput,
    DigestItem,
    DigestOwed,
    DigestPromise,
    DigestThread,
    build_digest,
)
from followupd.planning.stats import ThreadStats, TouchCount

TODAY = date(2026, 11, 30)  # a Monday
#: 200 characters and not one space: a pasted reference or a URL-like subject.
UNBREAKABLE_SUBJECT = ("Invoice-2026-11-RE-" + "ABCDEFGHIJ" * 19)[:200]
LONG_ADDRESS = "accounts.payable.department.for.the.northern.region@subsidiary-with-a-long-name.example.org"


def sample() -> DigestInput:
    """A realistic week with something in every section of the digest."""
    return DigestInput(
        today=TODAY, user_name="Alex Example",
        waiting=[DigestThread("Bob Builder", "Quote for the new roof", 9, 2, date(2026, 12, 2)),
                 DigestThread("ann@example.org", "Lunch next week?", 4, 1, date(2026, 12, 1)),
                 DigestThread("Carla Díaz", "Contract draft, second round", 2, 0, date(2026, 12, 3))],
        drafts=[DigestDraft("Dan Miller", "Re: Budget for Q1", date(2026, 11, 27)),
                DigestDraft("Eve Stone", "Re: Venue for the offsite", date(2026, 11, 29))],
        promises=[DigestPromise("Hal Ortiz", "Garden shed plans", date(2026, 12, 3)),
                  DigestPromise("Ida Park", "Numbers for the board", date(2026, 11, 26))],
        items=[DigestItem("Dana", "Send the slides", date(2026, 11, 27)),
               DigestItem("Dana", "Book the room", None),
               DigestItem("Sam", "Draft the press note", date(2026, 12, 4))],
        owed=[DigestOwed("Jo Lind", "Dinner on the 12th?", 6, "Are you free for dinner on the 12th?"),
              DigestOwed("Kim Weber", "Offer for the spring fair", 3, "Could you confirm the stand size by Friday?")],
        closed=[DigestClosed("Invoice 4711", "Eve", "replied", by="eve@example.org", touches=2),
                DigestClosed("Old plan", "Fay", "unanswered", touches=4),
                DigestClosed("Sponsorship offer", "Gus", "declined"),
                DigestClosed("Typo", "nobody@nowhere.example", "bounced")],
        commands=[DigestCommand("+followup-snooze-2w", "Quote for the new roof", "snoozed until Mon 14 Dec"),
                  DigestCommand("+followup-someday", "", "'someday' is not a date form; use 2w, 5d, fri or dec15",
                                applied=False)],
        stats=ThreadStats(tracked=42, replied=23, reply_rate=23 / 42,
                          by_touch=(TouchCount(0, 9), TouchCount(1, 7), TouchCount(2, 4), TouchCount(3, 2),
                                    TouchCount(4, 1), TouchCount(5, 0)),
                          by_template=(), median_days_to_reply=3.0, median_touches_to_reply=1.0,
                          declined=3, bounced=1))


def worst_case() -> DigestInput:
    """The same week with the longest words and numbers a digest meets, in every place they can go."""
    base = sample()
    subject, who = UNBREAKABLE_SUBJECT, LONG_ADDRESS
    return replace(
        base, user_name="Maximilianobartholomeusfriedrichwilhelm Example",
        waiting=[*base.waiting, DigestThread(who, subject, 12345, 11, None),
                 *(DigestThread(f"person{n}@example.org", f"Question {n}", 1, 0, None) for n in range(12))],
        drafts=[*base.drafts, DigestDraft(who, subject, date(2026, 11, 2))],
        promises=[*base.promises, DigestPromise(who, subject, date(2026, 11, 2))],
        items=[*base.items, DigestItem(who, subject, date(2026, 11, 2))],
        owed=[*base.owed, DigestOwed(who, subject, 12345, subject)],
        closed=[*base.closed, DigestClosed(subject, who, "replied", by=who, touches=11),
                DigestClosed(subject, who, "bounced")],
        commands=[*base.commands, DigestCommand("+followup-" + "x" * 80, subject, subject, applied=False)],
        stats=ThreadStats(tracked=123456, replied=99999, reply_rate=99999 / 123456,
                          by_touch=tuple(TouchCount(n, 99999 // (n + 1)) for n in range(12)),
                          by_template=(), median_days_to_reply=3.0, median_touches_to_reply=1.0,
                          declined=12345, bounced=12345))


def empty_fields(data: DigestInput) -> list[str]:
    """The fields of ``data`` with nothing in them: a sample with none left empty shows every section, also a
    section added to :class:`DigestInput` after this module was written (the test names the field to fill)."""
    return [f.name for f in fields(data) if not getattr(data, f.name) and f.name != "user_name"]


# -- the README's snapshot (docs/digest.png, made by scripts/digest-snapshot) ---------------------------------------

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "docs" / "digest.png"
#: The PNG text key under which the snapshot records the SHA-256 of the HTML it shows: the test compares it with
#: the sample's HTML now, so a change to the digest's look cannot leave an old picture in the README unnoticed.
SOURCE_KEY = "followupd-digest-html-sha256"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def sample_html_digest() -> str:
    """SHA-256 (hex) of the HTML part of :func:`sample`'s digest, as the builder makes it now."""
    digest = build_digest(sample())
    assert digest is not None
    return hashlib.sha256(digest.html.encode()).hexdigest()


# Why a few lines on PNG chunks instead of an image library: all that is needed is the width (IHDR) and one text
# chunk (tEXt), both fixed layouts of PNG's chunk format (length, type, data, CRC-32; RFC 2083 §3.2, §4.2.3.1),
# and Pillow would be a new test dependency for that alone.
def _chunks(png: bytes) -> Iterator[tuple[bytes, bytes]]:
    if not png.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    at = len(_PNG_SIGNATURE)
    while at + 8 <= len(png):
        (length,) = struct.unpack(">I", png[at:at + 4])
        yield png[at + 4:at + 8], png[at + 8:at + 8 + length]
        at += 12 + length


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, from the IHDR chunk."""
    for kind, data in _chunks(png):
        if kind == b"IHDR":
            width, height = struct.unpack(">II", data[:8])
            return width, height
    raise ValueError("PNG without IHDR")


def png_texts(png: bytes) -> dict[str, str]:
    """The tEXt chunks of a PNG, key to text (Latin-1, as the format defines them)."""
    return {key.decode("latin-1"): value.decode("latin-1")
            for kind, data in _chunks(png) if kind == b"tEXt" for key, _, value in [data.partition(b"\0")]}


def with_png_text(png: bytes, key: str, text: str) -> bytes:
    """``png`` with one tEXt chunk added right after IHDR (the first chunk, always 25 bytes with its frame)."""
    body = key.encode("latin-1") + b"\0" + text.encode("latin-1")
    chunk = struct.pack(">I", len(body)) + b"tEXt" + body + struct.pack(">I", zlib.crc32(b"tEXt" + body))
    after_ihdr = len(_PNG_SIGNATURE) + 25
    return png[:after_ihdr] + chunk + png[after_ihdr:]

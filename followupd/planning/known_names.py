"""Known names: what to call a person whose address the user wrote bare (``bob@example.com``).

A follow-up greets by the display name of the address in the tracked message's To/Cc. Many clients send only
the address when the user typed it by hand, and then the note could only say "Hi there,". The mailbox usually
knows better, and followupd already reads the headers that say so:

* **Their own name**: the display name in the From header of the person's own mail in the watched folders (a
  reply, or any earlier message, including mail from before the thread was tracked). Nobody spells a name
  better than its owner, so this one wins.
* **The name the user gave them**: a display name in To/Cc of the user's own sent mail (the Sent folder), e.g.
  from the address book of another client. Used when the person never wrote.

Rules (and why):

* A display name that is just an address again (``"bob@example.com" <bob@example.com>``), the bare local part
  in lower case (``bob <bob@example.com>``: a machine wrote it, "Hi bob," reads like one), undecoded
  (``=?utf-8?...``), without a letter, or very long, is no name.
* Role and robot names ("No-Reply", "Support Team", "Mail Delivery System", "Bob via LinkedIn") are no
  person's name: greeting them would show that nobody looked.
* Names that differ only in quoting or spacing (``"Bob Builder"``, ``'Bob Builder'``, ``Bob  Builder``) are
  one name: :func:`clean_name` evens them out, so the stored name does not flap.
* Per source the most recent name is kept (by the message's date), so a person who changed their display
  name is greeted by the new one.

Pure: plain values in and out; the engine stores what is learned (``followupd_meta``, one row per person,
keyed by a hash of the address, like :mod:`followupd.planning.recipient_clock`) and bounds how many it keeps.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from followupd.mail.patterns import lazy_pattern

#: The most people whose names are kept; beyond it the least recently seen are forgotten (the engine prunes).
MAX_PEOPLE = 5000
#: Pruning goes down to this many, so it runs once per many new people rather than in every cycle.
PRUNE_TO = 4500
#: Longer display names are signatures or slogans, not names.
MAX_NAME_LENGTH = 80

KEY_PREFIX = "name:"
OWN = "own"      # the person's own From header
GIVEN = "given"  # the user's own sent mail (To/Cc)

#: Quote characters that wrap a display name without being part of it (ASCII and typographic).
_QUOTES = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb"
#: Words that make a display name a role, a robot or a service rather than a person (compared lower-case,
#: word by word, after splitting on anything that is not a letter or digit).
_ROLE_WORDS = frozenset({
    "noreply", "donotreply", "postmaster", "notification", "notifications", "alert",
    "alerts", "support", "info", "team", "admin", "administrator", "billing", "sales", "newsletter", "helpdesk",
    "webmaster", "service", "services", "system", "automated", "robot", "bot", "via", "customer", "accounts",
    "reception", "office", "hr", "contact", "feedback", "enquiries", "inquiries", "marketing", "jobs",
    "careers", "calendar", "reminder", "reminders", "delivery", "mailbox", "unsubscribe",
})
#: Role phrases that only show when the words are joined ("no reply", "do-not-reply", "Mail Delivery").
_ROLE_JOINED = ("noreply", "donotreply", "mailerdaemon", "maildelivery", "helpdesk")
_WORD = lazy_pattern(r"[^\W_]+", re.UNICODE)


def clean_name(display: str, email: str = "") -> str:
    """The usable name in a display name, evened out (quotes, escapes, spacing); "" when it is no name.

    ``email`` is the address the name came with, to recognise a name that only repeats its local part."""
    name = " ".join(display.replace("\\", "").split())
    while len(name) >= 2 and name[0] in _QUOTES and name[-1] in _QUOTES:
        name = name[1:-1].strip()
    name = name.strip(_QUOTES + " ")
    if not name or len(name) > MAX_NAME_LENGTH or not any(ch.isalpha() for ch in name):
        return ""
    if "@" in name or "=?" in name or "<" in name or ">" in name:
        return ""  # an address again, an undecoded encoded word, or a broken header
    local = email.strip().partition("@")[0]
    if local and name == local.lower() and name.lower() == name:
        return ""  # "bob <bob@example.com>": the local part again, written by a machine
    if is_role_name(name):
        return ""
    return name


def is_role_name(name: str) -> bool:
    """Whether a display name names a role, robot or service ("No-Reply", "Support Team", "Bob via Slack")."""
    words = [word.lower() for word in _WORD.findall(name)]
    if any(word in _ROLE_WORDS for word in words):
        return True
    joined = "".join(words)
    return any(phrase in joined for phrase in _ROLE_JOINED)


@dataclass(frozen=True)
class KnownName:
    """What is known of one person's name: their own (From) and the user's (Sent To/Cc), each with when it was
    last seen (Unix seconds of the message's date)."""

    own: str = ""
    own_at: int = 0
    given: str = ""
    given_at: int = 0

    def best(self) -> tuple[str, str] | None:
        """(name, source) to greet by: their own name over the one the user typed; None when neither."""
        if self.own:
            return self.own, OWN
        if self.given:
            return self.given, GIVEN
        return None

    @property
    def last_seen(self) -> int:
        return max(self.own_at, self.given_at)


def learn(known: KnownName, display: str, email: str, at: int, *, source: str) -> KnownName:
    """``known`` after seeing ``display`` for ``email`` in a message dated ``at`` (Unix seconds), from
    ``source`` (:data:`OWN` or :data:`GIVEN`). An unusable name changes nothing; an older one does not replace
    a newer one; the same name only moves the date forward."""
    name = clean_name(display, email)
    if not name:
        return known
    if source == OWN:
        if at < known.own_at:
            return known
        return KnownName(name, at, known.given, known.given_at)
    if source == GIVEN:
        if at < known.given_at:
            return known
        return KnownName(known.own, known.own_at, name, at)
    raise ValueError(f"unknown name source {source!r}")


def describe_source(source: str) -> str:
    """Where a greeting's name came from, for ``explain``."""
    return "from the From header of their own mail" if source == OWN else "from your sent mail (To/Cc)"


def meta_key(email: str) -> str:
    """The ``followupd_meta`` key of one person's name (64 characters at most, as the column allows)."""
    return KEY_PREFIX + hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:40]


def encode(known: KnownName) -> str:
    return json.dumps({"o": known.own, "ot": known.own_at, "g": known.given, "gt": known.given_at},
                      ensure_ascii=False)


def decode(text: str | None) -> KnownName:
    """A stored name; an empty :class:`KnownName` for nothing stored or anything unreadable (never raises).

    Stored names go through :func:`clean_name` again, so a rule added later applies to what was learned before."""
    if not text:
        return KnownName()
    try:
        value = json.loads(text)
    except ValueError:
        return KnownName()
    if not isinstance(value, dict):
        return KnownName()

    def text_of(key: str) -> str:
        item = value.get(key)
        return clean_name(item) if isinstance(item, str) else ""

    def time_of(key: str) -> int:
        item = value.get(key)
        return item if isinstance(item, int) and not isinstance(item, bool) else 0

    return KnownName(text_of("o"), time_of("ot"), text_of("g"), time_of("gt"))

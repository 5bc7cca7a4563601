"""Commands by mail: the suffix of the tracking address on a message that refers to a tracked thread.

``me+followup-stop@…`` stops the thread, ``-snooze-2w`` (any form the suffix grammar knows: ``5d``, ``3bd``,
``2w``, ``fri``, ``dec15``, ``2026-12-01``) snoozes it until then, ``-done`` keeps the user's own promise (a
``+followup-me`` thread), and a plain date suffix (``-5d``, ``-fri``) on a message that only goes to the tracking
address and refers to a tracked thread moves that thread's next check-in.

Pure: the caller says which thread the message refers to and applies the command through the lifecycle. This
module only reads the words. Why a grammar of its own beside :mod:`followupd.planning.tracking`: the words
``stop``, ``snooze``, ``done`` were never tracking suffixes, so reading them as commands changes nothing a user
relied on, and a malformed command (``snooze-xyz``) must become a visible problem instead of a tracked thread
with an odd suffix.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from followupd.planning.tracking import is_tracking_address, parse_suffix, split_suffix

_SEPARATORS = "-+_."


class Verb(StrEnum):
    STOP = "stop"
    SNOOZE = "snooze"
    DONE = "done"
    MOVE = "move"  # a date suffix on a message about a tracked thread: its next check-in moves


#: The words that make a suffix a command whatever follows them; ``move`` has no word (a bare date is one).
COMMAND_WORDS = (Verb.STOP, Verb.SNOOZE, Verb.DONE)


@dataclass(frozen=True)
class MailCommand:
    """One command read from a tracking address. ``until`` is the day a snooze or a move names; ``problem`` is
    a sentence for the user when the words name a command but cannot be obeyed as written (never applied)."""

    verb: Verb
    suffix: str               # the raw suffix, e.g. "snooze-2w", for the audit log and the problem
    until: date | None = None
    problem: str | None = None


def _after_word(cleaned: str, word: str) -> tuple[bool, str]:
    """(does ``cleaned`` start with the command ``word``, the rest after one separator)."""
    if cleaned == word:
        return True, ""
    rest = cleaned.removeprefix(word)
    if rest != cleaned and rest[:1] in tuple(_SEPARATORS):
        return True, rest[1:]
    return False, ""


def parse_command(suffix: str, *, sent_on: date, holidays: frozenset[date] = frozenset()) -> MailCommand | None:
    """The command a suffix names, or None when it names none (a tracking suffix: bare, ``5d``, ``me-3d``, ...).

    ``stop`` and ``done`` take nothing after them; ``snooze`` takes one date form, counted from ``sent_on``
    (the day the user wrote the command, so a command read late still means what the user meant). A command
    word with the wrong rest comes back with ``problem`` set: it is a command, not obeyed."""
    cleaned = suffix.strip().lower()
    for word in COMMAND_WORDS:
        matched, rest = _after_word(cleaned, word)
        if not matched:
            continue
        if word == Verb.SNOOZE:
            if not rest:
                return MailCommand(Verb.SNOOZE, cleaned, problem=f"command {cleaned!r} needs a duration or a date, "
                                   "e.g. snooze-2w, snooze-5d, snooze-3bd, snooze-fri")
            try:
                until = parse_suffix(rest, sent_on=sent_on, holidays=holidays)
            except ValueError as exc:
                return MailCommand(Verb.SNOOZE, cleaned, problem=f"command {cleaned!r}: {exc}")
            return MailCommand(Verb.SNOOZE, cleaned, until=until)
        if rest:
            return MailCommand(word, cleaned, problem=f"command {cleaned!r} is not understood: {word.value!r} "
                               "takes nothing after it")
        return MailCommand(word, cleaned)
    return None


def find_command(addresses: Iterable[str], tracking_address: str, *, sent_on: date,
                 holidays: frozenset[date] = frozenset()) -> MailCommand | None:
    """The command word among a message's addresses (the first one that obeys, else the first with a problem);
    None when no tracking address on it carries a command word."""
    found: list[MailCommand] = []
    for address in addresses:
        if not is_tracking_address(address, tracking_address):
            continue
        suffix = split_suffix(address, tracking_address)
        command = parse_command(suffix, sent_on=sent_on, holidays=holidays) if suffix else None
        if command is not None:
            found.append(command)
    found.sort(key=lambda command: command.problem is not None)  # stable: header order among equals
    return found[0] if found else None


# ------------------------------------------------------------------------------------- commands not applied
#: Where commands that could not be applied are kept (one small JSON list in the store's key/value table):
#: they belong to no thread, or to one that cannot take them, so no thread's events can hold them.
ORPHANS_KEY = "mail_command_problems"
#: The newest ones kept; ``status`` shows those of the last :data:`ORPHANS_SHOWN_DAYS` days.
MAX_ORPHANS = 20
ORPHANS_SHOWN_DAYS = 30


@dataclass(frozen=True)
class OrphanCommand:
    """A command by mail that was not applied, and why: shown by ``followupd status`` until it ages out."""

    message_id: str
    at: str        # ISO time the command was written
    where: str     # folder:uid where it was read
    suffix: str
    problem: str


def decode_orphans(text: str | None) -> list[OrphanCommand]:
    """The stored list; anything unreadable is read as none (it is a notice board, not a ledger)."""
    if not text:
        return []
    try:
        rows = json.loads(text)
        return [OrphanCommand(**{k: str(row[k]) for k in ("message_id", "at", "where", "suffix", "problem")})
                for row in rows]
    except (ValueError, TypeError, KeyError):
        return []


def add_orphan(text: str | None, orphan: OrphanCommand) -> str | None:
    """The list with ``orphan`` added, as JSON; None when that command message is already on it (its other
    copy, Sent vs delivered, or a rescan)."""
    orphans = decode_orphans(text)
    if any(known.message_id == orphan.message_id for known in orphans):
        return None
    kept = [*orphans, orphan][-MAX_ORPHANS:]
    return json.dumps([asdict(row) for row in kept])


def recent_orphans(text: str | None, now: datetime) -> list[OrphanCommand]:
    """The ones ``status`` shows: written in the last :data:`ORPHANS_SHOWN_DAYS` days, oldest first."""
    shown = []
    for orphan in decode_orphans(text):
        try:
            at = datetime.fromisoformat(orphan.at)
        except ValueError:
            continue
        if at.tzinfo is not None and now - at <= timedelta(days=ORPHANS_SHOWN_DAYS):
            shown.append(orphan)
    return shown

"""Plain records of what ``followupd status`` shows, read either through the ORM (``reports.status_data``) or
with the standard library's sqlite3 (``fastread.status_data``).

Why plain records and not the ORM rows: ``status`` on SQLite must not import SQLAlchemy (issue 16: it is most
of the command's start-up), so the fast reader cannot build ORM objects; and for the two readers to show the
same thing they must hand the one shaping function (``followupd.cli.status_view``) the same records. The field
names are the models' column names: both readers take their column lists from these classes, so a field added
here is read by both or the test that holds them equal fails. No SQLAlchemy here, nor anywhere this imports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple

__all__ = ["ItemRow", "StatusData", "ThreadRow", "column_names", "participants"]


def participants(*lists: Iterable[dict[str, str]]) -> list[dict[str, str]]:
    """Everyone who owes the reply: To, Cc and Bcc recipients (already filtered of the user), each address once,
    in that order (the first entry of an address wins)."""
    seen: dict[str, dict[str, str]] = {}
    for entries in lists:
        for entry in entries:
            seen.setdefault(entry["email"], entry)
    return list(seen.values())


class ThreadRow(NamedTuple):
    """The columns of a ``threads`` row that ``status`` shows (see ``models.Thread`` for each one's meaning).

    Named tuples, not dataclasses: a thousand of them are made per ``status``, and a frozen dataclass's
    ``__init__`` (one ``object.__setattr__`` per field) costs several times a tuple's."""

    id: str
    message_id: str
    subject: str
    to: list[dict[str, str]]
    cc: list[dict[str, str]]
    bcc: list[dict[str, str]]
    state: str
    kind: str
    state_reason: str
    touches: int
    next_due: datetime | None
    problems: list[str]
    sent_at: datetime
    promised: date | None
    tracking_suffix: str | None
    last_touch_at: datetime | None
    replied_at: datetime | None
    replied_by: str
    reply_probable: bool
    note: str
    expect_all: bool
    answered_by: list[str]
    failed_recipients: list[str]
    source: str             # "bcc", "auto" or "manual": how tracking started (issue 14)
    evidence: str | None    # the sentence that asks, for auto/manual threads

    def participants(self) -> list[dict[str, str]]:
        return participants(self.to, self.cc, self.bcc)


class ItemRow(NamedTuple):
    """The columns of an ``action_items`` row that ``status`` shows (see ``models.ActionItem``)."""

    id: str
    thread_id: str
    number: int
    owner_email: str | None
    owner_name: str
    task: str
    due: date | None
    state: str
    evidence: str
    problems: list[str]


@dataclass(frozen=True)
class StatusData:
    """One account's database as ``status`` reads it, in one read transaction.

    ``health`` and ``orphans`` are the raw ``followupd_meta`` values (``runtime.health`` and
    ``planning.commands`` parse them); ``threads`` every thread, oldest sent first; ``drafts`` (state,
    drafted_at, created) of each thread's follow-ups that wait in Drafts; ``items`` every action item by thread,
    in number order."""

    health: str | None
    orphans: str | None
    threads: list[ThreadRow]
    drafts: dict[str, list[tuple[str, datetime | None, datetime]]] = field(default_factory=dict)
    items: dict[str, list[ItemRow]] = field(default_factory=dict)


def column_names(record: type[ThreadRow] | type[ItemRow]) -> list[str]:
    """The table columns a record is read from: its field names, in order."""
    return list(record._fields)

"""A meeting recap -> its action items: owner (matched to a recipient), task, due date, evidence, problems.

Pure; never raises. The one entry point, :func:`read_action_items`, joins the three readers: where the list
is (:mod:`followupd.mail.actions`), whose each item is (:mod:`followupd.planning.owners`) and when it is due
(:mod:`followupd.mail.duedates`), read from the recap's own day in the user's time zone. Nothing is dropped
silently: an owner who is not a recipient (or names two), a date that does not read, a line with no owner
keep their item with a problem; a recap without a readable list says "no action items found".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from followupd.mail import internal_errors
from followupd.mail.actions import ActionLine, action_lines
from followupd.mail.duedates import read_due_cell, split_due
from followupd.mail.headers import Address
from followupd.planning.owners import match_owner, split_owner, split_owners

__all__ = ["NO_ITEMS", "ActionItem", "ActionReading", "read_action_items"]

logger = logging.getLogger(__name__)

#: An item's words are read up to here: a longer "line" is a pasted paragraph, and the date reader is
#: linear per cue word, so a hostile line of cue words would cost quadratic time.
_MAX_LINE = 1000

#: The reading's problem when a recap has no list that reads.
NO_ITEMS = "no action items found"


@dataclass(frozen=True)
class ActionItem:
    """One owner's task. ``owner_email`` is None when the owner could not be matched (see ``problems``);
    ``owner_name`` is the recipient's display name, or the words the recap used; ``evidence`` the line."""

    owner_email: str | None
    owner_name: str
    task: str
    due: date | None
    evidence: str
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class ActionReading:
    """Every item of a recap, in the order written, and the reading's own problems."""

    items: tuple[ActionItem, ...]
    problems: tuple[str, ...]
    lang: str = "en"


def read_action_items(raw: bytes, *, recipients: tuple[Address, ...], sent_at: datetime, tz: tzinfo,
                      explicit: bool = False) -> ActionReading:
    """The action items of the recap ``raw``; dates relative to ``sent_at`` (its Date) in ``tz``; never raises.

    ``explicit`` (the ``+followup-actions`` suffix): a list anywhere counts when no heading introduces one.
    """
    try:
        today = sent_at.astimezone(tz).date() if sent_at.tzinfo else sent_at.date()
        found = action_lines(raw, explicit=explicit)
        items: list[ActionItem] = []
        for line in found.lines:
            items.extend(_items_of(line, recipients, found.lang, today))
        return ActionReading(tuple(items), () if items else (NO_ITEMS,), found.lang)
    except Exception as exc:  # last resort: one hostile recap must not stop a cycle
        marker = internal_errors.record("actions", exc, logger=logger,
                                        doing="reading a recap's action items; none are read")
        return ActionReading((), (NO_ITEMS, marker))


def _items_of(line: ActionLine, recipients: tuple[Address, ...], lang: str, today: date) -> list[ActionItem]:
    """One item per owner of a line (``Bob & Carol:`` gives two), each with its own problems."""
    problems: list[str] = []
    text = line.text[:_MAX_LINE]
    if line.from_table:
        owners = split_owners(line.owner or "")
        task = text
        due, unread = read_due_cell(line.due or "", lang=lang, today=today)
        if due is None and unread is None:
            split = split_due(task, lang=lang, today=today)
            task, due, unread = split.task, split.due, split.unread
        if not owners and line.owner:
            owners = (line.owner,)
    else:
        split = split_due(text, lang=lang, today=today)
        due, unread = split.due, split.unread
        owners, task = split_owner(split.task)
    if unread:
        problems.append(f"could not read the date {unread!r}")
    task = task.strip(" .;,-\u2013\u2014:") or text
    if not owners:
        return [ActionItem(None, "", task, due, line.evidence, (*problems, "no owner named"))]
    out = []
    for words in owners:
        match = match_owner(words, recipients)
        if match.address is not None:
            name = match.address.name or words.lstrip("@")
            out.append(ActionItem(match.address.email, name, task, due, line.evidence, tuple(problems)))
        else:
            out.append(ActionItem(None, words, task, due, line.evidence,
                                  (*problems, match.problem or "no owner named")))
    return out

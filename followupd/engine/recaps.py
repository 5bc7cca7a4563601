"""Meeting recaps in the cycle: their action items read when the recap is tracked, and each owner's answer
applied to that owner's items only.

A tracked message becomes a recap (thread kind ``actions``) when its body lists action items that name at
least one of its recipients as owner, or when it was sent with the ``+followup-actions`` suffix, which makes
"no action items found" a visible problem instead of a silent fallback to an ordinary follow-up. Without the
suffix, a list whose owners are nobody on the message is not a plan to follow up, so the message stays an
ordinary thread: a sales mail with a "Next steps" heading must not turn into check-ins with nobody.

An answer in the thread (a reply to the recap, or to a check-in) settles the sender's own items: a reply
closes them as done, a holding reply ("next week") moves their date, a decline marks them declined for the
roll-up. Someone else's reply closes nothing of an owner's unless it says, in one sentence, that the owner's
task is done (then done, "probable", with that sentence as evidence). The thread closes when no item is open.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from followupd.adapters import store as st
from followupd.config import Config
from followupd.mail.bodytext import message_text, strip_quoted
from followupd.mail.headers import Address
from followupd.mail.patterns import lazy_pattern
from followupd.planning import interpret
from followupd.planning.action_items import NO_ITEMS, ActionReading, read_action_items
from followupd.planning.lifecycle import items as item_states
from followupd.planning.tracking import TrackRequest

logger = logging.getLogger("followupd.engine.cycle")

#: The suffix that marks a recap explicitly: ``me+followup-actions@…``.
ACTIONS_SUFFIX = "actions"

#: Words that say a task is finished, in the four languages the recap reader knows; used only for a reply from
#: someone who is not the owner, together with the owner's name or the task's own words in the same sentence.
_DONE_WORDS = lazy_pattern(
    r"\b(done|finished|completed?|sent|shared|booked|delivered|taken care of|sorted|erledigt|fertig|"
    r"abgeschlossen|verschickt|gesendet|gebucht|fait|termin[ée]e?s?|envoy[ée]e?s?|r[ée]serv[ée]e?s?|hecho|"
    r"terminad[oa]s?|enviad[oa]s?|reservad[oa]s?|listo|lista)\b", re.IGNORECASE)
_SENTENCE = lazy_pattern(r"[^.!?\n]+[.!?]?")
_WORD = lazy_pattern(r"\w{4,}")


def item_id(thread_id: str, number: int) -> str:
    """``<thread>.a<nnn>``: like a reminder's id, never a substring of a touch id (``<thread>-<nnn>``)."""
    return f"{thread_id}.a{number:03d}"


def read_recap(raw: bytes | None, *, request: TrackRequest, recipients: Sequence[Address], sent_at: datetime,
               config: Config) -> ActionReading | None:
    """The recap's items when the message is one (see the module docstring), else None (an ordinary thread).

    With the ``actions`` suffix a reading is always returned; its problems say why it has no items."""
    explicit = (request.suffix or "").lower() == ACTIONS_SUFFIX
    if raw is None:
        if explicit:
            return ActionReading((), (f"{NO_ITEMS}: the message body could not be read",))
        return None
    reading = read_action_items(raw, recipients=tuple(recipients), sent_at=sent_at,
                                tz=config.identity.timezone, explicit=explicit)
    if explicit:
        return reading
    if any(item.owner_email for item in reading.items):
        return reading
    return None


def add_items(session: Session, thread: st.Thread, reading: ActionReading, now: datetime) -> None:
    """Make the thread a recap with one row per item (in the order written), and say so in its log.

    A reading without items (only with the ``actions`` suffix) leaves an ordinary thread, followed up as any
    other, with the reading's problem ("no action items found") shown in ``status``: nothing is lost."""
    problems = [problem for problem in reading.problems if problem not in thread.problems]
    if problems:
        thread.problems = [*thread.problems, *problems]
    if reading.items:
        thread.kind = st.ACTIONS
    for number, found in enumerate(reading.items, start=1):
        row = st.ActionItem(id=item_id(thread.id, number), thread_id=thread.id, number=number,
                            owner_email=found.owner_email, owner_name=found.owner_name, task=found.task,
                            due=found.due, evidence=found.evidence, problems=list(found.problems), created=now)
        item_states.start(row)
        thread.item_rows.append(row)
    owners = sorted({item.owner_email for item in reading.items if item.owner_email})
    detail = (f"meeting recap: {len(reading.items)} action item(s) for {', '.join(owners) or 'nobody matched'}"
              if reading.items else f"meeting recap: {'; '.join(reading.problems) or NO_ITEMS}")
    session.add(st.Event(thread_id=thread.id, at=now, kind="items_read", message_id=thread.message_id,
                         detail=detail))


def owner_items(thread: st.Thread, owner: str) -> list[st.ActionItem]:
    return [item for item in thread.item_rows if item.owner_email == owner]


def apply_answer(session: Session, thread: st.Thread, *, sender: str, raw: bytes | None, at: datetime,
                 now: datetime, config: Config, message_id: str) -> str:
    """A person wrote in the recap's thread: settle what it says about items. Returns a one-line summary.

    The owner's answer closes (or holds, or declines) only their own items; anyone else's closes an item only
    when one sentence names it done (:func:`_done_on_behalf`)."""
    mine = [item for item in owner_items(thread, sender) if item_states.is_open(item)]
    said: list[str] = []
    on_behalf = _done_on_behalf(thread, raw, sender)
    if mine and on_behalf and not _speaks_of(raw, mine):
        mine = []  # an owner writing only that someone else's task is done says nothing of their own
    if mine:
        intent = interpret.human_reply(raw, received=at, replies=config.replies, tz=config.identity.timezone)
        if intent.kind == "declined":
            changed = item_states.declined(mine, by=sender, evidence=intent.evidence, at=at)
            said.append(f"{sender} declined {len(changed)} item(s): {intent.evidence}")
        elif intent.kind == "holding":
            # The day they named is the item's new date (its check-in follows after the grace); without one,
            # the holding default from [replies].
            until = intent.promised or (at + config.replies.holding_default).astimezone(config.identity.timezone).date()
            changed = item_states.holding(mine, until=until, evidence=intent.evidence)
            said.append(f"{sender} will finish {len(changed)} item(s) by {until.isoformat()}: {intent.evidence}")
        else:
            evidence = intent.evidence or "replied in the thread"
            changed = item_states.done(mine, by=sender, evidence=evidence, at=at)
            said.append(f"{sender} answered: {len(changed)} item(s) done")
        # Their check-in still waiting in Drafts is stale now: it would ask about what they just answered.
        item_states.withdraw_checkins(thread.touch_rows, sender, now, f"{sender} answered about their items")
    if on_behalf:
        for item, sentence in on_behalf:
            if item_states.done([item], by=sender, evidence=sentence, at=at, probable=True):
                said.append(f"{sender} says {item.owner_email}'s item is done: {sentence}")
                # Their waiting check-in lists it: it goes, and a fresh one about what is left comes next cycle.
                item_states.withdraw_checkins(thread.touch_rows, item.owner_email or "", now,
                                              f"{sender} said {item.id} is done")
    for line in said:
        st.add_event(session, thread, at=at, kind="items_answered", message_id=message_id, detail=line)
    if item_states.settle(thread, thread.item_rows, now=now):
        said.append(f"every action item is closed; {thread.id} is {thread.state}")
    return "; ".join(said) or f"{sender} wrote; no action item changed"


def owner_away(thread: st.Thread, *, sender: str, until: datetime, now: datetime) -> bool:
    """An out-of-office from an owner: no check-in with them before they are back. False when not an owner."""
    mine = owner_items(thread, sender)
    if not mine:
        return False
    item_states.away(mine, until=until)
    item_states.withdraw_checkins(thread.touch_rows, sender, now, f"{sender} is out of office")
    return True


def note_undeliverable(thread: st.Thread, words: str) -> None:
    """Items whose owner's address bounced for good get no check-in (the planner skips failed addresses); the
    item says why, so ``status`` and ``items`` show it instead of an item that silently never moves."""
    failed = set(thread.failed_recipients or ())
    for item in thread.item_rows:
        problem = f"{item.owner_email} is undeliverable ({words}); no check-in can reach them"
        if item.owner_email in failed and item_states.is_open(item) and problem not in item.problems:
            item.problems = [*item.problems, problem]


def _speaks_of(raw: bytes | None, items: Sequence[st.ActionItem]) -> bool:
    """Whether the reply's new text uses two words (of four letters or more) of one of these tasks."""
    if raw is None:
        return False
    words = set(_WORD.findall(strip_quoted(message_text(raw)).lower()))
    return any(len(set(_WORD.findall(item.task.lower())) & words) >= 2 for item in items)


def _done_on_behalf(thread: st.Thread, raw: bytes | None, sender: str) -> list[tuple[st.ActionItem, str]]:
    """Open items of other owners that one sentence of the reply's new text names done: a done word plus the
    owner's first name, or plus two of the task's own words (of four letters or more)."""
    if raw is None:
        return []
    text = strip_quoted(message_text(raw))
    found: list[tuple[st.ActionItem, str]] = []
    for match in _SENTENCE.finditer(text):
        sentence = " ".join(match.group().split())
        if not sentence or not _DONE_WORDS.search(sentence):
            continue
        lowered = sentence.lower()
        words = set(_WORD.findall(lowered))
        for item in thread.item_rows:
            if not item_states.is_open(item) or not item.owner_email or item.owner_email == sender:
                continue
            if any(item is seen for seen, _ in found):
                continue
            first = (item.owner_name or "").split(" ")[0].lower()
            task_words = set(_WORD.findall(item.task.lower()))
            if (first and len(first) > 1 and re.search(rf"\b{re.escape(first)}\b", lowered)
                    and len(task_words & words) >= 1) or len(task_words & words) >= 2:
                found.append((item, sentence[:200]))
    return found

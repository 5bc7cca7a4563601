"""What ``followupd status`` shows: which threads (``--state``, ``--all``), what "next" means for each, and the
whole output, text and ``--json``, of what the database holds.

No I/O: plain values in, plain values out. The command reads each account's database into plain records
(``store.rows.StatusData``: with sqlite3 on SQLite, through the ORM otherwise) and prints what :func:`render`
and :func:`health_line` make of them; whichever reader served an account, the same functions shape it, so the
two can never show different things (``tests/test_status_fastread.py`` holds them byte-equal). Why a module
of its own: the filter rules are a public interface (documented in the README, read by scripts through
``status --json``), and they are easier to keep straight, and to test, away from click and SQL. Nothing here
imports SQLAlchemy: ``status`` on SQLite never loads it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from followupd.adapters.store.rows import ItemRow, StatusData, ThreadRow
from followupd.cli.shapes import clip, iso, item_json, items_summary, local, render_table, thread_json
from followupd.planning.lifecycle import ThreadKind, ThreadState, TouchState
from followupd.runtime.health import HEALTH_KEY, Health, parse_health

#: A thread followupd is still working on; every other state is final (replied, unanswered, stopped, failed,
#: declined) and stays listed under ``--all`` and ``--state``.
OPEN_STATES: tuple[str, ...] = (ThreadState.WAITING,)
#: Every thread state, in the order ``--state`` lists them (the store's ``THREAD_STATES``).
THREAD_STATES: tuple[str, ...] = tuple(ThreadState)
#: ``--state open`` / ``--state closed``: shorthands for the two groups above.
ALIASES: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATES,
    "closed": tuple(s for s in THREAD_STATES if s not in OPEN_STATES),
}
#: Where the mail commands that were not applied are kept: ``planning.commands.ORPHANS_KEY``, spelled out so that
#: ``status`` imports that module (and the standard library's email.utils with it) only when there are some;
#: tests/test_status_fastread.py holds the two equal.
ORPHANS_KEY = "mail_command_problems"
#: The ``followupd_meta`` values ``status`` reads: the account's health and the commands not applied.
META_KEYS: tuple[str, str] = (HEALTH_KEY, ORPHANS_KEY)
#: Follow-up states in which a draft sits in Drafts (or is being put there) waiting for the user.
DRAFT_WAITING_STATES: tuple[str, ...] = (TouchState.PLANNED, TouchState.QUEUED)


@dataclass(frozen=True)
class Selection:
    """The threads a ``status`` call lists: ``states`` None means every state."""

    states: tuple[str, ...] | None

    def includes(self, state: str) -> bool:
        return self.states is None or state in self.states


def parse_states(values: Iterable[str]) -> tuple[str, ...]:
    """``--state`` values, each repeatable and comma-separated ("replied,failed"), in the order given, no repeats.

    Raises ValueError naming the unknown value and every accepted one."""
    accepted = [*THREAD_STATES, *ALIASES]
    chosen: list[str] = []
    for value in values:
        for word in value.split(","):
            name = word.strip().lower()
            if not name:
                continue
            if name not in accepted:
                raise ValueError(f"unknown thread state {word.strip()!r}; use one or more of {', '.join(accepted)} "
                                 "(repeat --state or separate them with commas)")
            for state in ALIASES.get(name, (name,)):
                if state not in chosen:
                    chosen.append(state)
    return tuple(chosen)


def selection_for(states: Iterable[str], *, show_all: bool, as_json: bool) -> Selection:
    """Which threads to list. Text output shows the open ones unless told otherwise; ``--json`` without
    ``--state``/``--all`` keeps listing every thread, because scripts read it to see a thread become replied or
    failed (a closed thread vanishing from it would look like a lost thread)."""
    chosen = parse_states(states)
    if chosen:
        return Selection(chosen)
    if show_all or as_json:
        return Selection(None)
    return Selection(OPEN_STATES)


def draft_waiting_since(state: str, touches: Iterable[tuple[str, datetime | None, datetime]]) -> datetime | None:
    """When the draft that waits for the user appeared, if one waits: ``touches`` are (state, drafted_at,
    created) of one thread's follow-ups. Only an open thread has one; a draft not yet confirmed in Drafts counts
    from when it was made."""
    if state not in OPEN_STATES:
        return None
    waiting = [drafted or created for touch_state, drafted, created in touches if touch_state in DRAFT_WAITING_STATES]
    return max(waiting) if waiting else None


def next_text(next_due: datetime | None, waiting_since: datetime | None, tz: ZoneInfo,
              fmt: str = "%a %d %b %H:%M") -> str:
    """The NEXT column: "draft waiting since ..." while a draft waits (its due time has passed: the draft IS the
    next step, and it is the user's turn), else the next due time, else "-"."""
    if waiting_since is not None:
        return f"draft waiting since {waiting_since.astimezone(tz).strftime(fmt)}"
    return next_due.astimezone(tz).strftime(fmt) if next_due is not None else "-"


def hidden_note(hidden: int, selection: Selection) -> str:
    """The line under the table when some threads were left out, saying how to see them."""
    if hidden <= 0:
        return ""
    if selection.states == OPEN_STATES:
        return f"{hidden} closed thread(s) not shown; `followupd status --all` lists every thread."
    return f"{hidden} thread(s) in other states not shown; `followupd status --all` lists every thread."


def item_problems(items: Iterable[ItemRow]) -> list[str]:
    """A recap's items' problems for the PROBLEMS column, each led by its item's short id ("a002: ..."), so an
    owner nobody matched shows beside the thread's own problems instead of only in `followupd items`."""
    return [f"{_short_id(item.id)}: {problem}" for item in items for problem in (item.problems or ())]


def _short_id(item_id: str) -> str:
    """``<thread>.a002`` -> ``a002``: the thread's id is on the same row already."""
    return item_id.rpartition(".")[2] or item_id


@dataclass(frozen=True)
class AccountStatus:
    """One account as ``status`` shows it: its name, zone, tracking address, the clock's now, and what its
    database holds."""

    name: str
    tz: ZoneInfo
    now: datetime
    tracking_address: str
    data: StatusData

    @property
    def health(self) -> Health:
        return parse_health(self.data.health)


def health_line(account: AccountStatus, *, several: bool) -> str | None:
    """The account's line above the table: when it is failing, or always with several accounts (None: none)."""
    health = account.health
    if health.state == "degraded":
        return (f"account {account.name}: degraded since {local(health.since, account.tz, '%a %d %b %H:%M')} "
                f"({health.failures} failed cycle(s)): {health.error}; followupd keeps retrying")
    return f"account {account.name}: {health.state}" if several else None


def command_problems(account: AccountStatus, *, several: bool) -> list[str]:
    """Commands by mail that were not applied (followupd.engine.mailcmd), one line each, newest last."""
    if not account.data.orphans:
        return []
    from followupd.planning.commands import recent_orphans

    where = f"account {account.name}: " if several else ""
    return [f"{where}command by mail +followup-{o.suffix} ({o.where}, written "
            f"{local(datetime.fromisoformat(o.at), account.tz, '%a %d %b %H:%M')}) not applied: {o.problem}"
            for o in recent_orphans(account.data.orphans, account.now)]


def render(accounts: list[AccountStatus], selection: Selection, *, as_json: bool) -> str:
    """The whole output of ``status`` (``--json``: the array of threads) below the accounts' health lines."""
    several = len(accounts) > 1
    entries: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    total = 0
    orphans: list[str] = []
    for account in accounts:
        data, tz = account.data, account.tz
        orphans += command_problems(account, several=several)
        total += len(data.threads)
        today = account.now.astimezone(tz).date()
        shown = [t for t in data.threads if selection.includes(t.state)]
        recaps = data.items if any(t.kind == ThreadKind.ACTIONS for t in shown) else {}
        health = account.health.state
        for t in shown:
            waiting_since = draft_waiting_since(t.state, data.drafts.get(t.id, ()))
            its_items = recaps.get(t.id, [])
            if as_json:
                entries.append({**thread_json(t), "account": account.name, "account_state": health,
                                "draft_waiting_since": iso(waiting_since),
                                "items": [item_json(item) for item in its_items]})
            else:
                rows.append(([account.name] if several else []) + _row(t, its_items, waiting_since, tz, today))
    if as_json:
        return json.dumps(entries, indent=2)
    lines = list(orphans)
    if not total:
        lines.append("No tracked threads yet. BCC " + " or ".join(a.tracking_address for a in accounts)
                     + " on mail you send.")
        return "\n".join(lines)
    if rows:
        headers = ["ID", "STATE", "RECIPIENTS", "SUBJECT", "SENT", "TOUCHES", "NEXT", "PROBLEMS"]
        lines.append(render_table((["ACCOUNT"] if several else []) + headers, rows))
    else:
        lines.append("No open threads." if selection.states == OPEN_STATES
                     else f"No threads in state {', '.join(selection.states or ())}.")
    note = hidden_note(total - len(rows), selection)
    if note:
        lines.append(note)
    return "\n".join(lines)


def _row(t: ThreadRow, items: list[ItemRow], waiting_since: datetime | None, tz: ZoneInfo, today: date) -> list[str]:
    """One thread's row of the table (after the ACCOUNT column)."""
    who = ", ".join(p["email"] for p in t.participants()) or "-"
    state_text = t.state + (" (probable)" if t.state == ThreadState.REPLIED and t.reply_probable else "")
    if t.kind == ThreadKind.ACTIONS:
        state_text += f", {items_summary(items, today)}"
    if t.source != "bcc":  # models.SOURCE_BCC (not imported: no SQLAlchemy here); started without the BCC
        state_text += f" ({t.source})"  # (issue 14): `explain` says why
    problems = [*t.problems, *item_problems(items)]
    return [t.id, state_text, clip(who, 30), clip(t.subject or "(no subject)", 40), local(t.sent_at, tz, "%d %b %Y"),
            str(t.touches), next_text(t.next_due, waiting_since, tz), "; ".join(problems)]

"""What ``followupd status`` shows: which threads (``--state``, ``--all``) and what "next" means for each.

No I/O: plain values in, plain values out (only the state names come from the store module). The command
reads the store and prints; this module decides. Why a module
of its own: the filter rules are a public interface (documented in the README, read by scripts through
``status --json``), and they are easier to keep straight, and to test, away from click and SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from followupd.adapters import store as st

#: A thread followupd is still working on; every other state is final (replied, unanswered, stopped, failed,
#: declined) and stays listed under ``--all`` and ``--state``.
OPEN_STATES: tuple[str, ...] = (st.WAITING,)
#: ``--state open`` / ``--state closed``: shorthands for the two groups above.
ALIASES: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATES,
    "closed": tuple(s for s in st.THREAD_STATES if s not in OPEN_STATES),
}
#: Follow-up states in which a draft sits in Drafts (or is being put there) waiting for the user.
DRAFT_WAITING_STATES = (st.TOUCH_PLANNED, st.TOUCH_QUEUED)


@dataclass(frozen=True)
class Selection:
    """The threads a ``status`` call lists: ``states`` None means every state."""

    states: tuple[str, ...] | None

    def includes(self, state: str) -> bool:
        return self.states is None or state in self.states


def parse_states(values: Iterable[str]) -> tuple[str, ...]:
    """``--state`` values, each repeatable and comma-separated ("replied,failed"), in the order given, no repeats.

    Raises ValueError naming the unknown value and every accepted one."""
    accepted = [*st.THREAD_STATES, *ALIASES]
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


def item_problems(items: Iterable[st.ActionItem]) -> list[str]:
    """A recap's items' problems for the PROBLEMS column, each led by its item's short id ("a002: ..."), so an
    owner nobody matched shows beside the thread's own problems instead of only in `followupd items`."""
    return [f"{_short_id(item.id)}: {problem}" for item in items for problem in (item.problems or ())]


def _short_id(item_id: str) -> str:
    """``<thread>.a002`` -> ``a002``: the thread's id is on the same row already."""
    return item_id.rpartition(".")[2] or item_id

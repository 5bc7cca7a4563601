"""Id prefixes as the user types them (``abc12``), turned into the one thread, follow-up or action item they name.

Why a module of its own: ``outbox``, ``snooze``, ``note``, ``preview``, ``explain`` and ``items`` take an id prefix, and
the rules (a clear error for none or several, a thread id standing for its waiting follow-up) must be the same
for each. The database is asked through the store's report functions only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State

if TYPE_CHECKING:
    from followupd.adapters.store.reports import Session

__all__ = ["item_id", "resolve_id", "thread_id", "touch_id"]


def resolve_id(session: Session, model: type[Any], prefix: str, what: str, listing: str) -> str:
    """The one id starting with ``prefix``; a clear error for none or several."""
    from followupd.adapters.store import reports

    prefix = prefix.strip()
    if not prefix:
        article = "an" if what[:1] in "aeiou" else "a"
        raise click.BadParameter(f"give {article} {what} id (see `{listing}`)")
    matches = reports.ids_starting(session, model, prefix, limit=6)
    if not matches:
        raise click.BadParameter(f"no {what} with an id starting {prefix!r}; `{listing}` lists them")
    if len(matches) > 1 and prefix not in matches:
        shown = ", ".join(matches[:5]) + (", ..." if len(matches) > 5 else "")
        raise click.BadParameter(f"{prefix!r} matches several {what}s ({shown}); give more of the id")
    return prefix if prefix in matches else str(matches[0])


def touch_id(state: State, prefix: str) -> str:
    """A follow-up id prefix; a thread id prefix stands for that thread's waiting follow-up (touch ids start
    with their thread's id, so "abc12" may match several touches of one thread)."""
    from followupd.adapters import store as st
    from followupd.adapters.store import reports
    from followupd.engine.drafts import OPEN_TOUCH_STATES

    prefix = prefix.strip()
    with state.app(prefix).store.read() as session:
        touches = reports.touches_starting(session, prefix, limit=50) if prefix else []
        if len(touches) > 1 and prefix not in {t.id for t in touches} and len({t.thread_id for t in touches}) == 1:
            waiting = [t for t in touches if t.state in OPEN_TOUCH_STATES]
            if not waiting:
                raise click.BadParameter(f"thread {touches[0].thread_id} has no follow-up waiting; "
                                         "`followupd outbox --all` lists its follow-ups")
            return str(waiting[-1].id)
        return resolve_id(session, st.Touch, prefix, "follow-up", "followupd outbox --all")


def thread_id(state: State, prefix: str) -> str:
    from followupd.adapters import store as st

    with state.app(prefix).store.read() as session:
        return resolve_id(session, st.Thread, prefix, "thread", "followupd status")


def item_id(state: State, prefix: str) -> str:
    """An action item id prefix (``<thread>.a<nnn>``: a thread id alone names its first items ambiguously)."""
    from followupd.adapters import store as st

    with state.app(prefix).store.read() as session:
        return resolve_id(session, st.ActionItem, prefix, "action item", "followupd items --all")

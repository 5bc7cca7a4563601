"""``followupd items [done|drop]``: the action items of meeting recaps, and the user closing one by hand.

Listing reads the database only, like ``status``. ``done`` and ``drop`` queue a request like ``outbox stop``
(see ``submit``): the one writer applies it, records it in the thread's audit log, withdraws the owner's check-in
once none of their items is open, and closes the recap's thread when no item is; the next cycle removes a
withdrawn draft from Drafts. The JSON shape of an item is ``shapes.item_json``, shared with ``status`` and
``explain``.
"""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.ids import item_id as _item_id
from followupd.cli.lazy import LazyGroup, lazy_module
from followupd.cli.shapes import clip, is_overdue, item_json, local, owner_text, render_table
from followupd.cli.submit import request_json_help, submit
from followupd.planning.lifecycle.items import OPEN_ITEM_STATES, ItemState

# Imported when a command runs, not when `followupd items --help` lists them: the store brings SQLAlchemy.
if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.engine import requests as rq
else:
    st = lazy_module("followupd.adapters.store")
    rq = lazy_module("followupd.engine.requests")

ITEM_JSON_HELP = ("Print a JSON array of items, each with exactly: id, thread_id, owner ({email, name}; email null "
                  "when the recap's words matched no recipient), task, due (ISO 8601 date or null), state "
                  "(open, done, holding, declined, dropped), evidence (the line it was read from) and problems "
                  "(a list of strings).")
CLOSE_JSON_HELP = request_json_help("the action item id")


def _order(item: st.ActionItem, today: date) -> tuple[int, date, str]:
    """Open items first, the overdue ones at the top, each group by date (no date last), then by id."""
    rank = 0 if is_overdue(item, today) else 1 if item.state in OPEN_ITEM_STATES else 2
    return rank, item.due or date.max, item.id


def _state_text(item: st.ActionItem) -> str:
    """The item's state, saying when a "done" is only probable or when its recap is no longer followed up."""
    text = str(item.state)
    if item.state == ItemState.DONE and item.probable:
        text += " (probable)"
    if item.state in OPEN_ITEM_STATES and item.thread.state != st.WAITING:
        text += f" (recap {item.thread.state})"
    return text


@main.group(cls=LazyGroup, invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also list done, declined and dropped items.")
@click.option("--json", "as_json", is_flag=True, help=ITEM_JSON_HELP)
@click.pass_context
@handle_errors
def items(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List the action items of your meeting recaps (open ones, unless --all); subcommands mark one done or drop
    it."""
    if ctx.invoked_subcommand is not None:
        return
    from followupd.adapters.store import reports

    state: State = ctx.obj
    apps = state.apps()
    wanted = None if show_all else tuple(OPEN_ITEM_STATES)
    entries: list[dict[str, Any]] = []
    rows: list[list[str]] = []
    total = 0
    for app in apps:
        tz = app.config.identity.timezone
        today = app.clock.now().astimezone(tz).date()
        with app.store.read() as session:
            every = reports.action_items(session)
            total += len(every)
            chosen = sorted((item for item in every if wanted is None or item.state in wanted),
                            key=lambda item: _order(item, today))
            for item in chosen:
                entries.append(item_json(item))
                due = _local_date(item.due) + (" (overdue)" if is_overdue(item, today) else "")
                rows.append(([app.name] if len(apps) > 1 else []) + [
                    item.id, clip(owner_text(item), 34), clip(item.task, 50), due, _state_text(item),
                    clip(item.thread.subject or "(no subject)", 30), "; ".join(item.problems or ())])
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not total:
        addresses = " or ".join(_actions_address(a.config.tracking.address) for a in apps)
        click.echo(f"No action items yet. BCC {addresses} on a meeting recap that lists them.")
        return
    if rows:
        headers = ["ID", "OWNER", "TASK", "DUE", "STATE", "RECAP", "PROBLEMS"]
        click.echo(render_table((["ACCOUNT"] if len(apps) > 1 else []) + headers, rows))
    else:
        click.echo("No open action items.")
    hidden = total - len(rows)
    if hidden:
        click.echo(f"{hidden} closed item(s) not shown; `followupd items --all` lists every item.")


def _local_date(day: date | None) -> str:
    return day.strftime("%a %d %b %Y") if day is not None else "-"


def _actions_address(address: str) -> str:
    """The tracking address with the ``-actions`` suffix that marks a recap explicitly."""
    local_part, at, domain = address.partition("@")
    return f"{local_part}-actions{at}{domain}"


def _close(state: State, prefix: str, kind: str, as_json: bool) -> None:
    """Refuse a closed item before queuing anything (the one writer checks again, for a race with a reply)."""
    from followupd.adapters.store import reports

    target = _item_id(state, prefix)
    with state.app(prefix).store.read() as session:
        item = reports.find_item(session, target)
        assert item is not None
        if item.state not in OPEN_ITEM_STATES:
            closed = f" on {local(item.closed_at, state.app(prefix).config.identity.timezone, '%a %d %b %Y')}" \
                if item.closed_at else ""
            raise click.BadParameter(f"action item {item.id} is already {item.state}{closed}"
                                     + (f" ({item.outcome})" if item.outcome else "")
                                     + "; only an open or holding item can be closed")
    submit(state, kind, target, as_json=as_json)


@items.command("done")
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help=CLOSE_JSON_HELP)
@click.pass_obj
@handle_errors
def items_done(state: State, item: str, as_json: bool) -> None:
    """Mark an action item done (its id or the start of it, see `items`); the owner is no longer checked in
    with about it, and the recap's thread closes when no item is left open."""
    _close(state, item, rq.ITEM_DONE, as_json)


@items.command("drop")
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help=CLOSE_JSON_HELP)
@click.pass_obj
@handle_errors
def items_drop(state: State, item: str, as_json: bool) -> None:
    """Stop following up on an action item without counting it as done; the recap's thread closes when no item
    is left open."""
    _close(state, item, rq.ITEM_DROP, as_json)

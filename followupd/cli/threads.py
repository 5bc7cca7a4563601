"""``followupd status``, ``followupd explain`` and ``followupd preview``: what followupd knows about threads.

``status`` reads the database only (it must stay light: no engine, templates or IMAP client, and on SQLite
no SQLAlchemy either, see tests/test_cli_startup.py); ``preview`` and ``explain`` load the planning they show.
The JSON shapes of threads and follow-ups are in ``shapes``; which threads ``status`` lists and how it shows
them, in ``status_view``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.lazy import lazy_module
from followupd.cli.shapes import (
    iso,
    item_closing,
    item_json,
    local,
    owner_text,
    render_table,
    thread_json,
    touch_json,
)

# Imported when first used: the store brings SQLAlchemy, which `followupd --help` must not load.
if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.adapters.store.rows import StatusData
    from followupd.config import Config
else:
    st = lazy_module("followupd.adapters.store")


@main.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array of threads (every thread, unless --state or --all is given).")
@click.option("--all", "show_all", is_flag=True, help="List every thread, closed ones too (default: open ones).")
@click.option("--state", "states", multiple=True, metavar="STATE",
              help="Only threads in STATE: waiting, replied, unanswered, stopped, failed, declined, or open / "
                   "closed; repeat it or separate states with commas.")
@click.pass_obj
@handle_errors
def status(state: State, as_json: bool, show_all: bool, states: tuple[str, ...]) -> None:
    """Show tracked threads: who owes a reply, since when, how many touches, what is next; and whether each
    account is working (ok) or failing and being retried (degraded). Open threads only, unless --all or --state."""
    from followupd.cli import status_view as sv

    try:
        selection = sv.selection_for(states, show_all=show_all, as_json=as_json)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from exc
    apps = state.apps()
    accounts = []
    for app in apps:
        account = sv.AccountStatus(name=app.name, tz=app.config.identity.timezone, now=app.clock.now(),
                                   tracking_address=app.config.tracking.address, data=_status_data(app))
        accounts.append(account)
        line = None if as_json else sv.health_line(account, several=len(apps) > 1)
        if line is not None:
            click.echo(line)
    click.echo(sv.render(accounts, selection, as_json=as_json))


def _status_data(app: Any) -> StatusData:
    """One account's database as ``status`` shows it: read with sqlite3 when ``fastread`` can serve it (no
    SQLAlchemy: most of the command's start-up), else through the Store, which also creates, upgrades or
    refuses the database exactly as before."""
    from followupd.adapters.store import fastread
    from followupd.cli.status_view import DRAFT_WAITING_STATES, META_KEYS

    database = app.config.database
    data = fastread.status_data(database.url, database.schema, DRAFT_WAITING_STATES, META_KEYS)
    if data is not None:
        return data
    from followupd.adapters.store import reports

    with app.store.read() as session:
        return reports.status_data(session, DRAFT_WAITING_STATES, META_KEYS)


@main.command()
@click.option("--suffix", default=None, help='A tracking suffix to preview, e.g. "5d", "fri", "dec15".')
@click.option("--thread", "thread_id", default=None, metavar="ID",
              help="A tracked thread (its id or the start of it, see `status`): show the follow-ups still to come.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: thread_id (null for a message sent now), state, kind, subject, "
                   "recipients, sent_at, touches_done, planned (false when no follow-up will come), next_reminder "
                   "(a promise of your own), recipient_clock, and touches, each with touch, total, stage, due, "
                   "gap_days, template, pending_state (a draft already made: queued or sending), subject, body "
                   "and problem (why it cannot be drafted).")
@click.pass_obj
@handle_errors
def preview(state: State, suffix: str | None, thread_id: str | None, as_json: bool) -> None:
    """Show the follow-ups a message sent now would get, or a tracked thread's next ones: dates and full text."""
    from followupd.adapters.store import reports
    from followupd.cli.ids import resolve_id
    from followupd.compose.preview import sample_thread
    from followupd.engine import preview as pv
    from followupd.planning.recipient_clock import zone_for
    from followupd.planning.tracking import parse_suffix

    if suffix and thread_id:
        raise click.UsageError("--suffix is for a message sent now; a tracked thread already has its check-in date")
    app = state.app(thread_id)
    config = app.config
    tz = config.identity.timezone
    now = app.clock.now()
    document: dict[str, Any] = {"thread_id": None, "state": st.WAITING, "kind": st.NUDGE, "subject": None,
                                "recipients": [], "sent_at": None, "touches_done": 0, "planned": True,
                                "next_reminder": None, "recipient_clock": None, "touches": []}
    if thread_id is None:
        promised = None
        if suffix:
            try:
                promised = parse_suffix(suffix, sent_on=now.astimezone(tz).date(), holidays=config.cadence.holidays)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--suffix") from exc
        thread = sample_thread(now, promised)
        heading = (f"A message sent now ({local(now, tz, '%a %d %b %Y %H:%M %Z')}) to {thread.recipients[0].name} "
                   "with no reply gets:")
    else:
        with app.store.read() as session:
            row = reports.find_thread(session, resolve_id(session, st.Thread, thread_id, "thread",
                                                          "followupd status"))
            document.update(thread_id=row.id if row else thread_id, state=row.state if row else "gone")
            if row is not None:
                document.update(kind=row.kind, subject=row.subject, sent_at=iso(row.sent_at), touches_done=row.touches,
                                recipients=[p["email"] for p in row.participants()])
            if row is None or row.state != st.WAITING:
                _finish(document, as_json, f"Thread {thread_id} is {row.state if row else 'gone'}: no follow-ups "
                                           "are planned.")
                return
            if row.kind == st.COMMITMENT:
                document.update(next_reminder=iso(row.next_due))
                _finish(document, as_json, f"Thread {row.id} tracks your own promise: nobody gets a follow-up. Next "
                                           f"reminder in your INBOX, with an update draft in Drafts: "
                                           f"{local(row.next_due, tz, '%a %d %b %Y %H:%M')}.")
                return
            if row.kind == st.ACTIONS:  # a meeting recap: check-ins per owner, and the roll-up
                from followupd.cli.recap_view import show_recap_preview

                show_recap_preview(session, row, app, now, document, as_json)
                return
            thread = pv.from_store(session, row, config)
        who = ", ".join(a.email for a in thread.recipients) or "-"
        heading = (f'Thread {thread.id} "{thread.subject or "(no subject)"}" to {who}, sent '
                   f"{local(thread.sent_at, tz, '%a %d %b %Y')}; {thread.steps_done} follow-up(s) so far. "
                   "If nobody replies:")
    if not as_json:
        click.echo(heading)
    touches = pv.plan(thread, library=app.library, config=config, now=now)
    their = _recipient_clock_line(config, thread.recipient_clock, thread_id is None)
    document.update(subject=thread.subject, recipients=[a.email for a in thread.recipients],
                    sent_at=iso(thread.sent_at), touches_done=thread.steps_done, recipient_clock=their or None)
    previous = thread.last_touch_at or thread.sent_at
    rows = []
    for touch in touches:
        gap_days = (touch.due.astimezone(tz).date() - previous.astimezone(tz).date()).days
        pending = st.TOUCH_QUEUED if touch.pending_state == st.TOUCH_PLANNED else touch.pending_state
        document["touches"].append({
            "touch": touch.number, "total": touch.total, "stage": touch.stage, "due": iso(touch.due),
            "gap_days": gap_days, "template": touch.template, "pending_state": pending,
            "subject": touch.rendered.subject if touch.rendered else None,
            "body": touch.rendered.body if touch.rendered else None, "problem": touch.problem})
        waiting = "in Drafts" if touch.pending_state in (st.TOUCH_PLANNED, st.TOUCH_QUEUED) else touch.pending_state
        appears = local(touch.due, tz, "%a %d %b %Y %H:%M")
        if thread.recipient_clock is not None:
            appears += f" ({touch.due.astimezone(zone_for(thread.recipient_clock[1])):%H:%M} theirs)"
        rows.append([str(touch.number), touch.stage, appears, f"+{gap_days}d",
                     touch.template + (f" ({waiting})" if waiting else "")])
        previous = touch.due
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    if their:
        click.echo(their)
    click.echo(render_table(["TOUCH", "STAGE", "DRAFT APPEARS", "GAP", "TEMPLATE"], rows))
    click.echo("After the last touch the thread closes as unanswered. Any reply stops the sequence.")
    for touch in touches:
        when = local(touch.due, tz, "%a %d %b %Y")
        click.echo(f"\nTouch {touch.number} of {touch.total}, {when} ({touch.template}):")
        if touch.rendered is None:
            click.echo(f"    cannot be drafted: {touch.problem}")
            continue
        for line in [f"Subject: {touch.rendered.subject}", "", *touch.rendered.body.rstrip("\n").split("\n")]:
            click.echo(f"    {line}".rstrip())


def _finish(document: dict[str, Any], as_json: bool, text: str) -> None:
    """A preview with no follow-ups to show: the document says planned false, the text says why."""
    document["planned"] = False
    click.echo(json.dumps(document, indent=2) if as_json else text)


@main.command()
@click.argument("thread")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.pass_obj
@handle_errors
def explain(state: State, thread: str, as_json: bool) -> None:
    """Show a thread's timeline: every message that touched it, how it was read, and the evidence."""
    from followupd.adapters.store import reports
    from followupd.cli.ids import resolve_id
    from followupd.engine.drafts import recipient_offset
    from followupd.engine.names import learned_for
    from followupd.mail.headers import Address
    from followupd.planning.known_names import describe_source

    app = state.app(thread)
    tz = app.config.identity.timezone
    with app.store.read() as session:
        thread_id = resolve_id(session, st.Thread, thread, "thread", "followupd status")
        row = reports.find_thread(session, thread_id)
        assert row is not None
        events = st.events_for(session, thread_id)
        timeline = [{"at": iso(e.at), "kind": e.kind, "message_id": e.message_id or None, "evidence": e.detail}
                    for e in events]
        touches = [touch_json(t) for t in row.touch_rows]
        summary = thread_json(row)
        recap = [{**item_json(item), **item_closing(item)} for item in row.item_rows]
        owners = [owner_text(item) for item in row.item_rows]
        sent_at, next_due, event_times = row.sent_at, row.next_due, [e.at for e in events]
        learned = recipient_offset(row, app.config)
        names = learned_for(session, [Address(p["email"], p.get("name", "")) for p in row.participants()])
    if as_json:
        greeting = [{"email": email, "name": name, "source": source} for email, name, source in names]
        click.echo(json.dumps({"thread": summary, "timeline": timeline, "touches": touches,
                               "greeting_names": greeting, "items": recap}, indent=2))
        return
    click.echo(f"{summary['id']}  {summary['subject'] or '(no subject)'}")
    click.echo(f"  sent {local(sent_at, tz, '%a %d %b %Y %H:%M')} to {', '.join(summary['recipients']) or '-'}")
    click.echo(f"  state: {summary['state']}" + (f" ({summary['state_reason']})" if summary["state_reason"] else ""))
    click.echo(f"  source: {summary['source']} ({SOURCE_TEXT.get(summary['source'], '')})")
    if summary["evidence"]:
        click.echo(f"  asks: {summary['evidence']}")
    if summary["promised"]:
        click.echo(f"  promised check-in: {summary['promised']}")
    click.echo(f"  next check-in: {local(next_due, tz, '%a %d %b %Y %H:%M')}")
    their = _recipient_clock_line(app.config, learned, False)
    if their:
        click.echo("  " + their)
    for email, name, source in names:
        click.echo(f"  greets {email} as {name} ({describe_source(source)})")
    for problem in summary["problems"]:
        click.echo(f"  problem: {problem}")
    if summary["kind"] == st.ACTIONS:
        _echo_items(recap, owners, tz)
    click.echo("")
    for entry, at in zip(timeline, event_times, strict=True):
        click.echo(f"  {local(at, tz, '%a %d %b %Y %H:%M')}  {entry['kind']:<16} {entry['evidence']}")


#: How a thread started, as ``explain`` says it (``source`` in ``status --json``).
SOURCE_TEXT = {"bcc": "you BCC'd the tracking address", "auto": 'tracked without the BCC: [tracking] auto = "track"',
               "manual": "tracked without the BCC: you ran `followupd track` on a suggestion"}


def _echo_items(recap: list[dict[str, Any]], owners: list[str], tz: Any) -> None:
    """A recap's items as they were read: the line each came from, its owner, date and state, and how it
    closed."""
    if not recap:
        click.echo("  action items: none read from this recap")
        return
    click.echo(f"  action items ({len(recap)}):")
    for entry, owner in zip(recap, owners, strict=True):
        click.echo(f"    {entry['id']}  {entry['state']}  {owner}: {entry['task']}")
        click.echo(f"      due: {entry['due'] or '- (none given)'}")
        click.echo(f"      read from: {entry['evidence'] or '-'}")
        for problem in entry["problems"]:
            click.echo(f"      problem: {problem}")
        if entry["closed_at"]:
            closed = local(datetime.fromisoformat(entry["closed_at"]), tz, "%a %d %b %Y %H:%M")
            how = f"      closed {closed} by {entry['closed_by'] or '-'}"
            click.echo(how + (f": {entry['outcome']}" if entry["outcome"] else "")
                       + (" (probable)" if entry["probable"] else ""))
        elif entry["outcome"]:  # holding: the owner's words that moved the date
            click.echo(f"      last answer: {entry['outcome']}")


def _recipient_clock_line(config: Config, learned: tuple[str, int] | None, sample: bool) -> str:
    """[cadence] recipient_time: whose clock the send hours follow, for `preview` and `explain` ('' when off)."""
    from followupd.planning.recipient_clock import describe as describe_offset

    if not config.cadence.recipient_time:
        return ""
    if learned is not None:
        return (f"recipient's clock: {describe_offset(learned[1])} ({learned[0]}, from the Date headers of their "
                "mail); send hours apply there")
    whose = "each recipient's" if sample else "the recipient's"
    return (f"recipient's clock: not known yet; send hours apply in your zone ({config.identity.timezone}) until "
            f"{whose} own mail shows theirs")

"""``followupd preview --thread ID`` for a meeting recap: the check-ins planned for each owner, and the roll-up.

A recap is followed up per owner (followupd.engine.checkins), so its preview lists owners, not touches: each
owner's remaining check-in dates if they never answer, their open items, and the next check-in written out as
the drafter would write it today.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from followupd.adapters import store as st
from followupd.cli.shapes import iso, local
from followupd.engine.checkins import RecapDrafter


def show_recap_preview(session: Any, row: st.Thread, app: Any, now: datetime, document: dict[str, Any],
                       as_json: bool) -> None:
    """Print the recap's plan (``document`` is the preview's JSON object, extended with ``checkins`` and
    ``rollup``)."""
    tz = app.config.identity.timezone
    planned = RecapDrafter(app.config, app.library).preview(session, row, now)
    checkins = []
    for owner in planned.owners:
        checkins.append({
            "owner": {"email": owner.owner.email, "name": owner.owner.name},
            "items": list(owner.item_ids),
            "planned": [{"number": c.number, "stage": c.stage, "due": iso(c.at)} for c in owner.checkins],
            "subject": owner.rendered.subject if owner.rendered else None,
            "body": owner.rendered.body if owner.rendered else None,
            "problem": owner.problem,
        })
    document.update(checkins=checkins, rollup=iso(planned.rollup_at), planned=bool(checkins or planned.rollup_at))
    if as_json:
        click.echo(json.dumps(document, indent=2))
        return
    open_items = sum(1 for item in row.item_rows if item.state in ("open", "holding"))
    click.echo(f'Meeting recap {row.id} "{row.subject or "(no subject)"}", sent '
               f"{local(row.sent_at, tz, '%a %d %b %Y')}: {open_items} of {len(row.item_rows)} action item(s) open. "
               "Each owner is asked about their own items only; an answer stops their check-ins.")
    if not planned.owners:
        click.echo("No check-in is planned (every owner answered, has a check-in waiting in Drafts, or had them all).")
    for owner in planned.owners:
        dates = ", ".join(f"{local(c.at, tz, '%a %d %b')} ({c.stage})" for c in owner.checkins)
        who = f"{owner.owner.name} <{owner.owner.email}>" if owner.owner.name else owner.owner.email
        click.echo(f"\n{who}: {len(owner.item_ids)} open item(s); check-ins {dates}")
        if owner.rendered is None:
            click.echo(f"    cannot be drafted: {owner.problem}")
            continue
        for line in [f"Subject: {owner.rendered.subject}", "", *owner.rendered.body.rstrip("\n").split("\n")]:
            click.echo(f"    {line}".rstrip())
    if planned.rollup_at is not None:
        click.echo(f"\nRoll-up to everyone on the recap: {local(planned.rollup_at, tz, '%a %d %b %Y %H:%M')}, then "
                   "weekly while items stay open.")

"""``followupd digest --preview``: the next weekly digest, shown without filing it.

The digest itself is filed by the cycle (``poll`` and the daemon) once per period (``followupd.engine.digest``);
this command only reads the database, builds the same message from what it holds now and prints its text part,
or writes its HTML part to a file to open in a browser. Nothing is written to the database or the mailbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from followupd.cli.groups import State, handle_errors, main

NOTHING = "nothing to report: no digest would be filed now"


@main.command()
@click.option("--preview", is_flag=True, required=True,
              help="Show the next digest without filing it (required: filing is the cycle's job).")
@click.option("--html", "html_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the HTML part to this file instead of printing the text part.")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON object: account, subject (null when there is nothing to report), sections "
                   "(keys of the sections shown: waiting, drafts, promises, items, owed, closed, commands, "
                   "stats), text and html.")
@click.pass_obj
@handle_errors
def digest(state: State, preview: bool, html_file: Path | None, as_json: bool) -> None:
    """Show the next weekly digest (who owes you a reply, drafts waiting, action items, replies you owe, what
    closed, stats) without filing it in INBOX."""
    from followupd.engine.digest import next_digest

    app = state.app()
    with app.store.read() as session:
        found = next_digest(session, app.config, app.clock.now())
    if as_json:
        shape: dict[str, object] = {"account": app.name, "subject": None, "sections": [], "text": "", "html": ""}
        if found is not None:
            shape.update(found.as_json())
        click.echo(json.dumps(shape, indent=2))
        return
    if found is None:
        click.echo(NOTHING)
        return
    if html_file is not None:
        html_file.write_text(found.html, encoding="utf-8")
        click.echo(f"wrote the HTML part of {found.subject!r} to {html_file}")
        return
    click.echo(f"Subject: {found.subject}\n")
    click.echo(found.text, nl=False)

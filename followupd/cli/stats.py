"""``followupd stats``: how well following up works, over the threads tracked in a recent window.

The numbers come from ``followupd.planning.stats`` (what counts is written there and in the README); this module
only picks the window, reads each account's threads through ``store.reports`` and prints. Each account is
counted on its own, as ``status`` and ``poll`` do: ``--json`` prints an array with one object per account
(``account`` names it), even for a single account, so a script reads the same shape whatever the config holds.
Like ``status`` it reads the database only: no engine, templates or IMAP client.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import click

from followupd.cli.groups import State, handle_errors, main
from followupd.cli.shapes import local
from followupd.compose.bars import bar
from followupd.planning.cadence import parse_duration
from followupd.planning.stats import ThreadStats

BAR_WIDTH = 20


def _window(ctx: click.Context, param: click.Parameter, text: str) -> timedelta:
    """``--since``: a duration in the suffix grammar's units ("90d", "12w"); business days have no fixed length."""
    try:
        window = parse_duration(text)
    except ValueError:
        window = timedelta(0)
    if window <= timedelta(0):
        raise click.BadParameter(f"{text!r} is not a length of time back from now; write a whole number and a unit "
                                 "(d days, w weeks, h hours), e.g. --since 90d or --since 12w", ctx, param)
    return window


@main.command()
@click.option("--since", "window", default="90d", show_default=True, metavar="DURATION", callback=_window,
              help="Count the threads whose tracked message was sent in this last stretch of time (e.g. 30d, 12w).")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON array, one object per account: account, since, tracked, replied, reply_rate, "
                   "by_touch ({touch, replied}), by_template ({template, sent, replied}), median_days_to_reply, "
                   "median_touches_to_reply, declined, bounced.")
@click.pass_obj
@handle_errors
def stats(state: State, window: timedelta, as_json: bool) -> None:
    """Show how well following up works: threads tracked, reply rate, replies by follow-up number and by template,
    median time to a reply, declines and bounces."""
    from followupd.adapters.store import reports
    from followupd.planning.stats import compute

    apps = state.apps()
    documents: list[dict[str, Any]] = []
    for app in apps:
        since = app.clock.now() - window
        with app.store.read() as session:
            result = compute(reports.stats_threads(session, since), since)
        if as_json:
            documents.append({"account": app.name, "since": since.isoformat(), **result.as_json()})
            continue
        if len(apps) > 1:
            click.echo(f"account {app.name}:")
        tz = app.config.identity.timezone
        click.echo("\n".join(stats_text(result, since=local(since, tz, "%a %d %b %Y"))))
        if len(apps) > 1 and app is not apps[-1]:
            click.echo("")
    if as_json:
        click.echo(json.dumps(documents, indent=2))


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "-"


def _plural(count: float, word: str) -> str:
    shown = f"{count:g}"
    return f"{shown} {word}" if shown == "1" else f"{shown} {word}s"


def stats_text(result: ThreadStats, *, since: str) -> list[str]:
    """The lines ``followupd stats`` prints for one account: a summary, then the two bar charts."""
    if not result.tracked:
        return [f"No follow-up threads tracked since {since}."]
    lines = [f"Since {since}: {_plural(result.tracked, 'thread')} tracked, {result.replied} replied "
             f"({_percent(result.replied, result.tracked)}), {result.declined} declined, {result.bounced} bounced."]
    if result.median_days_to_reply is not None and result.median_touches_to_reply is not None:
        lines.append(f"Median to a reply: {_plural(result.median_days_to_reply, 'day')}, after "
                     f"{_plural(result.median_touches_to_reply, 'follow-up')}.")
    lines += ["", "Replies by follow-ups sent before them:"]
    most = max(row.replied for row in result.by_touch)
    number_width = len(str(result.by_touch[-1].touch))
    for row in result.by_touch:
        lines.append(f"  {row.touch:>{number_width}}  {bar(row.replied, most, BAR_WIDTH):<{BAR_WIDTH}}  "
                     f"{row.replied}".rstrip())
    if result.by_template:
        lines += ["", "Templates (replied after it / sent):"]
        name_width = max(len(used.template) for used in result.by_template)
        count_width = max(len(f"{used.replied}/{used.sent}") for used in result.by_template)
        for used in result.by_template:
            counts = f"{used.replied}/{used.sent}"
            lines.append(f"  {used.template:<{name_width}}  {bar(used.replied, used.sent, BAR_WIDTH):<{BAR_WIDTH}}  "
                         f"{counts:>{count_width}}  {_percent(used.replied, used.sent):>5}")
    return lines

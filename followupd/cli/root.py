"""The ``followupd`` command line: the only module that prints for humans and decides exit codes.

Exit codes (one place, by error class): 0 ok, 2 configuration or template error, 3 mailbox, database or other
operational error, 4 a bug (only then is a traceback shown).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import traceback
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast
from zoneinfo import ZoneInfo

import click

from followupd import __version__
from followupd.cli.lazy import LazyGroup, lazy_module
from followupd.errors import FollowupdError, exit_code_for

# Imported when first used, not when `followupd` starts (issue 16: `--help` in well under a second): the store
# brings SQLAlchemy, the config module the cadence, tone and intent tables.
if TYPE_CHECKING:
    from followupd.adapters import store as st
    from followupd.config import Config
    from followupd.runtime.health import Health
else:
    st = lazy_module("followupd.adapters.store")


def resolve_config_path(option: Path | None, env: Any) -> Path:
    from followupd.config import resolve_config_path as resolve

    return resolve(option, env)


def read_health(session: Any) -> Health:
    from followupd.runtime.health import read_health as read

    return read(session)


F = TypeVar("F", bound=Callable[..., Any])

LOG_LEVELS = ("debug", "info", "warning", "error")
#: Log lines outside the journal: "2026-12-03 09:20:27 INFO followupd.runtime.daemon: ...", local time.
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


class State:
    """What the global options resolved to; commands build the apps lazily so ``--help`` needs no config."""

    def __init__(self, config_path: Path | None, log_level: str, account: str | None = None) -> None:
        self.config_path_option = config_path
        self.log_level = log_level
        self.account = account
        self._apps: list[Any] | None = None
        self._chosen: Any = None

    @property
    def config_path(self) -> Path:
        return resolve_config_path(self.config_path_option, os.environ)

    def apps(self) -> list[Any]:
        """Every account's App (only the one named by ``--account``, if given)."""
        if self._apps is None:
            from followupd.runtime.app import build_apps, select_account  # imported late: keeps `followupd --help` fast

            apps = build_apps(self.config_path)
            self._apps = [select_account(apps, self.account)] if self.account else apps
        return self._apps

    def app(self, ident: str | None = None) -> Any:
        """The one account a command acts on: ``--account``, the only one, or the one that has ``ident`` (a thread
        or follow-up id prefix); without an id and with several accounts, the first."""
        if self._chosen is not None:
            return self._chosen
        apps = self.apps()
        chosen = apps[0]
        if len(apps) > 1 and ident and ident.strip():
            owners = [app for app in apps if _has_id(app, ident.strip())]
            if len(owners) > 1:
                raise click.UsageError(f"{ident!r} matches threads in several accounts "
                                       f"({', '.join(a.name for a in owners)}); add --account NAME")
            chosen = owners[0] if owners else apps[0]
        self._chosen = chosen
        return chosen


def _has_id(app: Any, prefix: str) -> bool:
    from sqlalchemy import select

    with app.store.read() as session:
        for model in (st.Thread, st.Touch):
            if session.scalar(select(model.id).where(model.id.startswith(prefix, autoescape=True)).limit(1)):
                return True
    return False


class _JournalFormatter(logging.Formatter):
    """``<N>`` syslog priority prefixes (sd-daemon(3)): journald stores the level, and adds the time itself."""

    PRIORITIES: ClassVar[dict[int, int]] = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4,
                                            logging.ERROR: 3, logging.CRITICAL: 2}

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{self.PRIORITIES.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


#: Modules whose log name is not their file name: the names log lines carried before the package had layers.
_LOG_NAMES = {"cycle": "engine", "root": "cli", "credentials": "secrets"}


class _ShortLoggerName(logging.Filter):
    """``followupd.adapters.imap`` logs as ``followupd.imap``: the layer folders are for contributors, and log
    lines (which users grep and quote in bug reports) keep the names they always had."""

    def filter(self, record: logging.LogRecord) -> bool:
        parts = record.name.split(".")
        if parts[0] == "followupd" and len(parts) >= 3:
            record.name = "followupd." + _LOG_NAMES.get(parts[-1], parts[-1])
        return True


def _stderr_is_journal() -> bool:
    """systemd sets $JOURNAL_STREAM to "device:inode" of the stream it connected to the journal."""
    expected = os.environ.get("JOURNAL_STREAM", "")
    try:
        info = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return bool(expected) and expected == f"{info.st_dev}:{info.st_ino}"


def _setup_logging(level: str) -> None:
    # stderr, one line per record, local time and level first: readable in a terminal or a log file; under
    # systemd, <N> priority prefixes instead and no time (the journal stamps every line itself), so journalctl
    # -p warning works. Every line passes the secret filter, at every level.
    from followupd.adapters.redact import RedactingFilter

    handler = logging.StreamHandler(sys.stderr)
    if _stderr_is_journal():
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
    else:
        handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt=LOG_DATE_FORMAT))
    handler.addFilter(RedactingFilter())
    handler.addFilter(_ShortLoggerName())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "sqlalchemy", "alembic"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    # imapclient logs the protocol at DEBUG (secrets are masked by the filter); keep it quiet unless asked.
    logging.getLogger("imapclient").setLevel(logging.DEBUG if root.level <= logging.DEBUG else logging.WARNING)


def show_progress(apps: list[Any], *, quiet: bool) -> None:
    """First syncs of big folders report progress on stderr: a bar on a terminal, else an INFO line per tenth
    (shown at the default log level too: a long silence looks like a hang in the journal as well)."""
    from followupd.cli.progress import ProgressReporter

    if not quiet:
        progress_logger = logging.getLogger("followupd.cli.progress")
        progress_logger.setLevel(min(logging.INFO, logging.getLogger().getEffectiveLevel()))
    for app in apps:  # one each: the daemon's accounts may sync at the same time
        label = f"{app.name}: " if len(apps) > 1 else ""
        reporter = ProgressReporter(sys.stderr, quiet=quiet)
        app.progress = (lambda folder, done, total, r=reporter, p=label: r(p + folder, done, total))


def handle_errors(func: F) -> F:
    """Turn deliberate errors into one clean line and their exit code; anything else is a bug (exit 4)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FollowupdError as exc:
            click.echo(f"followupd: error: {exc}", err=True)
            sys.exit(exit_code_for(exc))
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except Exception as exc:
            traceback.print_exc()
            click.echo("followupd: this is a bug; please report it with the traceback above", err=True)
            sys.exit(exit_code_for(exc))

    return cast(F, wrapper)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False),
              help="Config file (default: $FOLLOWUPD_CONFIG, else ~/.config/followupd/config.toml).")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default="warning",
              show_default=True, help="How much to log to stderr.")
@click.option("--account", "account", default=None, metavar="NAME",
              help="Act on this account only ([[accounts]] name or username); default: all of them.")
@click.version_option(__version__, prog_name="followupd")
@click.pass_context
def main(ctx: click.Context, config_path: Path | None, log_level: str, account: str | None) -> None:
    """Follow up on sent mail that got no reply: BCC your tracking address, get humble drafts on a spaced cadence."""
    _setup_logging(log_level)
    ctx.obj = State(config_path, log_level, account)


@main.command()
@click.option("--dry-run", is_flag=True, help="Read the mailbox and report, but write nothing anywhere.")
@click.option("--quiet", "-q", is_flag=True,
              help="No progress while a big folder is read (a bar on a terminal, a line per 10 % otherwise).")
@click.pass_obj
@handle_errors
def poll(state: State, dry_run: bool, quiet: bool) -> None:
    """Run one sync cycle for each account and exit (one account failing does not stop the others)."""
    apps = state.apps()
    show_progress(apps, quiet=quiet)
    _log_config_warnings(state)
    prefix = "dry run: would have " if dry_run else ""
    failed: list[FollowupdError] = []
    for app in apps:
        label = f"{app.name}: " if len(apps) > 1 else ""
        try:
            report = app.poll(dry_run=dry_run)
        except FollowupdError as exc:
            if len(apps) == 1:
                raise
            click.echo(f"followupd: error: {label}{exc}", err=True)
            failed.append(exc)
            continue
        click.echo(label + prefix + report.summary())
    if failed:
        sys.exit(max(exit_code_for(exc) for exc in failed))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def thread_json(thread: st.Thread) -> dict[str, Any]:
    """The public JSON shape of a thread (a contract: fields are added, never renamed)."""
    return {
        "id": thread.id,
        "message_id": thread.message_id,
        "subject": thread.subject,
        "recipients": [p["email"] for p in thread.participants()],
        "recipient_names": {p["email"]: p["name"] for p in thread.participants() if p.get("name")},
        "state": thread.state,
        "kind": thread.kind,
        "state_reason": thread.state_reason,
        "touches": thread.touches,
        "next_due": _iso(thread.next_due),
        "problems": list(thread.problems),
        "sent_at": _iso(thread.sent_at),
        "promised": thread.promised.isoformat() if thread.promised else None,
        "tracking_suffix": thread.tracking_suffix,
        "last_touch_at": _iso(thread.last_touch_at),
        "replied_at": _iso(thread.replied_at),
        "replied_by": thread.replied_by or None,
        "reply_probable": thread.reply_probable,
        "note": thread.note or None,
        "expect_all": thread.expect_all,
        "answered_by": list(thread.answered_by or ()),
        "failed_recipients": list(thread.failed_recipients or ()),
    }


def _local(moment: datetime | None, tz: ZoneInfo, fmt: str = "%a %d %b %H:%M") -> str:
    return moment.astimezone(tz).strftime(fmt) if moment else "-"


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


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
    from sqlalchemy import select

    from followupd.cli import status_view as sv

    try:
        selection = sv.selection_for(states, show_all=show_all, as_json=as_json)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from exc
    apps = state.apps()
    entries: list[dict[str, Any]] = []
    rows = []
    total = 0
    for app in apps:
        with app.store.read() as session:
            health = read_health(session)
            threads = st.all_threads(session)
            total += len(threads)
            threads = [t for t in threads if selection.includes(t.state)]
            drafts: dict[str, list[tuple[str, datetime | None, datetime]]] = {}
            for thread_id, touch_state, drafted_at, created in session.execute(
                    select(st.Touch.thread_id, st.Touch.state, st.Touch.drafted_at, st.Touch.created)
                    .where(st.Touch.state.in_(sv.DRAFT_WAITING_STATES))):
                drafts.setdefault(thread_id, []).append((touch_state, drafted_at, created))
            tz = app.config.identity.timezone
            for t in threads:
                waiting_since = sv.draft_waiting_since(t.state, drafts.get(t.id, ()))
                entries.append({**thread_json(t), "account": app.name, "account_state": health.state,
                                "draft_waiting_since": _iso(waiting_since)})
                who = ", ".join(p["email"] for p in t.participants()) or "-"
                state_text = t.state + (" (probable)" if t.state == st.REPLIED and t.reply_probable else "")
                rows.append(([app.name] if len(apps) > 1 else []) + [
                    t.id, state_text, _clip(who, 30), _clip(t.subject or "(no subject)", 40),
                    _local(t.sent_at, tz, "%d %b %Y"), str(t.touches), sv.next_text(t.next_due, waiting_since, tz),
                    "; ".join(t.problems)])
        if not as_json:
            _echo_health(app, health, several=len(apps) > 1)
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not total:
        click.echo("No tracked threads yet. BCC " + " or ".join(a.config.tracking.address for a in apps)
                   + " on mail you send.")
        return
    if rows:
        headers = ["ID", "STATE", "RECIPIENTS", "SUBJECT", "SENT", "TOUCHES", "NEXT", "PROBLEMS"]
        click.echo(render_table((["ACCOUNT"] if len(apps) > 1 else []) + headers, rows))
    else:
        click.echo("No open threads." if selection.states == sv.OPEN_STATES
                   else f"No threads in state {', '.join(selection.states or ())}.")
    note = sv.hidden_note(total - len(rows), selection)
    if note:
        click.echo(note)


def _echo_health(app: Any, health: Any, *, several: bool) -> None:
    """One line per account when it is failing (or always, with several accounts)."""
    tz = app.config.identity.timezone
    if health.state == "degraded":
        click.echo(f"account {app.name}: degraded since {_local(health.since, tz, '%a %d %b %H:%M')} "
                   f"({health.failures} failed cycle(s)): {health.error}; followupd keeps retrying")
    elif several:
        click.echo(f"account {app.name}: {health.state}")


@main.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("check")
@click.option("--offline", is_flag=True, help="Validate the file only; do not connect to the server.")
@click.pass_obj
@handle_errors
def config_check(state: State, offline: bool) -> None:
    """Validate the config file, then connect and print the folders followupd will use."""
    from followupd.config import config_warnings, redact_url

    path = state.config_path
    apps = state.apps()
    for warning in config_warnings(path):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"config: {path} is valid")
    for app in apps:
        config = app.config
        if len(apps) > 1:
            click.echo(f"\n[{app.name}]")
        click.echo(f"account: {config.account.username} at {config.account.host}:{config.account.port} "
                   f"(tls {config.account.tls})")
        click.echo(f"tracking address: {config.tracking.address}")
        click.echo(f"database: {redact_url(config.database.url)}"
                   + (f" (schema {config.database.schema})" if config.database.schema else ""))
        if offline:
            continue
        with app.mailbox() as box:
            folders = box.resolve_folders(sent=config.folders.sent, drafts=config.folders.drafts,
                                          watch=config.folders.watch)
        click.echo(f"sent folder: {folders.sent or '(none found)'}")
        click.echo(f"drafts folder: {folders.drafts or '(none found)'}")
        click.echo(f"watched folders: {', '.join(folders.watch)}")


@main.command()
@click.pass_obj
@handle_errors
def run(state: State) -> None:
    """Run in the foreground for every account: watch, draft follow-ups when due, until SIGTERM/SIGINT."""
    from followupd.runtime.daemon import Daemon

    apps = state.apps()
    show_progress(apps, quiet=False)
    _log_config_warnings(state)
    sys.exit(Daemon(apps).run())


def _log_config_warnings(state: State) -> None:
    """Risky settings (a config others can read, tls_verify = false) are repeated in the log of every run."""
    from followupd.config import config_warnings

    for warning in config_warnings(state.config_path):
        logging.getLogger("followupd.config").warning("%s", warning)


def _why(entry: dict[str, Any]) -> str:
    """What happened to a follow-up (failed, withdrawn, held back), else why it was written."""
    return str(entry["outcome"] or entry["reason"] or "") if entry["state"] != "sent" else str(entry["reason"] or "")


def touch_json(touch: st.Touch) -> dict[str, Any]:
    """The public JSON shape of an outbox entry (a contract: fields are added, never renamed)."""
    public_state = st.TOUCH_QUEUED if touch.state == st.TOUCH_PLANNED else touch.state
    return {
        "id": touch.id,
        "thread_id": touch.thread_id,
        "message_id": touch.message_id,
        "subject": touch.subject,
        "to": [entry["email"] for entry in touch.to],
        "touch": touch.number,
        "template": touch.template,
        "state": public_state,
        "created": _iso(touch.created),
        "due": _iso(touch.due_at),
        "drafted_at": _iso(touch.drafted_at),
        "done_at": _iso(touch.done_at),
        "outcome": touch.outcome or None,
        "approved": touch.approved_at is not None,
        "sent_by_followupd": touch.sent_by_followupd,
        "reason": touch.reason or None,
    }


@main.group(cls=LazyGroup, invoke_without_command=True)
@click.option("--all", "show_all", is_flag=True, help="Also list sent, skipped, withdrawn and failed follow-ups.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
@handle_errors
def outbox(ctx: click.Context, show_all: bool, as_json: bool) -> None:
    """List follow-up drafts waiting for you; subcommands show, edit, approve, skip or stop them."""
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    apps = state.apps()
    app = apps[0]
    entries = []
    for each in apps:
        with each.store.read() as session:
            touches = st.all_touches(session)
            if not show_all:
                touches = [t for t in touches if t.state in (st.TOUCH_PLANNED, st.TOUCH_QUEUED, st.TOUCH_SENDING)]
            entries += [{**touch_json(t), "account": each.name} for t in touches]
    if as_json:
        click.echo(json.dumps(entries, indent=2))
        return
    if not entries:
        click.echo("Outbox is empty: no follow-up drafts are waiting." + ("" if show_all else
                   " (--all shows sent, skipped and withdrawn ones)"))
        return
    tz = app.config.identity.timezone
    rows = [[e["id"], e["state"], _clip(", ".join(e["to"]), 30), _clip(e["subject"], 40), str(e["touch"]),
             e["template"], _local(datetime.fromisoformat(e["created"]), tz),
             _clip(_why(e), 70)] for e in entries]
    click.echo(render_table(["ID", "STATE", "TO", "SUBJECT", "TOUCH", "TEMPLATE", "CREATED", "WHY"], rows))


@main.command()
@click.option("--suffix", default=None, help='A tracking suffix to preview, e.g. "5d", "fri", "dec15".')
@click.option("--thread", "thread_id", default=None, metavar="ID",
              help="A tracked thread (its id or the start of it, see `status`): show the follow-ups still to come.")
@click.pass_obj
@handle_errors
def preview(state: State, suffix: str | None, thread_id: str | None) -> None:
    """Show the follow-ups a message sent now would get, or a tracked thread's next ones: dates and full text."""
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
    if thread_id is None:
        promised = None
        if suffix:
            try:
                promised = parse_suffix(suffix, sent_on=now.astimezone(tz).date(), holidays=config.cadence.holidays)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--suffix") from exc
        thread = sample_thread(now, promised)
        click.echo(f"A message sent now ({_local(now, tz, '%a %d %b %Y %H:%M %Z')}) to {thread.recipients[0].name} "
                   "with no reply gets:")
    else:
        from followupd.cli.outbox import resolve_id

        with app.store.read() as session:
            row = session.get(st.Thread, resolve_id(session, st.Thread, thread_id, "thread", "followupd status"))
            if row is None or row.state != st.WAITING:
                click.echo(f"Thread {thread_id} is {row.state if row else 'gone'}: no follow-ups are planned.")
                return
            if row.kind == st.COMMITMENT:
                click.echo(f"Thread {row.id} tracks your own promise: nobody gets a follow-up. Next reminder in your "
                           f"INBOX, with an update draft in Drafts: {_local(row.next_due, tz, '%a %d %b %Y %H:%M')}.")
                return
            thread = pv.from_store(session, row, config)
        who = ", ".join(a.email for a in thread.recipients) or "-"
        click.echo(f'Thread {thread.id} "{thread.subject or "(no subject)"}" to {who}, sent '
                   f"{_local(thread.sent_at, tz, '%a %d %b %Y')}; {thread.steps_done} follow-up(s) so far. "
                   "If nobody replies:")
    touches = pv.plan(thread, library=app.library, config=config, now=now)
    their = _recipient_clock_line(config, thread.recipient_clock, thread_id is None)
    if their:
        click.echo(their)
    rows = []
    previous = thread.last_touch_at or thread.sent_at
    for touch in touches:
        gap_days = (touch.due.astimezone(tz).date() - previous.astimezone(tz).date()).days
        waiting = "in Drafts" if touch.pending_state in (st.TOUCH_PLANNED, st.TOUCH_QUEUED) else touch.pending_state
        appears = _local(touch.due, tz, "%a %d %b %Y %H:%M")
        if thread.recipient_clock is not None:
            appears += f" ({touch.due.astimezone(zone_for(thread.recipient_clock[1])):%H:%M} theirs)"
        rows.append([str(touch.number), touch.stage, appears, f"+{gap_days}d",
                     touch.template + (f" ({waiting})" if waiting else "")])
        previous = touch.due
    click.echo(render_table(["TOUCH", "STAGE", "DRAFT APPEARS", "GAP", "TEMPLATE"], rows))
    click.echo("After the last touch the thread closes as unanswered. Any reply stops the sequence.")
    for touch in touches:
        when = _local(touch.due, tz, "%a %d %b %Y")
        click.echo(f"\nTouch {touch.number} of {touch.total}, {when} ({touch.template}):")
        if touch.rendered is None:
            click.echo(f"    cannot be drafted: {touch.problem}")
            continue
        for line in [f"Subject: {touch.rendered.subject}", "", *touch.rendered.body.rstrip("\n").split("\n")]:
            click.echo(f"    {line}".rstrip())


@main.command()
@click.argument("thread")
@click.option("--json", "as_json", is_flag=True, help="Print the timeline as JSON.")
@click.pass_obj
@handle_errors
def explain(state: State, thread: str, as_json: bool) -> None:
    """Show a thread's timeline: every message that touched it, how it was read, and the evidence."""
    from followupd.cli.outbox import resolve_id
    from followupd.engine.drafts import recipient_offset

    app = state.app(thread)
    tz = app.config.identity.timezone
    with app.store.read() as session:
        thread_id = resolve_id(session, st.Thread, thread, "thread", "followupd status")
        row = session.get(st.Thread, thread_id)
        assert row is not None
        events = st.events_for(session, thread_id)
        timeline = [{"at": _iso(e.at), "kind": e.kind, "message_id": e.message_id or None, "evidence": e.detail}
                    for e in events]
        touches = [touch_json(t) for t in row.touch_rows]
        summary = thread_json(row)
        sent_at, next_due, event_times = row.sent_at, row.next_due, [e.at for e in events]
        learned = recipient_offset(row, app.config)
    if as_json:
        click.echo(json.dumps({"thread": summary, "timeline": timeline, "touches": touches}, indent=2))
        return
    click.echo(f"{summary['id']}  {summary['subject'] or '(no subject)'}")
    click.echo(f"  sent {_local(sent_at, tz, '%a %d %b %Y %H:%M')} to {', '.join(summary['recipients']) or '-'}")
    click.echo(f"  state: {summary['state']}" + (f" ({summary['state_reason']})" if summary["state_reason"] else ""))
    if summary["promised"]:
        click.echo(f"  promised check-in: {summary['promised']}")
    click.echo(f"  next check-in: {_local(next_due, tz, '%a %d %b %Y %H:%M')}")
    their = _recipient_clock_line(app.config, learned, False)
    if their:
        click.echo("  " + their)
    for problem in summary["problems"]:
        click.echo(f"  problem: {problem}")
    click.echo("")
    for entry, at in zip(timeline, event_times, strict=True):
        click.echo(f"  {_local(at, tz, '%a %d %b %Y %H:%M')}  {entry['kind']:<16} {entry['evidence']}")


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


# Commands registered by other modules, imported when one of them is used (cli_lazy.LazyGroup). The text is the
# first paragraph of each command's help, for the `--help` listing; tests/test_cli_startup.py holds it equal.
main.lazy.update({
    "db": ("followupd.cli.db", "Inspect or upgrade the database schema."),
    "doctor": ("followupd.cli.doctor", "Check config, secrets, connection, TLS, login, capabilities, folders, the "
               "tracking address, templates, database and SMTP, one line each; never changes the mailbox or the "
               "database and never sends mail."),
    "note": ("followupd.cli.outbox", 'Keep a personal note on a thread ("ask how the move went"); templates can '
             'use it. "" clears it.'),
    "snooze": ("followupd.cli.outbox", "Hold a thread's follow-ups for DURATION (e.g. 2w, 5d); a waiting draft is "
               "withdrawn."),
    "templates": ("followupd.cli.templates", "Check follow-up templates, and list which ones are active."),
})
cast(LazyGroup, outbox).lazy.update({
    "approve": ("followupd.cli.outbox", 'Approve a follow-up for sending (needs [sending] mode = "approve" or '
                '"auto" and an [smtp] section).'),
    "edit": ("followupd.cli.outbox", "Edit a waiting follow-up's text in $EDITOR; the draft in your Drafts folder "
             "is replaced."),
    "show": ("followupd.cli.outbox", "Print a follow-up in full, headers and body: a waiting draft as it is in your "
             "Drafts folder now (saying so if you edited it in your mail client), else as it was rendered (or sent)."),
    "skip": ("followupd.cli.outbox", "Drop this follow-up (its draft is removed) and plan the next one."),
    "stop": ("followupd.cli.outbox", "Stop following up on a thread; its waiting draft is removed."),
})

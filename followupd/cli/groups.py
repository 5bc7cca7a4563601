"""The ``followupd`` command group, the state its options resolve to, and where each command lives.

Why this module imports no command module: registration runs one way. Every command module imports ``main``
(and ``State``, ``handle_errors``) from here and adds its commands with click's decorators; this module only
names them in ``main.lazy`` (module, first paragraph of its help), so ``followupd --help`` imports no command
and no heavy library, and no command module imports another one's registration back.
``tests/test_cli_startup.py`` holds the listing equal to the one click would print with every module imported.

Exit codes (one place, by error class): 0 ok, 2 configuration or template error, 3 mailbox, database or other
operational error, 4 a bug (only then is a traceback shown).
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from followupd import __version__
from followupd.cli.lazy import LazyGroup
from followupd.cli.logs import LOG_LEVELS, setup_logging
from followupd.errors import FollowupdError, exit_code_for

__all__ = ["EXIT_BUG", "State", "handle_errors", "main"]

F = TypeVar("F", bound=Callable[..., Any])

EXIT_BUG = 4


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
        from followupd.config import resolve_config_path  # imported late: keeps `followupd --help` fast

        return resolve_config_path(self.config_path_option, os.environ)

    def apps(self) -> list[Any]:
        """Every account's App (only the one named by ``--account``, if given)."""
        if self._apps is None:
            from followupd.runtime.app import build_apps, select_account

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

    def choose(self, app: Any) -> None:
        """Settle the account a command acts on when its id is not a thread's or a follow-up's (an owed reply's):
        the command found which account has it, and :meth:`app` answers that from now on."""
        self._chosen = app


def _has_id(app: Any, prefix: str) -> bool:
    from followupd.adapters.store import reports

    with app.store.read() as session:
        return reports.has_id_prefix(session, prefix)


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
        except Exception:
            traceback.print_exc()
            click.echo("followupd: this is a bug; please report it with the traceback above", err=True)
            sys.exit(EXIT_BUG)

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
    setup_logging(log_level)
    ctx.obj = State(config_path, log_level, account)


# Every command, by the module that registers it on ``main`` and the first paragraph of its help (the text
# `followupd --help` lists without importing the module; tests/test_cli_startup.py holds the two equal).
main.lazy.update({
    "config": ("followupd.cli.root", "Inspect the configuration."),
    "db": ("followupd.cli.db", "Inspect or upgrade the database schema."),
    "digest": ("followupd.cli.digest", "Show the next weekly digest (who owes you a reply, drafts waiting, action "
               "items, replies you owe, what closed, stats) without filing it in INBOX."),
    "doctor": ("followupd.cli.doctor", "Check config, secrets, connection, TLS, login, capabilities, folders, the "
               "tracking address, templates, database and SMTP, one line each; never changes the mailbox or the "
               "database and never sends mail."),
    "explain": ("followupd.cli.threads", "Show a thread's timeline: every message that touched it, how it was read, "
                "and the evidence."),
    "ignore": ("followupd.cli.suggestions", "Drop a suggestion (its id or the start of it, see `suggestions`): that "
               "message is not suggested again."),
    "items": ("followupd.cli.items", "List the action items of your meeting recaps (open ones, unless --all); "
              "subcommands mark one done or drop it."),
    "note": ("followupd.cli.outbox", 'Keep a personal note on a thread ("ask how the move went"); templates can '
             'use it. "" clears it.'),
    "outbox": ("followupd.cli.outbox", "List follow-up drafts waiting for you; subcommands show, edit, approve, "
               "skip or stop them."),
    "owed": ("followupd.cli.owed", "List the replies you owe: mail that asks you something, unanswered for [owed] "
             "after; a subcommand marks one done."),
    "poll": ("followupd.cli.root", "Run one sync cycle for each account and exit (one account failing does not stop "
             "the others)."),
    "preview": ("followupd.cli.threads", "Show the follow-ups a message sent now would get, or a tracked thread's "
                "next ones: dates and full text."),
    "run": ("followupd.cli.root", "Run in the foreground for every account: watch, draft follow-ups when due, until "
            "SIGTERM/SIGINT."),
    "snooze": ("followupd.cli.outbox", "Hold a thread's follow-ups for DURATION (e.g. 2w, 5d); a waiting draft is "
               "withdrawn."),
    "status": ("followupd.cli.threads", "Show tracked threads: who owes a reply, since when, how many touches, what "
               "is next; and whether each account is working (ok) or failing and being retried (degraded). Open "
               "threads only, unless --all or --state."),
    "stats": ("followupd.cli.stats", "Show how well following up works: threads tracked, reply rate, replies by "
              "follow-up number and by template, median time to a reply, declines and bounces."),
    "suggestions": ("followupd.cli.suggestions", "List mail you sent without the BCC that seems to await a reply "
                    "([tracking] auto = \"suggest\"), newest first, with the sentence that asks."),
    "templates": ("followupd.cli.templates", "Check follow-up templates, and list which ones are active."),
    "track": ("followupd.cli.suggestions", "Start tracking a suggestion (its id or the start of it, see "
              "`suggestions`) exactly as if you had BCC'd the tracking address, with --suffix as its suffix."),
})

"""A click group whose commands in other modules are imported when used, not when ``followupd`` starts.

Why: every ``followupd`` run paid about a second before doing anything (``--help`` took 0.9-1.3 s), because
importing the CLI imported every command module and with them SQLAlchemy, Alembic, Jinja2 and the whole engine.
A command now imports what it needs when it runs; this group does the same for the modules that hold the
commands (every one of them, listed in ``cli/groups.py``).

The listing in ``--help`` needs each command's one-line help, which would mean importing its module; the group
keeps that first paragraph beside the module name instead. ``tests/test_cli_startup.py`` holds the two equal:
``followupd --help`` prints the same with every module imported as without.
This is the "lazy subcommands" pattern from click's documentation, kept to the two hooks click offers for it.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from types import ModuleType
from typing import Any

import click

__all__ = ["LazyGroup", "lazy_module"]


class LazyGroup(click.Group):
    """``lazy`` maps a command name to (module that registers it on this group, first paragraph of its help)."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy:
            importlib.import_module(self.lazy[cmd_name][0])  # its decorators add it to self.commands
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with the recorded help for commands whose module is not imported yet."""
        names = self.list_commands(ctx)
        shown = [name for name in names if name not in self.commands or not self.commands[name].hidden]
        if not shown:
            return
        limit = formatter.width - 6 - max(len(name) for name in shown)
        rows = []
        for name in shown:
            command = self.commands.get(name)
            if command is None:  # click's own shortening, of the recorded text
                command = click.Command(name, help=self.lazy[name][1])
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def lazy_module(name: str) -> ModuleType:
    """``name`` as a module object whose code runs on first attribute access (``importlib.util.LazyLoader``).

    For a module a CLI file uses in many commands but not in ``--help``: ``st =
    lazy_module("followupd.adapters.store")``
    keeps every ``st.Thread`` as it was, and SQLAlchemy is imported by the first command that touches one.
    An already imported module is returned as it is.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ImportError(f"no module named {name!r}")
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module

"""The ``templates`` and ``database`` checks: what runs on this machine, without the network.

The database is inspected only (``store.database_status``), never created or upgraded here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from followupd.adapters.store import database_status, migrations
from followupd.compose.checks import SAMPLE_SIGNATURE, SAMPLE_USER, check_library
from followupd.config import DatabaseConfig, redact_url
from followupd.errors import FollowupdError, TemplateError
from followupd.runtime.doctor.report import Check

if TYPE_CHECKING:
    from followupd.runtime.app import App


def check_templates(app: App) -> Check:
    """Every template renders for the sample threads (errors fail); tone problems are warnings."""
    config = app.config
    try:
        library = app.library
        problems = check_library(library, config.tone, total_touches=len(config.cadence.gaps),
                                 user_name=config.identity.name or SAMPLE_USER,
                                 signature=config.identity.signature or SAMPLE_SIGNATURE)
    except TemplateError as exc:
        return Check("templates", "fail", str(exc), "fix the template; `followupd templates check` lists every "
                                                    "problem")
    count = len(library.every_variant())
    if problems:
        shown = [str(problem) for problem in problems[:3]]
        more = ["...; `followupd templates check` lists them all"] if len(problems) > 3 else []
        return Check("templates", "warn", f"{count} templates render; {len(problems)} tone warning(s)",
                     "\n".join(shown + more))
    return Check("templates", "pass", f"{count} templates render for every sample thread")


def check_database(database: DatabaseConfig) -> Check:
    """Reachable, and at this followupd's schema revision; inspected only (never created or upgraded here)."""
    shown = redact_url(database.url) + (f" (schema {database.schema})" if database.schema else "")
    try:
        status = database_status(database.url, schema=database.schema)
    except FollowupdError as exc:
        return Check("database", "fail", redact_url(str(exc)))
    if status.state == migrations.CURRENT:
        return Check("database", "pass", f"{shown}: revision {status.current} (up to date)")
    if status.state == migrations.FRESH:
        problem = _sqlite_dir_problem(database.url)
        if problem:
            return Check("database", "fail", f"{shown}: {problem}")
        return Check("database", "pass", f"{shown}: empty; followupd creates it at revision {status.head} on first "
                                         "use")
    if status.state == migrations.NEWER:
        return Check("database", "fail", f"{shown}: {migrations.newer_message(status)}")
    needs = f"{shown}: database at revision {status.current}, needs {status.head}: run `followupd db upgrade`"
    if database.migrate == "refuse":
        return Check("database", "fail", needs, 'back it up first; or set [database] migrate = "auto" to upgrade '
                                                "on start")
    return Check("database", "warn", needs, "or let followupd upgrade it when it starts (migrate = \"auto\"); back "
                                            "it up first")


def _sqlite_dir_problem(url: str) -> str | None:
    """Why followupd could not create the SQLite file, or None (other backends: the server decides)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url in (prefix, prefix + ":memory:"):
        return None
    directory = Path(url[len(prefix):]).expanduser().parent
    while not directory.exists() and directory != directory.parent:
        directory = directory.parent
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"cannot create the database file: {directory} is not writable"
    return None

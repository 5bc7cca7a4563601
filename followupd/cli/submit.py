"""Getting a request from the command line applied: queue it, run a cycle or wake the daemon, print the result.

Why a module of its own: ``outbox approve|skip|stop|edit``, ``snooze``, ``note`` and ``items done|drop`` all
turn the user's wish into a queued ``Request`` the same way, and a command module may not import another one
(``tests/test_cli_startup.py``). If no daemon runs, the command takes the account lock and runs a cycle itself,
which applies the request (and sends, withdraws or re-drafts as needed); if the daemon runs, it is woken with
SIGUSR1 and the command waits for its answer. Either way exactly one process changes the mailbox.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import click

from followupd.cli.groups import State
from followupd.cli.lazy import lazy_module
from followupd.errors import FollowupdError, LeaseHeldError, LockError

# Imported when a request is submitted, not when `--help` lists the commands: the requests bring the engine.
if TYPE_CHECKING:
    from followupd.engine import requests as rq
else:
    rq = lazy_module("followupd.engine.requests")

__all__ = ["REQUEST_JSON_HELP", "WAIT_FOR_DAEMON_SECONDS", "request_json_help", "submit"]

WAIT_FOR_DAEMON_SECONDS = 60.0


def request_json_help(target: str) -> str:
    """The help of ``--json`` on a command that queues a request; ``target`` names what its id is."""
    return (f"Print one JSON object: request (its number), kind, target ({target}), "
            "applied (false: queued for the running followupd), ok and result (its one-line outcome; "
            "null until applied). Exit codes are as without --json.")


#: The help of ``--json`` on the commands that queue a request (a contract: fields are added, never renamed).
REQUEST_JSON_HELP = request_json_help("the follow-up or thread id")


def _daemon_pid(app: Any) -> int | None:
    try:
        text = app.lock().path.read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def submit(state: State, kind: str, target: str, *, argument: str = "", flag: bool = False,
           as_json: bool = False) -> None:
    """Queue the request, get it applied (by this process or the daemon), print its result (``as_json``: the
    object documented in :data:`REQUEST_JSON_HELP`)."""
    from followupd.adapters.store import reports

    app = state.app()
    with app.store.transaction() as session:
        request_id = rq.queue_request(session, kind=kind, target=target, now=app.clock.now(), argument=argument,
                                   flag=flag).id
    try:
        with app.exclusive() as fence:
            try:
                app.cycle(fence=fence)
            except FollowupdError as exc:
                _apply_offline(app)
                click.echo(f"warning: could not reach the mailbox ({exc}); the rest happens on the next cycle",
                           err=True)
    except LockError as exc:
        # The lock file names the local daemon; a lease held elsewhere means another host: it applies the
        # request on its next cycle, and a pid read here could be a stale one of an unrelated process.
        pid = None if isinstance(exc, LeaseHeldError) else _daemon_pid(app)
        if pid:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR1)
        deadline = time.monotonic() + WAIT_FOR_DAEMON_SECONDS
        while time.monotonic() < deadline and not _done(app, request_id):
            time.sleep(0.3)
    with app.store.read() as session:
        request = reports.find_request(session, request_id)
        assert request is not None
        done, ok, result = request.done_at is not None, request.ok, request.result
    if as_json:
        click.echo(json.dumps({"request": request_id, "kind": kind, "target": target, "applied": done,
                               "ok": ok if done else None, "result": result if done else None}, indent=2))
    elif not done:
        click.echo("queued: the running followupd will apply it on its next cycle")
    else:
        click.echo(result)
    if done and not ok:
        raise SystemExit(2)


def _apply_offline(app: Any) -> None:
    """No mailbox: still apply the database side now (the drafts follow on the next cycle)."""
    from followupd.engine.requests import apply_requests

    with app.store.transaction() as session:
        apply_requests(session, app.config, app.clock.now())


def _done(app: Any, request_id: int) -> bool:
    from followupd.adapters.store import reports

    with app.store.read() as session:
        request = reports.find_request(session, request_id)
        return request is not None and request.done_at is not None

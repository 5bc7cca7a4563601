"""Every command that shows something takes ``--json`` (issue 12 point 9): one document on stdout, the exit code
it has without ``--json``. Real Dovecot, the real ``followupd`` command; each JSON is parsed and its fields read.
"""

from __future__ import annotations

import email
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from dovecot import DovecotServer, MailUser
from harness import Account, run_followupd
from mailfactory import make_message

BOB = "bob@example.org"
SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)  # a Wednesday
DUE = SENT_AT + timedelta(days=6)  # 3 business days later: Bob's follow-up is drafted


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "acct")


def seed(account: Account, subject: str = "Quote for the garden shed") -> str:
    raw = make_message(from_=f"Alex Example <{account.user.address}>", to=BOB, subject=subject, date=SENT_AT,
                       bcc=account.tracking)
    account.server.append(account.user, "Sent", raw, date=SENT_AT, flags=[b"\\Seen"])
    return str(email.message_from_bytes(raw)["Message-ID"])


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    """The one JSON document on stdout (json.loads refuses a second document or stray text)."""
    return json.loads(result.stdout)


def test_poll_json_reports_each_account_and_keeps_the_exit_code(account: Account) -> None:
    seed(account)
    (entry,) = as_json(account.run("poll", "--json", now=DUE))
    assert entry["account"] and entry["ok"] is True and entry["error"] is None and entry["dry_run"] is False
    assert len(entry["new_threads"]) == 1 and len(entry["drafted"]) == 1
    assert entry["folders"]["Sent"] == 1 and entry["summary"].startswith("read ")
    assert entry["sent"] == [] and entry["draft_errors"] == []

    account.write_config(account.config_text.replace(f"port = {account.user.port}", "port = 1"))
    failed = account.run("poll", "--json", now=DUE, check=False)
    assert failed.returncode == 3
    (entry,) = as_json(failed)
    assert entry["ok"] is False and "127.0.0.1:1" in entry["error"]
    assert "followupd: error:" in failed.stderr


def test_preview_json_for_a_message_sent_now_and_for_a_tracked_thread(account: Account) -> None:
    sample = as_json(account.run("preview", "--json", "--suffix", "5d", now=DUE))
    assert sample["thread_id"] is None and sample["planned"] is True and sample["state"] == "waiting"
    touches = sample["touches"]
    assert [t["touch"] for t in touches] == list(range(1, len(touches) + 1)) and len(touches) == touches[0]["total"]
    assert all(t["body"] and t["subject"] and t["problem"] is None for t in touches)
    assert datetime.fromisoformat(touches[0]["due"]) > DUE and touches[0]["gap_days"] >= 5

    seed(account)
    account.poll(now=DUE)
    (thread,) = account.status()
    tracked = as_json(account.run("preview", "--json", "--thread", thread["id"][:6], now=DUE))
    assert tracked["thread_id"] == thread["id"] and tracked["subject"] == "Quote for the garden shed"
    assert tracked["recipients"] == [BOB] and tracked["touches"][0]["pending_state"] == "queued"

    stopped = as_json(account.run("outbox", "stop", "--json", thread["id"], now=DUE))
    assert stopped["applied"] is True and stopped["ok"] is True and stopped["kind"] == "stop"
    assert stopped["target"] == thread["id"] and stopped["result"]
    after = as_json(account.run("preview", "--json", "--thread", thread["id"], now=DUE))
    assert after["planned"] is False and after["state"] == "stopped" and after["touches"] == []
    assert after["subject"] == "Quote for the garden shed" and after["recipients"] == [BOB]
    assert set(after) == set(tracked)  # the same fields whether or not follow-ups are planned


def test_outbox_show_json_has_the_draft_headers_and_body(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    (entry,) = account.outbox()
    shown = as_json(account.run("outbox", "show", "--json", entry["id"], now=DUE))
    assert shown["id"] == entry["id"] and shown["state"] == entry["state"]  # the outbox fields, unchanged
    assert shown["source"] == "drafts" and shown["source_note"] == "in Drafts, as followupd wrote it"
    headers = {h["name"]: h["value"] for h in shown["headers"]}
    assert headers["Subject"] == "Re: Quote for the garden shed" and headers["To"].endswith(BOB)
    assert "Alex" in shown["body"]


def test_note_and_snooze_json_say_whether_the_request_was_applied(account: Account) -> None:
    seed(account)
    account.poll(now=DUE)
    (thread,) = account.status()
    noted = as_json(account.run("note", "--json", thread["id"], "ask how the move went", now=DUE))
    assert noted == {"request": noted["request"], "kind": "note", "target": thread["id"], "applied": True,
                     "ok": True, "result": noted["result"]}
    assert account.status()[0]["note"] == "ask how the move went"
    snoozed = as_json(account.run("snooze", "--json", thread["id"], "2w", now=DUE))
    assert snoozed["kind"] == "snooze" and snoozed["applied"] is True and snoozed["ok"] is True


def test_config_check_json_online_offline_and_broken(account: Account) -> None:
    online = as_json(account.run("config", "check", "--json"))
    assert online["valid"] is True and online["error"] is None and online["config"] == str(account.config_path)
    (entry,) = online["accounts"]
    assert entry["folders"]["drafts"] == "Drafts" and entry["folders"]["sent"] == "Sent"
    assert entry["tracking_address"] == account.tracking and entry["port"] == account.user.port
    offline = as_json(account.run("config", "check", "--offline", "--json"))
    assert offline["accounts"][0]["folders"] is None

    account.write_config(account.config_text.replace("[tracking]", "[tracking\n"))
    broken = account.run("config", "check", "--json", check=False)
    assert broken.returncode == 2
    document = as_json(broken)
    assert document["valid"] is False and document["error"] and document["accounts"] == []


def test_db_upgrade_json_says_what_it_did(account: Account) -> None:
    (created,) = as_json(account.run("db", "upgrade", "--json", "--quiet"))
    assert created["action"] == "created" and created["from_revision"] is None and created["revision"]
    (again,) = as_json(account.run("db", "upgrade", "--json", "--quiet"))
    assert again["action"] == "unchanged" and again["from_revision"] == again["revision"] == created["revision"]
    (status,) = as_json(account.run("db", "status", "--json"))
    assert status["revision"] == created["revision"] and status["up_to_date"] is True


def _followupd(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Without a config file (templates work on a fresh install too)."""
    return run_followupd(["--config", str(tmp_path / "none.toml"), *args], env=dict(os.environ))


def test_templates_list_and_check_json_without_a_config(tmp_path: Path) -> None:
    listed = as_json(_followupd(tmp_path, "templates", "list", "--json"))
    assert listed["overlay"] is None and "en" in listed["languages"]
    stages = {entry["stage"] for entry in listed["templates"]}
    assert "first" in stages and all(entry["source"] == "builtin" for entry in listed["templates"])

    good = _followupd(tmp_path, "templates", "check", "--json")
    assert good.returncode == 0 and as_json(good)["ok"] is True and as_json(good)["checked"] > 10

    broken = tmp_path / "first" / "broken.txt"
    broken.parent.mkdir()
    broken.write_text("Subject: Re: {{ subject\n\nHi {{ first_name }},\n")
    failed = _followupd(tmp_path, "templates", "check", "--json", str(broken))
    assert failed.returncode == 2
    document = as_json(failed)
    assert document["ok"] is False and document["errors"] >= 1 and document["checked"] == 1
    assert {p["severity"] for p in document["problems"]} >= {"error"}
    assert all(p["path"] == str(broken) for p in document["problems"])


#: Commands without --json, and why: they show nothing a script could read.
NO_JSON = {
    "run": "the daemon: it runs until stopped and only logs",
    "outbox edit": "opens $EDITOR on the draft; `outbox show --json` reads the result",
}


def _leaf_commands(group: click.Group, ctx: click.Context, prefix: str = "") -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{prefix}{name} is listed but does not load"
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            if command.invoke_without_command:  # `outbox` lists by itself
                found[path] = command
            found.update(_leaf_commands(command, ctx, path + " "))
        else:
            found[path] = command
    return found


def test_every_command_that_shows_something_takes_json() -> None:
    from followupd.cli import main

    with click.Context(main) as ctx:
        commands = _leaf_commands(main, ctx)
    assert {"poll", "preview", "status", "explain", "outbox", "outbox show", "doctor", "db status",
            "templates list", "templates check", "config check", "items", "items done", "items drop",
            "stats", "owed", "owed done"} <= set(commands)
    missing = [name for name, command in commands.items()
               if name not in NO_JSON and not any("--json" in p.opts for p in command.params)]
    assert missing == []
    assert set(NO_JSON) <= set(commands)  # an exemption for a command that no longer exists is stale

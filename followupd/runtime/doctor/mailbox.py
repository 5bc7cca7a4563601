"""The ``login``, ``capabilities`` and ``folders`` checks: one logged-in Mailbox, exactly as the daemon logs in.

Folders are only resolved (LIST), never selected for writing: doctor changes nothing in the mailbox.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from followupd.adapters.imap import Mailbox, ResolvedFolders
from followupd.config import Config
from followupd.errors import AuthenticationError, FollowupdError
from followupd.runtime.doctor.report import Check, Status

#: Capabilities followupd uses when offered, in the order they are listed.
CAPABILITIES = ("IDLE", "UIDPLUS", "SPECIAL-USE", "CONDSTORE")


def check_login(config: Config, env: Mapping[str, str]) -> tuple[Check, Mailbox | None]:
    """Log in exactly as the daemon does; the caller logs out."""
    account = config.account
    try:
        box = Mailbox.open_account(account, env)
    except AuthenticationError as exc:
        return Check("login", "fail", str(exc),
                     "check [account] username and the password its source gives; Gmail and Microsoft 365 need an "
                     "app password or oauth2_token_command"), None
    except FollowupdError as exc:
        return Check("login", "fail", str(exc)), None
    return Check("login", "pass", f"logged in as {account.username}"), box


def check_capabilities(offered: frozenset[str], config: Config) -> Check:
    """Which of the capabilities followupd uses are there, and what it does without each."""
    interval = format_interval(config.cadence.poll_interval)
    advice: list[str] = []
    status: Status = "pass"
    if "IDLE" not in offered:
        status = "warn"
        advice.append(f"no IDLE: followupd polls every {interval} (poll_interval) instead, so a reply is noticed up "
                      f"to {interval} late")
    elif not config.account.idle:
        advice.append(f"IDLE is offered but [account] idle = false: polling every {interval}")
    if "UIDPLUS" not in offered:
        status = "warn"
        advice.append("no UIDPLUS: a draft followupd withdraws is only flagged \\Deleted (your mail client expunges "
                      "it later), and a new draft is found again by its Message-ID")
    if "SPECIAL-USE" not in offered and (config.folders.sent is None or config.folders.drafts is None):
        status = "warn"
        advice.append('no SPECIAL-USE: Sent and Drafts are found by their usual names; if the folders line shows '
                      'the wrong ones, set [folders] sent = "..." and drafts = "..."')
    if "CONDSTORE" not in offered:
        advice.append("no CONDSTORE: not needed (followupd reads new mail by UID)")
    detail = ", ".join(f"{name} {'yes' if name in offered else 'no'}" for name in CAPABILITIES)
    return Check("capabilities", status, detail, "\n".join(advice))


def format_interval(interval: timedelta) -> str:
    seconds = int(interval.total_seconds())
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def check_folders(box: Mailbox, config: Config) -> tuple[Check, ResolvedFolders | None]:
    """The Sent, Drafts and watched folders followupd will use (configured names must exist)."""
    wanted = config.folders
    try:
        found = box.resolve_folders(sent=wanted.sent, drafts=wanted.drafts, watch=wanted.watch)
    except FollowupdError as exc:
        return Check("folders", "fail", str(exc), "fix the name in [folders], or remove it to let followupd find "
                                                  "the folder"), None
    detail = f"Sent: {found.sent or '(none)'}, Drafts: {found.drafts or '(none)'}, watching: {', '.join(found.watch)}"
    if found.drafts is None:
        return Check("folders", "fail", detail, 'no Drafts folder found: followupd has nowhere to put follow-ups; '
                                                'set [folders] drafts = "..."'), found
    if found.sent is None:
        return Check("folders", "warn", detail, 'no Sent folder found: tracked mail is only seen through its '
                                                'delivered copy, and follow-ups you send are not counted; set '
                                                '[folders] sent = "..."'), found
    return Check("folders", "pass", detail), found

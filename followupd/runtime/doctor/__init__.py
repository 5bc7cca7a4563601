"""``followupd doctor``: every link between the config file and a working follow-up loop, checked one by one.

Why one line per link instead of one "it works": when followupd cannot log in, the user needs to know whether the
secret could not be read, the port is closed, the certificate is not trusted or the password is wrong; each has a
different fix. So every step is a small function returning a :class:`Check` (pass / fail / warn / skip, what was
seen, what to do), and a step that depends on a failed one is skipped with the reason instead of failing again.

Doctor never changes anything: folders are opened read-only (EXAMINE) and only searched, the database is inspected
without being created or migrated (``store.database_status``), and SMTP is spoken up to RCPT TO, then RSET and QUIT:
no message is ever sent on the user's behalf. Whether the tracking address delivers is judged from evidence (a
delivered message carrying it in Delivered-To / X-Original-To / To / Cc) or from the SMTP server's answer to
RCPT TO; a probe mail would land in the user's mailbox and start tracking a thread nobody asked for.

The connect and TLS steps use a probe connection of their own (plain socket and ``ssl``), so they can be reported
apart; the login then goes through :meth:`Mailbox.open_account`, exactly as the daemon logs in.

The checks are split by what they look at: ``report`` (the Check line, exit code, masking), ``sources`` (config
file, secrets), ``network`` (connect, TLS), ``mailbox`` (login, capabilities, folders), ``tracking`` (the
tracking address), ``smtp_probe`` (SMTP up to RCPT, through the sender's own login) and ``local`` (templates,
database). This module runs them in order for one account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from followupd.adapters.imap import Mailbox, ResolvedFolders
from followupd.errors import FollowupdError
from followupd.runtime.doctor.local import check_database, check_templates
from followupd.runtime.doctor.mailbox import (
    CAPABILITIES,
    check_capabilities,
    check_folders,
    check_login,
    format_interval,
)
from followupd.runtime.doctor.network import CERT_WARN_DAYS, check_connect, check_imap_tls, describe_tls, tls_handshake
from followupd.runtime.doctor.report import CHECK_NAMES, DEFAULT_TIMEOUT, Check, Status, mask, worst_exit_code
from followupd.runtime.doctor.smtp_probe import SmtpProbe, check_smtp, probe_smtp
from followupd.runtime.doctor.sources import Secrets, check_secrets, config_failed, config_passed, describe_source
from followupd.runtime.doctor.tracking import (
    EVIDENCE_HEADERS,
    PLUS_ADVICE,
    Provider,
    check_tracking,
    find_evidence,
    plus_advice,
    provider_of,
    self_test_check,
)

if TYPE_CHECKING:
    from followupd.runtime.app import App

__all__ = ["CAPABILITIES", "CERT_WARN_DAYS", "CHECK_NAMES", "DEFAULT_TIMEOUT", "EVIDENCE_HEADERS", "PLUS_ADVICE",
           "Check", "Provider", "Secrets", "SmtpProbe", "Status", "check_capabilities", "check_connect",
           "check_database", "check_folders", "check_imap_tls", "check_login", "check_secrets", "check_smtp",
           "check_templates", "check_tracking", "config_failed", "config_passed", "describe_source", "describe_tls",
           "diagnose", "find_evidence", "format_interval", "mask", "plus_advice", "probe_smtp", "provider_of",
           "self_test_check", "tls_handshake", "worst_exit_code"]


def diagnose(app: App, *, timeout: float = DEFAULT_TIMEOUT) -> list[Check]:
    """Every check after ``config`` for one account, in :data:`CHECK_NAMES` order; secrets masked in all text."""
    config = app.config
    account = config.account
    env = app.env
    checks: list[Check] = []
    secrets = check_secrets(config, env)
    checks.append(secrets.check)

    connect, sock = check_connect(account.host, account.port, timeout)
    checks.append(connect)
    if sock is None:
        checks.append(Check("tls", "skip", "no connection"))
    else:
        checks.append(check_imap_tls(sock, account))
    box: Mailbox | None = None
    if sock is None:
        reason = f"no connection to {account.host}:{account.port}"
        checks.append(Check("login", "skip", reason))
    elif checks[-1].status == "fail":
        reason = "TLS failed"
        checks.append(Check("login", "skip", reason))
    elif secrets.imap is None:
        reason = "the secret could not be resolved (see secrets)"
        checks.append(Check("login", "skip", reason))
    else:
        login, box = check_login(config, env)
        checks.append(login)
        reason = "login failed"
    try:
        folders: ResolvedFolders | None = None
        capabilities: frozenset[str] = frozenset()
        if box is None:
            checks += [Check("capabilities", "skip", reason), Check("folders", "skip", reason)]
        else:
            try:
                capabilities = box.capabilities()
            except FollowupdError as exc:
                checks.append(Check("capabilities", "fail", str(exc)))
            else:
                checks.append(check_capabilities(capabilities, config))
            folder_check, folders = check_folders(box, config)
            checks.append(folder_check)
            reason = "the folders could not be resolved"
        probe = None
        if config.smtp is not None:
            mail_from = next(iter(config.identity.addresses), account.username)
            probe = probe_smtp(config.smtp, secrets.smtp, mail_from=mail_from, rcpt=config.tracking.address,
                               timeout=timeout)
        checks.append(check_tracking(config.tracking.address, box=box, folders=folders,
                                     provider=provider_of(account.host, capabilities), probe=probe,
                                     skipped=f"needs the mailbox ({reason}) or an [smtp] server to ask",
                                     own_addresses=frozenset(a.lower() for a in config.identity.addresses)))
    finally:
        if box is not None:
            box.logout()
    checks.append(check_templates(app))
    checks.append(check_database(config.database))
    checks.append(check_smtp(config.smtp, probe))
    return [mask(check, secrets.values()) for check in checks]

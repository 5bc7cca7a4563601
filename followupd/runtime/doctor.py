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
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from followupd.adapters.credentials import (
    SECRET_SOURCES,
    Credential,
    OAuthExchange,
    certificate_problem,
    choose_oauth_mechanism,
    oauth_unavailable,
    redact,
    resolve_credential,
    tls_context,
)
from followupd.adapters.imap import Mailbox, ResolvedFolders
from followupd.adapters.store import database_status, migrations
from followupd.compose.checks import SAMPLE_SIGNATURE, SAMPLE_USER, check_library
from followupd.config import AccountConfig, Config, DatabaseConfig, SmtpConfig, config_warnings, is_loopback, redact_url
from followupd.errors import AuthenticationError, ConfigError, FollowupdError, SmtpRejected, TemplateError
from followupd.mail.traces import TRACE_FETCH_FIELDS
from followupd.runtime.selftest import SelfTest, find_self_test

if TYPE_CHECKING:
    from followupd.runtime.app import App

Status = Literal["pass", "fail", "warn", "skip"]

#: The checks, in the order they run and print (the ``check`` field of ``doctor --json``: a public contract).
CHECK_NAMES = ("config", "secrets", "connect", "tls", "login", "capabilities", "folders", "tracking", "templates",
               "database", "smtp")
DEFAULT_TIMEOUT = 10.0
#: A certificate expiring sooner than this is worth a warning: renewals that silently failed show up here first.
CERT_WARN_DAYS = 14
#: Capabilities followupd uses when offered, in the order they are listed.
CAPABILITIES = ("IDLE", "UIDPLUS", "SPECIAL-USE", "CONDSTORE")
#: Headers in which a delivered copy carries the address it was delivered to (the Bcc itself is never delivered):
#: the delivery traces of followupd.mail.traces (Received last: the costliest to search), then To and Cc.
EVIDENCE_HEADERS = (*(name for name in TRACE_FETCH_FIELDS if name != "RECEIVED"), "RECEIVED", "TO", "CC")

Provider = Literal["gmail", "microsoft", "fastmail", "other"]

PLUS_ADVICE: dict[Provider, str] = {
    "gmail": "Gmail / Google Workspace deliver me+anything@ to me@ by default: nothing to set up.",
    "microsoft": "Microsoft 365: plus addressing must be enabled by an admin (Exchange Online PowerShell: "
                 "Set-OrganizationConfig -DisablePlusAddressInRecipients $false).",
    "fastmail": "Fastmail delivers me+anything@ to me@ by default: nothing to set up.",
    "other": "Your own server: Postfix needs recipient_delimiter = + (main.cf) and Dovecot (LMTP/LDA) "
             "recipient_delimiter = +, so me+followup@ is delivered to me@.",
}


@dataclass(frozen=True)
class Check:
    """One line of the report. ``advice`` (may be several lines, "" for none) says what to do about it."""

    name: str
    status: Status
    detail: str
    advice: str = ""


def worst_exit_code(checks: Sequence[Check]) -> int:
    """0 when nothing failed (warnings and skips are fine), 3 when a check failed."""
    return 3 if any(check.status == "fail" for check in checks) else 0


# ----------------------------------------------------------------------------------------------------
# config and secrets
# ----------------------------------------------------------------------------------------------------


def config_passed(path: Path, accounts: int) -> Check:
    """The file loaded; its non-fatal problems (file mode, literal secrets, tls_verify = false) are a warning."""
    detail = f"{path} is valid ({accounts} account{'s' if accounts != 1 else ''})"
    warnings = config_warnings(path)
    if warnings:
        return Check("config", "warn", detail, "\n".join(warnings))
    return Check("config", "pass", detail)


def config_failed(error: ConfigError) -> Check:
    return Check("config", "fail", str(error),
                 "fix the file; `followupd config check --offline` validates it without connecting")


def describe_source(source: AccountConfig | SmtpConfig, section: str) -> str:
    """Where a section's secret comes from, without the secret: for the report line."""
    key = next((name for name in SECRET_SOURCES if getattr(source, name, None) is not None), None)
    if key == "password_env":
        return f"[{section}] password from environment variable {source.password_env}"
    if key == "password_command":
        return f"[{section}] password from password_command"
    if key == "password_keyring":
        return f"[{section}] password from the keyring (service {source.password_keyring!r}, user {source.username!r})"
    if key == "oauth2_token_command":
        return f"[{section}] OAuth2 access token from oauth2_token_command"
    if key == "password":
        return f"[{section}] literal password in the config file"
    return f"[{section}] no secret source"


@dataclass(frozen=True)
class Secrets:
    """The resolved credentials (None: could not be resolved) and the check line about them."""

    check: Check
    imap: Credential | None
    smtp: Credential | None

    def values(self) -> tuple[str, ...]:
        return tuple(c.secret for c in (self.imap, self.smtp) if c is not None)


def check_secrets(config: Config, env: Mapping[str, str]) -> Secrets:
    """Resolve the IMAP secret, and the SMTP one when [smtp] has a source of its own, without connecting."""
    parts: list[str] = []
    failures: list[str] = []
    imap = _resolve(config.account, env, "account", parts, failures)
    smtp: Credential | None = None
    if config.smtp is not None:
        if config.smtp.section == "smtp":
            smtp = _resolve(config.smtp, env, "smtp", parts, failures)
        else:
            smtp = imap
            parts.append("[smtp] uses the [account] secret")
    if failures:
        return Secrets(Check("secrets", "fail", "; ".join(failures),
                             "the message names the key to fix; the secret itself is never shown"), imap, smtp)
    return Secrets(Check("secrets", "pass", "; ".join(parts)), imap, smtp)


def _resolve(source: AccountConfig | SmtpConfig, env: Mapping[str, str], section: str, parts: list[str],
             failures: list[str]) -> Credential | None:
    try:
        credential = resolve_credential(source, env)
    except ConfigError as exc:   # SecretError is a ConfigError
        failures.append(str(exc))
        return None
    parts.append(describe_source(source, section))
    return credential


# ----------------------------------------------------------------------------------------------------
# connect and TLS (a probe connection of their own)
# ----------------------------------------------------------------------------------------------------


def check_connect(host: str, port: int, timeout: float, *, what: str = "IMAP") -> tuple[Check, socket.socket | None]:
    """A TCP connection to the server; the caller closes the socket."""
    where = f"{host}:{port}"
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except socket.gaierror as exc:
        return Check("connect", "fail", f"cannot resolve the {what} host {host!r}: {exc.strerror}",
                     "check the host name for typos; is this machine online?"), None
    except ConnectionRefusedError:
        return Check("connect", "fail", f"{where} refused the connection",
                     f"is the {what} server running on that port? IMAP is usually 993 (tls = \"implicit\") or 143 "
                     "(tls = \"starttls\")"), None
    except TimeoutError:
        return Check("connect", "fail", f"{where} did not answer within {timeout:g} s",
                     "a firewall may drop the connection, or the host or port is wrong"), None
    except OSError as exc:
        return Check("connect", "fail", f"cannot connect to {where}: {exc.strerror or exc}"), None
    elapsed = (time.monotonic() - started) * 1000
    return Check("connect", "pass", f"{where} accepts TCP connections ({elapsed:.0f} ms)"), sock


def check_imap_tls(sock: socket.socket, account: AccountConfig) -> Check:
    """The TLS handshake as configured (implicit, or STARTTLS after the greeting), with the certificate checked.

    Consumes ``sock`` (closes it)."""
    where = f"{account.host}:{account.port}"
    try:
        if account.tls == "none":
            if is_loopback(account.host):
                return Check("tls", "skip", f"tls = \"none\" to loopback {account.host}: nothing crosses a network")
            return Check("tls", "warn", f"tls = \"none\": the password and mail cross the network to {where} in "
                                        "plain text", 'use tls = "implicit" (port 993) or "starttls" (port 143)')
        try:
            context = tls_context(ca_file=account.tls_ca_file, verify=account.tls_verify)
        except ConfigError as exc:
            return Check("tls", "fail", str(exc))
        if account.tls == "starttls":
            refused = _imap_starttls(sock)
            if refused is not None:
                return Check("tls", "fail", f"STARTTLS with {where}: {refused}",
                             'if the port speaks TLS from the first byte (usually 993), use tls = "implicit"')
        return tls_handshake(sock, context, host=account.host, where=where, section="account",
                             verify=account.tls_verify)
    finally:
        sock.close()


def _imap_starttls(sock: socket.socket) -> str | None:
    """Read the greeting and ask for STARTTLS (RFC 3501 §6.2.1); None when the server agreed."""
    reader = sock.makefile("rb")
    try:
        greeting = reader.readline(4096)
        if not greeting.upper().startswith(b"* OK"):
            return f"did not greet like an IMAP server ({_text(greeting) or 'nothing'})"
        sock.sendall(b"D1 STARTTLS\r\n")
        while True:
            line = reader.readline(4096)
            if not line:
                return "the server closed the connection"
            if line.upper().startswith(b"D1 OK"):
                return None
            if line.startswith(b"D1 "):
                return f"refused: {_text(line[3:])}"
    except OSError as exc:
        return f"network error: {exc}"
    finally:
        reader.close()


def _text(raw: bytes) -> str:
    return " ".join(raw.decode("utf-8", "replace").split())[:200]


def tls_handshake(sock: socket.socket, context: ssl.SSLContext, *, host: str, where: str, section: str,
                  verify: bool) -> Check:
    """Handshake on ``sock`` and report protocol, certificate subject, issuer and expiry."""
    try:
        secured = context.wrap_socket(sock, server_hostname=host)
    except ssl.SSLCertVerificationError as exc:
        return Check("tls", "fail", certificate_problem(exc, where=where, host=host, section=section))
    except ssl.SSLError as exc:
        return Check("tls", "fail", f"TLS handshake with {where} failed ({exc.reason or exc})",
                     'does the port really speak TLS from the first byte (implicit, usually 993/465), or should '
                     'tls be "starttls"?')
    except OSError as exc:
        return Check("tls", "fail", f"TLS handshake with {where} failed: {exc}")
    try:
        return describe_tls(secured, verify=verify, section=section)
    finally:
        secured.close()


def describe_tls(secured: ssl.SSLSocket, *, verify: bool, section: str, name: str = "tls") -> Check:
    """Protocol version and the certificate's subject / issuer / expiry; warn when unverified or expiring."""
    version = secured.version() or "TLS"
    if not verify:
        return Check(name, "warn", f"{version}; certificate NOT verified ([{section}] tls_verify = false)",
                     f"trust a private CA with [{section}] tls_ca_file instead of switching verification off")
    cert: Any = secured.getpeercert() or {}
    subject, issuer = _dn(cert.get("subject")), _dn(cert.get("issuer"))
    not_after = cert.get("notAfter")
    expiry = ""
    days: int | None = None
    if isinstance(not_after, str):
        expires = ssl.cert_time_to_seconds(not_after)
        days = int((expires - time.time()) // 86400)
        expiry = f", expires {datetime.fromtimestamp(expires, UTC):%Y-%m-%d} (in {days} day{'s' if days != 1 else ''})"
    detail = f"{version}, certificate verified: {subject or '?'} issued by {issuer or '?'}{expiry}"
    if days is not None and days < CERT_WARN_DAYS:
        return Check(name, "warn", detail, "the certificate expires soon: its renewal may be failing; tell the "
                                           "server's administrator")
    return Check(name, "pass", detail)


def _dn(value: Any) -> str:
    """``CN=x, O=y`` from getpeercert()'s nested tuples; only the parts a person recognises."""
    parts: list[str] = []
    for rdn in value or ():
        for key, text in rdn:
            short = {"commonName": "CN", "organizationName": "O"}.get(key)
            if short:
                parts.append(f"{short}={text}")
    return ", ".join(parts)


# ----------------------------------------------------------------------------------------------------
# login, capabilities, folders (one logged-in Mailbox)
# ----------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------
# the tracking address
# ----------------------------------------------------------------------------------------------------


def provider_of(host: str, capabilities: frozenset[str] = frozenset()) -> Provider:
    """Which mail service the IMAP host belongs to, for the plus-addressing advice."""
    name = host.lower().rstrip(".")
    if "X-GM-EXT-1" in capabilities or name.endswith(("gmail.com", "googlemail.com")):
        return "gmail"
    if name.endswith(("office365.com", "outlook.com")):
        return "microsoft"
    if name.endswith(("fastmail.com", "messagingengine.com")):
        return "fastmail"
    return "other"


def plus_advice(address: str, provider: Provider) -> str:
    local = address.partition("@")[0]
    if "+" not in local:
        return (f"{address} is not a plus address: make sure it is an alias or forward that delivers into this "
                "mailbox")
    if provider != "other":
        return PLUS_ADVICE[provider]
    return "\n".join(PLUS_ADVICE.values())


def find_evidence(box: Mailbox, folders: Sequence[str], address: str) -> tuple[str, str, int] | None:
    """(folder, header, count) of delivered messages that carry the tracking address, or None.

    A plus address is searched by its local part, so suffixed forms (``me+followup-5d@``) count too."""
    local = address.partition("@")[0]
    needle = local if "+" in local else address
    for folder in folders:
        for header in EVIDENCE_HEADERS:
            uids = box.search_header(folder, header, needle)
            if uids:
                return folder, header, len(uids)
    return None


@dataclass(frozen=True)
class SmtpProbe:
    """How far an SMTP session got (connect, TLS, login, then MAIL/RCPT for the tracking address, RSET, QUIT)."""

    where: str
    done: tuple[str, ...]           # what worked, in order, for the report line
    error: str | None = None        # the first failure
    advice: str = ""
    tls: Check | None = None        # the TLS summary when the session used TLS
    rcpt: tuple[int, str] | None = None   # the server's answer to RCPT TO:<tracking address>
    logged_in: bool = False


def check_tracking(address: str, *, box: Mailbox | None, folders: ResolvedFolders | None, provider: Provider,
                   probe: SmtpProbe | None, skipped: str, own_addresses: frozenset[str] = frozenset()) -> Check:
    """Does mail to the tracking address reach this mailbox? Evidence first, then the SMTP server's RCPT answer.

    The newest self-test (a message to ``own_addresses`` only, tracking address in Bcc) is the best evidence:
    it shows whether a copy arrived and whether the delivered copy still names the address, which is what the
    engine needs when the Sent copy lost its Bcc."""
    advice = plus_advice(address, provider)
    if box is not None and folders is not None:
        try:
            found = find_evidence(box, folders.watch, address)
            test = (find_self_test(box, sent=folders.sent, watch=folders.watch, tracking_address=address,
                                   own_addresses=own_addresses) if own_addresses else None)
        except FollowupdError as exc:
            return Check("tracking", "warn", f"could not search the mailbox for {address}: {exc}", advice)
        verdict = self_test_check(address, test, found, folders.watch, advice) if test is not None else None
        if verdict is not None:
            return verdict
        if found is not None:
            folder, header, count = found
            return Check("tracking", "pass", f"{count} delivered message(s) in {folder} carry {address} "
                                             f"({header.title()}): it reaches this mailbox")
    looked = f"no delivered message carrying {address} in {', '.join(folders.watch)}" if folders else ""
    if probe is not None and probe.rcpt is not None:
        code, words = probe.rcpt
        said = f"SMTP server {probe.where} answered RCPT TO:<{address}> with {words} (nothing was sent)"
        if code >= 500:
            return Check("tracking", "fail", said, advice)
        if code >= 400:
            return Check("tracking", "warn", said + "; a temporary refusal", advice)
        if provider == "microsoft":
            return Check("tracking", "warn", f"{said}; Microsoft 365 may accept a recipient here and bounce later",
                         f"send yourself a test message with {address} in Bcc, then run followupd doctor again\n"
                         + advice)
        return Check("tracking", "pass", said + (f"; {looked} yet" if looked else ""),
                     f"an accepted recipient is a good sign, not proof: send yourself a message with {address} in "
                     "Bcc to be sure")
    if not looked:
        return Check("tracking", "skip", skipped)
    return Check("tracking", "warn", looked, f"send yourself a test message with {address} in Bcc, then run "
                                            f"followupd doctor again\n{advice}")


def self_test_check(address: str, test: SelfTest, found: tuple[str, str, int] | None, watch: Sequence[str],
                    advice: str) -> Check | None:
    """The tracking line from the newest self-test; None leaves the verdict to the other evidence.

    A message to yourself found only in a watched folder (the client dropped the Bcc) may be a plain note to
    self, so it decides only when nothing else shows the address arrives."""
    older = f"; {found[2]} delivered message(s) in {found[0]} do carry it ({found[1].title()})" if found else ""
    where = ", ".join(watch)
    if test.trace is not None:
        return Check("tracking", "pass", f"{test.describe()} arrived carrying {address} ({test.trace}): it "
                                         "reaches this mailbox; self-tests are never tracked")
    if found is not None and (test.copies == 0 or not test.from_sent):
        return None  # not arrived yet, or a note to yourself that may never have had the address: older proof
    if test.copies == 0:
        return Check("tracking", "warn", f"{test.describe()} (only your own addresses, {address} in Bcc) has not "
                                         f"arrived in {where}: mail to {address} may not reach this mailbox",
                     "if it bounced, the delivery report in your INBOX says why\n" + advice)
    if test.missing is not None:
        copies = f"{test.copies} cop{'y' if test.copies == 1 else 'ies'}"
        return Check("tracking", "warn", f"{test.describe()} arrived ({copies} in {where}) but no copy names "
                                         f"{address}: {test.missing.cause}{older}",
                     f"{test.missing.fix}\nuntil then only mail whose Sent copy keeps the Bcc header is tracked; "
                     "a client that drops it gets its mail silently untracked")
    return Check("tracking", "warn", f"{test.describe()} arrived only as the copy for {', '.join(test.others)}: "
                                     f"none came through {address}{older}", advice)


# ----------------------------------------------------------------------------------------------------
# SMTP: connect, TLS, login, MAIL/RCPT, RSET, QUIT; never DATA
# ----------------------------------------------------------------------------------------------------


def probe_smtp(config: SmtpConfig, credential: Credential | None, *, mail_from: str, rcpt: str | None,
               timeout: float) -> SmtpProbe:
    """One SMTP session that stops before DATA: nothing can be delivered by it."""
    where = f"{config.host}:{config.port}"
    done: list[str] = []
    secret = credential.secret if credential is not None else ""

    def stop(error: str, advice: str = "", **more: Any) -> SmtpProbe:
        return SmtpProbe(where, tuple(done), redact(error, secret) if secret else error, advice, **more)

    try:
        context = tls_context(ca_file=config.tls_ca_file, verify=config.tls_verify, section="smtp")
    except ConfigError as exc:
        return stop(str(exc))
    try:
        client: smtplib.SMTP
        if config.tls == "implicit":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        return stop(certificate_problem(exc, where=where, host=config.host, section="smtp"))
    except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
        return stop(f"cannot connect to SMTP server {where}: {exc}",
                    "check [smtp] host, port (465 implicit TLS, 587 starttls) and tls")
    done.append("connected")
    tls: Check | None = None
    try:
        client.ehlo_or_helo_if_needed()
        if config.tls == "starttls":
            if not client.has_extn("starttls"):
                return stop(f"SMTP server {where} does not offer STARTTLS", 'use tls = "implicit" (port 465)')
            try:
                client.starttls(context=context)
            except ssl.SSLCertVerificationError as exc:
                return stop(certificate_problem(exc, where=where, host=config.host, section="smtp"))
            client.ehlo()
        if isinstance(client.sock, ssl.SSLSocket):
            tls = describe_tls(client.sock, verify=config.tls_verify, section="smtp", name="smtp")
            done.append(tls.detail)
        logged_in = False
        if not client.has_extn("auth"):
            done.append("no AUTH offered (not logging in)")
        elif credential is None:
            return stop("login not tried: the secret could not be resolved (see secrets)", tls=tls)
        else:
            _smtp_login(client, config, credential)
            logged_in = True
            done.append(f"logged in as {config.username}")
        answer: tuple[int, str] | None = None
        if rcpt is not None:
            code, reply = client.mail(mail_from)
            if code == 250:
                code, reply = client.rcpt(rcpt)
                answer = (code, _words(code, reply))
            client.rset()
        client.quit()
        done.append("QUIT without sending")
        return SmtpProbe(where, tuple(done), tls=tls, rcpt=answer, logged_in=logged_in)
    except smtplib.SMTPAuthenticationError as exc:
        return stop(f"SMTP server {where} refused the login for {config.username}: "
                    f"{_words(exc.smtp_code, exc.smtp_error)}",
                    f"check the [{config.section}] secret and [smtp] username", tls=tls)
    except SmtpRejected as exc:   # only _smtp_login raises it: no OAuth2 mechanism in common
        return stop(str(exc), tls=tls)
    except ssl.SSLError as exc:
        return stop(f"TLS with SMTP server {where} failed: {exc.reason or exc}", tls=tls)
    except (smtplib.SMTPException, OSError) as exc:
        return stop(f"SMTP conversation with {where} failed: {exc}", tls=tls)
    finally:
        client.close()


def _smtp_login(client: smtplib.SMTP, config: SmtpConfig, credential: Credential) -> None:
    """AUTH as SmtpSender does: a password, or an OAuth2 token over OAUTHBEARER / XOAUTH2."""
    if credential.kind == "password":
        client.login(config.username, credential.secret)
        return
    offered = client.esmtp_features.get("auth", "").split()
    mechanism = choose_oauth_mechanism(credential.mechanism, offered)
    if mechanism is None:
        raise SmtpRejected(oauth_unavailable(credential.mechanism, offered, f"{config.host}:{config.port}",
                                           credential.section), code=504)
    exchange = OAuthExchange(mechanism, username=config.username, host=config.host, port=config.port,
                             token=credential.secret)
    client.auth(mechanism, exchange, initial_response_ok=True)


def _words(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def check_smtp(config: SmtpConfig | None, probe: SmtpProbe | None) -> Check:
    if config is None or probe is None:
        return Check("smtp", "skip", "no [smtp] section: followupd only writes drafts, it never sends")
    if probe.error is not None:
        status: Status = "skip" if probe.error.startswith("login not tried") else "fail"
        progress = f" (got as far as: {'; '.join(probe.done)})" if probe.done else ""
        return Check("smtp", status, f"{probe.where}: {probe.error}{progress}", probe.advice)
    detail = f"{probe.where}: {'; '.join(probe.done)}"
    if probe.tls is not None and probe.tls.status == "warn":
        return Check("smtp", "warn", detail, probe.tls.advice)
    if not probe.logged_in and config.tls != "none":
        return Check("smtp", "warn", detail, "the server offers no AUTH: followupd would send without logging in; "
                                             "is this the submission port (465 or 587)?")
    return Check("smtp", "pass", detail)


# ----------------------------------------------------------------------------------------------------
# templates and database
# ----------------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------------
# one account, in order
# ----------------------------------------------------------------------------------------------------


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


def mask(check: Check, secrets: Sequence[str]) -> Check:
    """Defence in depth: messages are built without secrets, but a server may echo one back."""
    if not secrets:
        return check
    return replace(check, detail=redact(check.detail, *secrets), advice=redact(check.advice, *secrets))


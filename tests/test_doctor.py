"""``followupd doctor``: one line per check, against the real Dovecot, a real TLS Dovecot and a real SMTP sink.

The command-line runs (a subprocess each, ~2 s on a busy 2-core machine) cover what a user sees: the lines, the
exit codes, the JSON shape, and that no secret is ever printed. The other cases call ``doctor.diagnose`` on an
App built from the same kind of config file: same servers, same code, without a process start per case.
"""

from __future__ import annotations

import json
import sqlite3
import ssl
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from dovecot import DovecotServer, MailUser
from harness import PASSWORD_ENV, Account, default_config
from mailfactory import make_message
from smtpsink import SinkHandler, SmtpSink, free_port
from tlsdovecot import Pki, make_pki, start_tls_dovecot

from followupd.config import Config, parse_config
from followupd.runtime.app import build_apps
from followupd.runtime.doctor import (
    CHECK_NAMES,
    Check,
    check_capabilities,
    check_secrets,
    diagnose,
    plus_advice,
    provider_of,
)

# ------------------------------------------------------------------------------------------------ helpers


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


def statuses(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.status for check in checks}


def run_diagnose(account: Account, **env: str) -> list[Check]:
    apps = build_apps(account.config_path, account.env(None, **env))
    assert len(apps) == 1
    checks = diagnose(apps[0], timeout=5)
    assert [c.name for c in checks] == list(CHECK_NAMES[1:])
    return checks


@pytest.fixture
def account(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> Account:
    return Account(dovecot, mail_user, tmp_path / "home")


def track_one(dovecot: DovecotServer, account: Account) -> None:
    """Mail to Bob with the tracking address in Bcc, as the MTA delivers it: the Bcc is gone, Delivered-To stays."""
    dovecot.deliver_lmtp(account.user, make_message(subject="Contract", To="Bob <bob@example.org>",
                                                    From=f"Alex <{account.user.address}>"),
                         recipients=[account.tracking])


# ------------------------------------------------------------------------------------------------ command line


def test_healthy_account_passes_every_check(dovecot: DovecotServer, account: Account) -> None:
    track_one(dovecot, account)
    before = dovecot.snapshot(account.user)
    result = account.run("doctor", "--json")
    entries = json.loads(result.stdout)
    assert all(set(e) == {"account", "check", "status", "detail", "advice"} for e in entries)
    assert [e["check"] for e in entries] == list(CHECK_NAMES)
    assert entries[0]["account"] is None  # the config check is about the file, not one account
    assert {e["account"] for e in entries[1:]} == {account.user.username}
    got = {e["check"]: e for e in entries}
    assert {name: e["status"] for name, e in got.items()} == {
        "config": "pass", "secrets": "pass", "connect": "pass", "tls": "skip", "login": "pass",
        "capabilities": "pass", "folders": "pass", "tracking": "pass", "templates": "pass", "database": "pass",
        "smtp": "skip"}, result.stdout
    assert got["capabilities"]["detail"] == "IDLE yes, UIDPLUS yes, SPECIAL-USE yes, CONDSTORE yes"
    assert got["folders"]["detail"] == "Sent: Sent, Drafts: Drafts, watching: INBOX, Archive"
    assert f"carry {account.tracking} (Delivered-To)" in got["tracking"]["detail"]
    assert "revision" in got["database"]["detail"]
    assert got["login"]["advice"] is None
    assert account.user.password not in result.stdout + result.stderr
    # Doctor looks, it does not touch: no flag, no message, no database file.
    assert dovecot.snapshot(account.user) == before
    assert not (account.workdir / "state.db").exists()


def two_accounts(good: MailUser, bad: MailUser, workdir: Path) -> str:
    def entry(name: str, user: MailUser, variable: str) -> str:
        local, _, domain = user.address.partition("@")
        return (f'\n[[accounts]]\nname = "{name}"\nhost = "{user.host}"\nport = {user.port}\ntls = "none"\n'
                f'username = "{user.username}"\npassword_env = "{variable}"\n'
                f'[accounts.tracking]\naddress = "{local}+followup@{domain}"\n')

    return (f'[database]\nurl = "sqlite:///{workdir / "state.db"}"\n' + entry("good", good, PASSWORD_ENV)
            + entry("bad", bad, "FOLLOWUPD_DOCTOR_BAD"))


def test_wrong_password_fails_login_skips_the_rest_and_never_shows_it(dovecot: DovecotServer,
                                                                      account: Account) -> None:
    bad_user = dovecot.add_user()
    account.write_config(two_accounts(account.user, bad_user, account.workdir))
    wrong = "Hunter2-not-the-password"
    result = account.run("doctor", check=False, FOLLOWUPD_DOCTOR_BAD=wrong)
    assert result.returncode == 3, result.stderr
    out = result.stdout
    _config, rest = out.split(f"\naccount good ({account.user.username} at ")
    good, bad = rest.split(f"\naccount bad ({bad_user.username} at ")
    assert "PASS  login         logged in as" in good and "FAIL" not in good
    lines = bad.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("FAIL  login"))
    assert "refused the login" in lines[failed]
    assert lines[failed + 1].startswith("      check [account] username")  # advice, indented under its line
    for name in ("capabilities", "folders", "tracking"):
        assert any(line.startswith(f"SKIP  {name}") and "login failed" in line for line in lines), bad
    assert any(line.startswith("PASS  templates") for line in lines)  # checks that need no mailbox still run
    assert "1 failed" in out.splitlines()[-1]
    assert wrong not in out + result.stderr
    assert account.user.password not in out + result.stderr


def test_config_error_is_one_fail_line_and_exit_2(account: Account) -> None:
    account.write_config(account.config_text.replace(f"port = {account.user.port}", 'port = "imap"'))
    result = account.run("doctor", check=False)
    assert result.returncode == 2, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("FAIL  config") and "[account] port" in first, result.stdout
    assert "Traceback" not in result.stdout + result.stderr


# ------------------------------------------------------------------------------------------------ failures


def test_unreachable_port_fails_connect(account: Account) -> None:
    closed = free_port()
    account.write_config(account.config_text.replace(f"port = {account.user.port}", f"port = {closed}"))
    got = by_name(run_diagnose(account))
    assert got["connect"].status == "fail" and f"127.0.0.1:{closed} refused the connection" in got["connect"].detail
    assert statuses(list(got.values()))["tls"] == "skip"
    assert got["login"].status == "skip" and "no connection" in got["login"].detail
    assert got["folders"].status == "skip"


def test_missing_password_variable_fails_secrets(account: Account) -> None:
    account.write_config(account.config_text.replace('password_env = "FOLLOWUPD_TEST_PASSWORD"',
                                                     'password_env = "FOLLOWUPD_DOCTOR_UNSET"'))
    got = by_name(run_diagnose(account))
    assert got["secrets"].status == "fail"
    assert "FOLLOWUPD_DOCTOR_UNSET is not set" in got["secrets"].detail
    assert got["connect"].status == "pass"  # the network is checked anyway
    assert got["login"].status == "skip" and "secret" in got["login"].detail


def test_broken_template_fails_templates(account: Account, tmp_path: Path) -> None:
    templates = tmp_path / "templates" / "middle"
    templates.mkdir(parents=True)
    (templates / "two-people.txt").write_text("Subject: {{ reply_subject }}\n\nHi {{ recipients[1].first_name }},\n"
                                              "\nA short note.\n")
    account.write_config(account.config_text + f'\n[templates]\ndir = "{tmp_path / "templates"}"\n')
    got = by_name(run_diagnose(account))
    assert got["templates"].status == "fail"
    assert "two-people.txt line 3" in got["templates"].detail
    assert "templates check" in got["templates"].advice


def test_outdated_database_is_reported_not_upgraded(account: Account) -> None:
    build_apps(account.config_path, account.env())[0].store.dispose()  # creates it at the newest revision
    database = account.workdir / "state.db"
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '0001'")
    got = by_name(run_diagnose(account))
    assert got["database"].status == "warn"
    assert "database at revision 0001, needs" in got["database"].detail
    assert "followupd db upgrade" in got["database"].detail
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)


# ------------------------------------------------------------------------------------------------ SMTP


@dataclass
class RefusingPlus(SinkHandler):
    """A server without plus addressing: it refuses me+followup@ at RCPT time, as Postfix does."""

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if "+" in address:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in local recipient table"
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as server:
        yield server


def with_smtp(account: Account, port: int, extra: str = "") -> None:
    account.write_config(account.config_text + f'\n[smtp]\nhost = "127.0.0.1"\nport = {port}\ntls = "none"\n{extra}')


def test_smtp_is_checked_without_sending(account: Account, sink: SmtpSink) -> None:
    with_smtp(account, sink.port)
    got = by_name(run_diagnose(account))
    assert got["smtp"].status == "pass", got["smtp"]
    assert "connected" in got["smtp"].detail and "QUIT without sending" in got["smtp"].detail
    # No delivered copy yet, but the server takes the tracking address as a recipient: a good sign.
    assert got["tracking"].status == "pass", got["tracking"]
    assert f"RCPT TO:<{account.tracking}> with 250" in got["tracking"].detail
    assert "in Bcc" in got["tracking"].advice
    assert sink.received == []


def test_refused_tracking_address_fails_with_plus_addressing_advice(account: Account) -> None:
    sink = SmtpSink()
    sink.handler = RefusingPlus()
    sink.controller = Controller(sink.handler, hostname="127.0.0.1", port=sink.port)
    with sink:
        with_smtp(account, sink.port)
        got = by_name(run_diagnose(account))
    assert got["tracking"].status == "fail", got["tracking"]
    assert "550 5.1.1" in got["tracking"].detail
    assert "recipient_delimiter = +" in got["tracking"].advice
    assert "DisablePlusAddressInRecipients" in got["tracking"].advice
    assert got["smtp"].status == "pass"
    assert sink.received == []


@dataclass
class Accept:
    """An SMTP login check: only this password is accepted (None: none is)."""

    password: str | None = None

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: object) -> AuthResult:
        given = getattr(auth_data, "password", b"")
        return AuthResult(success=self.password is not None and given == self.password.encode(), handled=False)


def test_refused_smtp_login_fails_smtp_without_showing_the_password(account: Account) -> None:
    port = free_port()
    controller = Controller(SinkHandler(), hostname="127.0.0.1", port=port, authenticator=Accept(),
                            auth_require_tls=False)
    controller.start()
    try:
        with_smtp(account, port, 'password_env = "FOLLOWUPD_DOCTOR_SMTP"\n')
        secret = "smtp-Secret-4711"
        got = by_name(run_diagnose(account, FOLLOWUPD_DOCTOR_SMTP=secret))
    finally:
        controller.stop()
    assert got["smtp"].status == "fail"
    assert "refused the login" in got["smtp"].detail
    # The sender's own login (adapters.smtp.login) reports it, in the words doctor always used.
    where = f"127.0.0.1:{port}"
    assert got["smtp"].detail.startswith(f"{where}: SMTP server {where} refused the login for ")
    assert got["smtp"].advice == "check the [smtp] secret and [smtp] username"
    assert "[smtp] password from environment variable FOLLOWUPD_DOCTOR_SMTP" in got["secrets"].detail
    assert all(secret not in check.detail + check.advice for check in got.values())


# ------------------------------------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[tuple[DovecotServer, int, Pki]]:
    if not DovecotServer.available():
        pytest.skip("dovecot is not installed")
    server, imaps_port = start_tls_dovecot(pki)
    try:
        yield server, imaps_port, pki
    finally:
        server.stop()


def tls_account(tls_server: tuple[DovecotServer, int, Pki], tmp_path: Path, tls: str, *, trust: bool) -> Account:
    server, imaps_port, pki = tls_server
    user = server.add_user()
    account = Account(server, user, tmp_path / "home")
    port = imaps_port if tls == "implicit" else user.port
    trusted = f'tls_ca_file = "{pki.ca}"\n' if trust else ""
    account.write_config(account.config_text.replace('tls = "none"\n', f'tls = "{tls}"\n{trusted}')
                         .replace(f"port = {user.port}", f"port = {port}"))
    return account


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_tls_reports_protocol_and_certificate(tls_server: tuple[DovecotServer, int, Pki], tmp_path: Path,
                                              tls: str) -> None:
    got = by_name(run_diagnose(tls_account(tls_server, tmp_path, tls, trust=True)))
    check = got["tls"]
    assert "TLSv1." in check.detail and "certificate verified: CN=localhost issued by CN=followupd test CA" \
        in check.detail, check
    # The test certificates live two days: doctor warns long before a certificate runs out.
    assert check.status == "warn" and "expires soon" in check.advice
    assert got["login"].status == "pass"


def test_untrusted_certificate_fails_tls_and_skips_login(tls_server: tuple[DovecotServer, int, Pki],
                                                         tmp_path: Path) -> None:
    got = by_name(run_diagnose(tls_account(tls_server, tmp_path, "implicit", trust=False)))
    assert got["tls"].status == "fail"
    assert "could not be verified" in got["tls"].detail and "tls_ca_file" in got["tls"].detail
    assert got["login"].status == "skip" and "TLS failed" in got["login"].detail


def test_smtp_starttls_reports_the_certificate(account: Account, pki: Pki) -> None:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert, pki.key)
    port = free_port()
    handler = SinkHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=Accept(account.user.password))
    controller.start()
    try:
        with_smtp(account, port, f'tls_ca_file = "{pki.ca}"\n')
        account.write_config(account.config_text.replace(f'port = {port}\ntls = "none"', f'port = {port}\n'
                                                                                         'tls = "starttls"'))
        got = by_name(run_diagnose(account))
    finally:
        controller.stop()
    smtp = got["smtp"]
    assert "TLSv1." in smtp.detail and "certificate verified: CN=localhost" in smtp.detail, smtp
    assert f"logged in as {account.user.username}; QUIT without sending" in smtp.detail
    assert smtp.status == "warn" and "expires soon" in smtp.advice  # a two-day test certificate
    assert got["tracking"].status == "pass"  # RCPT TO was asked after STARTTLS (the server requires it)
    assert handler.received == []


# ------------------------------------------------------------------------------------------------ pure parts


def config_for(tmp_path: Path, extra: str = "", *, secret: str = 'password_env = "PW"') -> Config:
    user = MailUser("127.0.0.1", 143, "me@example.test", "pw", 24)
    text = default_config(user, tmp_path, extra=extra).replace(f'password_env = "{PASSWORD_ENV}"', secret)
    return parse_config(tomllib.loads(text), path=tmp_path / "config.toml", env={})


def test_secrets_are_resolved_without_showing_them(tmp_path: Path) -> None:
    token = "ya29.a0-token-4711"
    path = {"PATH": "/bin:/usr/bin"}
    good = check_secrets(config_for(tmp_path, secret=f"oauth2_token_command = \"echo {token}\""), path)
    assert good.check.status == "pass" and good.imap is not None and good.imap.kind == "oauth2"
    assert good.check.detail == "[account] OAuth2 access token from oauth2_token_command"
    bad = check_secrets(config_for(tmp_path, secret="oauth2_token_command = \"echo Bearer x\""), path)
    assert bad.check.status == "fail" and "not a bare access token" in bad.check.detail
    assert bad.imap is None
    assert check_secrets(config_for(tmp_path), {"PW": token}).check.detail == \
        "[account] password from environment variable PW"


def test_missing_capabilities_say_what_followupd_does_instead(tmp_path: Path) -> None:
    config = config_for(tmp_path, '[folders]\nsent = "Sent"\n')
    full = check_capabilities(frozenset({"IDLE", "UIDPLUS", "SPECIAL-USE", "CONDSTORE"}), config)
    assert full.status == "pass" and full.advice == ""
    bare = check_capabilities(frozenset({"IMAP4REV1"}), config)
    assert bare.status == "warn"
    assert bare.detail == "IDLE no, UIDPLUS no, SPECIAL-USE no, CONDSTORE no"
    assert "polls every 5m" in bare.advice
    assert "UIDPLUS" in bare.advice and '[folders] sent = "..." and drafts' in bare.advice
    assert config.cadence.poll_interval == timedelta(minutes=5)


def test_plus_addressing_advice_fits_the_provider() -> None:
    assert provider_of("outlook.office365.com") == "microsoft"
    assert provider_of("imap.gmail.com") == "gmail"
    assert provider_of("mail.example.org", frozenset({"X-GM-EXT-1"})) == "gmail"
    assert provider_of("imap.fastmail.com") == "fastmail"
    assert "Set-OrganizationConfig -DisablePlusAddressInRecipients $false" in plus_advice("me+followup@corp.example",
                                                                                          "microsoft")
    assert "recipient_delimiter" not in plus_advice("me+followup@corp.example", "microsoft")
    assert "alias" in plus_advice("followup@example.org", "other")

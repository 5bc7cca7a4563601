"""Secrets: a whole scenario at DEBUG, and the passwords and tokens never appear in any output or any file.

tests/test_logging.py and tests/test_auth.py check single commands; this runs a user's day (track, draft,
inspect, approve and send through SMTP AUTH, the daemon, a refused login, an OAuth2 account) with
``--log-level debug`` and then searches every byte followupd printed or wrote (the SQLite file with its WAL,
lock files, everything under the account's directories) for each secret and for the encodings it travels in
(base64 of the secret alone, and of the SASL PLAIN, XOAUTH2 and OAUTHBEARER messages that carry it).
"""

from __future__ import annotations

import base64
import email
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from dovecot import DovecotServer, MailUser
from harness import PASSWORD_ENV, Account, default_config, followupd_command
from mailfactory import make_message
from smtpsink import SinkHandler, free_port
from tokenserver import TokenEndpoint

from .conftest import Figures

SENT_AT = datetime(2026, 11, 4, 10, 0, tzinfo=UTC)
DUE = SENT_AT + timedelta(days=6)
SMTP_USER = "alex-smtp"
SMTP_PASSWORD = "smtp-Pa55-" + secrets.token_hex(8)
WRONG_PASSWORD = "not-the-Pa55-" + secrets.token_hex(8)


def secret_forms(secret: str, user: str) -> set[str]:
    """The secret and the encodings a protocol or a debug log could carry it in."""
    raw, login = secret.encode(), user.encode()
    carriers = [raw, b"\0" + login + b"\0" + raw, login + b"\0" + login + b"\0" + raw,
                b"user=" + login + b"\x01auth=Bearer " + raw + b"\x01\x01",
                b"n,a=" + login + b",\x01auth=Bearer " + raw + b"\x01\x01"]
    forms = {secret}
    for carrier in carriers:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            forms.add(encode(carrier).decode().rstrip("="))
    return forms


def leaks(secret_sets: list[set[str]], texts: list[str], directory: Path) -> list[str]:
    found = [f"output: {form[:8]}..." for forms in secret_sets for form in forms for text in texts if form in text]
    for path in directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {form[:8]}..." for forms in secret_sets for form in forms if form.encode() in data]
    return found


@pytest.fixture
def smtp_with_auth() -> Iterator[tuple[int, SinkHandler, list[bool]]]:
    """A real SMTP server on loopback that insists on AUTH with SMTP_USER / SMTP_PASSWORD."""
    handler = SinkHandler()
    logins: list[bool] = []

    def authenticator(server: object, session: object, envelope: object, mechanism: str,
                      auth_data: object) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER
              and auth_data.password.decode() == SMTP_PASSWORD)
        logins.append(ok)
        return AuthResult(success=ok)

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False, auth_required=True)
    controller.start()
    try:
        yield port, handler, logins
    finally:
        controller.stop()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_debug_scenario_never_shows_a_password(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path,
                                                  smtp_with_auth: tuple[int, SinkHandler, list[bool]],
                                                  figures: Figures) -> None:
    port, handler, logins = smtp_with_auth
    workdir = tmp_path / "acct"
    account = Account(dovecot, mail_user, workdir, config_text=default_config(mail_user, workdir, extra=f"""
[smtp]
host = "127.0.0.1"
port = {port}
tls = "none"
username = "{SMTP_USER}"
password_env = "FOLLOWUPD_TEST_SMTP_PASSWORD"

[sending]
mode = "approve"
file_sent_copy = true
"""), env_extra={"FOLLOWUPD_TEST_SMTP_PASSWORD": SMTP_PASSWORD})
    raw = make_message(from_=f"Alex <{mail_user.address}>", to="bob@example.org", bcc=account.tracking,
                       subject="Quote", date=SENT_AT)
    dovecot.append(mail_user, "Sent", raw, flags=[b"\\Seen"])
    outputs: list[str] = []

    def run(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess[str]:
        result = account.run("--log-level", "debug", *args, now=DUE, check=check, **env)
        outputs.extend([result.stdout, result.stderr])
        return result

    run("poll")
    (entry,) = account.outbox()
    thread_id = entry["thread_id"]
    for args in (("status", "--json"), ("outbox", "--all", "--json"), ("explain", thread_id),
                 ("outbox", "show", entry["id"]), ("config", "check"), ("doctor",)):
        run(*args, check=False)
    run("outbox", "approve", entry["id"])
    assert logins and all(logins) and len(handler.received) == 1, "the follow-up was not sent through SMTP AUTH"
    assert email.message_from_bytes(handler.received[0].data)["Message-ID"] == entry["message_id"]

    # The daemon, a cycle or two, then a clean stop.
    with (workdir / "run.stderr").open("wb") as err:
        proc = subprocess.Popen([*followupd_command(), "--config", str(account.config_path), "--log-level", "debug",
                                 "run"], env=account.env(DUE), stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.monotonic() + 30
    while proc.poll() is None and "cycle:" not in (workdir / "run.stderr").read_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0
    outputs.append((workdir / "run.stderr").read_text())
    assert "cycle:" in outputs[-1], outputs[-1]

    # A refused login: the wrong password is not shown either.
    refused = run("poll", check=False, **{PASSWORD_ENV: WRONG_PASSWORD})
    assert refused.returncode == 3 and "Traceback" not in refused.stderr, refused.stderr

    found = leaks([secret_forms(mail_user.password, mail_user.username), secret_forms(SMTP_PASSWORD, SMTP_USER),
                   secret_forms(WRONG_PASSWORD, mail_user.username)], outputs, workdir)
    assert not found, found
    assert (workdir / "state.db").stat().st_size > 0  # the database was really there to search
    files = sum(1 for p in workdir.rglob("*") if p.is_file())
    figures.lines.append(f"secrets: {len(outputs)} outputs at DEBUG and {files} files searched for 3 passwords "
                         "in 11 forms each: none found")


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as endpoint:
        yield endpoint


def test_a_debug_scenario_never_shows_an_oauth2_token(tokens: TokenEndpoint, tmp_path: Path) -> None:
    with DovecotServer(extra_config=tokens.dovecot_config(tmp_path / "oauth2")) as server:
        user = server.add_user()
        workdir = tmp_path / "acct"
        token_file = tmp_path / "token"
        text = default_config(user, workdir).replace(f'password_env = "{PASSWORD_ENV}"',
                                                     f'oauth2_token_command = "cat {token_file}"')
        account = Account(server, user, workdir, config_text=text)
        token = tokens.grant(user.username)
        token_file.write_text(token + "\n")
        server.append(user, "Sent", make_message(from_=f"Alex <{user.address}>", to="bob@example.org",
                                                 bcc=account.tracking, subject="Quote", date=SENT_AT))
        outputs = []
        for args in (("poll",), ("status", "--json"), ("outbox", "--all", "--json"), ("doctor",)):
            result = account.run("--log-level", "debug", *args, now=DUE, check=args == ("poll",))
            outputs += [result.stdout, result.stderr]
        assert len(account.drafts()) == 1  # the scenario really ran: logged in with the token, drafted
        tokens.revoke(token)
        refused = account.run("--log-level", "debug", "poll", now=DUE, check=False)
        outputs += [refused.stdout, refused.stderr]
        assert refused.returncode == 3
    found = leaks([secret_forms(token, user.username)], outputs, workdir)
    assert not found, found

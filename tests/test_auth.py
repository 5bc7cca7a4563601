"""Logging in the ways real providers demand: OAuth2 (XOAUTH2, OAUTHBEARER), the system keyring, and exactly one
secret source per login; and no secret ever in followupd's output, at any log level.

OAuth2 is proven against Dovecot's own ``oauth2`` passdb, which asks a token endpoint on loopback
(tests/tokenserver.py) about every token, and through the real ``followupd`` command. SMTP OAuth2 runs against
aiosmtpd with the two mechanisms implemented from their specifications. The keyring is the real ``keyring``
library with the ``keyrings.alt`` plaintext-file backend, chosen through ``PYTHON_KEYRING_BACKEND`` as a user
without a desktop keyring would.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
from dovecot import DovecotServer, MailUser
from harness import PASSWORD_ENV, Account, default_config
from smtpsink import free_port
from tokenserver import TokenEndpoint

from followupd.adapters.credentials import (
    Credential,
    OAuthExchange,
    choose_oauth_mechanism,
    oauthbearer_response,
    redact,
    resolve_credential,
    xoauth2_response,
)
from followupd.adapters.smtp import SmtpSender
from followupd.config import AccountConfig, SmtpConfig, config_warnings, parse_config, resolve_password
from followupd.errors import ConfigError, SecretError, SmtpRejected

PATH = Path("config.toml")
SECRET = "hunter2-Very-Secret"
KEYRING_FILE_BACKEND = "keyrings.alt.file.PlaintextKeyring"
SOURCES = ("password_command", "password_env", "password", "password_keyring", "oauth2_token_command")
SOURCE_VALUES = {"password_command": "pass show mail/me", "password_env": "IMAP_PW", "password": SECRET,
                 "password_keyring": "followupd", "oauth2_token_command": "oama access me@example.com"}


def secret_forms(secret: str) -> list[str]:
    """The secret and the base64 forms in which it could leak from a protocol log."""
    raw = secret.encode()
    return [secret, base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")]


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in secret_forms(secret):
            assert form not in text, f"a secret leaked (as {form[:6]}...) into:\n{text[-3000:]}"


def account_config(**source: str) -> AccountConfig:
    return AccountConfig(host="imap.example.com", port=993, tls="implicit", username="me@example.com",
                         password_command=source.pop("password_command", None),
                         password_env=source.pop("password_env", None), **source)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------------------
# SASL: the bytes on the wire
# ---------------------------------------------------------------------------------------------------------


def test_xoauth2_initial_response_is_googles_format() -> None:
    assert xoauth2_response("me@gmail.com", "ya29.tok") == b"user=me@gmail.com\x01auth=Bearer ya29.tok\x01\x01"


def test_oauthbearer_initial_response_follows_rfc_7628() -> None:
    assert oauthbearer_response("me@example.com", "imap.example.com", 993, "tok") == (
        b"n,a=me@example.com,\x01host=imap.example.com\x01port=993\x01auth=Bearer tok\x01\x01")
    # RFC 5801 saslname: "," and "=" in the authorization identity are escaped.
    assert oauthbearer_response("a,b=c", "h", 1, "t").startswith(b"n,a=a=2Cb=3Dc,\x01")


@pytest.mark.parametrize(("mechanism", "dummy"), [("OAUTHBEARER", "\x01"), ("XOAUTH2", "")])
def test_a_refused_token_is_answered_with_the_dummy_reply_never_the_token(mechanism: str, dummy: str) -> None:
    exchange = OAuthExchange(mechanism, username="me@example.com", host="h", port=993, token=SECRET)
    assert SECRET in exchange(b"")   # imaplib asks for the initial response with an empty challenge
    error = json.dumps({"status": "invalid_token", "schemes": "bearer", "scope": "https://mail.google.com/"})
    assert exchange(error.encode()) == dummy
    assert exchange.server_status == "invalid_token"
    assert SECRET not in repr(exchange)


def test_smtplib_style_first_call_without_challenge_gets_the_initial_response() -> None:
    exchange = OAuthExchange("XOAUTH2", username="me@example.com", host="h", port=587, token=SECRET)
    assert exchange() == xoauth2_response("me@example.com", SECRET).decode()


@pytest.mark.parametrize(("preference", "offered", "chosen"), [
    ("auto", ["PLAIN", "XOAUTH2", "OAUTHBEARER"], "OAUTHBEARER"),
    ("auto", ["plain", "xoauth2"], "XOAUTH2"),
    ("auto", ["PLAIN", "LOGIN"], None),
    ("xoauth2", ["XOAUTH2", "OAUTHBEARER"], "XOAUTH2"),
    ("oauthbearer", ["XOAUTH2"], None),
])
def test_mechanism_choice(preference: Any, offered: list[str], chosen: str | None) -> None:
    assert choose_oauth_mechanism(preference, offered) == chosen


def test_redact_removes_the_secret_and_its_base64_forms() -> None:
    blob = base64.b64encode(SECRET.encode()).decode()
    text = f"server said {SECRET!r} and {blob} and {base64.urlsafe_b64encode(SECRET.encode()).decode()}"
    assert_no_secret(redact(text, SECRET), SECRET)
    assert redact("nothing to hide", SECRET) == "nothing to hide"


def test_credentials_and_configs_never_show_the_secret_in_repr() -> None:
    assert SECRET not in repr(Credential("oauth2", SECRET))
    assert SECRET not in repr(Credential.password(SECRET))
    assert SECRET not in repr(account_config(password=SECRET))


# ---------------------------------------------------------------------------------------------------------
# Resolving: token command, keyring
# ---------------------------------------------------------------------------------------------------------


def test_token_command_runs_at_every_resolve(tmp_path: Path) -> None:
    """Access tokens expire within the hour: each connect asks the command again, nothing is cached."""
    counter = tmp_path / "n"
    counter.write_text("0")
    command = f'n=$(($(cat {counter}) + 1)); echo $n > {counter}; printf "ya29.token-$n\\n"'
    account = account_config(oauth2_token_command=command, oauth2_mechanism="xoauth2")
    first, second = resolve_credential(account, os.environ), resolve_credential(account, os.environ)
    assert (first.kind, first.secret, first.mechanism) == ("oauth2", "ya29.token-1", "xoauth2")
    assert second.secret == "ya29.token-2"


def test_token_command_printing_json_is_refused_without_showing_it() -> None:
    account = account_config(oauth2_token_command=f"""printf '{{"access_token": "{SECRET}"}}\\n'""")
    with pytest.raises(SecretError) as info:
        resolve_credential(account, os.environ)
    assert "not a bare access token" in str(info.value) and "jq -r .access_token" in str(info.value)
    assert SECRET not in str(info.value)
    assert info.value.key == "account.oauth2_token_command"


def test_failing_token_command_names_the_key_and_its_stderr_but_not_stdout() -> None:
    account = account_config(oauth2_token_command=f"echo {SECRET}; echo 'oama: refresh token expired' >&2; exit 1")
    with pytest.raises(SecretError) as info:
        resolve_credential(account, os.environ)
    assert str(info.value) == ("[account] oauth2_token_command failed with exit code 1: "
                               "oama: refresh token expired")
    assert isinstance(info.value, ConfigError)  # exit code 2, like every configuration problem


def test_an_oauth_account_has_no_password() -> None:
    with pytest.raises(SecretError, match=r"logs in with an OAuth2 access token \(oauth2_token_command\)"):
        resolve_password(account_config(oauth2_token_command="true"), os.environ)


def test_keyring_without_the_keyring_package_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # what `import keyring` sees when it is not installed
    with pytest.raises(SecretError) as info:
        resolve_password(account_config(password_keyring="followupd"), os.environ)
    assert "pip install 'followupd[keyring]'" in str(info.value)
    assert info.value.key == "account.password_keyring"


# ---------------------------------------------------------------------------------------------------------
# Config: exactly one source, and keys that only make sense together
# ---------------------------------------------------------------------------------------------------------


def minimal(**account: Any) -> dict[str, Any]:
    return {"account": {"host": "imap.example.com", "username": "me@example.com", **account},
            "tracking": {"address": "me+followup@example.com"}}


def error(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path=PATH, env={"HOME": "/nonexistent", "TZ": "UTC"})
    return info.value


def parse(data: dict[str, Any]) -> Any:
    return parse_config(data, path=PATH, env={"HOME": "/nonexistent", "TZ": "UTC"})


@pytest.mark.parametrize(("first", "second"), list(itertools.combinations(SOURCES, 2)))
def test_exactly_one_secret_source(first: str, second: str) -> None:
    err = error(minimal(**{first: SOURCE_VALUES[first], second: SOURCE_VALUES[second]}))
    assert f"config.toml: [account] sets {first} and {second}; keep exactly one password source" in str(err)
    assert err.key == f"account.{second}"
    assert SECRET not in str(err)


def test_missing_source_lists_every_kind() -> None:
    err = error(minimal())
    for source in SOURCES:
        assert source in str(err)
    assert "for Gmail or Microsoft 365" in str(err)


@pytest.mark.parametrize("source", ["password_keyring", "oauth2_token_command"])
def test_empty_new_sources_are_refused(source: str) -> None:
    assert f"[account] {source} is empty" in str(error(minimal(**{source: "  "})))


def test_new_sources_are_read() -> None:
    account = parse(minimal(oauth2_token_command="oama access me@example.com", oauth2_mechanism="XOAUTH2")).account
    assert (account.oauth2_token_command, account.oauth2_mechanism) == ("oama access me@example.com", "xoauth2")
    assert parse(minimal(password_keyring="followupd")).account.password_keyring == "followupd"


def test_oauth2_mechanism_value_is_checked() -> None:
    err = error(minimal(oauth2_token_command="x", oauth2_mechanism="oauth2"))
    assert ('[account] oauth2_mechanism = "oauth2" is not allowed; use "auto" (OAUTHBEARER where the server '
            'offers it, else XOAUTH2), "oauthbearer" or "xoauth2"') in str(err)
    assert err.key == "account.oauth2_mechanism"


def test_oauth2_mechanism_needs_a_token_command() -> None:
    err = error(minimal(password_env="IMAP_PW", oauth2_mechanism="xoauth2"))
    assert ('[account] oauth2_mechanism = "xoauth2" is not allowed; it applies only to an OAuth2 login; set '
            "oauth2_token_command too") in str(err)


def test_smtp_inherits_the_oauth_login_and_may_pick_its_own_mechanism() -> None:
    data = minimal(oauth2_token_command="oama access me@example.com")
    data["smtp"] = {"host": "smtp.example.com", "oauth2_mechanism": "xoauth2"}
    smtp = parse(data).smtp
    assert (smtp.oauth2_token_command, smtp.oauth2_mechanism, smtp.section) == (
        "oama access me@example.com", "xoauth2", "account")
    data["smtp"] = {"host": "smtp.example.com"}
    assert parse(data).smtp.oauth2_mechanism == "auto"


def test_smtp_inherits_the_keyring_source() -> None:
    data = minimal(password_keyring="followupd")
    data["smtp"] = {"host": "smtp.example.com"}
    assert parse(data).smtp.password_keyring == "followupd"


def test_smtp_own_sources_follow_the_same_rules() -> None:
    data = minimal(password_env="IMAP_PW")
    data["smtp"] = {"host": "smtp.example.com", "password_keyring": "followupd", "oauth2_token_command": "x"}
    assert "[smtp] sets password_keyring and oauth2_token_command; keep exactly one" in str(error(data))
    data["smtp"] = {"host": "smtp.example.com", "oauth2_mechanism": "auto"}
    assert "[smtp] oauth2_mechanism = \"auto\" is not allowed; it applies only to an OAuth2 login" in str(error(data))


def test_example_config_documents_the_new_keys() -> None:
    text = (Path(__file__).resolve().parent.parent / "config.example.toml").read_text()
    for key in ("password_keyring", "oauth2_token_command", "oauth2_mechanism", "tls_ca_file", "tls_verify"):
        assert f"# {key} = " in text or f"\n{key} = " in text, key
    for words in ("imap.gmail.com", "https://mail.google.com/", "outlook.office365.com", "IMAP.AccessAsUser.All",
                  "SMTP.Send", "keyring set followupd"):
        assert words in text, words


# ---------------------------------------------------------------------------------------------------------
# Config file permissions and literal secrets
# ---------------------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_config_readable_by_others_always_warns(tmp_path: Path, mode: int) -> None:
    path = write(tmp_path, '[account]\npassword_command = "pass show x"\n', mode)
    warnings = config_warnings(path)
    assert any(f"readable by other users (mode {mode:04o})" in w and f"chmod 600 {path}" in w for w in warnings)


def test_private_config_without_literal_secrets_is_quiet(tmp_path: Path) -> None:
    assert config_warnings(write(tmp_path, '[account]\npassword_keyring = "followupd"\n', 0o600)) == []


def test_literal_smtp_password_is_discouraged_too(tmp_path: Path) -> None:
    path = write(tmp_path, f'[account]\npassword_env = "X"\n[smtp]\nhost = "h"\npassword = "{SECRET}"\n', 0o600)
    warnings = config_warnings(path)
    assert any(w.startswith("[smtp] password is a literal secret") for w in warnings)
    assert_no_secret("\n".join(warnings), SECRET)


# ---------------------------------------------------------------------------------------------------------
# OAuth2 against Dovecot's oauth2 passdb, through the real command
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tokens() -> Iterator[TokenEndpoint]:
    with TokenEndpoint() as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def oauth_dovecot(tokens: TokenEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DovecotServer]:
    """A Dovecot of its own that accepts XOAUTH2 and OAUTHBEARER, checking each token with ``tokens``."""
    if not DovecotServer.available():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed; CI must run the OAuth2 tests", pytrace=False)
        pytest.skip("dovecot is not installed")
    server = DovecotServer(extra_config=tokens.dovecot_config(tmp_path_factory.mktemp("oauth2")))
    server.start()
    try:
        yield server
    finally:
        server.stop()


def oauth_account(server: DovecotServer, workdir: Path, token_file: Path, mechanism: str | None = None) -> Account:
    """An account whose token comes from ``cat token_file``: a test swaps the file to play token refresh."""
    user = server.add_user()
    lines = f'oauth2_token_command = "cat {token_file}"'
    if mechanism:
        lines += f'\noauth2_mechanism = "{mechanism}"'
    text = default_config(user, workdir).replace(f'password_env = "{PASSWORD_ENV}"', lines)
    return Account(server, user, workdir, config_text=text)


def logged(server: DovecotServer, pattern: str) -> list[str]:
    """What ``pattern``'s group matched in Dovecot's log; waits a little for a first match, since the log is
    written asynchronously by the login process."""
    compiled = re.compile(pattern)
    deadline = time.monotonic() + 5
    while True:
        found = compiled.findall(server.log_text())
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def login_methods(server: DovecotServer, user: MailUser) -> list[str]:
    """The SASL mechanisms of ``user``'s successful logins."""
    return logged(server, rf"Login: user=<{re.escape(user.username)}>, method=([A-Z0-9-]+)")


def failed_methods(server: DovecotServer, user: MailUser) -> list[str]:
    """The SASL mechanisms of ``user``'s refused logins."""
    return logged(server, rf"\(auth failed, \d+ attempts.*?\): user=<{re.escape(user.username)}>, "
                          r"method=([A-Z0-9-]+)")


def files_containing(directory: Path, secret: str) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file() and secret.encode() in path.read_bytes()]


@pytest.mark.parametrize(("mechanism", "logged"), [(None, "OAUTHBEARER"), ("oauthbearer", "OAUTHBEARER"),
                                                   ("xoauth2", "XOAUTH2")])
def test_oauth2_login_through_dovecots_oauth2_passdb(oauth_dovecot: DovecotServer, tokens: TokenEndpoint,
                                                     tmp_path: Path, mechanism: str | None, logged: str) -> None:
    token_file = tmp_path / "token"
    account = oauth_account(oauth_dovecot, tmp_path / "account", token_file, mechanism)
    token = tokens.grant(account.user.username)
    token_file.write_text(token + "\n")
    asked = tokens.requests

    result = account.run("--log-level", "debug", "poll")

    assert "read 0 new message(s)" in result.stdout
    assert login_methods(oauth_dovecot, account.user) == [logged]
    assert tokens.requests > asked   # Dovecot really asked the token endpoint
    assert_no_secret(result.stdout + result.stderr, token)
    assert files_containing(account.workdir, token) == []   # never cached on disk


@pytest.mark.parametrize("mechanism", ["oauthbearer", "xoauth2"])
@pytest.mark.parametrize("whose", ["revoked", "another user's"])
def test_refused_token_exits_3_and_never_shows_the_token(oauth_dovecot: DovecotServer, tokens: TokenEndpoint,
                                                         tmp_path: Path, mechanism: str, whose: str) -> None:
    token_file = tmp_path / "token"
    account = oauth_account(oauth_dovecot, tmp_path / "account", token_file, mechanism)
    if whose == "revoked":
        token = tokens.grant(account.user.username)
        tokens.revoke(token)
    else:
        token = tokens.grant(oauth_dovecot.add_user().username)
    token_file.write_text(token + "\n")

    result = account.run("--log-level", "debug", "poll", check=False)

    assert result.returncode == 3, result.stderr
    assert (f"refused the OAuth2 access token for user {account.user.username!r} ({mechanism.upper()}"
            in result.stderr)
    assert "check [account] oauth2_token_command" in result.stderr
    assert "Traceback" not in result.stderr
    assert_no_secret(result.stdout + result.stderr, token)
    assert failed_methods(oauth_dovecot, account.user) == [mechanism.upper()]
    assert f"Login: user=<{account.user.username}>" not in oauth_dovecot.log_text()


def test_a_refreshed_token_is_used_at_the_next_connect(oauth_dovecot: DovecotServer, tokens: TokenEndpoint,
                                                       tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    account = oauth_account(oauth_dovecot, tmp_path / "account", token_file)
    old = tokens.grant(account.user.username)
    token_file.write_text(old + "\n")
    account.poll()
    tokens.revoke(old)                       # the hour is up
    new = tokens.grant(account.user.username)
    token_file.write_text(new + "\n")        # the token tool refreshed it
    account.poll()
    token_file.write_text(old + "\n")        # a cached copy would be this one: refused
    assert account.run("poll", check=False).returncode == 3


def test_server_without_oauth_mechanisms_says_so(dovecot: DovecotServer, mail_user: MailUser,
                                                  tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("ya29.whatever\n")
    text = default_config(mail_user, tmp_path).replace(f'password_env = "{PASSWORD_ENV}"',
                                                       f'oauth2_token_command = "cat {token_file}"')
    result = Account(dovecot, mail_user, tmp_path, config_text=text).run("poll", check=False)
    assert result.returncode == 3
    assert "offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2" in result.stderr
    assert "(it offers: LOGIN, PLAIN)" in result.stderr


# ---------------------------------------------------------------------------------------------------------
# The system keyring, through the real command and the real keyring library
# ---------------------------------------------------------------------------------------------------------


def keyring_account(server: DovecotServer, user: MailUser, workdir: Path) -> Account:
    text = default_config(user, workdir).replace(f'password_env = "{PASSWORD_ENV}"',
                                                 'password_keyring = "followupd"')
    return Account(server, user, workdir, config_text=text,
                   env_extra={"PYTHON_KEYRING_BACKEND": KEYRING_FILE_BACKEND})


def test_password_from_the_system_keyring(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> None:
    try:
        import keyrings.alt.file  # noqa: F401  (the desktop-free backend the subprocess will load)
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("keyrings.alt is not installed; it belongs to the test extra", pytrace=False)
        pytest.skip("keyrings.alt is not installed (pip install keyrings.alt)")
    account = keyring_account(dovecot, mail_user, tmp_path)
    missing = account.run("poll", check=False)
    assert missing.returncode == 2
    assert (f"[account] password_keyring: the keyring has no password for service 'followupd' and user "
            f"'{mail_user.username}'; store it with: keyring set followupd {mail_user.username}") in missing.stderr

    # Exactly what the message says to run (the keyring CLI reads the password from a pipe).
    stored = subprocess.run([sys.executable, "-m", "keyring", "set", "followupd", mail_user.username],
                            input=mail_user.password + "\n", env=account.env(), capture_output=True, text=True,
                            timeout=60, check=False)
    assert stored.returncode == 0, stored.stderr

    result = account.run("--log-level", "debug", "poll")
    assert "read 0 new message(s)" in result.stdout
    assert_no_secret(result.stdout + result.stderr, mail_user.password)


def test_no_keyring_backend_is_a_clear_config_error(dovecot: DovecotServer, mail_user: MailUser,
                                                    tmp_path: Path) -> None:
    account = keyring_account(dovecot, mail_user, tmp_path)
    result = account.run("poll", check=False, PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    assert result.returncode == 2
    assert "[account] password_keyring: no system keyring is available" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------------------------------------------------
# Passwords stay out of the output too
# ---------------------------------------------------------------------------------------------------------


def test_password_never_appears_at_debug_level(dovecot: DovecotServer, mail_user: MailUser, tmp_path: Path) -> None:
    account = Account(dovecot, mail_user, tmp_path)
    result = account.run("--log-level", "debug", "poll")
    assert "LOGIN" in result.stderr          # the protocol log is there, with the password masked
    assert_no_secret(result.stdout + result.stderr, mail_user.password)
    assert files_containing(account.workdir, mail_user.password) == []

    wrong = "not-" + mail_user.password
    refused = account.run("--log-level", "debug", "poll", check=False, **{PASSWORD_ENV: wrong})
    assert refused.returncode == 3
    assert f"refused the login for user {mail_user.username!r}" in refused.stderr
    assert_no_secret(refused.stdout + refused.stderr, wrong, mail_user.password)


# ---------------------------------------------------------------------------------------------------------
# SMTP: OAUTHBEARER and XOAUTH2 against aiosmtpd
# ---------------------------------------------------------------------------------------------------------

_XOAUTH2 = re.compile(rb"user=([^\x01]+)\x01auth=Bearer ([^\x01]+)\x01\x01")
_OAUTHBEARER = re.compile(rb"n,a=([^,]*),\x01host=([^\x01]+)\x01port=(\d+)\x01auth=Bearer ([^\x01]+)\x01\x01")


class OAuthSmtpHandler:
    """An SMTP server's side of RFC 7628 and XOAUTH2: parses the initial response strictly, checks the token, and
    on refusal sends the JSON error challenge and records what the client answered to it."""

    def __init__(self, tokens: dict[str, str], port: int) -> None:
        self.tokens, self.port = tokens, port
        self.logins: list[tuple[str, str]] = []
        self.error_replies: list[bytes] = []
        self.received: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope.original_content or b"")
        return "250 2.0.0 Ok: queued"

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:
        match = _XOAUTH2.fullmatch(await self._initial(server, args))
        return await self._verdict(server, "XOAUTH2", match and (match[1], match[2]))

    async def auth_OAUTHBEARER(self, server: SMTP, args: list[str]) -> AuthResult:
        match = _OAUTHBEARER.fullmatch(await self._initial(server, args))
        ok = match is not None and match[2] == b"127.0.0.1" and int(match[3]) == self.port
        return await self._verdict(server, "OAUTHBEARER", match and ok and (match[1], match[4]))

    async def _initial(self, server: SMTP, args: list[str]) -> bytes:
        if len(args) > 1:
            return base64.b64decode(args[1])
        reply = await server.challenge_auth("")
        return reply if isinstance(reply, bytes) else b""

    async def _verdict(self, server: SMTP, mechanism: str, login: Any) -> AuthResult:
        if login and self.tokens.get(login[1].decode()) == login[0].decode():
            self.logins.append((mechanism, login[0].decode()))
            return AuthResult(success=True)
        reply = await server.challenge_auth(json.dumps({"status": "invalid_token", "schemes": "bearer"}))
        self.error_replies.append(reply if isinstance(reply, bytes) else b"*")
        return AuthResult(success=False, handled=False)


@pytest.fixture
def oauth_smtp(request: pytest.FixtureRequest) -> Iterator[OAuthSmtpHandler]:
    offered = getattr(request, "param", ("XOAUTH2", "OAUTHBEARER"))
    port = free_port()
    handler = OAuthSmtpHandler({"ya29.smtp-token": "me@example.test"}, port)
    excluded = [m for m in ("PLAIN", "LOGIN", "XOAUTH2", "OAUTHBEARER") if m not in offered]
    controller = Controller(handler, hostname="127.0.0.1", port=port, auth_require_tls=False,
                            auth_exclude_mechanism=excluded)
    controller.start()
    try:
        yield handler
    finally:
        controller.stop()


def smtp_config(handler: OAuthSmtpHandler, token: str, mechanism: str = "auto") -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=handler.port, tls="none", username="me@example.test",
                      password_command=None, password_env=None, oauth2_token_command=f"printf '{token}\\n'",
                      oauth2_mechanism=mechanism)  # type: ignore[arg-type]


MESSAGE = b"From: me@example.test\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


@pytest.mark.parametrize(("mechanism", "used"), [("auto", "OAUTHBEARER"), ("xoauth2", "XOAUTH2")])
def test_smtp_oauth2_login(oauth_smtp: OAuthSmtpHandler, mechanism: str, used: str) -> None:
    sender = SmtpSender.for_config(smtp_config(oauth_smtp, "ya29.smtp-token", mechanism), os.environ)
    sender.send(MESSAGE, sender="me@example.test", recipients=["bob@example.org"])
    assert oauth_smtp.logins == [(used, "me@example.test")]
    assert len(oauth_smtp.received) == 1


@pytest.mark.parametrize("oauth_smtp", [("XOAUTH2",)], indirect=True)
def test_smtp_auto_falls_back_to_xoauth2(oauth_smtp: OAuthSmtpHandler) -> None:
    SmtpSender.for_config(smtp_config(oauth_smtp, "ya29.smtp-token"), os.environ).send(
        MESSAGE, sender="me@example.test", recipients=["bob@example.org"])
    assert oauth_smtp.logins == [("XOAUTH2", "me@example.test")]


@pytest.mark.parametrize(("mechanism", "dummy"), [("oauthbearer", b"\x01"), ("xoauth2", b"")])
def test_smtp_refused_token(oauth_smtp: OAuthSmtpHandler, mechanism: str, dummy: bytes) -> None:
    bad = "ya29.expired-" + SECRET
    sender = SmtpSender.for_config(smtp_config(oauth_smtp, bad, mechanism), os.environ)
    with pytest.raises(SmtpRejected) as info:
        sender.send(MESSAGE, sender="me@example.test", recipients=["bob@example.org"])
    message = str(info.value)
    assert f"refused the OAuth2 access token for me@example.test ({mechanism.upper()}, invalid_token)" in message
    assert "check [smtp] oauth2_token_command" in message
    assert_no_secret(message + repr(info.value), bad)
    assert oauth_smtp.error_replies == [dummy]   # the error challenge got the dummy reply, not the token again
    assert oauth_smtp.received == []


@pytest.mark.parametrize("oauth_smtp", [("PLAIN", "LOGIN")], indirect=True)
def test_smtp_without_oauth_mechanisms_says_so(oauth_smtp: OAuthSmtpHandler) -> None:
    sender = SmtpSender.for_config(smtp_config(oauth_smtp, "ya29.smtp-token"), os.environ)
    with pytest.raises(SmtpRejected, match=r"offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2, .*it offers: "
                                           r"LOGIN, PLAIN"):
        sender.send(MESSAGE, sender="me@example.test", recipients=["bob@example.org"])
    assert oauth_smtp.received == []

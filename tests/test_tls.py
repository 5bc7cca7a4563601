"""TLS certificates: verified by default, a private CA trusted with tls_ca_file, and verification turned off only
per account, with a loud warning.

Against a Dovecot that requires TLS with a certificate from a CA made for the test (tests/tlsdovecot.py), through
the real ``followupd`` command, for implicit TLS and STARTTLS; SMTP against aiosmtpd with the same certificate.
"""

from __future__ import annotations

import logging
import os
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from dovecot import DovecotServer
from harness import PASSWORD_ENV, Account, default_config
from smtpsink import SinkHandler, free_port
from tlsdovecot import Pki, make_pki, start_tls_dovecot

from followupd.adapters.credentials import tls_context
from followupd.adapters.smtp import SmtpSender
from followupd.config import SmtpConfig, config_warnings, parse_config
from followupd.errors import ConfigError, SmtpTemporary

MESSAGE = b"From: me@example.test\r\nTo: bob@example.org\r\nSubject: hi\r\n\r\nhello\r\n"


# ---------------------------------------------------------------------------------------------------------
# Config: tls_ca_file and tls_verify
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def minimal(**account: Any) -> dict[str, Any]:
    return {"account": {"host": "imap.example.com", "username": "me@example.com", "password_env": "PW", **account},
            "tracking": {"address": "me+followup@example.com"}}


def parse(data: dict[str, Any], path: Path = Path("config.toml")) -> Any:
    return parse_config(data, path=path, env={"HOME": "/nonexistent", "TZ": "UTC"})


def error(data: dict[str, Any]) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse(data)
    return info.value


def test_verification_is_on_by_default() -> None:
    account = parse(minimal()).account
    assert (account.tls_ca_file, account.tls_verify) == (None, True)
    context = tls_context(ca_file=account.tls_ca_file, verify=account.tls_verify)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_tls_ca_file_is_read(pki: Pki) -> None:
    assert parse(minimal(tls_ca_file=str(pki.ca))).account.tls_ca_file == pki.ca


def test_relative_tls_ca_file_is_relative_to_the_config_file(pki: Pki) -> None:
    config = parse(minimal(tls_ca_file="ca.pem"), path=pki.ca.parent / "config.toml")
    assert config.account.tls_ca_file == pki.ca


def test_missing_tls_ca_file_names_key_value_and_fix(tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    err = error(minimal(tls_ca_file=str(missing)))
    assert str(err) == (f'config.toml: [account] tls_ca_file = "{missing}" is not allowed; {missing} does not exist; '
                        "give the PEM file of the CA that signed the server's certificate")
    assert err.key == "account.tls_ca_file"


def test_tls_ca_file_without_a_certificate_is_refused(pki: Pki, tmp_path: Path) -> None:
    assert "holds no PEM certificate" in str(error(minimal(tls_ca_file=str(pki.key))))   # a key, not a cert
    assert "is not a file" in str(error(minimal(tls_ca_file=str(tmp_path))))


def test_tls_verify_false_is_refused_where_it_means_nothing(pki: Pki) -> None:
    err = error(minimal(host="127.0.0.1", tls="none", tls_verify=False))
    assert ('[account] tls_verify = false is not allowed; with tls = "none" there is no TLS and no certificate to '
            "check; remove tls_verify") in str(err)
    err = error(minimal(tls_ca_file=str(pki.ca), tls_verify=False))
    assert "[account] tls_verify = false is not allowed; tls_ca_file already names the CA to trust" in str(err)
    assert '[account] tls_ca_file = ' in str(error(minimal(host="127.0.0.1", tls="none", tls_ca_file=str(pki.ca))))


def test_smtp_trust_is_its_own(pki: Pki) -> None:
    data = minimal(tls_ca_file=str(pki.ca))
    data["smtp"] = {"host": "smtp.example.com"}
    assert parse(data).smtp.tls_ca_file is None           # never inherited: another server, another certificate
    data["smtp"] = {"host": "smtp.example.com", "tls_verify": False}
    assert parse(data).smtp.tls_verify is False


def test_config_warns_loudly_about_tls_verify_false(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[account]\nhost = "imap.example.com"\ntls_verify = false\npassword_env = "PW"\n'
                    '[smtp]\nhost = "smtp.example.com"\ntls_verify = false\n')
    path.chmod(0o600)
    warnings = config_warnings(path)
    assert ("INSECURE: [account] tls_verify = false: the TLS certificate of imap.example.com is NOT checked"
            in warnings[0])
    assert warnings[1].startswith("INSECURE: [smtp] tls_verify = false")


# ---------------------------------------------------------------------------------------------------------
# IMAP against a Dovecot with a certificate from a private CA
# ---------------------------------------------------------------------------------------------------------


def _need_dovecot() -> None:
    if not DovecotServer.available():
        if os.environ.get("CI"):
            pytest.fail("dovecot is not installed; CI must run the TLS tests", pytrace=False)
        pytest.skip("dovecot is not installed")


@pytest.fixture(scope="module")
def tls_server(pki: Pki) -> Iterator[tuple[DovecotServer, int]]:
    """(server, imaps port): ``server.imap_port`` speaks STARTTLS, the other implicit TLS."""
    _need_dovecot()
    server, imaps_port = start_tls_dovecot(pki)
    try:
        yield server, imaps_port
    finally:
        server.stop()


def tls_account(server: DovecotServer, workdir: Path, *, tls: str, port: int, host: str = "127.0.0.1",
                extra: str = "") -> Account:
    user = server.add_user()
    text = default_config(user, workdir)
    text = text.replace('tls = "none"', f'tls = "{tls}"').replace(f"port = {user.port}", f"port = {port}")
    text = text.replace(f'host = "{user.host}"', f'host = "{host}"')
    text = text.replace(f'password_env = "{PASSWORD_ENV}"', f'password_env = "{PASSWORD_ENV}"\n{extra}')
    return Account(server, user, workdir, config_text=text)


def port_for(tls: str, server: DovecotServer, imaps_port: int) -> int:
    return imaps_port if tls == "implicit" else server.imap_port


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_unknown_ca_is_refused_with_advice(tls_server: tuple[DovecotServer, int], tmp_path: Path, tls: str) -> None:
    server, imaps_port = tls_server
    account = tls_account(server, tmp_path, tls=tls, port=port_for(tls, server, imaps_port))
    result = account.run("poll", check=False)
    assert result.returncode == 3
    assert "the TLS certificate of 127.0.0.1:" in result.stderr
    assert "could not be verified (unable to get local issuer certificate)" in result.stderr
    assert 'trust that CA with [account] tls_ca_file = "/path/to/ca.pem"' in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_tls_ca_file_trusts_the_private_ca(tls_server: tuple[DovecotServer, int], pki: Pki, tmp_path: Path,
                                           tls: str, host: str) -> None:
    server, imaps_port = tls_server
    account = tls_account(server, tmp_path, tls=tls, port=port_for(tls, server, imaps_port), host=host,
                          extra=f'tls_ca_file = "{pki.ca}"')
    result = account.run("--log-level", "info", "poll")
    assert "read 0 new message(s)" in result.stdout
    assert "INSECURE" not in result.stderr
    login = [line for line in server.log_text().splitlines() if f"Login: user=<{account.user.username}>" in line]
    assert login and ", TLS" in login[0]   # Dovecot confirms the session was encrypted


def test_certificate_for_another_name_is_refused_naming_the_host(pki: Pki,
                                                                 tmp_path_factory: pytest.TempPathFactory) -> None:
    _need_dovecot()
    other = make_pki(tmp_path_factory.mktemp("other-pki"), names="DNS:mail.example.test")
    server, imaps_port = start_tls_dovecot(other)
    try:
        workdir = tmp_path_factory.mktemp("account")
        account = tls_account(server, workdir, tls="implicit", port=imaps_port, extra=f'tls_ca_file = "{other.ca}"')
        result = account.run("poll", check=False)
    finally:
        server.stop()
    assert result.returncode == 3
    assert f"the TLS certificate of 127.0.0.1:{imaps_port} is not valid for '127.0.0.1'" in result.stderr
    assert "set [account] host to a name the certificate lists" in result.stderr


@pytest.mark.parametrize("tls", ["implicit", "starttls"])
def test_tls_verify_false_connects_with_a_loud_warning(tls_server: tuple[DovecotServer, int], tmp_path: Path,
                                                       tls: str) -> None:
    server, imaps_port = tls_server
    port = port_for(tls, server, imaps_port)
    account = tls_account(server, tmp_path, tls=tls, port=port, extra="tls_verify = false")
    result = account.run("poll")   # default log level: warnings only
    assert "read 0 new message(s)" in result.stdout
    assert (f"WARNING followupd.imap: INSECURE: [account] tls_verify = false: the TLS certificate of 127.0.0.1:{port} "
            "is NOT checked") in result.stderr
    checked = account.run("config", "check", "--offline")
    assert "warning: INSECURE: [account] tls_verify = false" in checked.stderr


# ---------------------------------------------------------------------------------------------------------
# SMTP with implicit TLS (aiosmtpd with the same certificate)
# ---------------------------------------------------------------------------------------------------------


@pytest.fixture
def tls_smtp(pki: Pki) -> Iterator[tuple[SinkHandler, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(pki.cert, pki.key)
    handler, port = SinkHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def smtp_config(port: int, **trust: Any) -> SmtpConfig:
    return SmtpConfig(host="127.0.0.1", port=port, tls="implicit", username="", password_command=None,
                      password_env=None, password="unused", **trust)


def test_smtp_verifies_with_tls_ca_file(tls_smtp: tuple[SinkHandler, int], pki: Pki) -> None:
    handler, port = tls_smtp
    with pytest.raises(SmtpTemporary, match=r"could not be verified .*\[smtp\] tls_ca_file"):
        SmtpSender.for_config(smtp_config(port), {}).send(MESSAGE, sender="me@example.test",
                                                          recipients=["bob@example.org"])
    assert handler.received == []
    SmtpSender.for_config(smtp_config(port, tls_ca_file=pki.ca), {}).send(MESSAGE, sender="me@example.test",
                                                                         recipients=["bob@example.org"])
    assert len(handler.received) == 1


def test_smtp_tls_verify_false_warns_on_every_connect(tls_smtp: tuple[SinkHandler, int],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    handler, port = tls_smtp
    sender = SmtpSender.for_config(smtp_config(port, tls_verify=False), {})
    with caplog.at_level(logging.WARNING, logger="followupd.adapters.smtp"):
        for _ in range(2):
            sender.send(MESSAGE, sender="me@example.test", recipients=["bob@example.org"])
    assert len(handler.received) == 2
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2
    assert all(w.startswith(f"INSECURE: [smtp] tls_verify = false: the TLS certificate of 127.0.0.1:{port} is NOT "
                            "checked") for w in warnings)

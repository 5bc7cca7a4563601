"""The one login block of [account] (IMAP) and [smtp]: host, port, TLS, trust, username and one secret source.

Both sections are checked by the same code, so a rule (a loopback-only ``tls = "none"``, exactly one password
source, a CA file that exists) cannot hold for one server and be forgotten for the other. What differs between
them -- default ports, examples, the clear-text warning, SMTP inheriting the [account] secret -- is data in
:class:`Server` or a parameter, not a second copy of the checks.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from followupd.adapters.credentials import OAUTH_MECHANISMS, SECRET_SOURCES, OAuthMechanism, ca_file_problem
from followupd.config.model import TLS_MODES, AccountConfig, LoginConfig, SmtpConfig, TlsMode
from followupd.config.paths import expand_user
from followupd.config.schema import Table, quoted_list
from followupd.mail.patterns import lazy_pattern

_ENV_NAME = lazy_pattern(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Server:
    """What tells the two login sections apart in messages and defaults."""

    example_host: str                 # replaces "imap.example.com" in host advice
    ports: Mapping[TlsMode, int]      # the default port for each TLS mode
    port_advice: str                  # which ports are usual, for a port out of range
    cleartext: str                    # what tls = "none" would expose, and what to use instead


IMAP = Server("imap.example.com", {"implicit": 993, "starttls": 143, "none": 143},
              "993 for implicit TLS, 143 for starttls",
              'the password would cross the network in clear text. Use "implicit" or "starttls"')
SMTP = Server("smtp.example.com", {"implicit": 465, "starttls": 587, "none": 25},
              "465 for implicit TLS, 587 for starttls",
              'the password and your mail would cross the network in clear text. Use "implicit" (port 465) or '
              '"starttls" (port 587)')


def build_account(table: Table) -> AccountConfig:
    username = (table.text("username") or "").strip()
    if table.text("username") is not None and not username:
        table.error("username", 'is empty; e.g. username = "me@example.com"')
    login = _build_login(table, IMAP, username)
    return AccountConfig(**_fields_of(login), idle=table.values.get("idle", True) is not False)


def build_smtp(table: Table, account: AccountConfig) -> SmtpConfig | None:
    """``None`` when the file has no [smtp]: followupd then only drafts, it can never send.

    Without a secret source of its own, [smtp] logs in with the [account] one (the usual case: the same login
    for IMAP and SMTP); its TLS trust is per server and never inherited."""
    if not table.present:
        return None
    username = table.text("username") or account.username
    login = _build_login(table, SMTP, username, inherit=account)
    inherits = not any(table.has(key) for key in SECRET_SOURCES)
    return SmtpConfig(**_fields_of(login), section="account" if inherits else "smtp")


def _fields_of(login: LoginConfig) -> dict[str, Any]:
    return {item.name: getattr(login, item.name) for item in fields(LoginConfig)}


def _build_login(table: Table, server: Server, username: str, *, inherit: LoginConfig | None = None) -> LoginConfig:
    """Check one login section; ``inherit``: the login whose secret source it uses when it names none itself."""
    host = (table.text("host") or "").strip()
    host_problem = _host_problem(host) if table.text("host") is not None else None
    if host_problem:
        table.bad("host", host_problem.replace("imap.example.com", server.example_host))
    tls = _tls(table)
    if tls == "none" and host and not is_loopback(host):
        table.bad("tls", f"TLS may only be off for a loopback host (localhost, 127.0.0.1, ::1), and {host!r} is "
                         f"not; {server.cleartext}")
    port = table.integer("port")
    if port is None:
        port = server.ports[tls]
    elif not 1 <= port <= 65535:
        table.bad("port", f"use a TCP port from 1 to 65535 ({server.port_advice})")
    _check_password_sources(table, required=inherit is None)
    source = inherit if inherit is not None and not any(table.has(key) for key in SECRET_SOURCES) else None
    ca_file, verify = _trust(table, tls)
    oauth2 = source.oauth2_token_command is not None if source else table.has("oauth2_token_command")
    mechanism = _oauth2_mechanism(table, token_command=oauth2)
    if source is not None:
        return LoginConfig(host=host, port=port, tls=tls, username=username,
                           password_command=source.password_command, password_env=source.password_env,
                           password=source.password, password_keyring=source.password_keyring,
                           oauth2_token_command=source.oauth2_token_command,
                           oauth2_mechanism=mechanism if table.has("oauth2_mechanism") else source.oauth2_mechanism,
                           tls_ca_file=ca_file, tls_verify=verify)
    return LoginConfig(host=host, port=port, tls=tls, username=username,
                       password_command=table.text("password_command"), password_env=table.text("password_env"),
                       password=table.text("password"), password_keyring=table.text("password_keyring"),
                       oauth2_token_command=table.text("oauth2_token_command"), oauth2_mechanism=mechanism,
                       tls_ca_file=ca_file, tls_verify=verify)


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: the only hosts where a clear-text password never crosses a wire."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_problem(host: str) -> str | None:
    """Catch the usual paste mistakes (a URL, a port, an empty string) before they become DNS errors."""
    if not host:
        return 'give the server name, e.g. host = "imap.example.com"'
    if "://" in host or "/" in host:
        return 'give the host name only, without imaps:// or a path, e.g. "imap.example.com"'
    if re.search(r"\s", host):
        return "a host name has no spaces"
    if host.count(":") == 1:
        return 'give the port in port = 993, not in host'
    return None


def _tls(table: Table) -> TlsMode:
    value = table.text("tls")
    if value is None:
        return "implicit"
    for mode in TLS_MODES:
        if value.strip().lower() == mode:
            return mode
    table.bad("tls", f"use one of {quoted_list(TLS_MODES)}")
    return "implicit"


def _trust(table: Table, tls: TlsMode) -> tuple[Path | None, bool]:
    """``tls_ca_file`` (checked now: a typo should stop start-up, not the first connect) and ``tls_verify``.

    Both are refused where they cannot mean anything, so nobody believes a setting protects them when it does not:
    with ``tls = "none"`` there is no certificate, and ``tls_verify = false`` would ignore a ``tls_ca_file``.
    """
    raw_verify = table.values.get("tls_verify")
    verify = raw_verify if isinstance(raw_verify, bool) else True
    raw = table.text("tls_ca_file")
    ca_file: Path | None = None
    if raw is not None and not raw.strip():
        table.error("tls_ca_file", "is empty; give the path of the CA certificate (PEM), or remove the key")
    elif raw is not None:
        path = expand_user(raw.strip(), os.environ)
        if not path.is_absolute():
            path = table.problems.path.parent / path   # relative to the config file, like [templates] dir
        problem = ca_file_problem(path)
        if problem:
            table.bad("tls_ca_file", problem)
        elif tls == "none":
            table.bad("tls_ca_file", 'with tls = "none" there is no certificate to check; use tls = "implicit" or '
                                     '"starttls", or remove tls_ca_file')
        else:
            ca_file = path
    if not verify and tls == "none":
        table.bad("tls_verify", 'with tls = "none" there is no TLS and no certificate to check; remove tls_verify')
    elif not verify and raw is not None:
        table.bad("tls_verify", "tls_ca_file already names the CA to trust; keep it and remove tls_verify = false, "
                                "which would turn every certificate check off")
    return ca_file, verify


def _oauth2_mechanism(table: Table, *, token_command: bool) -> OAuthMechanism:
    """``auto`` unless set; only meaningful for an OAuth2 login (``token_command``: one is configured)."""
    text = table.text("oauth2_mechanism")
    if text is None:
        return "auto"
    matched = [mechanism for mechanism in OAUTH_MECHANISMS if mechanism == text.strip().lower()]
    if not matched:
        table.bad("oauth2_mechanism", 'use "auto" (OAUTHBEARER where the server offers it, else XOAUTH2), '
                                      '"oauthbearer" or "xoauth2"')
        return "auto"
    if not token_command:
        table.bad("oauth2_mechanism", "it applies only to an OAuth2 login; set oauth2_token_command too, or "
                                      "remove oauth2_mechanism")
    return matched[0]


def _check_password_sources(table: Table, *, required: bool = True) -> None:
    """Exactly one source, so it is never ambiguous which secret is used; values are never echoed.

    ``required=False`` for [smtp], which may inherit the [account] source instead."""
    section = table.name
    given = [key for key in SECRET_SOURCES if table.has(key)]
    if not given and table.present and required:
        table.problems.add(
            f"{section}.password_command",
            f"[{section}] needs one password source: password_command (e.g. \"pass show mail/me\"), "
            "password_env (e.g. \"FOLLOWUPD_PASSWORD\"), password_keyring (a service name in the system keyring, "
            "e.g. \"followupd\"), oauth2_token_command (a command printing an OAuth2 access token, for Gmail or "
            "Microsoft 365) or password (discouraged: secrets belong outside the file)",
        )
    elif len(given) > 1:
        table.problems.add(
            f"{section}.{given[1]}",
            f"[{section}] sets {' and '.join(given)}; keep exactly one password source",
        )
    for key in given:
        value = table.text(key)
        if value is not None and not value.strip():
            table.error(key, "is empty")
    env_name = table.text("password_env")
    if env_name and not _ENV_NAME.match(env_name):
        table.bad("password_env", "give the variable's name only (letters, digits, _), without $, "
                                  'e.g. password_env = "FOLLOWUPD_PASSWORD"')
    service = table.text("password_keyring")
    if service and service != service.strip():
        table.bad("password_keyring", "give the keyring service name without surrounding spaces, "
                                      'e.g. password_keyring = "followupd"')

"""Credentials and trust: where a login secret comes from, how it goes on the wire, which certificate is accepted.

One module for IMAP (``[account]``) and SMTP (``[smtp]``) alike, so the two logins follow the same rules and say
the same things when they fail. Exactly one secret source per section (config.py enforces it):

* ``password_command``: a shell command; its first output line is the password (like isync's PassCmd).
* ``password_env``: the *name* of an environment variable holding the password.
* ``password``: the password itself (accepted, discouraged).
* ``password_keyring``: a service name in the system keyring, looked up for the section's username; needs the
  optional ``keyring`` package (``pip install 'followupd[keyring]'``).
* ``oauth2_token_command``: a shell command printing an OAuth2 access token (Gmail, Microsoft 365). It runs at
  every connect and the token is never stored: access tokens expire within an hour, and a cached one on disk
  is a password by another name.

Secrets are resolved at login, never at config load, so a locked keyring or an expired refresh token shows up
as a clear error at the moment it matters. Nothing here logs, and no message built here contains a secret:
errors name the source and what went wrong, and server text is passed through :func:`redact` (a secret can
travel base64-encoded, so its base64 forms are removed too). Every resolved secret is also registered with
followupd.adapters.redact, whose log filter masks it in whatever a library logs (imapclient's protocol log at DEBUG).

SASL for OAuth2 is built here instead of taken from the IMAP library: OAUTHBEARER (RFC 7628) must carry the
host and port, and when the server refuses a token it sends an error challenge that the client must answer with
a dummy reply -- imapclient's helpers would answer it by sending the token a second time.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from followupd.adapters.redact import register_secret
from followupd.errors import ConfigError, SecretError
from followupd.mail.patterns import lazy_pattern

# ssl and subprocess are imported where they are used: loading the config (every command, `status` included)
# needs neither unless a password command or a CA file is configured (issue 16 point 3: an instant CLI).
if TYPE_CHECKING:
    import ssl

__all__ = [
    "OAUTH_MECHANISMS",
    "SECRET_SOURCES",
    "Credential",
    "OAuthExchange",
    "OAuthMechanism",
    "ca_file_problem",
    "certificate_problem",
    "choose_oauth_mechanism",
    "insecure_tls_warning",
    "oauth_unavailable",
    "oauthbearer_response",
    "redact",
    "resolve_credential",
    "resolve_password",
    "tls_context",
    "xoauth2_response",
]

OAuthMechanism = Literal["auto", "xoauth2", "oauthbearer"]
OAUTH_MECHANISMS: tuple[OAuthMechanism, ...] = ("auto", "xoauth2", "oauthbearer")
#: The keys of which a section sets exactly one (the order is the one messages list them in).
SECRET_SOURCES = ("password_command", "password_env", "password", "password_keyring", "oauth2_token_command")
KEYRING_INSTALL = "pip install 'followupd[keyring]'"

# RFC 6750 §2.1 b64token: what a bearer token may contain. Anything else (JSON, "Bearer xyz", two words) means
# the command printed something other than the bare token, and the server would only say "refused".
_B64TOKEN = lazy_pattern(r"[A-Za-z0-9\-._~+/]+=*")
# OpenSSL's X509_V_ERR_* codes that call for a different fix than "trust the issuing CA".
_CERT_EXPIRED = 10
_HOSTNAME_MISMATCH = 62
_IP_MISMATCH = 64


class SecretSource(Protocol):
    """What :class:`~followupd.config.AccountConfig` and ``SmtpConfig`` share: a login and its one secret source.

    Properties, because the config dataclasses are frozen (read-only attributes)."""

    @property
    def username(self) -> str: ...
    @property
    def password_command(self) -> str | None: ...
    @property
    def password_env(self) -> str | None: ...
    @property
    def password(self) -> str | None: ...
    @property
    def password_keyring(self) -> str | None: ...
    @property
    def oauth2_token_command(self) -> str | None: ...
    @property
    def oauth2_mechanism(self) -> OAuthMechanism: ...


def _section(source: SecretSource) -> str:
    """``"account"`` or ``"smtp"``: SmtpConfig records which section its (possibly inherited) source is in."""
    return str(getattr(source, "section", "account"))


# ----------------------------------------------------------------------------------------------------
# Resolving
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Credential:
    """What to log in with: a password, or an OAuth2 access token and which SASL mechanism may carry it.

    ``section`` is where its source is configured, so a refusal can say which key to check. The secret is
    kept out of ``repr``: a credential in a traceback or a debug log shows only its kind.
    """

    kind: Literal["password", "oauth2"]
    secret: str = field(repr=False)
    mechanism: OAuthMechanism = "auto"
    section: str = "account"

    @classmethod
    def password(cls, password: str, *, section: str = "account") -> Credential:
        return cls("password", password, section=section)


def resolve_credential(source: SecretSource, env: Mapping[str, str] = os.environ, *,
                       timeout: float = 30) -> Credential:
    """The section's login secret from its one source; called at every connect (tokens expire, keyrings lock)."""
    section = _section(source)
    if source.oauth2_token_command is not None:
        token = _first_line_of_command(source.oauth2_token_command, env, timeout, section,
                                       "oauth2_token_command").strip()
        if not _B64TOKEN.fullmatch(token):
            raise SecretError(
                f"[{section}] oauth2_token_command printed something that is not a bare access token (one word "
                "of letters, digits and -._~+/=); if your tool prints JSON, extract the token, e.g. "
                "`... | jq -r .access_token`; drop any \"Bearer \" prefix", key=f"{section}.oauth2_token_command")
        register_secret(token)
        return Credential("oauth2", token, source.oauth2_mechanism, section)
    return Credential.password(resolve_password(source, env, timeout=timeout), section=section)


def resolve_password(source: SecretSource, env: Mapping[str, str] = os.environ, *, timeout: float = 30) -> str:
    """The password from the section's one source.

    Messages name the source and what went wrong but never contain the secret (nor the command's stdout).
    """
    password = _password(source, env, timeout)
    register_secret(password)   # from now on masked in every log line, whatever library logs it
    return password


def _password(source: SecretSource, env: Mapping[str, str], timeout: float) -> str:
    section = _section(source)
    if source.password is not None:
        return source.password
    if source.password_env is not None:
        return _password_from_env(source.password_env, env, section)
    if source.password_command is not None:
        return _first_line_of_command(source.password_command, env, timeout, section, "password_command")
    if source.password_keyring is not None:
        return _password_from_keyring(source.password_keyring, source.username, section)
    if source.oauth2_token_command is not None:
        raise SecretError(f"[{section}] logs in with an OAuth2 access token (oauth2_token_command), not a password",
                          key=f"{section}.oauth2_token_command")
    raise SecretError(f"[{section}] has no password source; set password_command, password_env, password_keyring "
                      "or oauth2_token_command", key=f"{section}.password_command")


def _password_from_env(name: str, env: Mapping[str, str], section: str = "account") -> str:
    value = env.get(name)
    if value is None:
        raise SecretError(f"[{section}] password_env: environment variable {name} is not set",
                          key=f"{section}.password_env")
    if not value:
        raise SecretError(f"[{section}] password_env: environment variable {name} is empty",
                          key=f"{section}.password_env")
    return value


def _first_line_of_command(command: str, env: Mapping[str, str], timeout: float, section: str,
                           name: str) -> str:
    """First line of the command's stdout, like isync's PassCmd and msmtp's passwordeval.

    Taking the first line (not all output minus the final newline) matters for ``pass``: its entries often
    hold ``login:``/``url:`` lines below the password.
    """
    import subprocess

    key = f"{section}.{name}"
    try:
        result = subprocess.run(command, shell=True, capture_output=True, stdin=subprocess.DEVNULL,
                                env=dict(env), timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise SecretError(f"[{section}] {name} did not finish within {timeout:g} s "
                          "(is it waiting for a passphrase prompt or a browser login?)", key=key) from None
    except OSError as exc:
        raise SecretError(f"[{section}] {name} could not be started: {exc.strerror or exc}", key=key) from None
    lines = result.stdout.splitlines()
    first = lines[0] if lines else b""
    if result.returncode != 0:
        raise SecretError(f"[{section}] {name} {_failure(result.returncode)}"
                          f"{_stderr_summary(result.stderr, first)}", key=key)
    try:
        secret = first.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"[{section}] {name} printed something that is not UTF-8", key=key) from None
    if not secret:
        raise SecretError(f"[{section}] {name} printed nothing (its first line is empty)", key=key)
    return secret


def _failure(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by signal {-returncode}"
    return f"failed with exit code {returncode}"


def _stderr_summary(stderr: bytes, secret: bytes) -> str:
    """The first non-blank stderr line, as a hint; redacted if it happens to contain what stdout printed."""
    text = stderr.decode("utf-8", errors="replace")
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if not line:
        return ""
    candidate = secret.decode("utf-8", errors="replace").strip()
    if candidate:
        line = redact(line, candidate)
    return f": {line}"


def _password_from_keyring(service: str, username: str, section: str) -> str:
    """The system keyring's password for (service, username); imported late, since the package is optional."""
    key = f"{section}.password_keyring"
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise SecretError(f"[{section}] password_keyring needs the optional keyring package, which is not "
                          f"installed: {KEYRING_INSTALL}", key=key) from None
    store = f"keyring set {shlex.quote(service)} {shlex.quote(username)}"
    try:
        password = keyring.get_password(service, username)
    except keyring.errors.NoKeyringError:
        raise SecretError(f"[{section}] password_keyring: no system keyring is available (a server without a "
                          "desktop session usually has none); use password_command or password_env instead",
                          key=key) from None
    except Exception as exc:  # backends raise their own errors (D-Bus, a locked keychain, a dismissed prompt)
        raise SecretError(f"[{section}] password_keyring: looking up service {service!r}, user {username!r} in "
                          f"the keyring failed ({type(exc).__name__}: {exc}); is the keyring unlocked?",
                          key=key) from None
    if password is None:
        raise SecretError(f"[{section}] password_keyring: the keyring has no password for service {service!r} "
                          f"and user {username!r}; store it with: {store}", key=key)
    if not password:
        raise SecretError(f"[{section}] password_keyring: the keyring's password for service {service!r} and "
                          f"user {username!r} is empty; store it again with: {store}", key=key)
    return str(password)


def redact(text: str, *secrets: str | bytes) -> str:
    """``text`` with every secret, and its base64 forms, replaced by ``***``.

    Servers and libraries sometimes echo what they were sent, and SASL sends secrets base64-encoded: a
    token could reappear in either form. Longest forms first, so a shorter one never leaves half of a longer.
    """
    forms: set[str] = set()
    for secret in secrets:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        if not raw:
            continue
        forms.add(raw.decode("utf-8", errors="replace"))
        for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
            forms.update({encoded.decode("ascii"), encoded.decode("ascii").rstrip("=")})
    for form in sorted(forms, key=len, reverse=True):
        if form:
            text = text.replace(form, "***")
    return text


# ----------------------------------------------------------------------------------------------------
# OAuth2 over SASL: XOAUTH2 and OAUTHBEARER
# ----------------------------------------------------------------------------------------------------


def xoauth2_response(username: str, token: str) -> bytes:
    """Google's XOAUTH2 initial client response: ``user=USER ^A auth=Bearer TOKEN ^A ^A`` (before base64)."""
    return f"user={username}\x01auth=Bearer {token}\x01\x01".encode()


def oauthbearer_response(username: str, host: str, port: int, token: str) -> bytes:
    """RFC 7628 §3.1 initial client response (before base64).

    A GS2 header naming the user as authorization identity (RFC 5801 §4: ``=`` and ``,`` escaped as ``=3D``
    and ``=2C``; Gmail requires the identity), then ^A-separated key/value pairs ending in ^A^A.
    """
    authzid = username.replace("=", "=3D").replace(",", "=2C")
    return f"n,a={authzid},\x01host={host}\x01port={port}\x01auth=Bearer {token}\x01\x01".encode()


def choose_oauth_mechanism(preference: OAuthMechanism, offered: Iterable[str]) -> str | None:
    """The SASL mechanism to use given the server's ``AUTH=`` list, or None when none fits.

    ``auto`` prefers OAUTHBEARER, the standard one; XOAUTH2 is Google's older variant, which Microsoft 365
    also speaks. An explicit choice is used only when offered.
    """
    names = {name.upper() for name in offered}
    wanted = ("OAUTHBEARER", "XOAUTH2") if preference == "auto" else (preference.upper(),)
    return next((name for name in wanted if name in names), None)


def oauth_unavailable(preference: OAuthMechanism, offered: Iterable[str], where: str, section: str) -> str:
    """The message for a server that offers no usable OAuth2 mechanism."""
    listed = ", ".join(sorted({name.upper() for name in offered})) or "none"
    if preference == "auto":
        return (f"{where} offers neither AUTH=OAUTHBEARER nor AUTH=XOAUTH2, so [{section}] oauth2_token_command "
                f"cannot be used there (it offers: {listed}); use a password source for this server")
    other = "xoauth2" if preference == "oauthbearer" else "oauthbearer"
    return (f"{where} does not offer AUTH={preference.upper()} (it offers: {listed}); set [{section}] "
            f"oauth2_mechanism = \"auto\" or \"{other}\"")


class OAuthExchange:
    """Answers the server during AUTHENTICATE (imaplib) or AUTH (smtplib) for one OAuth2 login.

    The first call returns the initial response. A second call means the server refused the token and sent
    an error challenge (RFC 7628 §3.2.2, a JSON object, for XOAUTH2 too): its ``status`` is kept for the
    message, and the exchange is ended with the dummy reply the mechanism prescribes (^A for OAUTHBEARER,
    RFC 7628 §3.2.3; an empty reply for XOAUTH2) -- never with the token again. Both libraries accept the
    ``str`` returned; smtplib calls without a challenge first, imaplib with the empty one of ``+ ``.
    """

    def __init__(self, mechanism: str, *, username: str, host: str, port: int, token: str) -> None:
        self.mechanism = mechanism.upper()
        self._token = token
        self._initial = (oauthbearer_response(username, host, port, token) if self.mechanism == "OAUTHBEARER"
                         else xoauth2_response(username, token))
        # The protocol log (imapclient at DEBUG) shows the response base64-encoded as a whole, a form in which
        # the token's own base64 does not appear: register the response too.
        register_secret(self._initial.decode("utf-8"))
        self._answered = False
        self.server_status = ""   # e.g. "invalid_token" from the error challenge; never contains the token

    def __repr__(self) -> str:
        return f"OAuthExchange({self.mechanism})"

    def __call__(self, challenge: bytes | None = None) -> str:
        if not self._answered:
            self._answered = True
            return self._initial.decode("utf-8")
        self.server_status = self.redact(_challenge_status(challenge or b""))
        return "\x01" if self.mechanism == "OAUTHBEARER" else ""

    def redact(self, text: str) -> str:
        """``text`` without the token or the initial response, in any form (servers may echo either)."""
        return redact(text, self._token, self._initial)


def _challenge_status(challenge: bytes) -> str:
    """``status`` of a JSON error challenge (``{"status":"invalid_token",...}``), else ""."""
    try:
        data = json.loads(challenge.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return ""
    status = data.get("status") if isinstance(data, dict) else None
    return status if isinstance(status, str) and re.fullmatch(r"[\w.\- ]{1,60}", status) else ""


# ----------------------------------------------------------------------------------------------------
# Trust: which server certificate is accepted
# ----------------------------------------------------------------------------------------------------


def ca_file_problem(path: Path) -> str | None:
    """Why ``path`` cannot serve as ``tls_ca_file``, or None: checked at load, not at the first connect."""
    if not path.exists():
        return f"{path} does not exist; give the PEM file of the CA that signed the server's certificate"
    if not path.is_file():
        return f"{path} is not a file; give the PEM file of the CA that signed the server's certificate"
    import ssl

    try:
        ssl.create_default_context().load_verify_locations(cafile=str(path))
    except ssl.SSLError:
        return (f"{path} holds no PEM certificate; give the CA certificate (a file with "
                "-----BEGIN CERTIFICATE-----) that signed the server's certificate")
    except PermissionError:
        return f"{path} cannot be read (permission denied); make it readable for the user running followupd"
    except OSError as exc:
        return f"{path} cannot be read: {exc.strerror or exc}"
    return None


def tls_context(*, ca_file: Path | None = None, verify: bool = True, section: str = "account") -> ssl.SSLContext:
    """The system's trust anchors plus ``ca_file``, with host name checking; no checks at all if not ``verify``.

    ``verify=False`` exists only for a per-account opt-out (config.py makes the user write it, the caller
    warns on every connect); a private CA is better served by ``ca_file``.
    """
    import ssl

    context = ssl.create_default_context()
    if ca_file is not None:
        try:
            context.load_verify_locations(cafile=str(ca_file))
        except (ssl.SSLError, OSError) as exc:  # the file changed since the config was loaded
            raise ConfigError(f"[{section}] tls_ca_file = {str(ca_file)!r} cannot be used: "
                              f"{ca_file_problem(ca_file) or exc}", key=f"{section}.tls_ca_file") from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def certificate_problem(exc: ssl.SSLCertVerificationError, *, where: str, host: str, section: str) -> str:
    """What a failed certificate check means and what to change, per OpenSSL's reason."""
    reason = exc.verify_message or str(exc.reason or exc)
    if exc.verify_code in (_HOSTNAME_MISMATCH, _IP_MISMATCH):
        return (f"the TLS certificate of {where} is not valid for {host!r} ({reason}); set [{section}] host to a "
                "name the certificate lists")
    if exc.verify_code == _CERT_EXPIRED:
        return (f"the TLS certificate of {where} has expired ({reason}); the server's administrator must renew "
                "it (or check this machine's clock)")
    return (f"the TLS certificate of {where} could not be verified ({reason}); if the server uses a certificate "
            f"from a private CA (self-hosted, company CA), trust that CA with [{section}] tls_ca_file = "
            "\"/path/to/ca.pem\"; also check that host names the right server")


def insecure_tls_warning(table: str, where: str) -> str:
    """The loud warning for ``tls_verify = false`` (``table``: ``"[account]"``...), at load and on every connect."""
    return (f"INSECURE: {table} tls_verify = false: the TLS certificate of {where} is NOT checked, so anyone "
            "on the network path can pose as the server and read your password and mail; trust a private CA "
            "with tls_ca_file instead")

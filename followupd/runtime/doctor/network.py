"""The ``connect`` and ``tls`` checks, on a probe connection of their own (plain socket and ``ssl``).

Why not through the IMAP client: "the port is closed", "the certificate is not trusted" and "the password is
wrong" need different fixes, so each step is reported apart before the login goes through ``Mailbox``.
"""

from __future__ import annotations

import socket
import ssl
import time
from datetime import UTC, datetime
from typing import Any

from followupd.adapters.credentials import certificate_problem, tls_context
from followupd.config import AccountConfig, is_loopback
from followupd.errors import ConfigError
from followupd.runtime.doctor.report import Check

#: A certificate expiring sooner than this is worth a warning: renewals that silently failed show up here first.
CERT_WARN_DAYS = 14


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

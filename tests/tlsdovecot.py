"""A private CA, a server certificate it signed, and a Dovecot that requires TLS with it, for the TLS tests.

Why a private CA and not a self-signed leaf: that is what a self-hosted or company server looks like, and the
fix followupd suggests (``tls_ca_file``) trusts the CA, so the same file keeps working when the server renews
its certificate. The certificate names ``IP:127.0.0.1`` and ``DNS:localhost`` only, so a connection to any
other name fails the host name check. Keys and certificates are made with the ``openssl`` command.
"""

from __future__ import annotations

import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dovecot import DovecotError, DovecotServer

__all__ = ["Pki", "make_pki", "start_tls_dovecot"]


@dataclass(frozen=True)
class Pki:
    ca: Path      # the CA certificate (what tls_ca_file points at)
    cert: Path    # the server certificate, signed by the CA
    key: Path     # the server's private key


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_pki(directory: Path, *, names: str = "IP:127.0.0.1,DNS:localhost") -> Pki:
    """A CA and a server certificate for ``names`` (a subjectAltName value), valid for two days."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", "/CN=followupd test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=localhost", cwd=directory)
    (directory / "server.ext").write_text(f"subjectAltName={names}\nbasicConstraints=CA:FALSE\n"
                                          "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "server.ext", cwd=directory)
    return Pki(ca=directory / "ca.pem", cert=directory / "server.pem", key=directory / "server.key")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_tls_dovecot(pki: Pki, *, extra_config: str = "") -> tuple[DovecotServer, int]:
    """A started Dovecot with ``ssl = required`` and the given certificate; returns it and its IMAPS port.

    The plain IMAP port (``server.imap_port``) then serves STARTTLS only: LOGIN before STARTTLS is refused.
    The IMAPS port is picked here (DovecotServer picks only its own), so a port taken meanwhile is retried.
    """
    last: DovecotError | None = None
    for _attempt in range(3):
        port = _free_port()
        server = DovecotServer(extra_config=f"""
ssl = required
ssl_cert = <{pki.cert}
ssl_key = <{pki.key}
service imap-login {{
  inet_listener imaps {{
    address = 127.0.0.1
    port = {port}
  }}
}}
{extra_config}
""")
        try:
            server.start()
        except DovecotError as exc:
            last = exc
            if "Address already in use" not in str(exc):
                raise
            continue
        return server, port
    assert last is not None
    raise last

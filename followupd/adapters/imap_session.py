"""One authenticated IMAP connection: connect, TLS (implicit or STARTTLS), login (password or OAuth2), logout,
and the translation of every imapclient, socket and ssl exception into followupd's errors.

Split from imap.py so that module reads as what followupd does with a mailbox (folders, fetching, drafts);
:class:`followupd.adapters.imap.Mailbox` is this session plus those operations. The same promise holds here:
no imapclient, socket or ssl exception leaves, and no password or token appears in a message.
"""

from __future__ import annotations

import logging
import re
import socket
import ssl
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import Self

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from followupd.adapters.credentials import (
    Credential,
    OAuthExchange,
    certificate_problem,
    choose_oauth_mechanism,
    insecure_tls_warning,
    oauth_unavailable,
    redact,
    resolve_credential,
    tls_context,
)
from followupd.config import AccountConfig
from followupd.errors import AuthenticationError, MailboxError
from followupd.mail.patterns import lazy_pattern

__all__ = ["TLS_MODES", "ImapSession"]

# The IMAP adapter's name: its log lines read "followupd.imap" whichever of its modules writes them.
logger = logging.getLogger("followupd.adapters.imap")

TLS_MODES = ("implicit", "starttls", "none")

# imapclient turns server text into str(bytes) in its exception messages: "b'[AUTHENTICATIONFAILED] ...'".
_BYTES_REPR = lazy_pattern(r"""^b(['"])(.*)\1$""", re.DOTALL)


def _server_text(exc: BaseException) -> str:
    """The server's words from an imapclient exception, without the ``b'...'`` wrapping."""
    text = str(exc)
    match = _BYTES_REPR.match(text)
    return match.group(2) if match else text



class ImapSession:
    """The connection half of :class:`~followupd.adapters.imap.Mailbox`: its life cycle and error translation."""

    def __init__(self, client: IMAPClient, *, host: str, port: int) -> None:
        """Wrap an already-connected client; prefer :meth:`connect`, which also handles TLS and login."""
        self._client: IMAPClient | None = client
        self._where = f"{host}:{port}"
        # Aware datetimes for INTERNALDATE instead of imapclient's default naive local time.
        client.normalise_times = False
        # (folder, read_only, uidvalidity) of the folder the server has selected, so the batches of one fetch
        # notice when the caller selected another folder in between.
        self._selected: tuple[str, bool, int] | None = None
        self._capabilities: frozenset[str] | None = None
        #: Called as ``(folder, messages read, messages to read)`` while a header fetch spans several
        #: batches (a first sync): the CLI draws a bar or logs tenths (followupd.cli.progress). None: silent.
        self.progress: Callable[[str, int, int], None] | None = None

    # -- connection ------------------------------------------------------------------------------------------

    @classmethod
    def connect(cls, *, host: str, port: int, tls: str, username: str, password: str | None = None,
                timeout: float = 60.0, ssl_context: ssl.SSLContext | None = None,
                credential: Credential | None = None, section: str = "account") -> Self:
        """Connect, secure the channel as configured, log in; every failure becomes a MailboxError.

        ``tls`` is ``"implicit"`` (TLS from the first byte, usually port 993), ``"starttls"`` (plain connect,
        then STARTTLS, RFC 3501 §6.2.1, usually port 143) or ``"none"`` (plain text: only for loopback or
        tests). A refused login raises AuthenticationError, so the CLI can point at the password instead of
        the network. ``credential`` (a password or an OAuth2 access token) replaces ``password``; ``section``
        is the config table messages point at.
        """
        if tls not in TLS_MODES:
            raise ValueError(f"tls must be one of {', '.join(TLS_MODES)}, not {tls!r}")
        if credential is None:
            if password is None:
                raise ValueError("connect() needs a password or a credential")
            credential = Credential.password(password, section=section)
        where = f"{host}:{port}"
        context = ssl_context
        if context is None and tls != "none":
            context = ssl.create_default_context()  # verifies the certificate and the host name
        if tls == "none" and host not in ("localhost", "127.0.0.1", "::1"):
            logger.warning("connecting to %s without TLS: the password travels in plain text", where)
        try:
            client = IMAPClient(host, port=port, ssl=tls == "implicit", ssl_context=context, timeout=timeout)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(certificate_problem(exc, where=where, host=host, section=section)) from exc
        except ssl.SSLError as exc:
            raise MailboxError(
                f"TLS handshake with {where} failed ({exc.reason or exc}); "
                f"does port {port} really speak implicit TLS (usually 993), or should tls be \"starttls\"?"
            ) from exc
        except socket.gaierror as exc:
            raise MailboxError(f"cannot resolve the IMAP host {host!r}: {exc.strerror}") from exc
        except TimeoutError as exc:
            raise MailboxError(f"connecting to {where} timed out after {timeout:g} s") from exc
        except ConnectionRefusedError as exc:
            raise MailboxError(f"{where} refused the connection; is the IMAP server running on that port?") \
                from exc
        except OSError as exc:
            raise MailboxError(f"cannot connect to {where}: {exc.strerror or exc}") from exc
        except IMAPClientError as exc:
            raise MailboxError(f"{where} did not greet like an IMAP server: {_server_text(exc)}") from exc

        mailbox = cls(client, host=host, port=port)
        try:
            if tls == "starttls":
                mailbox._starttls(context, host=host, section=section)
            mailbox._login(username, credential, host=host, port=port)
        except BaseException:
            mailbox._shutdown()
            raise
        logger.debug("logged in to %s as %s", where, username)
        return mailbox

    @classmethod
    def open_account(cls, account: AccountConfig, env: Mapping[str, str]) -> Self:
        """Connect and log in as the configured account: the one place credentials and TLS settings meet.

        The secret is resolved on every call (an OAuth2 access token lives an hour at most), and a disabled
        certificate check is announced on every connect, so it never becomes a forgotten default.
        """
        credential = resolve_credential(account, env)
        context = None
        if account.tls != "none":
            context = tls_context(ca_file=account.tls_ca_file, verify=account.tls_verify)
            if not account.tls_verify:
                logger.warning("%s", insecure_tls_warning("[account]", f"{account.host}:{account.port}"))
        return cls.connect(host=account.host, port=account.port, tls=account.tls, username=account.username,
                           credential=credential, ssl_context=context)

    def _starttls(self, context: ssl.SSLContext | None, *, host: str = "", section: str = "account") -> None:
        client = self._conn()
        with self._errors("checking the server's capabilities"):
            offered = {c.upper() for c in client.capabilities()}
        if b"STARTTLS" not in offered:
            raise MailboxError(
                f"{self._where} does not offer STARTTLS; use tls = \"implicit\" (usually port 993), "
                "or \"none\" only on a trusted network"
            )
        try:
            client.starttls(context)
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(certificate_problem(exc, where=self._where, host=host, section=section)) from exc
        except ssl.SSLError as exc:
            raise MailboxError(f"STARTTLS with {self._where} failed: {exc.reason or exc}") from exc
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"STARTTLS with {self._where} failed: {_server_text(exc)}") from exc

    def _login(self, username: str, credential: Credential | str, *, host: str = "", port: int = 0) -> None:
        if isinstance(credential, str):
            credential = Credential.password(credential)
        client = self._conn()
        with self._errors("checking the server's capabilities"):
            offered = {c.upper() for c in client.capabilities()}
        if credential.kind == "oauth2":
            self._oauth2_login(username, credential, offered, host=host, port=port)
            return
        password = credential.secret
        # RFC 3501 §6.2.3: LOGINDISABLED means LOGIN will be refused on this connection whatever the password
        # (typically: plain text without TLS). Saying so beats a misleading "wrong password".
        if b"LOGINDISABLED" in offered:
            raise MailboxError(
                f"{self._where} does not allow a password login on an unencrypted connection; "
                "use tls = \"starttls\" or \"implicit\""
            )
        try:
            client.login(username, password)
        except LoginError as exc:
            text = redact(_server_text(exc), password)
            # imapclient turns every failure during LOGIN into LoginError, a dropped connection included; the
            # original is the implicit context.
            if isinstance(exc.__context__, IMAPClientAbortError):
                raise MailboxError(f"the connection to {self._where} broke during login: {text}") from exc
            # RFC 5530 §3: UNAVAILABLE is a temporary server-side failure (e.g. the user database is down),
            # not a verdict on the credentials; retrying later may work.
            if "[UNAVAILABLE]" in text.upper():
                raise MailboxError(f"{self._where} cannot log anyone in right now: {text}") from exc
            raise AuthenticationError(f"{self._where} refused the login for user {username!r}: {text}") \
                from exc
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"login to {self._where} failed: {redact(_server_text(exc), password)}") from exc

    def _oauth2_login(self, username: str, credential: Credential, offered: set[bytes], *, host: str,
                      port: int) -> None:
        """AUTHENTICATE with an OAuth2 access token (RFC 7628 OAUTHBEARER, or Google's XOAUTH2).

        The mechanism comes from the server's pre-login ``AUTH=`` capabilities. A refused token is an
        AuthenticationError that points at oauth2_token_command; the token is kept out of every message.
        """
        mechanisms = [c.decode("ascii", "replace")[5:] for c in offered if c.startswith(b"AUTH=")]
        mechanism = choose_oauth_mechanism(credential.mechanism, mechanisms)
        if mechanism is None:
            raise MailboxError(oauth_unavailable(credential.mechanism, mechanisms, self._where, credential.section))
        exchange = OAuthExchange(mechanism, username=username, host=host, port=port, token=credential.secret)
        try:
            self._conn().sasl_login(mechanism, exchange)
        except LoginError as exc:
            text = exchange.redact(_server_text(exc))
            if isinstance(exc.__context__, IMAPClientAbortError):
                raise MailboxError(f"the connection to {self._where} broke during login: {text}") from exc
            if "[UNAVAILABLE]" in text.upper():
                raise MailboxError(f"{self._where} cannot log anyone in right now: {text}") from exc
            status = f", {exchange.server_status}" if exchange.server_status else ""
            raise AuthenticationError(
                f"{self._where} refused the OAuth2 access token for user {username!r} ({mechanism}{status}): "
                f"{text}; check [{credential.section}] oauth2_token_command: the token it printed is wrong, "
                "expired, for another user or lacks the mail scope") from exc
        except (IMAPClientError, OSError) as exc:
            raise MailboxError(f"login to {self._where} failed: {exchange.redact(_server_text(exc))}") from exc
        logger.debug("%s: logged in with %s", self._where, mechanism)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.logout()

    def logout(self) -> None:
        """Say LOGOUT and close the socket; safe to call twice and after the connection already broke."""
        client, self._client = self._client, None
        self._selected = None
        if client is None:
            return
        try:
            client.logout()
        except (IMAPClientError, OSError) as exc:
            logger.debug("LOGOUT from %s failed (%s); closing the socket", self._where, exc)
            with suppress(OSError):
                client.shutdown()

    def _shutdown(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with suppress(IMAPClientError, OSError):
                client.shutdown()

    def _conn(self) -> IMAPClient:
        if self._client is None:
            raise MailboxError(f"the connection to {self._where} is closed")
        return self._client

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        """Translate what imapclient and the socket raise into MailboxError, naming server and action."""
        try:
            yield
        except MailboxError:
            raise
        except IMAPClientAbortError as exc:
            # imaplib's "abort": the connection is gone (BYE, EOF, socket error). Nothing more can be sent.
            self._shutdown()
            raise MailboxError(f"the connection to {self._where} broke while {action}: {_server_text(exc)}") \
                from exc
        except IMAPClientError as exc:
            # A tagged NO or BAD. A failed SELECT/EXAMINE leaves no folder selected (RFC 3501 §6.3.1), and we
            # cannot be sure what any other failure left selected, so forget the selection.
            self._selected = None
            raise MailboxError(f"{self._where} refused {action}: {_server_text(exc)}") from exc
        except TimeoutError as exc:
            self._shutdown()
            raise MailboxError(f"{self._where} did not answer in time while {action}") from exc
        except OSError as exc:
            self._shutdown()
            raise MailboxError(f"network error with {self._where} while {action}: {exc}") from exc

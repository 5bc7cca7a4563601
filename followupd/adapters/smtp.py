"""The SMTP adapter: hands one message to the server and says exactly how far it got.

What matters for "never send twice" is not just success or failure but *where* a failure happened:
before the message body was handed over, nothing can have been delivered (safe to retry); once DATA has
started, the server may have accepted it even if we never saw its answer (never retry blindly). So the
transaction is driven step by step (MAIL, RCPT, DATA) instead of through ``sendmail``.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

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
from followupd.config import SmtpConfig
from followupd.errors import (
    SmtpError,
    SmtpLoginRefused,
    SmtpNoMechanism,
    SmtpRejected,
    SmtpTemporary,
    SmtpUncertain,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SmtpResult:
    refused: dict[str, tuple[int, str]]  # recipients the server refused while accepting the others


def server_words(code: int, message: bytes | str) -> str:
    """A server reply as one line, code first, for messages and reports."""
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def login(client: smtplib.SMTP, config: SmtpConfig, credential: Credential) -> None:
    """AUTH with the password, or with the OAuth2 token (RFC 7628 OAUTHBEARER / XOAUTH2, RFC 4954 AUTH).

    One login for sending and for ``followupd doctor``, so doctor proves the login the sender will use. Raises
    SmtpLoginRefused when the server refuses (its message says what to check, with the secret masked) and
    SmtpNoMechanism when the server offers no mechanism for the token."""
    where = f"{config.host}:{config.port}"
    if credential.kind == "password":
        try:
            client.login(config.username, credential.secret)
        except smtplib.SMTPAuthenticationError as exc:
            reply = server_words(exc.smtp_code, exc.smtp_error)
            raise SmtpLoginRefused(f"SMTP server {where} refused the login for {config.username}: "
                                   f"{redact(reply, credential.secret)}; check [smtp] username and password",
                                   code=exc.smtp_code, reply=reply) from exc
        return
    offered = client.esmtp_features.get("auth", "").split()
    mechanism = choose_oauth_mechanism(credential.mechanism, offered)
    if mechanism is None:
        raise SmtpNoMechanism(oauth_unavailable(credential.mechanism, offered, where, credential.section), code=504)
    exchange = OAuthExchange(mechanism, username=config.username, host=config.host, port=config.port,
                             token=credential.secret)
    try:
        client.auth(mechanism, exchange, initial_response_ok=True)
    except smtplib.SMTPAuthenticationError as exc:
        status = f", {exchange.server_status}" if exchange.server_status else ""
        reply = server_words(exc.smtp_code, exc.smtp_error)
        raise SmtpLoginRefused(
            f"SMTP server {where} refused the OAuth2 access token for {config.username} ({mechanism}{status}): "
            f"{exchange.redact(reply)}; check [{credential.section}] oauth2_token_command: the token it printed "
            "is wrong, expired, for another user or lacks the SMTP scope", code=exc.smtp_code, reply=reply) from exc


class SmtpSender:
    @classmethod
    def for_config(cls, config: SmtpConfig, env: Mapping[str, str]) -> SmtpSender:
        """A sender for one send; the secret is resolved each time, like the IMAP one."""
        return cls(config, resolve_credential(config, env))

    def __init__(self, config: SmtpConfig, password: str | Credential, *, timeout: float = 60.0,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        """``password``: a password, or a Credential (password or OAuth2 token, from followupd.adapters.credentials)."""
        self.config = config
        self._credential = (password if isinstance(password, Credential)
                            else Credential.password(password, section=config.section))
        self.timeout = timeout
        self.ssl_context = ssl_context or tls_context(ca_file=config.tls_ca_file, verify=config.tls_verify,
                                                      section="smtp")

    def __repr__(self) -> str:
        return f"SmtpSender({self.where}, {self.config.username!r})"

    @property
    def where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        if not cfg.tls_verify and cfg.tls != "none":
            logger.warning("%s", insecure_tls_warning("[smtp]", self.where))
        try:
            client: smtplib.SMTP
            if cfg.tls == "implicit":
                client = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=self.timeout, context=self.ssl_context)
            else:
                client = smtplib.SMTP(cfg.host, cfg.port, timeout=self.timeout)
            client.ehlo_or_helo_if_needed()
            if cfg.tls == "starttls":
                client.starttls(context=self.ssl_context)
                client.ehlo()
            if cfg.username and client.has_extn("auth"):
                login(client, cfg, self._credential)
            elif cfg.username and cfg.tls != "none":
                logger.warning("%s offers no AUTH; sending without logging in", self.where)
        except ssl.SSLCertVerificationError as exc:
            raise SmtpTemporary(certificate_problem(exc, where=self.where, host=cfg.host, section="smtp")) from exc
        except (TimeoutError, smtplib.SMTPException, OSError, ssl.SSLError) as exc:
            raise SmtpTemporary(f"cannot talk to SMTP server {self.where}: {self._redact(str(exc))}") from exc
        return client

    def _redact(self, text: str) -> str:
        return redact(text, self._credential.secret)

    def send(self, message: bytes, *, sender: str, recipients: Sequence[str],
             before_data: Callable[[], None] | None = None) -> SmtpResult:
        """Deliver ``message`` to ``recipients``; raise SmtpRejected / SmtpTemporary / SmtpUncertain.

        ``before_data`` runs after the envelope was accepted and before the message is handed over: the caller
        records that point, because a crash before it provably delivered nothing."""
        if not recipients:
            raise SmtpRejected("the message has no recipients", code=554)
        client = self._connect()
        try:
            refused = self._envelope(client, sender, recipients)
            if before_data is not None:
                before_data()
            self._data(client, message)
            return SmtpResult(refused=refused)
        finally:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _envelope(self, client: smtplib.SMTP, sender: str, recipients: Sequence[str]) -> dict[str, tuple[int, str]]:
        """MAIL and RCPT: nothing can be delivered yet, so every failure here is safe to retry or report."""
        try:
            code, reply = client.mail(sender)
            if code != 250:
                self._refuse("MAIL FROM", code, reply)
            refused: dict[str, tuple[int, str]] = {}
            for rcpt in recipients:
                code, reply = client.rcpt(rcpt)
                if code not in (250, 251):
                    refused[rcpt] = (code, server_words(code, reply))
        except SmtpError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpTemporary(f"SMTP conversation with {self.where} failed before the message: {exc}") from exc
        if len(refused) == len(recipients):
            first_code, first_words = next(iter(refused.values()))
            if all(400 <= c < 500 for c, _ in refused.values()):
                raise SmtpTemporary(f"SMTP server {self.where} deferred every recipient: {first_words}")
            raise SmtpRejected(f"SMTP server {self.where} refused every recipient: {first_words}", code=first_code)
        return refused

    def _data(self, client: smtplib.SMTP, message: bytes) -> None:
        """DATA: from here on a lost connection means "maybe delivered", never "safe to retry"."""
        try:
            code, reply = client.data(message)
        except smtplib.SMTPDataError as exc:
            if 400 <= exc.smtp_code < 500:
                raise SmtpTemporary(f"SMTP server {self.where} deferred the message: "
                                    f"{server_words(exc.smtp_code, exc.smtp_error)}") from exc
            raise SmtpRejected(f"SMTP server {self.where} refused the message: "
                               f"{server_words(exc.smtp_code, exc.smtp_error)}", code=exc.smtp_code) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SmtpUncertain(f"the connection to {self.where} failed while sending the message ({exc}); "
                                "it may or may not have been accepted") from exc
        if code != 250:
            self._refuse("DATA", code, reply)

    def _refuse(self, step: str, code: int, reply: bytes) -> None:
        words = server_words(code, reply)
        if 400 <= code < 500:
            raise SmtpTemporary(f"SMTP server {self.where} deferred {step}: {words}")
        raise SmtpRejected(f"SMTP server {self.where} refused {step}: {words}", code=code)

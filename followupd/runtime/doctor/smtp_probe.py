"""The ``smtp`` check: connect, TLS, login, MAIL/RCPT for the tracking address, RSET, QUIT; never DATA.

Why a session of its own rather than ``SmtpSender``: the sender delivers, and doctor must never send; so the
session stops before DATA and reports how far it got. The login itself is the sender's
(:func:`followupd.adapters.smtp.login`), so doctor proves the login that sending will use.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from typing import Any

from followupd.adapters.credentials import Credential, certificate_problem, redact, tls_context
from followupd.adapters.smtp import login, server_words
from followupd.config import SmtpConfig
from followupd.errors import ConfigError, SmtpLoginRefused, SmtpNoMechanism
from followupd.runtime.doctor.network import describe_tls
from followupd.runtime.doctor.report import Check, Status


@dataclass(frozen=True)
class SmtpProbe:
    """How far an SMTP session got (connect, TLS, login, then MAIL/RCPT for the tracking address, RSET, QUIT)."""

    where: str
    done: tuple[str, ...]           # what worked, in order, for the report line
    error: str | None = None        # the first failure
    advice: str = ""
    tls: Check | None = None        # the TLS summary when the session used TLS
    rcpt: tuple[int, str] | None = None   # the server's answer to RCPT TO:<tracking address>
    logged_in: bool = False



def probe_smtp(config: SmtpConfig, credential: Credential | None, *, mail_from: str, rcpt: str | None,
               timeout: float) -> SmtpProbe:
    """One SMTP session that stops before DATA: nothing can be delivered by it."""
    where = f"{config.host}:{config.port}"
    done: list[str] = []
    secret = credential.secret if credential is not None else ""

    def stop(error: str, advice: str = "", **more: Any) -> SmtpProbe:
        return SmtpProbe(where, tuple(done), redact(error, secret) if secret else error, advice, **more)

    try:
        context = tls_context(ca_file=config.tls_ca_file, verify=config.tls_verify, section="smtp")
    except ConfigError as exc:
        return stop(str(exc))
    try:
        client: smtplib.SMTP
        if config.tls == "implicit":
            client = smtplib.SMTP_SSL(config.host, config.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(config.host, config.port, timeout=timeout)
    except ssl.SSLCertVerificationError as exc:
        return stop(certificate_problem(exc, where=where, host=config.host, section="smtp"))
    except (ssl.SSLError, smtplib.SMTPException, OSError) as exc:
        return stop(f"cannot connect to SMTP server {where}: {exc}",
                    "check [smtp] host, port (465 implicit TLS, 587 starttls) and tls")
    done.append("connected")
    tls: Check | None = None
    try:
        client.ehlo_or_helo_if_needed()
        if config.tls == "starttls":
            if not client.has_extn("starttls"):
                return stop(f"SMTP server {where} does not offer STARTTLS", 'use tls = "implicit" (port 465)')
            try:
                client.starttls(context=context)
            except ssl.SSLCertVerificationError as exc:
                return stop(certificate_problem(exc, where=where, host=config.host, section="smtp"))
            client.ehlo()
        if isinstance(client.sock, ssl.SSLSocket):
            tls = describe_tls(client.sock, verify=config.tls_verify, section="smtp", name="smtp")
            done.append(tls.detail)
        logged_in = False
        if not client.has_extn("auth"):
            done.append("no AUTH offered (not logging in)")
        elif credential is None:
            return stop("login not tried: the secret could not be resolved (see secrets)", tls=tls)
        else:
            login(client, config, credential)
            logged_in = True
            done.append(f"logged in as {config.username}")
        answer: tuple[int, str] | None = None
        if rcpt is not None:
            code, reply = client.mail(mail_from)
            if code == 250:
                code, reply = client.rcpt(rcpt)
                answer = (code, server_words(code, reply))
            client.rset()
        client.quit()
        done.append("QUIT without sending")
        return SmtpProbe(where, tuple(done), tls=tls, rcpt=answer, logged_in=logged_in)
    except SmtpLoginRefused as exc:
        return stop(f"SMTP server {where} refused the login for {config.username}: {exc.reply}",
                    f"check the [{config.section}] secret and [smtp] username", tls=tls)
    except SmtpNoMechanism as exc:
        return stop(str(exc), tls=tls)
    except ssl.SSLError as exc:
        return stop(f"TLS with SMTP server {where} failed: {exc.reason or exc}", tls=tls)
    except (smtplib.SMTPException, OSError) as exc:
        return stop(f"SMTP conversation with {where} failed: {exc}", tls=tls)
    finally:
        client.close()




def check_smtp(config: SmtpConfig | None, probe: SmtpProbe | None) -> Check:
    if config is None or probe is None:
        return Check("smtp", "skip", "no [smtp] section: followupd only writes drafts, it never sends")
    if probe.error is not None:
        status: Status = "skip" if probe.error.startswith("login not tried") else "fail"
        progress = f" (got as far as: {'; '.join(probe.done)})" if probe.done else ""
        return Check("smtp", status, f"{probe.where}: {probe.error}{progress}", probe.advice)
    detail = f"{probe.where}: {'; '.join(probe.done)}"
    if probe.tls is not None and probe.tls.status == "warn":
        return Check("smtp", "warn", detail, probe.tls.advice)
    if not probe.logged_in and config.tls != "none":
        return Check("smtp", "warn", detail, "the server offers no AUTH: followupd would send without logging in; "
                                             "is this the submission port (465 or 587)?")
    return Check("smtp", "pass", detail)

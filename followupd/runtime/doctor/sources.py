"""The ``config`` and ``secrets`` checks: the file loads, and every secret source gives a secret.

Nothing connects here: a secret that cannot be read is reported apart from a server that refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from followupd.adapters.credentials import SECRET_SOURCES, Credential, resolve_credential
from followupd.config import AccountConfig, Config, SmtpConfig, config_warnings
from followupd.errors import ConfigError
from followupd.runtime.doctor.report import Check


def config_passed(path: Path, accounts: int) -> Check:
    """The file loaded; its non-fatal problems (file mode, literal secrets, tls_verify = false) are a warning."""
    detail = f"{path} is valid ({accounts} account{'s' if accounts != 1 else ''})"
    warnings = config_warnings(path)
    if warnings:
        return Check("config", "warn", detail, "\n".join(warnings))
    return Check("config", "pass", detail)


def config_failed(error: ConfigError) -> Check:
    return Check("config", "fail", str(error),
                 "fix the file; `followupd config check --offline` validates it without connecting")


def describe_source(source: AccountConfig | SmtpConfig, section: str) -> str:
    """Where a section's secret comes from, without the secret: for the report line."""
    key = next((name for name in SECRET_SOURCES if getattr(source, name, None) is not None), None)
    if key == "password_env":
        return f"[{section}] password from environment variable {source.password_env}"
    if key == "password_command":
        return f"[{section}] password from password_command"
    if key == "password_keyring":
        return f"[{section}] password from the keyring (service {source.password_keyring!r}, user {source.username!r})"
    if key == "oauth2_token_command":
        return f"[{section}] OAuth2 access token from oauth2_token_command"
    if key == "password":
        return f"[{section}] literal password in the config file"
    return f"[{section}] no secret source"


@dataclass(frozen=True)
class Secrets:
    """The resolved credentials (None: could not be resolved) and the check line about them."""

    check: Check
    imap: Credential | None
    smtp: Credential | None

    def values(self) -> tuple[str, ...]:
        return tuple(c.secret for c in (self.imap, self.smtp) if c is not None)


def check_secrets(config: Config, env: Mapping[str, str]) -> Secrets:
    """Resolve the IMAP secret, and the SMTP one when [smtp] has a source of its own, without connecting."""
    parts: list[str] = []
    failures: list[str] = []
    imap = _resolve(config.account, env, "account", parts, failures)
    smtp: Credential | None = None
    if config.smtp is not None:
        if config.smtp.section == "smtp":
            smtp = _resolve(config.smtp, env, "smtp", parts, failures)
        else:
            smtp = imap
            parts.append("[smtp] uses the [account] secret")
    if failures:
        return Secrets(Check("secrets", "fail", "; ".join(failures),
                             "the message names the key to fix; the secret itself is never shown"), imap, smtp)
    return Secrets(Check("secrets", "pass", "; ".join(parts)), imap, smtp)


def _resolve(source: AccountConfig | SmtpConfig, env: Mapping[str, str], section: str, parts: list[str],
             failures: list[str]) -> Credential | None:
    try:
        credential = resolve_credential(source, env)
    except ConfigError as exc:   # SecretError is a ConfigError
        failures.append(str(exc))
        return None
    parts.append(describe_source(source, section))
    return credential

"""Defence in depth for secrets in logs: every secret followupd resolves is masked in every log line.

Messages are written not to contain secrets in the first place; this filter catches what a library adds on its
own (imapclient's protocol log at DEBUG shows the AUTHENTICATE line, a server may echo a token back in an error).
Secrets are registered when they are resolved (password, token), in their plain and base64 forms.
"""

from __future__ import annotations

import base64
import logging
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
MASK = "***"


def register_secret(value: str) -> None:
    """Mask ``value`` (and its base64 form) in every log record from now on; short values are ignored (a
    3-character "secret" would mask ordinary words)."""
    if len(value) < 4:
        return
    forms = {value, base64.b64encode(value.encode()).decode()}
    with _lock:
        _secrets.update(forms)


def redact(text: str) -> str:
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once, masks secrets in it, and freezes the result."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _secrets:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to the handler's own error reporting
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_text is None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True

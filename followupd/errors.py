"""Every error followupd raises on purpose, so the CLI can turn each into a clean message and an exit code.

Hierarchy::

    FollowupdError                 base; never raised directly
    ├── ConfigError                the config file is missing, unreadable or invalid   -> exit 2
    │   └── SecretError            password_command / password_env could not give a secret
    ├── TemplateError              a template does not parse or render (names file and line)
    └── OperationalError           the outside world failed us                         -> exit 3
        ├── MailboxError           IMAP: connect, TLS, login, folder or protocol trouble
        │   └── AuthenticationError   the server refused the credentials
        ├── StoreError             the database could not be opened or written
        └── LockError              another followupd already runs for this account

Library exceptions (imapclient, socket, ssl, sqlalchemy) are translated into these at the adapter boundary with
``raise ... from exc``, so nothing above the adapters needs to know which library is underneath. Anything else
that escapes is a bug, and only then does the CLI show a traceback (exit 4).
"""

from __future__ import annotations


class FollowupdError(Exception):
    """Base of every deliberate followupd error; ``str(err)`` is a message a user can act on."""

    exit_code = 3


class ConfigError(FollowupdError):
    """The configuration is invalid; the message names the key, the bad value and what is allowed."""

    exit_code = 2

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class SecretError(ConfigError):
    """A password or token source (command, environment variable) gave nothing usable."""


class TemplateError(FollowupdError):
    """A follow-up template failed to parse or render; the message names the file and the line."""

    exit_code = 2

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class OperationalError(FollowupdError):
    """Something outside followupd failed (network, server, disk); retrying later may help."""

    exit_code = 3


class MailboxError(OperationalError):
    """The IMAP server could not be reached or did not do what we asked."""


class AuthenticationError(MailboxError):
    """The IMAP server refused the login; the password source or username is wrong."""


class StoreError(OperationalError):
    """The state database could not be opened, migrated or written."""


class LockError(OperationalError):
    """Another followupd instance already holds this account's lock."""


class LeaseHeldError(LockError):
    """Another followupd process, maybe on another host, holds this account's lease (PostgreSQL scale-out)."""


class LeaseLostError(OperationalError):
    """This process's lease on the account ended during a cycle: it stops before touching the mailbox."""

"""Every exception followupd defines, in one tree, and the one table that maps each to the CLI's exit code.

Hierarchy (exit code on the right; a class without one takes its parent's)::

    Exception
    ├── FollowupdError                base of every deliberate error; str(err) is a message a user can act on
    │   ├── ConfigError               the config file is missing, unreadable or invalid              -> 2
    │   │   └── SecretError           password_command / password_env / keyring gave no secret
    │   ├── TemplateError             a template does not parse or render (names file and line)       -> 2
    │   └── OperationalError          the outside world failed us; retrying later may help           -> 3
    │       ├── MailboxError          IMAP: connect, TLS, login, folder or protocol trouble
    │       │   └── AuthenticationError   the IMAP server refused the credentials
    │       ├── SmtpError             SMTP: how far a message got decides whether a retry is safe
    │       │   ├── SmtpRejected      a permanent refusal (5xx): sending again fails the same way
    │       │   │   ├── SmtpLoginRefused  the server refused the login; keeps its reply for doctor
    │       │   │   └── SmtpNoMechanism   no SASL mechanism the OAuth2 token can use
    │       │   ├── SmtpTemporary     nothing was handed over (4xx, or no connection): safe to retry
    │       │   └── SmtpUncertain     the connection failed during DATA: the message may have arrived
    │       ├── StoreError            the database could not be opened, migrated or written
    │       ├── LockError             another followupd already runs for this account
    │       │   └── LeaseHeldError    ... maybe on another host: it holds the account's PostgreSQL lease
    │       └── LeaseLostError        this process's lease ended during a cycle; it stops before the mailbox
    ├── RequestRefused                a user request (approve, skip, stop...) that no longer applies;  -> 4
    │                                 the engine records its message as the request's result
    └── ValueError
        ├── RegionError               a holiday region code the holidays package does not know         -> 4
        │                             (config reports it as a ConfigError naming the key)
        └── FetchSyntaxError          one message's IMAP FETCH answer breaks RFC 3501's grammar        -> 4
                                      (the IMAP adapter logs it and goes on with the other messages)

    anything else                     a bug: the CLI shows the traceback                              -> 4

The last three are caught where they are raised and never reach the CLI; if one ever does, it is a bug, and
the table says so. Library exceptions (imapclient, smtplib, socket, ssl, sqlalchemy) are translated into the
ones above at the adapter boundary with ``raise ... from exc``, so nothing above the adapters needs to know
which library is underneath. :func:`exit_code_for` is the only place that decides an exit code.
"""

from __future__ import annotations

from collections.abc import Mapping

EXIT_CONFIG = 2      # the user's files are wrong: fix them and run again
EXIT_OPERATION = 3   # a server, the network or the disk failed: try again later
EXIT_BUG = 4         # followupd itself went wrong: please report it


class FollowupdError(Exception):
    """Base of every deliberate followupd error; ``str(err)`` is a message a user can act on."""


class ConfigError(FollowupdError):
    """The configuration is invalid; the message names the key, the bad value and what is allowed."""

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key


class SecretError(ConfigError):
    """A password or token source (command, environment variable) gave nothing usable."""


class TemplateError(FollowupdError):
    """A follow-up template failed to parse or render; the message names the file and the line."""

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.line = line


class OperationalError(FollowupdError):
    """Something outside followupd failed (network, server, disk); retrying later may help."""


class MailboxError(OperationalError):
    """The IMAP server could not be reached or did not do what we asked."""


class AuthenticationError(MailboxError):
    """The IMAP server refused the login; the password source or username is wrong."""


class SmtpError(OperationalError):
    """Base of the SMTP outcomes below; the message carries the server's own words."""


class SmtpRejected(SmtpError):
    """A permanent refusal (5xx): sending again would fail the same way."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


class SmtpLoginRefused(SmtpRejected):
    """The server refused the login (password or OAuth2 token); ``reply`` is its answer, code and words as it
    sent them (not redacted: the message is)."""

    def __init__(self, message: str, *, code: int, reply: str) -> None:
        super().__init__(message, code=code)
        self.reply = reply


class SmtpNoMechanism(SmtpRejected):
    """The server offers no SASL mechanism the OAuth2 token can use: logging in cannot work, whatever the token."""


class SmtpTemporary(SmtpError):
    """Nothing was handed over (4xx, or the connection failed before DATA): safe to retry later."""


class SmtpUncertain(SmtpError):
    """The connection failed during DATA: the server may or may not have accepted the message."""


class StoreError(OperationalError):
    """The state database could not be opened, migrated or written."""


class LockError(OperationalError):
    """Another followupd instance already holds this account's lock."""


class LeaseHeldError(LockError):
    """Another followupd process, maybe on another host, holds this account's lease (PostgreSQL scale-out)."""


class LeaseLostError(OperationalError):
    """This process's lease on the account ended during a cycle: it stops before touching the mailbox."""


class RequestRefused(Exception):
    """The request cannot be applied (wrong state, sending off); its message is shown to the user."""


class RegionError(ValueError):
    """A region code the holidays package does not know; the message says what it does know."""


class FetchSyntaxError(ValueError):
    """One message's FETCH answer does not follow RFC 3501's grammar; ``seq`` names it when it was readable."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq


# The one table of exit codes; the most specific entry along an exception's class hierarchy wins.
EXIT_CODES: Mapping[type[BaseException], int] = {
    FollowupdError: EXIT_OPERATION,
    ConfigError: EXIT_CONFIG,
    TemplateError: EXIT_CONFIG,
    OperationalError: EXIT_OPERATION,
    RequestRefused: EXIT_BUG,     # caught by the engine; escaping it would be a bug
    RegionError: EXIT_BUG,        # caught by config
    FetchSyntaxError: EXIT_BUG,   # caught by the IMAP adapter
}


def exit_code_for(error: BaseException | type[BaseException]) -> int:
    """The exit code for an error (or an error class): 2 config, 3 operation, 4 bug (anything not deliberate)."""
    kind = error if isinstance(error, type) else type(error)
    return next((EXIT_CODES[cls] for cls in kind.__mro__ if cls in EXIT_CODES), EXIT_BUG)

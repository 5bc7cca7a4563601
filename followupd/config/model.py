"""The validated configuration: frozen dataclasses, built once by followupd.config.loading and read everywhere.

Sections the pure core reads are its own settings types (CadenceSettings, ToneSettings, ReplySettings), so the
core never imports this package; the rest are defined here. ``ReplySettings`` alone is built on first use
(:attr:`Config.replies`, from the validated :class:`RepliesConfig`): it lives in planning.interpret, whose import
brings every mail reader (about a third of `followupd status`'s start-up), and only a cycle reads it. The
login/TLS block is one class, :class:`LoginConfig`, that [account] and [smtp] both extend, so its fields are
written once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from followupd.adapters.credentials import OAuthMechanism
from followupd.compose.tone import ToneSettings
from followupd.mail.ask_settings import AskSettings
from followupd.mail.intent_phrases import PhraseSet
from followupd.planning.cadence import CadenceSettings, Gap
from followupd.planning.checkins import ActionSettings

if TYPE_CHECKING:
    from followupd.planning.interpret import ReplySettings

TlsMode = Literal["implicit", "starttls", "none"]
TLS_MODES: tuple[TlsMode, ...] = ("implicit", "starttls", "none")

@dataclass(frozen=True)
class LoginConfig:
    """One login to one mail server, written once for [account] (IMAP) and [smtp]: where, how encrypted, as whom.

    Exactly one secret source is set (see adapters.credentials); ``password`` is kept out of ``repr`` and logs.
    ``tls_ca_file``/``tls_verify``: which server certificate is accepted."""

    host: str
    port: int
    tls: TlsMode
    username: str
    password_command: str | None
    password_env: str | None
    password: str | None = field(default=None, repr=False)
    password_keyring: str | None = None
    oauth2_token_command: str | None = None
    oauth2_mechanism: OAuthMechanism = "auto"
    tls_ca_file: Path | None = None
    tls_verify: bool = True


@dataclass(frozen=True)
class AccountConfig(LoginConfig):
    """The IMAP account: its login, and whether to wait for mail with IDLE."""

    idle: bool = True  # push via IMAP IDLE where the server offers it; false: poll only


@dataclass(frozen=True)
class IdentityConfig:
    """Who the user is: their own addresses (lower-case) tell "Bob replied" apart from "I followed up"."""

    name: str
    addresses: tuple[str, ...]
    timezone: ZoneInfo
    signature: str


AutoMode = Literal["off", "suggest", "track"]
AUTO_MODES: tuple[AutoMode, ...] = ("off", "suggest", "track")


@dataclass(frozen=True)
class TrackingConfig:
    """The address the user BCCs to ask for tracking (lower-case, without any ``-5d`` style suffix), and what
    happens to sent mail without it (issue 14): ``auto`` "off" (nothing), "suggest" (a suggestion the user
    tracks or ignores) or "track" (tracked at once), only for mail sent in the last ``suggest_days`` (a
    suggestion expires after as long), never for recipients matching ``auto_exclude``
    (followupd.planning.awaiting)."""

    address: str
    expect_all: bool = False  # every To recipient must answer (the "-all" suffix, as a default for all mail)
    auto: AutoMode = "off"
    suggest_days: int = 14
    auto_exclude: tuple[str, ...] = ()


@dataclass(frozen=True)
class OwedConfig:
    """Replies the user owes (issue 14): off by default; a message that asks the user something is listed once
    ``after`` (the [cadence] grammar, "2bd") has passed without an answer."""

    enabled: bool = False
    after: Gap = field(default_factory=lambda: Gap(2, "bd"))


@dataclass(frozen=True)
class FoldersConfig:
    """Folder names; ``None`` means "find it via SPECIAL-USE" (watch: INBOX plus Archive where it exists)."""

    sent: str | None
    drafts: str | None
    watch: tuple[str, ...] | None


@dataclass(frozen=True)
class DatabaseConfig:
    """Any SQLAlchemy URL. ``repr`` hides a password in the URL, since configs get pasted into bug reports."""

    url: str
    schema: str | None = None   # PostgreSQL schema of this account ([[accounts]]); None: the default one
    migrate: Literal["auto", "refuse"] = "auto"
    lease_period: timedelta = timedelta(seconds=60)

    @property
    def is_postgres(self) -> bool:
        """Whether several processes can share it (leases) and accounts get schemas of their own."""
        parts = url_parts(self.url)
        return parts is not None and parts[0] == "postgresql"

    def __repr__(self) -> str:
        return (f"DatabaseConfig(url={redact_url(self.url)!r}, schema={self.schema!r}, migrate={self.migrate!r}, "
                f"lease_period={self.lease_period!r})")


@dataclass(frozen=True)
class TemplatesConfig:
    """``dir``: the user's templates, shadowing the built-in ones file by file (``None``: built-in only).

    ``disable``: built-in variants (keys or shell patterns) left out; ``lang``: a language code or ``"auto"``.
    """

    dir: Path | None
    disable: tuple[str, ...] = ()
    lang: str = "en"


@dataclass(frozen=True)
class SmtpConfig(LoginConfig):
    """The outgoing server. Without its own secret source it uses the [account] one (same login, ``section`` then
    says "account"); its TLS trust settings are its own, never inherited."""

    section: str = "smtp"


SendingMode = Literal["review", "approve", "auto"]
SENDING_MODES: tuple[SendingMode, ...] = ("review", "approve", "auto")


@dataclass(frozen=True)
class SendingConfig:
    """Whether followupd may send: never on its own ("review"), what the user approves, or after a window."""

    mode: SendingMode = "review"
    review_window: timedelta = timedelta(hours=4)
    max_per_hour: int = 10
    max_per_day: int = 40
    file_sent_copy: Literal["auto"] | bool = "auto"


@dataclass(frozen=True)
class DigestConfig:
    """The weekly digest in INBOX: whether, and from which weekday (0 = Monday) and local time on each week."""

    enabled: bool = True
    weekday: int = 0
    at: time = time(8, 0)


@dataclass(frozen=True)
class RepliesConfig:
    """[replies] as validated when the config loads; None: the setting was not written (ReplySettings' default)."""

    ooo_grace: Gap | None = None
    ooo_default_postpone: timedelta | None = None
    ooo_horizon_days: int | None = None
    holding_default: timedelta | None = None
    match_domain: bool | None = None
    phrases: Mapping[str, PhraseSet] = field(default_factory=dict)
    asks: AskSettings = field(default_factory=AskSettings)  # [replies.<lang>] asking / not_asking (issue 14)

    def settings(self) -> ReplySettings:
        """The core's settings type, defaults filled in (imports planning.interpret: see the module docstring)."""
        from followupd.planning.interpret import ReplySettings

        defaults = ReplySettings()
        return ReplySettings(
            ooo_grace=defaults.ooo_grace if self.ooo_grace is None else self.ooo_grace,
            ooo_default_postpone=defaults.ooo_default_postpone if self.ooo_default_postpone is None
            else self.ooo_default_postpone,
            ooo_horizon_days=defaults.ooo_horizon_days if self.ooo_horizon_days is None else self.ooo_horizon_days,
            holding_default=defaults.holding_default if self.holding_default is None else self.holding_default,
            match_domain=defaults.match_domain if self.match_domain is None else self.match_domain,
            phrases=self.phrases,
            asks=self.asks,
        )


@dataclass(frozen=True)
class Config:
    """The whole validated configuration; ``path`` is its file (for messages and relative paths)."""

    account: AccountConfig
    identity: IdentityConfig
    tracking: TrackingConfig
    folders: FoldersConfig
    database: DatabaseConfig
    cadence: CadenceSettings
    templates: TemplatesConfig
    path: Path
    smtp: SmtpConfig | None = None
    sending: SendingConfig = field(default_factory=SendingConfig)
    tone: ToneSettings = field(default_factory=ToneSettings)
    replies_config: RepliesConfig = field(default_factory=RepliesConfig)
    actions: ActionSettings = field(default_factory=ActionSettings)
    digest: DigestConfig = field(default_factory=DigestConfig)
    owed: OwedConfig = field(default_factory=OwedConfig)
    name: str = "default"  # the account's name: [[accounts]] name, else its username

    @cached_property
    def replies(self) -> ReplySettings:
        """[replies] as the core reads it, built on first use (a cycle; never `status` or `--help`)."""
        return self.replies_config.settings()

    @property
    def account_key(self) -> str:
        """The login this config acts for; one running followupd per key (lock, lease)."""
        return f"{self.account.username}@{self.account.host}"


# ----------------------------------------------------------------------------------------------------
# Database URLs, read without importing SQLAlchemy
# ----------------------------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``; other URLs are unchanged."""
    return re.sub(r"^((?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^/@:]*):[^/@]*@", r"\1:***@", url)


def url_parts(url: str) -> tuple[str, str] | None:
    """(backend, database) of an SQLAlchemy URL without importing SQLAlchemy here; None if it does not parse.

    The one place followupd tells SQLite from PostgreSQL by URL (per-account files or schemas, leases)."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9]*)(?:\+[A-Za-z0-9_]+)?://(.*)$", url)
    if not match:
        return None
    backend, rest = match.group(1).lower(), match.group(2)
    if backend == "sqlite":
        return backend, rest.removeprefix("/")
    return backend, rest.rsplit("/", 1)[-1].split("?", 1)[0]

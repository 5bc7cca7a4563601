"""One TOML file -> frozen, validated dataclasses; every mistake is reported at start-up, naming its key.

Why validate everything up front: a daemon that discovers a typo at 3 a.m., on the first follow-up it
tries to send, has already failed its user. So ``parse_config`` checks every key once, collects *all*
problems, and raises a single :class:`~followupd.errors.ConfigError` whose message lists them, one per line,
each as ``FILE: [section] key = VALUE ...; what is allowed``. Nothing else in followupd re-checks the config.

The schema is a public contract (``config.example.toml`` documents it). It is declared in ``_SCHEMA`` -- one
table of allowed keys and their TOML types per section -- so adding a section (``[smtp]``, ``[sending]``)
means adding an entry there and a small ``_build_*`` function, not touching the checking machinery.

Secrets: a literal ``password`` is accepted but never shown (not in ``repr``, not in error messages);
database URLs are shown with their password redacted. ``resolve_password`` (followupd.adapters.credentials, re-exported
here) runs ``password_command`` only when asked, so loading the config has no side effects beyond reading files.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from followupd.adapters.credentials import (
    OAUTH_MECHANISMS,
    SECRET_SOURCES,
    OAuthMechanism,
    ca_file_problem,
    insecure_tls_warning,
)
from followupd.adapters.credentials import resolve_password as resolve_password
from followupd.compose.tone import ToneAdjustments, ToneSettings, all_builtin_phrases, is_builtin_phrase
from followupd.errors import ConfigError
from followupd.mail.intent import PhraseSet
from followupd.planning.cadence import PRESETS, CadenceSettings, Gap, gap_minimum, parse_duration, parse_gap
from followupd.planning.holiday_calendar import Holidays, RegionError, normalise_region

TlsMode = Literal["implicit", "starttls", "none"]

TLS_MODES: tuple[TlsMode, ...] = ("implicit", "starttls", "none")
MIN_GAP = timedelta(days=2)
MAX_GAPS = 12
MIN_POLL_INTERVAL = timedelta(minutes=1)
MIN_DAYS_BETWEEN_NUDGES = 2
CONFIG_ENV_VAR = "FOLLOWUPD_CONFIG"


# ----------------------------------------------------------------------------------------------------
# The validated configuration
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AccountConfig:
    """The IMAP account. Exactly one secret source is set (see adapters.credentials); ``password`` is kept out of
    ``repr`` and logs. ``tls_ca_file``/``tls_verify``: which server certificate is accepted."""

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
    idle: bool = True  # push via IMAP IDLE where the server offers it; false: poll only


@dataclass(frozen=True)
class IdentityConfig:
    """Who the user is: their own addresses (lower-case) tell "Bob replied" apart from "I followed up"."""

    name: str
    addresses: tuple[str, ...]
    timezone: ZoneInfo
    signature: str


@dataclass(frozen=True)
class TrackingConfig:
    """The address the user BCCs to ask for tracking (lower-case, without any ``-5d`` style suffix)."""

    address: str
    expect_all: bool = False  # every To recipient must answer (the "-all" suffix, as a default for all mail)


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
class SmtpConfig:
    """The outgoing server. Without its own secret source it uses the [account] one (same login, ``section`` then
    says "account"); its TLS trust settings are its own, never inherited."""

    host: str
    port: int
    tls: TlsMode
    username: str
    password_command: str | None
    password_env: str | None
    password: str | None = field(default=None, repr=False)
    section: str = "smtp"
    password_keyring: str | None = None
    oauth2_token_command: str | None = None
    oauth2_mechanism: OAuthMechanism = "auto"
    tls_ca_file: Path | None = None
    tls_verify: bool = True


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
class RepliesConfig:
    """How replies and automatic answers move a thread: out-of-office postponement, holding replies, declines.

    ``phrases`` are per-language additions/removals over the built-in lists in followupd.mail.intent."""

    ooo_grace: Gap = field(default_factory=lambda: Gap(1, "bd"))
    ooo_default_postpone: timedelta = timedelta(weeks=1)
    ooo_horizon_days: int = 90
    holding_default: timedelta = timedelta(weeks=1)
    match_domain: bool = False
    phrases: Mapping[str, PhraseSet] = field(default_factory=dict)


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
    replies: RepliesConfig = field(default_factory=lambda: RepliesConfig())
    name: str = "default"  # the account's name: [[accounts]] name, else its username

    @property
    def account_key(self) -> str:
        """The login this config acts for; one running followupd per key (lock, lease)."""
        return f"{self.account.username}@{self.account.host}"


# ----------------------------------------------------------------------------------------------------
# Where the config and the data live (XDG base directories)
# ----------------------------------------------------------------------------------------------------


def _home(env: Mapping[str, str]) -> Path:
    """``$HOME`` from the injected environment, so tests never depend on the real home directory."""
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def _expand_user(text: str, env: Mapping[str, str]) -> Path:
    """``~`` and ``~/x`` against the injected ``$HOME``; ``~other`` is left to the OS."""
    if text == "~" or text.startswith("~/"):
        return _home(env) / text[2:]
    return Path(text).expanduser()


def _xdg_dir(env: Mapping[str, str], var: str, fallback: str) -> Path:
    """The XDG spec says a relative ``$XDG_*_HOME`` is invalid and must be ignored."""
    value = env.get(var, "")
    if value and Path(value).is_absolute():
        return Path(value)
    return _home(env) / fallback


def default_config_path(env: Mapping[str, str] = os.environ) -> Path:
    """``$XDG_CONFIG_HOME/followupd/config.toml``, else ``~/.config/followupd/config.toml``."""
    return _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "followupd" / "config.toml"


DATA_DIR_ENV_VAR = "FOLLOWUPD_DATA_DIR"


def default_data_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$FOLLOWUPD_DATA_DIR`` (system services: systemd's StateDirectory), else ``$XDG_DATA_HOME/followupd``,
    else ``~/.local/share/followupd``: state, kept apart from config."""
    explicit = env.get(DATA_DIR_ENV_VAR, "")
    if explicit and Path(explicit).is_absolute():
        return Path(explicit)
    return _xdg_dir(env, "XDG_DATA_HOME", ".local/share") / "followupd"


def resolve_config_path(cli_path: Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """``--config`` wins, then ``$FOLLOWUPD_CONFIG``, then the XDG default: the most explicit choice wins."""
    if cli_path is not None:
        return _expand_user(str(cli_path), env)
    from_env = env.get(CONFIG_ENV_VAR, "")
    if from_env:
        return _expand_user(from_env, env)
    return default_config_path(env)


def local_timezone(env: Mapping[str, str] = os.environ, *, etc: Path = Path("/etc")) -> ZoneInfo:
    """The machine's zone as an IANA name, because follow-ups must land in *business* hours where the user is.

    Order: ``$TZ`` (``Europe/Berlin``, ``:Europe/Berlin`` or a zoneinfo path), the ``/etc/localtime`` symlink,
    ``/etc/timezone``; UTC when none names a known zone (POSIX ``TZ`` strings like ``CET-1CEST`` do not).
    """
    candidates: list[Callable[[], str | None]] = [
        lambda: _zone_key_from_tz(env.get("TZ", "")),
        lambda: _zone_key_from_localtime(etc / "localtime"),
        lambda: _zone_key_from_timezone_file(etc / "timezone"),
    ]
    for candidate in candidates:
        zone = _zone_or_none(candidate())
        if zone is not None:
            return zone
    return ZoneInfo("UTC")


def _zone_key_from_tz(value: str) -> str | None:
    key = value.strip().removeprefix(":")
    if "zoneinfo/" in key:
        key = key.rsplit("zoneinfo/", 1)[1]
    return key or None


def _zone_key_from_localtime(link: Path) -> str | None:
    try:
        target = os.readlink(link)
    except OSError:
        return None
    return target.rsplit("zoneinfo/", 1)[1] if "zoneinfo/" in target else None


def _zone_key_from_timezone_file(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    return lines[0].strip() if lines and lines[0].strip() else None


def _zone_or_none(key: str | None) -> ZoneInfo | None:
    if not key:
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


# ----------------------------------------------------------------------------------------------------
# The declarative schema
# ----------------------------------------------------------------------------------------------------

Kind = Literal["string", "integer", "string list", "date list", "string or boolean", "boolean"]


@dataclass(frozen=True)
class _Key:
    """One allowed key: its TOML type, whether it must be present, an example for messages, secrecy."""

    kind: Kind
    example: str
    required: bool = False
    secret: bool = False


@dataclass(frozen=True)
class _Section:
    """One allowed ``[section]`` and its keys; ``subtables``: keys of ``[section.NAME]`` tables, if allowed,
    with ``subtable_name`` describing NAME (a pattern it must match, and an example)."""

    keys: Mapping[str, _Key]
    required: bool = False
    subtables: Mapping[str, _Key] | None = None
    subtable_name: tuple[str, str] = ("", "")


_TONE_KEYS: Mapping[str, _Key] = {
    "banned_phrases": _Key("string list", '["to be honest"]'),
    "allowed_phrases": _Key("string list", '["urgent"]'),
    "allowed_caps": _Key("string list", '["GDPR", "OKR"]'),
    "max_words": _Key("integer", "90"),
}

_SCHEMA: Mapping[str, _Section] = {
    "account": _Section(
        required=True,
        keys={
            "host": _Key("string", '"imap.example.com"', required=True),
            "port": _Key("integer", "993"),
            "tls": _Key("string", '"implicit"'),
            "username": _Key("string", '"me@example.com"', required=True),
            "password_command": _Key("string", '"pass show mail/me"'),
            "password_env": _Key("string", '"FOLLOWUPD_PASSWORD"'),
            "password": _Key("string", '"..."', secret=True),
            "password_keyring": _Key("string", '"followupd"'),
            "oauth2_token_command": _Key("string", '"oama access me@gmail.com"'),
            "oauth2_mechanism": _Key("string", '"auto"'),
            "tls_ca_file": _Key("string", '"/etc/ssl/certs/my-ca.pem"'),
            "tls_verify": _Key("boolean", "true"),
            "idle": _Key("boolean", "true"),
        },
    ),
    "identity": _Section(
        keys={
            "name": _Key("string", '"Alex Example"'),
            "addresses": _Key("string list", '["me@example.com", "alex@example.org"]'),
            "timezone": _Key("string", '"Europe/Berlin"'),
            "signature": _Key("string", '"Alex"'),
        },
    ),
    "tracking": _Section(
        required=True,
        keys={"address": _Key("string", '"me+followup@example.com"', required=True),
              "expect_all": _Key("boolean", "false")},
    ),
    "folders": _Section(
        keys={
            "sent": _Key("string", '"Sent"'),
            "drafts": _Key("string", '"Drafts"'),
            "watch": _Key("string list", '["INBOX", "Archive"]'),
        },
    ),
    "database": _Section(keys={"url": _Key("string", '"sqlite:////home/me/followupd.db"'),
                               "migrate": _Key("string", '"auto"'),
                               "lease_period": _Key("string", '"60s"')}),
    "cadence": _Section(
        keys={
            "gaps": _Key("string list", '["3bd", "1w", "2w", "4w"]'),
            "preset": _Key("string", '"persistent"'),
            "send_days": _Key("string list", '["mon", "tue", "wed", "thu", "fri"]'),
            "send_hours": _Key("string", '"09:00-17:00"'),
            "jitter": _Key("string", '"45m"'),
            "holidays": _Key("date list", '["DE-BY", "2026-12-24"]'),
            "min_days_between_nudges_per_person": _Key("integer", "2"),
            "poll_interval": _Key("string", '"5m"'),
            "recipient_time": _Key("boolean", "true"),
        },
    ),
    "templates": _Section(
        keys={
            "dir": _Key("string", '"~/.config/followupd/templates"'),
            "disable": _Key("string list", '["first/no-rush.txt", "later/*"]'),
            "lang": _Key("string", '"en"'),
        },
    ),
    "tone": _Section(
        keys=_TONE_KEYS,
        subtables=_TONE_KEYS,
        subtable_name=(r"[a-z]{2,3}", "a language code, e.g. [tone.de]"),
    ),
    "replies": _Section(
        keys={
            "ooo_grace": _Key("string", '"1bd"'),
            "ooo_default_postpone": _Key("string", '"1w"'),
            "ooo_horizon_days": _Key("integer", "90"),
            "holding_default": _Key("string", '"1w"'),
            "match_domain": _Key("boolean", "false"),
        },
        subtables={
            "holding": _Key("string list", '["circle back after the board meeting"]'),
            "declined": _Key("string list", '["we went with another vendor"]'),
            "remove": _Key("string list", '["no thanks"]'),
            "replace": _Key("boolean", "false"),
        },
        subtable_name=(r"[a-z]{2,3}", "a language code, e.g. [replies.de]"),
    ),
    "smtp": _Section(
        keys={
            "host": _Key("string", '"smtp.example.com"', required=True),
            "port": _Key("integer", "465"),
            "tls": _Key("string", '"implicit"'),
            "username": _Key("string", '"me@example.com"'),
            "password_command": _Key("string", '"pass show mail/me"'),
            "password_env": _Key("string", '"FOLLOWUPD_SMTP_PASSWORD"'),
            "password": _Key("string", '"..."', secret=True),
            "password_keyring": _Key("string", '"followupd"'),
            "oauth2_token_command": _Key("string", '"oama access me@gmail.com"'),
            "oauth2_mechanism": _Key("string", '"auto"'),
            "tls_ca_file": _Key("string", '"/etc/ssl/certs/my-ca.pem"'),
            "tls_verify": _Key("boolean", "true"),
        },
    ),
    "sending": _Section(
        keys={
            "mode": _Key("string", '"review"'),
            "review_window": _Key("string", '"4h"'),
            "max_per_hour": _Key("integer", "10"),
            "max_per_day": _Key("integer", "40"),
            "file_sent_copy": _Key("string or boolean", '"auto"'),
        },
    ),
}


# ----------------------------------------------------------------------------------------------------
# Collecting problems
# ----------------------------------------------------------------------------------------------------


@dataclass
class _Problems:
    """All problems found so far; raised together so the user fixes the file in one go, not per run.

    For one ``[[accounts]]`` entry, ``label`` names the entry and ``own_sections`` are the sections it sets
    itself: problems there are reported as ``[accounts.tracking]`` etc., so the user finds the right table.
    """

    path: Path
    items: list[tuple[str | None, str]] = field(default_factory=list)
    label: str = ""
    own_sections: frozenset[str] = frozenset()

    def add(self, key: str | None, message: str) -> None:
        section = (key or "").split(".", 1)[0]
        if self.label and section in self.own_sections:
            for name in self.own_sections:
                table = "[[accounts]]" if name == "account" else f"[accounts.{name}]"
                message = message.replace(f"[{name}]", table)
            message = f"{self.label}: {message}"
        self.items.append((key, f"{self.path}: {message}"))

    def raise_if_any(self) -> None:
        if self.items:
            raise ConfigError("\n".join(message for _, message in self.items), key=self.items[0][0])


def toml_repr(value: Any) -> str:
    """A value as written in TOML (``"tsl"``, ``true``, ``[1, 2]``), so the user recognises their line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_repr(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {toml_repr(v)}" for k, v in value.items()) + "}"
    if isinstance(value, date | time):
        return value.isoformat()
    return repr(value)


def _toml_type(value: Any) -> str:
    """The TOML name of a value's type, with an article, for "must be X, not Y" messages."""
    names: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
        (list, "an array"), (dict, "a table"), (datetime, "a date-time"), (date, "a date"), (time, "a time"),
    ]
    for kind, name in names:
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _did_you_mean(word: str, choices: Sequence[str], template: str) -> str:
    """A suggestion only when one is close: a wrong guess is worse than none."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return template.format(close[0]) if close else ""


def _quoted_list(values: Sequence[str]) -> str:
    return ", ".join(f'"{v}"' for v in values)


# ----------------------------------------------------------------------------------------------------
# Structure: sections, keys and TOML types
# ----------------------------------------------------------------------------------------------------


def _kind_matches(kind: Kind, value: Any) -> bool:
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "string list":
        return isinstance(value, list) and all(isinstance(item, str) for item in value)
    if kind == "string or boolean":
        return isinstance(value, str | bool)
    if kind == "boolean":
        return isinstance(value, bool)
    return isinstance(value, list) and all(_is_date_item(item) for item in value)


def _is_date_item(item: Any) -> bool:
    """Holidays may be written as strings or as bare TOML dates (``2026-12-25``), but not as date-times."""
    return isinstance(item, str) or (isinstance(item, date) and not isinstance(item, datetime))


_KIND_WORDS: Mapping[Kind, str] = {
    "string": "a string",
    "integer": "an integer",
    "string list": "a list of strings",
    "date list": "a list of dates",
    "string or boolean": "a string or a boolean",
    "boolean": "true or false",
}


def _type_problem(section: str, key: str, spec: _Key, value: Any) -> str:
    shown = "<hidden>" if spec.secret else toml_repr(value)
    found = _toml_type(value)
    if isinstance(value, list) and spec.kind in ("string list", "date list"):
        bad = next(item for item in value if not _kind_matches(spec.kind, [item]))
        found = f"an array containing {_toml_type(bad)}"
    return (
        f"[{section}] {key} = {shown} must be {_KIND_WORDS[spec.kind]}, not {found}; "
        f"e.g. {key} = {spec.example}"
    )


def _check_structure(data: Mapping[str, Any], problems: _Problems) -> dict[str, dict[str, Any]]:
    """Report unknown/misplaced/missing sections and keys and wrong types; return only the well-typed values.

    Later checks therefore see each value either well-typed or absent, and never report a second, confusing
    problem about a value already reported here.
    """
    tables: dict[str, dict[str, Any]] = {name: {} for name in _SCHEMA}
    for name, value in data.items():
        if name in _SCHEMA and isinstance(value, dict):
            tables[name] = _check_section(name, value, problems)
        else:
            _report_top_level(name, value, problems)
    for name, section in _SCHEMA.items():
        if section.required and name not in data:
            problems.add(name, f"missing section [{name}]; it needs {_required_keys(section)}")
    return tables


def _required_keys(section: _Section) -> str:
    names = [key for key, spec in section.keys.items() if spec.required]
    return " and ".join(f"{key} = {section.keys[key].example}" for key in names) or "nothing"


def _report_top_level(name: str, value: Any, problems: _Problems) -> None:
    if name in _SCHEMA:
        problems.add(name, f"[{name}] must be a table (a [{name}] header), not {_toml_type(value)}")
        return
    if isinstance(value, dict):
        hint = _did_you_mean(name, list(_SCHEMA), "; did you mean [{}]?")
        problems.add(name, f"unknown section [{name}]{hint or '; allowed: ' + ', '.join(_SCHEMA)}")
        return
    owner = _section_owning(name)
    where = f"; put it under [{owner}]" if owner else "; every setting belongs in a [section]"
    problems.add(name, f"key {name} is outside any section{where}")


def _section_owning(key: str) -> str | None:
    return next((name for name, section in _SCHEMA.items() if key in section.keys), None)


def _check_section(name: str, values: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    spec = _SCHEMA[name]
    typed: dict[str, Any] = {}
    for key, value in values.items():
        key_spec = spec.keys.get(key)
        if key_spec is None and spec.subtables is not None and isinstance(value, dict):
            typed[key] = _check_subtable(name, key, value, spec, problems)
        elif key_spec is None:
            problems.add(f"{name}.{key}", _unknown_key(name, key))
        elif not _kind_matches(key_spec.kind, value):
            problems.add(f"{name}.{key}", _type_problem(name, key, key_spec, value))
        else:
            typed[key] = value
    for key, key_spec in spec.keys.items():
        if key_spec.required and key not in values:
            problems.add(f"{name}.{key}", f"[{name}] {key} is required; e.g. {key} = {key_spec.example}")
    return typed


def _check_subtable(name: str, sub: str, values: Mapping[str, Any], spec: _Section,
                    problems: _Problems) -> dict[str, Any]:
    """``[section.NAME]``: NAME must match the section's pattern; its keys are checked like a section's."""
    keys = spec.subtables or {}
    pattern, example = spec.subtable_name
    if not re.fullmatch(pattern, sub):
        problems.add(f"{name}.{sub}", f"unknown table [{name}.{sub}]; the name must be {example}")
        return {}
    typed: dict[str, Any] = {}
    for key, value in values.items():
        key_spec = keys.get(key)
        if key_spec is None:
            hint = _did_you_mean(key, list(keys), '; did you mean "{}"?')
            problems.add(f"{name}.{sub}.{key}", f"unknown key [{name}.{sub}] {key}{hint}")
        elif not _kind_matches(key_spec.kind, value):
            problems.add(f"{name}.{sub}.{key}", _type_problem(f"{name}.{sub}", key, key_spec, value))
        else:
            typed[key] = value
    return typed


def _unknown_key(section: str, key: str) -> str:
    hint = _did_you_mean(key, list(_SCHEMA[section].keys), '; did you mean "{}"?')
    owner = _section_owning(key)
    if not hint and owner is not None:
        hint = f"; it belongs in [{owner}]"
    return f"unknown key [{section}] {key}{hint}"


# ----------------------------------------------------------------------------------------------------
# Reading one section's values
# ----------------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """Typed access to one section's (already type-checked) values, and problem reports naming the key."""

    name: str
    values: Mapping[str, Any]       # only the well-typed values
    written: frozenset[str]         # every key the file sets in this section, well-typed or not
    problems: _Problems
    present: bool = True

    def text(self, key: str) -> str | None:
        value = self.values.get(key)
        return value if isinstance(value, str) else None

    def integer(self, key: str) -> int | None:
        value = self.values.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def items(self, key: str) -> list[Any] | None:
        value = self.values.get(key)
        return value if isinstance(value, list) else None

    def has(self, key: str) -> bool:
        """Whether the file sets ``key`` at all: a wrongly typed value is not an absent one."""
        return key in self.written

    def error(self, key: str, message: str) -> None:
        """A problem about the key as a whole (missing, empty, conflicting), without echoing its value."""
        self.problems.add(f"{self.name}.{key}", f"[{self.name}] {key} {message}")

    def bad(self, key: str, allowed: str, *, shown: str | None = None) -> None:
        """``[section] key = VALUE is not allowed; ALLOWED`` -- the value hidden when the key is secret."""
        spec = _SCHEMA[self.name].keys[key]
        if shown is None:
            shown = "<hidden>" if spec.secret else toml_repr(self.values.get(key))
        self.problems.add(f"{self.name}.{key}", f"[{self.name}] {key} = {shown} is not allowed; {allowed}")


# ----------------------------------------------------------------------------------------------------
# Small value checks shared by sections
# ----------------------------------------------------------------------------------------------------

_EMAIL_FORBIDDEN = re.compile(r"[\s<>(),;:\"\[\]\\]")


def email_problem(address: str) -> str | None:
    """Why ``address`` is not a usable bare address, or None. Practical, not RFC 5322: it catches typos.

    One ``@``, a non-empty local part, and a domain that is ``localhost`` or has a dot between non-empty
    labels. ``"Alex <me@example.com>"`` is refused with a hint: only bare addresses are compared with headers.
    """
    if _EMAIL_FORBIDDEN.search(address):
        return "write the bare address without a name, spaces or brackets, e.g. me@example.com"
    if address.count("@") != 1:
        return "an address has exactly one @, e.g. me@example.com"
    local, domain = address.split("@")
    if not local:
        return "the part before @ is empty"
    labels = domain.split(".")
    if domain.lower() != "localhost" and (len(labels) < 2 or not all(labels)):
        return f"the domain {domain!r} needs a dot (example.com) or must be localhost"
    return None


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1: the only hosts where a clear-text password never crosses a wire."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def redact_url(url: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``; other URLs are unchanged."""
    return re.sub(r"^((?:[A-Za-z][A-Za-z0-9+.\-]*://)?[^/@:]*):[^/@]*@", r"\1:***@", url)


# ----------------------------------------------------------------------------------------------------
# [account]
# ----------------------------------------------------------------------------------------------------

_PASSWORD_SOURCES = SECRET_SOURCES   # exactly one per section; followupd.adapters.credentials resolves them at login
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _build_account(table: _Table) -> AccountConfig:
    host = (table.text("host") or "").strip()
    host_problem = _host_problem(host) if table.text("host") is not None else None
    if host_problem:
        table.bad("host", host_problem)
    tls = _account_tls(table)
    if tls == "none" and host and not is_loopback(host):
        table.bad("tls", f"TLS may only be off for a loopback host (localhost, 127.0.0.1, ::1), and "
                         f"{host!r} is not; the password would cross the network in clear text. "
                         'Use "implicit" or "starttls"')
    username = (table.text("username") or "").strip()
    if table.text("username") is not None and not username:
        table.error("username", 'is empty; e.g. username = "me@example.com"')
    _check_password_sources(table)
    ca_file, verify = _account_trust(table, tls)
    return AccountConfig(
        host=host,
        port=_account_port(table, tls),
        tls=tls,
        username=username,
        password_command=table.text("password_command"),
        password_env=table.text("password_env"),
        password=table.text("password"),
        password_keyring=table.text("password_keyring"),
        oauth2_token_command=table.text("oauth2_token_command"),
        oauth2_mechanism=_oauth2_mechanism(table, token_command=table.has("oauth2_token_command")),
        tls_ca_file=ca_file,
        tls_verify=verify,
        idle=table.values.get("idle", True) is not False,
    )


def _host_problem(host: str) -> str | None:
    """Catch the usual paste mistakes (a URL, a port, an empty string) before they become DNS errors."""
    if not host:
        return 'give the server name, e.g. host = "imap.example.com"'
    if "://" in host or "/" in host:
        return 'give the host name only, without imaps:// or a path, e.g. "imap.example.com"'
    if re.search(r"\s", host):
        return "a host name has no spaces"
    if host.count(":") == 1:
        return 'give the port in port = 993, not in host'
    return None


def _account_tls(table: _Table) -> TlsMode:
    value = table.text("tls")
    if value is None:
        return "implicit"
    for mode in TLS_MODES:
        if value.strip().lower() == mode:
            return mode
    table.bad("tls", f"use one of {_quoted_list(TLS_MODES)}")
    return "implicit"


def _account_port(table: _Table, tls: TlsMode) -> int:
    port = table.integer("port")
    if port is None:
        return 993 if tls == "implicit" else 143
    if not 1 <= port <= 65535:
        table.bad("port", "use a TCP port from 1 to 65535 (993 for implicit TLS, 143 for starttls)")
    return port


def _account_trust(table: _Table, tls: TlsMode) -> tuple[Path | None, bool]:
    """``tls_ca_file`` (checked now: a typo should stop start-up, not the first connect) and ``tls_verify``.

    Both are refused where they cannot mean anything, so nobody believes a setting protects them when it does not:
    with ``tls = "none"`` there is no certificate, and ``tls_verify = false`` would ignore a ``tls_ca_file``.
    """
    raw_verify = table.values.get("tls_verify")
    verify = raw_verify if isinstance(raw_verify, bool) else True
    raw = table.text("tls_ca_file")
    ca_file: Path | None = None
    if raw is not None and not raw.strip():
        table.error("tls_ca_file", "is empty; give the path of the CA certificate (PEM), or remove the key")
    elif raw is not None:
        path = _expand_user(raw.strip(), os.environ)
        if not path.is_absolute():
            path = table.problems.path.parent / path   # relative to the config file, like [templates] dir
        problem = ca_file_problem(path)
        if problem:
            table.bad("tls_ca_file", problem)
        elif tls == "none":
            table.bad("tls_ca_file", 'with tls = "none" there is no certificate to check; use tls = "implicit" or '
                                     '"starttls", or remove tls_ca_file')
        else:
            ca_file = path
    if not verify and tls == "none":
        table.bad("tls_verify", 'with tls = "none" there is no TLS and no certificate to check; remove tls_verify')
    elif not verify and raw is not None:
        table.bad("tls_verify", "tls_ca_file already names the CA to trust; keep it and remove tls_verify = false, "
                                "which would turn every certificate check off")
    return ca_file, verify


def _oauth2_mechanism(table: _Table, *, token_command: bool) -> OAuthMechanism:
    """``auto`` unless set; only meaningful for an OAuth2 login (``token_command``: one is configured)."""
    text = table.text("oauth2_mechanism")
    if text is None:
        return "auto"
    matched = [mechanism for mechanism in OAUTH_MECHANISMS if mechanism == text.strip().lower()]
    if not matched:
        table.bad("oauth2_mechanism", 'use "auto" (OAUTHBEARER where the server offers it, else XOAUTH2), '
                                      '"oauthbearer" or "xoauth2"')
        return "auto"
    if not token_command:
        table.bad("oauth2_mechanism", "it applies only to an OAuth2 login; set oauth2_token_command too, or "
                                      "remove oauth2_mechanism")
    return matched[0]


def _check_password_sources(table: _Table, *, required: bool = True) -> None:
    """Exactly one source, so it is never ambiguous which secret is used; values are never echoed.

    ``required=False`` for [smtp], which may inherit the [account] source instead."""
    section = table.name
    given = [key for key in _PASSWORD_SOURCES if table.has(key)]
    if not given and table.present and required:
        table.problems.add(
            f"{section}.password_command",
            f"[{section}] needs one password source: password_command (e.g. \"pass show mail/me\"), "
            "password_env (e.g. \"FOLLOWUPD_PASSWORD\"), password_keyring (a service name in the system keyring, "
            "e.g. \"followupd\"), oauth2_token_command (a command printing an OAuth2 access token, for Gmail or "
            "Microsoft 365) or password (discouraged: secrets belong outside the file)",
        )
    elif len(given) > 1:
        table.problems.add(
            f"{section}.{given[1]}",
            f"[{section}] sets {' and '.join(given)}; keep exactly one password source",
        )
    for key in given:
        value = table.text(key)
        if value is not None and not value.strip():
            table.error(key, "is empty")
    env_name = table.text("password_env")
    if env_name and not _ENV_NAME.match(env_name):
        table.bad("password_env", "give the variable's name only (letters, digits, _), without $, "
                                  'e.g. password_env = "FOLLOWUPD_PASSWORD"')
    service = table.text("password_keyring")
    if service and service != service.strip():
        table.bad("password_keyring", "give the keyring service name without surrounding spaces, "
                                      'e.g. password_keyring = "followupd"')


# ----------------------------------------------------------------------------------------------------
# [identity] and [tracking]
# ----------------------------------------------------------------------------------------------------


def _build_identity(table: _Table, username: str, env: Mapping[str, str]) -> IdentityConfig:
    name = table.text("name") or ""
    signature = table.text("signature")
    return IdentityConfig(
        name=name,
        addresses=_identity_addresses(table, username),
        timezone=_identity_timezone(table, env),
        signature=name if signature is None else signature,
    )


def _identity_addresses(table: _Table, username: str) -> tuple[str, ...]:
    """The user's own addresses, lower-case, de-duplicated; by default the username if it is an address."""
    raw = table.items("addresses")
    if raw is None:
        if table.has("addresses") or not username:
            return ()
        if email_problem(username) is None:
            return (username.lower(),)
        table.error("addresses", f"is missing and [account] username = {toml_repr(username)} is not an email "
                                 'address; list your own addresses, e.g. addresses = ["me@example.com"]')
        return ()
    if not raw:
        table.bad("addresses", 'list at least one of your own addresses, e.g. addresses = ["me@example.com"]')
        return ()
    addresses: list[str] = []
    for item in raw:
        address = item.strip().lower()
        problem = email_problem(address)
        if problem:
            table.bad("addresses", f"{toml_repr(item)} is not an email address: {problem}")
        elif address not in addresses:
            addresses.append(address)
    return tuple(addresses)


def _identity_timezone(table: _Table, env: Mapping[str, str]) -> ZoneInfo:
    key = table.text("timezone")
    if key is None:
        return local_timezone(env)
    zone = _zone_or_none(key.strip())
    if zone is None:
        table.bad("timezone",
                  'use an IANA time zone name such as "Europe/Berlin", "America/New_York" or "UTC"')
        return ZoneInfo("UTC")
    return zone


def _build_tracking(table: _Table, own: Sequence[str]) -> TrackingConfig:
    raw = table.text("address")
    if raw is None:
        return TrackingConfig(address="")
    address = raw.strip().lower()
    problem = email_problem(address)
    if problem:
        table.bad("address",
                  f"use an address you receive mail at, e.g. \"me+followup@example.com\"; {problem}")
    elif address in own:
        table.bad("address", "it is one of your own [identity] addresses, so every message you copy to "
                             'yourself would be tracked; use a sub-address such as "me+followup@example.com"')
    expect_all = table.values.get("expect_all")
    return TrackingConfig(address=address, expect_all=expect_all if isinstance(expect_all, bool) else False)


# ----------------------------------------------------------------------------------------------------
# [folders], [database], [templates]
# ----------------------------------------------------------------------------------------------------


def _build_folders(table: _Table) -> FoldersConfig:
    return FoldersConfig(
        sent=_folder_name(table, "sent"),
        drafts=_folder_name(table, "drafts"),
        watch=_folder_watch(table),
    )


def _folder_name(table: _Table, key: str) -> str | None:
    value = table.text(key)
    if value is not None and not value.strip():
        table.error(key, "is empty; name the folder, or leave the key out to find it through SPECIAL-USE")
        return None
    return value


def _folder_watch(table: _Table) -> tuple[str, ...] | None:
    raw = table.items("watch")
    if raw is None:
        return None
    if not raw:
        table.bad("watch",
                  'name at least one folder, e.g. ["INBOX"], or leave the key out for INBOX and Archive')
        return None
    if not all(item.strip() for item in raw):
        table.bad("watch", "folder names must not be empty")
    return tuple(dict.fromkeys(raw))


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _build_database(table: _Table, env: Mapping[str, str]) -> DatabaseConfig:
    migrate: Literal["auto", "refuse"] = "auto"
    migrate_text = table.text("migrate")
    if migrate_text is not None:
        if migrate_text.strip().lower() in ("auto", "refuse"):
            migrate = "refuse" if migrate_text.strip().lower() == "refuse" else "auto"
        else:
            table.bad("migrate", 'use "auto" (upgrade the database on start) or "refuse" (stop and print the '
                                 "command to upgrade it)")
    period = timedelta(seconds=60)
    period_text = table.text("lease_period")
    if period_text is not None:
        seconds = re.fullmatch(r"\s*(\d+)\s*s\s*", period_text)
        try:
            period = timedelta(seconds=int(seconds.group(1))) if seconds else parse_duration(period_text)
        except ValueError as exc:
            table.bad("lease_period", str(exc).replace("m (minutes)", "s (seconds), m (minutes)"))
        else:
            if not timedelta(seconds=5) <= period <= timedelta(hours=1):
                table.bad("lease_period", 'use 5 seconds to 1 hour, e.g. "60s"')
    url = table.text("url")
    if url is None:
        return DatabaseConfig(url=f"sqlite:///{default_data_dir(env) / 'followupd.db'}", migrate=migrate,
                              lease_period=period)
    url = url.strip()
    if not _URL_SCHEME.match(url):
        table.bad("url", 'use an SQLAlchemy URL, e.g. "sqlite:////home/me/followupd.db" or '
                         '"postgresql+psycopg://user@localhost/followupd"', shown=toml_repr(redact_url(url)))
    if url.startswith("sqlite:///~"):
        url = f"sqlite:///{_expand_user(url.removeprefix('sqlite:///'), env)}"
    return DatabaseConfig(url=url, migrate=migrate, lease_period=period)


def _build_templates(table: _Table, config_path: Path, env: Mapping[str, str]) -> TemplatesConfig:
    return TemplatesConfig(dir=_templates_dir(table, config_path, env), disable=_templates_disable(table),
                           lang=_templates_lang(table))


def _templates_dir(table: _Table, config_path: Path, env: Mapping[str, str]) -> Path | None:
    """Relative paths are relative to the config file, so the config works whatever the working directory."""
    raw = table.text("dir")
    if raw is None:
        return None
    directory = _expand_user(raw.strip(), env)
    if not directory.is_absolute():
        directory = config_path.parent / directory
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        table.bad("dir", f"{directory} {what}; create it, or leave the key out to use the built-in templates")
        return None
    return directory


def _templates_disable(table: _Table) -> tuple[str, ...]:
    """Built-in variants to leave out. Whether each matches one is checked with the templates, not here."""
    raw = table.items("disable")
    if raw is None:
        return ()
    entries: list[str] = []
    for item in raw:
        entry = item.strip()
        if entry != "*" and "/" not in entry:
            table.bad("disable", f'{toml_repr(item)} names no template; write "<stage>/<name>.txt" as '
                                 '`followupd templates list` shows it (e.g. "first/no-rush.txt", '
                                 '"de/first/keine-eile.txt"), or a pattern such as "later/*"')
        else:
            entries.append(entry)
    return tuple(dict.fromkeys(entries))


def _templates_lang(table: _Table) -> str:
    raw = table.text("lang")
    if raw is None:
        return "en"
    value = raw.strip().lower()
    if value != "auto" and not re.fullmatch(r"[a-z]{2,3}", value):
        table.bad("lang", 'use a language code such as "en" or "de" (the templates in <lang>/<stage>/), or "auto" '
                          "to follow each message's language")
        return "en"
    return value


# ----------------------------------------------------------------------------------------------------
# [tone]
# ----------------------------------------------------------------------------------------------------

MIN_TONE_WORDS = 10
MAX_TONE_WORDS = 1000


def _build_tone(table: _Table) -> ToneSettings:
    """``[tone]`` applies to every language, ``[tone.<lang>]`` to that language's templates on top of it."""
    languages = {
        name: _tone_adjustments(table, values, f"tone.{name}", (name,))
        for name, values in table.values.items() if isinstance(values, dict)
    }
    return ToneSettings(common=_tone_adjustments(table, table.values, "tone", None), languages=languages)


def _tone_adjustments(table: _Table, values: Mapping[str, Any], label: str,
                      langs: tuple[str, ...] | None) -> ToneAdjustments:
    def strings(key: str) -> tuple[str, ...]:
        raw = values.get(key)
        items = [" ".join(item.split()) for item in raw] if isinstance(raw, list) else []
        if any(not item for item in items):
            table.problems.add(f"{label}.{key}", f"[{label}] {key} contains an empty string; remove it")
        return tuple(dict.fromkeys(item for item in items if item))

    for phrase in strings("allowed_phrases"):
        if not is_builtin_phrase(phrase, langs):
            hint = _did_you_mean(phrase, all_builtin_phrases(), '; did you mean "{}"?')
            table.problems.add(f"{label}.allowed_phrases",
                               f"[{label}] allowed_phrases: {toml_repr(phrase)} is not a built-in phrase"
                               f"{' of this language' if langs else ''}; allowed_phrases only removes phrases from "
                               f"the built-in lists{hint}")
    for word in strings("allowed_caps"):
        if not re.fullmatch(r"[^\W\d_]+", word):
            table.problems.add(f"{label}.allowed_caps",
                               f"[{label}] allowed_caps: {toml_repr(word)} is not a single word of letters; "
                               'list acronyms one by one, e.g. ["GDPR", "OKR"]')
    max_words = values.get("max_words")
    if isinstance(max_words, int) and not MIN_TONE_WORDS <= max_words <= MAX_TONE_WORDS:
        table.problems.add(f"{label}.max_words",
                           f"[{label}] max_words = {max_words} is not allowed; use {MIN_TONE_WORDS} to "
                           f"{MAX_TONE_WORDS} words, e.g. 90")
        max_words = None
    return ToneAdjustments(
        banned_phrases=strings("banned_phrases"), allowed_phrases=strings("allowed_phrases"),
        allowed_caps=tuple(word.upper() for word in strings("allowed_caps")),
        max_words=max_words if isinstance(max_words, int) else None,
    )


# ----------------------------------------------------------------------------------------------------
# [cadence]
# ----------------------------------------------------------------------------------------------------

_REGION_SHAPE = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,4})?")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def _build_cadence(table: _Table) -> CadenceSettings:
    defaults = CadenceSettings()
    window = _cadence_hours(table, (defaults.send_start, defaults.send_end))
    return CadenceSettings(
        gaps=_cadence_gaps(table, defaults.gaps),
        send_days=_cadence_days(table, defaults.send_days),
        send_start=window[0],
        send_end=window[1],
        jitter=_cadence_jitter(table, window, defaults.jitter),
        holidays=_cadence_holidays(table),
        min_days_between_nudges_per_person=_cadence_min_days(
            table, defaults.min_days_between_nudges_per_person),
        poll_interval=_cadence_poll(table, defaults.poll_interval),
        recipient_time=_cadence_flag(table, "recipient_time", defaults.recipient_time),
    )


def _cadence_preset(table: _Table, default: tuple[Gap, ...]) -> tuple[Gap, ...]:
    """``preset = "gentle" | "persistent"`` (followupd.planning.cadence.PRESETS); the default cadence without one."""
    name = table.text("preset")
    if name is None:
        return default
    gaps = PRESETS.get(name.strip().lower())
    if gaps is None:
        names = " or ".join(f'"{known}"' for known in PRESETS)
        table.bad("preset", f"use {names}, or list your own gaps instead, e.g. "
                            'gaps = ["3bd", "1w", "2w", "4w"]')
        return default
    return gaps


def _cadence_flag(table: _Table, key: str, default: bool) -> bool:
    value = table.values.get(key)
    return value if isinstance(value, bool) else default


def _cadence_gaps(table: _Table, default: tuple[Gap, ...]) -> tuple[Gap, ...]:
    """Explicit ``gaps`` win over ``preset``: the more specific setting is what the user means."""
    default = _cadence_preset(table, default)
    raw = table.items("gaps")
    if raw is None:
        return default
    if not 1 <= len(raw) <= MAX_GAPS:
        table.bad("gaps", f"give 1 to {MAX_GAPS} gaps, e.g. [\"3bd\", \"1w\", \"2w\", \"4w\"]")
        return default
    gaps: list[Gap] = []
    for item in raw:
        try:
            gap = parse_gap(item)
        except ValueError as exc:
            table.bad("gaps", f"{toml_repr(item)} is not a gap: {exc}")
            continue
        if gap_minimum(gap) < MIN_GAP:
            table.bad("gaps", f"{toml_repr(item)} is shorter than 2 days; persistence never means every day: "
                              'a nudge sooner than that reads as pressure. Use e.g. "2d", "3bd" or "1w"')
        gaps.append(gap)
    return tuple(gaps)


def _weekday_number(name: str) -> int | None:
    word = name.strip().lower()
    for number, full in enumerate(_WEEKDAYS):
        if word in (full, full[:3]):
            return number
    return None


def _cadence_days(table: _Table, default: frozenset[int]) -> frozenset[int]:
    raw = table.items("send_days")
    if raw is None:
        return default
    if not raw:
        table.bad("send_days", 'name at least one day, e.g. ["mon", "tue", "wed", "thu", "fri"]')
        return default
    days: list[int] = []
    for item in raw:
        number = _weekday_number(item)
        if number is None:
            table.bad("send_days", f"{toml_repr(item)} is not a weekday; use mon..sun or monday..sunday")
        elif number in days:
            table.bad("send_days", f"{toml_repr(item)} is listed twice; name each day once")
        else:
            days.append(number)
    return frozenset(days) or default


def _parse_clock(hours: str, minutes: str, *, end: bool) -> time | None:
    """``HH:MM`` -> time; ``24:00`` only as an end, meaning "until midnight" (``time.max``)."""
    h, m = int(hours), int(minutes)
    if end and (h, m) == (24, 0):
        return time.max
    if h > 23 or m > 59:
        return None
    return time(h, m)


def _cadence_hours(table: _Table, default: tuple[time, time]) -> tuple[time, time]:
    raw = table.text("send_hours")
    if raw is None:
        return default
    match = _HOURS.match(raw)
    start = _parse_clock(match[1], match[2], end=False) if match else None
    end = _parse_clock(match[3], match[4], end=True) if match else None
    if start is None or end is None or start >= end:
        table.bad("send_hours", 'write "HH:MM-HH:MM" with the start before the end, e.g. "09:00-17:00"; '
                                '"00:00-24:00" means any time of day')
        return default
    return (start, end)


def _window_length(window: tuple[time, time]) -> timedelta:
    start, end = window
    end_delta = timedelta(days=1) if end == time.max else timedelta(hours=end.hour, minutes=end.minute)
    return end_delta - timedelta(hours=start.hour, minutes=start.minute)


def _duration(table: _Table, key: str) -> timedelta | None:
    raw = table.text(key)
    if raw is None:
        return None
    try:
        return parse_duration(raw)
    except ValueError as exc:
        table.bad(key, str(exc))
        return None


def _cadence_jitter(table: _Table, window: tuple[time, time], default: timedelta) -> timedelta:
    jitter = _duration(table, "jitter")
    if jitter is None:
        return default
    if jitter >= _window_length(window):
        table.bad("jitter", f"it must be shorter than the sending window ({_window_length(window)}), "
                            'or drafts would drift out of it; e.g. "45m", or "0m" for none')
    return jitter


def _cadence_holidays(table: _Table) -> frozenset[date]:
    """ISO dates and region codes (``"DE-BY"``: that region's public holidays, see planning.holiday_calendar)."""
    raw = table.items("holidays")
    if raw is None:
        return frozenset()
    days: set[date] = set()
    regions: list[str] = []
    for item in raw:
        if isinstance(item, date):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(item.strip()))
            continue
        except ValueError:
            pass
        if not _REGION_SHAPE.fullmatch(item.strip()):
            table.bad("holidays", f"{toml_repr(item)} is not an ISO date nor a region code; write a date such as "
                                  '"2026-12-25", or a country or region code such as "DE" or "DE-BY" for its '
                                  "public holidays")
            continue
        try:
            regions.append(normalise_region(item))
        except RegionError as exc:
            table.bad("holidays", str(exc))
    return Holidays(days, regions)


def _cadence_min_days(table: _Table, default: int) -> int:
    value = table.integer("min_days_between_nudges_per_person")
    if value is None:
        return default
    if value < MIN_DAYS_BETWEEN_NUDGES:
        table.bad("min_days_between_nudges_per_person",
                  f"use {MIN_DAYS_BETWEEN_NUDGES} or more; 1 would let one person be nudged on consecutive "
                  "days, and persistence never means every day")
    return value


def _cadence_poll(table: _Table, default: timedelta) -> timedelta:
    interval = _duration(table, "poll_interval")
    if interval is None:
        return default
    if interval < MIN_POLL_INTERVAL:
        table.bad("poll_interval", 'use at least 1 minute, e.g. "5m"; polling faster only loads the server')
    return interval


# ----------------------------------------------------------------------------------------------------
# Entry points
# ----------------------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------------------
# [smtp] and [sending]
# ----------------------------------------------------------------------------------------------------


def _build_smtp(table: _Table, account: AccountConfig) -> SmtpConfig | None:
    """``None`` when the file has no [smtp]: followupd then only drafts, it can never send."""
    if not table.present:
        return None
    host = (table.text("host") or "").strip()
    host_problem = _host_problem(host) if table.text("host") is not None else None
    if host_problem:
        table.bad("host", host_problem.replace("imap.", "smtp."))
    tls = _account_tls(table)
    if tls == "none" and host and not is_loopback(host):
        table.bad("tls", f"TLS may only be off for a loopback host (localhost, 127.0.0.1, ::1), and {host!r} is "
                         'not; the password and your mail would cross the network in clear text. Use "implicit" '
                         '(port 465) or "starttls" (port 587)')
    port = table.integer("port")
    if port is None:
        port = {"implicit": 465, "starttls": 587, "none": 25}[tls]
    elif not 1 <= port <= 65535:
        table.bad("port", "use a TCP port from 1 to 65535 (465 for implicit TLS, 587 for starttls)")
    _check_password_sources(table, required=False)
    inherits = not any(table.has(key) for key in _PASSWORD_SOURCES)
    ca_file, verify = _account_trust(table, tls)   # trust is per server: never inherited from [account]
    oauth2 = account.oauth2_token_command is not None if inherits else table.has("oauth2_token_command")
    mechanism = _oauth2_mechanism(table, token_command=oauth2)
    username = table.text("username") or account.username
    if inherits:  # the usual case: the same login for IMAP and SMTP
        return SmtpConfig(host=host, port=port, tls=tls, username=username,
                          password_command=account.password_command, password_env=account.password_env,
                          password=account.password, password_keyring=account.password_keyring,
                          oauth2_token_command=account.oauth2_token_command,
                          oauth2_mechanism=mechanism if table.has("oauth2_mechanism") else account.oauth2_mechanism,
                          tls_ca_file=ca_file, tls_verify=verify, section="account")
    return SmtpConfig(host=host, port=port, tls=tls, username=username,
                      password_command=table.text("password_command"), password_env=table.text("password_env"),
                      password=table.text("password"), password_keyring=table.text("password_keyring"),
                      oauth2_token_command=table.text("oauth2_token_command"), oauth2_mechanism=mechanism,
                      tls_ca_file=ca_file, tls_verify=verify)


def _build_sending(table: _Table, *, present_smtp: bool) -> SendingConfig:
    defaults = SendingConfig()
    mode_text = table.text("mode")
    mode: SendingMode = defaults.mode
    if mode_text is not None:
        matched = [m for m in SENDING_MODES if m == mode_text.strip().lower()]
        if matched:
            mode = matched[0]
        else:
            table.bad("mode", f"use one of {_quoted_list(SENDING_MODES)}")
    if mode != "review" and not present_smtp:
        table.bad("mode", 'sending needs an [smtp] section (host, port, tls); add one or use mode = "review"')
    window = defaults.review_window
    window_text = table.text("review_window")
    if window_text is not None:
        try:
            window = parse_duration(window_text)
        except ValueError as exc:
            table.bad("review_window", str(exc))
        else:
            if window < timedelta(minutes=5):
                table.bad("review_window", 'give yourself at least "5m" to review a draft before it is sent')
    limits = {}
    for key in ("max_per_hour", "max_per_day"):
        value = table.integer(key)
        limits[key] = getattr(defaults, key) if value is None else value
        if value is not None and value < 1:
            table.bad(key, "use a whole number of at least 1")
    file_copy: Literal["auto"] | bool = defaults.file_sent_copy
    raw = table.values.get("file_sent_copy")
    if isinstance(raw, bool):
        file_copy = raw
    elif isinstance(raw, str):
        if raw.strip().lower() == "auto":
            file_copy = "auto"
        else:
            table.bad("file_sent_copy", 'use "auto", true or false')
    return SendingConfig(mode=mode, review_window=window, max_per_hour=limits["max_per_hour"],
                         max_per_day=limits["max_per_day"], file_sent_copy=file_copy)


def _build_replies(table: _Table) -> RepliesConfig:
    defaults = RepliesConfig()
    grace = defaults.ooo_grace
    if table.text("ooo_grace") is not None:
        try:
            grace = parse_gap(table.text("ooo_grace") or "")
        except ValueError as exc:
            table.bad("ooo_grace", str(exc))

    def duration(key: str, default: timedelta) -> timedelta:
        text = table.text(key)
        if text is None:
            return default
        try:
            value = parse_duration(text)
        except ValueError as exc:
            table.bad(key, str(exc))
            return default
        if value < timedelta(days=1):
            table.bad(key, 'use at least a day, e.g. "1w"')
        return value

    horizon = table.integer("ooo_horizon_days")
    if horizon is not None and not 1 <= horizon <= 366:
        table.bad("ooo_horizon_days", "use 1 to 366 days")
    phrases: dict[str, PhraseSet] = {}
    for lang, values in table.values.items():
        if not isinstance(values, dict):
            continue

        def strings(key: str, values: Mapping[str, Any] = values) -> tuple[str, ...]:
            raw = values.get(key)
            return tuple(" ".join(str(item).split()) for item in raw if str(item).strip()) if isinstance(raw, list) \
                else ()

        phrases[lang] = PhraseSet(holding=strings("holding"), declined=strings("declined"), remove=strings("remove"),
                                  replace=bool(values.get("replace", False)))
    match_domain = table.values.get("match_domain")
    return RepliesConfig(
        ooo_grace=grace,
        ooo_default_postpone=duration("ooo_default_postpone", defaults.ooo_default_postpone),
        ooo_horizon_days=horizon if horizon is not None and 1 <= horizon <= 366 else defaults.ooo_horizon_days,
        holding_default=duration("holding_default", defaults.holding_default),
        match_domain=match_domain if isinstance(match_domain, bool) else defaults.match_domain,
        phrases=phrases,
    )


def parse_config(data: Mapping[str, Any], *, path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Validate parsed TOML of a single-account file; raise one ConfigError listing every problem.

    A file with ``[[accounts]]`` is read by :func:`parse_accounts`; this returns its first account."""
    if "accounts" in data:
        return parse_accounts(data, path=path, env=env)[0]
    config = _parse_one(data, _Problems(path), env)
    return replace(config, name=config.account.username)


def _parse_one(data: Mapping[str, Any], problems: _Problems, env: Mapping[str, str]) -> Config:
    path = problems.path
    tables = _check_structure(data, problems)

    def table(name: str) -> _Table:
        raw = data.get(name)
        written = frozenset(raw) if isinstance(raw, dict) else frozenset()
        return _Table(name, tables[name], written, problems, present=isinstance(raw, dict))

    account = _build_account(table("account"))
    identity = _build_identity(table("identity"), account.username, env)
    config = Config(
        account=account,
        identity=identity,
        tracking=_build_tracking(table("tracking"), identity.addresses),
        folders=_build_folders(table("folders")),
        database=_build_database(table("database"), env),
        cadence=_build_cadence(table("cadence")),
        templates=_build_templates(table("templates"), path, env),
        path=path,
        tone=_build_tone(table("tone")),
        replies=_build_replies(table("replies")),
        smtp=_build_smtp(table("smtp"), account),
        sending=_build_sending(table("sending"), present_smtp=isinstance(data.get("smtp"), dict)),
    )
    problems.raise_if_any()
    return config


# ----------------------------------------------------------------------------------------------------
# Several accounts: [[accounts]]
# ----------------------------------------------------------------------------------------------------

# Sections an [[accounts]] entry may set for itself ([accounts.tracking] ...); the top-level ones are the defaults.
ACCOUNT_SECTIONS = ("identity", "tracking", "folders", "cadence", "smtp", "sending")
# Always reported with the entry's label: they describe that one account even when inherited.
_PER_ACCOUNT = frozenset({"account", "tracking", "identity"})
_ACCOUNT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


def account_slug(name: str) -> str:
    """A name safe in file names and PostgreSQL schema names (lower-case letters, digits, ``_``)."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:40] or "account"


def parse_accounts(data: Mapping[str, Any], *, path: Path, env: Mapping[str, str] = os.environ) -> list[Config]:
    """Every account of the file, each a complete Config: its own table merged over the top-level sections.

    A file with a single ``[account]`` gives one Config (its database exactly as configured). With
    ``[[accounts]]``, each account keeps its state apart: SQLite gets one file per account next to the
    configured one (``followupd-<name>.db``), PostgreSQL one schema per account (``followupd_<name>``) in the
    configured database, so accounts can be added and removed without touching each other's data.
    """
    entries = data.get("accounts")
    if entries is None:
        return [parse_config(data, path=path, env=env)]
    top = _Problems(path)
    if "account" in data:
        top.add("account", "the file has both [account] and [[accounts]]; move the [account] keys into an "
                           "[[accounts]] table (one per account)")
    if not isinstance(entries, list) or not entries or not all(isinstance(e, dict) for e in entries):
        top.add("accounts", "[[accounts]] must be a list of tables: start each account with an [[accounts]] "
                            'line followed by its keys (host = "...", username = "...")')
    top.raise_if_any()
    configs: list[Config] = []
    items: list[tuple[str | None, str]] = []
    for index, entry in enumerate(entries, 1):
        problems, merged, name = _account_entry(data, entry, index, path)
        try:
            config = _parse_one(merged, problems, env)
        except ConfigError:
            pass
        else:
            name = name or config.account.username
            configs.append(replace(config, name=name, database=_database_for(config.database, name, problems)))
        items.extend(problems.items)
    _check_unique_accounts(configs, top)
    items.extend(top.items)
    unique = list(dict.fromkeys(items))  # an error in a shared section is reported once, not once per account
    if unique:
        raise ConfigError("\n".join(message for _, message in unique), key=unique[0][0])
    return configs


def _account_entry(data: Mapping[str, Any], entry: Mapping[str, Any], index: int,
                   path: Path) -> tuple[_Problems, dict[str, Any], str | None]:
    raw_name = entry.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) else None
    label = f"[[accounts]] #{index}" + (f" ({name})" if name else "")
    own = frozenset(key for key in ACCOUNT_SECTIONS if isinstance(entry.get(key), dict))
    problems = _Problems(path, label=label, own_sections=_PER_ACCOUNT | own)
    if raw_name is not None and (name is None or not _ACCOUNT_NAME.match(name)):
        problems.add("account.name", f"[account] name = {toml_repr(raw_name)} is not allowed; use letters, "
                                     'digits and . _ @ + - (up to 64), e.g. name = "work"')
        name = None
    merged: dict[str, Any] = {key: value for key, value in data.items() if key != "accounts"}
    account: dict[str, Any] = {}
    for key, value in entry.items():
        if key == "name":
            continue
        if key in own:
            shared = data.get(key)
            merged[key] = {**(shared if isinstance(shared, dict) else {}), **value}
        elif key in _SCHEMA and key != "account":
            problems.add(f"account.{key}", f"[accounts.{key}] cannot be set per account; only "
                                           f"{', '.join(f'[accounts.{s}]' for s in ACCOUNT_SECTIONS)} can. Put it "
                                           f"at the top level as [{key}]")
        else:
            account[key] = value
    merged["account"] = account
    return problems, merged, name


def _database_for(database: DatabaseConfig, name: str, problems: _Problems) -> DatabaseConfig:
    """One account's own place in the configured database: a file of its own, or a schema of its own."""
    slug = account_slug(name)
    parts = url_parts(database.url)
    if parts is None:
        return database
    backend, file = parts
    if backend == "sqlite":
        if not file or file == ":memory:":
            return database
        own = Path(file)
        own = own.with_name(f"{own.stem}-{slug}{own.suffix}")
        return replace(database, url=f"sqlite:///{own}")
    if backend == "postgresql":
        return replace(database, schema=f"followupd_{slug}")
    problems.add("database.url", f"[database] url: several accounts need SQLite or PostgreSQL (one file or one "
                                 f"schema per account), not {backend}")
    return database


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


def _check_unique_accounts(configs: Sequence[Config], problems: _Problems) -> None:
    seen_names: dict[str, str] = {}
    seen_logins: dict[str, str] = {}
    for config in configs:
        slug = account_slug(config.name)
        if slug in seen_names:
            problems.add("accounts", f"[[accounts]] {config.name!r} and {seen_names[slug]!r} need different names "
                                     "(names are used for files and database schemas); set name = \"...\" on one")
        seen_names.setdefault(slug, config.name)
        login = f"{config.account.username}@{config.account.host}".lower()
        if login in seen_logins:
            problems.add("accounts", f"[[accounts]] {config.name!r} and {seen_logins[login]!r} are the same login "
                                     f"({config.account.username} at {config.account.host}); list each account once")
        seen_logins.setdefault(login, config.name)


def _read_config_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"no config at {path}; copy config.example.toml there and edit it "
                          f"(or pass --config PATH, or set ${CONFIG_ENV_VAR})") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a config file") from None
    except PermissionError:
        raise ConfigError(f"cannot read {path}: permission denied") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (bad byte at offset {exc.start}); TOML files are UTF-8") from None


def _load_toml(path: Path) -> dict[str, Any]:
    text = _read_config_text(path)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # The decoder's message carries "(at line L, column C)" and never the offending text: no secret leaks.
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load_config(path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Read, parse and validate the config file (its first account); every failure is a ConfigError naming the file."""
    return parse_config(_load_toml(path), path=path, env=env)


def load_accounts(path: Path, env: Mapping[str, str] = os.environ) -> list[Config]:
    """Every account of the config file, validated together (all problems of all accounts in one error)."""
    return parse_accounts(_load_toml(path), path=path, env=env)


# ----------------------------------------------------------------------------------------------------
# Secrets
# ----------------------------------------------------------------------------------------------------


def config_warnings(path: Path) -> list[str]:
    """Non-fatal advice about the file itself: who else can read or change it, literal secrets, disabled checks.

    A group/world-writable config is risky in any case (an edited ``password_command`` runs as the user). A
    readable one always tells others which accounts exist and where their secrets come from, and hands them
    the secret itself when the file holds one (a literal password, or a database URL with one).
    ``tls_verify = false`` is repeated here so it is seen at start-up, not only in a log line per connect.
    """
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []   # load_config reports these properly
    warnings: list[str] = []
    if mode & 0o022:
        warnings.append(f"config file is writable by other users (mode {mode:04o}); anyone who can edit it "
                        f"can make followupd run commands as you; chmod 600 {path}")
    secrets = _secrets_in(data)
    if mode & 0o044:
        holds = (f"holds {secrets}" if secrets
                 else "shows your accounts and where their secrets come from")
        warnings.append(f"config file is readable by other users (mode {mode:04o}) and {holds}; chmod 600 {path}")
    for label, table in _login_tables(data):
        if "password" in table:
            warnings.append(f"{label} password is a literal secret in the config file; prefer password_command "
                            "(e.g. \"pass show mail/me\"), password_env or password_keyring")
        if table.get("tls_verify") is False:
            warnings.append(insecure_tls_warning(label, str(table.get("host", "the server"))))
    return warnings


def _login_tables(data: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Every table holding a login, with the label messages use: [account], [smtp], [[accounts]] entries."""
    found: list[tuple[str, Mapping[str, Any]]] = []
    for name in ("account", "smtp"):
        table = data.get(name)
        if isinstance(table, dict):
            found.append((f"[{name}]", table))
    entries = data.get("accounts")
    for index, entry in enumerate(entries if isinstance(entries, list) else [], 1):
        if isinstance(entry, dict):
            found.append((f"[[accounts]] #{index}", entry))
            smtp = entry.get("smtp")
            if isinstance(smtp, dict):
                found.append((f"[accounts.smtp] #{index}", smtp))
    return found


def _has_literal_password(data: Mapping[str, Any]) -> bool:
    return any("password" in table for _, table in _login_tables(data))


def _secrets_in(data: Mapping[str, Any]) -> str:
    found: list[str] = []
    if _has_literal_password(data):
        found.append("a literal password")
    database = data.get("database")
    url = database.get("url") if isinstance(database, dict) else None
    if isinstance(url, str) and redact_url(url) != url:
        found.append("a database password")
    return " and ".join(found)

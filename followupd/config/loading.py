"""Reading the file: TOML -> checked tables -> one Config per account, or one ConfigError listing every problem.

Why validate everything up front: a daemon that discovers a typo at 3 a.m., on the first follow-up it tries to
send, has already failed its user. So every key is checked once, at start-up, and nothing else in followupd
re-checks the config. ``[[accounts]]`` entries are merged over the top-level sections here, each account
keeping its state apart (a SQLite file or a PostgreSQL schema of its own). Loading has no side effects beyond
reading the file: secrets are resolved only at login (followupd.adapters.credentials).
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from followupd.adapters.credentials import insecure_tls_warning
from followupd.config.awaiting import build_owed
from followupd.config.cadence import build_cadence
from followupd.config.login import build_account, build_smtp
from followupd.config.model import Config, DatabaseConfig, redact_url, url_parts
from followupd.config.paths import CONFIG_ENV_VAR
from followupd.config.schema import SCHEMA, Problems, Table, check_structure, toml_repr
from followupd.config.sections import (
    build_actions,
    build_database,
    build_digest,
    build_folders,
    build_identity,
    build_replies,
    build_sending,
    build_templates,
    build_tone,
    build_tracking,
)
from followupd.errors import ConfigError
from followupd.mail.patterns import lazy_pattern


def parse_config(data: Mapping[str, Any], *, path: Path, env: Mapping[str, str] = os.environ) -> Config:
    """Validate parsed TOML of a single-account file; raise one ConfigError listing every problem.

    A file with ``[[accounts]]`` is read by :func:`parse_accounts`; this returns its first account."""
    if "accounts" in data:
        return parse_accounts(data, path=path, env=env)[0]
    config = _parse_one(data, Problems(path), env)
    return replace(config, name=config.account.username)


def _parse_one(data: Mapping[str, Any], problems: Problems, env: Mapping[str, str]) -> Config:
    path = problems.path
    tables = check_structure(data, problems)

    def table(name: str) -> Table:
        raw = data.get(name)
        written = frozenset(raw) if isinstance(raw, dict) else frozenset()
        return Table(name, tables[name], written, problems, present=isinstance(raw, dict))

    account = build_account(table("account"))
    identity = build_identity(table("identity"), account.username, env)
    config = Config(
        account=account,
        identity=identity,
        tracking=build_tracking(table("tracking"), identity.addresses),
        folders=build_folders(table("folders")),
        database=build_database(table("database"), env),
        cadence=build_cadence(table("cadence")),
        templates=build_templates(table("templates"), path, env),
        path=path,
        tone=build_tone(table("tone")),
        replies_config=build_replies(table("replies")),
        actions=build_actions(table("actions")),
        digest=build_digest(table("digest")),
        owed=build_owed(table("owed")),
        smtp=build_smtp(table("smtp"), account),
        sending=build_sending(table("sending"), present_smtp=isinstance(data.get("smtp"), dict)),
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
_ACCOUNT_NAME = lazy_pattern(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")


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
    top = Problems(path)
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
                   path: Path) -> tuple[Problems, dict[str, Any], str | None]:
    raw_name = entry.get("name")
    name = raw_name.strip() if isinstance(raw_name, str) else None
    label = f"[[accounts]] #{index}" + (f" ({name})" if name else "")
    own = frozenset(key for key in ACCOUNT_SECTIONS if isinstance(entry.get(key), dict))
    problems = Problems(path, label=label, own_sections=_PER_ACCOUNT | own)
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
        elif key in SCHEMA and key != "account":
            problems.add(f"account.{key}", f"[accounts.{key}] cannot be set per account; only "
                                           f"{', '.join(f'[accounts.{s}]' for s in ACCOUNT_SECTIONS)} can. Put it "
                                           f"at the top level as [{key}]")
        else:
            account[key] = value
    merged["account"] = account
    return problems, merged, name


def _database_for(database: DatabaseConfig, name: str, problems: Problems) -> DatabaseConfig:
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


def _check_unique_accounts(configs: Sequence[Config], problems: Problems) -> None:
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
# Advice about the file itself
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

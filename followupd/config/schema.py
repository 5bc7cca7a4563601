"""The declarative schema of the config file, and the machinery that checks a parsed file against it.

Why one table: the schema is a public contract (``config.example.toml`` documents it), and declaring it in
``SCHEMA`` -- the allowed keys of each section and their TOML types -- means adding a section is an entry here and
a small ``build_*`` function, never a change to the checking code. Every problem names its key, shows the value
as the user wrote it (``<hidden>`` for secrets) and says what is allowed; all problems are collected
(:class:`Problems`) and raised together, so the user fixes the file in one go.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Literal

from followupd.errors import ConfigError

Kind = Literal["string", "integer", "string list", "date list", "string or boolean", "boolean"]


@dataclass(frozen=True)
class Key:
    """One allowed key: its TOML type, whether it must be present, an example for messages, secrecy."""

    kind: Kind
    example: str
    required: bool = False
    secret: bool = False


@dataclass(frozen=True)
class Section:
    """One allowed ``[section]`` and its keys; ``subtables``: keys of ``[section.NAME]`` tables, if allowed,
    with ``subtable_name`` describing NAME (a pattern it must match, and an example)."""

    keys: Mapping[str, Key]
    required: bool = False
    subtables: Mapping[str, Key] | None = None
    subtable_name: tuple[str, str] = ("", "")


def login_keys(*, host: str, port: str, password_env: str, username_required: bool) -> dict[str, Key]:
    """The keys of one login, shared by [account] (IMAP) and [smtp]; only their examples differ.

    followupd.config.login builds and checks them, once for both sections."""
    return {
        "host": Key("string", host, required=True),
        "port": Key("integer", port),
        "tls": Key("string", '"implicit"'),
        "username": Key("string", '"me@example.com"', required=username_required),
        "password_command": Key("string", '"pass show mail/me"'),
        "password_env": Key("string", password_env),
        "password": Key("string", '"..."', secret=True),
        "password_keyring": Key("string", '"followupd"'),
        "oauth2_token_command": Key("string", '"oama access me@gmail.com"'),
        "oauth2_mechanism": Key("string", '"auto"'),
        "tls_ca_file": Key("string", '"/etc/ssl/certs/my-ca.pem"'),
        "tls_verify": Key("boolean", "true"),
    }


_TONE_KEYS: Mapping[str, Key] = {
    "banned_phrases": Key("string list", '["to be honest"]'),
    "allowed_phrases": Key("string list", '["urgent"]'),
    "allowed_caps": Key("string list", '["GDPR", "OKR"]'),
    "max_words": Key("integer", "90"),
}

SCHEMA: Mapping[str, Section] = {
    "account": Section(
        required=True,
        keys={**login_keys(host='"imap.example.com"', port="993", password_env='"FOLLOWUPD_PASSWORD"',
                           username_required=True),
              "idle": Key("boolean", "true")},
    ),
    "identity": Section(
        keys={
            "name": Key("string", '"Alex Example"'),
            "addresses": Key("string list", '["me@example.com", "alex@example.org"]'),
            "timezone": Key("string", '"Europe/Berlin"'),
            "signature": Key("string", '"Alex"'),
        },
    ),
    "tracking": Section(
        required=True,
        keys={"address": Key("string", '"me+followup@example.com"', required=True),
              "expect_all": Key("boolean", "false"),
              "auto": Key("string", '"suggest"'),
              "suggest_days": Key("integer", "14"),
              "auto_exclude": Key("string list", '["@example.com", "boss@example.org"]')},
    ),
    "folders": Section(
        keys={
            "sent": Key("string", '"Sent"'),
            "drafts": Key("string", '"Drafts"'),
            "watch": Key("string list", '["INBOX", "Archive"]'),
        },
    ),
    "database": Section(keys={"url": Key("string", '"sqlite:////home/me/followupd.db"'),
                               "migrate": Key("string", '"auto"'),
                               "lease_period": Key("string", '"60s"')}),
    "cadence": Section(
        keys={
            "gaps": Key("string list", '["3bd", "1w", "2w", "4w"]'),
            "preset": Key("string", '"persistent"'),
            "send_days": Key("string list", '["mon", "tue", "wed", "thu", "fri"]'),
            "send_hours": Key("string", '"09:00-17:00"'),
            "jitter": Key("string", '"45m"'),
            "holidays": Key("date list", '["DE-BY", "2026-12-24"]'),
            "min_days_between_nudges_per_person": Key("integer", "2"),
            "poll_interval": Key("string", '"5m"'),
            "recipient_time": Key("boolean", "true"),
        },
    ),
    "templates": Section(
        keys={
            "dir": Key("string", '"~/.config/followupd/templates"'),
            "disable": Key("string list", '["first/no-rush.txt", "later/*"]'),
            "lang": Key("string", '"en"'),
        },
    ),
    "tone": Section(
        keys=_TONE_KEYS,
        subtables=_TONE_KEYS,
        subtable_name=(r"[a-z]{2,3}", "a language code, e.g. [tone.de]"),
    ),
    "replies": Section(
        keys={
            "ooo_grace": Key("string", '"1bd"'),
            "ooo_default_postpone": Key("string", '"1w"'),
            "ooo_horizon_days": Key("integer", "90"),
            "holding_default": Key("string", '"1w"'),
            "match_domain": Key("boolean", "false"),
        },
        subtables={
            "holding": Key("string list", '["circle back after the board meeting"]'),
            "declined": Key("string list", '["we went with another vendor"]'),
            "asking": Key("string list", '["ping me when"]'),
            "not_asking": Key("string list", '["nothing to do for you"]'),
            "remove": Key("string list", '["no thanks"]'),
            "replace": Key("boolean", "false"),
        },
        subtable_name=(r"[a-z]{2,3}", "a language code, e.g. [replies.de]"),
    ),
    "actions": Section(
        keys={
            "grace": Key("string", '"1bd"'),
            "default_due": Key("string", '"1w"'),
            "rollup": Key("string", '"auto"'),
        },
    ),
    "digest": Section(
        keys={
            "enabled": Key("boolean", "true"),
            "day": Key("string", '"mon"'),
            "time": Key("string", '"08:00"'),
        },
    ),
    "owed": Section(
        keys={
            "enabled": Key("boolean", "false"),
            "after": Key("string", '"2bd"'),
        },
    ),
    "smtp": Section(keys=login_keys(host='"smtp.example.com"', port="465", password_env='"FOLLOWUPD_SMTP_PASSWORD"',
                                    username_required=False)),
    "sending": Section(
        keys={
            "mode": Key("string", '"review"'),
            "review_window": Key("string", '"4h"'),
            "max_per_hour": Key("integer", "10"),
            "max_per_day": Key("integer", "40"),
            "file_sent_copy": Key("string or boolean", '"auto"'),
        },
    ),
}


# ----------------------------------------------------------------------------------------------------
# Collecting problems
# ----------------------------------------------------------------------------------------------------


@dataclass
class Problems:
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


def did_you_mean(word: str, choices: Sequence[str], template: str) -> str:
    """A suggestion only when one is close: a wrong guess is worse than none."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return template.format(close[0]) if close else ""


def quoted_list(values: Sequence[str]) -> str:
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


def _type_problem(section: str, key: str, spec: Key, value: Any) -> str:
    shown = "<hidden>" if spec.secret else toml_repr(value)
    found = _toml_type(value)
    if isinstance(value, list) and spec.kind in ("string list", "date list"):
        bad = next(item for item in value if not _kind_matches(spec.kind, [item]))
        found = f"an array containing {_toml_type(bad)}"
    return (
        f"[{section}] {key} = {shown} must be {_KIND_WORDS[spec.kind]}, not {found}; "
        f"e.g. {key} = {spec.example}"
    )


def check_structure(data: Mapping[str, Any], problems: Problems) -> dict[str, dict[str, Any]]:
    """Report unknown/misplaced/missing sections and keys and wrong types; return only the well-typed values.

    Later checks therefore see each value either well-typed or absent, and never report a second, confusing
    problem about a value already reported here.
    """
    tables: dict[str, dict[str, Any]] = {name: {} for name in SCHEMA}
    for name, value in data.items():
        if name in SCHEMA and isinstance(value, dict):
            tables[name] = _check_section(name, value, problems)
        else:
            _report_top_level(name, value, problems)
    for name, section in SCHEMA.items():
        if section.required and name not in data:
            problems.add(name, f"missing section [{name}]; it needs {_required_keys(section)}")
    return tables


def _required_keys(section: Section) -> str:
    names = [key for key, spec in section.keys.items() if spec.required]
    return " and ".join(f"{key} = {section.keys[key].example}" for key in names) or "nothing"


def _report_top_level(name: str, value: Any, problems: Problems) -> None:
    if name in SCHEMA:
        problems.add(name, f"[{name}] must be a table (a [{name}] header), not {_toml_type(value)}")
        return
    if isinstance(value, dict):
        hint = did_you_mean(name, list(SCHEMA), "; did you mean [{}]?")
        problems.add(name, f"unknown section [{name}]{hint or '; allowed: ' + ', '.join(SCHEMA)}")
        return
    owner = _section_owning(name)
    where = f"; put it under [{owner}]" if owner else "; every setting belongs in a [section]"
    problems.add(name, f"key {name} is outside any section{where}")


def _section_owning(key: str) -> str | None:
    return next((name for name, section in SCHEMA.items() if key in section.keys), None)


def _check_section(name: str, values: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    spec = SCHEMA[name]
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


def _check_subtable(name: str, sub: str, values: Mapping[str, Any], spec: Section,
                    problems: Problems) -> dict[str, Any]:
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
            hint = did_you_mean(key, list(keys), '; did you mean "{}"?')
            problems.add(f"{name}.{sub}.{key}", f"unknown key [{name}.{sub}] {key}{hint}")
        elif not _kind_matches(key_spec.kind, value):
            problems.add(f"{name}.{sub}.{key}", _type_problem(f"{name}.{sub}", key, key_spec, value))
        else:
            typed[key] = value
    return typed


def _unknown_key(section: str, key: str) -> str:
    hint = did_you_mean(key, list(SCHEMA[section].keys), '; did you mean "{}"?')
    owner = _section_owning(key)
    if not hint and owner is not None:
        hint = f"; it belongs in [{owner}]"
    return f"unknown key [{section}] {key}{hint}"


# ----------------------------------------------------------------------------------------------------
# Reading one section's values
# ----------------------------------------------------------------------------------------------------


@dataclass
class Table:
    """Typed access to one section's (already type-checked) values, and problem reports naming the key."""

    name: str
    values: Mapping[str, Any]       # only the well-typed values
    written: frozenset[str]         # every key the file sets in this section, well-typed or not
    problems: Problems
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
        spec = SCHEMA[self.name].keys[key]
        if shown is None:
            shown = "<hidden>" if spec.secret else toml_repr(self.values.get(key))
        self.problems.add(f"{self.name}.{key}", f"[{self.name}] {key} = {shown} is not allowed; {allowed}")

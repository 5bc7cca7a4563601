"""The sections without a login: who the user is, what to track, folders, database, templates, tone, sending
and replies. Each ``build_*`` turns one type-checked table into its settings and reports bad values by key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from followupd.compose.tone import ToneAdjustments, ToneSettings, all_builtin_phrases, is_builtin_phrase
from followupd.config.awaiting import auto_tracking
from followupd.config.cadence import weekday_number
from followupd.config.model import (
    SENDING_MODES,
    DatabaseConfig,
    DigestConfig,
    FoldersConfig,
    IdentityConfig,
    RepliesConfig,
    SendingConfig,
    SendingMode,
    TemplatesConfig,
    TrackingConfig,
    redact_url,
)
from followupd.config.paths import default_data_dir, expand_user, local_timezone, zone_or_none
from followupd.config.schema import Table, did_you_mean, quoted_list, toml_repr
from followupd.mail.ask_settings import AskPhrases, AskSettings
from followupd.mail.intent_phrases import PhraseSet, norm_phrase
from followupd.mail.patterns import lazy_pattern
from followupd.planning.cadence import Gap, gap_minimum, parse_duration, parse_gap
from followupd.planning.checkins import ActionSettings

_EMAIL_FORBIDDEN = lazy_pattern(r"[\s<>(),;:\"\[\]\\]")


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


# ----------------------------------------------------------------------------------------------------
# [identity] and [tracking]
# ----------------------------------------------------------------------------------------------------


def build_identity(table: Table, username: str, env: Mapping[str, str]) -> IdentityConfig:
    name = table.text("name") or ""
    signature = table.text("signature")
    return IdentityConfig(
        name=name,
        addresses=_identity_addresses(table, username),
        timezone=_identity_timezone(table, env),
        signature=name if signature is None else signature,
    )


def _identity_addresses(table: Table, username: str) -> tuple[str, ...]:
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


def _identity_timezone(table: Table, env: Mapping[str, str]) -> ZoneInfo:
    key = table.text("timezone")
    if key is None:
        return local_timezone(env)
    zone = zone_or_none(key.strip())
    if zone is None:
        table.bad("timezone",
                  'use an IANA time zone name such as "Europe/Berlin", "America/New_York" or "UTC"')
        return ZoneInfo("UTC")
    return zone


def build_tracking(table: Table, own: Sequence[str]) -> TrackingConfig:
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
    auto, suggest_days, auto_exclude = auto_tracking(table)
    return TrackingConfig(address=address, expect_all=expect_all if isinstance(expect_all, bool) else False,
                          auto=auto, suggest_days=suggest_days, auto_exclude=auto_exclude)


# ----------------------------------------------------------------------------------------------------
# [folders], [database], [templates]
# ----------------------------------------------------------------------------------------------------


def build_folders(table: Table) -> FoldersConfig:
    return FoldersConfig(
        sent=_folder_name(table, "sent"),
        drafts=_folder_name(table, "drafts"),
        watch=_folder_watch(table),
    )


def _folder_name(table: Table, key: str) -> str | None:
    value = table.text(key)
    if value is not None and not value.strip():
        table.error(key, "is empty; name the folder, or leave the key out to find it through SPECIAL-USE")
        return None
    return value


def _folder_watch(table: Table) -> tuple[str, ...] | None:
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


_URL_SCHEME = lazy_pattern(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def build_database(table: Table, env: Mapping[str, str]) -> DatabaseConfig:
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
        url = f"sqlite:///{expand_user(url.removeprefix('sqlite:///'), env)}"
    return DatabaseConfig(url=url, migrate=migrate, lease_period=period)


def build_templates(table: Table, config_path: Path, env: Mapping[str, str]) -> TemplatesConfig:
    return TemplatesConfig(dir=_templates_dir(table, config_path, env), disable=_templates_disable(table),
                           lang=_templates_lang(table))


def _templates_dir(table: Table, config_path: Path, env: Mapping[str, str]) -> Path | None:
    """Relative paths are relative to the config file, so the config works whatever the working directory."""
    raw = table.text("dir")
    if raw is None:
        return None
    directory = expand_user(raw.strip(), env)
    if not directory.is_absolute():
        directory = config_path.parent / directory
    if not directory.is_dir():
        what = "is not a directory" if directory.exists() else "does not exist"
        table.bad("dir", f"{directory} {what}; create it, or leave the key out to use the built-in templates")
        return None
    return directory


def _templates_disable(table: Table) -> tuple[str, ...]:
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


def _templates_lang(table: Table) -> str:
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


def build_tone(table: Table) -> ToneSettings:
    """``[tone]`` applies to every language, ``[tone.<lang>]`` to that language's templates on top of it."""
    languages = {
        name: _tone_adjustments(table, values, f"tone.{name}", (name,))
        for name, values in table.values.items() if isinstance(values, dict)
    }
    return ToneSettings(common=_tone_adjustments(table, table.values, "tone", None), languages=languages)


def _tone_adjustments(table: Table, values: Mapping[str, Any], label: str,
                      langs: tuple[str, ...] | None) -> ToneAdjustments:
    def strings(key: str) -> tuple[str, ...]:
        raw = values.get(key)
        items = [" ".join(item.split()) for item in raw] if isinstance(raw, list) else []
        if any(not item for item in items):
            table.problems.add(f"{label}.{key}", f"[{label}] {key} contains an empty string; remove it")
        return tuple(dict.fromkeys(item for item in items if item))

    for phrase in strings("allowed_phrases"):
        if not is_builtin_phrase(phrase, langs):
            hint = did_you_mean(phrase, all_builtin_phrases(), '; did you mean "{}"?')
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
# [sending] and [replies]
# ----------------------------------------------------------------------------------------------------


def build_sending(table: Table, *, present_smtp: bool) -> SendingConfig:
    defaults = SendingConfig()
    mode_text = table.text("mode")
    mode: SendingMode = defaults.mode
    if mode_text is not None:
        matched = [m for m in SENDING_MODES if m == mode_text.strip().lower()]
        if matched:
            mode = matched[0]
        else:
            table.bad("mode", f"use one of {quoted_list(SENDING_MODES)}")
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


def build_replies(table: Table) -> RepliesConfig:
    """[replies], checked now; the core's ReplySettings is made from it on first use (``Config.replies``)."""
    grace = None
    if table.text("ooo_grace") is not None:
        try:
            grace = parse_gap(table.text("ooo_grace") or "")
        except ValueError as exc:
            table.bad("ooo_grace", str(exc))

    def duration(key: str) -> timedelta | None:
        text = table.text(key)
        if text is None:
            return None
        try:
            value = parse_duration(text)
        except ValueError as exc:
            table.bad(key, str(exc))
            return None
        if value < timedelta(days=1):
            table.bad(key, 'use at least a day, e.g. "1w"')
        return value

    horizon = table.integer("ooo_horizon_days")
    if horizon is not None and not 1 <= horizon <= 366:
        table.bad("ooo_horizon_days", "use 1 to 366 days")
    phrases: dict[str, PhraseSet] = {}
    asks: dict[str, AskPhrases] = {}
    for lang, values in table.values.items():
        if not isinstance(values, dict):
            continue

        def strings(key: str, values: Mapping[str, Any] = values) -> tuple[str, ...]:
            raw = values.get(key)
            return tuple(" ".join(str(item).split()) for item in raw if str(item).strip()) if isinstance(raw, list) \
                else ()

        phrases[lang] = PhraseSet(holding=strings("holding"), declined=strings("declined"), remove=strings("remove"),
                                  replace=bool(values.get("replace", False)))
        if not any(key in values for key in ("asking", "not_asking", "remove")):
            continue  # a table about holding/declined only: its `replace` must not empty the asking lists
        # `replace` swaps the asking lists only when the table writes one of them: a user who replaced the
        # holding/declined lists before issue 14 keeps every built-in asking phrase of that language.
        writes_asks = "asking" in values or "not_asking" in values
        asks[lang] = AskPhrases(asking=_ask_phrases(table, lang, values, "asking"),
                                not_asking=_ask_phrases(table, lang, values, "not_asking"), remove=strings("remove"),
                                replace=writes_asks and bool(values.get("replace", False)))
        for phrase in set(map(norm_phrase, asks[lang].asking)) & set(map(norm_phrase, asks[lang].not_asking)):
            table.problems.add(f"replies.{lang}.not_asking",
                               f"[replies.{lang}] {toml_repr(phrase)} is in both asking and not_asking; keep it in "
                               "the one it means")
    match_domain = table.values.get("match_domain")
    return RepliesConfig(
        ooo_grace=grace,
        ooo_default_postpone=duration("ooo_default_postpone"),
        ooo_horizon_days=horizon if horizon is not None and 1 <= horizon <= 366 else None,
        holding_default=duration("holding_default"),
        match_domain=match_domain if isinstance(match_domain, bool) else None,
        phrases=phrases,
        asks=AskSettings(phrases=asks),
    )


def _ask_phrases(table: Table, lang: str, values: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """``[replies.<lang>] asking`` / ``not_asking``: phrases as written (spaces squeezed), each with a word in it.

    An empty string or a phrase of only "..." and "$" would match everywhere or nowhere, so it is refused."""
    raw = values.get(key)
    if not isinstance(raw, list):
        return ()
    kept: list[str] = []
    for item in raw:
        phrase = " ".join(str(item).split())
        if not phrase:
            table.problems.add(f"replies.{lang}.{key}", f"[replies.{lang}] {key} contains an empty string; remove it")
        elif not any(ch.isalnum() for ch in phrase.replace("...", "")):
            table.problems.add(f"replies.{lang}.{key}",
                               f"[replies.{lang}] {key}: {toml_repr(phrase)} has no word in it; a phrase needs at "
                               'least one word, e.g. "ping me when"')
        else:
            kept.append(phrase)
    return tuple(dict.fromkeys(kept))


# ----------------------------------------------------------------------------------------------------
# [actions]
# ----------------------------------------------------------------------------------------------------


def build_actions(table: Table) -> ActionSettings:
    """Meeting recaps: how long after an item's date its owner is asked, the date of an item without one, and
    whether everyone gets the roll-up."""
    defaults = ActionSettings()

    def gap(key: str, default: Gap, *, at_least: timedelta = timedelta(0)) -> Gap:
        text = table.text(key)
        if text is None:
            return default
        try:
            value = parse_gap(text)
        except ValueError as exc:
            table.bad(key, str(exc))
            return default
        if gap_minimum(value) < at_least:
            table.bad(key, 'use at least a day, e.g. "1w"')
            return default
        return value

    grace = gap("grace", defaults.grace)
    default_due = gap("default_due", defaults.default_due, at_least=timedelta(days=1))
    rollup = defaults.rollup
    text = table.text("rollup")
    if text is not None:
        if text.strip().lower() in ("auto", "off"):
            rollup = "auto" if text.strip().lower() == "auto" else "off"
        else:
            table.bad("rollup", 'use "auto" (a roll-up to everyone once the last date has passed) or "off"')
    return ActionSettings(grace=grace, default_due=default_due, rollup=rollup)


# ----------------------------------------------------------------------------------------------------
# [digest]
# ----------------------------------------------------------------------------------------------------

_CLOCK_TIME = lazy_pattern(r"([01]?\d|2[0-3]):([0-5]\d)")


def build_digest(table: Table) -> DigestConfig:
    """The weekly digest: on by default, Monday 08:00 in the user's time zone ([identity] timezone)."""
    defaults = DigestConfig()
    enabled = table.values.get("enabled")
    weekday = defaults.weekday
    day = table.text("day")
    if day is not None:
        number = weekday_number(day)
        if number is None:
            table.bad("day", 'name one weekday: mon..sun or monday..sunday, e.g. "mon"')
        else:
            weekday = number
    at = defaults.at
    clock = table.text("time")
    if clock is not None:
        match = _CLOCK_TIME.fullmatch(clock.strip())
        if match is None:
            table.bad("time", 'write a 24-hour local time HH:MM, e.g. "08:00" or "17:30"')
        else:
            at = time(int(match.group(1)), int(match.group(2)))
    return DigestConfig(enabled=enabled if isinstance(enabled, bool) else defaults.enabled, weekday=weekday, at=at)

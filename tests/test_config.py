"""Tests for followupd.config: the TOML schema, every validation rule, its messages, and secret handling."""

from __future__ import annotations

import copy
import dataclasses
import os
import shlex
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from followupd.config import (
    AccountConfig,
    Config,
    DatabaseConfig,
    OwedConfig,
    config_warnings,
    default_config_path,
    default_data_dir,
    email_problem,
    is_loopback,
    load_config,
    local_timezone,
    parse_accounts,
    parse_config,
    redact_url,
    resolve_config_path,
    resolve_password,
    toml_repr,
)
from followupd.errors import ConfigError, SecretError
from followupd.planning.cadence import CadenceSettings, Gap
from followupd.planning.checkins import ActionSettings

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config.example.toml"
PATH = Path("config.toml")
SECRET = "hunter2-Very-Secret"
PY = shlex.quote(sys.executable)


def minimal() -> dict[str, Any]:
    """The smallest valid config, as tomllib would return it."""
    return {
        "account": {"host": "imap.example.com", "username": "me@example.com", "password_env": "IMAP_PW"},
        "tracking": {"address": "me+followup@example.com"},
    }


def with_(section: str, **values: Any) -> dict[str, Any]:
    data = copy.deepcopy(minimal())
    data.setdefault(section, {}).update(values)
    return data


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A hermetic environment: home in tmp, a fixed zone, no XDG variables."""
    return {"HOME": str(tmp_path / "home"), "TZ": "Europe/Berlin"}


def parse(data: dict[str, Any], env: dict[str, str], path: Path = PATH) -> Config:
    return parse_config(data, path=path, env=env)


def error(data: dict[str, Any], env: dict[str, str], path: Path = PATH) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path=path, env=env)
    return info.value


# ---------------------------------------------------------------------------------------------------------
# Defaults
# ---------------------------------------------------------------------------------------------------------


def test_minimal_config_gets_documented_defaults(env: dict[str, str]) -> None:
    config = parse(minimal(), env)
    assert config.account == AccountConfig(
        host="imap.example.com", port=993, tls="implicit", username="me@example.com",
        password_command=None, password_env="IMAP_PW", password=None,
    )
    assert config.identity.name == ""
    assert config.identity.addresses == ("me@example.com",)
    assert config.identity.timezone == ZoneInfo("Europe/Berlin")
    assert config.identity.signature == ""
    assert config.tracking.address == "me+followup@example.com"
    assert (config.folders.sent, config.folders.drafts, config.folders.watch) == (None, None, None)
    assert config.database.url == f"sqlite:///{env['HOME']}/.local/share/followupd/followupd.db"
    assert config.cadence == CadenceSettings()
    assert config.templates.dir is None
    assert config.path == PATH


def test_config_is_frozen(env: dict[str, str]) -> None:
    config = parse(minimal(), env)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.account.host = "evil.example.com"  # type: ignore[misc]


@pytest.mark.parametrize(("tls", "port"), [("implicit", 993), ("starttls", 143)])
def test_default_port_follows_tls(env: dict[str, str], tls: str, port: int) -> None:
    assert parse(with_("account", tls=tls), env).account.port == port


def test_default_port_without_tls_is_143(env: dict[str, str]) -> None:
    assert parse(with_("account", tls="none", host="localhost"), env).account.port == 143


def test_explicit_port_wins(env: dict[str, str]) -> None:
    assert parse(with_("account", port=1993), env).account.port == 1993


# ---------------------------------------------------------------------------------------------------------
# Message format: file, [section] key, value, what is allowed; key=
# ---------------------------------------------------------------------------------------------------------


def test_bad_choice_message_names_file_key_value_and_choices(env: dict[str, str]) -> None:
    err = error(with_("account", tls="tsl"), env)
    assert str(err) == (
        'config.toml: [account] tls = "tsl" is not allowed; use one of "implicit", "starttls", "none"')
    assert err.key == "account.tls"


def test_message_names_the_full_path_given(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "conf" / "followupd.toml"
    assert str(error(with_("account", tls="tsl"), env, path)).startswith(f"{path}: [account] tls")


def test_wrong_type_is_named(env: dict[str, str]) -> None:
    err = error(with_("account", port="993"), env)
    assert str(err) == 'config.toml: [account] port = "993" must be an integer, not a string; e.g. port = 993'
    assert err.key == "account.port"


def test_boolean_is_not_an_integer(env: dict[str, str]) -> None:
    assert "port = true must be an integer, not a boolean" in str(error(with_("account", port=True), env))


def test_wrong_item_type_in_list_is_named(env: dict[str, str]) -> None:
    err = error(with_("cadence", gaps=["3bd", 5]), env)
    expected = '[cadence] gaps = ["3bd", 5] must be a list of strings, not an array containing an integer'
    assert expected in str(err)


def test_string_where_list_expected(env: dict[str, str]) -> None:
    err = error(with_("identity", addresses="me@example.com"), env)
    assert '[identity] addresses = "me@example.com" must be a list of strings, not a string' in str(err)
    assert err.key == "identity.addresses"


def test_all_problems_are_reported_together_and_key_is_the_first(env: dict[str, str]) -> None:
    data = with_("account", tls="tsl", port=0)
    data["cadence"] = {"gaps": ["1d"], "poll_interval": "0m"}
    err = error(data, env)
    lines = str(err).splitlines()
    assert len(lines) == 4
    assert all(line.startswith("config.toml: ") for line in lines)
    assert [k for k in ("tls", "port", "gaps", "poll_interval") if any(k in line for line in lines)] == [
        "tls", "port", "gaps", "poll_interval"]
    assert err.key == "account.tls"


def test_toml_repr_shows_values_as_written() -> None:
    assert toml_repr("tsl") == '"tsl"'
    assert toml_repr(True) == "true"
    assert toml_repr([1, "a"]) == '[1, "a"]'
    assert toml_repr(date(2026, 12, 25)) == "2026-12-25"
    assert toml_repr({"a": 1}) == "{a = 1}"


# ---------------------------------------------------------------------------------------------------------
# Unknown / misplaced / missing sections and keys
# ---------------------------------------------------------------------------------------------------------


def test_unknown_key_with_did_you_mean(env: dict[str, str]) -> None:
    data = minimal()
    data["account"]["hots"] = "imap.example.com"
    err = error(data, env)
    assert 'config.toml: unknown key [account] hots; did you mean "host"?' in str(err).splitlines()
    assert err.key == "account.hots"


def test_unknown_key_without_close_match_has_no_guess(env: dict[str, str]) -> None:
    err = error(with_("account", frobnicate=1), env)
    assert str(err) == "config.toml: unknown key [account] frobnicate"


def test_key_in_the_wrong_section_says_where_it_belongs(env: dict[str, str]) -> None:
    err = error(with_("account", timezone="Europe/Berlin"), env)
    assert str(err) == "config.toml: unknown key [account] timezone; it belongs in [identity]"


def test_unknown_section_with_did_you_mean(env: dict[str, str]) -> None:
    data = minimal()
    data["cadense"] = {"gaps": ["1w"]}
    err = error(data, env)
    assert str(err) == "config.toml: unknown section [cadense]; did you mean [cadence]?"
    assert err.key == "cadense"


def test_unknown_section_without_close_match_lists_sections(env: dict[str, str]) -> None:
    data = minimal()
    data["zzz"] = {}
    message = str(error(data, env))
    assert message.startswith("config.toml: unknown section [zzz]; allowed: account, identity, tracking")


def test_key_outside_any_section(env: dict[str, str]) -> None:
    data = minimal()
    data["timezone"] = "Europe/Berlin"
    expected = "config.toml: key timezone is outside any section; put it under [identity]"
    assert str(error(data, env)) == expected


def test_section_that_is_not_a_table(env: dict[str, str]) -> None:
    data = minimal()
    data["cadence"] = "weekly"
    expected = "config.toml: [cadence] must be a table (a [cadence] header), not a string"
    assert str(error(data, env)) == expected


def test_empty_file_reports_only_the_missing_sections(env: dict[str, str]) -> None:
    lines = str(error({}, env)).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith('config.toml: missing section [account]; it needs host = "imap.example.com"')
    assert lines[1].startswith("config.toml: missing section [tracking]; it needs address =")


@pytest.mark.parametrize(
    ("section", "key"), [("account", "host"), ("account", "username"), ("tracking", "address")])
def test_required_keys(env: dict[str, str], section: str, key: str) -> None:
    data = minimal()
    del data[section][key]
    err = error(data, env)
    assert f"[{section}] {key} is required" in str(err)
    assert err.key == f"{section}.{key}"


# ---------------------------------------------------------------------------------------------------------
# [account]
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.8.9.10", "::1", "[::1]", "LOCALHOST"])
def test_tls_none_allowed_on_loopback(env: dict[str, str], host: str) -> None:
    assert parse(with_("account", tls="none", host=host), env).account.tls == "none"


@pytest.mark.parametrize(
    "host", ["imap.example.com", "10.0.0.1", "128.0.0.1", "localhost.example.com", "::2"])
def test_tls_none_refused_on_other_hosts(env: dict[str, str], host: str) -> None:
    err = error(with_("account", tls="none", host=host), env)
    assert '[account] tls = "none" is not allowed; TLS may only be off for a loopback host' in str(err)
    assert repr(host) in str(err)
    assert "clear text" in str(err)
    assert err.key == "account.tls"


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("example.com") and not is_loopback("192.168.1.1") and not is_loopback("")


def test_tls_is_case_insensitive(env: dict[str, str]) -> None:
    assert parse(with_("account", tls="STARTTLS"), env).account.tls == "starttls"


@pytest.mark.parametrize("port", [0, -1, 65536])
def test_port_range(env: dict[str, str], port: int) -> None:
    assert f"[account] port = {port} is not allowed; use a TCP port from 1 to 65535" in str(
        error(with_("account", port=port), env))


@pytest.mark.parametrize(
    ("host", "hint"),
    [("", "give the server name"), ("imaps://imap.example.com", "without imaps://"),
     ("imap.example.com:993", "port = 993"), ("imap example.com", "no spaces")],
)
def test_host_mistakes(env: dict[str, str], host: str, hint: str) -> None:
    err = error(with_("account", host=host), env)
    assert f"[account] host = {toml_repr(host)} is not allowed" in str(err)
    assert hint in str(err)


def test_empty_username(env: dict[str, str]) -> None:
    data = with_("account", username="")
    data["identity"] = {"addresses": ["me@example.com"]}
    assert "[account] username is empty" in str(error(data, env))


def test_password_source_required(env: dict[str, str]) -> None:
    data = minimal()
    del data["account"]["password_env"]
    err = error(data, env)
    assert "[account] needs one password source: password_command" in str(err)
    assert "password_env" in str(err) and "discouraged" in str(err)
    assert err.key == "account.password_command"


def test_two_password_sources_refused_without_showing_them(env: dict[str, str]) -> None:
    err = error(with_("account", password=SECRET), env)
    assert "[account] sets password_env and password; keep exactly one password source" in str(err)
    assert SECRET not in str(err)
    assert err.key == "account.password"


@pytest.mark.parametrize("source", ["password_command", "password_env", "password"])
def test_empty_password_source(env: dict[str, str], source: str) -> None:
    data = minimal()
    del data["account"]["password_env"]
    data["account"][source] = ""
    assert f"[account] {source} is empty" in str(error(data, env))


def test_password_env_must_be_a_name(env: dict[str, str]) -> None:
    err = error(with_("account", password_env="$IMAP_PW"), env)
    assert '[account] password_env = "$IMAP_PW" is not allowed; give the variable\'s name only' in str(err)


def test_literal_password_is_accepted(env: dict[str, str]) -> None:
    data = minimal()
    del data["account"]["password_env"]
    data["account"]["password"] = SECRET
    assert parse(data, env).account.password == SECRET


# ---------------------------------------------------------------------------------------------------------
# Secrets never shown
# ---------------------------------------------------------------------------------------------------------


def test_repr_never_shows_the_password(env: dict[str, str]) -> None:
    data = minimal()
    del data["account"]["password_env"]
    data["account"]["password"] = SECRET
    config = parse(data, env)
    assert SECRET not in repr(config.account)
    assert SECRET not in repr(config)
    assert SECRET not in str(config)


def test_wrongly_typed_secret_is_not_echoed(env: dict[str, str]) -> None:
    data = minimal()
    del data["account"]["password_env"]
    data["account"]["password"] = 987654321
    err = error(data, env)
    assert str(err) == ('config.toml: [account] password = <hidden> must be a string, not an integer; '
                        'e.g. password = "..."')
    assert "987654321" not in str(err)


def test_misspelt_secret_key_is_not_echoed(env: dict[str, str]) -> None:
    data = minimal()
    del data["account"]["password_env"]
    data["account"]["passwrd"] = SECRET
    data["pasword"] = SECRET
    err = error(data, env)
    assert 'unknown key [account] passwrd; did you mean "password"?' in str(err)
    assert SECRET not in str(err)


def test_loading_never_runs_the_password_command(env: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    data = minimal()
    del data["account"]["password_env"]
    data["account"]["password_command"] = f"touch {shlex.quote(str(marker))}"
    parse(data, env)
    assert not marker.exists()


def test_database_password_is_redacted_in_repr_and_messages(env: dict[str, str]) -> None:
    config = parse(with_("database", url=f"postgresql+psycopg://me:{SECRET}@db.example.com/followupd"), env)
    assert config.database.url.endswith(f":{SECRET}@db.example.com/followupd")
    assert SECRET not in repr(config.database)
    assert SECRET not in repr(config)
    err = error(with_("database", url=f"me:{SECRET}@db.example.com"), env)
    assert SECRET not in str(err)


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
    assert redact_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert repr(DatabaseConfig("mysql://a:b@c/d")).startswith("DatabaseConfig(url='mysql://a:***@c/d',")


# ---------------------------------------------------------------------------------------------------------
# [identity]
# ---------------------------------------------------------------------------------------------------------


def test_addresses_are_lower_cased_and_deduplicated(env: dict[str, str]) -> None:
    data = with_("identity", addresses=["Me@Example.com", "alex@example.org", "me@example.com"])
    assert parse(data, env).identity.addresses == ("me@example.com", "alex@example.org")


def test_default_address_is_the_username_lower_cased(env: dict[str, str]) -> None:
    assert parse(with_("account", username="Me@Example.COM"), env).identity.addresses == ("me@example.com",)


def test_addresses_required_when_username_is_not_an_email(env: dict[str, str]) -> None:
    err = error(with_("account", username="alex"), env)
    expected = '[identity] addresses is missing and [account] username = "alex" is not an email address'
    assert expected in str(err)
    assert err.key == "identity.addresses"


def test_non_email_username_is_fine_with_addresses(env: dict[str, str]) -> None:
    data = with_("account", username="alex")
    data["identity"] = {"addresses": ["alex@example.org"]}
    assert parse(data, env).identity.addresses == ("alex@example.org",)


def test_addresses_must_not_be_empty(env: dict[str, str]) -> None:
    err = error(with_("identity", addresses=[]), env)
    assert "[identity] addresses = [] is not allowed; list at least one of your own addresses" in str(err)


def test_invalid_address_is_named(env: dict[str, str]) -> None:
    err = error(with_("identity", addresses=["me@example.com", "Alex <alex@example.org>"]), env)
    assert '"Alex <alex@example.org>" is not an email address' in str(err)
    assert "bare address" in str(err)


@pytest.mark.parametrize("address", ["me@example.com", "a.b+c@sub.example.co.uk", "root@localhost"])
def test_valid_addresses(address: str) -> None:
    assert email_problem(address) is None


@pytest.mark.parametrize(
    "address", ["", "me", "@example.com", "me@@example.com", "a@b@example.com", "me@example", "me@.com",
                "me@example.", "me @example.com", "<me@example.com>"],
)
def test_invalid_addresses(address: str) -> None:
    assert email_problem(address) is not None


def test_timezone_explicit(env: dict[str, str]) -> None:
    assert parse(with_("identity", timezone="America/New_York"), env).identity.timezone == ZoneInfo(
        "America/New_York")


@pytest.mark.parametrize("zone", ["Mars/Olympus", "Europe", "", "../etc/passwd"])
def test_timezone_invalid(env: dict[str, str], zone: str) -> None:
    err = error(with_("identity", timezone=zone), env)
    assert f"[identity] timezone = {toml_repr(zone)} is not allowed; use an IANA time zone name" in str(err)
    assert err.key == "identity.timezone"


def test_signature_defaults_to_name_but_can_be_empty(env: dict[str, str]) -> None:
    assert parse(with_("identity", name="Alex"), env).identity.signature == "Alex"
    assert parse(with_("identity", name="Alex", signature=""), env).identity.signature == ""
    assert parse(with_("identity", name="Alex", signature="A."), env).identity.signature == "A."


def test_local_timezone_from_tz_variants(tmp_path: Path) -> None:
    assert local_timezone({"TZ": "Asia/Tokyo"}, etc=tmp_path) == ZoneInfo("Asia/Tokyo")
    assert local_timezone({"TZ": ":Europe/Paris"}, etc=tmp_path) == ZoneInfo("Europe/Paris")
    assert local_timezone({"TZ": "/usr/share/zoneinfo/Europe/Rome"}, etc=tmp_path) == ZoneInfo("Europe/Rome")


def test_local_timezone_falls_back_to_localtime_link(tmp_path: Path) -> None:
    (tmp_path / "localtime").symlink_to("/usr/share/zoneinfo/America/Chicago")
    assert local_timezone({"TZ": "CET-1CEST"}, etc=tmp_path) == ZoneInfo("America/Chicago")


def test_local_timezone_falls_back_to_timezone_file(tmp_path: Path) -> None:
    (tmp_path / "timezone").write_text("Australia/Sydney\n")
    assert local_timezone({}, etc=tmp_path) == ZoneInfo("Australia/Sydney")


def test_local_timezone_defaults_to_utc(tmp_path: Path) -> None:
    (tmp_path / "timezone").write_text("Not/AZone\n")
    assert local_timezone({}, etc=tmp_path) == ZoneInfo("UTC")


# ---------------------------------------------------------------------------------------------------------
# [tracking], [folders]
# ---------------------------------------------------------------------------------------------------------


def test_tracking_address_lower_cased(env: dict[str, str]) -> None:
    assert parse(with_("tracking", address="Me+FollowUp@Example.com"), env).tracking.address == (
        "me+followup@example.com")


def test_tracking_address_must_be_valid(env: dict[str, str]) -> None:
    err = error(with_("tracking", address="followup"), env)
    assert '[tracking] address = "followup" is not allowed' in str(err)
    assert err.key == "tracking.address"


def test_tracking_address_must_not_be_an_own_address(env: dict[str, str]) -> None:
    err = error(with_("tracking", address="me@example.com"), env)
    assert "one of your own [identity] addresses" in str(err)


def test_folders(env: dict[str, str]) -> None:
    data = with_("folders", sent="[Gmail]/Sent Mail", drafts="Entwürfe", watch=["INBOX", "Lists/x", "INBOX"])
    folders = parse(data, env).folders
    assert folders.sent == "[Gmail]/Sent Mail"
    assert folders.drafts == "Entwürfe"
    assert folders.watch == ("INBOX", "Lists/x")


def test_watch_must_not_be_empty(env: dict[str, str]) -> None:
    err = error(with_("folders", watch=[]), env)
    assert "[folders] watch = [] is not allowed; name at least one folder" in str(err)


def test_empty_folder_name(env: dict[str, str]) -> None:
    assert "[folders] drafts is empty" in str(error(with_("folders", drafts=" "), env))


# ---------------------------------------------------------------------------------------------------------
# [database]
# ---------------------------------------------------------------------------------------------------------


def test_default_database_in_xdg_data_home(env: dict[str, str], tmp_path: Path) -> None:
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    assert parse(minimal(), env).database.url == f"sqlite:///{tmp_path}/data/followupd/followupd.db"


def test_database_url_kept(env: dict[str, str]) -> None:
    url = "postgresql+psycopg://followupd@localhost/followupd"
    assert parse(with_("database", url=url), env).database.url == url


def test_database_sqlite_tilde_expanded(env: dict[str, str]) -> None:
    config = parse(with_("database", url="sqlite:///~/state/f.db"), env)
    assert config.database.url == f"sqlite:///{env['HOME']}/state/f.db"


def test_database_url_must_look_like_a_url(env: dict[str, str]) -> None:
    err = error(with_("database", url="/home/me/f.db"), env)
    assert '[database] url = "/home/me/f.db" is not allowed; use an SQLAlchemy URL' in str(err)


# ---------------------------------------------------------------------------------------------------------
# [cadence]
# ---------------------------------------------------------------------------------------------------------


def test_cadence_full(env: dict[str, str]) -> None:
    cadence = parse(with_(
        "cadence", gaps=["2d", "1w"], send_days=["Mon", "wednesday", "sat"], send_hours="08:30-18:15",
        jitter="0m", holidays=["2026-12-25", date(2027, 1, 1)], min_days_between_nudges_per_person=3,
        poll_interval="2m",
    ), env).cadence
    assert cadence == CadenceSettings(
        gaps=(Gap(2, "d"), Gap(1, "w")), send_days=frozenset({0, 2, 5}), send_start=time(8, 30),
        send_end=time(18, 15), jitter=timedelta(0),
        holidays=frozenset({date(2026, 12, 25), date(2027, 1, 1)}),
        min_days_between_nudges_per_person=3, poll_interval=timedelta(minutes=2),
    )


@pytest.mark.parametrize("gap", ["1d", "1bd", "36h", "90m", "0d"])
def test_gaps_under_two_days_refused_with_the_reason(env: dict[str, str], gap: str) -> None:
    err = error(with_("cadence", gaps=["1w", gap]), env)
    assert f'[cadence] gaps = ["1w", "{gap}"] is not allowed; "{gap}" is shorter than 2 days' in str(err)
    assert "persistence never means every day" in str(err)
    assert err.key == "cadence.gaps"


@pytest.mark.parametrize("gap", ["2d", "2bd", "48h", "1w"])
def test_gaps_of_two_days_or_more_accepted(env: dict[str, str], gap: str) -> None:
    parse(with_("cadence", gaps=[gap]), env)


def test_unparsable_gap(env: dict[str, str]) -> None:
    err = error(with_("cadence", gaps=["soon"]), env)
    assert '"soon" is not a gap' in str(err) and "business days" in str(err)


@pytest.mark.parametrize("count", [0, 13])
def test_gap_count_limits(env: dict[str, str], count: int) -> None:
    assert "give 1 to 12 gaps" in str(error(with_("cadence", gaps=["1w"] * count), env))


def test_twelve_gaps_accepted(env: dict[str, str]) -> None:
    assert len(parse(with_("cadence", gaps=["1w"] * 12), env).cadence.gaps) == 12


def test_send_days_must_not_be_empty(env: dict[str, str]) -> None:
    assert "[cadence] send_days = [] is not allowed" in str(error(with_("cadence", send_days=[]), env))


def test_send_days_duplicates_refused(env: dict[str, str]) -> None:
    err = error(with_("cadence", send_days=["mon", "Monday"]), env)
    assert '"Monday" is listed twice' in str(err)


def test_send_days_unknown_name(env: dict[str, str]) -> None:
    err = error(with_("cadence", send_days=["mon", "funday"]), env)
    assert '"funday" is not a weekday; use mon..sun or monday..sunday' in str(err)


def test_send_hours_all_day_means_time_max(env: dict[str, str]) -> None:
    cadence = parse(with_("cadence", send_hours="00:00-24:00"), env).cadence
    assert (cadence.send_start, cadence.send_end) == (time(0, 0), time.max)


@pytest.mark.parametrize("hours", ["17:00-09:00", "09:00-09:00", "9-17", "25:00-26:00", "09:60-17:00",
                                   "24:00-24:00", "09:00 to 17:00"])
def test_send_hours_invalid(env: dict[str, str], hours: str) -> None:
    err = error(with_("cadence", send_hours=hours), env)
    assert f'[cadence] send_hours = "{hours}" is not allowed; write "HH:MM-HH:MM"' in str(err)


def test_jitter_must_be_shorter_than_the_window(env: dict[str, str]) -> None:
    err = error(with_("cadence", send_hours="09:00-10:00", jitter="1h"), env)
    expected = '[cadence] jitter = "1h" is not allowed; it must be shorter than the sending window (1:00:00)'
    assert expected in str(err)
    cadence = parse(with_("cadence", send_hours="09:00-10:00", jitter="59m"), env).cadence
    assert cadence.jitter == timedelta(minutes=59)


def test_jitter_in_business_days_refused(env: dict[str, str]) -> None:
    assert '[cadence] jitter = "1bd" is not allowed' in str(error(with_("cadence", jitter="1bd"), env))


def test_holidays_invalid_date(env: dict[str, str]) -> None:
    err = error(with_("cadence", holidays=["2026-12-25", "Christmas"]), env)
    assert '"Christmas" is not an ISO date' in str(err)


def test_holidays_datetime_refused(env: dict[str, str]) -> None:
    err = error(with_("cadence", holidays=[datetime(2026, 12, 25, 9, 0)]), env)
    assert "must be a list of dates, not an array containing a date-time" in str(err)


def test_min_days_between_nudges_one_refused_with_the_reason(env: dict[str, str]) -> None:
    err = error(with_("cadence", min_days_between_nudges_per_person=1), env)
    assert "[cadence] min_days_between_nudges_per_person = 1 is not allowed; use 2 or more" in str(err)
    assert "consecutive days" in str(err)
    assert err.key == "cadence.min_days_between_nudges_per_person"


def test_poll_interval_at_least_a_minute(env: dict[str, str]) -> None:
    assert '[cadence] poll_interval = "0m" is not allowed; use at least 1 minute' in str(
        error(with_("cadence", poll_interval="0m"), env))
    assert parse(with_("cadence", poll_interval="1m"), env).cadence.poll_interval == timedelta(minutes=1)


# ---------------------------------------------------------------------------------------------------------
# [templates]
# ---------------------------------------------------------------------------------------------------------


def test_templates_dir_relative_to_config_file(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    config = parse(with_("templates", dir="tpl"), env, tmp_path / "config.toml")
    assert config.templates.dir == tmp_path / "tpl"


def test_templates_dir_tilde_expanded(env: dict[str, str]) -> None:
    target = Path(env["HOME"]) / ".config" / "followupd" / "templates"
    target.mkdir(parents=True)
    assert parse(with_("templates", dir="~/.config/followupd/templates"), env).templates.dir == target


def test_templates_dir_must_exist(env: dict[str, str], tmp_path: Path) -> None:
    err = error(with_("templates", dir=str(tmp_path / "nope")), env)
    assert f"{tmp_path / 'nope'} does not exist" in str(err)
    assert err.key == "templates.dir"


def test_templates_dir_must_be_a_directory(env: dict[str, str], tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in str(error(with_("templates", dir=str(tmp_path / "file")), env))


# ---------------------------------------------------------------------------------------------------------
# Paths
# ---------------------------------------------------------------------------------------------------------


def test_default_config_path() -> None:
    assert default_config_path({"HOME": "/h"}) == Path("/h/.config/followupd/config.toml")
    assert default_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path("/x/followupd/config.toml")
    assert default_config_path({"HOME": "/h", "XDG_CONFIG_HOME": "rel"}) == Path(
        "/h/.config/followupd/config.toml")


def test_default_data_dir() -> None:
    assert default_data_dir({"HOME": "/h"}) == Path("/h/.local/share/followupd")
    assert default_data_dir({"HOME": "/h", "XDG_DATA_HOME": "/d"}) == Path("/d/followupd")


def test_config_path_precedence() -> None:
    env = {"HOME": "/h", "FOLLOWUPD_CONFIG": "/from/env.toml", "XDG_CONFIG_HOME": "/x"}
    assert resolve_config_path(Path("/from/cli.toml"), env) == Path("/from/cli.toml")
    assert resolve_config_path(None, env) == Path("/from/env.toml")
    assert resolve_config_path(None, {"HOME": "/h", "XDG_CONFIG_HOME": "/x"}) == Path(
        "/x/followupd/config.toml")
    assert resolve_config_path(None, {"HOME": "/h", "FOLLOWUPD_CONFIG": ""}) == Path(
        "/h/.config/followupd/config.toml")


def test_config_path_tilde_expanded() -> None:
    assert resolve_config_path(None, {"HOME": "/h", "FOLLOWUPD_CONFIG": "~/f.toml"}) == Path("/h/f.toml")
    assert resolve_config_path(Path("~/c.toml"), {"HOME": "/h"}) == Path("/h/c.toml")


# ---------------------------------------------------------------------------------------------------------
# load_config
# ---------------------------------------------------------------------------------------------------------

VALID_TOML = """
[account]
host = "imap.example.com"
username = "me@example.com"
password_env = "IMAP_PW"

[tracking]
address = "me+followup@example.com"

[cadence]
holidays = [2026-12-25, "2026-12-26"]
"""


def test_load_config_reads_toml(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(VALID_TOML)
    config = load_config(path, env)
    assert config.path == path
    assert config.cadence.holidays == frozenset({date(2026, 12, 25), date(2026, 12, 26)})


def test_load_config_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"no config at .*nope\.toml; copy config\.example\.toml there"):
        load_config(path, env)


def test_load_config_directory(env: dict[str, str], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path, env)


def test_load_config_unreadable(env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: chmod 0 does not stop root, and tests may run as root in containers.
    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(ConfigError, match=r"cannot read .*config\.toml: permission denied"):
        load_config(tmp_path / "config.toml", env)


def test_load_config_bad_toml_names_line_and_column(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[account]\npassword = "{SECRET}"\nhost = imap.example.com\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env)
    assert str(info.value).startswith(f"{path}: not valid TOML: ")
    assert "line 3, column 8" in str(info.value)
    assert SECRET not in str(info.value)


def test_load_config_not_utf8(env: dict[str, str], tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[identity]\nname = "J\xf6rg"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(path, env)


def test_example_config_is_valid(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "FOLLOWUPD_PASSWORD": SECRET}
    config = load_config(EXAMPLE, env)
    assert config.account.password_env == "FOLLOWUPD_PASSWORD"
    assert resolve_password(config.account, env) == SECRET


def test_example_config_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    schema = {
        "account": ["host", "port", "tls", "username", "password_command", "password_env", "password"],
        "identity": ["name", "addresses", "timezone", "signature"],
        "tracking": ["address"],
        "folders": ["sent", "drafts", "watch"],
        "database": ["url"],
        "cadence": ["gaps", "send_days", "send_hours", "jitter", "holidays",
                    "min_days_between_nudges_per_person", "poll_interval"],
        "templates": ["dir"],
    }
    for section, keys in schema.items():
        assert f"[{section}]" in text
        for key in keys:
            assert f"{key} = " in text, f"[{section}] {key} is not documented"
    for suffix in ("+followup-5d", "-3bd", "-fri", "-dec15", "-2026-12-01"):
        assert suffix in text


# ---------------------------------------------------------------------------------------------------------
# resolve_password
# ---------------------------------------------------------------------------------------------------------


def account(**source: str) -> AccountConfig:
    return AccountConfig(host="h", port=993, tls="implicit", username="u",
                         password_command=source.get("password_command"),
                         password_env=source.get("password_env"), password=source.get("password"))


def test_literal_password() -> None:
    assert resolve_password(account(password=SECRET), {}) == SECRET


def test_password_from_env() -> None:
    assert resolve_password(account(password_env="PW"), {"PW": SECRET}) == SECRET


def test_password_env_unset() -> None:
    with pytest.raises(SecretError, match="environment variable PW is not set") as info:
        resolve_password(account(password_env="PW"), {})
    assert info.value.key == "account.password_env"


def test_password_env_empty() -> None:
    with pytest.raises(SecretError, match="environment variable PW is empty"):
        resolve_password(account(password_env="PW"), {"PW": ""})


def test_password_command_strips_trailing_newline() -> None:
    assert resolve_password(account(password_command=f"printf '{SECRET}\\n'"), os.environ) == SECRET


def test_password_command_takes_first_line_like_pass() -> None:
    command = f"printf '{SECRET}\\nlogin: me\\nurl: example.com\\n'"
    assert resolve_password(account(password_command=command), os.environ) == SECRET


def test_password_command_keeps_spaces_without_newline() -> None:
    assert resolve_password(account(password_command="printf ' a b '"), os.environ) == " a b "


def test_password_command_gets_the_given_environment() -> None:
    command = f"{PY} -c \"import os; print(os.environ['SOURCE_PW'])\""
    assert resolve_password(account(password_command=command), {**os.environ, "SOURCE_PW": SECRET}) == SECRET


def test_password_command_failure_names_exit_code_and_stderr_but_not_stdout() -> None:
    command = (f"{PY} -c \"import sys; print('{SECRET}'); "
               "sys.stderr.write('gpg: decryption failed: No secret key\\nmore\\n'); sys.exit(3)\"")
    with pytest.raises(SecretError) as info:
        resolve_password(account(password_command=command), os.environ)
    message = str(info.value)
    assert "[account] password_command failed with exit code 3: gpg: decryption failed: No secret key" in (
        message)
    assert "more" not in message
    assert SECRET not in message
    assert info.value.key == "account.password_command"


def test_password_command_stderr_echoing_the_secret_is_redacted() -> None:
    command = f"{PY} -c \"import sys; print('{SECRET}'); sys.stderr.write('bad {SECRET}'); sys.exit(1)\""
    with pytest.raises(SecretError) as info:
        resolve_password(account(password_command=command), os.environ)
    assert SECRET not in str(info.value)
    assert "bad ***" in str(info.value)


def test_password_command_empty_output() -> None:
    with pytest.raises(SecretError, match="printed nothing"):
        resolve_password(account(password_command="true"), os.environ)


def test_password_command_not_found() -> None:
    with pytest.raises(SecretError, match="exit code 127"):
        resolve_password(account(password_command="no-such-command-followupd-test"), os.environ)


def test_password_command_killed_by_signal() -> None:
    with pytest.raises(SecretError, match="killed by signal 9"):
        resolve_password(account(password_command="kill -9 $$"), os.environ)


def test_password_command_timeout() -> None:
    command = f"{PY} -c \"import time; time.sleep(10)\""
    with pytest.raises(SecretError, match=r"did not finish within 0\.3 s"):
        resolve_password(account(password_command=command), os.environ, timeout=0.3)


def test_secret_error_is_a_config_error() -> None:
    assert issubclass(SecretError, ConfigError)


# ---------------------------------------------------------------------------------------------------------
# config_warnings
# ---------------------------------------------------------------------------------------------------------


def write(tmp_path: Path, text: str, mode: int) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_world_readable_file_with_literal_password_warns(tmp_path: Path) -> None:
    path = write(tmp_path, f'[account]\npassword = "{SECRET}"\n', 0o644)
    warnings = config_warnings(path)
    assert any("readable by other users (mode 0644)" in w and f"chmod 600 {path}" in w for w in warnings)
    assert any("literal secret" in w for w in warnings)
    assert not any(SECRET in w for w in warnings)


def test_private_file_with_literal_password_still_discourages_it(tmp_path: Path) -> None:
    warnings = config_warnings(write(tmp_path, '[account]\npassword = "x"\n', 0o600))
    assert len(warnings) == 1 and "prefer password_command" in warnings[0]


def test_readable_file_with_database_password_warns(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "postgresql://u:pw@h/db"\n', 0o640)
    assert any("a database password" in w for w in config_warnings(path))


def test_readable_file_warns_even_without_secrets(tmp_path: Path) -> None:
    # It still shows accounts, servers and where secrets come from; the issue asks for a warning always.
    path = write(tmp_path, '[account]\npassword_command = "pass show x"\n', 0o644)
    warnings = config_warnings(path)
    assert any("readable by other users (mode 0644)" in w and f"chmod 600 {path}" in w for w in warnings), warnings
    assert config_warnings(write(tmp_path, '[account]\npassword_command = "pass show x"\n', 0o600)) == []


def test_writable_by_others_warns(tmp_path: Path) -> None:
    path = write(tmp_path, '[account]\npassword_command = "pass show x"\n', 0o666)
    assert any("writable by other users (mode 0666)" in w for w in config_warnings(path))


def test_warnings_ignore_missing_or_broken_files(tmp_path: Path) -> None:
    assert config_warnings(tmp_path / "nope.toml") == []
    assert config_warnings(write(tmp_path, "[[[", 0o644)) == []


# ---------------------------------------------------------------------------------------------------------
# [actions] (meeting recaps, issue 13)


def test_actions_defaults_and_values(env: dict[str, str]) -> None:
    assert parse(minimal(), env).actions == ActionSettings()
    assert (ActionSettings().grace, ActionSettings().default_due, ActionSettings().rollup) == \
        (Gap(1, "bd"), Gap(1, "w"), "auto")
    custom = parse(with_("actions", grace="0d", default_due="2w", rollup="off"), env).actions
    assert (custom.grace, custom.default_due, custom.rollup) == (Gap(0, "d"), Gap(2, "w"), "off")


@pytest.mark.parametrize(("key", "value", "fix"), [
    ("grace", "soon", "3bd"),
    ("default_due", "2h", "at least a day"),
    ("rollup", "weekly", '"auto"'),
])
def test_a_bad_actions_value_names_key_value_and_fix(env: dict[str, str], key: str, value: str, fix: str) -> None:
    message = str(error(with_("actions", **{key: value}), env))
    assert f"[actions] {key}" in message and value in message and fix in message


# ---------------------------------------------------------------------------------------------------------
# [tracking] auto / suggest_days / auto_exclude and [owed] (issue 14)


def test_auto_tracking_and_owed_are_off_by_default(env: dict[str, str]) -> None:
    config = parse(minimal(), env)
    assert (config.tracking.auto, config.tracking.suggest_days, config.tracking.auto_exclude) == ("off", 14, ())
    assert config.owed == OwedConfig() and (config.owed.enabled, config.owed.after) == (False, Gap(2, "bd"))


def test_auto_tracking_values_are_read(env: dict[str, str]) -> None:
    tracking = parse(with_("tracking", auto="Suggest", suggest_days=30,
                           auto_exclude=["@Example.com", "example.org", "*.corp.example.net", "Boss@x.org",
                                         "example.org"]), env).tracking
    assert (tracking.auto, tracking.suggest_days) == ("suggest", 30)
    assert tracking.auto_exclude == ("@example.com", "example.org", "*.corp.example.net", "boss@x.org")
    assert parse(with_("tracking", auto="track"), env).tracking.auto == "track"
    owed = parse(with_("owed", enabled=True, after="1w"), env).owed
    assert (owed.enabled, owed.after) == (True, Gap(1, "w"))


@pytest.mark.parametrize(("section", "key", "value", "shown", "fix"), [
    ("tracking", "auto", "always", '"always"', '"suggest"'),
    ("tracking", "suggest_days", 0, "0", "at least 1"),
    ("tracking", "auto_exclude", ["bob at example.com"], '"bob at example.com"', '"@example.com"'),
    ("tracking", "auto_exclude", ["localhost"], '"localhost"', '"*.example.com"'),
    ("tracking", "auto_exclude", ["*@example.com"], '"*@example.com"', '"example.com"'),
    ("owed", "after", "soon", '"soon"', '"3bd"'),
])
def test_a_bad_auto_tracking_or_owed_value_names_key_value_and_fix(
        env: dict[str, str], section: str, key: str, value: Any, shown: str, fix: str) -> None:
    err = error(with_(section, **{key: value}), env)
    assert f"[{section}] {key} = {shown} is not allowed" in str(err) and fix in str(err), str(err)
    assert err.key == f"{section}.{key}"


def test_wrongly_typed_auto_tracking_and_owed_keys_are_refused(env: dict[str, str]) -> None:
    message = str(error({**with_("tracking", suggest_days="14", auto_exclude="@example.com"),
                         "owed": {"enabled": "yes"}}, env))
    assert "[tracking] suggest_days" in message and "[tracking] auto_exclude" in message
    assert "[owed] enabled" in message


def test_an_account_can_have_its_own_auto_tracking(env: dict[str, str]) -> None:
    data: dict[str, Any] = {
        "tracking": {"address": "me+followup@example.com", "auto": "suggest"},
        "accounts": [
            {"name": "work", "host": "imap.example.com", "username": "me@example.com", "password_env": "IMAP_PW"},
            {"name": "home", "host": "imap.example.org", "username": "me@example.org", "password_env": "IMAP_PW",
             "tracking": {"address": "me+followup@example.org", "auto": "off"}},
        ],
    }
    work, home = parse_accounts(data, path=PATH, env=env)
    assert (work.tracking.auto, home.tracking.auto) == ("suggest", "off")

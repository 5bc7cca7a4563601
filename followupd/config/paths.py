"""Where the config file, the data and the local time zone are found: XDG base directories and ``$TZ``.

Every function takes the environment as an argument (default ``os.environ``), so tests never depend on the
real home directory, and nothing is read at import time.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

CONFIG_ENV_VAR = "FOLLOWUPD_CONFIG"


def _home(env: Mapping[str, str]) -> Path:
    """``$HOME`` from the injected environment, so tests never depend on the real home directory."""
    home = env.get("HOME")
    return Path(home) if home else Path.home()


def expand_user(text: str, env: Mapping[str, str]) -> Path:
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


CACHE_DIR_ENV_VAR = "FOLLOWUPD_CACHE_DIR"


def default_cache_dir(env: Mapping[str, str] = os.environ) -> Path:
    """``$FOLLOWUPD_CACHE_DIR``, else ``cache/`` in the data dir: the one place the systemd units let followupd
    write (``ProtectHome=read-only``), so the template check results it keeps are kept under a service too."""
    explicit = env.get(CACHE_DIR_ENV_VAR, "")
    if explicit and Path(explicit).is_absolute():
        return Path(explicit)
    return default_data_dir(env) / "cache"


def resolve_config_path(cli_path: Path | None, env: Mapping[str, str] = os.environ) -> Path:
    """``--config`` wins, then ``$FOLLOWUPD_CONFIG``, then the XDG default: the most explicit choice wins."""
    if cli_path is not None:
        return expand_user(str(cli_path), env)
    from_env = env.get(CONFIG_ENV_VAR, "")
    if from_env:
        return expand_user(from_env, env)
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
        zone = zone_or_none(candidate())
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


def zone_or_none(key: str | None) -> ZoneInfo | None:
    if not key:
        return None
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


"""The [smtp] and [sending] config contract: defaults, inheritance of the IMAP secret, and clear errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from followupd.config import parse_config, resolve_password
from followupd.errors import ConfigError

PATH = Path("config.toml")


def base(**sections: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = {
        "account": {"host": "imap.example.com", "username": "me@example.com", "password_env": "IMAP_PW"},
        "tracking": {"address": "me+followup@example.com"},
    }
    data.update(sections)
    return data


def error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(data, path=PATH, env={})
    return str(info.value)


def test_without_smtp_followupd_only_drafts() -> None:
    config = parse_config(base(), path=PATH, env={})
    assert config.smtp is None
    assert config.sending.mode == "review"
    assert config.sending.review_window == timedelta(hours=4)
    assert config.sending.file_sent_copy == "auto"


def test_smtp_defaults_and_the_imap_secret_is_reused() -> None:
    config = parse_config(base(smtp={"host": "smtp.example.com", "tls": "starttls"},
                               sending={"mode": "approve"}), path=PATH, env={})
    assert config.smtp is not None
    assert (config.smtp.host, config.smtp.port, config.smtp.username) == ("smtp.example.com", 587, "me@example.com")
    assert resolve_password(config.smtp, {"IMAP_PW": "s3cret"}) == "s3cret"


def test_smtp_may_have_its_own_secret_and_errors_name_its_section() -> None:
    config = parse_config(base(smtp={"host": "smtp.example.com", "password_env": "SMTP_PW"}), path=PATH, env={})
    assert config.smtp is not None and config.smtp.port == 465
    with pytest.raises(ConfigError) as info:
        resolve_password(config.smtp, {"IMAP_PW": "x"})
    assert "[smtp] password_env" in str(info.value) and "SMTP_PW" in str(info.value)


def test_clear_text_smtp_is_refused_off_loopback() -> None:
    message = error(base(smtp={"host": "smtp.example.com", "tls": "none"}))
    assert "[smtp] tls" in message and "loopback" in message


def test_sending_mode_is_checked_and_needs_smtp() -> None:
    assert '[sending] mode = "yolo" is not allowed' in error(base(sending={"mode": "yolo"}))
    assert "needs an [smtp] section" in error(base(sending={"mode": "auto"}))


@pytest.mark.parametrize(("value", "expected"), [("auto", "auto"), (True, True), (False, False)])
def test_file_sent_copy_values(value: Any, expected: Any) -> None:
    config = parse_config(base(sending={"file_sent_copy": value}), path=PATH, env={})
    assert config.sending.file_sent_copy == expected


def test_bad_sending_values_name_key_and_fix() -> None:
    message = error(base(sending={"file_sent_copy": "sometimes", "max_per_hour": 0, "review_window": "1m"}))
    assert "[sending] file_sent_copy" in message and '"auto", true or false' in message
    assert "[sending] max_per_hour = 0" in message
    assert "[sending] review_window" in message
    assert "did you mean" in error(base(sending={"mdoe": "auto"}))

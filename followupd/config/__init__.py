"""One TOML file -> frozen, validated dataclasses; every mistake is reported at start-up, naming its key.

``model`` holds the dataclasses (one shared login/TLS block for [account] and [smtp]), ``schema`` the table of
allowed keys and the checking machinery, ``login``/``sections``/``cadence`` one builder per section, ``loading``
the file reading and ``[[accounts]]`` merging, ``paths`` where files live. The names below are the package's
public surface: import them from ``followupd.config``.

Secrets: a literal ``password`` is accepted but never shown (not in ``repr``, not in error messages); database
URLs are shown with their password redacted. ``resolve_password`` (followupd.adapters.credentials, re-exported
here) runs ``password_command`` only when asked, so loading the config has no side effects beyond reading files.
"""

from followupd.adapters.credentials import resolve_password
from followupd.config.loading import (
    ACCOUNT_SECTIONS,
    account_slug,
    config_warnings,
    load_accounts,
    load_config,
    parse_accounts,
    parse_config,
)
from followupd.config.login import is_loopback
from followupd.config.model import (
    AUTO_MODES,
    SENDING_MODES,
    TLS_MODES,
    AccountConfig,
    Config,
    DatabaseConfig,
    FoldersConfig,
    IdentityConfig,
    LoginConfig,
    OwedConfig,
    SendingConfig,
    SendingMode,
    SmtpConfig,
    TemplatesConfig,
    TlsMode,
    TrackingConfig,
    redact_url,
    url_parts,
)
from followupd.config.paths import (
    CONFIG_ENV_VAR,
    DATA_DIR_ENV_VAR,
    default_config_path,
    default_data_dir,
    local_timezone,
    resolve_config_path,
)
from followupd.config.schema import toml_repr
from followupd.config.sections import email_problem

__all__ = [
    "ACCOUNT_SECTIONS", "AUTO_MODES", "CONFIG_ENV_VAR", "DATA_DIR_ENV_VAR", "SENDING_MODES", "TLS_MODES",
    "AccountConfig", "Config", "DatabaseConfig", "FoldersConfig", "IdentityConfig", "LoginConfig", "OwedConfig",
    "SendingConfig", "SendingMode", "SmtpConfig", "TemplatesConfig", "TlsMode", "TrackingConfig", "account_slug",
    "config_warnings", "default_config_path", "default_data_dir", "email_problem", "is_loopback", "load_accounts",
    "load_config", "local_timezone", "parse_accounts", "parse_config", "redact_url", "resolve_config_path",
    "resolve_password", "toml_repr", "url_parts",
]

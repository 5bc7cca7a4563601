"""The shipped systemd units: `systemd-analyze verify` accepts them without a single warning, and they say what
the issue promises (notify + watchdog, restart on failure, hardening, a writable data dir and nothing else)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNITS = Path(__file__).resolve().parent.parent / "systemd"
INSTALLED = {"followupd.service": "%h/.local/bin/followupd", "followupd@.service": "/usr/local/bin/followupd"}


def _installed_script() -> str:
    script = Path(sys.executable).parent / "followupd"
    return str(script) if script.exists() else shutil.which("followupd") or "/bin/true"


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string((UNITS / name).read_text())
    return parser


def _verify(tmp_path: Path, name: str, *, user: bool, text: str | None = None) -> subprocess.CompletedProcess[str]:
    """verify needs the ExecStart binaries to exist: point them at this checkout's installed script."""
    text = (UNITS / name).read_text() if text is None else text
    assert INSTALLED[name] in text
    (tmp_path / name).write_text(text.replace(INSTALLED[name], _installed_script()))
    target = tmp_path / name.replace("@.", "@demo.")  # a template is verified through an instance
    if target.name != name:
        target.write_text((tmp_path / name).read_text())
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "run"), "SYSTEMD_LOG_COLOR": "0"}
    (tmp_path / "run").mkdir(exist_ok=True)
    command = ["systemd-analyze", *(["--user"] if user else []), "verify", str(target)]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=60, check=False)


needs_systemd = pytest.mark.skipif(shutil.which("systemd-analyze") is None and not os.environ.get("CI"),
                                   reason="systemd-analyze is not installed")


@needs_systemd
@pytest.mark.parametrize(("name", "user"), [("followupd.service", True), ("followupd@.service", False)])
def test_systemd_analyze_verify_passes_without_warnings(tmp_path: Path, name: str, user: bool) -> None:
    result = _verify(tmp_path, name, user=user)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr  # unknown keys and bad values are only warnings


@needs_systemd
def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    # The test above means something only if verify complains about mistakes like this one.
    broken = (UNITS / "followupd@.service").read_text().replace("NoNewPrivileges=yes", "NoNewPrivilegs=yes")
    result = _verify(tmp_path, "followupd@.service", user=False, text=broken)
    assert "NoNewPrivilegs" in result.stderr


@pytest.mark.parametrize("name", ["followupd.service", "followupd@.service"])
def test_units_notify_restart_and_harden(name: str) -> None:
    service = _unit(name)["Service"]
    assert service["Type"] == "notify" and service["NotifyAccess"] == "main"
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == "2"  # a config error does not loop
    assert "WatchdogSec" in service
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}.items():
        assert service[key] == value, key
    assert " run" in service["ExecStart"] and "config check --offline" in service["ExecStartPre"]


def test_user_unit_keeps_home_read_only_but_the_data_dir_writable() -> None:
    service = _unit("followupd.service")["Service"]
    assert service["ProtectHome"] == "read-only"
    assert service["ReadWritePaths"] == "%h/.local/share/followupd"


def test_template_unit_runs_one_config_per_instance_with_its_own_state_dir() -> None:
    service = _unit("followupd@.service")["Service"]
    assert service["User"] == "followupd"
    assert service["StateDirectory"] == "followupd/%i"
    environment = service["Environment"]
    assert "FOLLOWUPD_DATA_DIR=/var/lib/followupd/%i" in environment
    assert service["ProtectHome"] == "yes"

"""What a doctor check is (one line of the report) and how the report turns into an exit code.

Why a module of its own: every check module returns these, and ``followupd doctor --json`` prints them (its
``check``, ``status``, ``detail`` and ``advice`` fields are a public contract).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from followupd.adapters.credentials import redact

Status = Literal["pass", "fail", "warn", "skip"]

#: The checks, in the order they run and print (the ``check`` field of ``doctor --json``: a public contract).
CHECK_NAMES = ("config", "secrets", "connect", "tls", "login", "capabilities", "folders", "tracking", "templates",
               "database", "smtp")
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Check:
    """One line of the report. ``advice`` (may be several lines, "" for none) says what to do about it."""

    name: str
    status: Status
    detail: str
    advice: str = ""


def worst_exit_code(checks: Sequence[Check]) -> int:
    """0 when nothing failed (warnings and skips are fine), 3 when a check failed."""
    return 3 if any(check.status == "fail" for check in checks) else 0


def mask(check: Check, secrets: Sequence[str]) -> Check:
    """Defence in depth: messages are built without secrets, but a server may echo one back."""
    if not secrets:
        return check
    return replace(check, detail=redact(check.detail, *secrets), advice=redact(check.advice, *secrets))

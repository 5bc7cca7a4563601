"""Make a bug that a never-raise mail reader swallowed fail the test (followupd/mail/internal_errors.py).

The readers return a safe default on any exception, so a property test that only checks "it returned" would
pass over a crash. Each reader records the crash instead; these helpers read that record.
"""

from __future__ import annotations

from followupd.mail import internal_errors


def assert_no_internal_error() -> None:
    """Fail when a reader swallowed a bug since the last check (the traceback is in the captured log)."""
    found = internal_errors.recorded()
    internal_errors.clear()
    assert not found, f"a never-raise reader caught its own bug: {found}; see the captured log for the traceback"


def take_internal_errors() -> dict[str, int]:
    """What was recorded, forgotten afterwards: for the tests that make a reader crash on purpose."""
    found = internal_errors.recorded()
    internal_errors.clear()
    return found

"""Shared fixtures: one real Dovecot per test session, a fresh mailbox user per test.

Why session-scoped: Dovecot starts in ~40 ms but users are even cheaper (one small file), so the whole session
shares a server and isolation comes from users, not servers. Why fail under CI instead of skipping: a CI image
that lost its Dovecot package would otherwise turn every IMAP test into a silent skip and a green build.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# tests/ is not a package; make its helper modules importable as plain modules from any rootdir.
sys.path.insert(0, str(Path(__file__).parent))

from dovecot import DovecotServer, MailUser
from mailfactory import make_message as _make_message


@pytest.fixture(scope="session")
def dovecot() -> Iterator[DovecotServer]:
    """The session's Dovecot (IMAP + LMTP on loopback); skipped without dovecot, except under CI: fails."""
    if not DovecotServer.available():
        reason = "dovecot is not installed (apt-get install dovecot-imapd dovecot-lmtpd)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the IMAP tests, not skip them", pytrace=False)
        pytest.skip(reason)
    server = DovecotServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    """The session's PostgreSQL (tests/postgres.py PostgresServer); ``postgres.create_database()`` gives a test
    its own database URL. Skipped without the server binaries, except under CI: fails (as for Dovecot)."""
    from postgres import PostgresServer

    if not PostgresServer.available():
        reason = "PostgreSQL is not installed (apt-get install postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests, not skip them", pytrace=False)
        pytest.skip(reason)
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def mail_user(dovecot: DovecotServer) -> MailUser:
    """A brand-new user with empty INBOX, Drafts, Sent, Archive, Trash and Junk."""
    return dovecot.add_user()


@pytest.fixture
def make_message() -> Callable[..., bytes]:
    """``make_message(subject=..., body=...) -> bytes``; see tests/mailfactory.py for the keyword rules."""
    return _make_message

"""Issue 14's parts that need no server: the states of suggestions and owed replies, ``[tracking] auto_exclude``
matching, and how ``followupd track --suffix`` reads a suffix.

No database: plain records stand in for the store's rows (what followupd.planning.lifecycle.awaiting reads
through its Protocols).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from followupd.config import parse_config
from followupd.engine.awaiting import recipient_text, suffix_request
from followupd.errors import RequestRefused
from followupd.planning.awaiting import address_excluded, kept_recipients, parse_exclude_pattern
from followupd.planning.lifecycle import awaiting
from followupd.planning.lifecycle.awaiting import OwedState, SuggestionState

AT = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@dataclass
class SuggestionRow:
    state: str = ""
    closed_at: datetime | None = None
    thread_id: str | None = None


@dataclass
class OwedRow:
    state: str = ""
    closed_at: datetime | None = None
    closed_by: str | None = None


def opened() -> SuggestionRow:
    row = SuggestionRow()
    awaiting.suggest_opened(row)
    return row


def test_a_suggestion_closes_once_whatever_comes_later() -> None:
    row = opened()
    assert row.state == SuggestionState.OPEN and awaiting.suggestion_is_open(row)
    assert awaiting.suggest_tracked(row, thread_id="abc", at=AT)
    assert (row.state, row.thread_id, row.closed_at) == (SuggestionState.TRACKED, "abc", AT)
    # a second `track`, a late `ignore`, an expiry or a reply change nothing: the thread owns it now
    assert not awaiting.suggest_tracked(row, thread_id="other", at=AT)
    assert not awaiting.suggest_ignored(row, at=AT)
    assert not awaiting.suggest_expired(row, at=AT)
    assert not awaiting.suggest_answered(row, at=AT)
    assert (row.state, row.thread_id) == (SuggestionState.TRACKED, "abc")


@pytest.mark.parametrize(("event", "state"), [
    (awaiting.suggest_ignored, SuggestionState.IGNORED),
    (awaiting.suggest_expired, SuggestionState.EXPIRED),
    (awaiting.suggest_answered, SuggestionState.ANSWERED),
])
def test_ignored_expired_and_answered_suggestions_cannot_be_tracked(event: object, state: SuggestionState) -> None:
    row = opened()
    assert event(row, at=AT)  # type: ignore[operator]
    assert (row.state, row.closed_at) == (state, AT)
    assert not awaiting.suggest_tracked(row, thread_id="abc", at=AT)
    assert row.thread_id is None and row.state == state


def test_an_owed_reply_is_answered_or_done_once() -> None:
    row = OwedRow()
    awaiting.owed_opened(row)
    assert row.state == OwedState.OPEN and awaiting.owed_is_open(row)
    assert awaiting.owed_answered(row, by="<reply@example.com>", at=AT)
    assert (row.state, row.closed_by, row.closed_at) == (OwedState.ANSWERED, "<reply@example.com>", AT)
    assert not awaiting.owed_done(row, at=AT) and row.closed_by == "<reply@example.com>"
    other = OwedRow()
    awaiting.owed_opened(other)
    assert awaiting.owed_done(other, at=AT)
    assert (other.state, other.closed_by) == (OwedState.DONE, "by hand")
    assert not awaiting.owed_answered(other, by="<late@example.com>", at=AT) and other.closed_by == "by hand"


@pytest.mark.parametrize(("address", "pattern", "excluded"), [
    ("bob@example.com", "bob@example.com", True),
    ("Bob@Example.com", "bob@example.com", True),
    ("carol@example.com", "bob@example.com", False),
    ("bob@example.com", "@example.com", True),
    ("bob@sales.example.com", "@example.com", False),
    ("bob@example.com", "example.com", True),
    ("bob@sales.example.com", "example.com", True),
    ("bob@notexample.com", "example.com", False),
    ("bob@sales.example.com", "*.example.com", True),
    ("bob@example.com", "*.example.com", False),
    ("bob@badexample.com", "*.example.com", False),
    ("example.com", "example.com", False),  # not an address: never a domain match
])
def test_auto_exclude_patterns(address: str, pattern: str, excluded: bool) -> None:
    assert address_excluded(address, [parse_exclude_pattern(pattern)]) is excluded


def test_excluded_recipients_are_dropped_and_none_left_means_skip() -> None:
    patterns = [parse_exclude_pattern(p) for p in ("@example.com", "boss@x.org")]
    assert kept_recipients(["a@example.com", "bob@other.org", "boss@x.org"], patterns) == ["bob@other.org"]
    assert kept_recipients(["a@example.com", "Boss@X.org"], patterns) == []


@pytest.mark.parametrize("text", ["", " ", "localhost", "@", "*.com", "bob@", "@@x.org", "a b@x.org",
                                  "*@example.com", "bob@*.example.com", "example..com", "<bob@x.org>"])
def test_bad_exclude_patterns_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"\"example\.com\""):
        parse_exclude_pattern(text)


def test_a_track_suffix_is_read_exactly_as_the_tracking_address_reads_it() -> None:
    config = parse_config({"account": {"host": "imap.example.com", "username": "me@example.com",
                                       "password_env": "IMAP_PW"},
                           "tracking": {"address": "me+followup@example.com"}},
                          path=Path("config.toml"), env={"HOME": "/nonexistent", "TZ": "UTC"})
    tuesday = date(2026, 12, 1)
    assert suffix_request(config, None, tuesday).promised is None  # the first gap of [cadence]
    assert suffix_request(config, "5d", tuesday).promised == date(2026, 12, 6)
    assert suffix_request(config, "fri", tuesday).promised == date(2026, 12, 4)
    assert suffix_request(config, "3bd-all", tuesday).expect_all
    for bad in ("someday", "me-3d", "stop", "actions"):
        with pytest.raises(RequestRefused, match="--suffix"):
            suffix_request(config, bad, tuesday)
    assert recipient_text({"email": "bob@example.org", "name": "Bob  Builder"}) == "Bob Builder <bob@example.org>"
    assert recipient_text({"email": "bob@example.org", "name": ""}) == "bob@example.org"

"""The tracking address and its suffix: which messages are tracked, and which check-in date they promise."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from followupd.planning.tracking import (
    TrackRequest,
    find_tracking,
    is_tracking_address,
    parse_suffix,
    split_suffix,
)

BASE = "me+followup@example.com"
FRIDAY = date(2026, 5, 8)
MONDAY = date(2026, 5, 11)


# --- is_tracking_address / split_suffix ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "me+followup@example.com",
        "me+followup-5d@example.com",
        "ME+FollowUp-fri@Example.COM",
        "me+followup+2w@example.com",
        "me+followup_dec15@example.com",
        "me+followup.3bd@example.com",
        "me+followup-2026-12-01@example.com",
        "Me Myself <me+followup-5d@example.com>",
        "  me+followup@example.com  ",
    ],
)
def test_tracking_address_variants_match(email: str) -> None:
    assert is_tracking_address(email, BASE)


@pytest.mark.parametrize(
    "email",
    [
        "me@example.com",
        "me+followupx@example.com",
        "me+follow@example.com",
        "me+followup-5d@example.org",
        "me+followup@example.com.evil.org",
        "you+followup@example.com",
        "not an address",
        "",
    ],
)
def test_other_addresses_do_not_match(email: str) -> None:
    assert not is_tracking_address(email, BASE)


def test_split_suffix_returns_the_lowercased_suffix() -> None:
    assert split_suffix("ME+FollowUp-FRI@Example.COM", BASE) == "fri"
    assert split_suffix("me+followup-2026-12-01@example.com", BASE) == "2026-12-01"


def test_split_suffix_of_the_bare_address_is_none() -> None:
    assert split_suffix(BASE, BASE) is None


def test_split_suffix_refuses_a_stranger() -> None:
    with pytest.raises(ValueError, match="not the tracking address"):
        split_suffix("bob@example.com", BASE)


# --- parse_suffix ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("5d", date(2026, 5, 13)),
        ("1d", date(2026, 5, 9)),
        ("2w", date(2026, 5, 22)),
        ("3bd", date(2026, 5, 13)),          # Fri + 3 business days: Mon, Tue, Wed
        ("1bd", MONDAY),
        ("fri", date(2026, 5, 15)),          # sent on a Friday: the *next* Friday, never the send day
        ("Friday", date(2026, 5, 15)),
        ("mon", MONDAY),
        ("tues", date(2026, 5, 12)),
        ("weds", date(2026, 5, 13)),
        ("thur", date(2026, 5, 14)),
        ("thurs", date(2026, 5, 14)),
        ("SAT", date(2026, 5, 9)),
        ("sunday", date(2026, 5, 10)),
        ("dec15", date(2026, 12, 15)),
        ("15dec", date(2026, 12, 15)),
        ("december15", date(2026, 12, 15)),
        ("Dec-15", date(2026, 12, 15)),
        ("sept3", date(2026, 9, 3)),
        ("sep3", date(2026, 9, 3)),
        ("may9", date(2026, 5, 9)),
        ("may8", date(2027, 5, 8)),          # the send day itself rolls to next year
        ("jan2", date(2027, 1, 2)),          # already past this year: next year
        ("2026-12-01", date(2026, 12, 1)),
    ],
)
def test_parse_suffix_forms(suffix: str, expected: date) -> None:
    assert parse_suffix(suffix, sent_on=FRIDAY) == expected


def test_business_day_suffix_skips_holidays() -> None:
    holidays = frozenset({MONDAY, date(2026, 5, 12)})
    assert parse_suffix("1bd", sent_on=FRIDAY, holidays=holidays) == date(2026, 5, 13)


def test_calendar_day_suffix_ignores_holidays() -> None:
    assert parse_suffix("3d", sent_on=FRIDAY, holidays=frozenset({MONDAY})) == MONDAY


def test_leap_day_is_accepted_when_it_comes_within_a_year() -> None:
    assert parse_suffix("feb29", sent_on=date(2027, 6, 1)) == date(2028, 2, 29)


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("xyz", "not understood"),
        ("5", "not understood"),
        ("5y", "not understood"),
        ("36h", "not understood"),
        ("frid", "not understood"),
        ("", "not understood"),
        ("0d", "not after the send date"),
        ("2026-05-08", "not after the send date"),
        ("2026-01-01", "not after the send date"),
        ("2030-01-01", "more than 366 days"),
        ("53w", "more than 366 days"),
        ("99999999999d", "more than 366 days"),
        ("2026-02-30", "not a real calendar date"),
        ("feb30", "not a real calendar date"),
        ("feb29", "within the next year"),   # next leap day is 2028: too far from May 2026
    ],
)
def test_bad_suffix_says_what_was_given(suffix: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        parse_suffix(suffix, sent_on=FRIDAY)
    assert repr(suffix) in str(err.value) or suffix in str(err.value)


def test_unparsable_suffix_lists_the_allowed_forms() -> None:
    with pytest.raises(ValueError) as err:
        parse_suffix("nextweek", sent_on=FRIDAY)
    for example in ("5d", "3bd", "2w", "fri", "dec15", "2026-12-01"):
        assert example in str(err.value)


@settings(derandomize=True, max_examples=200)
@given(sent_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
       weekday=st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]))
def test_weekday_suffix_is_within_the_next_seven_days_never_the_send_day(sent_on: date, weekday: str) -> None:
    promised = parse_suffix(weekday, sent_on=sent_on)
    assert 1 <= (promised - sent_on).days <= 7
    assert promised.strftime("%a").lower() == weekday


@settings(derandomize=True, max_examples=200)
@given(sent_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)),
       month=st.integers(1, 12), day=st.integers(1, 28))
def test_month_day_suffix_is_the_next_occurrence(sent_on: date, month: int, day: int) -> None:
    promised = parse_suffix(f"{date(2001, month, 1):%b}{day}", sent_on=sent_on)
    assert (promised.month, promised.day) == (month, day)
    assert 1 <= (promised - sent_on).days <= 366


@settings(derandomize=True, max_examples=200)
@given(sent_on=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 1, 1)), n=st.integers(1, 60))
def test_business_day_suffix_lands_on_a_weekday(sent_on: date, n: int) -> None:
    promised = parse_suffix(f"{n}bd", sent_on=sent_on)
    assert promised.weekday() < 5
    assert promised > sent_on


# --- find_tracking -----------------------------------------------------------------------------------------


def test_find_tracking_reads_the_promise() -> None:
    found = find_tracking(["bob@example.org", "ME+FollowUp-fri@Example.COM"], BASE, sent_on=FRIDAY)
    assert found == TrackRequest(address="me+followup-fri@example.com", suffix="fri",
                                 promised=date(2026, 5, 15))


def test_bare_tracking_address_uses_the_default_cadence() -> None:
    found = find_tracking(["bob@example.org", BASE], BASE, sent_on=FRIDAY)
    assert found == TrackRequest(address=BASE, suffix=None, promised=None, problem=None)


def test_bad_suffix_is_still_tracked_with_a_readable_problem() -> None:
    found = find_tracking(["me+followup-nextweek@example.com"], BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.promised is None
    assert found.suffix == "nextweek"
    assert found.problem is not None
    assert "'nextweek'" in found.problem and "2026-12-01" in found.problem


def test_a_parsable_suffix_is_preferred_over_a_typo_and_the_bare_address() -> None:
    addresses = ["me+followup-zzz@example.com", BASE, "me+followup-5d@example.com"]
    found = find_tracking(addresses, BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.promised == date(2026, 5, 13)


def test_bare_address_is_preferred_over_a_typo() -> None:
    found = find_tracking(["me+followup-zzz@example.com", BASE], BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.problem is None and found.promised is None


def test_first_of_several_valid_suffixes_wins() -> None:
    addresses = ["me+followup-2d@example.com", "me+followup-5d@example.com"]
    found = find_tracking(addresses, BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.promised == date(2026, 5, 10)


def test_no_tracking_address_means_not_tracked() -> None:
    assert find_tracking(["bob@example.org", "me@example.com"], BASE, sent_on=FRIDAY) is None
    assert find_tracking([], BASE, sent_on=FRIDAY) is None


def test_find_tracking_passes_holidays_to_business_days() -> None:
    found = find_tracking(["me+followup-1bd@example.com"], BASE, sent_on=FRIDAY,
                          holidays=frozenset({MONDAY}))
    assert found is not None
    assert found.promised == MONDAY + timedelta(days=1)


# --- own commitments: "+followup-me", "+followup-me-3d" --------------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "expected"),
    [
        ("me", None),                          # the first gap of the cadence
        ("ME", None),
        ("me-3d", FRIDAY + timedelta(days=3)),
        ("me_5d", FRIDAY + timedelta(days=5)),
        ("me.2w", FRIDAY + timedelta(weeks=2)),
        ("me-3bd", date(2026, 5, 13)),
        ("me-fri", date(2026, 5, 15)),         # the next Friday, never the send day
        ("me-dec15", date(2026, 12, 15)),
        ("me-2026-12-01", date(2026, 12, 1)),
        ("me-", None),
    ],
)
def test_me_suffix_tracks_the_users_own_promise(suffix: str, expected: date | None) -> None:
    found = find_tracking([f"me+followup-{suffix}@example.com"], BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.own_commitment is True
    assert found.promised == expected
    assert found.problem is None
    assert found.suffix == suffix.lower()


@pytest.mark.parametrize("suffix", [None, "5d", "fri", "zzz"])
def test_other_suffixes_are_not_commitments(suffix: str | None) -> None:
    address = f"me+followup-{suffix}@example.com" if suffix else BASE
    found = find_tracking([address], BASE, sent_on=FRIDAY)
    assert found is not None and found.own_commitment is False


def test_a_word_starting_with_me_is_not_a_commitment() -> None:
    found = find_tracking(["me+followup-meeting@example.com"], BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.own_commitment is False
    assert found.problem is not None  # "meeting" is an unknown suffix, reported as such


def test_a_promise_with_a_bad_date_is_still_a_commitment_with_a_readable_problem() -> None:
    found = find_tracking(["me+followup-me-someday@example.com"], BASE, sent_on=FRIDAY)
    assert found is not None
    assert found.own_commitment is True
    assert found.promised is None
    assert found.problem is not None
    assert "'someday'" in found.problem and "'me-someday'" in found.problem and "5d" in found.problem


def test_track_request_defaults_to_a_nudge() -> None:
    assert TrackRequest(address=BASE, suffix=None, promised=None).own_commitment is False


@pytest.mark.parametrize(("address", "promised", "expect_all"), [
    ("me+followup-5d-all@example.com", date(2026, 11, 9), True),
    ("me+followup-all@example.com", None, True),
    ("me+followup-fri@example.com", date(2026, 11, 6), False),
    ("me+followup-allegro@example.com", None, False),
])
def test_all_flag_expects_every_recipient(address: str, promised: date | None, expect_all: bool) -> None:
    request = find_tracking([address], "me+followup@example.com", sent_on=date(2026, 11, 4))
    assert request is not None
    assert (request.promised, request.expect_all) == (promised, expect_all)
